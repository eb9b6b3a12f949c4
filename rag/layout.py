"""Page geometry -> reading order: words with positions become lines, columns, paragraphs,
headings, footnotes and the running header/footer bands of a PDF page.

Pure functions over the named types below; no PDF library is imported here (rag/pdf.py and
rag/ocr.py produce the `Word`s). Coordinates are PDF points with the origin at the top left of
the page (y grows downwards), as pdfplumber gives them.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

# A line is a heading when its font is at least this much larger than the body text of the
# paper (1.12: LaTeX's \large on 10 pt body text is 1.2x; a 10.5 pt body beside an 11 pt
# line is 1.05x and stays text).
HEADING_SIZE_RATIO = 1.12
# Footnotes are set at most this fraction of the body size (LaTeX: \footnotesize 8/10 pt).
FOOTNOTE_SIZE_RATIO = 0.9
# A superscript footnote marker is this much smaller than its line and raised above it.
MARKER_SIZE_RATIO = 0.8
# Header/footer bands: the first and last lines within this fraction of the page height.
BAND_FRACTION = 0.2
# A column gutter: an x-interval near the middle of the page that at most this share of the
# body rows cross, with text on both sides in at least MIN_COLUMN_SHARE of them.
GUTTER_CROSSING_SHARE = 0.25
MIN_GUTTER = 5.0  # points: a gutter is at least this wide (LaTeX's default \columnsep is 10 pt)
MIN_COLUMN_SHARE = 0.3
# A new paragraph starts after a vertical gap this many times the usual line pitch.
PARAGRAPH_GAP_RATIO = 1.45

_BOLD = re.compile(r"bold|black|heavy|semibold|demi", re.I)
_DIGITS = re.compile(r"\d+")
_DOI_TEXT = re.compile(r"10\.\d{4,9}/\S+")
_MARKER = re.compile(r"^[\d*†‡§,，]+$")
_HEADING_END = re.compile(r"[。，；、,;：:]$")


@dataclass(frozen=True, slots=True)
class Word:
    """A run of characters in one font on one baseline, as an extractor or OCR found it."""

    text: str
    x0: float  # left edge, points from the page's left
    x1: float  # right edge
    top: float  # top edge, points from the page's top
    bottom: float
    size: float  # font size in points (OCR: the box height)
    bold: bool = False

    @staticmethod
    def is_bold_font(fontname: str) -> bool:
        return bool(_BOLD.search(fontname.split("+")[-1]))


@dataclass(frozen=True, slots=True)
class Line:
    """Words of one line of one column, left to right."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float  # median font size of its characters
    bold: bool  # most of its characters are bold

    @property
    def height(self) -> float:
        return self.bottom - self.top


@dataclass(frozen=True, slots=True)
class PageLayout:
    """One page read in order: body lines, and apart from them the band lines and footnotes."""

    index: int  # 1-based page index in the file
    width: float
    height: float
    columns: int  # 1, or 2 when a gutter was found
    body: tuple[Line, ...]  # reading order: full-width blocks in place, left column then right
    top_band: tuple[Line, ...]  # the running header's lines (decided across pages by running_bands)
    bottom_band: tuple[Line, ...]  # the running footer's


# ---------------------------------------------------------------- lines


def _join_words(words: Sequence[Word]) -> str:
    out = ""
    prev: Word | None = None
    for w in words:
        if prev is not None and out:
            gap = w.x0 - prev.x1
            # A space between Latin words; CJK runs abut or are split by a font change only.
            if gap > 0.15 * min(w.size, prev.size) and (_latinish(out[-1]) or _latinish(w.text[0])):
                out += " "
            elif gap > 0.9 * min(w.size, prev.size):
                out += " "
        out += w.text
        prev = w
    return out


def _latinish(ch: str) -> bool:
    return ch.isascii() and not ch.isspace()


def _make_line(words: Sequence[Word]) -> Line:
    words = sorted(words, key=lambda w: w.x0)
    sizes = [w.size for w in words for _ in w.text]
    size = statistics.median(sizes) if sizes else 0.0
    bold_chars = sum(len(w.text) for w in words if w.bold)
    return Line(
        text=_join_words(words),
        x0=min(w.x0 for w in words),
        x1=max(w.x1 for w in words),
        top=min(w.top for w in words),
        bottom=max(w.bottom for w in words),
        size=size,
        bold=bold_chars * 2 > sum(len(w.text) for w in words),
    )


def _rows(words: Sequence[Word]) -> list[list[Word]]:
    """Words grouped by baseline: a word joins the row whose vertical centre it shares."""
    rows: list[list[Word]] = []
    centres: list[float] = []
    for w in sorted(words, key=lambda w: (w.bottom, w.x0)):
        c = (w.top + w.bottom) / 2
        for i in range(len(rows) - 1, max(-1, len(rows) - 4), -1):
            if abs(centres[i] - c) <= 0.45 * max(w.size, 1.0):
                rows[i].append(w)
                break
        else:
            rows.append([w])
            centres.append(c)
    rows = [_drop_markers(r) for r in rows]
    return sorted((r for r in rows if r), key=lambda r: min(w.top for w in r))


def _drop_markers(row: list[Word]) -> list[Word]:
    """Superscript footnote markers ("…新动能。¹凭借") are not text of the line."""
    if len(row) < 2:
        return row
    size = statistics.median(w.size for w in row)
    base = statistics.median(w.bottom for w in row)
    return [
        w
        for w in row
        if not (w.size < MARKER_SIZE_RATIO * size and _MARKER.match(w.text) and w.bottom < base - 0.1 * size)
    ]


# ---------------------------------------------------------------- columns


def find_gutter(rows: Sequence[Sequence[Word]], width: float) -> tuple[float, float] | None:
    """The x-interval between two columns, or None for a single-column page. Rows whose words
    cross the interval are full-width (title, abstract, a wide table) and stay where they are."""
    if len(rows) < 6 or width <= 0:
        return None
    step = 2.0
    lo, hi = 0.3 * width, 0.7 * width
    xs = [lo + i * step for i in range(int((hi - lo) / step) + 1)]
    crossing = [0] * len(xs)
    for row in rows:
        for w in row:
            for i, x in enumerate(xs):
                if w.x0 < x < w.x1:
                    crossing[i] += 1
    limit = GUTTER_CROSSING_SHARE * len(rows)
    best: tuple[float, float] | None = None
    run_start = None
    for i, count in enumerate(crossing + [len(rows) + 1]):
        if count <= limit and run_start is None:
            run_start = i
        elif count > limit and run_start is not None:
            a, b = xs[run_start], xs[i - 1]
            if best is None or b - a > best[1] - best[0]:
                best = (a, b)
            run_start = None
    if best is None or best[1] - best[0] + step < MIN_GUTTER:
        return None
    a, b = best
    centre = (a + b) / 2
    both = sum(1 for row in rows if any(w.x1 <= centre for w in row) and any(w.x0 >= centre for w in row))
    if both < MIN_COLUMN_SHARE * len(rows):
        return None
    return best


def _split_row(row: Sequence[Word], gutter: tuple[float, float] | None) -> tuple[str, list[list[Word]]]:
    """('full', [row]) for a row crossing the gutter, else ('cols', [left, right])."""
    if gutter is None:
        return "full", [list(row)]
    a, b = gutter
    if any(w.x0 < a and w.x1 > b for w in row):  # a word spans the whole gutter
        return "full", [list(row)]
    centre = (a + b) / 2
    return "cols", [[w for w in row if w.x0 + w.x1 < 2 * centre], [w for w in row if w.x0 + w.x1 >= 2 * centre]]


# ---------------------------------------------------------------- pages


def page_rows(words: Sequence[Word]) -> list[list[Word]]:
    """Words of one page grouped into rows (one baseline across the whole page), top to bottom."""
    return _rows([w for w in words if w.text.strip()])


def band_candidates(rows: Sequence[Sequence[Word]], height: float) -> list[str]:
    """band_key of the rows that could be a running header or footer (see _band_rows)."""
    top, bottom, _ = _band_rows(list(rows), height)
    return [band_key(_make_line(r).text) for r in (*top, *bottom)]


def layout_page(
    index: int, rows: Sequence[Sequence[Word]], width: float, height: float, running: set[str]
) -> PageLayout:
    """Rows of one page -> its lines in reading order; band rows whose key is in `running`
    (running_bands) are the header/footer, kept apart; other band rows are text like any."""
    rows = [list(r) for r in rows]
    if not rows:
        return PageLayout(index, width, height, 1, (), (), ())
    top_rows, bottom_rows, _ = _band_rows(rows, height)
    top_band = [r for r in top_rows if band_key(_make_line(r).text) in running]
    bottom_band = [r for r in bottom_rows if band_key(_make_line(r).text) in running]
    banned = {id(r) for r in (*top_band, *bottom_band)}
    rows = [r for r in rows if id(r) not in banned]
    gutter = find_gutter(rows, width)
    body: list[Line] = []
    left: list[Line] = []
    right: list[Line] = []

    def flush() -> None:
        body.extend(left)
        body.extend(right)
        left.clear()
        right.clear()

    for row in rows:
        shape, parts = _split_row(row, gutter)
        if shape == "full":
            flush()
            body.append(_make_line(parts[0]))
        else:
            if parts[0]:
                left.append(_make_line(parts[0]))
            if parts[1]:
                right.append(_make_line(parts[1]))
    flush()
    return PageLayout(
        index=index,
        width=width,
        height=height,
        columns=2 if gutter else 1,
        body=tuple(body),
        top_band=tuple(_make_line(r) for r in top_band),
        bottom_band=tuple(_make_line(r) for r in bottom_band),
    )


def _band_rows(rows: list[list[Word]], height: float) -> tuple[list[list[Word]], list[list[Word]], list[list[Word]]]:
    """Up to two rows at the top and at the bottom of the page, within BAND_FRACTION of its
    edge: the only places a running header, footer or page number can be."""
    top: list[list[Word]] = []
    bottom: list[list[Word]] = []
    i, j = 0, len(rows)
    while i < min(2, j) and max(w.bottom for w in rows[i]) <= BAND_FRACTION * height:
        top.append(rows[i])
        i += 1
    while j > i and len(bottom) < 2 and min(w.top for w in rows[j - 1]) >= (1 - BAND_FRACTION) * height:
        bottom.insert(0, rows[j - 1])
        j -= 1
    return top, bottom, rows[i:j]


def band_key(text: str) -> str:
    """A band line with its numbers blanked: '电子商务评论 2025, 15(4): 131' repeats as one key."""
    return _DIGITS.sub("#", re.sub(r"\s+", "", text))


def running_bands(candidates: Sequence[Sequence[str]]) -> set[str]:
    """Keys (band_key) of band lines (band_candidates, per page) that repeat on enough pages to
    be a running header or footer: 40 % of the pages (odd and even pages may differ), at least
    two. A band line that is only a page number is always one."""
    counts: Counter[str] = Counter()
    for keys in candidates:
        counts.update(set(keys))
    need = max(2, int(0.4 * len(candidates) + 0.999))
    return {key for key, n in counts.items() if n >= need or re.fullmatch(r"[#\-–—\s]*", key)}


def page_numbers_in_bands(page: PageLayout) -> list[int]:
    """Integers printed in the page's running header/footer lines (candidates for its number)."""
    out = []
    for ln in (*page.top_band, *page.bottom_band):
        out += [int(n) for n in _DIGITS.findall(_DOI_TEXT.sub("", ln.text)) if len(n) <= 5]
    return out


# ---------------------------------------------------------------- paragraphs


@dataclass(frozen=True, slots=True)
class Paragraph:
    """Lines that read as one paragraph; `role` is 'text', 'heading' or 'footnote'."""

    lines: tuple[Line, ...]
    role: str

    @property
    def size(self) -> float:
        return statistics.median(ln.size for ln in self.lines)


def body_size(lines: Sequence[Line]) -> float:
    """The font size most characters of the paper are set in: its body text."""
    sizes: Counter[float] = Counter()
    for ln in lines:
        sizes[round(ln.size * 2) / 2] += len(ln.text)
    return sizes.most_common(1)[0][0] if sizes else 10.0


def split_footnotes(lines: Sequence[Line], body: float) -> tuple[list[Line], list[Line]]:
    """(text lines, footnote lines): footnotes are the run of small-type lines at the bottom
    of the page (below the last body-size line)."""
    end = len(lines)
    while end > 0 and lines[end - 1].size < FOOTNOTE_SIZE_RATIO * body:
        end -= 1
    if end == len(lines) or end == 0:
        return list(lines), []
    # A footnote sits below the body text, not beside it (a small-type caption mid-page).
    if lines[end].top < lines[end - 1].bottom:
        return list(lines), []
    return list(lines[:end]), list(lines[end:])


def paragraphs(lines: Sequence[Line], body: float) -> list[Paragraph]:
    """Lines of one page in reading order -> paragraphs: a heading (a short line in a larger or
    bold font than the body) is one; otherwise a new paragraph starts after a wide vertical gap
    or at an indented first line."""
    out: list[Paragraph] = []
    current: list[Line] = []
    pitches = [
        b.top - a.top
        for a, b in zip(lines, lines[1:], strict=False)
        if 0 < b.top - a.top < 3 * body and abs(a.size - body) < 0.5 and abs(b.size - body) < 0.5
    ]
    pitch = statistics.median(pitches) if pitches else 1.3 * body
    left = _column_lefts(lines)

    def flush(role: str = "text") -> None:
        if current:
            out.append(Paragraph(tuple(current), role))
            current.clear()

    prev: Line | None = None
    for ln in lines:
        if is_heading_line(ln, body):
            if out and out[-1].role == "heading" and prev is not None and _same_heading(prev, ln, pitch):
                out[-1] = Paragraph((*out[-1].lines, ln), "heading")  # a heading wrapped over two lines
            else:
                flush()
                out.append(Paragraph((ln,), "heading"))
            prev = ln
            continue
        if current and prev is not None:
            gap = ln.top - prev.top
            column_break = gap < 0 or abs(ln.x0 - prev.x0) > 0.3 * (ln.x1 - ln.x0 + 1) and gap > 3 * pitch
            indented = ln.x0 - _nearest_left(left, ln.x0) > 0.8 * ln.size
            if not column_break and (gap > PARAGRAPH_GAP_RATIO * pitch or indented):
                flush()
            elif column_break and indented:
                flush()
        current.append(ln)
        prev = ln
    flush()
    return out


def is_heading_line(ln: Line, body: float) -> bool:
    text = ln.text.strip()
    if not text or len(text) > 60 or _HEADING_END.search(text):
        return False
    if sum(ch.isdigit() for ch in text) * 2 > len(text):  # a table row of figures
        return False
    return ln.size >= HEADING_SIZE_RATIO * body or (ln.bold and abs(ln.size - body) < 0.5 and len(text) <= 40)


def _same_heading(a: Line, b: Line, pitch: float) -> bool:
    return abs(a.size - b.size) < 0.5 and 0 < b.top - a.top < 1.6 * max(pitch, a.height)


def _column_lefts(lines: Sequence[Line]) -> list[float]:
    """Left margins of the text columns: the x0 most lines start at (one per column)."""
    counts = Counter(round(ln.x0) for ln in lines)
    lefts: list[float] = []
    for x, n in counts.most_common():
        if n < max(3, 0.15 * len(lines)):
            break
        if all(abs(x - y) > 20 for y in lefts):
            lefts.append(float(x))
    return lefts or [min((ln.x0 for ln in lines), default=0.0)]


def _nearest_left(lefts: Sequence[float], x: float) -> float:
    below = [y for y in lefts if y <= x + 1]
    return max(below) if below else min(lefts)
