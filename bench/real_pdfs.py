"""Sweep the PDF reader over real PDFs nobody here wrote: Debian's documentation packages (the
Chinese TeX manuals of texlive-lang-chinese / texlive-lang-cjk, and English manuals and papers from
pdfTeX, LuaTeX, XeTeX, dvipdfmx, Ghostscript, Acrobat Distiller, Quartz, ConTeXt, PowerPoint).

    python bench/real_pdfs.py --fetch              # apt-get download the packages, copy the PDFs
    python bench/real_pdfs.py                      # read every build/real-pdfs/*.pdf, print the table
    python bench/real_pdfs.py some/folder --jobs 1 --timeout 300

Each file is read by `rag.read_paper` in a child process with a time limit, so a hang or a crash
costs one row, not the sweep. A row: pages, seconds, pages/s, outcome (ok / skipped: the
CorpusError / crash: the exception / timeout), title, authors, languages, the share of the text
whose 2,000-character windows `rag.language_problem` judges not language (mojibake), chunks, and
where each metadata field came from. Titles that look like junk (the file stem, a page number,
a date, "Contents", a running header...) are flagged for a person to judge. The table goes to
stdout and to <folder>/report.md, the details (tracebacks, samples) to <folder>/report.json.
Seconds are wall time on a shared machine; with --jobs 2 two files share the two cores."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

DEFAULT_FOLDER = Path("build/real-pdfs")
MOJIBAKE_WINDOW = 2000  # characters judged at a time by rag.language_problem
BASE_TIMEOUT = 120.0  # seconds per file ...
TIMEOUT_PER_PAGE = 0.5  # ... plus this much per page, so a 400-page book is not cut short

# Debian packages (bookworm names) and the PDFs taken from each, as paths inside the package.
# A "*" takes every PDF under that folder except figures and sample graphics.
DOC = "usr/share/doc/texlive-doc/"
PACKAGES: dict[str, list[str]] = {
    "texlive-lang-chinese": [DOC + "*", DOC + "latex/texproposal/figures/pubfig0.pdf"],  # + PowerPoint
    "texlive-lang-cjk": [DOC + "*"],
    "texlive-latex-base-doc": [
        DOC + "latex/hyperref/paper.pdf",  # a 1990s conference paper, pdfeTeX
        DOC + "latex/hyperref/slides.pdf",  # slides
        DOC + "latex/hyperref/hyperref.pdf",  # 516 pages, LuaTeX
        DOC + "latex/hyperref/hyperref-linktarget.pdf",  # luahbtex
        DOC + "latex/amscls/amsclass.pdf",  # Acrobat Distiller Server
        DOC + "latex/pspicture/pspicture.pdf",  # GNU Ghostscript 7.05
        DOC + "latex/natbib/natbib.pdf",
        DOC + "latex/base/ltnews11.pdf",  # one page
        DOC + "latex/amsmath/subeqn.pdf",  # two pages
        DOC + "latex/base/clsguide.pdf",
        DOC + "latex/base/lamport-manual.pdf",
        DOC + "bibtex/babelbib/tugboat-babelbib.pdf",  # a TUGboat article
    ],
    "texlive-base": [
        DOC + "dvipdfmx/tug2005.pdf",  # Mac OS X Quartz
        DOC + "dvipdfmx/tug2003-slides.pdf",  # dvipdfmx 2003
        DOC + "dvipdfmx/dvipdfmx.pdf",  # XeTeX
        DOC + "support/makeindex/makeindex.pdf",  # dvips + Acrobat Distiller 7
        DOC + "pdftex/samplepdftex/pic.pdf",  # Acrobat Distiller 3, 1996
        DOC + "pdftex/manual/pdftex-a.pdf",  # ConTeXt
        DOC + "luatex/base/luatex.pdf",  # 324 pages, ConTeXt
        DOC + "generic/hyph-utf8/hyph-utf8.pdf",
    ],
    "gnuplot-doc": ["usr/share/doc/gnuplot/gnuplot.pdf"],  # 311 pages
    "octave-doc": ["usr/share/doc/octave/refcard-a4.pdf", "usr/share/doc/octave/liboctave.pdf"],
    "r-doc-pdf": ["usr/share/R/doc/manual/R-intro.pdf", "usr/share/R/doc/manual/R-FAQ.pdf"],
    "libtasn1-doc": ["usr/share/doc/libtasn1-doc/libtasn1.pdf"],  # Texinfo
    "shared-mime-info": ["usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf"],  # DocBook
}
# Under a "*": pictures, fonts samples and one-glyph files are not documents to index.
SKIP_UNDER_STAR = re.compile(r"/(figures?|src|images?)/|fudan-|/point\.pdf$|metrics\.pdf$|/nanicolle/[A-Z]")

JUNK_TITLES = re.compile(
    r"^(contents|table of contents|目录|目\s*录|index|abstract|摘要|references|preface|前言|chapter \d+|第.{1,3}章)$"
    r"|^[\divxlc.\s-]+$"  # a page number, "iii", "1.2"
    r"|^\d{4}[/.-]\d{1,2}([/.-]\d{1,2})?\b"  # a date
    r"|^(v|version\s*)\d",  # a version line
    re.IGNORECASE,
)


def fetch(folder: Path) -> int:
    """apt-get download the packages into <folder>/debs, unpack them, copy the chosen PDFs to
    <folder>/ under their own names (the parent folder's name first when two names collide)."""
    debs, tree = folder / "debs", folder / "debs" / "tree"
    debs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *PACKAGES], cwd=debs, check=True)
    taken: dict[str, Path] = {}
    for package, wanted in PACKAGES.items():
        deb = next(debs.glob(f"{package}_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], check=True)
        listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
        inside = [line.split()[-1].removeprefix("./") for line in listing.splitlines() if line.endswith(".pdf")]
        for pattern in wanted:
            if pattern.endswith("*"):
                hits = [p for p in inside if p.startswith(pattern[:-1]) and not SKIP_UNDER_STAR.search(p)]
            else:
                hits = [p for p in inside if p == pattern]
            if not hits:
                print(f"warning: {package} has no {pattern}", file=sys.stderr)
            for path in hits:
                source = tree / path
                name = source.name if source.name not in taken else f"{source.parent.name}-{source.name}"
                taken[name] = source
    for name, source in taken.items():
        shutil.copyfile(source, folder / name)
    print(f"{len(taken)} PDFs in {folder}/ from {len(PACKAGES)} packages")
    return 0


def _pages(path: Path) -> int:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        return len(pdf)
    finally:
        pdf.close()


def _mojibake(text: str) -> tuple[float, str, str]:
    """Share of the text in windows judged not language; the first such verdict and a sample."""
    from rag import language_problem as verdict

    bad, first, sample = 0, "", ""
    for start in range(0, len(text), MOJIBAKE_WINDOW):
        window = text[start : start + MOJIBAKE_WINDOW]
        why = verdict(window)
        if why:
            bad += len(window)
            if not first:
                first, sample = why, " ".join(window.split())[:160]
    return (bad / len(text) if text else 0.0), first, sample


def read_one(path: Path) -> dict[str, object]:
    """Read one file in this process; everything a row needs, as JSON-ready values."""
    import logging

    import rag

    warnings: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            warnings.append(record.getMessage())

    logging.getLogger("rag").addHandler(Keep(logging.WARNING))
    row: dict[str, object] = {"file": path.name, "pages": _pages(path)}
    started = time.perf_counter()
    try:
        clean = rag.read_paper(path)
    except rag.CorpusError as err:
        row.update(outcome="skipped", error=str(err))
    except Exception as err:  # noqa: BLE001 - a crash is what this sweep looks for
        row.update(outcome="crash", error=f"{type(err).__name__}: {err}", traceback=traceback.format_exc())
    else:
        paper = clean.paper
        share, why, sample = _mojibake(clean.text)
        row.update(
            outcome="ok",
            title=paper.title,
            title_known=paper.title_known,
            authors=list(paper.authors),
            languages=list(paper.languages),
            year=paper.year,
            mojibake=share,
            mojibake_why=why,
            mojibake_sample=sample,
            chars=len(clean.text),
            chunks=len(rag.chunk_paper(clean)),
            sources=[f"{field}: {where}" for field, where in paper.sources],
        )
    row["seconds"] = time.perf_counter() - started
    row["warnings"] = warnings
    return row


def _in_child(path: Path) -> dict[str, object]:
    timeout = BASE_TIMEOUT + TIMEOUT_PER_PAGE * _pages(path)
    command = [sys.executable, __file__, "--one", str(path)]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {
            "file": path.name,
            "pages": _pages(path),
            "outcome": "timeout",
            "seconds": timeout,
            "error": f"no result after {timeout:.0f} s",
        }
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:  # the child died: a segfault, out of memory, an exit
        return {
            "file": path.name,
            "pages": _pages(path),
            "outcome": "crash",
            "seconds": time.perf_counter() - started,
            "error": f"child exited {done.returncode}",
            "traceback": done.stderr[-3000:],
        }
    return json.loads(lines[-1])


def junk_title(row: dict[str, object], stem: str) -> str | None:
    """Why the title looks like junk, or None. A person still judges the rest by eye."""
    title = str(row.get("title") or "").strip()
    if not title:
        return "empty"
    if not row.get("title_known") or title == stem:
        return "file stem"
    if JUNK_TITLES.search(title):
        return "page number, date, version or a heading"
    if len(title) > 200:
        return "over 200 characters"
    return None


def _cell(value: object, width: int = 60) -> str:
    text = " ".join(str(value).split()).replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"


def table(rows: list[dict[str, object]]) -> str:
    head = "| file | pages | s | pages/s | outcome | title | authors | lang | mojibake | chunks | sources |"
    lines = [head, "|---" * (head.count("|") - 1) + "|"]
    for r in rows:
        pages, seconds = int(r["pages"]), float(r["seconds"])
        outcome = r["outcome"] if r["outcome"] == "ok" else f"{r['outcome']}: {r.get('error', '')}"
        lines.append(
            f"| {r['file']} | {pages} | {seconds:.1f} | {pages / seconds if seconds else 0:.1f} | {_cell(outcome, 70)} "
            f"| {_cell(r.get('title', ''))} | {_cell('; '.join(r.get('authors', [])), 40)} "
            f"| {','.join(r.get('languages', []))} | {float(r.get('mojibake', 0)):.0%} | {r.get('chunks', '')} "
            f"| {_cell('; '.join(r.get('sources', [])), 80)} |"
        )
    return "\n".join(lines)


def totals(rows: list[dict[str, object]]) -> str:
    def files(pred) -> list[str]:  # noqa: ANN001
        return [str(r["file"]) for r in rows if pred(r)]

    ok = files(lambda r: r["outcome"] == "ok")
    skipped = files(lambda r: r["outcome"] == "skipped")
    crashed = files(lambda r: r["outcome"] in ("crash", "timeout"))
    garbled = files(lambda r: float(r.get("mojibake", 0)) > 0)
    junk = [
        f"{r['file']} ({why}: {r.get('title', '')!r})"
        for r in rows
        if r["outcome"] == "ok" and (why := junk_title(r, Path(str(r["file"])).stem))
    ]
    pages = sum(int(r["pages"]) for r in rows if r["outcome"] == "ok")
    seconds = sum(float(r["seconds"]) for r in rows if r["outcome"] == "ok")
    return "\n".join(
        [
            f"files: {len(rows)}; ok {len(ok)}, skipped with a clear error {len(skipped)}, "
            f"crashed or timed out {len(crashed)} (bugs), with mojibake {len(garbled)}, "
            f"junk title (flagged) {len(junk)}",
            f"read {pages} pages in {seconds:.0f} s: {pages / seconds if seconds else 0:.1f} pages/s overall",
            "crashed: " + (", ".join(crashed) or "none"),
            "skipped: " + (", ".join(skipped) or "none"),
            "mojibake: " + (", ".join(garbled) or "none"),
            "junk titles (flagged; judge the rest by eye): " + ("; ".join(junk) or "none"),
        ]
    )


def sweep(folder: Path, jobs: int) -> int:
    files = sorted(folder.glob("*.pdf"))
    if not files:
        print(f"error: no PDFs in {folder}/. Fetch them with `python bench/real_pdfs.py --fetch`.", file=sys.stderr)
        return 2
    with ThreadPoolExecutor(jobs) as pool:
        rows = []
        for row in pool.map(_in_child, files):
            rows.append(row)
            print(f"{row['file']}: {row['outcome']} in {float(row['seconds']):.1f} s", file=sys.stderr, flush=True)
    report = table(rows) + "\n\n" + totals(rows) + "\n"
    print(report)
    (folder / "report.md").write_text("# Real PDFs through rag.read_paper\n\n" + report, encoding="utf-8")
    (folder / "report.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--fetch", action="store_true", help="download the Debian packages and copy their PDFs")
    parser.add_argument("--jobs", type=int, default=2, help="files read at once (each in its own process)")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)  # the child: one file, one JSON line
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(read_one(args.one), ensure_ascii=False))
        return 0
    if args.fetch:
        return fetch(args.folder)
    return sweep(args.folder, args.jobs)


if __name__ == "__main__":
    raise SystemExit(main())
