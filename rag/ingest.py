"""Files -> cleaned papers: read txt/md/pdf (UTF-8, UTF-16/32 with a byte-order mark, GB18030),
strip running headers and boilerplate, rejoin hard-wrapped lines and line-break hyphens, mark
headings, abstracts, references and printed pages; a Markdown table becomes one sentence per row."""

from __future__ import annotations

import codecs
import hashlib
import logging
import re
import statistics
import unicodedata
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import CorpusError
from .text import HAN
from .types import Block, CleanPaper, Page, Paper

if TYPE_CHECKING:
    from .readcache import PdfCache

logger = logging.getLogger(__name__)

SUPPORTED = (".txt", ".md", ".pdf")
DATA_DIR = Path(__file__).resolve().parent / "data"

_URL_LINE = re.compile(r"^(?:https?://|www\.)\S+$", re.I)
# "DOI: 10.12677/ecl.2025.1461720 135 电子商务评论": the running header of Hans journals.
_DOI_HEADER = re.compile(r"^DOI:\s*(10\.\d{4,9}/\S+)\s+(\d{1,5})\s+\S.*$", re.I)
_DOI_ANY = re.compile(r"(?:doi\.org/|DOI:\s*)(10\.\d{4,9}/[^\s,;]+)", re.I)
_LICENCE = re.compile(
    r"(copyright\s*©|©\s*\d{4}|licensed under|creativecommons\.org|creative commons|open access)", re.I
)
# "3. 标题", "3.1 标题", "3.1. 标题": 1-2 digits a level, up to four levels; the title starts with
# neither a digit nor a space, so "3.46 万平方米" reads as number 3.46 + "万平方米…", never 3 + "46…".
_NUM_HEADING = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})(\.?)\s*([^\d\s].*)$")
# Inside a heading's title: a sentence ends there, so the line is text.
_SENTENCE_INSIDE = re.compile(r"[。！？；!?;]|\.\s")
# The paragraph so far ends a sentence (with any closing quote/bracket and reference marker).
_COMPLETED = re.compile(r"[。！？!?.；;:：][”’\"'」』)）\]]*(?:\s*\[\d+(?:\s*[,，\-–]\s*\d+)*\])?\s*$")
_CN_HEADING = re.compile(r"^(?:[(（][一二三四五六七八九十]{1,3}[)）]|[一二三四五六七八九十]{1,3}、)\s*(\S.*)$")
_MD_HEADING = re.compile(r"^#{1,6}\s+(\S.*?)(?:\s+#+)?$")
_MD_TITLE = re.compile(r"^#\s+(\S.*?)(?:\s+#+)?$")
# A Markdown table: "| a | b |" rows under a "| --- | :---: |" delimiter row.
_MD_TABLE_DELIMITER = re.compile(r"^\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?$")
_SPECIAL = {
    "摘要": "abstract",
    "abstract": "abstract_en",
    "keywords": "keywords",
    "keyword": "keywords",
    "关键词": "keywords",
    "参考文献": "references",
    "references": "references",
}
# "摘  要：…", "关键词：…", "Abstract: …", "Keywords: …" at the start of a paragraph.
_INLINE_LABEL = re.compile(r"^(摘\s*要|关\s*键\s*词|abstract|key\s*words?)\s*[:：]\s*(.*)$", re.I)
_SENTENCE_END = tuple('。！？!?.；;”"」)）]')
_CJK = HAN
_LATIN_END = re.compile(r"[A-Za-z0-9%,.;:)\]]$")
_LATIN_START = re.compile(r"^[A-Za-z0-9(\[]")


@dataclass
class _Event:
    line: str | None = None
    page: int | None = None  # a page marker: the text after it is on this printed page
    alone: bool = False  # the line is a paragraph of its own (a table row), never joined
    index: int | None = None  # with `page`: the PDF page index
    kind: str | None = None  # with `alone`: the paragraph's kind ("footnote"), else the section's
    paragraph_end: bool = False  # the paragraph so far ends here (a PDF's layout says so)


# ---------------------------------------------------------------- reading


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# Byte-order marks, longest first: the UTF-32-LE mark begins with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_text(data: bytes, name: str) -> str:
    """UTF-8, UTF-16 or UTF-32 with a byte-order mark, UTF-8 without one, or GB18030/GBK;
    anything else raises CorpusError."""
    if not data.strip():
        raise CorpusError(f"{name} is empty")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding)  # "utf-16"/"utf-32" read the mark and drop it
            except UnicodeDecodeError as exc:
                raise CorpusError(
                    f"{name} starts with a {encoding} byte-order mark but is not valid {encoding} ({exc}); "
                    "save it again as UTF-8"
                ) from exc
            if not text.strip():
                raise CorpusError(f"{name} is empty")
            return text
    if b"\x00" in data[:4096]:
        raise CorpusError(
            f"{name} looks binary (NUL bytes), not text; if it is UTF-16/UTF-32 text without a "
            "byte-order mark, save it as UTF-8"
        )
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _looks_like_text(text):
            return text
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is not None and _looks_like_text(str(best)):
        return str(best)
    raise CorpusError(f"{name} is not readable text in UTF-8 or GB18030/GBK")


def _looks_like_text(text: str) -> bool:
    sample = text[:20000]
    bad = sum(1 for ch in sample if unicodedata.category(ch) in {"Cc", "Co", "Cn"} and ch not in "\n\r\t\f")
    return bad <= max(3, len(sample) // 200)


def read_pages(path: Path, doc_id: str | None = None) -> list[Page]:
    """Raw pages of one text file (document id: the file stem unless given): one page with no
    number. Raises CorpusError when the file cannot be used; PDFs are read by rag/pdf.py."""
    doc_id = doc_id or path.stem
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED or suffix == ".pdf":
        raise CorpusError(f"{path.name}: unsupported file type {suffix!r}; use {', '.join(SUPPORTED)}")
    return [Page(doc_id=doc_id, number=None, text=decode_text(path.read_bytes(), path.name))]


# ---------------------------------------------------------------- cleaning


def clean_pages(
    pages: list[Page],
    *,
    source: str,
    sha256: str,
    catalog: dict[str, object] | None = None,
    found: Found | None = None,
) -> CleanPaper:
    """Pages of one file -> one cleaned paper with blocks and printed pages. `found`: what the
    file itself says about the paper beyond its text (a PDF's first page, its footnotes)."""
    doc_id = pages[0].doc_id
    found = found or Found()
    events, outline = _line_events(pages)
    for note in found.footnotes:  # kept apart from the body text, each on its own page
        events.append(_Event(page=note[0], index=note[1]))
        events.append(_Event(line=note[2], alone=True, kind="footnote"))
    raw = "\n".join(p.text for p in pages)
    builder = _Builder(_latin_vocabulary(raw), _hyphen_compounds(raw), _typical_widths(events))
    for event in events:
        builder.feed(event)
    text, blocks = builder.finish()
    paper = _paper_meta(doc_id, source, sha256, raw, outline, text, blocks, catalog or {}, found)
    return CleanPaper(paper=paper, text=text, blocks=tuple(blocks), pages=tuple(builder.page_starts()))


@dataclass(frozen=True)
class Found:
    """What a file says about its paper besides the text: fields with their sources, and
    footnotes as (printed page, PDF page index, text)."""

    fields: dict[str, object] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    footnotes: tuple[tuple[int | None, int | None, str], ...] = ()


def _line_events(pages: list[Page]) -> tuple[list[_Event], list[str]]:
    lines_per_page = [[ln.replace("\u3000", " ").strip() for ln in p.text.splitlines()] for p in pages]
    outline = _pop_outline(lines_per_page[-1], pages[-1].text)
    counts = Counter(ln for lines in lines_per_page for ln in lines if ln)
    printed = any(_DOI_HEADER.match(ln) for lines in lines_per_page for ln in lines)
    events: list[_Event] = []
    for page, lines in zip(pages, lines_per_page, strict=True):
        if page.number is not None and not printed:
            events.append(_Event(page=page.number, index=page.index))
        if page.paragraphs:
            events += _layout_events(lines, counts)
            continue
        for ln, row in _table_rows(lines):
            header = _DOI_HEADER.match(ln)
            if row:
                events.append(_Event(line=ln, alone=True))
            elif header:
                events.append(_Event(page=int(header.group(2))))
            elif not _is_boilerplate(ln, counts[ln]):
                events.append(_Event(line=ln))
    return events, outline


def _layout_events(lines: list[str], counts: Counter[str]) -> list[_Event]:
    """Lines of a page whose reader knew its layout (rag/pdf.py): a blank line ends a paragraph."""
    events: list[_Event] = []
    starts = True
    for ln in lines:
        if not ln:
            events.append(_Event(paragraph_end=True))
            starts = True
            continue
        label = _INLINE_LABEL.match(ln) if starts else None
        starts = False
        if label:  # "摘  要：近年来…" / "Keywords: A, B": the label heads its own block
            events.append(
                _Event(line=re.sub(r"\s+", "", label.group(1)) if _CJK.search(label.group(1)) else label.group(1))
            )
            ln = label.group(2).strip()
            if not ln:
                continue
        if not _is_boilerplate(ln, counts[ln]):
            events.append(_Event(line=ln))
    return events


def _table_rows(lines: list[str]) -> Iterator[tuple[str, bool]]:
    """Non-empty lines as (line, False), except that each body row of a Markdown table becomes
    (row read with its header, True): "| 2021 | 1.98 |" under "| 年份 | 规模(万亿元) |" reads
    "年份：2021，规模(万亿元)：1.98。", a sentence that can be quoted with its figure and unit. The
    header and delimiter rows themselves are dropped: every body row repeats the header."""
    i = 0
    while i < len(lines):
        ln = lines[i]
        if "|" in ln and i + 1 < len(lines) and _MD_TABLE_DELIMITER.match(lines[i + 1]) and "|" in lines[i + 1]:
            header = _table_cells(ln)
            i += 2
            while i < len(lines) and "|" in lines[i]:
                yield _table_row_sentence(header, _table_cells(lines[i])), True
                i += 1
            continue
        if ln:
            yield ln, False
        i += 1


def _table_cells(line: str) -> list[str]:
    inner = line.strip().removeprefix("|").removesuffix("|")
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", inner)]


def _table_row_sentence(header: list[str], cells: list[str]) -> str:
    zh = bool(_CJK.search(" ".join(header + cells)))
    colon, comma, stop = ("：", "，", "。") if zh else (": ", ", ", ".")
    parts = [f"{name}{colon}{value}" if name else value for name, value in zip(header, cells, strict=False) if value]
    parts += [value for value in cells[len(header) :] if value]
    return comma.join(parts) + stop


def _pop_outline(lines: list[str], raw_last_page: str) -> list[str]:
    """The trailing outline of headings (tab-indented lines at the end) is removed and returned."""
    raw_lines = raw_last_page.splitlines()
    outline: list[str] = []
    i = len(raw_lines) - 1
    while i >= 0 and (not raw_lines[i].strip() or raw_lines[i].startswith("\t")):
        if raw_lines[i].strip():
            outline.append(raw_lines[i].strip())
        i -= 1
    if len(outline) < 3:
        return []
    del lines[i + 1 :]
    return outline[::-1]


def _is_boilerplate(line: str, count: int) -> bool:
    if _URL_LINE.match(line) or _LICENCE.search(line):
        return True
    # Repeated short lines that are not headings are running headers (author names, journal).
    if count >= 2 and len(line) <= 25 and _heading(line) is None and not line.endswith(_SENTENCE_END):
        return True
    return False


def _heading(line: str, after_sentence: bool = True) -> tuple[str, str | None] | None:
    """(heading text, special kind or None) when the line is a heading. `after_sentence`: the
    text before the line ends a sentence (or there is none), as it does before a heading."""
    md = _MD_HEADING.match(line)
    if md:  # marked as a heading by its author: no length or punctuation test
        line = md.group(1).strip()
    compact = re.sub(r"\s+", "", line)
    special = _SPECIAL.get(compact.lower().rstrip(":："))
    if special:
        return (compact if _CJK.search(compact) else line.strip().rstrip(":："), special)
    if md:
        return line, None
    if len(line) > 48 or line.endswith(("。", "，", "；", "、", ",", ";", "：", ":")):
        return None
    if _numbered_heading(line, after_sentence):
        return re.sub(r"\s+", " ", line).strip(), None
    if _CN_HEADING.match(line):
        return re.sub(r"\s+", " ", line).strip(), None
    return None


def _numbered_heading(line: str, after_sentence: bool) -> bool:
    """Whether the line is a numbered heading ("3. 标题", "3.1 标题", "3.1. 标题") and not a
    hard-wrapped line that starts with a figure ("3.46 万平方米，…", "2.5 倍…", "12.8%的…"). A heading has
    * a number of 1-2 digits per level ("12.8%" has no title after it: not a heading);
    * a title with a letter in it that does not start with a unit that follows figures
      (data/figure_units.*.txt: 万, 倍, %, percent, ...) and has no sentence end inside it;
    * a closing dot ("3." / "3.1.": no figure is written so), or else, since "3.1 标题" and the
      figure 3.1 look alike, text before it that ends a sentence (or a colon that opens a list):
      a wrapped line continues a sentence that has not ended ("…面积达到\n3.46 万平方米").
    The caller has already ruled out long lines and lines that end with a comma or colon."""
    num = _NUM_HEADING.match(line)
    if not num:
        return False
    number, dot, title = num.groups()
    if not re.search(r"[A-Za-z\u3400-\u9fff]", title) or _SENTENCE_INSIDE.search(title):
        return False
    if _starts_with_unit(title):
        return False
    return bool(dot) or ("." in number and after_sentence)


def _starts_with_unit(title: str) -> bool:
    words = re.match(r"[A-Za-z]+", title)
    if words:
        return words.group(0).lower() in _figure_units("en")
    return any(title.startswith(unit) for unit in _figure_units("zh"))


@lru_cache(maxsize=2)
def _figure_units(lang: str) -> frozenset[str]:
    return word_list(f"figure_units.{lang}.txt")


def word_list(name: str) -> frozenset[str]:
    """A word list of rag/data/: one entry a line, '#' starts a comment line."""
    lines = (DATA_DIR / name).read_text(encoding="utf-8").splitlines()
    return frozenset(ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#"))


def _latin_vocabulary(raw: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z]+", raw)}


def _hyphen_compounds(raw: str) -> set[str]:
    """Hyphenated words the paper writes within a line ("cross-border"): real compounds."""
    return {w.lower() for w in re.findall(r"[A-Za-z]+(?:-[A-Za-z]+)+", raw)}


@lru_cache(maxsize=1)
def _english_words() -> frozenset[str]:
    """pyspellchecker's English word list (about 160,000 words, current usage: "governance",
    "interoperability", "online"): whether a word cut by a line-break hyphen is one word."""
    try:
        from spellchecker import SpellChecker
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise CorpusError("Rejoining hyphenated English needs pyspellchecker: pip install pyspellchecker") from exc
    return frozenset(SpellChecker(language="en", distance=1).word_frequency.dictionary)


def _typical_widths(events: list[_Event]) -> dict[bool, float]:
    """Median line length for CJK lines and for Latin lines: shorter lines end paragraphs."""
    widths: dict[bool, float] = {}
    for cjk in (True, False):
        lines = [e.line for e in events if e.line and not e.alone]  # table rows are not wrapped text
        lens = [len(ln) for ln in lines if bool(_CJK.search(ln)) == cjk and len(ln) > 20]
        widths[cjk] = statistics.median(lens) if lens else 60.0
    return widths


@dataclass
class _Builder:
    """Joins lines into paragraphs and records blocks, sections and page marks."""

    vocabulary: set[str]  # Latin words of the paper, lower case
    compounds: set[str]  # hyphenated words of the paper, lower case
    widths: dict[bool, float]
    parts: list[str] = field(default_factory=list)
    pos: int = 0
    para: str = ""
    para_kind: str = "body"
    kind: str = "body"
    section: str | None = None
    marks: list[tuple[int, int]] = field(default_factory=list)  # (offset, printed page)
    indexes: list[int | None] = field(default_factory=list)  # PDF page index of each mark
    blocks: list[tuple[int, int, str, str | None]] = field(default_factory=list)

    def feed(self, event: _Event) -> None:
        if event.page is not None:
            offset = self.pos + (2 if self.parts else 0) + len(self.para)
            self.marks.append((offset, event.page))
            self.indexes.append(event.index)
            return
        if event.paragraph_end:
            self._flush()
            return
        line = event.line or ""
        if event.alone:
            self._flush()
            self.para, self.para_kind = line, event.kind or self.kind
            self._flush()
            return
        head = _heading(line, after_sentence=not self.para or bool(_COMPLETED.search(self.para)))
        if head is not None:
            self._flush()
            title, special = head
            if special:
                self.kind = special
            elif self.kind in ("abstract", "abstract_en", "keywords"):
                self.kind = "body"
            self.section = title
            self.para, self.para_kind = title, "heading"
            self._flush()
            return
        if self.kind == "references" and re.match(r"^\[\d+\]", line):
            self._flush()
        self.para = self._join(self.para, line) if self.para else line
        self.para_kind = self.kind
        width = self.widths[bool(_CJK.search(line))]
        if line.endswith(_SENTENCE_END) and len(line) < 0.85 * width and self.kind != "abstract_en":
            self._flush()

    def _join(self, left: str, right: str) -> str:
        head = re.search(r"([A-Za-z]+)-$", left)
        tail = re.match(r"^([A-Za-z]+)", right)
        # A capitalised second half ("Pay-" + "Pal") is one word only where the paper writes it
        # whole elsewhere ("PayPal"); a lower-case one also when a word list knows it.
        if head and tail and (tail.group(1).islower() or (head.group(1) + tail.group(1)).lower() in self.vocabulary):
            if self._line_break_hyphen(head.group(1).lower(), tail.group(1).lower()):
                return left[:-1] + right  # "govern-" + "ance": a line-break hyphen
            return left + right  # "cross-" + "border": a real hyphen, keep it
        if _LATIN_END.search(left) and _LATIN_START.match(right):
            return left + " " + right
        return left + right

    def _line_break_hyphen(self, head: str, tail: str) -> bool:
        """The paper writing the compound with its hyphen elsewhere keeps it ("e-commerce");
        the joined word in the paper or in an English word list drops it."""
        if f"{head}-{tail}" in self.compounds:
            return False
        joined = head + tail
        return joined in self.vocabulary or joined in _english_words()

    def _flush(self) -> None:
        if not self.para:
            return
        if self.parts:
            self.parts.append("\n\n")
            self.pos += 2
        start = self.pos
        self.parts.append(self.para)
        self.pos += len(self.para)
        self.blocks.append((start, self.pos, self.para_kind, self.section))
        self.para = ""

    def finish(self) -> tuple[str, list[Block]]:
        self._flush()
        text = "".join(self.parts)
        ranges = _page_ranges(self.marks)
        blocks = [
            Block(start, end, kind, section, *page_span(ranges, start, end), index=self.index_at(start))
            for start, end, kind, section in self.blocks
        ]
        return text, blocks

    def index_at(self, offset: int) -> int | None:
        """The PDF page index of the text at `offset` (None for text files)."""
        i = bisect_right([m[0] for m in self.marks], offset) - 1
        return self.indexes[i] if i >= 0 else None

    def page_starts(self) -> list[tuple[int, int, int | None]]:
        return [(offset, page, index) for (offset, page), index in zip(self.marks, self.indexes, strict=True)]


def _page_ranges(marks: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """(offset, first page, last page) per marked stretch. Headers that show every other page
    (135, 137, 139) mean a stretch may run onto the next, unmarked page: 137–138."""
    if not marks:
        return []
    steps = [b[1] - a[1] for a, b in zip(marks, marks[1:], strict=False) if b[1] > a[1]]
    step = min(steps) if steps else 1
    ranges = []
    for i, (offset, page) in enumerate(marks):
        nxt = marks[i + 1][1] if i + 1 < len(marks) else page + step
        ranges.append((offset, page, max(page, nxt - 1)))
    return ranges


def page_span(ranges: list[tuple[int, int, int]], start: int, end: int) -> tuple[int | None, int | None]:
    """Printed pages of the text [start, end): None before the first page mark."""
    if not ranges:
        return None, None
    offsets = [r[0] for r in ranges]
    i = bisect_right(offsets, start) - 1
    j = bisect_right(offsets, max(start, end - 1)) - 1
    if j < 0:
        return None, None
    first = ranges[i][1] if i >= 0 else None
    last = ranges[j][2]
    return first, last


def page_marks(clean: CleanPaper) -> list[tuple[int, int, int]]:
    """(offset, first, last) page ranges for chunk spans: from where each page starts when the
    reader recorded it (exact), else from the blocks."""
    if clean.pages:
        return _page_ranges([(offset, page) for offset, page, _ in clean.pages])
    return [(b.start, b.page, b.page_end) for b in clean.blocks if b.page is not None]


def pdf_page_at(clean: CleanPaper, offset: int) -> int | None:
    """The PDF page index of the cleaned text at `offset`; None for text files."""
    i = bisect_right([p[0] for p in clean.pages], offset) - 1
    return clean.pages[i][2] if i >= 0 else None


def _paper_meta(
    doc_id: str,
    source: str,
    sha256: str,
    raw: str,
    outline: list[str],
    text: str,
    blocks: list[Block],
    catalog: dict[str, object],
    found: Found,
) -> Paper:
    """Fields by precedence: corpus/catalog.toml > what the file itself says (a PDF's first page
    and running headers; a text's Markdown title, outline and DOI lines) > the file stem."""
    own: dict[str, tuple[object, str]] = {k: (v, found.sources.get(k, "the file")) for k, v in found.fields.items()}
    dois = Counter(m.rstrip(".") for m in _DOI_ANY.findall(raw))
    if "doi" not in own and dois:
        own["doi"] = (dois.most_common(1)[0][0], "the text")
    if "title" not in own and not source.lower().endswith(".pdf"):  # "# …" in a PDF is code, not a title
        title = _markdown_title(raw)
        if title:
            own["title"] = (title, "the text: its Markdown title")
        elif outline and _heading(outline[0]) is None:
            own["title"] = (outline[0], "the text: its trailing outline")
    abstract = next((text[b.start : b.end] for b in blocks if b.kind in ("abstract", "abstract_en")), None)
    if abstract:
        own["abstract"] = (abstract, "the text: its abstract")
    keywords = next((text[b.start : b.end] for b in blocks if b.kind == "keywords"), None)
    if keywords:
        words = [w.strip() for w in re.split(r"[,，;；、]\s*|\s{2,}", keywords) if w.strip()]
        own["keywords"] = (words, "the text: its keywords")
    chosen: dict[str, object] = {}
    sources: dict[str, str] = {}
    for key in ("title", "authors", "year", "journal", "doi", "abstract", "keywords", *_CATALOG_ONLY):
        if catalog.get(key):
            chosen[key], sources[key] = catalog[key], "catalog.toml"
        elif key in own and own[key][0]:
            chosen[key], sources[key] = own[key]
    languages = sorted({"zh" if _CJK.search(text[b.start : b.end]) else "en" for b in blocks if b.kind != "heading"})
    authors = chosen.get("authors") or ()
    year = chosen.get("year")
    keywords_value = chosen.get("keywords") or ()
    title = str(chosen.get("title") or "")
    return Paper(
        doc_id=doc_id,
        title=title or doc_id,
        doi=str(chosen["doi"]) if chosen.get("doi") else None,
        source=source,
        sha256=sha256,
        languages=tuple(languages),
        authors=tuple(str(a) for a in authors) if isinstance(authors, list | tuple) else (str(authors),),
        year=int(year) if isinstance(year, int | str) and str(year).isdigit() else None,
        journal=str(chosen["journal"]) if chosen.get("journal") else None,
        title_known=bool(title),
        abstract=str(chosen["abstract"]) if chosen.get("abstract") else None,
        keywords=tuple(str(k) for k in keywords_value)
        if isinstance(keywords_value, list | tuple)
        else (str(keywords_value),),
        sources=tuple(sorted(sources.items())),
        **{key: str(chosen[key]) for key in _CATALOG_ONLY if chosen.get(key)},
    )


# Paper fields only a record or catalog.toml states (a paper's text does not give them reliably).
_CATALOG_ONLY = ("item_type", "volume", "issue", "pages", "publisher", "place", "url", "language")


def _markdown_title(raw: str) -> str:
    """The text of the first level-1 Markdown heading ("# 标题"): the title its author wrote."""
    for line in raw.splitlines():
        m = _MD_TITLE.match(line.strip())
        if m:
            return m.group(1).strip()
    return ""


# ---------------------------------------------------------------- corpus


def corpus_files(corpus_dir: Path, *, warn: bool = True) -> list[Path]:
    """The paper files of a corpus folder (not its subfolders: `warn` says when some are there,
    nor its README.md), sorted by name. Raises CorpusError when the folder does not exist."""
    if not corpus_dir.is_dir():
        raise CorpusError(f"Corpus folder {corpus_dir} does not exist; create it and put .txt/.md/.pdf papers in it.")
    nested = [p for p in corpus_dir.glob("*/**/*") if p.is_file() and p.suffix.lower() in SUPPORTED] if warn else []
    if nested:
        logger.warning(
            "%d paper file(s) in subfolders of %s/ are not read (only the folder itself is), e.g. %s; "
            "move them into %s/ to index them",
            len(nested),
            corpus_dir,
            nested[0].relative_to(corpus_dir),
            corpus_dir,
        )
    from .bibfile import sniff  # a CNKI RefWorks/EndNote export is a .txt too: it is not a paper

    return sorted(
        p
        for p in corpus_dir.iterdir()
        if p.is_file()
        and p.suffix.lower() in SUPPORTED
        and p.name != "README.md"
        and not (p.suffix.lower() == ".txt" and sniff(p))
    )


def document_ids(paths: Sequence[Path]) -> dict[Path, str]:
    """One document id per file of a corpus folder, the same on every run over the same folder.

    The id is the file stem ("000_0ea6e26401eae5d1": what citations, corpus/catalog.toml and the
    eval set use) when no other file in the folder has that stem. Files whose stems collide
    ("a.txt" and "a.md", two different papers) are each identified by their file name instead
    ("a.txt", "a.md"), so two papers never share an id and chunk keys ("<id>:<start>") never
    collide; their catalog entries are then keyed by the file name too. Adding "a.md" next to
    "a.txt" therefore renames the paper "a" to "a.txt" (it is read again on the next build);
    removing it renames it back. A stem that equals another file's name ("a.txt" next to
    "a.txt.md" and "a.md") also falls back to the name, which is unique within a folder."""
    ids = {path: path.stem for path in paths}
    while True:
        counts = Counter(ids.values())
        clashing = [path for path, doc_id in ids.items() if counts[doc_id] > 1 and doc_id != path.name]
        if not clashing:
            return ids
        for path in clashing:
            ids[path] = path.name


def read_paper(
    path: Path,
    catalog: dict[str, dict[str, object]] | None = None,
    *,
    doc_id: str | None = None,
    ocr: bool = False,
    progress: Callable[[int, int], None] | None = None,
    pdf_extractor: str = "pdfplumber",
    source: str | None = None,
    pdf_cache: PdfCache | None = None,
) -> CleanPaper:
    """One file -> cleaned paper, under `doc_id` (see document_ids; the file stem unless given);
    `source`: its name within the corpus (default the file name; a Zotero attachment's path).
    Its catalog entry is the one under that id. PDFs are read with their layout (rag/pdf.py);
    `ocr`: read pages without a text layer by OCR; `progress(pages done, pages)` for long files;
    `pdf_extractor`: "pdfplumber" or "pdfium" (rag/pdf.py: read_pdf); `pdf_cache`: where a PDF's
    reading is kept and found again (rag/readcache.py; a build passes the index's).
    Raises CorpusError when the file cannot be used; unreadable pages of a PDF are warned about."""
    doc_id = doc_id or path.stem
    found = None
    sha = file_sha256(path)  # once: the PDF cache's key and the paper's fingerprint
    if path.suffix.lower() == ".pdf":
        from .pdf import read_pdf

        pdf = pdf_cache.get(sha, pdf_extractor, ocr, doc_id) if pdf_cache is not None else None
        if pdf is None:
            pdf = read_pdf(path, doc_id, ocr=ocr, progress=progress, extractor=pdf_extractor)
            if pdf_cache is not None:
                pdf_cache.put(sha, pdf_extractor, ocr, pdf)
        for warning in pdf.warnings:
            logger.warning("%s", warning)
        pages = list(pdf.pages)
        found = Found(dict(pdf.meta), dict(pdf.sources), tuple((n.page, n.index, n.text) for n in pdf.footnotes))
    else:
        pages = read_pages(path, doc_id)
    clean = clean_pages(pages, source=source or path.name, sha256=sha, catalog=(catalog or {}).get(doc_id), found=found)
    if not any(b.kind != "heading" for b in clean.blocks):
        raise CorpusError(f"{path.name} has no text after cleaning")
    return clean
