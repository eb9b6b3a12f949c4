"""Evidence: every sentence of the retrieved chunks scored against the question. The score is
the sentence's cross-lingual (USE) similarity plus named, weighted features (Tuning): coverage
of the question's terms, the chunk's retrieval score, and small penalties for sentences that
rarely answer (headings, fragments, meta sentences, figures of another year)."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from .lexical import tokenize
from .normalise import fold
from .text import DIGIT, YEAR, answer_cues, heading_level, is_instruction, language_of, near_duplicate, shape, word_set
from .types import Chunk, Hit

CUE_SHAPES = ("definition", "consequence", "cause")  # question shapes with sentence cues (rag/data)

if TYPE_CHECKING:
    from .legs import Query
    from .store import IndexData
    from .tuning import Tuning


@dataclass(frozen=True)
class Evidence:
    """One candidate sentence: [start, end) in its paper's cleaned text, with its score."""

    hit: Hit
    start: int
    end: int
    text: str
    score: float


@dataclass(frozen=True)
class QueryTerms:
    weights: dict[str, float]  # the question's terms (and bridged terms) with their idf
    total: float


class SentenceScorer:
    def __init__(self, data: IndexData, tuning: Tuning) -> None:
        self.data = data
        self.tuning = tuning

    @cached_property
    def _sentences_by_doc(self) -> dict[str, tuple[list[int], list[tuple[int, int, int]]]]:
        """Per paper, its sentences (start, end, row) in order, with their starts for bisecting."""
        by_doc: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
        for row, (ci, s, e) in enumerate(self.data.sentences):
            by_doc[self.data.chunks[ci].doc_id].append((s, e, row))
        return {d: ([s for s, _, _ in v], v) for d, v in ((d, sorted(set(v))) for d, v in by_doc.items())}

    @cached_property
    def idf(self) -> dict[str, float]:
        """Inverse document frequency of every index term over the chunks: log(1 + n / df)."""
        df = self.data.lexical.document_frequency()
        n = max(1, len(self.data.chunks))
        return {t: math.log(1 + n / c) for t, c in df.items() if c}

    def _rows_of(self, chunk: Chunk) -> list[tuple[int, int, int]]:
        """The (start, end, row) of the sentences inside a chunk, in order."""
        starts, rows = self._sentences_by_doc.get(chunk.doc_id, ([], []))
        out = []
        i = bisect_left(starts, chunk.start)
        while i < len(rows) and rows[i][1] <= chunk.end:
            out.append(rows[i])
            i += 1
        return out

    @cached_property
    def _instruction_checked(self) -> dict[int, bool]:
        return {}

    def is_instruction_row(self, row: int) -> bool:
        """Whether sentence `row` instructs the reader or an AI (rag.text.is_instruction): such
        sentences are data, never an answer, and weigh in no abstention feature. Checked when a
        question first reaches the sentence, then remembered, so loading costs nothing."""
        known = self._instruction_checked.get(row)
        if known is None:
            ci, s, e = self.data.sentences[row]
            chunk = self.data.chunks[ci]
            known = self._instruction_checked[row] = is_instruction(chunk.text[s - chunk.start : e - chunk.start])
        return known

    def trusted_body(self) -> str:
        """All non-reference text without instruction-like sentences, folded: where a name must
        occur to count as mentioned (a planted "…the capital of France is…" mentions nothing).
        Written with the index (IndexData.body) so that serving does not assemble it."""
        return fold("\n".join(self.trusted_text(c) for c in self.data.chunks if c.kind != "references"))

    def trusted_text(self, chunk: Chunk) -> str:
        """The chunk's text without its instruction-like sentences (the text itself when none)."""
        rows = self._rows_of(chunk)
        if not any(self.is_instruction_row(row) for _s, _e, row in rows):
            return chunk.text
        return " ".join(
            chunk.text[s - chunk.start : e - chunk.start] for s, e, row in rows if not self.is_instruction_row(row)
        )

    def trusted_similarity(self, query: Query, hit: Hit) -> float:
        """The hit's best sentence similarity (its "sent" leg), leaving out instruction-like
        sentences, which are written to match whatever is asked."""
        best = hit.legs.get("sent", hit.legs.get("use", 0.0))
        rows = self._rows_of(hit.chunk)
        if (
            query.use is None
            or self.data.sentence_vectors is None
            or not any(self.is_instruction_row(r) for *_, r in rows)
        ):
            return best
        sims = [float(self.data.sentence_vectors[r] @ query.use) for *_, r in rows if not self.is_instruction_row(r)]
        return max(sims, default=0.0)

    def sentence_row(self, doc_id: str, start: int) -> int | None:
        starts, rows = self._sentences_by_doc.get(doc_id, ([], []))
        i = bisect_left(starts, start)
        return rows[i][2] if i < len(rows) and rows[i][0] == start else None

    def term_weights(self, text: str) -> list[tuple[str, float]]:
        """The topic terms of a text with their specificity (idf in the index): the nouns of
        Chinese text; the content words of English, later words weighing slightly more (the
        head of "problems of cross-border logistics" is its last word)."""
        from .lexical import english_terms, nouns

        if language_of(text) == "zh":
            stop = word_set("zh", "stopwords")
            return [(n, self.idf.get(n, 0.0)) for n in dict.fromkeys(nouns(text)) if len(n) >= 2 and n not in stop]
        words = english_terms(text)
        return [(w, self.idf.get(w, 0.0) + 0.01 * i) for i, w in enumerate(words)]

    def next_sentence(self, ev: Evidence) -> Evidence | None:
        """The sentence after `ev` in its paper, with the chunk that holds it (the same chunk
        when it does, so it is cited with it), scored like `ev`; None at the end of the paper."""
        from .types import Hit

        starts, rows = self._sentences_by_doc.get(ev.hit.chunk.doc_id, ([], []))
        i = bisect_left(starts, ev.end)
        if i >= len(rows):
            return None
        s, e, row = rows[i]
        chunk = ev.hit.chunk
        if not (chunk.start <= s and e <= chunk.end):
            chunk = self.data.chunks[self.data.sentences[row][0]]
        hit = ev.hit if chunk is ev.hit.chunk else Hit(chunk, ev.hit.score, ev.hit.rank, dict(ev.hit.legs))
        return Evidence(hit, s, e, chunk.text[s - chunk.start : e - chunk.start], ev.score)

    def query_terms(self, query: Query) -> QueryTerms:
        terms = list(query.tokens or tokenize(query.text)) + list(query.bridged)
        weights = {t: self.idf.get(t, 1.0) for t in terms}
        return QueryTerms(weights, sum(weights.values()) or 1.0)

    def candidates(self, query: Query, hits: list[Hit]) -> list[Evidence]:
        """Every sentence of the hit chunks, scored, best first; an overlap sentence once."""
        seen: set[tuple[str, int]] = set()
        out: list[Evidence] = []
        top = hits[0].score if hits and hits[0].score else 1.0
        terms = self.query_terms(query)
        for hit in hits:
            chunk = hit.chunk
            for s, e, row in self._rows_of(chunk):
                if (chunk.doc_id, s) in seen or self.is_instruction_row(row):  # instructions are never answers
                    continue
                seen.add((chunk.doc_id, s))
                text = chunk.text[s - chunk.start : e - chunk.start]
                out.append(Evidence(hit, s, e, text, self.score(query, row, text, terms, hit.score / top)))
        return sorted(out, key=lambda ev: -ev.score)

    def instructions(self, hits: list[Hit]) -> dict[str, tuple[str, ...]]:
        """Per chunk key, its sentences that instruct the reader or an AI (rag.text.is_instruction)."""
        out: dict[str, tuple[str, ...]] = {}
        for hit in hits:
            chunk = hit.chunk
            found = [
                chunk.text[s - chunk.start : e - chunk.start]
                for s, e, row in self._rows_of(chunk)
                if self.is_instruction_row(row)
            ]
            if found:
                out[chunk.key] = tuple(found)
        return out

    def score(
        self, query: Query, row: int, text: str, terms: QueryTerms, prior: float, *, heading: bool = False
    ) -> float:
        """USE similarity + coverage_weight x term coverage + prior_weight x chunk prior, with
        the penalties of Tuning for sentences of kinds that rarely answer the question asked.
        `heading`: the text is an outline heading, which may well restate the question."""
        t = self.tuning
        sim = 0.0
        if query.use is not None and self.data.sentence_vectors is not None:
            sim = float(self.data.sentence_vectors[row] @ query.use)
        s_terms = set(tokenize(text))
        coverage = sum(w for term, w in terms.weights.items() if term in s_terms) / terms.total
        score = sim + t.coverage_weight * coverage + t.prior_weight * prior
        if shape("quantity").search(query.form) and DIGIT.search(text):
            score += t.figure_bonus
        if not heading and near_duplicate(text, query.text):  # restating the question does not answer it
            score -= t.restate_penalty
        if len(text) < t.fragment_chars:
            score -= t.fragment_penalty
        level = heading_level(text)
        if level == 1:
            score -= t.top_heading_penalty
        elif level is not None and not shape("list").search(query.form):
            score -= t.sub_heading_penalty
        about_paper = shape("about_paper").search(query.form)
        if query.lang == "en" and language_of(text) == "en" and not about_paper:
            score -= t.same_language_abstract_penalty
        if shape("meta_sentence").search(text) and not about_paper:
            score -= t.meta_sentence_penalty
        for cue_shape in CUE_SHAPES:
            if shape(cue_shape).search(query.form) and any(c in text.lower() for c in answer_cues(cue_shape)):
                score += t.answer_cue_bonus
                break
        asked_years = set(YEAR.findall(query.text))
        years = set(YEAR.findall(text))
        if asked_years and years and not asked_years & years:
            score -= t.other_year_penalty
        return score
