"""The PDF fixtures (scripts/pdf_fixtures.py) are what they claim to be: checked with poppler and
qpdf against the truth the builder read from LaTeX."""

from __future__ import annotations

import json
import re
import subprocess
import unicodedata
from pathlib import Path

DOC_IDS = [
    "000_0ea6e26401eae5d1",
    "001_4139313f3243f7e4",
    "002_268bfb1f0d63e3bd",
    "003_d0102665b7b2c82a",
    "004_af3a6016a1d3b571",
]


def truth(folder: Path, variant: str) -> dict:
    return json.loads((folder / variant / "truth.json").read_text(encoding="utf-8"))


def squash(text: str) -> str:
    return re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", text))


def page_text(pdf: Path, page: int) -> str:
    cmd = ["pdftotext", "-q", "-f", str(page), "-l", str(page), "-enc", "UTF-8", str(pdf), "-"]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def test_mixed_has_the_five_papers_in_the_promised_styles(pdf_fixtures: Path) -> None:
    papers = truth(pdf_fixtures, "mixed")["papers"]
    assert sorted(papers) == DOC_IDS
    assert all((pdf_fixtures / "mixed" / f"{doc_id}.pdf").is_file() for doc_id in DOC_IDS)
    assert sum(p["columns"] == 2 for p in papers.values()) == 2
    assert sum(not p["to_unicode"] for p in papers.values()) == 2
    assert sum(p["page_labels"] for p in papers.values()) == 1
    assert len({p["first_printed_page"] for p in papers.values()}) == 5


def test_a_sentence_is_on_the_printed_page_the_truth_gives(pdf_fixtures: Path) -> None:
    paper = truth(pdf_fixtures, "mixed")["papers"]["000_0ea6e26401eae5d1"]
    assert paper["cjk_font"] == "noto" and paper["to_unicode"] and paper["columns"] == 1
    for i in range(1, paper["pages"] + 1):
        printed = paper["first_printed_page"] + i - 1
        on_page = [s for s in paper["sentences"] if s["kind"] != "footnote" and s["page"] == s["page_end"] == printed]
        assert on_page, f"no sentence on printed page {printed}"
        text = squash(page_text(pdf_fixtures / "mixed" / paper["file"], i))
        assert squash(on_page[0]["text"]) in text
        assert str(printed) in text  # the footer carries the printed number


def test_the_unmapped_cjk_paper_reads_as_garbage(pdf_fixtures: Path) -> None:
    source = truth(pdf_fixtures, "onecol-noto")["papers"]["004_af3a6016a1d3b571"]
    body = next(s for s in source["sentences"] if s["kind"] == "body" and s["index"] == s["index_end"])
    assert squash(body["text"]) in squash(page_text(pdf_fixtures / "onecol-noto" / source["file"], body["index"]))
    assert squash(body["text"]) not in squash(page_text(pdf_fixtures / "bad" / "no-unicode-map.pdf", body["index"]))


def test_the_book_has_300_pages_and_the_bad_files_are_bad(pdf_fixtures: Path) -> None:
    bad = pdf_fixtures / "bad"
    pages = subprocess.run(["qpdf", "--show-npages", str(bad / "book-300.pdf")], capture_output=True, text=True)
    assert int(pages.stdout) >= 300
    assert subprocess.run(["qpdf", "--requires-password", str(bad / "encrypted.pdf")]).returncode == 0
    assert not (bad / "not-a-pdf.pdf").read_bytes().startswith(b"%PDF")
    assert b"%%EOF" not in (bad / "truncated.pdf").read_bytes()[-1024:]
    assert page_text(bad / "images-only.pdf", 1).strip() == ""
