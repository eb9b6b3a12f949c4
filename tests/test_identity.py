"""File identity: every file gets its own document id and re-indexing an unchanged folder changes
nothing; chunk keys are unique when written; copies of a paper are reported and never fill the
top k; repeated text is embedded once; one `rag index` per index folder at a time; each warning
once, and progress lines when stderr is a pipe. Real papers, the real embedders, real processes."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

import rag
from rag import store
from rag.dedupe import distinct_hits, fingerprint, normalise
from rag.embeddings import SentenceTransformerEncoder, UniversalSentenceEncoder
from rag.ingest import document_ids
from rag.progress import Progress
from rag.types import Chunk, Hit

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
P001, P002, P003, P004 = (
    "001_4139313f3243f7e4.txt",
    "002_268bfb1f0d63e3bd.txt",
    "003_d0102665b7b2c82a.txt",
    "004_af3a6016a1d3b571.txt",
)


def _text(name: str) -> str:
    return (CORPUS / name).read_text(encoding="utf-8")


def _excerpt(name: str, chars: int = 2000) -> str:
    """The start of a real paper, cut at a line end: a few chunks, so a build takes seconds."""
    text = _text(name)
    cut = text.find("\n", chars)
    return text if cut < 0 else text[: cut + 1]


def _settings(corpus: Path, index: Path) -> rag.Settings:
    return rag.Settings.load(corpus_dir=corpus, index_dir=index)


def _state(settings: rag.Settings) -> tuple[str, list[str]]:
    """What a user could notice changing: the manifest as written and the chunk keys."""
    manifest = (settings.index_dir / "manifest.json").read_text(encoding="utf-8")
    return manifest, [c.key for c in rag.load(settings).data.chunks]


@contextmanager
def _warnings() -> Iterator[list[str]]:
    """Warnings logged by the library while the block runs (works in module-scoped fixtures)."""
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler = Collect(level=logging.WARNING)
    logger = logging.getLogger("rag")
    logger.addHandler(handler)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)


def _run_cli(args: list[str], **kw: object) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONIOENCODING="utf-8", PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "rag.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
        **kw,  # type: ignore[arg-type]
    )


def _wait_for_lock_holder(index: Path, pid: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    lock = index / store.LOCK
    while time.monotonic() < deadline:
        if lock.exists() and lock.read_text(encoding="utf-8").strip() == str(pid):
            return
        time.sleep(0.1)
    raise AssertionError(f"pid {pid} never took {lock}")


# ---------------------------------------------------------------- document ids


def test_document_ids_are_stems_unless_two_files_share_one(tmp_path: Path) -> None:
    names = [P001, "a.txt", "a.md", "b.md", "x.txt", "x.TXT", "x.txt.md", "paper (1).txt"]
    ids = document_ids([tmp_path / n for n in names])
    assert {p.name: i for p, i in ids.items()} == {
        P001: "001_4139313f3243f7e4",  # the ids citations and the eval set use stay stems
        "a.txt": "a.txt",
        "a.md": "a.md",
        "b.md": "b",
        "x.txt": "x.txt",
        "x.TXT": "x.TXT",
        "x.txt.md": "x.txt.md",  # its stem "x.txt" is another file's id
        "paper (1).txt": "paper (1)",
    }
    assert len(set(ids.values())) == len(names)
    assert document_ids([tmp_path / n for n in reversed(names)]) == ids  # order of listing does not matter


@pytest.mark.slow
def test_two_papers_sharing_a_stem_keep_their_own_ids_and_reindexing_changes_nothing(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(_excerpt(P001), encoding="utf-8")
    (corpus / "a.md").write_text(_excerpt(P003), encoding="utf-8")
    settings = _settings(corpus, tmp_path / "index")
    first = rag.build_index(settings, progress=False)
    assert first.added == ("a.md", "a.txt") and first.embedded_chunks == first.chunks
    state = _state(settings)
    data = rag.load(settings).data
    assert set(data.papers) == {"a.md", "a.txt"}
    assert {data.papers[d].source for d in data.papers} == {"a.md", "a.txt"}
    texts = {d: rag.read_paper(corpus / d, doc_id=d).text for d in data.papers}
    for chunk in data.chunks:  # each sentence is cited under the paper it comes from
        other = "a.md" if chunk.doc_id == "a.txt" else "a.txt"
        assert chunk.text in texts[chunk.doc_id] and chunk.text not in texts[other], chunk.key
    files = json.loads(state[0])["files"]
    assert {n: e["doc_id"] for n, e in files.items()} == {"a.md": "a.md", "a.txt": "a.txt"}

    for _ in range(2):  # 54 -> 79 -> 108 chunks before: now nothing moves, not even a byte
        again = rag.build_index(settings, progress=False)
        assert again.unchanged == ("a.md", "a.txt") and not again.added and not again.updated
        assert again.embedded_chunks == 0 and again.chunks == first.chunks
        assert _state(settings) == state


@pytest.mark.slow
def test_three_files_on_one_stem_and_a_name_that_is_a_stem_each_get_an_id(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    sources = {"x.txt": P001, "x.TXT": P002, "x.md": P003, "x.txt.md": P004}
    for name, paper in sources.items():
        (corpus / name).write_text(_excerpt(paper, 1200), encoding="utf-8")
    settings = _settings(corpus, tmp_path / "index")
    first = rag.build_index(settings, progress=False)
    assert sorted(first.added) == sorted(sources)
    data = rag.load(settings).data
    assert set(data.papers) == set(sources)
    keys = [c.key for c in data.chunks]
    assert len(keys) == len(set(keys))
    state = _state(settings)
    again = rag.build_index(settings, progress=False)
    assert sorted(again.unchanged) == sorted(sources) and again.embedded_chunks == 0
    assert _state(settings) == state

    (corpus / "x.md").unlink()  # the other three still share a stem or a name: their ids stay
    removed = rag.build_index(settings, progress=False)
    assert removed.removed == ("x.md",) and sorted(removed.unchanged) == ["x.TXT", "x.txt", "x.txt.md"]
    assert set(rag.load(settings).data.papers) == {"x.TXT", "x.txt", "x.txt.md"}


@pytest.mark.slow
def test_an_index_written_before_ids_were_recorded_is_upgraded_without_embedding(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(_excerpt(P001), encoding="utf-8")
    (corpus / "b.txt").write_text(_excerpt(P003), encoding="utf-8")
    settings = _settings(corpus, tmp_path / "index")
    rag.build_index(settings, progress=False)
    path = settings.index_dir / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["files"] = {name: entry["sha256"] for name, entry in manifest["files"].items()}  # the old format
    path.write_text(json.dumps(manifest), encoding="utf-8")
    keys = _state(settings)[1]

    upgraded = rag.build_index(settings, progress=False)  # the project's own index/ after this change
    assert upgraded.unchanged == ("a.txt", "b.txt") and upgraded.embedded_chunks == 0
    assert json.loads(path.read_text(encoding="utf-8"))["files"]["a.txt"]["doc_id"] == "a"
    assert _state(settings)[1] == keys
    (corpus / "b.md").write_text(_excerpt(P004), encoding="utf-8")  # now b.txt shares its stem
    renamed = rag.build_index(settings, progress=False)
    assert renamed.added == ("b.md",) and renamed.updated == ("b.txt",) and renamed.unchanged == ("a.txt",)
    assert set(rag.load(settings).data.papers) == {"a", "b.md", "b.txt"}


# ---------------------------------------------------------------- unique keys


def _data(chunks: list[Chunk], files: dict[str, dict[str, str]]) -> store.IndexData:
    vectors = {"dense": np.zeros((len(chunks), 4), dtype=np.float32)}
    tokens = tuple(() for _ in chunks)
    return store.IndexData({"files": files}, {}, tuple(chunks), tokens, vectors)


def _chunk(doc_id: str, start: int, text: str) -> Chunk:
    return Chunk(doc_id, None, None, None, start, start + len(text), text, "zh", "body")


def test_writing_two_chunks_with_one_key_fails_naming_the_key_and_the_file(tmp_path: Path) -> None:
    files = {"a.txt": {"doc_id": "a", "sha256": "1"}}
    data = _data([_chunk("a", 0, "跨境电商。"), _chunk("a", 0, "数字经济。")], files)
    with pytest.raises(rag.RagError) as err:
        store.write_index(tmp_path / "index", data)
    assert "'a:0'" in str(err.value) and "a.txt" in str(err.value) and "rag index" in str(err.value)
    assert store.read_manifest(tmp_path / "index") is None  # nothing was written


def test_writing_two_files_under_one_id_fails_naming_both_files(tmp_path: Path) -> None:
    files = {"a.txt": {"doc_id": "a", "sha256": "1"}, "a.md": {"doc_id": "a", "sha256": "2"}}
    data = _data([_chunk("a", 0, "跨境电商。"), _chunk("a", 9, "数字经济。")], files)
    with pytest.raises(rag.RagError, match=r"a\.md, a\.txt .*'a'") as err:
        store.write_index(tmp_path / "index", data)
    assert "Rename one of them" in str(err.value)
    assert store.read_manifest(tmp_path / "index") is None


# ---------------------------------------------------------------- copies of a paper


def _save_copies(corpus: Path, text: str) -> None:
    (corpus / "paper.txt").write_text(text, encoding="utf-8")
    (corpus / "paper (1).txt").write_bytes((corpus / "paper.txt").read_bytes())
    (corpus / "paper_crlf.txt").write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    (corpus / "paper_gbk.txt").write_bytes(text.encode("gbk"))
    (corpus / "paper_bom.md").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))


def test_copies_saved_differently_share_one_fingerprint_and_an_edited_copy_does_not(tmp_path: Path) -> None:
    text = _excerpt(P001, 4000)
    _save_copies(tmp_path, text)
    (tmp_path / "edited.txt").write_text(text.replace("跨境电商", "跨境电子商务", 1), encoding="utf-8")
    prints = {p.name: fingerprint(rag.read_paper(p).text) for p in tmp_path.iterdir()}
    assert len({v for n, v in prints.items() if n != "edited.txt"}) == 1
    assert prints["edited.txt"] != prints["paper.txt"]
    assert normalise("跨境 电商\r\n，１") == normalise("\ufeff跨境电商\n,1")


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A paper, four copies of it saved differently, an edited near-copy (one line added, so
    it is a paper of its own) and a file repeating the paper 500 times; built twice."""
    base = tmp_path_factory.mktemp("copies")
    corpus = base / "corpus"
    corpus.mkdir()
    text = _text(P001)
    _save_copies(corpus, text)
    (corpus / "near.txt").write_text("转载说明：本文转载自《电子商务评论》，仅供学习交流。\n" + text, encoding="utf-8")
    (corpus / "repeat500.txt").write_text(text * 500, encoding="utf-8")
    settings = _settings(corpus, base / "index")
    with _warnings() as first_warnings:
        first = rag.build_index(settings, progress=False)
    state = _state(settings)
    with _warnings() as second_warnings:
        second = rag.build_index(settings, progress=False)
    return {
        "settings": settings,
        "first": first,
        "second": second,
        "warnings": (first_warnings, second_warnings),
        "state": (state, _state(settings)),
        "assistant": rag.load(settings),
    }


COPIES = (
    "paper (1).txt is a copy of paper.txt",
    "paper_bom.md is a copy of paper.txt",
    "paper_crlf.txt is a copy of paper.txt",
    "paper_gbk.txt is a copy of paper.txt",
)


@pytest.mark.slow
def test_copies_of_a_paper_are_reported_once_each_and_not_indexed(copies: dict) -> None:
    first, second = copies["first"], copies["second"]
    assert first.duplicates == COPIES and second.duplicates == COPIES
    assert first.added == ("near.txt", "paper.txt", "repeat500.txt")
    assert "4 copies not indexed" in first.summary()
    for warnings in copies["warnings"]:
        for line in COPIES:
            copy, original = line.split(" is a copy of ")
            assert sum(copy in w and original in w for w in warnings) == 1, (line, warnings)
    assert set(copies["assistant"].data.papers) == {"near", "paper", "repeat500"}
    # Nothing changed between the builds: nothing embedded, nothing written.
    assert second.unchanged == first.added and second.embedded_chunks == 0
    assert copies["state"][0] == copies["state"][1]


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    [
        "综合试验区能从哪三个方面赋能中国跨境电商？",  # before: 5 passages, 3 distinct
        "What are the development opportunities of cross-border e-commerce in the digital economy?",
    ],
)
def test_the_top_k_never_shows_one_passage_twice(copies: dict, question: str) -> None:
    hits = copies["assistant"].retrieve(question, 5)
    assert len(hits) == 5 and [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert len({normalise(h.chunk.text) for h in hits}) == 5, [h.chunk.key for h in hits]
    answer = copies["assistant"].ask(question)
    assert len({normalise(p.text) for p in answer.passages}) == len(answer.passages)


@pytest.mark.slow
def test_a_file_repeating_a_paper_500_times_is_indexed_like_the_paper(copies: dict) -> None:
    data = copies["assistant"].data
    per_doc = Counter(c.doc_id for c in data.chunks)
    assert per_doc["repeat500"] <= per_doc["paper"] + 2  # before: 500 times as many
    note = [r for r in copies["first"].repeated if r.startswith("repeat500.txt")]
    assert note and "each kept once" in note[0]
    # The three indexed papers share nearly every text: each distinct text was embedded once.
    assert copies["first"].embedded_chunks == len({c.text for c in data.chunks})
    generation = copies["settings"].index_dir / json.loads(copies["state"][0][0])["generation"]
    assert sum(p.stat().st_size for p in generation.iterdir()) < 5_000_000  # before: 265 MB for such a file


def test_distinct_hits_keeps_the_first_of_equal_passages_and_ranks_them_again() -> None:
    texts = [
        "跨境电商\n发展。",
        "跨境电商 发展。",
        "数字经济。",
        "跨境电商\r\n发展。",
        "ＲＣＥＰ生效。",
        "RCEP生效。",
        "物流。",
    ]
    hits = [Hit(_chunk(f"d{i}", 0, t), 1.0 - i / 10, i + 1) for i, t in enumerate(texts)]
    kept = distinct_hits(hits, 3)
    assert [h.chunk.doc_id for h in kept] == ["d0", "d2", "d4"] and [h.rank for h in kept] == [1, 2, 3]
    assert [h.chunk.doc_id for h in distinct_hits(hits, 10)] == ["d0", "d2", "d4", "d6"]


# ---------------------------------------------------------------- repetition inside a file


@contextmanager
def _count_encoded(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[str]]]:
    """Every text handed to the real encoders' encode_passages, by encoder."""
    seen: dict[str, list[str]] = {"dense": [], "use": []}
    for cls, slot in ((SentenceTransformerEncoder, "dense"), (UniversalSentenceEncoder, "use")):
        real = cls.encode_passages

        def counted(self, texts, *, progress=False, _real=real, _slot=slot):  # noqa: ANN001, ANN202
            seen[_slot].extend(texts)
            return _real(self, texts, progress=progress)

        monkeypatch.setattr(cls, "encode_passages", counted)
    yield seen


def _check_each_text_embedded_once(report: rag.BuildReport, data: store.IndexData, seen: dict) -> None:
    chunk_texts = {c.text for c in data.chunks}
    sentence_texts = {
        data.chunks[ci].text[s - data.chunks[ci].start : e - data.chunks[ci].start] for ci, s, e in data.sentences
    }
    assert len(seen["dense"]) == len(set(seen["dense"])) == len(chunk_texts) == report.embedded_chunks
    # The cross-lingual encoder's chunks, sentences and vocabulary share one embedding cache: a
    # sentence that is a whole chunk (a heading) is embedded once, as the chunk.
    assert report.embedded_sentences == len(sentence_texts - chunk_texts)
    assert len(seen["use"]) == len(set(seen["use"])) == len(chunk_texts | sentence_texts | set(data.vocab))


@pytest.mark.slow
def test_a_file_repeating_a_paper_200_times_embeds_each_text_once(tmp_path: Path, monkeypatch) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "repeat200.txt").write_text(_text(P003) * 200, encoding="utf-8")
    settings = _settings(corpus, tmp_path / "index")
    with _count_encoded(monkeypatch) as seen:
        report = rag.build_index(settings, progress=False)
    data = rag.load(settings).data
    single = rag.chunk_paper(rag.read_paper(CORPUS / P003))
    assert len(data.chunks) <= len(single) + 2  # before: 200 times as many, each embedded
    assert report.repeated and report.repeated[0].startswith("repeat200.txt repeats itself")
    _check_each_text_embedded_once(report, data, seen)


@pytest.mark.slow
def test_a_paragraph_repeated_300_times_inside_a_paper_is_embedded_once(tmp_path: Path, monkeypatch) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    text = _excerpt(P004, 3000)
    paragraph = "跨境电商企业应当加强品牌建设，提升产品质量和服务水平，以增强国际竞争力。\n"
    cut = text.find("\n", 1500) + 1
    (corpus / "stutter.txt").write_text(text[:cut] + paragraph * 300 + text[cut:], encoding="utf-8")
    settings = _settings(corpus, tmp_path / "index")
    with _count_encoded(monkeypatch) as seen:
        report = rag.build_index(settings, progress=False)
    data = rag.load(settings).data
    assert sum(paragraph.strip() in c.text for c in data.chunks) <= 3
    _check_each_text_embedded_once(report, data, seen)


# ---------------------------------------------------------------- one build at a time


@pytest.mark.slow
def test_a_second_rag_index_waits_for_the_first_and_then_has_nothing_to_do(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(_excerpt(P001), encoding="utf-8")
    index = tmp_path / "index"
    args = ["index", "--corpus", str(corpus), "--index", str(index)]
    first = _run_cli(args)
    _wait_for_lock_holder(index, first.pid)
    second = _run_cli(args)
    out1, err1 = first.communicate(timeout=600)
    out2, err2 = second.communicate(timeout=600)
    assert first.returncode == 0 and second.returncode == 0, (err1, err2)
    assert f"another rag index is running on {index} (pid {first.pid}); waiting" in err2
    assert "Traceback" not in err1 + err2
    assert "1 added" in out1 and "1 unchanged" in out2 and "0 chunks embedded" in out2  # not built twice
    keys = [c.key for c in rag.load(_settings(corpus, index)).data.chunks]
    assert len(keys) == len(set(keys)) and f"{len(keys)} chunks" in out1


def test_a_rag_index_that_cannot_wait_long_enough_exits_with_a_clear_error(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(_excerpt(P001), encoding="utf-8")
    index = tmp_path / "index"
    with store.build_lock(index, wait=0):
        proc = _run_cli(["index", "--corpus", str(corpus), "--index", str(index), "--wait", "1"])
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "Traceback" not in err
    assert f"error: Another rag index (pid {os.getpid()}) is still building {index}/" in err
    assert "--wait" in err and store.read_manifest(index) is None


def test_a_lock_left_by_a_killed_build_is_taken_over(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(_excerpt(P001), encoding="utf-8")
    index = tmp_path / "index"
    victim = _run_cli(["index", "--corpus", str(corpus), "--index", str(index)])
    _wait_for_lock_holder(index, victim.pid)
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=60)
    assert (index / store.LOCK).read_text(encoding="utf-8").strip() == str(victim.pid)  # left behind
    started = time.monotonic()
    with store.build_lock(index, wait=0):  # would raise IndexBusyError if the lock were still held
        assert (index / store.LOCK).read_text(encoding="utf-8").strip() == str(os.getpid())
    assert time.monotonic() - started < 5


# ---------------------------------------------------------------- what a build says


@pytest.mark.slow
def test_rag_index_warns_once_per_bad_file_and_copy_and_logs_progress_into_a_pipe(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(_excerpt(P001), encoding="utf-8")
    (corpus / "a (1).txt").write_bytes((corpus / "a.txt").read_bytes())
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7 garbage")
    (corpus / "empty.md").write_text("  \n", encoding="utf-8")
    proc = _run_cli(["index", "--corpus", str(corpus), "--index", str(tmp_path / "index")])
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    lines = err.splitlines()
    for name in ("broken.pdf", "empty.md"):  # was warned twice: by the library and by the CLI
        mentions = [line for line in lines if name in line]
        assert len(mentions) == 1 and mentions[0].startswith(f"WARNING rag.scan: skipped: {name} "), err
    assert sum("a (1).txt is a copy of a.txt" in line for line in lines) == 1
    assert "2 skipped, 1 copy not indexed" in out
    progress = [line for line in err.splitlines() if line.startswith("INFO rag.progress: embedding chunks")]
    assert progress and "100%" in progress[-1], err


def test_progress_is_a_bar_on_a_terminal_and_timed_log_lines_in_a_pipe(capsys, caplog) -> None:
    with Progress("embedding chunks (dense)", 3, bar=True, unit="text") as bar:
        bar.update(3)
    assert "embedding chunks (dense): 100%" in capsys.readouterr().err and not caplog.records
    with caplog.at_level(logging.INFO, logger="rag.progress"):
        with Progress("reading files", 3000, bar=False, unit="file", every=0.0) as lines:
            for _ in range(3):
                lines.update(1000)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2  # every `every` seconds, until done (no closing line: it took under a second)
    for message, done in zip(messages, ("1,000/3,000 files (33%)", "2,000/3,000 files (66%)"), strict=True):
        # with the rate and the time left, for a build left running overnight
        assert re.fullmatch(rf"reading files: {re.escape(done)}, 0 s, [\d.]+ files/s, about \d+ s left", message)
    assert capsys.readouterr().err == ""  # no bar in a pipe
