"""Pages without a text layer (scans) -> words, by offline OCR: RapidOCR (rapidocr-onnxruntime,
PP-OCRv4 Chinese/English detection and recognition models carried inside its wheel; no
download). Used only when the user asks for it (`rag index --ocr`, RAG_OCR=1): it takes
seconds per page on 2 cores (bench/bench_pdf.py prints pages/s)."""

from __future__ import annotations

import logging
import statistics
from dataclasses import replace
from functools import lru_cache
from typing import Any

from .errors import CorpusError
from .layout import Word

logger = logging.getLogger(__name__)

# Pages are rendered at this resolution for OCR: 150 dpi reads 10 pt type reliably; more is slower.
OCR_DPI = 150
# An OCR box is the text line's height plus padding; the type inside is about this share of it.
BOX_TO_FONT = 0.85
# Lines recognised with less confidence than this are dropped (noise, stamps, figure marks).
MIN_CONFIDENCE = 0.5
# OCR line heights within this share of the page's typical height are the body size.
SAME_SIZE = 0.2


@lru_cache(maxsize=1)
def _engine() -> Any:
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:
        raise CorpusError(
            "OCR needs rapidocr-onnxruntime: pip install rapidocr-onnxruntime==1.4.4 (it carries its models)"
        ) from exc
    return RapidOCR()


def ocr_page(pdf: Any, i: int) -> list[Word]:
    """The text lines of page `i` (0-based) of an open pypdfium2 document, as Words in PDF points
    (origin top left), one Word per recognised line."""
    page = pdf[i]
    scale = OCR_DPI / 72
    image = page.render(scale=scale).to_numpy()
    result, _ = _engine()(image)
    words: list[Word] = []
    for box, text, confidence in result or ():
        if float(confidence) < MIN_CONFIDENCE or not str(text).strip():
            continue
        xs = [p[0] / scale for p in box]
        ys = [p[1] / scale for p in box]
        height = max(ys) - min(ys)
        words.append(Word(str(text), min(xs), max(xs), min(ys), max(ys), BOX_TO_FONT * height))
    logger.debug("OCR page %d: %d lines", i + 1, len(words))
    return _snap_sizes(words)


def _snap_sizes(words: list[Word]) -> list[Word]:
    """Box heights vary with the glyphs in a line (brackets, descenders): lines within
    SAME_SIZE of the page's typical height get that height, so that only real differences
    (a title, a heading) read as larger type."""
    if not words:
        return words
    typical = statistics.median(w.size for w in words)
    return [replace(w, size=typical) if abs(w.size - typical) <= SAME_SIZE * typical else w for w in words]
