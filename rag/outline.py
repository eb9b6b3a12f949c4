"""The papers' outlines: headings found at ingest are stored in the index (`outline_of`), and a
list question whose subject is a heading with sub-headings is answered by those sub-headings
(`OutlineLister`): "4. 存在的问题" -> "(一) 监管制度尚未健全", "(二) …", each citing its chunk."""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from .text import heading_level, heading_words, shape
from .types import CleanPaper, Heading, Hit

if TYPE_CHECKING:
    from .evidence import Evidence, SentenceScorer
    from .legs import Query
    from .store import IndexData
    from .tuning import Tuning


def outline_of(clean: CleanPaper) -> list[Heading]:
    """The numbered and ordinal headings of a cleaned paper, in order, with levels: "(一)" sits
    one below the numbered heading above it. Special headings (摘要, References) are not part."""
    out: list[Heading] = []
    numeric = 0
    for block in clean.blocks:
        if block.kind != "heading":
            continue
        text = clean.text[block.start : block.end].strip()
        level = heading_level(text)
        if level is None:
            continue
        if level < 0:
            level = numeric + 1
        else:
            numeric = level
        out.append(Heading(clean.paper.doc_id, block.start, block.start + len(text), level, text))
    return out


def children(heads: Sequence[Heading], i: int) -> list[int]:
    """Indices of the direct sub-headings of heads[i]."""
    level = heads[i].level
    out = []
    for j in range(i + 1, len(heads)):
        if heads[j].level <= level:
            break
        if heads[j].level == level + 1:
            out.append(j)
    return out


class OutlineLister:
    def __init__(self, data: IndexData, scorer: SentenceScorer, tuning: Tuning) -> None:
        self.data = data
        self.scorer = scorer
        self.tuning = tuning

    @cached_property
    def _by_doc(self) -> dict[str, list[tuple[Heading, int]]]:
        """Per paper, its headings with the index of the chunk that holds each."""
        starts: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for ci, chunk in enumerate(self.data.chunks):
            starts[chunk.doc_id].append((chunk.start, ci))
        for v in starts.values():
            v.sort()
        out: dict[str, list[tuple[Heading, int]]] = defaultdict(list)
        for h in self.data.headings:
            spans = starts.get(h.doc_id, [])
            i = bisect_right([s for s, _ in spans], h.start) - 1
            if i >= 0:
                out[h.doc_id].append((h, spans[i][1]))
        return out

    def items(self, query: Query, hits: list[Hit], best: float) -> list[Evidence]:
        """The sub-headings of the best-matching heading among the top papers, when it matches
        the question at least as well as the best sentence and the question names none of
        them (then it asks inside that one); else []."""
        from .evidence import Evidence

        if not hits or not shape("list").search(query.form) or shape("which_paper").search(query.form):
            return []  # "which papers …" asks for papers, not for one paper's sub-headings
        terms = self.scorer.query_terms(query)
        top = hits[0].score or 1.0
        prior_of = {h.chunk.key: h.score / top for h in hits}
        choice: tuple[float, str, int] | None = None
        for doc in dict.fromkeys(h.chunk.doc_id for h in hits[:3]):
            entries = self._by_doc.get(doc, [])
            heads = [h for h, _ in entries]
            for i, head in enumerate(heads):
                row = self.scorer.sentence_row(doc, head.start)
                if len(children(heads, i)) < 2 or row is None:
                    continue
                # A heading weighs like a sentence of its chunk: by that chunk's retrieval score.
                prior = prior_of.get(self.data.chunks[entries[i][1]].key, 0.0)
                score = self.scorer.score(query, row, heading_words(head.text), terms, prior, heading=True)
                if choice is None or score > choice[0]:
                    choice = (score, doc, i)
        if choice is None or choice[0] < best:
            return []
        score, doc, i = choice
        entries = self._by_doc[doc]
        heads = [h for h, _ in entries]
        named = [j for j in children(heads, i) if (heading_words(heads[j].text) or heads[j].text) in query.text]
        if named:  # "其中政策支持具体体现在哪些方面？" asks inside one sub-heading, not for the list
            return []
        out = []
        for j in children(heads, i)[: self.tuning.max_list_items]:
            head, ci = entries[j]
            hit = Hit(self.data.chunks[ci], score, len(out) + 1, {"outline": score})
            out.append(Evidence(hit, head.start, head.end, head.text, score))
        return out
