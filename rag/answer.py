"""Answerers: one small interface, two implementations.

An answerer turns a `Context` (the question, what was searched, the hits, the scored evidence
and the abstention decision) into text: it may yield pieces of a draft as they come, and ends
with one `Draft`. `Assistant` (rag/pipeline.py) verifies the draft once and makes the Answer.

    extractive  quotes the best evidence sentences with [n] citations (no model; default)
    generated   a language model writes from the numbered passages (rag/generate.py)

Register another with `@answerer` and select it with `Assistant.ask(..., mode=name)`."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Protocol

from .cite import citation_from_hit
from .converse import question_pieces
from .text import (
    YEAR,
    enumeration_item,
    enumeration_items_in,
    fold,
    has_figure,
    heading_level,
    heading_words,
    is_heading,
    language_of,
    near_duplicate,
    shape,
    strip_source_refs,
    word_set,
)
from .types import Citation, Hit, Paper

if TYPE_CHECKING:
    from .abstain import Decision
    from .evidence import Evidence, SentenceScorer
    from .legs import Query
    from .outline import OutlineLister
    from .tuning import Tuning

ABSTAIN = {
    "zh": "所检索的论文中没有找到这个问题的答案。",
    "en": "The indexed papers do not answer this question.",
}
EN_LEAD = "From the papers (quoted in their original language):"


@dataclass(frozen=True)
class Context:
    """Everything known about one question before it is answered."""

    question: str  # as asked, cleaned
    standalone: str  # what was searched (the follow-up resolved against the conversation)
    query: Query
    hits: tuple[Hit, ...]
    evidence: tuple[Evidence, ...]  # sentences of the hits, best first
    decision: Decision
    passages: tuple[Citation, ...]  # the hits as citations, n = rank
    papers: dict[str, Paper]
    history: tuple = ()  # earlier turns (rag.Turn), oldest first
    input_notes: tuple[str, ...] = ()  # what was changed in the question as typed (e.g. shortened)
    quotes: tuple[Evidence, ...] = ()  # the sentences that answer it (Extractive.choose), the papers' order

    @property
    def lang(self) -> str:
        """The language to answer in: the question's as asked (an English follow-up in a Chinese
        conversation is answered in English), not the standalone question's."""
        return language_of(self.question)


@dataclass(frozen=True)
class Draft:
    """An answerer's result before verification. `citations` are what its [n] refer to."""

    text: str
    citations: tuple[Citation, ...]
    abstained: bool = False
    notes: tuple[str, ...] = ()
    quoted: bool = False  # the sentences are verbatim quotes (their text is kept as is)
    ground: dict[int, str] = field(default_factory=dict)  # [n] -> the text the writer saw (default: the passage)
    failure: str | None = None  # why the answerer could not write (e.g. the model's server failed)
    timings_ms: dict[str, float] = field(default_factory=dict)


class Answerer(Protocol):
    name: ClassVar[str]

    def stream(self, context: Context) -> Iterator[str | Draft]:
        """Pieces of the draft (str) as they are produced, then exactly one Draft."""
        ...

    def condense(self, question: str, history: tuple) -> str | None:
        """A standalone form of a follow-up question, or None to use the default condenser."""
        ...


ANSWERERS: dict[str, type] = {}


def answerer(cls: type) -> type:
    """Register an answerer class under its `name`."""
    ANSWERERS[cls.name] = cls
    return cls


def abstention(context: Context, note: str = "") -> Draft:
    notes = (
        *([note] if note else []),
        *((f"abstained: {context.decision.reason}",) if context.decision.reason else ()),
    )
    return Draft(ABSTAIN[context.lang], (), abstained=True, notes=notes)


@answerer
class Extractive:
    """Quotes the best evidence sentences (or a heading's sub-headings for an outline list)."""

    name: ClassVar[str] = "extractive"

    def __init__(self, tuning: Tuning, outline: OutlineLister, scorer: SentenceScorer) -> None:
        self.tuning = tuning
        self.outline = outline
        self.scorer = scorer

    def condense(self, question: str, history: tuple) -> str | None:
        return None

    def stream(self, context: Context) -> Iterator[str | Draft]:
        yield self.draft(context)

    def draft(self, context: Context) -> Draft:
        if context.decision.abstain or not context.hits:
            return abstention(context)
        text, citations = compose(list(context.quotes), context.lang, context.papers)
        return Draft(text, citations, quoted=True)

    def choose(self, query: Query, hits: Sequence[Hit], evidence: Sequence[Evidence]) -> list[Evidence]:
        """The sentences to quote: a heading's sub-headings for an outline list, else `select`."""
        best = evidence[0].score if evidence else 0.0
        named = [ev for ev in evidence if names_heading(query.text, ev.text)]
        if named:  # "综合试验区试点政策的创新效应具体体现在哪些方面？": that section's opening sentences
            body = self.item_body(max(named, key=lambda ev: len(ev.text)).text, evidence, section=True)
            if len(body) > 1:  # a heading followed by sub-headings has no text of its own to quote
                return body
        return self.outline.items(query, list(hits), best) or self.select(query, list(evidence))

    def select(self, query: Query, evidence: list[Evidence]) -> list[Evidence]:
        """The best sentence and those close to it; lists get more; a second paper only when
        nearly as good (or, for a how-many question, with its own figure); duplicates merged."""
        from .abstain import states_figure

        if not evidence:
            return []
        t = self.tuning
        # Lists, and questions about consequences or causes (usually several), take more sentences.
        wants_list = any(shape(name).search(query.form) for name in self.tuning.several_answer_shapes)
        limit, ratio = (
            (t.list_max_sentences, t.list_min_ratio) if wants_list else (t.plain_max_sentences, t.plain_min_ratio)
        )
        best = evidence[0].score
        home = evidence[0].hit.chunk.doc_id
        how_many = bool(shape("how_many").search(query.form))
        chosen: list[Evidence] = []
        for ev in evidence:
            if len(chosen) >= limit or ev.score < best * ratio:
                break
            if (
                ev.hit.chunk.doc_id != home
                and ev.score < best * t.other_paper_min_ratio
                and not (how_many and states_figure(query.form, [ev.text]))
            ):
                continue
            if any(near_duplicate(ev.text, c.text) for c in chosen):
                continue
            chosen.append(ev)
        if how_many and not any(has_figure(ev.text) for ev in chosen):
            depth = evidence[: t.figure_search_depth]
            with_figure = next((ev for ev in depth if has_figure(ev.text) and ev not in chosen), None)
            if with_figure is not None:
                chosen.append(with_figure)
        chosen = self.cover_facets(query, evidence, chosen)
        if shape("multi_paper").search(query.form) or (how_many and self.tuning.figures_from_every_paper):
            chosen += self.other_papers(query, evidence, chosen, how_many)  # both sides of a disagreement
        if wants_list:
            chosen = self.continue_enumerations(evidence, chosen, t.list_max_sentences)
        return sorted(chosen, key=lambda ev: (ev.hit.rank, ev.start))  # the papers' order

    def item_body(self, item: str, evidence: Sequence[Evidence], *, section: bool = False) -> list[Evidence]:
        """An item of an earlier answer told in full ("那第二个呢？"): the sentence that holds it
        and the sentences after it up to the next item or heading, at most
        Tuning.item_body_sentences of them; with `section` (the item is a heading), up to the
        next heading, at most Tuning.list_max_sentences. [] when no evidence sentence holds it."""
        key = re.sub(r"\W", "", item)[:24]
        start = next((ev for ev in evidence if key and key in re.sub(r"\W", "", ev.text)), None)
        if start is None:
            return []
        out, current = [start], start
        for _ in range(self.tuning.list_max_sentences if section else self.tuning.item_body_sentences):
            nxt = self.scorer.next_sentence(current)
            if nxt is None or is_heading(nxt.text.strip()):
                break
            if not section and enumeration_item(nxt.text.strip()) is not None:
                break
            out.append(nxt)
            current = nxt
        return out

    def cover_facets(self, query: Query, evidence: list[Evidence], chosen: list[Evidence]) -> list[Evidence]:
        """Every part of a question gets a sentence: each year it names, a date when it asks
        when, and each of the questions joined in it ("…从哪一年开始？广西有哪些…",
        `sub_question_joints`). A part no chosen sentence answers takes the best sentence among
        the first Tuning.facet_search_depth that does: for a year, one stating it and at least
        Tuning.facet_min_coverage of the question's idf-weighted topic terms (of several years
        compared, the one of each year that holds the most of them); for a when-question,
        one with a year and that share of the part's terms; otherwise one holding that share of
        the part's terms (topic terms are read from Chinese text only: an English question's words
        are not the papers' words)."""
        t = self.tuning
        depth = evidence[: t.facet_search_depth]
        out = list(chosen)

        def take(fits: Callable[[Evidence], bool]) -> None:
            if any(fits(ev) for ev in out):
                return
            fresh = (ev for ev in depth if not any(near_duplicate(ev.text, c.text) for c in out))
            found = next((ev for ev in fresh if fits(ev)), None)
            if found is not None:
                out.append(found)

        years = list(dict.fromkeys(YEAR.findall(query.text)))
        topic = self.part_terms(query.text) if years else {}
        for year in years:  # a figure of that year, about the topic
            need = t.facet_min_coverage if topic else 0.0
            stating = [ev for ev in depth if year in ev.text and _coverage(topic, ev.text) >= need]
            if len(years) > 1 and stating:  # years compared: each year's sentence closest to the subject
                need = max(_coverage(topic, ev.text) for ev in stating)
            take(lambda ev, y=year, c=need: y in ev.text and _coverage(topic, ev.text) >= c)
        parts = question_pieces(query.form)
        for part in parts:
            terms = self.part_terms(part)
            if shape("when").search(part):
                take(lambda ev, ts=terms: bool(YEAR.search(ev.text)) and _coverage(ts, ev.text) >= t.facet_min_coverage)
            elif terms and len(parts) > 1:
                take(lambda ev, ts=terms: _coverage(ts, ev.text) >= t.facet_min_coverage)
        return out

    def part_terms(self, part: str) -> dict[str, float]:
        """A Chinese question part's topic terms (its nouns, rag.evidence) with their idf; years
        left out. {} for an English part: its words are not the papers' words."""
        if language_of(part) != "zh":
            return {}
        return {term: w for term, w in self.scorer.term_weights(part) if w > 0 and not YEAR.search(term)}

    def other_papers(
        self, query: Query, evidence: list[Evidence], chosen: list[Evidence], how_many: bool
    ) -> list[Evidence]:
        """For a question about what the papers say: the best sentence of each other retrieved
        paper that scores at least Tuning.multi_paper_min_ratio of the best (with a figure for a
        how-many question)."""
        from .abstain import states_figure

        best = evidence[0].score
        have = {ev.hit.chunk.doc_id for ev in chosen}
        out: list[Evidence] = []
        for ev in evidence:
            doc = ev.hit.chunk.doc_id
            if doc in have or ev.score < best * self.tuning.multi_paper_min_ratio:
                continue
            if how_many and not states_figure(query.form, [ev.text]):
                continue
            have.add(doc)
            out.append(ev)
        return out

    def continue_enumerations(self, evidence: list[Evidence], chosen: list[Evidence], limit: int) -> list[Evidence]:
        """A list answer follows an enumeration to its items. A numbered one ("(1) …", "一是…",
        "首先…") is followed item by item, each item's opening sentence, skipping the sentences
        that tell an item (within Tuning.enumeration_gap sentences of the last); a chosen sentence
        that announces a list ("…呈现出以下特点。") is followed to the item 1 that comes within that
        gap. Otherwise, after a sentence that ends with a colon or is followed by items ("其次…",
        "A、B 等…"), the next sentences are added while they continue it (also across a chunk
        boundary)."""
        out = list(chosen)
        for ev in chosen:
            current = ev
            while len(out) < limit + len(chosen):
                if enumeration_items_in(strip_source_refs(current.text)):
                    following = self.next_item(current)
                elif current is ev and (first := self.next_item(current, opening=True)) is not None:
                    following = first
                else:
                    nxt = self.scorer.next_sentence(current)
                    cont = nxt is not None and (
                        current.text.rstrip().endswith(("：", ":")) or continues_enumeration(nxt.text)
                    )
                    following = nxt if cont else None
                if following is None or any(near_duplicate(following.text, c.text) for c in out):
                    break
                out.append(following)
                current = following
        return out[: max(limit, len(chosen)) + self.tuning.enumeration_extra_items]

    def next_item(self, ev: Evidence, *, opening: bool = False) -> Evidence | None:
        """The sentence opening the item after the last one `ev` holds ("(1) …" -> the next
        sentence opening "(2) …", or "最后…"), or with `opening` the sentence opening an item 1,
        within Tuning.enumeration_gap sentences and before the next heading; None when there is
        none (or `ev` holds no numbered item and `opening` is not set)."""
        if opening:
            style, n = "", 0
        else:
            items = enumeration_items_in(strip_source_refs(ev.text))
            if not items or items[-1][2] < 0:
                return None
            _pos, style, n = items[-1]
        current = ev
        for _ in range(self.tuning.enumeration_gap + 1):
            nxt = self.scorer.next_sentence(current)
            if nxt is None or is_heading(nxt.text.strip()):
                return None
            if opening and any(number == 1 for _p, _s, number in enumeration_items_in(strip_source_refs(nxt.text))):
                return nxt  # "…划分为四个关键阶段：(1) 萌芽阶段…" opens the list inside the sentence
            found = enumeration_item(nxt.text.strip())
            if not opening and found is not None and found[0] == style and found[1] in (n + 1, -1):
                return nxt
            current = nxt
        return None


# A heading named in a question points at its section when its words are at least this long.
HEADING_NAME_MIN_CHARS = 4


def names_heading(question: str, sentence: str) -> bool:
    """The sentence is a numbered heading whose words the question contains ("3.3. 综合试验区
    试点政策的创新效应" in "…的创新效应具体体现在哪些方面？")."""
    text = sentence.strip()
    if heading_level(text) is None:
        return False
    words = heading_words(text)
    return len(words) >= HEADING_NAME_MIN_CHARS and fold(words) in fold(question)


def _coverage(terms: dict[str, float], text: str) -> float:
    """The idf-weighted share of `terms` that occur in `text` (1.0 when there are none)."""
    total = sum(terms.values())
    return sum(w for term, w in terms.items() if term in text) / total if total else 1.0


def continues_enumeration(sentence: str) -> bool:
    """The sentence is an item of an enumeration: it opens with an enumeration word ("其次",
    "二是", "secondly", "(2)", "②") or lists several things itself ("A、B、C")."""
    text = sentence.strip()
    if re.match(r"^(?:[(（]?\d{1,2}[)）.、]|[①-⑳]|[(（][一二三四五六七八九十][)）])", text):
        return True
    markers = word_set("zh", "enumeration_markers") | word_set("en", "enumeration_markers")
    first = re.split(r"[，,、\s]", text, maxsplit=1)[0].lower()
    return (
        first in markers
        or any(text.startswith(m) for m in word_set("zh", "enumeration_markers"))
        or re.search(r"、[^，。；]{1,16}等", text) is not None  # "天猫国际、网易考拉等平台…"
        or text.count("、") >= 2
    )


def compose(chosen: list[Evidence], lang: str, papers: dict[str, Paper]) -> tuple[str, tuple[Citation, ...]]:
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
        # A heading used as a list item has no full stop of its own.
        tail = "" if re.search(r"[。！？；.!?;:：]$", sentence) else ("；" if lang == "zh" else ";")
        parts.append(f"{sentence}[{n}]{tail}")
    text = (" " if lang == "en" else "").join(parts)
    if lang == "en" and text:
        text = f"{EN_LEAD} {text}"
    citations = tuple(
        citation_from_hit(n, hits[n], papers.get(hits[n].chunk.doc_id), cited[n][0]) for n in sorted(hits)
    )
    return text, citations
