"""The index folder: incremental updates, atomic writes, skipped files, clear mismatches, and
the real embedder finding the right chunk for a Chinese question and its English translation."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

import rag


def _settings(corpus: Path, index: Path, **kw: object) -> rag.Settings:
    return rag.Settings.load(corpus_dir=corpus, index_dir=index, **kw)


@pytest.mark.slow
def test_incremental_update_reembeds_only_what_changed(small_corpus: Path, tmp_path: Path, caplog) -> None:
    settings = _settings(small_corpus, tmp_path / "index")
    first = rag.build_index(settings, progress=False)
    assert sorted(first.added) == ["001_4139313f3243f7e4.txt", "003_d0102665b7b2c82a.txt"]
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["papers"] == 2 and manifest["encoders"]["dense"]["dim"] == 384
    assert set(manifest["files"]) == set(first.added)

    # Nothing changed: nothing is embedded again.
    again = rag.build_index(settings, progress=False)
    assert again.embedded_chunks == 0 and len(again.unchanged) == 2

    # Touch one file: only its chunks are embedded; the other paper's chunks stay as they were.
    changed = small_corpus / "003_d0102665b7b2c82a.txt"
    changed.write_text(changed.read_text(encoding="utf-8") + "\n补充说明：本段为测试追加的内容。\n", encoding="utf-8")
    old_texts = {c.text for c in rag.load(settings).data.chunks}
    before = {c.key: c for c in rag.load(settings).data.chunks if c.doc_id.startswith("001")}
    update = rag.build_index(settings, progress=False)
    assert update.updated == ("003_d0102665b7b2c82a.txt",) and update.unchanged == ("001_4139313f3243f7e4.txt",)
    chunks_003 = [c for c in rag.load(settings).data.chunks if c.doc_id.startswith("003")]
    # Only chunks whose text is new are embedded (the appended end), not the whole changed paper.
    new_texts = {c.text for c in chunks_003} - old_texts
    assert update.embedded_chunks == len(new_texts) and 1 <= len(new_texts) < len(chunks_003)
    after = {c.key: c for c in rag.load(settings).data.chunks if c.doc_id.startswith("001")}
    assert after == before

    # A corrupt file is skipped with a warning naming it; the rest stays indexed.
    (small_corpus / "broken.pdf").write_bytes(b"%PDF-1.7 garbage")
    with caplog.at_level(logging.WARNING):
        skipped = rag.build_index(settings, progress=False)
    assert any("broken.pdf" in s for s in skipped.skipped)
    assert "broken.pdf" in caplog.text
    assert rag.load(settings).ask("综合试验区能从哪三个方面赋能中国跨境电商？").citations

    # A deleted file is removed.
    (small_corpus / "broken.pdf").unlink()
    changed.unlink()
    removed = rag.build_index(settings, progress=False)
    assert removed.removed == ("003_d0102665b7b2c82a.txt",)
    assert {c.doc_id for c in rag.load(settings).data.chunks} == {"001_4139313f3243f7e4"}


@pytest.mark.slow
def test_a_paper_that_becomes_unreadable_keeps_its_previous_chunks(small_corpus: Path, tmp_path: Path) -> None:
    settings = _settings(small_corpus, tmp_path / "index")
    rag.build_index(settings, progress=False)
    (small_corpus / "001_4139313f3243f7e4.txt").write_bytes(b"\x00\x00binary now")
    report = rag.build_index(settings, progress=False)
    assert report.skipped and "001_4139313f3243f7e4.txt" in report.skipped[0]
    assert any(c.doc_id.startswith("001") for c in rag.load(settings).data.chunks)


@pytest.mark.slow
def test_an_interrupted_build_leaves_the_previous_index_usable(small_corpus: Path, tmp_path: Path, monkeypatch) -> None:
    settings = _settings(small_corpus, tmp_path / "index")
    rag.build_index(settings, progress=False)
    manifest_before = (tmp_path / "index" / "manifest.json").read_text(encoding="utf-8")
    (small_corpus / "001_4139313f3243f7e4.txt").unlink()

    real_replace = os.replace

    def crash_on_manifest(src: object, dst: object) -> None:
        if str(dst).endswith("manifest.json"):
            raise KeyboardInterrupt("power cut")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_manifest)
    with pytest.raises(KeyboardInterrupt):
        rag.build_index(settings, progress=False)
    monkeypatch.setattr(os, "replace", real_replace)
    assert (tmp_path / "index" / "manifest.json").read_text(encoding="utf-8") == manifest_before
    loaded = rag.load(settings)
    assert any(c.doc_id.startswith("001") for c in loaded.data.chunks)  # the old index, intact


def test_loading_with_other_chunking_names_both_values_and_the_fix(settings: rag.Settings) -> None:
    other = settings.with_(chunk_chars=500)
    with pytest.raises(rag.IndexMismatchError) as err:
        rag.load(other)
    message = str(err.value)
    assert "350" in message and "500" in message and "rag index --rebuild" in message


def test_missing_index_says_which_command_builds_it(tmp_path: Path) -> None:
    with pytest.raises(rag.IndexNotFoundError, match="rag index"):
        rag.load(rag.Settings.load(index_dir=tmp_path / "nothing"))


def test_no_pickle_and_a_self_describing_folder(settings: rag.Settings) -> None:
    manifest = json.loads((settings.index_dir / "manifest.json").read_text(encoding="utf-8"))
    assert {"format_version", "encoders", "chunking", "files", "counts", "generation"} <= set(manifest)
    generation = settings.index_dir / manifest["generation"]
    names = {p.name for p in generation.iterdir()}
    assert {"chunks.jsonl", "dense.faiss", "use.faiss", "papers.json", "tokens.jsonl"} <= names
    assert not [n for n in names if n.endswith((".pkl", ".pickle"))]


@pytest.mark.parametrize(
    "question",
    [
        "受通货膨胀和RCEP生效影响，中国跨境出口环境有什么变化？",
        "How did inflation in Europe and America and the RCEP affect China's cross-border export environment?",
    ],
)
def test_dense_search_alone_finds_the_chunk_in_chinese_and_english(assistant: rag.Assistant, question: str) -> None:
    hits = assistant.retrieve(question, 5, use_bm25=False)
    assert any("欧美地区多数国家的物价快速上涨" in h.chunk.text for h in hits), [h.chunk.key for h in hits]


def test_reference_lists_are_excluded_by_default(assistant: rag.Assistant) -> None:
    hits = assistant.retrieve("中国跨境电商进口发展存在的问题与对策 国际贸易 魏浩", 10)
    assert hits and all(h.chunk.kind != "references" for h in hits)
