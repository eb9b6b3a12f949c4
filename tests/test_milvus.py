"""The index in Milvus Lite (a real embedded Milvus in tmp_path) against the project's own index:
what goes in comes back, searches rank as FAISS and rag/lexical.py do, filters hold, a failed
rebuild keeps the old index serving, and the faults a user meets are named."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import rag

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from rag import milvus  # noqa: E402
from rag.milvus import IndexReplacedError, MilvusIndex, MilvusUnavailableError  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ZH_QUESTIONS = [
    "中国跨境电商的萌芽阶段是哪几年？以什么事件为标志？",
    "跨境电商物流面临哪些问题？",
    "跨境电商综合试验区能从哪三个方面赋能中国跨境电商？",
    "目前海关对跨境电商零售进口业务的执法依据主要是哪两部法律法规？",
    "为什么我国外贸企业在跨境支付中会遇到交易安全性和有效性的难题？",
]
EN_QUESTIONS = ["What problems does cross-border logistics face?", "How fast did cross-border e-commerce grow?"]


def project_bm25_top(assistant: rag.Assistant, query, k: int) -> list[int]:  # noqa: ANN001 - rag Query
    """The project BM25's top k (rag/legs.py over rag/lexical.py), references excluded."""
    scores = assistant.retriever.legs["bm25"].score(query)
    allowed = np.array([c.kind != "references" for c in assistant.data.chunks]) & (scores > 0)
    ranked = np.where(allowed, scores, -np.inf)
    return [int(i) for i in np.argsort(-ranked, kind="stable")[:k] if np.isfinite(ranked[i])]


@pytest.fixture(scope="module")
def data(settings: rag.Settings):  # noqa: ANN201 - rag.store.IndexData
    """The project index with everything a write needs (serving leaves the BM25 tokens unread)."""
    from rag.store import FolderStore

    return FolderStore(settings).load(None, full=True)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory, data) -> MilvusIndex:  # noqa: ANN001
    """The project index written once into a Milvus Lite file (read-only tests share it)."""
    written = MilvusIndex(tmp_path_factory.mktemp("milvus") / "rag.db")
    written.write(data)
    return written


def test_the_index_comes_back_from_milvus_alone(index: MilvusIndex, data) -> None:  # noqa: ANN001
    back = index.load(vectors=True)
    assert back.chunks == data.chunks
    assert back.tokens == data.tokens
    assert back.sentences == data.sentences and back.vocab == data.vocab
    assert back.papers == data.papers and back.headings == data.headings
    for slot in data.vectors:
        np.testing.assert_array_equal(back.vectors[slot], data.vectors[slot])
    np.testing.assert_array_equal(back.sentence_vectors, data.sentence_vectors)
    np.testing.assert_array_equal(back.vocab_vectors, data.vocab_vectors)
    assert back.manifest["encoders"] == data.manifest["encoders"]
    assert back.manifest["files"] == data.manifest["files"]
    light = index.load()
    assert light.chunks == data.chunks and light.vectors == {} and light.sentence_vectors is None


def test_dense_search_returns_faiss_top_10(index: MilvusIndex, assistant: rag.Assistant, data) -> None:  # noqa: ANN001
    for question in ZH_QUESTIONS + EN_QUESTIONS:
        query = assistant.retriever.embed(question, use_bm25=False)
        for slot, vector in (("dense", query.dense), ("use", query.use)):
            sims, ids = data.faiss[slot].search(vector[None, :].astype(np.float32), 10)
            rows, scores = index.search(slot, vector, 10, exclude_references=False)
            assert list(rows) == list(ids[0]), (question, slot)
            np.testing.assert_allclose(scores, sims[0], atol=1e-5)


def test_bm25_ranks_as_the_project_bm25(index: MilvusIndex, assistant: rag.Assistant, data) -> None:  # noqa: ANN001
    """Measured on all 215 Chinese dev+test questions by bench/bench_milvus.py: the same top 10
    in the same order for every one; here on a sample."""
    overlaps = []
    for question in ZH_QUESTIONS:
        mine = project_bm25_top(assistant, assistant.retriever.embed(question, use_dense=False), 10)
        theirs = list(index.bm25(question, 10).rows)
        overlaps.append(len(set(mine) & set(theirs)) / len(mine))
        assert theirs[0] == mine[0], question
    assert np.mean(overlaps) >= 0.98, overlaps


def test_references_and_papers_are_filtered_on_the_engine(index: MilvusIndex, data) -> None:  # noqa: ANN001
    ref = next(i for i, c in enumerate(data.chunks) if c.kind == "references")
    vector = data.vectors["dense"][ref]
    assert index.search("dense", vector, 5, exclude_references=False).rows[0] == ref
    rows = index.search("dense", vector, 50).rows
    assert ref not in rows and all(data.chunks[r].kind != "references" for r in rows)
    papers = sorted({c.doc_id for c in data.chunks})[:2]
    for ranked in (index.search("dense", vector, 50, doc_ids=papers), index.bm25("跨境电商物流", 50, doc_ids=papers)):
        assert len(ranked) and {data.chunks[r].doc_id for r in ranked.rows} <= set(papers)
    assert len(index.bm25("跨境电商物流", 10, doc_ids=[])) == 10  # no papers selected: all, as the retriever


def test_sentence_vectors_are_those_of_the_chunks_sentences(index: MilvusIndex, assistant: rag.Assistant, data) -> None:  # noqa: ANN001
    wanted = [3, 40, 41, 100]
    spans = [(data.chunks[c].doc_id, data.chunks[c].start, data.chunks[c].end) for c in wanted]
    expected = [  # as the sentence leg gathers them: every sentence within a chunk's span in its paper
        row
        for row, (ci, s, e) in enumerate(data.sentences)
        if any(data.chunks[ci].doc_id == d and lo <= s and e <= hi for d, lo, hi in spans)
    ]
    rows, vectors = index.sentence_vectors(wanted)
    assert list(rows) == expected
    np.testing.assert_array_equal(vectors, data.sentence_vectors[expected])


def test_bridge_terms_as_in_memory(index: MilvusIndex, assistant: rag.Assistant, data) -> None:  # noqa: ANN001
    from rag.lexical import bridge_terms

    words = assistant.retriever.bridge.encode_queries(["payment", "logistics", "province"])
    assert index.bridge_terms(words, min_similarity=0.6, per_word=2) == bridge_terms(
        words, list(data.vocab), data.vocab_vectors, min_similarity=0.6, per_word=2
    )


def test_a_write_failing_half_way_leaves_the_alias_on_the_old_index(
    tmp_path: Path,
    data,
    monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
) -> None:
    store = MilvusIndex(tmp_path / "rag.db")
    old = store.write(data)
    # A chunk Milvus refuses (longer than a VARCHAR holds) in the third batch of 50.
    chunks = list(data.chunks)
    chunks[120] = replace(chunks[120], text="长" * 70_000)
    monkeypatch.setattr(milvus, "INSERT_BATCH", 50)
    with pytest.raises(rag.RagError, match=f"still serves {old}"):
        store.write(replace(data, chunks=tuple(chunks)))
    reader = MilvusIndex(tmp_path / "rag.db")
    assert reader.generation() == old
    assert reader._generations() == [old]  # the half-written collections are gone
    assert list(reader.search("dense", data.vectors["dense"][7], 1).rows) == [7]


def test_a_rebuild_switches_readers_and_drops_the_old_generation(tmp_path: Path, data) -> None:  # noqa: ANN001
    writer = MilvusIndex(tmp_path / "rag.db")
    first = writer.write(data)
    reader = MilvusIndex(tmp_path / "rag.db")
    assert reader.generation() == first
    second = writer.write(data)
    assert second != first and writer._generations() == [second]
    with pytest.raises(IndexReplacedError, match="load it again"):
        reader.search("dense", data.vectors["dense"][0], 3)
    reader.load()
    assert reader.generation() == second


def test_papers_are_removed_and_added_back_one_by_one(tmp_path: Path, data, assistant: rag.Assistant) -> None:  # noqa: ANN001
    store = MilvusIndex(tmp_path / "rag.db")
    store.write(data)
    gone = data.chunks[60].doc_id  # a paper in the middle: the rows after it move
    store.delete_papers([gone])
    without = store.load(vectors=True)
    keep = [i for i, c in enumerate(data.chunks) if c.doc_id != gone]
    new_row = {old: new for new, old in enumerate(keep)}
    assert without.chunks == tuple(data.chunks[i] for i in keep)
    assert without.tokens == tuple(data.tokens[i] for i in keep)
    np.testing.assert_array_equal(without.vectors["dense"], data.vectors["dense"][keep])
    assert without.sentences == tuple((new_row[ci], s, e) for ci, s, e in data.sentences if ci in new_row)
    assert gone not in without.papers and gone not in {h.doc_id for h in without.headings}
    assert all(e["doc_id"] != gone for e in without.manifest["files"].values())
    assert gone not in {data.chunks[r].doc_id for r in keep if r in store.bm25("跨境电商", 100).rows}

    store.upsert_papers(data, [gone])
    back = store.load(vectors=True)
    assert back.chunks == data.chunks and back.tokens == data.tokens and back.sentences == data.sentences
    assert back.papers == data.papers and back.headings == data.headings
    np.testing.assert_array_equal(back.sentence_vectors, data.sentence_vectors)
    # BM25 after the updates still ranks as the project's (on Lite every row is rewritten so that
    # one segment's statistics score them all).
    for question in ZH_QUESTIONS:
        query = assistant.retriever.embed(question)
        _, ids = data.faiss["dense"].search(query.dense[None, :].astype(np.float32), 10)
        assert list(store.search("dense", query.dense, 10, exclude_references=False).rows) == list(ids[0])
        assert list(store.bm25(query.tokens, 10).rows) == project_bm25_top(assistant, query, 10), question


def test_an_unreachable_server_is_named_with_what_to_check() -> None:
    started = time.monotonic()
    with pytest.raises(MilvusUnavailableError) as caught:
        MilvusIndex("http://127.0.0.1:1", timeout=2)
    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert "http://127.0.0.1:1" in message and "running" in message and "RAG_MILVUS_URI" in message
    assert isinstance(caught.value, rag.RagError)


def test_a_local_uri_must_be_a_lite_file(tmp_path: Path) -> None:
    with pytest.raises(rag.RagError, match=r"must end in \.db"):
        MilvusIndex(tmp_path / "milvus")


def test_an_index_built_with_another_embedder_is_refused(index: MilvusIndex, settings: rag.Settings) -> None:
    from rag.indexing import expected_signature

    expected = expected_signature(settings)
    index.check_compatible(expected)
    other = dict(expected, encoders=dict(expected["encoders"], dense="bge-small-zh"))
    with pytest.raises(rag.IndexMismatchError) as caught:
        index.check_compatible(other)
    assert '"e5-small"' in str(caught.value) and '"bge-small-zh"' in str(caught.value)
    assert "rag index --rebuild" in str(caught.value)


def test_another_schema_version_is_detected_and_a_rebuild_advised(
    index: MilvusIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(milvus, "SCHEMA_VERSION", milvus.SCHEMA_VERSION + 1)
    reader = MilvusIndex(index.uri)
    now = milvus.SCHEMA_VERSION - 1
    expected = rf"schema version {now}, this version of rag reads {now + 1}.*--rebuild"
    with pytest.raises(rag.IndexMismatchError, match=expected):
        reader.load()


def test_a_generation_laid_out_otherwise_is_refused_and_a_rebuild_replaces_it(tmp_path: Path, data) -> None:  # noqa: ANN001
    """A schema change that is not in the stored record: the alias's generation lacks a collection
    this version writes (as one written by another version of rag, or another program, would).
    Real Milvus Lite, the collection really dropped: refused with "rebuild", then rebuilt."""
    writer = MilvusIndex(tmp_path / "rag.db")
    first = writer.write(data)
    writer._client.drop_collection(f"{first}_sentences")
    with pytest.raises(rag.IndexMismatchError) as caught:
        MilvusIndex(tmp_path / "rag.db").load()
    message = str(caught.value)
    assert f"{first}_sentences" in message and "rag index --rebuild" in message and str(tmp_path) in message
    second = writer.write(data)  # what `rag index --rebuild` does: a new generation, the old one dropped
    assert writer._generations() == [second]
    assert MilvusIndex(tmp_path / "rag.db").load().chunks == data.chunks


def test_a_missing_index_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(rag.IndexNotFoundError, match="rag index"):
        MilvusIndex(tmp_path / "empty.db").load()


def test_importing_the_module_does_not_import_pymilvus() -> None:
    code = (
        "import sys, rag, rag.milvus, rag.milvus_store; from rag.store import open_store;"
        "open_store(rag.Settings.load(store='milvus')); print('pymilvus' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert json.loads(out.stdout.strip().lower()) is False
