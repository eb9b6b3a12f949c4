"""Libraries larger than this machine can embed, for measuring search, memory and loading at
scale (bench/bench_scale.py): a real index's papers repeated under new document ids until the
library holds the number of chunks asked for, each copy's vectors moved by a little random noise
so that no two copies are the same point.

Only the vectors are synthetic. Texts, BM25 tokens, sentences and the outline are the real
index's, so every retrieval leg and the answer path do their real work; a copy's text equals its
original's, which the distinct-hits step folds into one place, as it would a paper filed twice.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import RagError

if TYPE_CHECKING:
    import numpy as np

# Noise added to each copy's unit vectors, per dimension (standard deviation): 0.02 moves a
# 384-d unit vector by about 0.4 in length before renormalising, so a copy stays near its
# original (cosine ≈ 0.93) without coinciding with it: neighbourhoods keep the real index's shape.
COPY_NOISE = 0.02
COPY_SUFFIX = "~copy"


def scale_library(source_dir: Path, out_dir: Path, n_chunks: int, *, seed: int = 0) -> int:
    """Write into out_dir an index of at least `n_chunks` chunks made from the index in
    source_dir (copies of whole papers, so a copy of a paper is never cut short). Returns the
    number of chunks written. Raises RagError when source_dir holds no index or n_chunks < 1."""
    import numpy as np

    from . import store

    if n_chunks < 1:
        raise RagError(f"n_chunks must be at least 1, not {n_chunks}.")
    data = store.load_index(Path(source_dir))
    if not data.chunks:
        raise RagError(f"The index in {source_dir}/ has no chunks to repeat; build it with `rag index`.")
    rng = np.random.default_rng(seed)
    copies = -(-n_chunks // len(data.chunks))  # ceiling
    papers, chunks, tokens, sentences, headings, files = {}, [], [], [], [], {}
    vectors: dict[str, list[np.ndarray]] = {slot: [] for slot in data.vectors}
    sentence_vectors: list[np.ndarray] = []
    for j in range(copies):
        tag = "" if j == 0 else f"{COPY_SUFFIX}{j}"
        base = len(chunks)
        for doc_id, paper in data.papers.items():
            papers[doc_id + tag] = dataclasses.replace(paper, doc_id=doc_id + tag, source=paper.source + tag)
        for name, entry in data.manifest.get("files", {}).items():
            files[name + tag] = dict(entry, doc_id=str(entry.get("doc_id")) + tag) if isinstance(entry, dict) else entry
        chunks += [dataclasses.replace(c, doc_id=c.doc_id + tag) for c in data.chunks]
        tokens += data.tokens
        sentences += [(ci + base, s, e) for ci, s, e in data.sentences]
        headings += [dataclasses.replace(h, doc_id=h.doc_id + tag) for h in data.headings]
        for slot, vecs in data.vectors.items():
            vectors[slot].append(vecs if j == 0 else _moved(vecs, rng))
        if data.sentence_vectors is not None:
            sv = np.asarray(data.sentence_vectors, dtype=np.float32)
            sentence_vectors.append(sv if j == 0 else _moved(sv, rng))
    manifest = dict(data.manifest, files=files, synthetic={"source": str(source_dir), "copies": copies, "seed": seed})
    manifest["counts"] = dict(manifest.get("counts", {}), papers=len(papers), chunks=len(chunks), sentences=len(sentences))
    out = store.IndexData(
        manifest,
        papers,
        tuple(chunks),
        tuple(tokens),
        {slot: np.concatenate(parts) for slot, parts in vectors.items()},
        tuple(sentences),
        np.concatenate(sentence_vectors) if sentence_vectors else None,
        data.vocab,
        data.vocab_vectors,
        {},
        tuple(headings),
    )
    store.write_index(Path(out_dir), out)
    return len(chunks)


def _moved(vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    import numpy as np

    moved = np.asarray(vectors, dtype=np.float32) + rng.normal(0, COPY_NOISE, vectors.shape).astype(np.float32)
    moved /= np.linalg.norm(moved, axis=1, keepdims=True)
    return moved


# Share of the second real vector in a synthetic one (the first has 1 - MIX_SHARE): points fill
# the space between real chunks, as a larger library on the same subjects would, rather than
# piling up as near-copies of the few thousand real ones.
MIX_SHARE = 0.35


def synthetic_vectors(
    source_dir: Path, n: int, *, slot: str = "dense", seed: int = 0, batch: int = 100_000
) -> np.ndarray:
    """n unit vectors (n, dim) float32 for search-only measurements, drawn from the `slot`
    vectors of the index in source_dir: each a mix of two random real vectors (1 - MIX_SHARE and
    MIX_SHARE) plus COPY_NOISE per dimension, renormalised. Raises RagError when the index has
    no such vectors."""
    import numpy as np

    from . import store

    data = store.load_index(Path(source_dir))
    if slot not in data.vectors or not len(data.vectors[slot]):
        raise RagError(f"The index in {source_dir}/ has no {slot!r} vectors to draw from; build it with `rag index`.")
    real = np.asarray(data.vectors[slot], dtype=np.float32)
    rng = np.random.default_rng(seed)
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    for lo in range(0, n, batch):
        hi = min(n, lo + batch)
        a = real[rng.integers(0, len(real), hi - lo)]
        b = real[rng.integers(0, len(real), hi - lo)]
        mixed = (1 - MIX_SHARE) * a + MIX_SHARE * b + rng.normal(0, COPY_NOISE, a.shape).astype(np.float32)
        out[lo:hi] = mixed / np.linalg.norm(mixed, axis=1, keepdims=True)
    return out
