"""Hybrid search: dense legs (e5, and the USE bridge for English questions) and BM25, fused
by weighted reciprocal rank; references excluded by default; optional cross-encoder rerank."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from .chunking import language_of
from .config import Settings
from .embeddings import Encoder, bridge_encoder, dense_encoder
from .errors import ModelNotAvailableError
from .lexical import Lexical, tokenize
from .store import IndexData
from .types import Hit

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

RRF_K = 60
# Leg weights per question language, tuned on eval/questions.jsonl (see README, "Figures").
# Chinese questions: e5 and BM25 agree well; the USE bridge adds a little.
# English questions: BM25 (Chinese tokens) gets nothing; USE aligns zh<->en far better than e5.
WEIGHTS = {
    "zh": {"dense": 1.0, "bm25": 1.0, "use": 0.5},
    "en": {"dense": 0.6, "bm25": 0.0, "use": 1.0},
}
# English chunks (the abstracts) match an English question's language rather than its content:
# their fused score is scaled down so they surface only when they are really about the question.
EN_CHUNK_FACTOR = {"zh": 1.0, "en": 0.5}


@dataclass(frozen=True)
class Query:
    text: str
    lang: str
    dense: np.ndarray | None
    use: np.ndarray | None
    tokens: tuple[str, ...]


class Retriever:
    def __init__(self, data: IndexData, settings: Settings) -> None:
        self.data = data
        self.settings = settings
        self.n = len(data.chunks)

    @cached_property
    def dense(self) -> Encoder:
        return dense_encoder(self.settings)

    @cached_property
    def bridge(self) -> Encoder | None:
        return bridge_encoder(self.settings) if "use" in self.data.vectors else None

    @cached_property
    def lexical(self) -> Lexical:
        return Lexical([list(t) for t in self.data.tokens])

    @cached_property
    def _is_reference(self) -> np.ndarray:
        import numpy as np

        return np.array([c.kind == "references" for c in self.data.chunks], dtype=bool)

    @cached_property
    def _is_english(self) -> np.ndarray:
        import numpy as np

        return np.array([c.lang == "en" for c in self.data.chunks], dtype=bool)

    def warm_up(self) -> None:
        """Load models and the BM25 index now rather than on the first question."""
        self.embed("warm up", use_dense=True)
        _ = self.lexical

    def embed(self, question: str, *, use_dense: bool = True, use_bm25: bool = True) -> Query:
        lang = language_of(question)
        dense = self.dense.encode_queries([question])[0] if use_dense else None
        use = self.bridge.encode_queries([question])[0] if (use_dense and self.bridge is not None) else None
        tokens = tuple(tokenize(question)) if use_bm25 else ()
        return Query(question, lang, dense, use, tokens)

    def leg_scores(self, query: Query) -> dict[str, np.ndarray]:
        """Raw score of every chunk for each active leg (cosine for dense, BM25 for lexical)."""
        scores: dict[str, np.ndarray] = {}
        if query.dense is not None:
            scores["dense"] = self.data.vectors["dense"] @ query.dense
        if query.use is not None:
            scores["use"] = self.data.vectors["use"] @ query.use
        if query.tokens:
            scores["bm25"] = self.lexical.scores(list(query.tokens))
        return scores

    def search(
        self,
        query: Query,
        k: int,
        *,
        doc_ids: frozenset[str] | None = None,
        timings: dict[str, float] | None = None,
    ) -> list[Hit]:
        import numpy as np

        t = time.perf_counter()
        allowed = np.ones(self.n, dtype=bool)
        if not self.settings.include_references:
            allowed &= ~self._is_reference
        if doc_ids:
            allowed &= np.array([c.doc_id in doc_ids for c in self.data.chunks], dtype=bool)
        legs = self.leg_scores(query)
        fused = np.zeros(self.n, dtype=np.float64)
        weights = WEIGHTS.get(query.lang, WEIGHTS["zh"])
        for leg, raw in legs.items():
            weight = weights.get(leg, 0.0)
            if weight == 0.0:
                continue
            masked = np.where(allowed, raw, -np.inf)
            order = np.argsort(-masked, kind="stable")
            ranks = np.empty(self.n, dtype=np.float64)
            ranks[order] = np.arange(1, self.n + 1)
            contributes = allowed & (raw > 0 if leg == "bm25" else allowed)
            fused += np.where(contributes, weight / (RRF_K + ranks), 0.0)
        fused = np.where(self._is_english, fused * EN_CHUNK_FACTOR.get(query.lang, 1.0), fused)
        fused = np.where(allowed, fused, -np.inf)
        top = [int(i) for i in np.argsort(-fused, kind="stable")[:k] if np.isfinite(fused[i]) and fused[i] > 0]
        hits = [
            Hit(self.data.chunks[i], float(fused[i]), r + 1, {leg: float(s[i]) for leg, s in legs.items()})
            for r, i in enumerate(top)
        ]
        if self.settings.reranker:
            hits = rerank(self.settings.reranker, query.text, hits)
        if timings is not None:
            timings["search"] = (time.perf_counter() - t) * 1000
        return hits


_RERANKERS: dict[str, object] = {}


def rerank(model_name: str, question: str, hits: list[Hit]) -> list[Hit]:
    """Reorder hits with a sentence-transformers CrossEncoder (off unless RAG_RERANKER is set)."""
    if model_name not in _RERANKERS:
        try:
            from sentence_transformers import CrossEncoder

            _RERANKERS[model_name] = CrossEncoder(model_name, device="cpu")
        except Exception as exc:
            raise ModelNotAvailableError(
                f"Cannot load reranker {model_name!r} ({exc}). Unset RAG_RERANKER or give a local model folder."
            ) from exc
    model = _RERANKERS[model_name]
    scores = model.predict([(question, h.chunk.text) for h in hits])  # type: ignore[attr-defined]
    order = sorted(range(len(hits)), key=lambda i: -float(scores[i]))
    return [
        Hit(hits[i].chunk, float(scores[i]), r + 1, dict(hits[i].legs, rerank=float(scores[i])))
        for r, i in enumerate(order)
    ]
