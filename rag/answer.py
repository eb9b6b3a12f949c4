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

from .chunking import language_of
from .cite import citation_from_hit, strip_source_refs
from .lexical import tokenize
from .store import IndexData
from .types import Citation, Hit

if TYPE_CHECKING:
    from .embeddings import Encoder
    from .retrieve import Query

ABSTAIN = {
    "zh": "所检索的论文中没有找到这个问题的答案。",
    "en": "The indexed papers do not answer this question.",
}
EN_LEAD = "From the papers (quoted in their original language):"

_LIST_Q = re.compile(
    r"(哪些|哪几|几个方面|几点|有什么|包括|举措|措施|对策|建议|列举|what are|which|list|name the|measures|ways)", re.I
)
_QUANT_Q = re.compile(
    r"(多少|几|比例|占比|规模|增长|增速|百分|how (many|much|large|big)|"
    r"what (share|percentage|proportion)|rate|growth|volume|size)",
    re.I,
)
_DIGIT = re.compile(r"\d")
_TOP_HEADING = re.compile(r"^\d{1,2}\.\s*\S{1,40}$")
_ANY_HEADING = re.compile(r"^(?:\d{1,2}(?:\.\d{1,2})*\.|[(（][一二三四五六七八九十]{1,3}[)）])\s*\S[^。！？]{0,40}$")
_WHICH_PAPER = re.compile(r"(哪些论文|哪篇|哪几篇|各论文|which (of the )?papers?|which studies)", re.I)
_META = re.compile(r"^(本文|本研究|本文通过|this paper|this study|the paper)", re.I)
_ABOUT_PAPER = re.compile(r"(本文|论文|文章|该文|研究目的|摘要|\bpaper\b|\babstract\b|\bstudy\b|\baim|\bargue)", re.I)


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
    """What the abstention rule read, kept for tuning and shown in the JSON notes."""

    best_sentence: float  # sentence score of the best candidate
    similarity: float  # best cross-lingual (USE) similarity of a retrieved sentence
    abstain: bool
    reason: str = ""


# Abstention rules, measured on eval/questions.jsonl (README, "Abstention"):
# - the best retrieved sentence must be at least this similar to the question (USE cosine);
#   out-of-domain questions (recipes, weather) score 0.06-0.15, answerable ones >= 0.20;
MIN_SIMILARITY = {"zh": 0.25, "en": 0.17}
# - names and years in the question that the papers never mention mean the papers cannot
#   answer it, however well the other words match ("江苏省", "Brazil", "2021 年");
# - a "how many / 多少" question needs a figure among the best sentences.
_ENTITY_TAGS = {"ns", "nr", "nt", "nz", "nrt", "nrfg", "eng"}
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")
_EN_NAME = re.compile(r"(?<!^)(?<![.?!] )\b([A-Z][A-Za-z]+|[A-Z]{2,})\b")
NAME_BRIDGE_MIN_SIM = 0.65  # "Shenzhen" -> 深圳 0.81, "Brazil" -> 国 0.55 (not a translation)
_COMMON_NAMES = {"china", "chinese", "rcep", "wto", "b2b", "b2c", "c2c", "ai", "the", "what", "which", "how", "why"}
_HOW_MANY = re.compile(
    r"(多少|几个|几家|几所|几年|比例|占比|百分之|增速|how many|how much|what share|what percentage|"
    r"what proportion|what was the value|growth rate|share of|percentage of|proportion of)",
    re.I,
)


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
        terms = list(query.tokens or tokenize(query.text)) + list(query.bridged)
        q_terms = {t: self._idf.get(t, 1.0) for t in terms}
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
        score = sim + COVERAGE_WEIGHT * coverage + PRIOR_WEIGHT * prior
        if _QUANT_Q.search(query.text) and _DIGIT.search(text):
            score += 0.05
        if len(text) < 12:  # fragments ("二是。") say little on their own
            score -= 0.2
        if _TOP_HEADING.match(text):  # "4. 存在的问题" restates a question; it does not answer it
            score -= 0.5
        elif _ANY_HEADING.match(text) and not _LIST_Q.search(query.text):
            score -= 0.3  # a sub-heading names a topic; only a list question wants it as an item
        if query.lang == "en" and language_of(text) == "en" and not _ABOUT_PAPER.search(query.text):
            score -= 0.15  # the abstract's English matches an English question's language, not its content
        if _META.match(text) and not _ABOUT_PAPER.search(query.text):
            score -= 0.1  # "本文通过…" describes the paper, rarely the fact asked for
        asked_years = set(_YEAR.findall(query.text))
        years = set(_YEAR.findall(text))
        if asked_years and years and not asked_years & years:  # a figure for another year
            score -= 0.3
        return score

    @cached_property
    def _body_text(self) -> str:
        """All non-reference text, lower-cased: where a name must occur to be answerable."""
        return "\n".join(c.text for c in self.data.chunks if c.kind != "references").lower()

    def names(self, query: Query, bridge: Encoder | None) -> list[tuple[str, list[str]]]:
        """Each name of the question with the forms it takes in the papers (none: never
        mentioned). An English name may occur in Chinese: "Shenzhen" -> 深圳."""
        from .lexical import named_terms

        if query.lang == "zh":
            return [(n, [n.lower()] if n.lower() in self._body_text else []) for n in named_terms(query.text)]
        return [(n, self._name_forms(n, bridge)) for n in _english_names(query.text)]

    def _can_bridge(self, bridge: Encoder | None) -> bool:
        return bridge is not None and self.data.vocab_vectors is not None and bool(len(self.data.vocab))

    def _name_forms(self, name: str, bridge: Encoder | None) -> list[str]:
        """How an English name appears in the papers: itself, or Chinese tokens that are its
        nearest neighbours in the cross-lingual space ("Amazon" -> 亚马逊)."""
        import numpy as np

        forms = [name.lower()] if name.lower() in self._body_text else []
        if bridge is not None and self._can_bridge(bridge):
            sims = self.data.vocab_vectors @ bridge.encode_queries([name])[0]  # type: ignore[operator]
            forms += [
                self.data.vocab[int(i)]
                for i in np.argsort(-sims)[:3]
                if sims[i] >= NAME_BRIDGE_MIN_SIM and self.data.vocab[int(i)] in self._body_text
            ]
        return forms

    def decide(
        self, query: Query, hits: list[Hit], evidence: list[Evidence], bridge: Encoder | None = None
    ) -> Decision:
        best = evidence[0].score if evidence else 0.0
        similarity = max((h.legs.get("sent", h.legs.get("use", 0.0)) for h in hits), default=0.0)
        reason = ""
        if not evidence:
            reason = "nothing retrieved"
        elif query.use is not None and similarity < MIN_SIMILARITY.get(query.lang, 0.25):
            reason = f"best sentence similarity {similarity:.2f} is below {MIN_SIMILARITY.get(query.lang, 0.25)}"
        else:
            names = self.names(query, bridge)  # once per question: part-of-speech tagging, USE calls
            # An English name cannot be ruled out without the bridge to look it up in Chinese.
            checkable = query.lang == "zh" or self._can_bridge(bridge)
            passages = "\n".join(h.chunk.text for h in hits)
            unknown = [n for n, forms in names if not forms and checkable]
            unknown += [y for y in _YEAR.findall(query.text) if y not in passages]
            known = [forms for _, forms in names if forms]
            if unknown:
                reason = "the papers never mention " + ", ".join(unknown)
            elif _HOW_MANY.search(query.text) and not _states_figure(
                query.text, [ev.text for ev in evidence[:6] if _mentions_all(ev.text, known)]
            ):
                reason = "no sentence among the best gives the figure asked for (with its year, unit and names)"
        return Decision(best_sentence=best, similarity=similarity, abstain=bool(reason), reason=reason)

    @cached_property
    def _outline(self) -> dict[str, list[tuple[int, int, int, str, int]]]:
        """Per paper, its headings in order: (start, end, level, text, chunk index) where the
        chunk is the one that opens with the heading (so a citation can quote it)."""
        out: dict[str, dict[int, tuple[int, int, int, str, int]]] = defaultdict(dict)
        for ci, chunk in enumerate(self.data.chunks):
            pos = 0
            for para in chunk.text.split("\n\n"):
                level = _heading_level(para)
                if level is None:
                    break
                start = chunk.start + pos
                out[chunk.doc_id].setdefault(start, (start, start + len(para), level, para, ci))
                pos += len(para) + 2
        result: dict[str, list[tuple[int, int, int, str, int]]] = {}
        for doc, heads in out.items():
            ordered = sorted(heads.values())
            fixed = []
            numeric = 0
            for start, end, level, text, ci in ordered:
                if level < 0:  # "(一)" sits one below the last numbered heading
                    level = numeric + 1
                else:
                    numeric = level
                fixed.append((start, end, level, text, ci))
            result[doc] = fixed
        return result

    def outline_list(self, query: Query, hits: list[Hit], best: float) -> list[Evidence]:
        """For a list question whose subject is a heading with sub-headings ("4. 存在的问题" ->
        "(一) 监管制度尚未健全", ...), the sub-headings are the list, each citing its chunk."""
        if not _LIST_Q.search(query.text) or _WHICH_PAPER.search(query.text) or not hits:
            return []  # "which papers …" asks for papers, not for one paper's sub-headings
        terms = list(query.tokens or tokenize(query.text)) + list(query.bridged)
        q_terms = {t: self._idf.get(t, 1.0) for t in terms}
        q_weight = sum(q_terms.values()) or 1.0
        row_of = {(self.data.chunks[ci].doc_id, s): row for row, (ci, s, _e) in enumerate(self.data.sentences)}
        choice: tuple[float, str, int] | None = None
        docs = list(dict.fromkeys(h.chunk.doc_id for h in hits[:3]))
        for doc in docs:
            heads = self._outline.get(doc, [])
            for i, (start, _end, _level, text, _ci) in enumerate(heads):
                children = _children(heads, i)
                row = row_of.get((doc, start))
                if len(children) < 2 or row is None:
                    continue
                score = self._score(query, row, re.sub(r"^\S+\s*", "", text), q_terms, q_weight, 1.0)
                if choice is None or score > choice[0]:
                    choice = (score, doc, i)
        if choice is None or choice[0] < best:
            return []
        _score, doc, i = choice
        heads = self._outline[doc]
        items = []
        for j in _children(heads, i)[:MAX_LIST_ITEMS]:
            start, end, _level, text, ci = heads[j]
            chunk = self.data.chunks[ci]
            hit = Hit(chunk, _score, len(items) + 1, {"outline": _score})
            items.append(Evidence(hit, start, end, text, _score))
        return items

    def select(self, query: Query, evidence: list[Evidence]) -> list[Evidence]:
        """The best sentence and those close to it; lists get more, duplicates merged."""
        if not evidence:
            return []
        wants_list = bool(_LIST_Q.search(query.text))
        limit, ratio = (5, 0.78) if wants_list else (3, 0.88)
        best = evidence[0].score
        home = evidence[0].hit.chunk.doc_id
        how_many = bool(_HOW_MANY.search(query.text))
        chosen: list[Evidence] = []
        for ev in evidence:
            if len(chosen) >= limit or ev.score < best * ratio:
                break
            if (
                ev.hit.chunk.doc_id != home
                and ev.score < best * OTHER_PAPER_RATIO
                and not (how_many and _states_figure(query.text, [ev.text]))
            ):
                continue  # a second paper is quoted when it matches nearly as well, or gives its own figure
            if any(_near_duplicate(ev.text, c.text) for c in chosen):
                continue
            chosen.append(ev)
        if how_many and not any(_has_figure(ev.text) for ev in chosen):
            # A how-many question is not answered without a figure: add the best sentence that has one.
            with_figure = next((ev for ev in evidence[:8] if _has_figure(ev.text) and ev not in chosen), None)
            if with_figure is not None:
                chosen.append(with_figure)
        # Keep the papers' order: by the rank of the chunk, then by position within the paper.
        return sorted(chosen, key=lambda ev: (ev.hit.rank, ev.start))


MAX_LIST_ITEMS = 8
# Sentence score = USE similarity + COVERAGE_WEIGHT x idf-weighted share of the question's terms
# + PRIOR_WEIGHT x the chunk's fused score relative to the best. Tuned on the question set: a
# plateau (coverage 0.4-0.6, prior 0.3-0.35) gives accuracy 0.867; the old 0.35/0.15 gave 0.844.
COVERAGE_WEIGHT = 0.45
PRIOR_WEIGHT = 0.3
# Quoting a second paper needs a sentence nearly as good as the best one: it keeps both sides
# of a real disagreement (111 所 vs 58 所) and drops loosely related sentences from elsewhere.
OTHER_PAPER_RATIO = 0.95


def _heading_level(text: str) -> int | None:
    """1 for "4.", 2 for "4.1.", -1 for "(一)" (resolved against its numbered parent), None
    when the paragraph is not a heading."""
    if "\n" in text or len(text) > 48 or text.endswith(("。", "；", "，")):
        return None
    m = re.match(r"^(\d{1,2}(?:\.\d{1,2})*)\.\s*\S", text)
    if m:
        return m.group(1).count(".") + 1
    if re.match(r"^[(（][一二三四五六七八九十]{1,3}[)）]\s*\S", text):
        return -1
    return None


def _children(heads: list[tuple[int, int, int, str, int]], i: int) -> list[int]:
    level = heads[i][2]
    out = []
    for j in range(i + 1, len(heads)):
        if heads[j][2] <= level:
            break
        if heads[j][2] == level + 1:
            out.append(j)
    return out


_UNITS = {
    "万亿元": re.compile(r"万亿元|trillion yuan", re.I),
    "亿元": re.compile(r"(?<!万)亿元|billion yuan|hundred million yuan", re.I),
    "%": re.compile(r"%|百分|占比|比重|比例|\bshare\b|percent|proportion", re.I),
}


def _states_figure(question: str, sentences: list[str]) -> bool:
    """Some of the sentences answer a how-many question: each year the question names comes
    with a figure in the unit it asks in (万亿元, %, ...)."""
    years = _YEAR.findall(question) or [""]
    units = [unit for unit, pattern in _UNITS.items() if pattern.search(question)]
    for year in years:
        if not any(_figure_in(s, year, units) for s in sentences):
            return False
    return True


def _mentions_all(sentence: str, names: list[list[str]]) -> bool:
    """The sentence names everything the question names (in one of each name's forms)."""
    low = sentence.lower()
    return all(any(form in low for form in forms) for forms in names)


def _has_figure(sentence: str) -> bool:
    """A number other than a year or a list ordinal: "20%", "1.88 万亿元", "111 所"."""
    plain = re.sub(r"\[\d+\]|^\(?\d\)?\s*|^\d+(?:\.\d+)*\.\s", "", sentence)
    return any(not _YEAR.fullmatch(f) for f in re.findall(r"\d+(?:[.,]\d+)*", plain))


def _figure_in(sentence: str, year: str, units: list[str]) -> bool:
    plain = re.sub(r"\[\d+\]", "", sentence)
    if year and year not in plain:
        return False
    figures = [f for f in re.findall(r"\d+(?:[.,]\d+)*", plain) if not _YEAR.fullmatch(f)]
    return bool(figures) and all((u in plain) if u != "%" else ("%" in plain or "％" in plain) for u in units)


def _english_names(question: str) -> list[str]:
    """Capitalised words past the first word of an English question ("Brazil", "SHEIN")."""
    words = _EN_NAME.findall(question.strip())
    return [w for w in words if w.lower() not in _COMMON_NAMES]


def _near_duplicate(a: str, b: str) -> bool:
    a2, b2 = re.sub(r"\W", "", a), re.sub(r"\W", "", b)
    return a2 in b2 or b2 in a2


def compose(chosen: list[Evidence], lang: str, papers: dict) -> tuple[str, tuple[Citation, ...]]:
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
    joiner = " " if lang == "en" else ""
    text = joiner.join(parts)
    if lang == "en" and text:
        text = f"{EN_LEAD} {text}"
    citations = tuple(
        citation_from_hit(n, hits[n], papers.get(hits[n].chunk.doc_id), cited[n][0]) for n in sorted(hits)
    )
    return text, citations
