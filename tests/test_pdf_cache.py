"""A PDF is read once: later builds (a resumed one, a rebuild, a second index of the same files)
take its reading from the index's cache, get the same chunks, and read it again only when the
file, the extractor or the reader's code changed, or the cached entry is damaged."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

import rag
from rag import pdf, readcache

PAPERS = ("001_4139313f3243f7e4.pdf", "003_d0102665b7b2c82a.pdf")


@pytest.fixture
def pdf_corpus(pdf_fixtures: Path, tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in PAPERS:
        shutil.copy(pdf_fixtures / "mixed" / name, corpus / name)
    return corpus


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = pdf.read_pdf

    def counted(path: Path, *args: object, **kwargs: object) -> pdf.PdfText:
        calls.append(path.name)
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pdf, "read_pdf", counted)
    return calls


def _chunks(settings: rag.Settings) -> list[tuple[str, int | None, str]]:
    return [(c.key, c.page, c.text) for c in rag.load(settings).data.chunks]


def test_a_rebuild_reads_no_pdf_again_and_gives_the_same_chunks(
    pdf_corpus: Path, tmp_path: Path, settings: rag.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = _count_reads(monkeypatch)
    built = settings.with_(corpus_dir=pdf_corpus, index_dir=tmp_path / "index")
    rag.build_index(built, progress=False)
    assert sorted(reads) == sorted(PAPERS)
    first = _chunks(built)
    reads.clear()
    rag.build_index(built, rebuild=True, progress=False)
    assert reads == []  # both readings came from index/cache/pdf/
    assert _chunks(built) == first


def test_a_changed_file_reader_or_damaged_entry_is_read_again(
    pdf_corpus: Path,
    tmp_path: Path,
    settings: rag.Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    reads = _count_reads(monkeypatch)
    built = settings.with_(corpus_dir=pdf_corpus, index_dir=tmp_path / "index")
    rag.build_index(built, progress=False)
    entries = sorted((tmp_path / "index" / "cache" / "pdf").glob("*.json"))
    assert len(entries) == 2
    reads.clear()
    entries[0].write_text('{"pages": [', encoding="utf-8")  # cut short by hand
    with caplog.at_level(logging.WARNING):
        rag.build_index(built, rebuild=True, progress=False)
    assert len(reads) == 1 and "damaged PDF cache entry" in caplog.text
    reads.clear()
    monkeypatch.setattr(readcache, "reader_fingerprint", lambda: "newer-reader")  # the PDF code changed
    rag.build_index(built, rebuild=True, progress=False)
    assert sorted(reads) == sorted(PAPERS)
