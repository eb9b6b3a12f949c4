"""PDF file -> pages of text in reading order, with printed page numbers and what the first
page says about the paper.

Text comes from pdfplumber (pdfminer.six: characters with positions, fonts and sizes); a page
whose text is not language (rag/legible.py: fonts without a Unicode map) is read again with
PDFium (pypdfium2); a page with no text at all is OCR'd when asked (rag/ocr.py), else reported.
Geometry (columns, running headers, footnotes, headings) is rag/layout.py; the title block is
rag/pdfmeta.py. Page numbers: the PDF's /PageLabels when it has them, else the number in the
running header/footer that keeps a constant offset from the page index, else the page index.
"""

from __future__ import annotations

import logging
import re
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import layout
from .errors import CorpusError
from .layout import Line, PageLayout, Word
from .legible import verdict
from .pdfmeta import first_page_meta
from .types import Page

logger = logging.getLogger(__name__)

# A page with fewer extracted characters than this, but an image on it, is a scanned page.
MIN_TEXT_CHARS = 20
# At least this share of the pages with a number in their header/footer must agree on the
# offset between printed number and page index.
MIN_OFFSET_AGREEMENT = 0.5

NOT_LANGUAGE = "text is not language"
NO_TEXT_LAYER = "no text layer (a scanned page)"
OCR_HINT = "index with --ocr (or RAG_OCR=1) to read it by OCR"

ProgressFn = Callable[[int, int], None]  # (pages done, pages in the file)


@dataclass(frozen=True, slots=True)
class Footnote:
    page: int | None  # printed page
    index: int  # PDF page index
    text: str


@dataclass(frozen=True, slots=True)
class PdfText:
    """What the reader made of one PDF: pages of text (paragraphs separated by blank lines,
    headings as '## …'), the footnotes apart, the first page's metadata and what went wrong."""

    pages: tuple[Page, ...]
    footnotes: tuple[Footnote, ...]
    meta: dict[str, object]  # title, authors, doi, journal, year (found in the PDF)
    sources: dict[str, str]  # field -> where it was found ("first page: largest type", ...)
    warnings: tuple[str, ...] = ()


@dataclass
class _Read:
    index: int
    width: float
    height: float
    words: list[Word]
    how: str  # "pdfplumber" | "pdfium" | "ocr"
    problem: str | None = None  # why the page has no usable text
    images: bool = False


EXTRACTORS = ("pdfplumber", "pdfium")


def read_pdf(
    path: Path,
    doc_id: str,
    *,
    ocr: bool = False,
    progress: ProgressFn | None = None,
    extractor: str = "pdfplumber",
) -> PdfText:
    """Read one PDF. Raises CorpusError (naming the file and what to do) when it is encrypted,
    damaged or yields no readable text; pages that cannot be read are skipped with a warning.
    `extractor`: which library reads the words first ("pdfplumber": every body sentence of the
    fixtures whole; "pdfium": 2-3x faster, a few sentences split; bench/bench_pdf.py); the other
    is the fallback for a page whose text is not language."""
    if extractor not in EXTRACTORS:
        raise CorpusError(f"Unknown PDF extractor {extractor!r}; use one of {', '.join(EXTRACTORS)}")
    pdf = _open_pdfium(path)
    try:
        labels = _page_labels(pdf)
        info_title = _info_title(pdf)
        reads = _extract(path, pdf, ocr=ocr, progress=progress, first=extractor)
    finally:
        pdf.close()
    warnings: list[str] = []
    usable = [r for r in reads if r.problem is None]
    for r in reads:
        if r.problem:
            warnings.append(f"{path.name} page {r.index}: {r.problem}")
    if not usable:
        problems = Counter(r.problem for r in reads)
        if len(problems) == 1:
            raise CorpusError(f"{path.name}: none of its {len(reads)} pages has readable text: {reads[0].problem}")
        first = next(r.problem for r in reads if r.problem)
        raise CorpusError(f"{path.name}: none of its {len(reads)} pages has readable text (page 1: {first})")
    rows = [layout.page_rows(r.words) for r in usable]
    running = layout.running_bands([layout.band_candidates(rw, r.height) for rw, r in zip(rows, usable, strict=True)])
    layouts = [layout.layout_page(r.index, rw, r.width, r.height, running) for rw, r in zip(rows, usable, strict=True)]
    numbers = _printed_numbers(layouts, labels, len(reads))
    body = layout.body_size([ln for p in layouts for ln in p.body])

    first = layouts[0]
    meta, sources, drop = first_page_meta(
        first.body, body, [ln for p in layouts for ln in p.top_band + p.bottom_band], info_title, path.stem
    )
    pages: list[Page] = []
    footnotes: list[Footnote] = []
    for p in layouts:
        lines = list(p.body)
        if p is first:
            lines = [ln for ln in lines if id(ln) not in drop]
        text_lines, notes = layout.split_footnotes(lines, body)
        if notes:
            footnotes.extend(
                Footnote(numbers.get(p.index), p.index, layout.join_lines(par.lines))
                for par in layout.paragraphs(notes, layout.body_size(notes))
            )
        pages.append(Page(doc_id, numbers.get(p.index), _page_text(text_lines, body), index=p.index, paragraphs=True))
    return PdfText(
        pages=tuple(pages),
        footnotes=tuple(footnotes),
        meta=meta,
        sources=sources,
        warnings=tuple(warnings),
    )


def _page_text(lines: Sequence[Line], body: float) -> str:
    out = []
    for par in layout.paragraphs(lines, body):
        if par.role == "heading":
            out.append("## " + layout.join_lines(par.lines))
        else:
            out.append("\n".join(ln.text for ln in par.lines))
    return "\n\n".join(out)


# ---------------------------------------------------------------- opening


def _open_pdfium(path: Path):  # type: ignore[no-untyped-def]
    try:
        import pypdfium2 as pdfium
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise CorpusError("Reading PDFs needs pypdfium2: pip install pypdfium2") from exc
    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        message = str(exc).lower()
        if "password" in message:
            raise CorpusError(
                f"{path.name} is encrypted with a password; remove the password (e.g. `qpdf --decrypt "
                f"--password=PASSWORD in.pdf out.pdf`) and index the decrypted copy"
            ) from exc
        raise CorpusError(
            f"{path.name} is not a readable PDF ({str(exc).rstrip('.')}); it may be damaged or a truncated "
            "download — download it again"
        ) from exc


def _page_labels(pdf) -> list[str]:  # type: ignore[no-untyped-def]
    try:
        labels = [pdf.get_page_label(i) for i in range(len(pdf))]
    except Exception:  # noqa: BLE001 - a damaged /PageLabels tree: fall back to the bands
        return []
    return labels if any(labels) else []


_JUNK_TITLE = re.compile(
    r"(^microsoft (word|powerpoint)\b|\.(docx?|pdf|tex|dvi|rtf|odt|indd|ps)$|^untitled|^title$|^\W*$)", re.I
)


def _info_title(pdf) -> str | None:  # type: ignore[no-untyped-def]
    try:
        title = str(pdf.get_metadata_dict().get("Title") or "").strip()
    except Exception:  # noqa: BLE001 - a damaged Info dictionary
        return None
    if len(title) < 4 or _JUNK_TITLE.search(title):
        return None
    return title


# ---------------------------------------------------------------- extraction


def _extract(path: Path, pdf, *, ocr: bool, progress: ProgressFn | None, first: str) -> list[_Read]:  # type: ignore[no-untyped-def]
    try:
        import pdfplumber
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise CorpusError("Reading PDFs needs pdfplumber: pip install pdfplumber") from exc
    reads: list[_Read] = []
    try:
        doc = pdfplumber.open(str(path))
    except Exception as exc:  # noqa: BLE001 - pdfminer raises many types on damaged files
        raise CorpusError(
            f"{path.name} is not a readable PDF ({type(exc).__name__}: {exc}); download it again"
        ) from exc
    with doc:
        total = len(doc.pages)
        for i, page in enumerate(doc.pages):
            try:
                read = _plumber_page(i + 1, page) if first == "pdfplumber" else _pdfium_page(pdf, i)
            except Exception as exc:  # noqa: BLE001 - one damaged page must not lose the others
                read = _Read(i + 1, float(page.width), float(page.height), [], first, f"unreadable ({exc})")
            if read.problem is None and read.words:
                problem = verdict(" ".join(w.text for w in read.words))
                if problem:
                    retry = _pdfium_page(pdf, i) if first == "pdfplumber" else _plumber_page(i + 1, page)
                    again = verdict(" ".join(w.text for w in retry.words)) if retry.words else "no text"
                    if again is None:
                        read = retry
                    elif ocr:
                        read = _ocr(pdf, read, f"text is not language ({problem}) and OCR found none")
                    else:
                        read = _Read(
                            read.index,
                            read.width,
                            read.height,
                            [],
                            "pdfplumber",
                            f"{NOT_LANGUAGE} ({problem}); fonts without a Unicode map? {OCR_HINT}",
                        )
            if read.problem is None and sum(len(w.text) for w in read.words) < MIN_TEXT_CHARS and read.images:
                if ocr:
                    read = _ocr(pdf, read, "no text found by OCR")
                else:
                    read = _Read(read.index, read.width, read.height, [], "pdfplumber", f"{NO_TEXT_LAYER}; {OCR_HINT}")
            reads.append(read)
            if progress:
                progress(i + 1, total)
    return reads


def _ocr(pdf, read: _Read, problem: str) -> _Read:  # type: ignore[no-untyped-def]
    from .ocr import ocr_page

    words = ocr_page(pdf, read.index - 1)
    return _Read(read.index, read.width, read.height, words, "ocr", None if words else problem)


def _plumber_page(index: int, page) -> _Read:  # type: ignore[no-untyped-def]
    raw = page.extract_words(
        x_tolerance=1.5, y_tolerance=2, keep_blank_chars=False, use_text_flow=False, extra_attrs=["size", "fontname"]
    )
    words = [
        Word(
            w["text"],
            float(w["x0"]),
            float(w["x1"]),
            float(w["top"]),
            float(w["bottom"]),
            float(w["size"]),
            Word.is_bold_font(str(w.get("fontname", ""))),
        )
        for w in raw
        if w.get("upright", True) and w["text"].strip()
    ]
    return _Read(index, float(page.width), float(page.height), words, "pdfplumber", images=bool(page.images))


def _pdfium_page(pdf, i: int) -> _Read:  # type: ignore[no-untyped-def]
    """Words from PDFium's text page: characters grouped into words by gaps and line breaks."""
    import pypdfium2.raw as pdfium_c

    page = pdf[i]
    width, height = page.get_size()
    textpage = page.get_textpage()
    n = textpage.count_chars()
    words: list[Word] = []
    cur: list[tuple[str, float, float, float, float, float, bool]] = []

    def flush() -> None:
        if cur:
            words.append(
                Word(
                    "".join(c[0] for c in cur),
                    min(c[1] for c in cur),
                    max(c[2] for c in cur),
                    min(c[3] for c in cur),
                    max(c[4] for c in cur),
                    statistics.median(c[5] for c in cur),
                    sum(c[6] for c in cur) * 2 > len(cur),
                )
            )
            cur.clear()

    for k in range(n):
        ch = textpage.get_text_range(k, 1)
        if not ch or ch.isspace():
            flush()
            continue
        left, bottom, right, top = textpage.get_charbox(k)
        size = float(pdfium_c.FPDFText_GetFontSize(textpage.raw, k)) or (top - bottom)
        bold = pdfium_c.FPDFText_GetFontWeight(textpage.raw, k) >= 600
        box = (ch, left, right, height - top, height - bottom, size, bold)
        if cur:
            prev = cur[-1]
            same_line = abs((prev[3] + prev[4]) / 2 - (box[3] + box[4]) / 2) < 0.5 * size
            if not same_line or left - prev[2] > 0.25 * size or abs(prev[5] - size) > 0.5:
                flush()
        cur.append(box)
    flush()
    images = any(obj.type == pdfium_c.FPDF_PAGEOBJ_IMAGE for obj in page.get_objects(max_depth=1))
    return _Read(i + 1, float(width), float(height), words, "pdfium", images=images)


# ---------------------------------------------------------------- page numbers


def _printed_numbers(layouts: Sequence[PageLayout], labels: list[str], total: int) -> dict[int, int]:
    """PDF page index -> printed page number."""
    if labels and all(lbl.isdigit() for lbl in labels if lbl):
        return {i + 1: int(lbl) for i, lbl in enumerate(labels) if lbl}
    offsets: Counter[int] = Counter()
    seen = 0
    for p in layouts:
        found = set(layout.page_numbers_in_bands(p))
        if found:
            seen += 1
            offsets.update({n - p.index for n in found if n > 0})
    if offsets:
        offset, agree = offsets.most_common(1)[0]
        if agree >= max(2, MIN_OFFSET_AGREEMENT * seen) or (len(layouts) == 1 and agree == 1):
            # Pages before the first numbered one (roman front matter) have no number to show.
            return {i: i + offset for i in range(1, total + 1) if i + offset >= 1}
    if labels:  # roman front matter then arabic: keep the arabic ones
        return {i + 1: int(lbl) for i, lbl in enumerate(labels) if lbl.isdigit()}
    return {i: i for i in range(1, total + 1)}
