"""Reference-manager metadata at a researcher's library size: parse a .bib, a RIS and a CSL-JSON
file of N records (made here, Chinese and English), match them to N papers, and read a Zotero
library of N items; prints seconds and records/s per step (median of 3).

    .venv/bin/python bench/bench_bib.py [N]      (default 5000)
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rag import Paper, PaperKeys, export_references, match_records, read_bibliography, read_zotero

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def papers(n: int) -> list[Paper]:
    out = []
    for i in range(n):
        zh = i % 2 == 0
        out.append(
            Paper(
                doc_id=f"p{i:05d}",
                title=f"跨境电商发展研究第{i}篇：路径与对策" if zh else f"Neural retrieval study number {i}",
                doi=f"10.1234/bench.{i}" if i % 3 else None,
                source=f"p{i:05d}.pdf",
                sha256="",
                authors=("张三", "李四", "王五", "赵六") if zh else ("Smith, Jane", "Doe, John"),
                year=2000 + i % 25,
                journal="电子商务评论" if zh else "Journal of Benchmarks",
                volume=str(i % 40),
                issue=str(i % 12 + 1),
                pages=f"{i % 900 + 1}-{i % 900 + 9}",
                title_known=True,
            )
        )
    return out


def timed(fn, runs: int = 3) -> float:  # noqa: ANN001
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    library = papers(n)
    keys = [PaperKeys(p.source, p.doi, p.title) for p in library]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for fmt, suffix in (("bibtex", "bib"), ("ris", "ris"), ("csl-json", "json")):
            path = Path(tmp) / f"library.{suffix}"
            path.write_text(export_references(library, fmt), encoding="utf-8")
            records = read_bibliography(path).records
            assert len(records) == n, (fmt, len(records))
            rows.append((f"parse {fmt}", timed(lambda path=path: read_bibliography(path))))
            matched = match_records(records, keys)
            assert len(matched.by_paper) == n
        rows.append(("match records to papers", timed(lambda: match_records(records, keys))))
        from zotero_fixture import build_zotero

        items = [
            {
                "key": f"K{i:07d}",
                "type": "journalArticle",
                "fields": {"title": p.title, "date": f"{p.year}-00-00 {p.year}", "publicationTitle": p.journal},
                "creators": [("author", a.split(",")[0], a.split(",")[-1].strip()) for a in p.authors],
                "attachments": [{"key": f"A{i:07d}", "file": p.source, "pdf": None}],
            }
            for i, p in enumerate(library)
        ]
        data = Path(tmp) / "Zotero"
        build_zotero(data, items)
        rows.append(("read a Zotero library", timed(lambda: read_zotero(data))))
    print(f"{n:,} records")
    print(f"{'step':<26}{'seconds':>9}{'records/s':>12}")
    for name, seconds in rows:
        print(f"{name:<26}{seconds:>9.2f}{n / seconds:>12,.0f}")
    print(json.dumps({name: round(seconds, 3) for name, seconds in rows}))


if __name__ == "__main__":
    main()
