"""Abstention: should the papers' best evidence be offered as an answer at all?

A small calibrated decision over named features of the question and its evidence:
    similarity       best cross-lingual (USE) similarity of a retrieved sentence or chunk
    best_sentence    score of the best evidence sentence (rag/evidence.py)
    low_similarity   1 when similarity is under Tuning.min_similarity for the question's language
    unknown_name     1 when the question names a place, person, organisation or Latin name the
                     papers never mention ("Shenzhen" counts as mentioned when 深圳 is)
    unknown_year     1 when a year of the question is in none of the retrieved passages
    missing_figure   1 when a how-many question has no sentence among the best that gives a
                     figure (in the unit asked, for each year asked, naming what the question names,
                     and sharing Tuning.figure_min_term_coverage of the question's terms: the
                     figure must measure what was asked, not something else in the same passage),
                     or a when-question ("哪一年…", shape `when`) none among the best
                     Tuning.facet_search_depth that gives a year (and, in Chinese, holds
                     Tuning.facet_min_coverage of the question's terms)
    unmatched_terms  idf-weighted share of the question's content terms that occur nowhere in the
                     papers (an English word counts when the bridge finds its Chinese term)
    name_off_evidence 1 when the question names something the papers mention, but none of the
                     best sentences does ("Kenya's population": Kenya is mentioned elsewhere)
    best_coverage    share of the question's content terms the best sentences hold together
                     (for an English question: of the Chinese terms its words were bridged to)
    unknown_figure   1 when a figure of the question (not a year) is in no retrieved passage:
                     the question rests on a number the papers do not state (a false premise)
    short_question   1 when the question has at most Tuning.short_question_chars letters (then the
                     question is declined whatever the model says: it says nothing to answer)
    any_unmatched    1 when at least one content term of the question occurs in no paper
    unmatched_nouns  idf-weighted share of a Chinese question's nouns (jieba part of speech; not
                     generic names or generic nouns) that occur in no paper: what a question asks
                     about is a noun ("量子纠缠在跨境电商中有什么应用"), while words put otherwise
                     than the papers put them are often verbs ("难赚钱", "折腾"). In English (with
                     Tuning.english_dictionary_terms): the share of its uncommon words and two-word
                     phrases that CC-CEDICT translates into Chinese words no paper uses
                     ("quantum entanglement" -> 量子纠缠)
A how-many question asking with a classifier ("多少家", "几所") needs a figure with that
classifier ("111 所"): the classifiers are the word list `classifiers` of rag/data/zh.toml.
P(unanswerable) = sigmoid(bias + sum(weight x feature)); the question is declined when it reaches
Tuning.abstain_threshold. Weights and threshold are fitted on the dev split (eval/calibrate.py)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from .converse import question_pieces
from .text import (
    CHINESE_COUNT,
    CHINESE_NUMERAL,
    HAN,
    WORD_CHAR,
    YEAR,
    figures,
    fold,
    language_of,
    shape,
    word_set,
)

if TYPE_CHECKING:
    from .embeddings import Encoder
    from .evidence import Evidence, SentenceScorer
    from .legs import Query
    from .store import IndexData
    from .tuning import Tuning
    from .types import Hit

FEATURES = (
    "similarity",
    "best_sentence",
    "low_similarity",
    "unknown_name",
    "unknown_year",
    "missing_figure",
    "unmatched_terms",
    "name_off_evidence",
    "best_coverage",
    "unknown_figure",
    "short_question",
    "any_unmatched",
    "unmatched_nouns",
)
# What a how-many question measures: the words right before 多少/几 ("平均关税税率是多少"), or
# the noun right after its classifier ("多少家企业"); in English the phrase after the question words.
_ZH_MEASURE_BEFORE = re.compile(r"([\u4e00-\u9fff]{2,10})(?:多少|几)")
_ZH_MEASURE_AFTER = re.compile(r"(?:多少|几)[个家所名位项条种类倍座款件批]([\u4e00-\u9fff]{2,6})")
_EN_MEASURE = re.compile(
    r"(?:how (?:many|much)|what (?:is|was|are|were) the|what (?:share|percentage|proportion) of)\s+([a-z' -]{3,60})"
)
_EN_PHRASE_END = re.compile(
    r"\b(?:of|in|for|by|did|does|do|is|was|are|were|has|have|had|to|on|at|from|with|that|which|according)\b"
)
_EN_NAME = re.compile(r"(?<!^)(?<![.?!] )\b([A-Z][A-Za-z]+|[A-Z]{2,})\b")
# Units a how-many question may ask in, and how a sentence states them.
_UNITS = {
    "万亿元": re.compile(r"万亿元|trillion yuan", re.I),
    "亿元": re.compile(r"(?<!万)亿元|billion yuan|hundred million yuan", re.I),
    "%": re.compile(r"%|百分|占比|比重|比例|\bshare\b|percent|proportion", re.I),
}


@dataclass(frozen=True)
class Decision:
    """The features read, the probability they give, and the verdict (shown in the JSON notes)."""

    features: dict[str, float]
    p_unanswerable: float
    abstain: bool
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)

    @property
    def similarity(self) -> float:
        return self.features.get("similarity", 0.0)

    @property
    def best_sentence(self) -> float:
        return self.features.get("best_sentence", 0.0)


class Abstainer:
    def __init__(self, data: IndexData, tuning: Tuning, bridge: Encoder | None, scorer: SentenceScorer) -> None:
        self.data = data
        self.tuning = tuning
        self.bridge = bridge
        self.scorer = scorer  # idf, and which sentences are instruction-like

    @property
    def idf(self) -> dict[str, float]:
        return self.scorer.idf

    @cached_property
    def _body_text(self) -> str:
        """All non-reference text without instruction-like sentences, folded: where a name must
        occur to count as mentioned (a planted "…the capital of France is…" mentions nothing)."""
        return self.data.body if self.data.body is not None else self.scorer.trusted_body()

    def _can_bridge(self) -> bool:
        return self.bridge is not None and self.data.vocab_vectors is not None and bool(len(self.data.vocab))

    def names(self, query: Query, asked: str | None = None) -> list[tuple[str, list[str]]]:
        """Each name of the question with the forms it takes in the papers ([]: never mentioned);
        with `asked` (a follow-up as typed), its names count too: "what about Paris?" names Paris
        even when the standalone question was put in the papers' terms."""
        texts = [query.text] + ([asked] if asked and asked != query.text else [])
        out: dict[str, list[str]] = {}
        for text in texts:
            for name, forms in self._names_in(text):
                out.setdefault(name, forms)
        return list(out.items())

    def _names_in(self, text: str) -> list[tuple[str, list[str]]]:
        from .lexical import named_terms

        if language_of(text) == "zh":
            generic = word_set("zh", "generic_names")
            return [(n, [fold(n)] if fold(n) in self._body_text else []) for n in named_terms(text) if n not in generic]
        return [(n, self._name_forms(n)) for n in english_names(text)]

    def _name_forms(self, name: str) -> list[str]:
        """An English name as the papers write it: itself, or the Chinese index tokens nearest to
        it in the cross-lingual space (an English company name -> its Chinese name)."""
        import numpy as np

        from .lexical import pinyin_terms

        forms = [fold(name)] if fold(name) in self._body_text else []
        forms += [t for t in pinyin_terms([name], self.data.vocab) if t in self._body_text]  # "Pengcheng" -> 鹏城
        if self._can_bridge():
            sims = self.data.vocab_vectors @ self.bridge.encode_queries([name])[0]  # type: ignore[union-attr,operator]
            forms += [
                self.data.vocab[int(i)]
                for i in np.argsort(-sims)[:3]
                if sims[i] >= self.tuning.name_bridge_min_similarity and self.data.vocab[int(i)] in self._body_text
            ]
        return forms

    def features(
        self,
        query: Query,
        hits: list[Hit],
        evidence: list[Evidence],
        asked: str | None = None,
        quotable: Sequence[Evidence] = (),
    ) -> tuple[dict[str, float], list[str]]:
        """The named features and a readable reason for each one that is set."""
        t = self.tuning
        similarity = max((self.scorer.trusted_similarity(query, h) for h in hits), default=0.0)
        floor = t.min_similarity.get(query.lang, t.min_similarity["zh"])
        f = {name: 0.0 for name in FEATURES}
        f["similarity"] = similarity
        f["best_sentence"] = evidence[0].score if evidence else 0.0
        reasons: list[str] = []
        if query.use is not None and similarity < floor:
            f["low_similarity"] = 1.0
            reasons.append(f"best sentence similarity {similarity:.2f} is below {floor}")
        names = self.names(query, asked)  # once per question: part-of-speech tagging, USE calls
        # An English name cannot be ruled out without the bridge to look it up in Chinese.
        unknown = [n for n, forms in names if not forms and (self._can_bridge() or language_of(n) == "zh")]
        if unknown:
            f["unknown_name"] = 1.0
            reasons.append("the papers never mention " + ", ".join(unknown))
        passages = fold("\n".join(self.scorer.trusted_text(h.chunk) for h in hits))
        years = [y for y in YEAR.findall(fold(query.text)) if y not in passages]
        if years:
            f["unknown_year"] = 1.0
            reasons.append("no retrieved passage mentions " + ", ".join(years))
        known = [forms for _, forms in names if forms]
        terms = self.content_terms(query, [n for n, _ in names])
        best = [with_lead_in(ev, t.year_context_chars) for ev in evidence[: t.how_many_evidence_depth]]
        matched = self.matching_terms(query, terms)
        best = [
            text for text in best if mentions_all(text, known) and coverage(text, matched) >= t.figure_min_term_coverage
        ]
        if shape("how_many").search(query.form) and not states_figure(query.form, best, self.measured(query)):
            f["missing_figure"] = 1.0
            reasons.append("no sentence among the best gives the figure asked for (its year, unit, names and subject)")
        elif (
            shape("when").search(query.form)
            and len(question_pieces(query.form)) == 1  # one part of several may ask when (rag.converse)
            and not any(
                YEAR.search(ev.text) and (query.lang != "zh" or coverage(ev.text, matched) >= t.facet_min_coverage)
                for ev in (quotable or evidence)[: t.facet_search_depth]  # where the answer looks (rag.answer)
            )
        ):
            f["missing_figure"] = 1.0
            reasons.append("no sentence among the best gives a year, and the question asks when")
        top = [with_lead_in(ev, t.year_context_chars) for ev in evidence[: t.name_evidence_depth]]
        if known and not any(mentions_all(text, known) for text in top):
            f["name_off_evidence"] = 1.0
            reasons.append("none of the best sentences names " + ", ".join(n for n, forms in names if forms))
        f["best_coverage"] = coverage(" ".join(top), matched)
        asked = [x for x in figures(YEAR.sub(" ", fold(query.text)))]
        absent = [x for x in asked if x not in passages]
        if absent:
            f["unknown_figure"] = 1.0
            reasons.append("no retrieved passage states " + ", ".join(absent))
        if len(WORD_CHAR.findall(query.text)) <= t.short_question_chars:
            f["short_question"] = 1.0
            reasons.append("the question is too short to say what it asks")
        unmatched = self.unmatched(query, terms)
        if terms:
            f["unmatched_terms"] = self.unmatched_share(terms, unmatched)
        if unmatched:
            f["any_unmatched"] = 1.0
        if query.lang == "zh":
            f["unmatched_nouns"] = self.unmatched_nouns(query.text)
        elif self.tuning.english_dictionary_terms:
            f["unmatched_nouns"] = self.unmatched_english_terms(query.text)
        if unmatched and f["unmatched_terms"] >= 0.5:
            reasons.append("the papers never use " + ", ".join(unmatched))
        return f, reasons

    def unmatched_nouns(self, text: str) -> float:
        """The unmatched share (`unmatched_share`) of the nouns of Chinese `text`, generic ones aside."""
        from .lexical import nouns

        skip = word_set("zh", "stopwords") | word_set("zh", "generic_names") | word_set("zh", "generic_nouns")
        found = [n for n in dict.fromkeys(nouns(text)) if len(n) >= 2 and n not in skip and not YEAR.search(n)]
        return self.unmatched_share(found, [n for n in found if n not in self._body_text])

    def unmatched_english_terms(self, text: str) -> float:
        """The unmatched share of an English question's words and two-word phrases that the
        dictionary (rag.dictionary, CC-CEDICT) translates, where a word is unmatched when none
        of its Chinese translations occurs in the papers ("quantum entanglement" -> 量子纠缠;
        "blockchain" -> 区块链, which they use). Words the dictionary does not know and common
        English words ("used", "role") are left out."""
        from .dictionary import chinese_translations, is_common_english
        from .lexical import english_terms

        words = [w for w in english_terms(text) if not is_common_english(w)]
        phrases = [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
        found, unmatched = [], []
        for term in [*phrases, *words]:
            if any(term in p for p in found):
                continue  # a word of a phrase already read
            translations = chinese_translations(term)
            if not translations:
                continue
            found.append(term)
            if fold(term) not in self._body_text and not any(t in self._body_text for t in translations):
                unmatched.append(term)
        return self.unmatched_share(found, unmatched)

    def unmatched_share(self, terms: list[str], unmatched: list[str]) -> float:
        """The share of `terms` weighed by specificity (idf) that `unmatched` holds: a term no
        paper uses weighs as the rarest term there could be. 0.0 for no terms."""
        if not terms:
            return 0.0
        rarest = math.log(1 + max(1, len(self.data.chunks)) / 0.5)
        weight = {t: rarest if t in unmatched else self.idf.get(fold(t), 1.0) for t in terms}
        return sum(weight[t] for t in unmatched) / (sum(weight.values()) or 1.0)

    def content_terms(self, query: Query, names: list[str]) -> list[str]:
        """The question's topic words: terms that are not question words, names or figures."""
        from .lexical import english_terms, tokenize

        skip = {fold(n) for n in names}
        if query.lang == "en":
            words = english_terms(query.text)
        else:
            words = [w for w in tokenize(query.text) if len(w) > 1 or not HAN.match(w)]
            words = [w for w in words if not any(w != longer and w in longer for longer in words)]  # longest forms
        shapes = [shape(name) for name in ("list", "how_many", "quantity", "when", "which")]  # question words
        return [
            w
            for w in dict.fromkeys(words)
            if w not in skip and not w.isdigit() and not any(p.fullmatch(w) for p in shapes)
        ]

    def measured(self, query: Query) -> list[str]:
        """The terms naming what a how-many question measures, as the papers would write them:
        "出口商品的平均关税税率是多少" -> [关税, 税率]; "多少家企业" -> [企业]; "What is the average
        profit margin" -> the Chinese terms of "profit", "margin". [] when it cannot tell."""
        from .lexical import english_terms, nouns, tokenize

        text = fold(query.text)
        stop = word_set("zh", "stopwords") | word_set("zh", "measure_generic")
        if query.lang == "zh":
            after = [m.group(1) for m in _ZH_MEASURE_AFTER.finditer(text)]
            before = [m.group(1) for m in _ZH_MEASURE_BEFORE.finditer(text)]
            for phrase in (*after, *before):  # the head noun: first after a classifier, else last before
                found = [n for n in nouns(phrase) if len(n) >= 2 and n not in stop]
                if found:
                    head = found[0] if phrase in after else found[-1]
                    return [w for w in dict.fromkeys([head, *tokenize(head)]) if len(w) >= 2 and w not in stop]
            return []
        m = _EN_MEASURE.search(text)
        if not m or not self._can_bridge():
            return []
        phrase = _EN_PHRASE_END.split(m.group(1))[0]
        words = [w for w in english_terms(phrase) if w not in word_set("en", "measure_generic")]
        if not words:
            return []
        import numpy as np

        vectors = self.bridge.encode_queries(words)  # type: ignore[union-attr]
        sims = vectors @ self.data.vocab_vectors.T  # type: ignore[union-attr]
        out: list[str] = []
        for row in sims:  # each word's nearest Chinese terms; a word with none leaves it unknown
            near = [
                self.data.vocab[int(i)] for i in np.argsort(-row)[:3] if row[i] >= self.tuning.bridge_min_similarity
            ]
            if not near:
                return []
            out += near
        return list(dict.fromkeys(out))

    def matching_terms(self, query: Query, terms: list[str]) -> list[str]:
        """The terms to look for in the papers' sentences: the Chinese terms an English
        question's words were bridged to, else the question's own content terms."""
        return list(dict.fromkeys(query.bridged)) if query.lang == "en" and query.bridged else terms

    def unmatched(self, query: Query, terms: list[str]) -> list[str]:
        """The terms the papers never use (for English words: nor their Chinese translation)."""
        import numpy as np

        missing = [w for w in terms if fold(w) not in self._body_text]
        if not missing or query.lang != "en" or not self._can_bridge():
            return missing
        vectors = self.bridge.encode_queries(missing)  # type: ignore[union-attr]
        best = (vectors @ self.data.vocab_vectors.T).max(axis=1)  # type: ignore[union-attr]
        return [
            w for w, sim in zip(missing, np.atleast_1d(best), strict=True) if sim < self.tuning.bridge_min_similarity
        ]

    def decide(
        self,
        query: Query,
        hits: list[Hit],
        evidence: list[Evidence],
        asked: str | None = None,
        quotable: Sequence[Evidence] = (),
    ) -> Decision:
        """The verdict for the standalone question (and `asked`, the question as typed);
        `quotable`: every sentence the answer may quote (the evidence pool, best first), where a
        when-question's year is looked for (default: `evidence`)."""
        if not evidence:
            return Decision({name: 0.0 for name in FEATURES}, 1.0, True, ("nothing retrieved",))
        f, reasons = self.features(query, hits, evidence, asked, quotable)
        p = probability(f, self.tuning.abstention_weights)
        # A question of one or two letters says nothing to answer, whatever the evidence scores.
        abstain = p >= self.tuning.abstain_threshold or f["short_question"] == 1.0
        if abstain and not reasons:
            reasons.append(f"the evidence is weak overall (P(unanswerable) = {p:.2f})")
        return Decision(f, p, abstain, tuple(reasons) if abstain else ())


def with_lead_in(ev: Evidence, chars: int) -> str:
    """The sentence with up to `chars` characters of its chunk before it: a figure's year is
    often stated in the sentence before ("高速增长期(2013~2019 年)…。年均增速保持在 20%以上")."""
    chunk = ev.hit.chunk
    begin = max(0, ev.start - chunk.start - chars)
    return chunk.text[begin : ev.end - chunk.start]


def coverage(text: str, terms: list[str]) -> float:
    """Share of the terms that occur in the text (1.0 when there are no terms)."""
    if not terms:
        return 1.0
    low = fold(text)
    return sum(fold(t) in low for t in terms) / len(terms)


def probability(features: dict[str, float], weights: dict[str, float]) -> float:
    z = weights.get("bias", 0.0) + sum(weights.get(name, 0.0) * value for name, value in features.items())
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def english_names(question: str) -> list[str]:
    """Capitalised words past the first word of an English question (place, company names)."""
    stop = word_set("en", "stopwords") | word_set("en", "generic_names")
    return [w for w in _EN_NAME.findall(question.strip()) if w.lower() not in stop]


def mentions_all(sentence: str, names: list[list[str]]) -> bool:
    """The sentence names everything the question names (in one of each name's forms)."""
    low = fold(sentence)
    return all(any(form in low for form in forms) for forms in names)


def states_figure(question: str, sentences: list[str], measure: list[str] | None = None) -> bool:
    """Some of the sentences answer a how-many question: each year the question names comes
    with a figure in the unit it asks in (万亿元, %, ...), with the classifier it asks with
    ("多少家" needs "N 家"), and, when `measure` names what is measured, in a clause that names
    it too (a logistics dependence of 70 % does not answer a question about tariff rates)."""
    q = fold(question)
    years = YEAR.findall(q) or [""]
    units = [unit for unit, pattern in _UNITS.items() if pattern.search(q)]
    counted = classifier_asked(q)
    return all(
        any(_figure_in(fold(s), year, units, counted) and _measures(fold(s), measure) for s in sentences)
        for year in years
    )


def _measures(sentence: str, measure: list[str] | None) -> bool:
    """A clause of the sentence (or two adjacent ones) holds both a figure and a measured term."""
    if not measure:
        return True
    clauses = [c for c in re.split(r"[，,；;。！？!?]", sentence) if c.strip()]
    for a, b in zip(clauses, [*clauses[1:], ""], strict=True):
        pair = f"{a} {b}"
        if (figures(YEAR.sub(" ", pair)) or CHINESE_COUNT.search(pair)) and any(m in pair for m in measure):
            return True
    return False


def classifier_asked(question: str) -> str | None:
    """The classifier of a Chinese how-many question: "多少家企业" -> "家", "几所高校" -> "所"."""
    m = re.search(r"(?:多少|几)(\w)", question)
    return m.group(1) if m and m.group(1) in word_set("zh", "classifiers") else None


def _figure_in(sentence: str, year: str, units: list[str], counted: str | None = None) -> bool:
    if year and year not in sentence:
        return False
    plain = YEAR.sub(" ", sentence)
    if not figures(plain) and not CHINESE_COUNT.search(plain):
        return False
    number = rf"(?:\d|{CHINESE_NUMERAL})"
    if counted and not re.search(rf"{number}\s*(?:[万亿千百]\s*)?(?:多|余|余万|多万)?\s*{re.escape(counted)}", plain):
        return False
    return all((u in sentence) if u != "%" else ("%" in sentence or "％" in sentence) for u in units)
