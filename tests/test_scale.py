"""A library far larger than the five papers: served from disk (memory-mapped vectors and BM25,
no tokens read), the same answers when the papers sit among copies twenty times their size, HNSW
search that finds what exact search finds, a per-sentence leg that reads only its candidates,
and indexes written before these formats still served."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import rag
from rag.cite import sentences_with_markers

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [json.loads(line)["question"] for line in (ROOT / "eval" / "sets" / "dev.jsonl").open(encoding="utf-8")]


def _base(doc_id: str) -> str:
    return doc_id.split("~copy")[0]


@pytest.fixture(scope="module")
def library(settings: rag.Settings, tmp_path_factory: pytest.TempPathFactory) -> rag.Assistant:
    """The five papers repeated to 3,000 chunks (synthetic vectors, real texts)."""
    folder = tmp_path_factory.mktemp("library") / "index"
    written = rag.scale_library(settings.index_dir, folder, 3_000)
    assert written >= 3_000
    return rag.load(settings.with_(index_dir=folder))


def test_a_large_library_is_served_from_disk(library: rag.Assistant) -> None:
    data = library.data
    assert len(data.chunks) >= 3_000 and len(data.papers) >= 100
    assert data.tokens == ()  # BM25 comes from its saved index; the chunks' tokens are not read
    assert isinstance(data.vectors["dense"], np.memmap) and isinstance(data.sentence_vectors, np.memmap)
    assert data.sentence_vectors.dtype == np.float16


@pytest.mark.parametrize(
    "question", ["跨境电商综合试验区有哪些作用？", "What problems does cross-border e-commerce logistics face?"]
)
def test_the_papers_among_twenty_times_as_many_chunks_give_the_same_answer(
    assistant: rag.Assistant, library: rag.Assistant, question: str
) -> None:
    alone, among = assistant.ask(question), library.ask(question)
    assert not among.abstained and among.citations
    # The copies' vectors are moved by noise, so lower places may swap (a list answer may open with
    # its section heading); the lead evidence may not: it is quoted, from the same paper.
    assert alone.citations[0].sentence in among.answer
    assert _base(among.citations[0].doc_id) == alone.citations[0].doc_id
    quoted = [text.strip() for text, _ in sentences_with_markers(alone.answer)]
    shared = [text for text in quoted if text in among.answer]
    assert len(shared) >= len(quoted) / 2, (alone.answer, among.answer)
    hits = library.retrieve(question)
    assert any(h.legs.get("bm25", 0) > 0 for h in hits)  # the memory-mapped BM25 index answered


def test_hnsw_finds_what_exact_search_finds(settings: rag.Settings, assistant: rag.Assistant) -> None:
    vectors = rag.synthetic_vectors(settings.index_dir, 10_000, seed=1)
    exact = rag.build_vector_index(vectors)  # 10,000 <= EXACT_SEARCH_LIMIT: flat
    graph = rag.build_vector_index(vectors, exact_limit=5_000)
    queries = assistant.retriever.dense.encode_queries(QUESTIONS[:40])
    recall = []
    for q in queries:
        truth, sims = rag.nearest(exact, q, 10)
        found, _ = rag.nearest(graph, q, 10)
        assert np.allclose(sims, np.sort(vectors[truth] @ q)[::-1], atol=1e-5)  # exact is exact
        recall.append(len(set(truth.tolist()) & set(found.tolist())) / 10)
    assert float(np.mean(recall)) >= 0.95, np.mean(recall)


@pytest.mark.parametrize("question", QUESTIONS[:6])
def test_the_sentence_leg_scores_its_candidates_as_it_scores_the_whole_library(
    library: rag.Assistant, question: str
) -> None:
    retriever = library.retriever
    query = retriever.embed(question)
    leg = retriever.legs["sent"]
    everything = leg.score(query)
    scores = retriever.leg_scores(query)
    found = scores["sent"]
    assert everything is not None
    scored = np.flatnonzero(found > -1)
    assert 0 < len(scored) < len(library.data.chunks)  # not every chunk was read
    assert np.allclose(found[scored], everything[scored], atol=1e-6)


def test_an_index_written_before_bm25_sentence_arrays_and_body_were_saved_still_answers(
    settings: rag.Settings, assistant: rag.Assistant, tmp_path: Path
) -> None:
    folder = tmp_path / "index"
    shutil.copytree(settings.index_dir, folder, ignore=shutil.ignore_patterns("cache", "build.lock"))
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    gen = folder / manifest["generation"]
    spans = np.load(gen / "sentences.npy").tolist()
    (gen / "sentences.jsonl").write_text("".join(json.dumps(s) + "\n" for s in spans), encoding="utf-8")
    (gen / "sentences.npy").unlink()
    shutil.rmtree(gen / "bm25")
    (gen / "body.txt").unlink()
    old = rag.load(settings.with_(index_dir=folder))
    assert len(old.data.tokens) == len(old.data.chunks)  # BM25 is built from the tokens instead
    assert old.abstainer._body_text == assistant.abstainer._body_text  # assembled as the index would store it
    question = "跨境电商物流面临哪些问题？"
    assert [c.sentence for c in old.ask(question).citations] == [c.sentence for c in assistant.ask(question).citations]
