"""Metadata from reference-manager files beside the papers, through a real build: matched by
DOI, by title and by file name, catalog.toml above them, the report saying who got what, a CNKI
export (.txt) never read as a paper, and a changed record re-described without re-embedding."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import rag

ROOT = Path(__file__).resolve().parent.parent
DOI_001 = "10.12677/ecl.2025.1461720"  # printed in paper 001

BIB = """@article{guo2025,
  title = {跨境电商综合试验区高质量发展路径研究},
  author = {郭冉 and 李明},
  journal = {电子商务评论},
  year = {2025},
  volume = {14},
  number = {6},
  pages = {1523--1530},
  doi = {https://doi.org/10.12677/ECL.2025.1461720}
}

@article{paper003,
  title = {数字贸易背景下跨境电商物流的困境与对策},
  author = {Wang, Lei and 张华},
  journal = {电子商务评论},
  year = {2025},
  file = {Full Text:files/7/003_d0102665b7b2c82a.txt:text/plain}
}
"""

# A CNKI RefWorks export saved as .txt: a bibliography, not a paper; its record matches nothing.
REFWORKS = """RT Journal Article
SR 1
A1 赵六;钱七;
T1 农村电商直播带货的消费者信任机制
JF 商业经济研究
YR 2024
IS 3
SP 45
OP 52
"""


def _corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("001_4139313f3243f7e4.txt", "003_d0102665b7b2c82a.txt"):
        shutil.copy(ROOT / "corpus" / name, corpus / name)
    (corpus / "library.bib").write_text(BIB, encoding="utf-8")
    (corpus / "CNKI-export.txt").write_text(REFWORKS, encoding="gbk")
    return corpus


def _papers(settings: rag.Settings) -> dict[str, rag.Paper]:
    return {p.doc_id: p for p in rag.load(settings).papers}


@pytest.mark.slow
def test_records_beside_the_papers_give_their_metadata_with_catalog_on_top(
    tmp_path: Path, settings: rag.Settings
) -> None:
    corpus = _corpus(tmp_path)
    built = settings.with_(corpus_dir=corpus, index_dir=tmp_path / "index")
    report = rag.build_index(built, progress=False)
    assert sorted(report.added) == ["001_4139313f3243f7e4.txt", "003_d0102665b7b2c82a.txt"]  # not the export
    assert "001_4139313f3243f7e4.txt <- library.bib:1 (by DOI)" in report.metadata
    assert "003_d0102665b7b2c82a.txt <- library.bib:12 (by file name)" in report.metadata
    assert any("CNKI-export.txt:1" in line and "matches no paper" in line for line in report.metadata)

    papers = _papers(built)
    p1, p3 = papers["001_4139313f3243f7e4"], papers["003_d0102665b7b2c82a"]
    assert p1.title == "跨境电商综合试验区高质量发展路径研究" and p1.title_known
    assert p1.authors == ("郭冉", "李明") and p1.year == 2025 and p1.doi == DOI_001
    assert (p1.volume, p1.issue, p1.pages) == ("14", "6", "1523-1530")
    assert dict(p1.sources)["title"] == "library.bib:1 (by DOI)"
    assert p3.authors == ("Wang, Lei", "张华")
    # The export carries it: GB/T 7714-2025 with the record's fields.
    assert rag.reference(p1) == (
        f"郭冉，李明. 跨境电商综合试验区高质量发展路径研究[J]. 电子商务评论，2025，14（6）：1523-1530. DOI:{DOI_001}."
    )

    # catalog.toml outranks the record; editing it re-describes the paper.
    rag.save_catalog_entry(corpus, "003_d0102665b7b2c82a", {"title": "用户改正的题名"})
    report = rag.build_index(built, progress=False)
    assert report.updated == ("003_d0102665b7b2c82a.txt",) and report.embedded_chunks == 0  # its vectors stay
    p3 = _papers(built)["003_d0102665b7b2c82a"]
    assert p3.title == "用户改正的题名" and dict(p3.sources)["title"] == "catalog.toml"
    assert p3.authors == ("Wang, Lei", "张华")  # the rest still from the record

    # A record edited in the reference manager: the paper follows, nothing is embedded again.
    (corpus / "library.bib").write_text(BIB.replace("{2025}", "{2024}", 1), encoding="utf-8")
    report = rag.build_index(built, progress=False)
    assert report.embedded_chunks == 0
    assert _papers(built)["001_4139313f3243f7e4"].year == 2024

    # The bibliography removed: the record's fields go with it, the paper's own come back.
    (corpus / "library.bib").unlink()
    rag.build_index(built, progress=False)
    p1 = _papers(built)["001_4139313f3243f7e4"]
    assert p1.title != "跨境电商综合试验区高质量发展路径研究" and p1.authors != ("郭冉", "李明")
    assert "library.bib" not in str(p1.sources)

    # Unchanged folder: nothing changes, ever.
    before = (built.index_dir / "manifest.json").read_text(encoding="utf-8")
    rag.build_index(built, progress=False)
    assert (built.index_dir / "manifest.json").read_text(encoding="utf-8") == before
