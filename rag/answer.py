"""The offline extractive answer: score the sentences of the retrieved chunks against the
question, keep the best one to five, mark each with [n], or abstain when evidence is weak."""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from .cite import citation_from_hit, strip_source_refs
from .lexical import tokenize
from .store import IndexData
from .types import Citation, Hit

if TYPE_CHECKING:
    import numpy as np

    from .retrieve import Query

ABSTAIN = {
    "zh": "所检索的论文中没有找到这个问题的答案。",
    "en": "The indexed papers do not answer this question.",
}
EN_LEAD = "From the papers (quoted in the original Chinese):"

_LIST_Q = re.compile(r"(哪些|哪几|几个方面|几点|有什么|包括|举措|措施|对策|建议|列举|what are|which|list|name the|measures|ways)", re.I)
_QUANT_Q = re.compile(r"(多少|几|比例|占比|规模|增长|增速|百分|how (many|much|large|big)|what (share|percentage|proportion)|rate|growth|volume|size)", re.I)
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class Evidence:
    """One candidate sentence with the chunk it came from."""

    hit: Hit
    start: int
    end: int
    text: str
    score: float


@dataclass(frozen=True)
class Decision:
    """The scores the abstention rule reads, kept for tuning and for the JSON notes."""

    best_sentence: float
    coverage: float
    abstain: bool


# Abstention thresholds, measured on eval/questions.jsonl (README, "Figures"): the best
# sentence's cross-lingual similarity and the share of the question's key terms it covers.
MIN_SENTENCE_SCORE = 0.42


class Extractive:
    def __init__(self, data: IndexData) -> None:
        self.data = data

    @cached_property
    def _sentences_by_doc(self) -> dict[str, tuple[list[int], list[tuple[int, int, int]]]]:
        by_doc: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
        for row, (ci, s, e) in enumerate(self.data.sentences):
            by_doc[self.data.chunks[ci].doc_id].append((s, e, row))
        return {d: ([s for s, _, _ in v], sorted(v)) for d, v in ((d, sorted(v)) for d, v in by_doc.items())}

    @cached_property
    def _idf(self) -> dict[str, float]:
        df: dict[str, int] = defaultdict(int)
        for toks in self.data.tokens:
            for t in set(toks):
                df[t] += 1
        n = max(1, len(self.data.tokens))
        return {t: math.log(1 + n / c) for t, c in df.items()}

    def candidates(self, query: Query, hits: list[Hit]) -> list[Evidence]:
        """Every sentence of the hit chunks, scored; duplicates (overlap) kept once."""
        seen: set[tuple[str, int]] = set()
        out: list[Evidence] = []
        top = hits[0].score if hits else 1.0
        q_terms = {t: self._idf.get(t, 1.0) for t in query.tokens or tokenize(query.text)}
        q_weight = sum(q_terms.values()) or 1.0
        for hit in hits:
            chunk = hit.chunk
            starts, rows = self._sentences_by_doc.get(chunk.doc_id, ([], []))
            i = bisect_left(starts, chunk.start)
            while i < len(rows) and rows[i][1] <= chunk.end:
                s, e, row = rows[i]
                i += 1
                if (chunk.doc_id, s) in seen:
                    continue
                seen.add((chunk.doc_id, s))
                text = chunk.text[s - chunk.start : e - chunk.start]
                out.append(Evidence(hit, s, e, text, self._score(query, row, text, q_terms, q_weight, hit.score / top)))
        return sorted(out, key=lambda ev: -ev.score)

    def _score(
        self, query: Query, row: int, text: str, q_terms: dict[str, float], q_weight: float, prior: float
    ) -> float:
        sim = 0.0
        if query.use is not None and self.data.sentence_vectors is not None:
            sim = float(self.data.sentence_vectors[row] @ query.use)
        s_terms = set(tokenize(text))
        coverage = sum(w for t, w in q_terms.items() if t in s_terms) / q_weight
        score = sim + 0.35 * coverage + 0.15 * prior
        if _QUANT_Q.search(query.text) and _DIGIT.search(text):
            score += 0.05
        if len(text) < 12:  # fragments ("二是。") say little on their own
            score -= 0.2
        return score

    def decide(self, query: Query, evidence: list[Evidence]) -> Decision:
        best = evidence[0].score if evidence else 0.0
        coverage = 0.0
        if evidence:
            q = set(query.tokens or tokenize(query.text))
            coverage = len(q & set(tokenize(evidence[0].text))) / max(1, len(q))
        return Decision(best_sentence=best, coverage=coverage, abstain=best < MIN_SENTENCE_SCORE)

    def select(self, query: Query, evidence: list[Evidence]) -> list[Evidence]:
        """The best sentence and those close to it; lists get more, duplicates merged."""
        if not evidence:
            return []
        wants_list = bool(_LIST_Q.search(query.text))
        limit, ratio = (5, 0.78) if wants_list else (3, 0.88)
        best = evidence[0].score
        chosen: list[Evidence] = []
        for ev in evidence:
            if len(chosen) >= limit or ev.score < best * ratio:
                break
            if any(_near_duplicate(ev.text, c.text) for c in chosen):
                continue
            chosen.append(ev)
        # Keep the papers' order: by the rank of the chunk, then by position within the paper.
        return sorted(chosen, key=lambda ev: (ev.hit.rank, ev.start))


def _near_duplicate(a: str, b: str) -> bool:
    a2, b2 = re.sub(r"\W", "", a), re.sub(r"\W", "", b)
    return a2 in b2 or b2 in a2


def compose(
    chosen: list[Evidence], lang: str, papers: dict
) -> tuple[str, tuple[Citation, ...]]:
    """Answer text with [n] markers and the citations, numbered by first use."""
    numbers: dict[str, int] = {}
    cited: dict[int, list[str]] = defaultdict(list)
    hits: dict[int, Hit] = {}
    parts: list[str] = []
    for ev in chosen:
        key = ev.hit.chunk.key
        if key not in numbers:
            numbers[key] = len(numbers) + 1
            hits[numbers[key]] = ev.hit
        n = numbers[key]
        cited[n].append(ev.text)
        sentence = strip_source_refs(ev.text).strip()
        parts.append(f"{sentence}[{n}]")
    joiner = " " if lang == "en" else ""
    text = joiner.join(parts)
    if lang == "en" and text:
        text = f"{EN_LEAD} {text}"
    citations = tuple(
        citation_from_hit(n, hits[n], papers.get(hits[n].chunk.doc_id), cited[n][0]) for n in sorted(hits)
    )
    return text, citations
