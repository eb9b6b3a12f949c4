"""Files -> cleaned papers: read txt/md/pdf, strip running headers and boilerplate, rejoin
hard-wrapped lines, mark headings, abstracts, references and printed pages."""

from __future__ import annotations

import hashlib
import logging
import re
import statistics
import tomllib
import unicodedata
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CorpusError
from .types import Block, CleanPaper, Page, Paper

logger = logging.getLogger(__name__)

SUPPORTED = (".txt", ".md", ".pdf")

_URL_LINE = re.compile(r"^(?:https?://|www\.)\S+$", re.I)
# "DOI: 10.12677/ecl.2025.1461720 135 电子商务评论": the running header of Hans journals.
_DOI_HEADER = re.compile(r"^DOI:\s*(10\.\d{4,9}/\S+)\s+(\d{1,5})\s+\S.*$", re.I)
_DOI_ANY = re.compile(r"(?:doi\.org/|DOI:\s*)(10\.\d{4,9}/[^\s,;]+)", re.I)
_LICENCE = re.compile(
    r"(copyright\s*©|©\s*\d{4}|licensed under|creativecommons\.org|creative commons|open access)", re.I
)
_NUM_HEADING = re.compile(r"^(\d{1,2}(?:\.\d{1,2})*)\.\s*(\S.*)$")
_CN_HEADING = re.compile(r"^(?:[(（][一二三四五六七八九十]{1,3}[)）]|[一二三四五六七八九十]{1,3}、)\s*(\S.*)$")
_MD_HEADING = re.compile(r"^#{1,6}\s+(\S.*)$")
_SPECIAL = {
    "摘要": "abstract",
    "abstract": "abstract_en",
    "keywords": "keywords",
    "keyword": "keywords",
    "关键词": "keywords",
    "参考文献": "references",
    "references": "references",
}
_SENTENCE_END = tuple('。！？!?.；;”"」)）]')
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_END = re.compile(r"[A-Za-z0-9%,.;:)\]]$")
_LATIN_START = re.compile(r"^[A-Za-z0-9(\[]")


@dataclass
class _Event:
    line: str | None = None
    page: int | None = None  # a page marker: the text after it is on this printed page


# ---------------------------------------------------------------- reading


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM) or GB18030/GBK; anything else raises CorpusError."""
    if not data.strip():
        raise CorpusError(f"{name} is empty")
    if b"\x00" in data[:4096]:
        raise CorpusError(f"{name} looks binary (NUL bytes), not text")
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
    """Raw pages of one file (document id: the file stem unless given). Raises CorpusError when
    the file cannot be used."""
    doc_id = doc_id or path.stem
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return _read_pdf(path, doc_id)
    if suffix not in SUPPORTED:
        raise CorpusError(f"{path.name}: unsupported file type {suffix!r}; use {', '.join(SUPPORTED)}")
    return [Page(doc_id=doc_id, number=None, text=decode_text(path.read_bytes(), path.name))]


def _read_pdf(path: Path, doc_id: str) -> list[Page]:
    try:
        from pypdf import PdfReader
    except ImportError as exc:  # pragma: no cover - pypdf is a core dependency
        raise CorpusError("Reading PDFs needs pypdf: pip install pypdf") from exc
    try:
        reader = PdfReader(str(path))
        pages = [Page(doc_id, i + 1, page.extract_text() or "") for i, page in enumerate(reader.pages)]
    except Exception as exc:  # pypdf raises many types on corrupt input
        raise CorpusError(f"{path.name} is not a readable PDF ({type(exc).__name__}: {exc})") from exc
    if not any(p.text.strip() for p in pages):
        raise CorpusError(f"{path.name} has no text layer (a scanned PDF?); OCR it first")
    return pages


# ---------------------------------------------------------------- catalog


def load_catalog(corpus_dir: Path) -> dict[str, dict[str, object]]:
    """corpus/catalog.toml: [papers."<doc_id>"] title/authors/year/journal/doi written by users."""
    path = corpus_dir / "catalog.toml"
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path} is not valid TOML ({exc}); fix or remove it") from exc
    papers = data.get("papers", {})
    return {str(k): dict(v) for k, v in papers.items() if isinstance(v, dict)}


# ---------------------------------------------------------------- cleaning


def clean_pages(pages: list[Page], *, source: str, sha256: str, catalog: dict[str, object] | None = None) -> CleanPaper:
    """Pages of one file -> one cleaned paper with blocks and printed pages."""
    doc_id = pages[0].doc_id
    events, outline = _line_events(pages)
    raw = "\n".join(p.text for p in pages)
    builder = _Builder(vocabulary=_latin_vocabulary(raw), widths=_typical_widths(events))
    for event in events:
        builder.feed(event)
    text, blocks = builder.finish()
    paper = _paper_meta(doc_id, source, sha256, raw, outline, text, blocks, catalog or {})
    return CleanPaper(paper=paper, text=text, blocks=tuple(blocks))


def _line_events(pages: list[Page]) -> tuple[list[_Event], list[str]]:
    lines_per_page = [[ln.replace("\u3000", " ").strip() for ln in p.text.splitlines()] for p in pages]
    outline = _pop_outline(lines_per_page[-1], pages[-1].text)
    counts = Counter(ln for lines in lines_per_page for ln in lines if ln)
    printed = any(_DOI_HEADER.match(ln) for lines in lines_per_page for ln in lines)
    events: list[_Event] = []
    for page, lines in zip(pages, lines_per_page, strict=True):
        if page.number is not None and not printed:
            events.append(_Event(page=page.number))
        for ln in lines:
            if not ln:
                continue
            header = _DOI_HEADER.match(ln)
            if header:
                events.append(_Event(page=int(header.group(2))))
            elif not _is_boilerplate(ln, counts[ln]):
                events.append(_Event(line=ln))
    return events, outline


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


def _heading(line: str) -> tuple[str, str | None] | None:
    """(heading text, special kind or None) when the line is a heading."""
    compact = re.sub(r"\s+", "", line)
    special = _SPECIAL.get(compact.lower().rstrip(":："))
    if special:
        return (compact if _CJK.search(compact) else line.strip().rstrip(":："), special)
    if len(line) > 48 or line.endswith(("。", "，", "；", "、", ",", ";", "：", ":")):
        return None
    md = _MD_HEADING.match(line)
    if md:
        return md.group(1).strip(), None
    num = _NUM_HEADING.match(line)
    if num and re.search(r"[A-Za-z\u3400-\u9fff]", num.group(2)) and not num.group(2).startswith(("%", "万", "亿")):
        return re.sub(r"\s+", " ", line).strip(), None
    if _CN_HEADING.match(line):
        return re.sub(r"\s+", " ", line).strip(), None
    return None


def _latin_vocabulary(raw: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z]+", raw)}


def _typical_widths(events: list[_Event]) -> dict[bool, float]:
    """Median line length for CJK lines and for Latin lines: shorter lines end paragraphs."""
    widths: dict[bool, float] = {}
    for cjk in (True, False):
        lens = [len(e.line) for e in events if e.line and bool(_CJK.search(e.line)) == cjk and len(e.line) > 20]
        widths[cjk] = statistics.median(lens) if lens else 60.0
    return widths


@dataclass
class _Builder:
    """Joins lines into paragraphs and records blocks, sections and page marks."""

    vocabulary: set[str]
    widths: dict[bool, float]
    parts: list[str] = field(default_factory=list)
    pos: int = 0
    para: str = ""
    para_kind: str = "body"
    kind: str = "body"
    section: str | None = None
    marks: list[tuple[int, int]] = field(default_factory=list)  # (offset, printed page)
    blocks: list[tuple[int, int, str, str | None]] = field(default_factory=list)

    def feed(self, event: _Event) -> None:
        if event.page is not None:
            offset = self.pos + (2 if self.parts else 0) + len(self.para)
            self.marks.append((offset, event.page))
            return
        line = event.line or ""
        head = _heading(line)
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
        if left.endswith("-") and re.search(r"[A-Za-z]-$", left) and re.match(r"^[a-z]", right):
            head = re.search(r"([A-Za-z]+)-$", left)
            tail = re.match(r"^([a-z]+)", right)
            assert head and tail  # guaranteed by the two patterns above
            if (head.group(1) + tail.group(1)).lower() in self.vocabulary:
                return left[:-1] + right  # "devel-" + "opment": a line-break hyphen
            return left + right  # "cross-" + "border": a real hyphen, keep it
        if _LATIN_END.search(left) and _LATIN_START.match(right):
            return left + " " + right
        return left + right

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
            Block(start, end, kind, section, *page_span(ranges, start, end))
            for start, end, kind, section in self.blocks
        ]
        return text, blocks


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
    """Rebuild (offset, first, last) page ranges from the blocks (for chunk spans)."""
    return [(b.start, b.page, b.page_end) for b in clean.blocks if b.page is not None]


def _paper_meta(
    doc_id: str,
    source: str,
    sha256: str,
    raw: str,
    outline: list[str],
    text: str,
    blocks: list[Block],
    catalog: dict[str, object],
) -> Paper:
    dois = Counter(m.rstrip(".") for m in _DOI_ANY.findall(raw))
    doi = str(catalog.get("doi") or (dois.most_common(1)[0][0] if dois else "")) or None
    title = str(catalog.get("title") or "")
    if not title and outline and _heading(outline[0]) is None:
        title = outline[0]
    languages = sorted({"zh" if _CJK.search(text[b.start : b.end]) else "en" for b in blocks if b.kind != "heading"})
    authors = catalog.get("authors") or ()
    year = catalog.get("year")
    return Paper(
        doc_id=doc_id,
        title=title or doc_id,
        doi=doi,
        source=source,
        sha256=sha256,
        languages=tuple(languages),
        authors=tuple(str(a) for a in authors) if isinstance(authors, list | tuple) else (str(authors),),
        year=int(year) if isinstance(year, int | str) and str(year).isdigit() else None,
        journal=str(catalog["journal"]) if catalog.get("journal") else None,
        title_known=bool(title),
    )


# ---------------------------------------------------------------- corpus


def corpus_files(corpus_dir: Path) -> list[Path]:
    if not corpus_dir.is_dir():
        raise CorpusError(f"Corpus folder {corpus_dir} does not exist; create it and put .txt/.md/.pdf papers in it.")
    return sorted(
        p for p in corpus_dir.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED and p.name != "README.md"
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
    path: Path, catalog: dict[str, dict[str, object]] | None = None, *, doc_id: str | None = None
) -> CleanPaper:
    """One file -> cleaned paper, under `doc_id` (see document_ids; the file stem unless given).
    Its catalog entry is the one under that id. Raises CorpusError when the file cannot be used."""
    doc_id = doc_id or path.stem
    pages = read_pages(path, doc_id)
    clean = clean_pages(pages, source=path.name, sha256=file_sha256(path), catalog=(catalog or {}).get(doc_id))
    if not any(b.kind != "heading" for b in clean.blocks):
        raise CorpusError(f"{path.name} has no text after cleaning")
    return clean
