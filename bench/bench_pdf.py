"""Pages per second of PDF reading on this machine: the layout-aware reader (`rag.read_paper`:
pdfplumber + columns, bands, footnotes, headings, metadata) against PDFium's plain text in the
same run (the baseline: the fastest extractor here, with no layout), and of OCR on scanned pages.

    python bench/bench_pdf.py build/pdf-fixtures/mixed            # the five papers
    python bench/bench_pdf.py build/pdf-fixtures/bad/book-300.pdf # a 300-page book
    python bench/bench_pdf.py build/pdf-fixtures/scanned --ocr    # OCR pages/s

Each file is read `--repeat` times; medians are printed. The machines are shared: compare the
ratio, not the seconds, between runs."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import rag


def _pages(path: Path) -> int:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        return len(pdf)
    finally:
        pdf.close()


def _plain_text(path: Path) -> None:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        for page in pdf:
            page.get_textpage().get_text_range()
    finally:
        pdf.close()


def _time(fn, repeat: int) -> float:  # noqa: ANN001
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", help="PDF files or folders of them")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ocr", action="store_true", help="OCR pages without a text layer (scans)")
    parser.add_argument("--extractors", default="pdfplumber,pdfium", help="comma-separated: pdfplumber,pdfium")
    args = parser.parse_args(argv)
    files = sorted(p for arg in args.paths for p in ([Path(arg)] if Path(arg).is_file() else Path(arg).glob("*.pdf")))
    if not files:
        print("no PDF files given", file=sys.stderr)
        return 2
    rag.read_paper(files[0], ocr=args.ocr)  # imports and OCR models loaded before timing
    pages = sum(_pages(f) for f in files)
    print(f"{len(files)} files, {pages} pages, median of {args.repeat} runs each")
    base = sum(_time(lambda f=f: _plain_text(f), args.repeat) for f in files)
    for extractor in args.extractors.split(","):
        took = sum(
            _time(lambda f=f, e=extractor: rag.read_paper(f, ocr=args.ocr, pdf_extractor=e), args.repeat) for f in files
        )
        label = f"layout reader, {extractor}" + (" + OCR" if args.ocr else "")
        print(f"{label:<32} {pages / took:8.1f} pages/s  ({took:.2f} s, {took / base:.1f}x plain text)")
    print(f"{'PDFium plain text (baseline)':<32} {pages / base:8.1f} pages/s  ({base:.2f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
