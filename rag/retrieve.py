"""Hybrid search: the registered legs (rag/legs.py) each rank the chunks, weighted reciprocal-rank
fusion combines them (weights from Tuning), references are excluded by default, an optional
reranker reorders the top."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING

from .config import Settings
from .dedupe import DISTINCT_POOL, distinct_hits
from .embeddings import Encoder, bridge_encoder, dense_encoder
from .legs import LEGS, Leg, Query
from .lexical import bridge_terms, english_terms, pinyin_terms, tokenize
from .store import IndexData, Where
from .text import fold, language_of
from .tuning import Tuning
from .types import Hit

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["Query", "Retriever"]


class Retriever:
    """Embeds questions and searches one loaded index with every leg the index supports."""

    def __init__(self, data: IndexData, settings: Settings, tuning: Tuning | None = None) -> None:
        self.data = data
        self.settings = settings
        self.tuning = tuning or Tuning()
        self.n = len(data.chunks)

    @cached_property
    def dense(self) -> Encoder:
        return dense_encoder(self.settings)

    @cached_property
    def bridge(self) -> Encoder | None:
        """The cross-lingual encoder the index was built with, or None."""
        return bridge_encoder(self.settings, threads=1) if self.data.has("vectors:use") else None

    @cached_property
    def legs(self) -> dict[str, Leg]:
        """Every registered leg whose index artefacts are present."""
        out: dict[str, Leg] = {}
        for name, cls in LEGS.items():
            if cls.stage == "rerank" and not self.settings.reranker:
                continue
            missing = [need for need in cls.needs if not self.data.has(need)]
            if missing:
                logger.debug("leg %s is off: the index has no %s", name, ", ".join(missing))
                continue
            out[name] = cls(self.data, self.settings, self.tuning)
        return out

    @cached_property
    def _is_reference(self) -> np.ndarray:
        import numpy as np

        return np.array([c.kind == "references" for c in self.data.chunks], dtype=bool)

    @cached_property
    def _is_english(self) -> np.ndarray:
        import numpy as np

        return np.array([c.lang == "en" for c in self.data.chunks], dtype=bool)

    def warm_up(self) -> None:
        """Load the encoders and build the BM25 index now rather than on the first question."""
        self.leg_scores(self.embed("warm up"))

    def embed(self, question: str, *, use_dense: bool = True, use_bm25: bool = True) -> Query:
        """The question as the legs need it: vectors when dense legs are on, terms when lexical are."""
        lang = language_of(question)
        folded = fold(question)
        dense = self.dense.encode_queries([question])[0] if use_dense else None
        use = self.bridge.encode_queries([question])[0] if (use_dense and self.bridge is not None) else None
        tokens = tuple(tokenize(question)) if use_bm25 else ()
        bridged: tuple[str, ...] = ()
        if use_bm25 and lang == "en":
            bridged = tuple(self.bridged_terms(english_terms(question), per_word=self.tuning.bridge_terms_per_word))
        if use_bm25 and lang == "en" and self.data.vocab:
            names = [w for w in re.findall(r"\b[A-Z][a-z]+(?:[A-Z][a-z]+)*\b", question)]
            bridged += tuple(t for t in pinyin_terms(names, self.data.vocab) if t not in bridged)
        return Query(question, lang, dense, use, tokens, bridged, folded)

    def bridged_terms(self, words: list[str], *, per_word: int) -> list[str]:
        """The Chinese index terms nearest to English words in the cross-lingual space (at most
        `per_word` each, at least Tuning.bridge_min_similarity close); [] without a bridge."""
        if not words or self.bridge is None or self.data.vocab_vectors is None:
            return []
        return bridge_terms(
            self.bridge.encode_queries(words),
            list(self.data.vocab),
            self.data.vocab_vectors,
            min_similarity=self.tuning.bridge_min_similarity,
            per_word=per_word,
        )

    def leg_scores(self, query: Query) -> dict[str, np.ndarray]:
        """Raw score of every chunk for each fusing leg that has something to say. Library legs
        score first; candidate legs (Leg.scope) then score the union of their top lists."""
        import numpy as np

        scores: dict[str, np.ndarray] = {}
        fusing = [(name, leg) for name, leg in self.legs.items() if leg.stage == "fuse"]
        for name, leg in fusing:
            if leg.scope == "library":
                raw = leg.score(query)
                if raw is not None:
                    scores[name] = raw
        later = [(name, leg) for name, leg in fusing if leg.scope == "candidates"]
        if later:
            every = np.ones(self.n, dtype=bool)
            found = [self._ranked(name, raw, every) for name, raw in scores.items()]
            candidates = np.unique(np.concatenate(found)) if found else np.arange(self.n)
            for name, leg in later:
                raw = leg.score(query, candidates)
                if raw is not None:
                    scores[name] = raw
        return scores

    def _ranked(self, name: str, raw: np.ndarray, pool: np.ndarray) -> np.ndarray:
        """Indexes of the leg's best Tuning.dense_candidates chunks within `pool` (a boolean mask),
        best first, ties in index order; a lexical leg ranks only chunks it scores above 0 and a
        dense leg only those its search returned (above the -1 of the rest)."""
        import numpy as np

        floor = 0.0 if self.legs[name].lexical_positive_only else -1.0
        eligible = np.flatnonzero(pool & (raw > floor))
        depth = self.tuning.dense_candidates
        if len(eligible) > depth:
            eligible = eligible[np.argpartition(-raw[eligible], depth - 1)[:depth]]
        return eligible[np.lexsort((eligible, -raw[eligible]))]

    def search(self, query: Query, k: int, *, doc_ids: frozenset[str] | None = None) -> list[Hit]:
        """The k best chunks, distinct in text, references excluded unless settings include them."""
        import numpy as np

        t = time.perf_counter()
        allowed = np.ones(self.n, dtype=bool)
        if not self.settings.include_references:
            allowed &= ~self._is_reference
        if doc_ids:
            allowed &= np.array([c.doc_id in doc_ids for c in self.data.chunks], dtype=bool)
        where = Where(exclude_references=not self.settings.include_references, doc_ids=doc_ids or None)
        legs = self.leg_scores(replace(query, where=where))
        fused = np.where(allowed, self.fuse(query.lang, legs, allowed), -np.inf)
        top = self._top(fused, k * DISTINCT_POOL, query.lang)
        hits = [
            Hit(self.data.chunks[i], float(fused[i]), r + 1, {leg: float(s[i]) for leg, s in legs.items()})
            for r, i in enumerate(top)
        ]
        hits = distinct_hits(hits, k)  # one passage found in several papers fills one place
        for leg in self.legs.values():
            if leg.stage == "rerank" and hits:
                hits = leg.rerank(query, hits)
        logger.debug("search %.1f ms", (time.perf_counter() - t) * 1000)
        return hits

    def fuse(self, lang: str, legs: dict[str, np.ndarray], allowed: np.ndarray) -> np.ndarray:
        """Weighted reciprocal-rank fusion over each leg's top Tuning.dense_candidates chunks
        (the rest add nothing). For a pooled language (English) each leg ranks the
        other-language and the same-language chunks separately, so an abstract's language match
        does not push the body down the dense lists."""
        import numpy as np

        fused = np.zeros(self.n, dtype=np.float64)
        weights = self.tuning.leg_weights.get(lang, self.tuning.leg_weights["zh"])
        if lang in self.tuning.pooled_languages:
            same = self._is_english if lang == "en" else ~self._is_english
            pools = [allowed & ~same, allowed & same]
        else:
            pools = [allowed]
        for name, raw in legs.items():
            weight = weights.get(name, 0.0)
            if weight == 0.0:
                continue
            for pool in pools:
                ranked = self._ranked(name, raw, pool)
                fused[ranked] += weight / (self.tuning.rrf_k + np.arange(1, len(ranked) + 1))
        return fused

    def _top(self, fused: np.ndarray, k: int, lang: str) -> list[int]:
        """Best k, with at most Tuning.max_same_language_chunks chunks in the question's language
        when that language is pooled (English questions over Chinese papers)."""
        import numpy as np

        out: list[int] = []
        same = 0
        pooled = lang in self.tuning.pooled_languages
        scored = np.flatnonzero(np.isfinite(fused) & (fused > 0))
        for i in scored[np.lexsort((scored, -fused[scored]))]:
            if len(out) >= k:
                break
            if pooled and self.data.chunks[i].lang == lang:
                if same >= self.tuning.max_same_language_chunks:
                    continue
                same += 1
            out.append(int(i))
        return out
