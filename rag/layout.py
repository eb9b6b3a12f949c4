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

from .text import DOI

# A line is a heading when its font is at least this much larger than the body text of the
# paper (1.12: LaTeX's \large on 10 pt body text is 1.2x; a 10.5 pt body beside an 11 pt
# line is 1.05x and stays text).
HEADING_SIZE_RATIO = 1.12
# Footnotes are set at most this fraction of the body size (LaTeX: \footnotesize 8/10 pt).
FOOTNOTE_SIZE_RATIO = 0.9
MAX_FOOTNOTE_SHARE = 0.4  # footnotes take less than this share of a page's lines
# A superscript footnote marker is this much smaller than its line and raised above it.
MARKER_SIZE_RATIO = 0.8
# A word whose box shares this much of its height with a row's joins it (LaTeX's raised "A").
ROW_OVERLAP = 0.7
# Header/footer bands: the first and last lines within this fraction of the page height.
BAND_FRACTION = 0.2
RUNNING_MIN_PAGES = 4
# A column gutter: a gap between words near the middle of the page that at least
# MIN_COLUMN_ROWS rows and MIN_COLUMN_SHARE of all rows share (find_gutter).
MIN_GUTTER = 5.0  # points: a gutter is at least this wide (LaTeX's default \columnsep is 10 pt)
MIN_COLUMN_ROWS = 5
MIN_COLUMN_SHARE = 0.2
# A new paragraph starts after a vertical gap this many times the usual line pitch.
PARAGRAPH_GAP_RATIO = 1.45
# A line ending this many ems short of its column's right margin ends its paragraph.
SHORT_LINE_EMS = 2.5

_BOLD = re.compile(r"bold|black|heavy|semibold|demi", re.I)
_DIGITS = re.compile(r"\d+")
_MARKER = re.compile(r"^[\d*†‡§,，]+$")
# The heading of a reference list (set small, it is still a section, not footnotes).
_REFERENCE_HEADING = re.compile(
    r"^\W*(参\s*考\s*文\s*献|references|bibliography|works cited|literature cited)\W*$", re.I
)
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
    """Words grouped by baseline: a word joins the row whose vertical centre is nearest to its
    own, when near enough (the two columns of a page may sit a few points apart). Small words
    (a superscript "¹" or "[11]") are placed after the lines are known, in the row beside them."""
    if not words:
        return []
    typical = statistics.median(w.size for w in words)
    small = [w for w in words if w.size < MARKER_SIZE_RATIO * typical]
    rows: list[list[Word]] = []
    centres: list[float] = []
    for w in sorted((w for w in words if w.size >= MARKER_SIZE_RATIO * typical), key=_centre):
        c = _centre(w)
        best, best_d = -1, float("inf")
        for i in range(len(rows) - 1, max(-1, len(rows) - 8), -1):
            d = abs(centres[i] - c)
            close = d <= 0.45 * max(w.size, 1.0) or _overlap(rows[i], w) >= ROW_OVERLAP
            if close and d < best_d and _near_in_x(rows[i], w):
                best, best_d = i, d
        if best < 0:
            rows.append([w])
            centres.append(c)
        else:
            rows[best].append(w)
            centres[best] += (c - centres[best]) / len(rows[best])
    for w in small:
        c = _centre(w)
        near = [
            (abs(centres[i] - c), i)
            for i, row in enumerate(rows)
            if abs(centres[i] - c) <= 0.7 * row[0].size
            and min(abs(x.x0 - w.x1) if x.x0 >= w.x1 else abs(w.x0 - x.x1) if w.x0 >= x.x1 else 0.0 for x in row)
            <= 1.5 * row[0].size
        ]
        if near:
            rows[min(near)[1]].append(w)
        else:
            rows.append([w])
            centres.append(c)
    rows = [_drop_markers(r) for r in rows]
    return sorted((r for r in rows if r), key=lambda r: min(w.top for w in r))


def _overlap(row: Sequence[Word], w: Word) -> float:
    """How much of the word's height the row's first word shares (a raised logo letter: most)."""
    x = row[0]
    shared = min(x.bottom, w.bottom) - max(x.top, w.top)
    return max(shared, 0.0) / max(min(x.bottom - x.top, w.bottom - w.top), 1e-6)


def _centre(w: Word) -> float:
    return (w.top + w.bottom) / 2


def _near_in_x(row: Sequence[Word], w: Word) -> bool:
    """A word belongs to a row only if it does not overlap a word already there (two lines of
    different columns never overlap in x; a word and its own line never do either)."""
    for x in row:
        if abs(x.size - w.size) > 0.2 * max(x.size, w.size):  # a superscript over its line
            continue
        overlap = min(x.x1, w.x1) - max(x.x0, w.x0)
        if overlap > 0.8 * min(x.x1 - x.x0, w.x1 - w.x0):  # stacked; a kerned logo letter overlaps less
            return False
    return True


def _drop_markers(row: list[Word]) -> list[Word]:
    """Superscript footnote markers ("…新动能。¹凭借") are not text of the line: digits in type
    smaller than the word beside them and raised above its middle."""
    if len(row) < 2:
        return row
    keep = []
    for w in row:
        if _MARKER.match(w.text):
            others = [x for x in row if x is not w]
            beside = min(others, key=lambda x: max(x.x0 - w.x1, w.x0 - x.x1, 0.0))
            gap = max(beside.x0 - w.x1, w.x0 - beside.x1, 0.0)
            if w.size < MARKER_SIZE_RATIO * beside.size and _centre(w) < _centre(beside) and gap < beside.size:
                continue
        keep.append(w)
    return keep


# ---------------------------------------------------------------- columns


def find_gutter(rows: Sequence[Sequence[Word]], width: float) -> tuple[float, float] | None:
    """The whitespace between two columns as (left, right) x, or None for a single-column page.

    A gutter is a strip at least MIN_GUTTER wide in the middle 40 % of the page that no word of
    at least MIN_COLUMN_ROWS rows (and MIN_COLUMN_SHARE of all rows) enters, with words of such
    rows on both sides of it (rows of the two columns need not share baselines). Rows with a word
    in the strip are full-width (title, abstract, a wide table) and stay where they are, so a
    first page whose title block spans the page above two short columns still has its gutter.
    Within a line of text, word spaces are narrower than MIN_GUTTER: one column has no strip."""
    if len(rows) < MIN_COLUMN_ROWS or width <= 0:
        return None
    need = max(MIN_COLUMN_ROWS, MIN_COLUMN_SHARE * len(rows))
    best: tuple[int, float] | None = None
    x = 0.3 * width
    while x + MIN_GUTTER <= 0.7 * width:
        left = right = 0
        for row in rows:
            if any(w.x1 > x and w.x0 < x + MIN_GUTTER for w in row):
                continue
            left += any(w.x1 <= x for w in row)
            right += any(w.x0 >= x + MIN_GUTTER for w in row)
        score = min(left, right)
        if score >= need and (best is None or score > best[0]):
            best = (score, x)
        x += 1.0
    if best is None:
        return None
    x = best[1]
    free = [row for row in rows if not any(w.x1 > x and w.x0 < x + MIN_GUTTER for w in row)]
    a = max((w.x1 for row in free for w in row if w.x1 <= x), default=x)
    b = min((w.x0 for row in free for w in row if w.x0 >= x + MIN_GUTTER), default=x + MIN_GUTTER)
    return a, b


def _split_row(row: Sequence[Word], gutter: tuple[float, float] | None) -> tuple[str, list[list[Word]]]:
    """('full', [row]) for a row with a word across the gutter, else ('cols', [left, right])."""
    if gutter is None:
        return "full", [list(row)]
    a, b = gutter
    centre = (a + b) / 2
    # A word across the middle of the gutter: a full-width line. Column lines may run into the
    # gutter (an overfull line, hanging punctuation), not across its middle.
    half = max(1.0, 0.1 * (b - a))
    if any(w.x1 > centre - half and w.x0 < centre + half for w in row):
        return "full", [list(row)]
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
    two, and RUNNING_MIN_PAGES suffice in a long document (a book's header names its chapter). A
    band line that is only a page number is always one."""
    counts: Counter[str] = Counter()
    for keys in candidates:
        counts.update(set(keys))
    need = max(2, min(RUNNING_MIN_PAGES, int(0.4 * len(candidates) + 0.999)))
    return {key for key, n in counts.items() if n >= need or re.fullmatch(r"[#\-–—\s]*", key)}


def page_numbers_in_bands(page: PageLayout) -> list[int]:
    """Integers printed in the page's running header/footer lines (candidates for its number)."""
    out = []
    for ln in (*page.top_band, *page.bottom_band):
        out += [int(n) for n in _DIGITS.findall(DOI.sub("", ln.text)) if len(n) <= 5]
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
    """(text lines, footnote lines). Footnotes are runs of small-type lines at the bottom of a
    column (the next line in reading order is higher up the page, or there is none): the foot of
    the page, or of the left column in two-column pages. Small type under a reference-list
    heading is that list, and a run that fills much of the page is text too."""
    text: list[Line] = []
    notes: list[Line] = []
    i = 0
    while i < len(lines):
        if lines[i].size >= FOOTNOTE_SIZE_RATIO * body:
            text.append(lines[i])
            i += 1
            continue
        j = i
        while j < len(lines) and lines[j].size < FOOTNOTE_SIZE_RATIO * body:
            j += 1
        run = lines[i:j]
        at_foot = j == len(lines) or lines[j].top < run[0].top
        below_text = i > 0 and run[0].top > lines[i - 1].bottom and not _REFERENCE_HEADING.match(lines[i - 1].text)
        if at_foot and below_text and len(run) <= MAX_FOOTNOTE_SHARE * len(lines):
            notes.extend(run)
        else:
            text.extend(run)
        i = j
    return text, notes


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
    right = _column_rights(lines)

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
            # Justified text fills its column to the right edge but for a paragraph's last line.
            ended = _nearest_right(right, prev.x1) - prev.x1 > SHORT_LINE_EMS * prev.size
            if not column_break and (gap > PARAGRAPH_GAP_RATIO * pitch or indented or ended):
                flush()
            elif column_break and (indented or ended):
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


def join_lines(lines: Sequence[Line]) -> str:
    """Lines of one paragraph, heading or title as one string: a space between Latin ends and
    starts ("Cross-border" / "trade"), none between Chinese lines."""
    text = ""
    for ln in lines:
        if text and re.search(r"[A-Za-z0-9,.;:]$", text) and re.match(r"[A-Za-z0-9(]", ln.text):
            text += " "
        text += ln.text
    return text.strip()


def _margins(edges: Sequence[float]) -> list[float]:
    """The x positions most lines start (or end) at, one per column: the column margins."""
    counts = Counter(round(x) for x in edges)
    margins: list[float] = []
    for x, n in counts.most_common():
        if n < max(3, 0.15 * len(edges)):
            break
        if all(abs(x - y) > 20 for y in margins):
            margins.append(float(x))
    return margins


def _column_lefts(lines: Sequence[Line]) -> list[float]:
    """Left margins of the text columns."""
    return _margins([ln.x0 for ln in lines]) or [min((ln.x0 for ln in lines), default=0.0)]


def _column_rights(lines: Sequence[Line]) -> list[float]:
    """Right margins of the text columns (justified text reaches them)."""
    return _margins([ln.x1 for ln in lines]) or [max((ln.x1 for ln in lines), default=0.0)]


def _nearest_right(rights: Sequence[float], x: float) -> float:
    """The right margin of the column a line ending at x belongs to."""
    above = [y for y in rights if y >= x - 1]
    return min(above) if above else max(rights)


def _nearest_left(lefts: Sequence[float], x: float) -> float:
    below = [y for y in lefts if y <= x + 1]
    return max(below) if below else min(lefts)
