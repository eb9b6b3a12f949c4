"""Retrieval legs: each scores every chunk for a query in its own way; rag/retrieve.py fuses
their rankings with the weights in Tuning.leg_weights. Adding a leg is one class here:

    @leg
    class MyLeg(Leg):
        name = "mine"                    # the key of its weight in Tuning.leg_weights
        family = "dense"                 # switched off with use_dense=False ("lexical": use_bm25)
        needs = ("vectors:dense",)       # index artefacts it reads (IndexData.has)
        def score(self, query): ...      # (n_chunks,) scores, or None when it has nothing to say

A reranker is a leg with `stage = "rerank"`: it reorders the fused top hits instead."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, ClassVar

from .errors import ModelNotAvailableError

if TYPE_CHECKING:
    import numpy as np

    from .config import Settings
    from .store import IndexData
    from .tuning import Tuning
    from .types import Hit

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Query:
    """A question prepared for the legs: its language, vectors and terms."""

    text: str
    lang: str  # "zh" | "en"
    dense: np.ndarray | None  # query vector of the dense embedder (e5), (dim,)
    use: np.ndarray | None  # query vector of the cross-lingual encoder (USE), (512,)
    tokens: tuple[str, ...]  # BM25 terms of the question
    bridged: tuple[str, ...] = ()  # Chinese index terms found for an English question's words
    folded: str = ""  # the text as matched against the papers (normalised)
    form_text: str = ""  # where the question's form (list, how-many, …) is read; "" = text

    @property
    def form(self) -> str:
        """The text whose shape says what kind of answer is wanted: for a follow-up searched
        together with the last question, the follow-up itself when it has a form of its own."""
        return self.form_text or self.text


class Leg:
    name: ClassVar[str]
    family: ClassVar[str] = "dense"  # "dense" | "lexical"
    needs: ClassVar[tuple[str, ...]] = ()
    stage: ClassVar[str] = "fuse"  # "fuse" | "rerank"
    lexical_positive_only: ClassVar[bool] = False  # only chunks with a positive score are ranked

    def __init__(self, data: IndexData, settings: Settings, tuning: Tuning) -> None:
        self.data = data
        self.settings = settings
        self.tuning = tuning
        self.n = len(data.chunks)

    def score(self, query: Query) -> np.ndarray | None:
        raise NotImplementedError

    def rerank(self, query: Query, hits: Sequence[Hit]) -> list[Hit]:
        raise NotImplementedError


LEGS: dict[str, type[Leg]] = {}


def leg(cls: type[Leg]) -> type[Leg]:
    """Register a leg class under its name."""
    if cls.name in LEGS:
        raise ValueError(f"a retrieval leg named {cls.name!r} is already registered")
    LEGS[cls.name] = cls
    return cls


def _faiss_scores(data: IndexData, slot: str, vector: np.ndarray, candidates: int) -> np.ndarray:
    """Inner products from the slot's FAISS index for its best `candidates` chunks; the chunks it
    does not return get the lowest cosine, -1."""
    import numpy as np

    n = len(data.chunks)
    index = data.faiss.get(slot)
    if index is None:  # an IndexData assembled in memory, without FAISS files
        return data.vectors[slot] @ vector
    sims, ids = index.search(np.ascontiguousarray(vector[None, :], dtype=np.float32), min(n, candidates))
    out = np.full(n, -1.0, dtype=np.float32)
    keep = ids[0] >= 0
    out[ids[0][keep]] = sims[0][keep]
    return out


@leg
class DenseLeg(Leg):
    """Cosine of the question's e5 vector with each chunk's."""

    name = "dense"
    needs = ("vectors:dense",)

    def score(self, query: Query) -> np.ndarray | None:
        if query.dense is None:
            return None
        return _faiss_scores(self.data, "dense", query.dense, self.tuning.dense_candidates)


@leg
class UseChunkLeg(Leg):
    """Cosine of the question's cross-lingual (USE) vector with each chunk's."""

    name = "use"
    needs = ("vectors:use",)

    def score(self, query: Query) -> np.ndarray | None:
        if query.use is None:
            return None
        return _faiss_scores(self.data, "use", query.use, self.tuning.dense_candidates)


@leg
class UseSentenceLeg(Leg):
    """Per chunk, the USE cosine of its best-matching sentence with the question: a chunk that
    holds one sentence on the question ranks high even when the rest is about something else."""

    name = "sent"
    needs = ("sentence_vectors",)

    @cached_property
    def _rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Sentence rows of every chunk, flattened, with offsets (an overlap sentence is in both)."""
        import numpy as np

        by_doc: dict[str, list[tuple[int, int, int]]] = {}
        for row, (ci, s, e) in enumerate(self.data.sentences):
            by_doc.setdefault(self.data.chunks[ci].doc_id, []).append((s, e, row))
        rows: list[int] = []
        offsets = [0]
        for chunk in self.data.chunks:
            rows += [r for s, e, r in by_doc.get(chunk.doc_id, []) if s >= chunk.start and e <= chunk.end]
            offsets.append(len(rows))
        return np.array(rows, dtype=np.int64), np.array(offsets, dtype=np.int64)

    def score(self, query: Query) -> np.ndarray | None:
        import numpy as np

        if query.use is None or self.data.sentence_vectors is None or not len(self.data.sentences):
            return None
        rows, offsets = self._rows
        gathered = (self.data.sentence_vectors @ query.use)[rows]
        out = np.full(self.n, -1.0, dtype=np.float32)
        nonempty = offsets[1:] > offsets[:-1]
        if len(gathered):  # non-empty segments are contiguous, so reduceat sees exactly each one
            out[nonempty] = np.maximum.reduceat(gathered, offsets[:-1][nonempty])
        return out


@leg
class Bm25Leg(Leg):
    """BM25 (bm25s) over the jieba tokens of each chunk and its section heading."""

    name = "bm25"
    family = "lexical"
    needs = ("tokens",)
    lexical_positive_only = True

    @cached_property
    def lexical(self):  # noqa: ANN201 - rag.lexical.Lexical
        from .lexical import Lexical

        return Lexical([list(t) for t in self.data.tokens])

    def score(self, query: Query) -> np.ndarray | None:
        return self.lexical.scores(list(query.tokens)) if query.tokens else None


@leg
class BridgedBm25Leg(Bm25Leg):
    """BM25 with the Chinese terms the USE bridge found for an English question's words."""

    name = "bm25x"
    needs = ("tokens", "vocab_vectors")

    def score(self, query: Query) -> np.ndarray | None:
        return self.lexical.scores(list(query.bridged)) if query.bridged else None


_CROSS_ENCODERS: dict[str, object] = {}


@leg
class CrossEncoderReranker(Leg):
    """Reorders the fused top hits with a sentence-transformers CrossEncoder (RAG_RERANKER, off
    unless set; any model name or local folder)."""

    name = "rerank"
    stage = "rerank"

    def rerank(self, query: Query, hits: Sequence[Hit]) -> list[Hit]:
        from .types import Hit

        name = self.settings.reranker or ""
        if name not in _CROSS_ENCODERS:
            try:
                from sentence_transformers import CrossEncoder

                _CROSS_ENCODERS[name] = CrossEncoder(name, device="cpu")
            except Exception as exc:
                raise ModelNotAvailableError(
                    f"Cannot load reranker {name!r} ({exc}). Unset RAG_RERANKER or give a local model folder."
                ) from exc
        scores = _CROSS_ENCODERS[name].predict([(query.text, h.chunk.text) for h in hits])  # type: ignore[attr-defined]
        order = sorted(range(len(hits)), key=lambda i: -float(scores[i]))
        return [
            Hit(hits[i].chunk, float(scores[i]), r + 1, dict(hits[i].legs, rerank=float(scores[i])))
            for r, i in enumerate(order)
        ]
