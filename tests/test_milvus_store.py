"""RAG_STORE=milvus end to end on a real Milvus Lite: `rag index --to milvus` copies the index,
`rag.load` serves it through the same legs and retriever, `rag index` updates it paper by paper,
and the faults a user meets (unreachable Milvus, another embedder, a rebuild failing half-way,
a collection of another schema) are named in one line, in the CLI and the chat alike."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import rag
from rag import cli

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from pymilvus import MilvusClient  # noqa: E402
from pymilvus.exceptions import MilvusException  # noqa: E402

from rag import milvus  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "跨境电商物流面临哪些问题？",
    "中国已成为多少个国家和地区的主要贸易伙伴？",
    "跨境电商综合试验区能从哪三个方面赋能中国跨境电商？",
    "What problems does cross-border logistics face?",
    "Which province does the paper use as an example?",
]
UNREACHABLE = "http://127.0.0.1:1"


def lite_settings(settings: rag.Settings, folder: Path) -> rag.Settings:
    return settings.with_(store="milvus", milvus_uri=str(folder / "rag.db"))


@pytest.fixture(scope="module")
def lite(settings: rag.Settings, tmp_path_factory: pytest.TempPathFactory) -> rag.Settings:
    """The project index copied into a Milvus Lite file, and settings that serve it."""
    served = lite_settings(settings, tmp_path_factory.mktemp("lite"))
    rag.copy_index(served, "milvus")
    return served


@pytest.fixture(scope="module")
def on_milvus(lite: rag.Settings) -> rag.Assistant:
    return rag.load(lite)


def keys(hits: list[rag.Hit]) -> list[str]:
    return [h.chunk.key for h in hits]


def test_the_copied_index_answers_as_the_folder_does(assistant: rag.Assistant, on_milvus: rag.Assistant) -> None:
    assert on_milvus.data.chunks == assistant.data.chunks and on_milvus.data.papers == assistant.data.papers
    assert on_milvus.data.vectors == {}  # the vectors stay in Milvus
    for question in QUESTIONS:
        assert keys(on_milvus.retrieve(question, k=10)) == keys(assistant.retrieve(question, k=10)), question
        mine, theirs = on_milvus.ask(question), assistant.ask(question)
        assert (mine.answer, mine.abstained) == (theirs.answer, theirs.abstained), question


def test_the_collection_copies_back_into_a_folder(lite: rag.Settings, assistant: rag.Assistant, tmp_path: Path) -> None:
    back = lite.with_(index_dir=tmp_path / "index", store="faiss")
    assert "nothing embedded" in rag.copy_index(back, "faiss")
    folder = rag.load(back)
    assert folder.data.chunks == assistant.data.chunks and not (tmp_path / "index" / "cache").exists()
    assert keys(folder.retrieve(QUESTIONS[3], k=10)) == keys(assistant.retrieve(QUESTIONS[3], k=10))


def test_references_and_the_paper_filter_are_filter_expressions(
    on_milvus: rag.Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = on_milvus.data.engine
    filters: list[str] = []
    search = engine._client.search

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        filters.append(kwargs.get("filter", ""))
        return search(*args, **kwargs)

    monkeypatch.setattr(engine._client, "search", spy)
    paper = sorted(on_milvus.data.papers)[2]
    hits = on_milvus.retrieve("跨境电商物流面临哪些问题？", k=5, doc_ids=[paper])
    assert hits and {h.chunk.doc_id for h in hits} == {paper}
    assert filters and all('kind != "references"' in f and f'doc_id in ["{paper}"]' in f for f in filters), filters


def test_an_unreachable_milvus_is_one_line_in_the_cli_and_the_chat(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAG_STORE", "milvus")
    monkeypatch.setenv("RAG_MILVUS_URI", UNREACHABLE)
    for argv in (["ask", "跨境电商物流面临哪些问题？"], ["index"], ["serve", "--port", "7999"]):
        assert cli.main(argv) == 1, argv
        err = capsys.readouterr().err
        assert err.startswith(f"error: Cannot reach Milvus at {UNREACHABLE}"), (argv, err)
        assert "server is running" in err and "RAG_MILVUS_URI" in err and "Traceback" not in err


def test_an_index_built_with_another_embedder_is_refused_naming_both(lite: rag.Settings) -> None:
    with pytest.raises(rag.IndexMismatchError) as caught:
        rag.load(lite.with_(embed_backend="onnx-int8"))
    message = str(caught.value)
    assert "Milvus collection 'rag'" in message and '"e5-small"' in message and '"e5-small+onnx-int8"' in message
    assert "rag index --rebuild" in message


def test_a_rebuild_failing_half_way_leaves_the_alias_on_the_old_collection(
    settings: rag.Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = lite_settings(settings, tmp_path)
    rag.copy_index(served, "milvus")
    old = rag.load(served)
    before = old.data.engine.generation()
    calls = {"n": 0}
    insert = MilvusClient.insert

    def dropping(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202 - the connection drops mid-write
        calls["n"] += 1
        if calls["n"] > 2:
            raise MilvusException(message="connection reset by peer")
        return insert(self, *args, **kwargs)

    monkeypatch.setattr(MilvusClient, "insert", dropping)
    monkeypatch.setattr(milvus, "INSERT_BATCH", 50)
    with pytest.raises(rag.RagError, match=f"Lost Milvus.*still serves {before}"):
        rag.copy_index(served, "milvus")
    monkeypatch.undo()
    again = rag.load(served)
    assert again.data.engine.generation() == before
    assert again.data.engine._generations() == [before]  # the half-written collections are gone
    assert keys(again.retrieve(QUESTIONS[0])) == keys(old.retrieve(QUESTIONS[0]))


def test_a_collection_of_another_schema_is_detected_and_a_rebuild_fixes_it(
    settings: rag.Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = lite_settings(settings, tmp_path)
    rag.copy_index(served, "milvus")
    monkeypatch.setattr(milvus, "SCHEMA_VERSION", milvus.SCHEMA_VERSION + 1)  # as after an upgrade of rag
    with pytest.raises(rag.IndexMismatchError, match=r"schema version .*rag index --rebuild"):
        rag.load(served)
    rag.copy_index(served, "milvus")  # what `rag index --rebuild` does too: a new generation
    assert rag.load(served).retrieve(QUESTIONS[0])


def test_rag_index_updates_milvus_paper_by_paper_as_it_does_the_folder(
    settings: rag.Settings, small_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Built, a paper added, a paper removed: after each `rag index` the Milvus collection holds
    what the folder holds and answers alike; updates go into the same collection."""
    cache = settings.index_dir / "cache"  # the project's embedding cache: nothing is embedded again
    built = {}
    for name in ("faiss", "milvus"):
        folder = tmp_path / name
        if cache.is_dir():
            shutil.copytree(cache, folder / "cache")
        built[name] = settings.with_(corpus_dir=small_corpus, index_dir=folder, store=name)
    built["milvus"] = lite_settings(built["milvus"], tmp_path / "milvus")
    steps = [
        lambda: None,
        lambda: shutil.copy(ROOT / "corpus" / "002_268bfb1f0d63e3bd.txt", small_corpus),
        lambda: (small_corpus / "001_4139313f3243f7e4.txt").unlink(),
    ]
    generations = set()
    for step in steps:
        step()
        for s in built.values():
            rag.build_index(s, progress=False)
        folder, lite = rag.load(built["faiss"]), rag.load(built["milvus"])
        assert lite.data.chunks == folder.data.chunks and lite.data.papers == folder.data.papers
        assert lite.data.sentences == folder.data.sentences and lite.data.headings == folder.data.headings
        for question in QUESTIONS[:4]:
            assert keys(lite.retrieve(question)) == keys(folder.retrieve(question)), question
        generations.add(lite.data.engine.generation())
        lite.data.close()
    assert len(generations) == 1  # in place, paper by paper
    status = rag.index_status(built["milvus"]).summary()
    assert "Milvus collection 'rag'" in status and "2 papers" in status and "up to date" in status


def test_settings_name_the_store_and_keep_the_token_out_of_records(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_STORE", "milvus")
    monkeypatch.setenv("RAG_MILVUS_TOKEN", "root:Milvus")
    s = rag.Settings.load()
    assert s.store == "milvus" and s.milvus_target == str(s.index_dir / "milvus.db")
    assert "Milvus" not in repr(s) and "milvus_token" not in json.dumps(s.to_dict(), default=str)
    monkeypatch.setenv("RAG_STORE", "qdrant")
    with pytest.raises(rag.RagError, match="RAG_STORE"):
        rag.Settings.load()


@pytest.mark.slow
def test_the_eval_on_milvus_lite_matches_the_folder(
    assistant: rag.Assistant, on_milvus: rag.Assistant, tmp_path: Path
) -> None:
    """Parity on the held-out split: hit@5 and answer accuracy within 0.01 of the FAISS folder."""
    from eval.harness import run_eval

    split = ROOT / "eval" / "sets" / "test.jsonl"
    figures = {}
    for name, who in (("faiss", assistant), ("milvus", on_milvus)):
        overall = run_eval(split, assistant=who, out_dir=tmp_path / name)["systems"]["rag"]["metrics"]["overall"]
        figures[name] = (overall["hit_at_k"], overall["answer_accuracy"])
    (hit_f, acc_f), (hit_m, acc_m) = figures["faiss"], figures["milvus"]
    assert abs(hit_m - hit_f) <= 0.01 and abs(acc_m - acc_f) <= 0.01, figures


def test_a_chat_loaded_before_a_paper_is_removed_keeps_its_rows_right(
    settings: rag.Settings, assistant: rag.Assistant, tmp_path: Path
) -> None:
    """Removing the first paper moves every later row in Milvus; a chat process loaded before
    still reads each sentence's own vector (by key) and no longer returns the paper."""
    import numpy as np

    served = lite_settings(settings, tmp_path)
    rag.copy_index(served, "milvus")
    reader = rag.load(served)
    gone = reader.data.chunks[0].doc_id
    writer = milvus.MilvusIndex(served.milvus_target)
    writer.delete_papers([gone])
    last = len(reader.data.sentences) - 1
    expected = np.asarray(assistant.data.sentence_vectors[[0, last]], dtype=np.float32)
    got = reader.data.sentence_vectors[[0, last]]
    assert not got[0].any()  # the removed paper's sentence: nothing to read, scores 0
    np.testing.assert_array_equal(got[1], expected[1])
    hits = reader.retrieve(QUESTIONS[0], k=10)
    assert hits and gone not in {h.chunk.doc_id for h in hits}
