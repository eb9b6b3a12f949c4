"""Resumable indexing: a `rag index` killed with -9 in the middle of embedding keeps what it had
embedded (the embedding cache, batch by batch), and the next run finishes with exactly the index
a clean build gives; a corrupt cache file is detected, warned about and embedded again; a full
disk stops the build with a clear error and the index in use unchanged."""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import rag

ROOT = Path(__file__).resolve().parent.parent


def _shards(index: Path, slot: str) -> list[Path]:
    """The committed shards (a kill may leave a '.tmp-000012.json' that does not count)."""
    folders = list((index / "cache").glob(f"{slot}-*"))
    return sorted(p for p in folders[0].glob("*.json") if p.stem.isdigit()) if folders else []


def _vectors(settings: rag.Settings) -> dict[str, np.ndarray]:
    data = rag.load(settings).data
    return {c.key: data.vectors["dense"][i] for i, c in enumerate(data.chunks)}


@pytest.fixture(scope="module")
def clean_build(
    settings: rag.Settings, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, rag.Settings, rag.BuildReport]:
    """Two real papers and their index built without interruption (shared: read-only)."""
    corpus = tmp_path_factory.mktemp("corpus")
    for name in ("001_4139313f3243f7e4.txt", "003_d0102665b7b2c82a.txt"):
        shutil.copy(ROOT / "corpus" / name, corpus / name)
    clean_settings = settings.with_(corpus_dir=corpus, index_dir=tmp_path_factory.mktemp("clean"))
    return corpus, clean_settings, rag.build_index(clean_settings, progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_a_build_killed_mid_embedding_resumes_and_equals_a_clean_build(
    clean_build: tuple[Path, rag.Settings, rag.BuildReport], tmp_path: Path, settings: rag.Settings, fraction: float
) -> None:
    small_corpus, clean_settings, clean = clean_build
    index = tmp_path / "index"
    env = {**os.environ, "RAG_EMBED_BATCH": "4", "RAG_CORPUS_DIR": str(small_corpus), "RAG_INDEX_DIR": str(index)}
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "index"], cwd=ROOT, env=env)
    deadline = time.monotonic() + 600
    target = max(1, round(fraction * clean.chunks / 4))  # shards of 4 chunks: this share of the chunks embedded
    while len(_shards(index, "dense")) < target:
        assert proc.poll() is None, f"the build ended before it could be killed ({len(_shards(index, 'dense'))} shards)"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (index / "manifest.json").exists()  # nothing published by the killed build
    cached = sum(json.loads(p.read_text(encoding="utf-8"))["n"] for p in _shards(index, "dense"))

    resumed_settings = settings.with_(corpus_dir=small_corpus, index_dir=index, embed_batch=4)
    resumed = rag.build_index(resumed_settings, progress=False)
    assert resumed.chunks == clean.chunks
    dense = resumed.embedded_by_encoder["dense"]
    assert dense <= clean.embedded_by_encoder["dense"] - cached  # the killed run's work was kept
    got, want = _vectors(resumed_settings), _vectors(clean_settings)
    assert got.keys() == want.keys()
    worst = max(float(np.abs(got[k] - want[k]).max()) for k in want)
    assert worst < 1e-5, worst  # the same vectors, however the work was split
    answer = rag.load(resumed_settings).ask("跨境电商综合试验区有哪些作用？")
    assert not answer.abstained and answer.citations


@pytest.mark.slow
def test_a_build_killed_while_writing_its_index_leaves_the_previous_one_serving(
    small_corpus: Path, tmp_path: Path, settings: rag.Settings
) -> None:
    index = tmp_path / "index"
    built = settings.with_(corpus_dir=small_corpus, index_dir=index)
    rag.build_index(built, progress=False)
    before = (index / "manifest.json").read_text(encoding="utf-8")
    (small_corpus / "new.txt").write_text("跨境电商物流成本高企，海外仓建设亟待加强。" * 40, encoding="utf-8")
    env = {**os.environ, "RAG_CORPUS_DIR": str(small_corpus), "RAG_INDEX_DIR": str(index)}
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "index"], cwd=ROOT, env=env)
    deadline = time.monotonic() + 600
    while not list(index.glob(".tmp-gen-*")):  # the new generation is being written
        assert proc.poll() is None, "the build finished before it could be killed while writing"
        assert time.monotonic() < deadline
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (index / "manifest.json").read_text(encoding="utf-8") == before  # the reader never sees a half index
    assert len(rag.load(built).papers) == 2
    again = rag.build_index(built, progress=False)
    assert again.added == ("new.txt",) and again.embedded_by_encoder["dense"] == 0  # all cached by the killed run
    assert not list(index.glob(".tmp-gen-*")) and len(list(index.glob("gen-*"))) == 1
    assert len(rag.load(built).papers) == 3


def test_a_paper_removed_while_the_build_reads_the_folder_is_skipped_with_a_warning(
    small_corpus: Path, tmp_path: Path, settings: rag.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag import scan

    (small_corpus / "zz_last.txt").write_text("跨境电商物流成本高企，海外仓建设亟待加强。" * 40, encoding="utf-8")
    (small_corpus / "zz_self.txt").write_text("数字贸易规则与数据跨境流动监管。" * 40, encoding="utf-8")
    read = scan._Reader.read

    def meanwhile(self: object, path: Path, *args: object) -> object:
        if path.name == "001_4139313f3243f7e4.txt":
            (small_corpus / "zz_last.txt").unlink()  # gone before the build has even looked at it
        if path.name == "zz_self.txt":
            path.unlink()  # gone between being listed and being read
        return read(self, path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(scan._Reader, "read", meanwhile)
    built = settings.with_(corpus_dir=small_corpus, index_dir=tmp_path / "index")
    report = rag.build_index(built, progress=False)
    assert sorted(s.split(" ")[0] for s in report.skipped) == ["zz_last.txt", "zz_self.txt"]
    assert all("moved or deleted while indexing" in s for s in report.skipped)
    assert {p.source for p in rag.load(built).papers} == {"001_4139313f3243f7e4.txt", "003_d0102665b7b2c82a.txt"}


@pytest.mark.slow
def test_a_paper_deleted_mid_embedding_is_indexed_as_read_then_removed_by_the_next_build(
    small_corpus: Path, tmp_path: Path, settings: rag.Settings
) -> None:
    index = tmp_path / "index"
    env = {**os.environ, "RAG_EMBED_BATCH": "4", "RAG_CORPUS_DIR": str(small_corpus), "RAG_INDEX_DIR": str(index)}
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "index"], cwd=ROOT, env=env)
    deadline = time.monotonic() + 600
    while len(_shards(index, "dense")) < 3:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    (small_corpus / "003_d0102665b7b2c82a.txt").unlink()
    assert proc.wait(timeout=600) == 0  # the build goes on with the text it read
    built = settings.with_(corpus_dir=small_corpus, index_dir=index)
    assert rag.index_status(built).pending_removed == ("003_d0102665b7b2c82a.txt",)
    report = rag.build_index(built, progress=False)
    assert report.removed == ("003_d0102665b7b2c82a.txt",)
    only = rag.build_index(settings.with_(corpus_dir=small_corpus, index_dir=tmp_path / "clean"), progress=False)
    assert report.chunks == only.chunks and [p.source for p in rag.load(built).papers] == ["001_4139313f3243f7e4.txt"]


@pytest.mark.slow
def test_a_corrupt_cache_file_is_warned_about_and_embedded_again(
    small_corpus: Path, tmp_path: Path, settings: rag.Settings, caplog: pytest.LogCaptureFixture
) -> None:
    built = settings.with_(corpus_dir=small_corpus, index_dir=tmp_path / "index", embed_batch=16)
    first = rag.build_index(built, progress=False)
    want = _vectors(built)
    vectors = sorted((tmp_path / "index" / "cache").glob("dense-*/*.npy"))
    keys = sorted((tmp_path / "index" / "cache").glob("dense-*/*.keys"))
    data = bytearray(vectors[0].read_bytes())  # flip bytes inside the vectors of one shard
    data[-40:-20] = bytes(20)
    vectors[0].write_bytes(bytes(data))
    keys[1].write_bytes(keys[1].read_bytes()[:-3])  # and truncate the keys of another
    rebuilt = built.with_(index_dir=tmp_path / "index")
    with caplog.at_level(logging.WARNING):
        again = rag.build_index(rebuilt, rebuild=True, progress=False)
    warned = [r.getMessage() for r in caplog.records if "corrupt" in r.getMessage()]
    assert len(warned) == 2 and all("embedded again" in w for w in warned)
    assert 0 < again.embedded_chunks < first.embedded_chunks  # only the two bad shards' texts
    got = _vectors(rebuilt)
    assert all(np.allclose(got[k], want[k], atol=1e-5) for k in want)


def test_a_full_disk_stops_the_build_with_a_clear_error_and_the_index_unchanged(
    small_corpus: Path, tmp_path: Path, settings: rag.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag import cache

    built = settings.with_(corpus_dir=small_corpus, index_dir=tmp_path / "index")
    rag.build_index(built, progress=False)
    manifest = (tmp_path / "index" / "manifest.json").read_text(encoding="utf-8")
    (small_corpus / "new.txt").write_text("跨境电商物流成本高企，海外仓建设亟待加强。" * 40, encoding="utf-8")

    def full(self: cache.EmbeddingCache, digests: object, vectors: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache.EmbeddingCache, "add", full)
    with pytest.raises(rag.RagError, match="Free disk space and run `rag index` again"):
        rag.build_index(built, progress=False)
    assert (tmp_path / "index" / "manifest.json").read_text(encoding="utf-8") == manifest
    assert len(rag.load(built).papers) == 2  # the index in use still answers


@pytest.mark.slow
def test_status_says_what_is_indexed_pending_failed_and_running(
    small_corpus: Path, tmp_path: Path, settings: rag.Settings
) -> None:
    from rag import store

    built = settings.with_(corpus_dir=small_corpus, index_dir=tmp_path / "index")
    assert rag.index_status(built).built is None
    rag.build_index(built, progress=False)
    status = rag.index_status(built)
    assert (status.papers, status.running) == (2, None) and "up to date" in status.summary()
    assert status.cache["dense-e5-small"] == status.chunks  # every chunk vector is cached (torch fp32 default)
    (small_corpus / "new.txt").write_text("跨境电商物流成本高企，海外仓建设亟待加强。" * 40, encoding="utf-8")
    (small_corpus / "broken.pdf").write_bytes(b"%PDF-1.7 garbage")
    changed = small_corpus / "003_d0102665b7b2c82a.txt"
    changed.write_text(changed.read_text(encoding="utf-8") + "\n补充。\n", encoding="utf-8")
    (small_corpus / "001_4139313f3243f7e4.txt").unlink()
    status = rag.index_status(built)
    assert status.pending_added == ("broken.pdf", "new.txt")
    assert status.pending_changed == ("003_d0102665b7b2c82a.txt",)
    assert status.pending_removed == ("001_4139313f3243f7e4.txt",)
    assert "pending: 2 new, 1 changed, 1 removed (run `rag index`)" in status.summary()
    rag.build_index(built, progress=False)
    status = rag.index_status(built)
    assert status.pending_added == ("broken.pdf",) and len(status.failed) == 1  # still not indexable
    assert status.failed[0].startswith("broken.pdf") and "broken.pdf" in status.summary()
    with store.build_lock(built.index_dir, wait=0):
        assert rag.index_status(built).running == str(os.getpid())


def test_a_write_cut_short_by_a_kill_is_removed_and_the_committed_shards_stay(tmp_path: Path) -> None:
    from rag.cache import EmbeddingCache, digest

    cache = EmbeddingCache(tmp_path, "dense-test")
    texts = ["跨境电商", "海外仓", "跨境物流"]
    cache.add([digest(t) for t in texts], np.eye(3, 4, dtype=np.float32))
    folder = cache.dir
    # What a kill leaves at each step of writing shard 1: a temporary file, keys without vectors,
    # vectors without their record, a temporary record.
    for name in (".tmp-000001.keys", "000001.keys", "000001.npy", ".tmp-000001.json", ".tmp-000002.npy"):
        (folder / name).write_bytes(b"partial")
    again = EmbeddingCache(tmp_path, "dense-test")
    assert len(again) == 3 and sorted(p.name for p in folder.iterdir()) == ["000000.json", "000000.keys", "000000.npy"]
    found, vectors = again.get([digest("海外仓"), digest("not cached")])
    assert found == [0] and np.array_equal(vectors[0], np.eye(3, 4, dtype=np.float32)[1])
