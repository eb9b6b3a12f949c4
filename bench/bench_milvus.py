"""The index in Milvus Lite beside the in-process one: how closely Milvus's BM25 ranks as the
project's BM25 (rag/lexical.py) for each analyser, whether dense search returns FAISS's top 10,
insert rate and query latency on the project index and on a synthetic one. Prints figures.

    .venv/bin/python bench/bench_milvus.py                 # the project index (RAG_INDEX_DIR)
    .venv/bin/python bench/bench_milvus.py --synthetic 10000
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

import rag

ROOT = Path(__file__).resolve().parent.parent
K = 10


def questions(lang: str) -> list[str]:
    out = []
    for name in ("dev.jsonl", "test.jsonl"):
        for line in (ROOT / "eval" / "sets" / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                if row.get("lang") == lang:
                    out.append(row["question"])
    return out


def project_top(scores: np.ndarray, allowed: np.ndarray, k: int) -> list[int]:
    ranked = np.where(allowed & (scores > 0), scores, -np.inf)
    order = np.argsort(-ranked, kind="stable")[:k]
    return [int(i) for i in order if np.isfinite(ranked[i])]


def bm25_agreement(assistant: rag.Assistant, index: rag.MilvusIndex, qs: list[str]) -> dict[str, float]:
    """Mean overlap of the top 10 (as sets), share of questions with the same top 1 and the
    same top-10 order, references excluded as retrieval does."""
    retriever = assistant.retriever
    bm25 = retriever.legs["bm25"]
    allowed = np.array([c.kind != "references" for c in assistant.data.chunks])
    overlap, top1, same = [], 0, 0
    for q in qs:
        query = retriever.embed(q, use_dense=False)
        mine = project_top(bm25.score(query), allowed, K)
        theirs = [int(r) for r in index.bm25(list(query.tokens) if index_mode(index) == "tokens" else q, K).rows]
        overlap.append(len(set(mine) & set(theirs)) / len(mine) if mine else float(not theirs))
        top1 += mine[:1] == theirs[:1]
        same += mine == theirs
    return {"overlap@10": statistics.mean(overlap), "top1": top1 / len(qs), "same_order": same / len(qs)}


def index_mode(index: rag.MilvusIndex) -> str:
    return index.bm25_mode


def dense_agreement(assistant: rag.Assistant, index: rag.MilvusIndex, qs: list[str]) -> float:
    faiss_index = assistant.data.faiss["dense"]
    same = 0
    for q in qs:
        vec = assistant.retriever.embed(q, use_bm25=False).dense
        _, ids = faiss_index.search(vec[None, :].astype(np.float32), K)
        same += list(index.search("dense", vec, K, exclude_references=False).rows) == list(ids[0])
    return same / len(qs)


def timings(index: rag.MilvusIndex, vectors: np.ndarray, texts: list[str], rounds: int = 50) -> dict[str, float]:
    out = {}
    for label, call in (
        ("dense", lambda i: index.search("dense", vectors[i % len(vectors)], K)),
        ("bm25", lambda i: index.bm25(texts[i % len(texts)], K)),
    ):
        call(0)
        times = []
        for i in range(rounds):
            t = time.perf_counter()
            call(i)
            times.append((time.perf_counter() - t) * 1000)
        out[f"{label} p50 ms"] = statistics.median(times)
        out[f"{label} p95 ms"] = float(np.percentile(times, 95))
    return out


def in_process_timings(assistant: rag.Assistant, texts: list[str], rounds: int = 50) -> dict[str, float]:
    """The same two searches in process: FAISS over the e5 vectors, bm25s over the tokens."""
    data, retriever = assistant.data, assistant.retriever
    queries = [retriever.embed(t) for t in texts[:rounds]]
    out = {}
    for label, call in (
        ("faiss", lambda q: data.faiss["dense"].search(q.dense[None, :].astype(np.float32), K)),
        ("bm25s", lambda q: retriever.legs["bm25"].score(q)),
    ):
        call(queries[0])
        times = []
        for q in queries:
            t = time.perf_counter()
            call(q)
            times.append((time.perf_counter() - t) * 1000)
        out[f"{label} p50 ms"] = statistics.median(times)
    return out


def write_timed(index: rag.MilvusIndex, data) -> float:  # noqa: ANN001 - rag IndexData
    t = time.perf_counter()
    index.write(data)
    return len(data.chunks) / (time.perf_counter() - t)


def synthetic(data, n: int, seed: int = 0):  # noqa: ANN001, ANN201 - rag IndexData
    """n chunks: the project's texts and tokens reused (keys made unique), random unit vectors."""
    rng = np.random.default_rng(seed)
    base = len(data.chunks)
    chunks = tuple(
        replace(data.chunks[i % base], doc_id=f"{data.chunks[i % base].doc_id}-{i // base}") for i in range(n)
    )
    tokens = tuple(data.tokens[i % base] for i in range(n))
    vectors = {}
    for slot, vecs in data.vectors.items():
        v = rng.standard_normal((n, vecs.shape[1])).astype(np.float32)
        vectors[slot] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return replace(
        data,
        chunks=chunks,
        tokens=tokens,
        vectors=vectors,
        sentences=(),
        sentence_vectors=None,
        faiss={},
        manifest=dict(data.manifest, files={}),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", type=int, default=0, help="also time a synthetic index of N chunks")
    args = parser.parse_args()
    settings = rag.Settings.load()
    assistant = rag.load(settings)
    data = rag.open_store(settings).load(None, full=True)  # with the BM25 tokens a write needs
    zh = questions("zh")
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("tokens", "jieba"):
            index = rag.MilvusIndex(Path(tmp) / f"{mode}.db", bm25=mode)
            rate = write_timed(index, data)
            print(
                f"BM25 analyser {mode!r} over {len(data.chunks)} chunks, {len(zh)} Chinese questions:",
                {k: round(v, 3) for k, v in bm25_agreement(assistant, index, zh).items()},
            )
            if mode == "tokens":
                print(f"dense top-{K} identical to FAISS: {dense_agreement(assistant, index, zh):.3f} of questions")
                print(
                    f"insert {rate:,.0f} chunks/s;",
                    {k: round(v, 2) for k, v in timings(index, data.vectors["dense"], zh).items()},
                )
            index.close()
        print("in process:", {k: round(v, 3) for k, v in in_process_timings(assistant, zh).items()})
        if args.synthetic:
            big = synthetic(data, args.synthetic)
            index = rag.MilvusIndex(Path(tmp) / "synthetic.db")
            rate = write_timed(index, big)
            print(
                f"synthetic {args.synthetic:,} chunks: insert {rate:,.0f} chunks/s;",
                {k: round(v, 2) for k, v in timings(index, big.vectors["dense"], zh).items()},
            )
            index.close()


if __name__ == "__main__":
    main()
