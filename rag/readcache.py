"""What reading a PDF found, kept across builds, so that a build killed after reading two
thousand PDFs (seconds each; minutes with OCR) reads none of them again when it resumes, and a
rebuild after a chunking change reads no PDF at all.

    index/cache/pdf/<file sha256>-<extractor>[-ocr]-<reader>.json

`reader` fingerprints the code that turns a PDF into text (rag/pdf.py, rag/layout.py,
rag/pdfmeta.py, rag/ocr.py) and the versions of the PDF libraries: when either changes, no old
entry matches and every PDF is read again. Entries are written whole (a temporary file renamed
into place), so a kill leaves either the entry or nothing; an entry that cannot be parsed is
ignored (and replaced). Failing to write one is a warning, never a failed build. Nothing is
pickled."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from .types import Page

if TYPE_CHECKING:
    from .pdf import PdfText

logger = logging.getLogger(__name__)

READER_MODULES = ("pdf.py", "layout.py", "pdfmeta.py", "ocr.py")
READER_PACKAGES = ("pdfplumber", "pypdfium2", "pdfminer.six", "rapidocr-onnxruntime")


@lru_cache(maxsize=1)
def reader_fingerprint() -> str:
    """12 hex digits over the PDF reader's code and its libraries' versions."""
    from importlib.metadata import PackageNotFoundError, version

    h = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for name in READER_MODULES:
        path = here / name
        h.update(name.encode() + (path.read_bytes() if path.exists() else b""))
    for package in READER_PACKAGES:
        try:
            h.update(f"{package}=={version(package)}".encode())
        except PackageNotFoundError:
            h.update(f"{package} absent".encode())
    return h.hexdigest()[:12]


class PdfCache:
    """PdfText per (file content, extractor, OCR on/off) in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, sha256: str, extractor: str, ocr: bool) -> Path:
        return self.folder / f"{sha256}-{extractor}{'-ocr' if ocr else ''}-{reader_fingerprint()}.json"

    def get(self, sha256: str, extractor: str, ocr: bool, doc_id: str) -> PdfText | None:
        """The stored reading of that file, its pages under `doc_id`; None when there is none."""
        from .pdf import Footnote, PdfText

        path = self._path(sha256, extractor, ocr)
        try:
            row = json.loads(path.read_text(encoding="utf-8"))
            return PdfText(
                pages=tuple(replace(Page(**p), doc_id=doc_id) for p in row["pages"]),
                footnotes=tuple(Footnote(**f) for f in row["footnotes"]),
                meta=dict(row["meta"]),
                sources=dict(row["sources"]),
                warnings=tuple(row["warnings"]),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError) as exc:
            logger.warning("ignoring a damaged PDF cache entry %s (%s); the PDF is read again", path.name, exc)
            return None

    def put(self, sha256: str, extractor: str, ocr: bool, text: PdfText) -> None:
        row = {
            "pages": [
                {"doc_id": p.doc_id, "number": p.number, "text": p.text, "index": p.index, "paragraphs": p.paragraphs}
                for p in text.pages
            ],
            "footnotes": [{"page": f.page, "index": f.index, "text": f.text} for f in text.footnotes],
            "meta": text.meta,
            "sources": text.sources,
            "warnings": list(text.warnings),
        }
        path = self._path(sha256, extractor, ocr)
        tmp = path.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{path.name}")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(row, fh, ensure_ascii=False)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except (OSError, TypeError, ValueError) as exc:
            tmp.unlink(missing_ok=True)
            logger.warning(
                "could not keep the reading of a PDF in %s (%s); it will be read again next time", self.folder, exc
            )
