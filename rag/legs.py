"""Retrieval legs: each scores every chunk for a query in its own way; rag/retrieve.py fuses
their rankings with the weights in Tuning.leg_weights. Adding a leg is one class here:

    @leg
    class MyLeg(Leg):
        name = "mine"                    # the key of its weight in Tuning.leg_weights
        family = "dense"                 # switched off with use_dense=False ("lexical": use_bm25)
        needs = ("vectors:dense",)       # index artefacts it reads (IndexData.has)
        def score(self, query): ...      # (n_chunks,) scores, or None when it has nothing to say

A reranker is a leg with `stage = "rerank"`: it reorders the fused top hits instead. A leg whose
cost grows with what it scores declares `scope = "candidates"` and scores only the chunks the
library-wide legs ranked highest."""

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
    from .store import IndexData, Where
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
    where: Where | None = None  # the chunks the search may return (a store may filter on it)

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
    # "library": scores every chunk; "candidates": scores only the chunks the library legs put in
    # their top Tuning.dense_candidates (score(query, candidates) with their indexes)
    scope: ClassVar[str] = "library"
    lexical_positive_only: ClassVar[bool] = False  # only chunks with a positive score are ranked

    def __init__(self, data: IndexData, settings: Settings, tuning: Tuning) -> None:
        self.data = data
        self.settings = settings
        self.tuning = tuning
        self.n = len(data.chunks)

    def score(self, query: Query, candidates: np.ndarray | None = None) -> np.ndarray | None:
        """(n_chunks,) scores, higher is better, or None when the leg has nothing to say.
        `candidates` (chunk indexes) is given to legs whose scope is "candidates"."""
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


def _nearest_scores(data: IndexData, slot: str, vector: np.ndarray, candidates: int, where: Where | None) -> np.ndarray:
    """Inner products of the slot's `candidates` nearest chunks (IndexData.search); every other
    chunk gets the lowest cosine, -1, and adds nothing to the fusion."""
    import numpy as np

    ids, sims = data.search(slot, vector, candidates, where)
    out = np.full(len(data.chunks), -1.0, dtype=np.float32)
    out[ids] = sims
    return out


@leg
class DenseLeg(Leg):
    """Cosine of the question's e5 vector with each chunk's."""

    name = "dense"
    needs = ("vectors:dense",)

    def score(self, query: Query) -> np.ndarray | None:
        if query.dense is None:
            return None
        return _nearest_scores(self.data, "dense", query.dense, self.tuning.dense_candidates, query.where)


@leg
class UseChunkLeg(Leg):
    """Cosine of the question's cross-lingual (USE) vector with each chunk's."""

    name = "use"
    needs = ("vectors:use",)

    def score(self, query: Query) -> np.ndarray | None:
        if query.use is None:
            return None
        return _nearest_scores(self.data, "use", query.use, self.tuning.dense_candidates, query.where)


@leg
class UseSentenceLeg(Leg):
    """Per chunk, the USE cosine of its best-matching sentence with the question: a chunk that
    holds one sentence on the question ranks high even when the rest is about something else.
    Scores only the candidates the library-wide legs found (their top Tuning.dense_candidates
    each), so a question reads a few thousand sentence vectors whatever the library's size."""

    name = "sent"
    needs = ("sentence_vectors",)
    scope = "candidates"

    @cached_property
    def _table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Sentence rows ordered by (paper, start), with sortable (paper, start) and (paper, end)
        keys, and each chunk's (paper, start) and (paper, end) keys: a chunk's sentences are the
        rows between two binary searches."""
        import numpy as np

        codes: dict[str, int] = {}
        chunk_doc = np.array([codes.setdefault(c.doc_id, len(codes)) for c in self.data.chunks], dtype=np.int64)
        chunk_start = np.array([c.start for c in self.data.chunks], dtype=np.int64)
        chunk_end = np.array([c.end for c in self.data.chunks], dtype=np.int64)
        sent = np.asarray(self.data.sentences, dtype=np.int64).reshape(-1, 3)
        sent_doc = chunk_doc[sent[:, 0]]
        order = np.lexsort((sent[:, 2], sent[:, 1], sent_doc))
        shift = np.int64(1) << 40  # character offsets stay far below 2**40
        start_keys = sent_doc[order] * shift + sent[order, 1]
        end_keys = sent_doc[order] * shift + sent[order, 2]
        return order, start_keys, end_keys, chunk_doc * shift + chunk_start, chunk_doc * shift + chunk_end

    def score(self, query: Query, candidates: np.ndarray | None = None) -> np.ndarray | None:
        import numpy as np

        if query.use is None or self.data.sentence_vectors is None or not len(self.data.sentences):
            return None
        order, start_keys, end_keys, chunk_lo, chunk_hi = self._table
        chunks = np.arange(self.n) if candidates is None else np.asarray(candidates, dtype=np.int64)
        lo = np.searchsorted(start_keys, chunk_lo[chunks], side="left")
        hi = np.maximum(lo, np.searchsorted(end_keys, chunk_hi[chunks], side="right"))
        counts = hi - lo
        out = np.full(self.n, -1.0, dtype=np.float32)
        has = counts > 0
        if not has.any():
            return out
        lo, counts, chunks = lo[has], counts[has], chunks[has]
        firsts = np.cumsum(counts) - counts  # where each chunk's run starts in the gathered rows
        picks = np.arange(counts.sum()) - np.repeat(firsts - lo, counts)
        rows, inverse = np.unique(order[picks], return_inverse=True)  # read each row once, in file order
        sims = (np.asarray(self.data.sentence_vectors[rows], dtype=np.float32) @ query.use)[inverse]
        out[chunks] = np.maximum.reduceat(sims, firsts)
        return out


@leg
class Bm25Leg(Leg):
    """BM25 (bm25s) over the jieba tokens of each chunk and its section heading."""

    name = "bm25"
    family = "lexical"
    needs = ("bm25",)
    lexical_positive_only = True

    @property
    def lexical(self):  # noqa: ANN201 - rag.lexical.Lexical
        return self.data.lexical  # one BM25 index per loaded library, shared by the legs using it

    def score(self, query: Query) -> np.ndarray | None:
        return self._scores(query.tokens, query)

    def _scores(self, terms: tuple[str, ...], query: Query) -> np.ndarray | None:
        """BM25 of every chunk; a store that ranks on its engine fills the best dense_candidates."""
        if not terms:
            return None
        return self.lexical.scores(list(terms), where=query.where, depth=self.tuning.dense_candidates)


@leg
class BridgedBm25Leg(Bm25Leg):
    """BM25 with the Chinese terms the USE bridge found for an English question's words."""

    name = "bm25x"
    needs = ("bm25", "vocab_vectors")

    def score(self, query: Query) -> np.ndarray | None:
        return self._scores(query.bridged, query)


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
