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
from .dedupe import DISTINCT_POOL, distinct_hits
from .embeddings import Encoder, bridge_encoder, dense_encoder
from .errors import ModelNotAvailableError
from .lexical import Lexical, bridge_terms, english_terms, tokenize
from .store import IndexData
from .types import Hit

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

RRF_K = 20
DENSE_CANDIDATES = 1000  # per dense leg; past this rank a chunk adds nothing to the fusion
# Leg weights per question language, tuned on eval/questions.jsonl (see README, "Figures").
# Chinese questions: e5 and BM25 agree well; the USE bridge adds a little.
# English questions: BM25 (Chinese tokens) gets nothing; USE aligns zh<->en far better than e5.
WEIGHTS = {
    "zh": {"dense": 1.0, "bm25": 1.0, "use": 0.0, "sent": 1.0},
    "en": {"dense": 1.0, "bm25": 0.5, "use": 1.0, "sent": 0.0, "bm25x": 1.0},
}
# English chunks (the abstracts) match an English question's language rather than its content:
# their fused score is scaled down so they surface only when they are really about the question.
EN_CHUNK_FACTOR = {"zh": 1.0, "en": 1.0}
POOLED = {"en"}
MAX_EN_CHUNKS = {"en": 2}


@dataclass(frozen=True)
class Query:
    text: str
    lang: str
    dense: np.ndarray | None
    use: np.ndarray | None
    tokens: tuple[str, ...]
    bridged: tuple[str, ...] = ()  # Chinese terms found for an English question's words


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
        return bridge_encoder(self.settings, threads=1) if "use" in self.data.vectors else None

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

    def _dense_scores(self, slot: str, vector: np.ndarray) -> np.ndarray:
        """Inner products from the FAISS index for its best DENSE_CANDIDATES chunks (all of
        them at this corpus size); chunks it does not return get the lowest cosine, -1."""
        import numpy as np

        index = self.data.faiss.get(slot)
        if index is None:  # an IndexData assembled in memory, without FAISS files
            return self.data.vectors[slot] @ vector
        n = min(self.n, DENSE_CANDIDATES)
        sims, ids = index.search(np.ascontiguousarray(vector[None, :], dtype=np.float32), n)
        out = np.full(self.n, -1.0, dtype=np.float32)
        keep = ids[0] >= 0
        out[ids[0][keep]] = sims[0][keep]
        return out

    @cached_property
    def _chunk_sentences(self) -> tuple[np.ndarray, np.ndarray]:
        """Sentence rows of every chunk, flattened with offsets (a sentence in an overlap
        belongs to both chunks)."""
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

    def _best_sentence(self, sims: np.ndarray) -> np.ndarray:
        """Per chunk, the similarity of its best-matching sentence."""
        import numpy as np

        rows, offsets = self._chunk_sentences
        out = np.full(self.n, -1.0, dtype=np.float32)
        gathered = sims[rows]
        for i in range(self.n):
            if offsets[i + 1] > offsets[i]:
                out[i] = gathered[offsets[i] : offsets[i + 1]].max()
        return out

    def warm_up(self) -> None:
        """Load models and the BM25 index now rather than on the first question."""
        self.embed("warm up", use_dense=True)
        _ = self.lexical

    def embed(self, question: str, *, use_dense: bool = True, use_bm25: bool = True) -> Query:
        lang = language_of(question)
        dense = self.dense.encode_queries([question])[0] if use_dense else None
        use = self.bridge.encode_queries([question])[0] if (use_dense and self.bridge is not None) else None
        tokens = tuple(tokenize(question)) if use_bm25 else ()
        bridged: tuple[str, ...] = ()
        if use_bm25 and lang == "en" and self.bridge is not None and self.data.vocab_vectors is not None:
            words = english_terms(question)
            if words:
                vecs = self.bridge.encode_queries(words)
                bridged = tuple(bridge_terms(vecs, list(self.data.vocab), self.data.vocab_vectors))
        return Query(question, lang, dense, use, tokens, bridged)

    def leg_scores(self, query: Query) -> dict[str, np.ndarray]:
        """Raw score of every chunk for each active leg (cosine for dense, BM25 for lexical)."""
        scores: dict[str, np.ndarray] = {}
        if query.dense is not None:
            scores["dense"] = self._dense_scores("dense", query.dense)
        if query.use is not None:
            scores["use"] = self._dense_scores("use", query.use)
        if query.use is not None and self.data.sentence_vectors is not None and len(self.data.sentences):
            scores["sent"] = self._best_sentence(self.data.sentence_vectors @ query.use)
        if query.tokens:
            scores["bm25"] = self.lexical.scores(list(query.tokens))
        if query.bridged:
            scores["bm25x"] = self.lexical.scores(list(query.bridged))
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
        fused = self.fuse(query.lang, legs, allowed)
        fused = np.where(allowed, fused, -np.inf)
        top = self._top(fused, k * DISTINCT_POOL, query.lang)
        hits = [
            Hit(self.data.chunks[i], float(fused[i]), r + 1, {leg: float(s[i]) for leg, s in legs.items()})
            for r, i in enumerate(top)
        ]
        hits = distinct_hits(hits, k)  # one passage found in several papers fills one place
        if self.settings.reranker:
            hits = rerank(self.settings.reranker, query.text, hits)
        if timings is not None:
            timings["search"] = (time.perf_counter() - t) * 1000
        return hits

    def fuse(self, lang: str, legs: dict[str, np.ndarray], allowed: np.ndarray) -> np.ndarray:
        """Weighted reciprocal-rank fusion. For English questions each leg ranks the Chinese and
        the English chunks separately, so the abstracts' language match does not push the body
        down the dense lists; the abstracts then compete on their own merit."""
        import numpy as np

        fused = np.zeros(self.n, dtype=np.float64)
        weights = WEIGHTS.get(lang, WEIGHTS["zh"])
        pools = [allowed & ~self._is_english, allowed & self._is_english] if lang in POOLED else [allowed]
        for leg, raw in legs.items():
            weight = weights.get(leg, 0.0)
            if weight == 0.0:
                continue
            for pool in pools:
                masked = np.where(pool, raw, -np.inf)
                order = np.argsort(-masked, kind="stable")
                ranks = np.empty(self.n, dtype=np.float64)
                ranks[order] = np.arange(1, self.n + 1)
                contributes = pool & (raw > 0) if leg.startswith("bm25") else pool
                fused += np.where(contributes, weight / (RRF_K + ranks), 0.0)
        return np.where(self._is_english, fused * EN_CHUNK_FACTOR.get(lang, 1.0), fused)

    def _top(self, fused: np.ndarray, k: int, lang: str) -> list[int]:
        """Best k, with at most MAX_EN_CHUNKS English chunks for an English question."""
        import numpy as np

        out: list[int] = []
        english = 0
        cap = MAX_EN_CHUNKS.get(lang, k)
        for i in np.argsort(-fused, kind="stable"):
            if len(out) >= k or not np.isfinite(fused[i]) or fused[i] <= 0:
                break
            if self._is_english[i]:
                if english >= cap:
                    continue
                english += 1
            out.append(int(i))
        return out


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
