"""The dense search structure of one encoder's chunk vectors (FAISS), chosen by library size.

Up to EXACT_SEARCH_LIMIT vectors: exact inner-product search (IndexFlatIP), read from disk
memory-mapped, so a loaded index costs page cache rather than the process's own memory. Past it:
an HNSW graph (IndexHNSWFlat), whose query time grows with log N instead of N, at a recall
against exact search that bench/bench_scale.py measures and README's Figures report.

A single question is searched on one thread: with two cores shared by the chat server, the
answer path and the other leg, OpenMP's worker threads cost more in waiting than they save
(profiled at 11k chunks under load: 15 ms per flat search with OpenMP's threads, 2 ms on one).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

# Exact search up to this many vectors. Measured with bench/bench_scale.py on one core of the shared
# machine: a flat 384-d query costs 0.12-0.22 ms per thousand vectors (150 ms at 1M), so 50,000
# vectors is 6-11 ms per dense leg; past it HNSW answers in 1-2 ms. Its recall@10 against exact
# search: >= 0.95 at 10k vectors (tests/test_scale.py), 0.958 at 1M with efSearch 1024 (README).
EXACT_SEARCH_LIMIT = 50_000
HNSW_M = 32  # graph neighbours per vector: 32 is FAISS's usual choice for 384–768 dimensions
HNSW_EF_CONSTRUCTION = 80  # candidate list while inserting: better graph, slower build
# Candidate list while searching. At 200k synthetic e5 vectors, recall@10 against exact search
# by efSearch: 64 -> 0.928 (0.4 ms), 128 -> 0.967 (0.6 ms), 256 -> 0.982 (1.0 ms), 512 -> 0.995
# (1.8 ms). At 1M (bench_scale.py --sizes 1m, 2026-12-08, one thread, p50): 512 -> 0.928 (3.2 ms),
# 1024 -> 0.958 (5.7 ms), 2048 -> 0.983 (11.3 ms). 1024 keeps recall@10 >= 0.95 up to 1M under 10 ms.
HNSW_EF_SEARCH = 1024


def build_vector_index(vectors: np.ndarray, *, exact_limit: int = EXACT_SEARCH_LIMIT) -> Any:
    """A FAISS index over L2-normalised float32 vectors of shape (n, dim), searched by inner
    product (= cosine): flat when n ≤ exact_limit, HNSW above."""
    import faiss
    import numpy as np

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape if vectors.ndim == 2 else (0, 1)
    if n > exact_limit:
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        index = faiss.IndexFlatIP(dim)
    if n:
        index.add(vectors)
    return index


def write_vector_index(index: Any, path: Path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def read_vector_index(path: Path) -> Any:
    """The index in `path`; a flat index is memory-mapped (FAISS IO_FLAG_MMAP_IFC), an HNSW
    graph is read into memory with its efSearch set to HNSW_EF_SEARCH."""
    import faiss

    index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    return index


def nearest(index: Any, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest vectors to one query vector of shape (dim,): (ids int64 (≤k,), inner
    products float32 (≤k,)), best first; fewer than k when the index holds fewer."""
    import faiss
    import numpy as np

    k = min(k, index.ntotal)
    if k <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        sims, ids = index.search(np.ascontiguousarray(vector[None, :], dtype=np.float32), k)
    finally:
        faiss.omp_set_num_threads(previous)
    keep = ids[0] >= 0
    return ids[0][keep].astype(np.int64), sims[0][keep].astype(np.float32)
