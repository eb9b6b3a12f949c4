"""Citation verification of an answer, sentence by sentence.

Each sentence of an answer is checked against the passages it cites: figures must occur in the
cited passages exactly, and the sentence's key terms must too (or, for an English sentence over
Chinese passages, it must be close to one of their sentences in the cross-lingual space).
Citation numbers that are not passages are removed; a sentence without a citation is
unsupported. The thresholds are measured on the project's papers and question set
(bench/calibrate_verify.py; README, "Citation verification").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .answer import ABSTAIN, EN_LEAD
from .chunking import split_sentences
from .lexical import tokenize
from .text import CITATION_MARKER, language_of
from .types import Citation, SentenceCheck

if TYPE_CHECKING:
    import numpy as np

    from .embeddings import Encoder
    from .tuning import Tuning

__all__ = ["SentenceCheck", "Verified", "verify", "check_sentence", "numbers_of", "scale_mismatches", "term_coverage"]

# Measured with bench/calibrate_verify.py on eval/sets/dev.jsonl (README, "Citation verification"):
# - share of a same-language sentence's key terms (jieba tokens) found in its cited passages:
#   86 paraphrased answers vs. their gold chunk pass 97.7% at 0.6, verbatim sentences 100%,
#   324 same-topic wrong passages only 11% (0.5 lets 24% through, 0.7 loses 6% of good ones);
TERM_MIN = 0.6
# - cosine (multilingual USE) of an English sentence with the closest sentence of its Chinese
#   passages: 42 English questions vs. their gold chunk pass 86% at 0.30, 154 wrong passages 68%.
#   The cross-lingual test is weak; it catches off-topic citations, the figures rule does the rest.
CROSS_MIN = 0.30

UNSUPPORTED_LABEL = {"zh": "[未获引文支持]", "en": "[unsupported]"}
WARN = "⚠"

# [1], [1][2], [1, 2], [1-3], 【1】 (NFKC already turned ［１］ into [1]).
_MARKER = re.compile(r"\s*[\[【]\s*(\d{1,3}(?:\s*[,，、\-–~]\s*\d{1,3})*)\s*[\]】]")
_LIST_PREFIX = re.compile(r"^\s*(?:[-*•·]|\d{1,2}(?:\.\d{1,2})*[.、)）]|[(（]?[一二三四五六七八九十]{1,3}[)）、])\s*")
_FIGURE = re.compile(r"\d+(?:\.\d+)?")
_THOUSANDS = re.compile(r"(?<=\d)[,，](?=\d{3}(?!\d))")
_PUNCT = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class Verified:
    """An answer after verification: the text to show, its citations renumbered by first use."""

    text: str
    citations: tuple[Citation, ...]
    sentences: tuple[SentenceCheck, ...]
    abstained: bool = False
    problem: str | None = None  # why the answer is unusable (empty, nothing supported, wrong language)
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def supported_share(self) -> float:
        claims = [s for s in self.sentences if s.reason != "abstention"]
        return sum(s.supported for s in claims) / len(claims) if claims else 0.0


@dataclass
class _Sentence:
    line: int
    body: str
    cited: list[int]  # passage numbers that exist
    removed: list[int]  # numbers that are not passages
    supported: bool = False
    reason: str = ""
    best: dict[int, str] = field(default_factory=dict)  # passage n -> its best-matching sentence


def verify(
    text: str,
    passages: Mapping[int, Citation],
    *,
    question_lang: str,
    bridge: Encoder | None = None,
    drop_unsupported: bool = False,
    tuning: Tuning | None = None,
    ground: Mapping[int, str] | None = None,
    reattribute: bool = False,
) -> Verified:
    """Check every sentence of `text` against the passages (numbered as the model saw them)
    it cites, and return the text to show with citations renumbered in order of first use.
    `ground` gives, per passage number, the text to check against instead of the passage's
    (the quote the model was given, when it wrote from quotes). With `reattribute`, a sentence
    its citations do not support is cited to the first other passage that supports it on its
    own, when there is one (a note says so)."""
    text = _canonical_markers(text.strip())
    lead = EN_LEAD if text.startswith(EN_LEAD) else ""
    text = text[len(lead) :].strip()
    if _is_abstention(text):
        return Verified(ABSTAIN.get(question_lang, ABSTAIN["en"]), (), (), abstained=True)
    sentences = _split(text, passages)
    notes = [
        f"removed citation [{n}]: there is no passage {n} (the context had {_range(passages)})"
        for n in dict.fromkeys(n for s in sentences for n in s.removed)
    ]
    thresholds = (
        (tuning.verify_min_term_coverage, tuning.verify_min_cross_similarity) if tuning else (TERM_MIN, CROSS_MIN)
    )
    texts = {n: (ground or {}).get(n) or c.text for n, c in passages.items()}
    for s in sentences:
        _judge(s, texts, bridge, thresholds)
        if reattribute:
            _reattribute(s, texts, bridge, thresholds)
    shown = [s for s in sentences if s.supported or not drop_unsupported]
    numbers = {n: i for i, n in enumerate(dict.fromkeys(n for s in shown for n in s.cited), 1)}
    best = {n: next(s.best[n] for s in shown if n in s.best) for n in numbers if any(n in s.best for s in shown)}
    citations = tuple(replace(passages[old], n=new, sentence=best.get(old, "")) for old, new in numbers.items())
    checks = tuple(
        SentenceCheck(s.body, tuple(numbers[n] for n in s.cited if n in numbers), s.supported, s.reason)
        for s in sentences
    )
    answer_lang = language_of(" ".join(s.body for s in sentences)) if sentences else question_lang
    out = _render(shown, numbers, answer_lang, lead)
    notes += [f"sentence {i} unsupported: {c.reason}" for i, c in enumerate(checks, 1) if not c.supported]
    notes += [f"sentence {i}: {c.reason}" for i, c in enumerate(checks, 1) if "instead of" in c.reason]
    if drop_unsupported and len(shown) < len(sentences):
        notes.append(f"dropped {len(sentences) - len(shown)} unsupported sentence(s)")
    problem = _problem(sentences, answer_lang, question_lang, bool(lead))
    return Verified(out, citations, checks, problem=problem, notes=tuple(notes))


def _problem(sentences: list[_Sentence], answer_lang: str, question_lang: str, quoted: bool) -> str | None:
    claims = [s for s in sentences if s.reason != "abstention"]
    if not claims:
        return "empty"
    if not any(s.supported for s in claims):
        return "no sentence is supported by the passages it cites"
    if answer_lang != question_lang and not quoted:  # the extractive English answer quotes Chinese
        return f"answer is in {answer_lang}, the question in {question_lang}"
    return None


def _canonical_markers(text: str) -> str:
    """Every citation group as [a][b] (ranges expanded), so splitting and parsing see one form."""

    def expand(m: re.Match[str]) -> str:
        out: list[int] = []
        for part in re.split(r"\s*[,，、]\s*", m.group(1)):
            ends = [int(x) for x in re.split(r"\s*[\-–~]\s*", part) if x]
            lo, hi = ends[0], ends[-1]
            out += list(range(lo, hi + 1)) if 0 <= hi - lo <= 10 else ends
        return "".join(f"[{n}]" for n in dict.fromkeys(out))

    return _MARKER.sub(expand, text)


def _split(text: str, passages: Mapping[int, Citation]) -> list[_Sentence]:
    out: list[_Sentence] = []
    for line_no, line in enumerate(text.split("\n")):
        for start, end in split_sentences(line):
            raw = line[start:end]
            numbers = [int(n) for n in CITATION_MARKER.findall(raw)]
            body = re.sub(r"\s+([，。；：！？,.;:!?])", r"\1", _MARKER.sub("", raw)).strip()
            body = re.sub(r"\*\*|__", "", body).strip()  # markdown emphasis
            if not re.search(r"\w", _LIST_PREFIX.sub("", body)):
                continue
            known = [n for n in dict.fromkeys(numbers) if n in passages]
            out.append(_Sentence(line_no, body, known, [n for n in numbers if n not in passages]))
    return out


def _judge(s: _Sentence, texts: Mapping[int, str], bridge: Encoder | None, thresholds: tuple[float, float]) -> None:
    if _is_abstention(s.body):
        s.supported, s.reason = True, "abstention"
    elif not s.cited:
        s.supported, s.reason = False, "no citation" + (" (only numbers that are not passages)" if s.removed else "")
    else:
        s.supported, s.reason, s.best = check_sentence(
            s.body, [texts[n] for n in s.cited], bridge, s.cited, thresholds=thresholds
        )


def _reattribute(
    s: _Sentence, texts: Mapping[int, str], bridge: Encoder | None, thresholds: tuple[float, float]
) -> None:
    """An unsupported sentence (or one without a citation) that one other quote supports on its
    own is cited to that quote instead, and says so: small writers often put the neighbouring
    quote's number. The new citation passes the same check as any other."""
    if s.supported or not texts:
        return
    figures = numbers_of(s.body)
    for n in texts:
        if n in s.cited:
            continue
        # Across languages only with figures to anchor it: the cross-lingual similarity alone is too
        # weak (README, "Citation verification") to pick another quote by.
        if language_of(s.body) != language_of(texts[n]) and not figures:
            continue
        ok, reason, best = check_sentence(s.body, [texts[n]], bridge, [n], thresholds=thresholds)
        if ok:
            was = "".join(f"[{m}]" for m in s.cited) or "no citation"
            s.cited, s.supported, s.best = [n], True, best
            s.reason = f"{reason}; cited [{n}] instead of {was}, the quote that supports it"
            return


def check_sentence(
    sentence: str,
    texts: Sequence[str],
    bridge: Encoder | None = None,
    numbers: Sequence[int] | None = None,
    *,
    thresholds: tuple[float, float] = (TERM_MIN, CROSS_MIN),
) -> tuple[bool, str, dict[int, str]]:
    """(supported, reason, {passage n: its best-matching sentence}) for one sentence and the
    texts of the passages it cites."""
    numbers = list(numbers) if numbers is not None else list(range(1, len(texts) + 1))
    body = _LIST_PREFIX.sub("", sentence)
    cited = _normal("\n".join(texts))
    amounts = quantities(cited)
    scaled = {figure: value for figure, _word, value in _scaled(body)}
    # A figure is there as written, or (scaled by a magnitude word) as the same amount: "821 billion"
    # is the quote's "8210 亿".
    missing = [
        f
        for f in numbers_of(body)
        if not _has_figure(cited, f) and not (f in scaled and _amount_in(scaled[f], amounts))
    ]
    parts = {n: [t[a:b] for a, b in split_sentences(t)] or [t] for n, t in zip(numbers, texts, strict=True)}
    if language_of(body) == language_of("".join(texts)) or bridge is None:
        score_of = _coverage_scorer(body)
        score, kind, threshold = term_coverage(body, cited), "key-term coverage", thresholds[0]
    else:
        candidates = [x for p in parts.values() for x in p]
        score_of = _cosine_scorer(body, candidates, bridge)
        score, kind, threshold = max(map(score_of, candidates), default=0.0), "similarity", thresholds[1]
    best = {n: max(p, key=score_of) for n, p in parts.items()}
    if missing:
        return False, f"figure {', '.join(missing)} not in the cited passage(s)", best
    wrong_scale = scale_mismatches(body, cited, amounts)
    if wrong_scale:
        return False, f"{'; '.join(wrong_scale)} in the cited passage(s)", best
    if score < threshold:
        return False, f"{kind} {score:.2f} with the cited passage(s) is below {threshold}", best
    return True, f"{kind} {score:.2f}" + (", figures match" if numbers_of(body) else ""), best


# Magnitude words: an English sentence's "17.66 billion" must be the quote's "17.66 亿"-scale.
_EN_SCALE = {"ten thousand": 1e4, "hundred thousand": 1e5, "hundred million": 1e8, "thousand": 1e3,
             "million": 1e6, "billion": 1e9, "trillion": 1e12}  # fmt: skip
_ZH_SCALE = {
    "万亿": 1e12,
    "千亿": 1e11,
    "百亿": 1e10,
    "亿": 1e8,
    "千万": 1e7,
    "百万": 1e6,
    "十万": 1e5,
    "万": 1e4,
    "千": 1e3,
}
_EN_SCALED = re.compile(r"(\d+(?:\.\d+)?)\s*(" + "|".join(sorted(_EN_SCALE, key=len, reverse=True)) + r")\b", re.I)
_ZH_UNIT = re.compile("|".join(sorted(_ZH_SCALE, key=len, reverse=True)))


def _scaled(sentence: str) -> list[tuple[str, str, float]]:
    """(figure, magnitude word, amount) for each "17.66 billion" of an English sentence."""
    text = _THOUSANDS.sub("", unicodedata.normalize("NFKC", sentence))
    return [
        (m.group(1), m.group(2).lower(), float(m.group(1)) * _EN_SCALE[m.group(2).lower()])
        for m in _EN_SCALED.finditer(text)
    ]


def quantities(cited_normal: str) -> dict[float, str]:
    """Every figure of a (normalised) Chinese text as an amount, its magnitude unit applied:
    {1.766e13: "17.66万亿", 150.0: "150", ...}."""
    out: dict[float, str] = {}
    for m in _FIGURE.finditer(cited_normal):
        after = m.end() + (cited_normal[m.end() : m.end() + 1] == " ")
        unit = _ZH_UNIT.match(cited_normal, after)
        value = float(m.group(0)) * (_ZH_SCALE[unit.group(0)] if unit else 1.0)
        out.setdefault(value, m.group(0) + (unit.group(0) if unit else ""))
    return out


def _amount_in(value: float, amounts: dict[float, str]) -> bool:
    return any(abs(value - a) <= 1e-6 * max(abs(a), 1.0) for a in amounts)


def scale_mismatches(sentence: str, cited_normal: str, amounts: dict[float, str] | None = None) -> list[str]:
    """A figure the sentence scales with a magnitude word ("17.66 billion") that the cited text
    has as written but at another magnitude ("17.66 万亿" is 17.66 trillion): "17.66 billion ≠
    17.66万亿" per such figure. `cited_normal` is the cited text NFKC-folded, thousands separators
    dropped (as check_sentence has it)."""
    amounts = quantities(cited_normal) if amounts is None else amounts
    out = []
    for figure, word, value in _scaled(sentence):
        if _has_figure(cited_normal, figure) and not _amount_in(value, amounts):
            given = next(
                (label for label in amounts.values() if re.match(rf"{re.escape(figure)}(?!\.?\d)", label)), figure
            )
            out.append(f"{figure} {word} ≠ {given}")
    return out


def numbers_of(text: str) -> list[str]:
    """The figures of a text (NFKC, thousands separators dropped), as written: '2.38', '150'."""
    return list(dict.fromkeys(_FIGURE.findall(_THOUSANDS.sub("", unicodedata.normalize("NFKC", text)))))


def _has_figure(normal_text: str, figure: str) -> bool:
    return re.search(rf"(?<![\d.]){re.escape(figure)}(?!\.?\d)", normal_text) is not None


def _normal(text: str) -> str:
    return _THOUSANDS.sub("", unicodedata.normalize("NFKC", text)).lower()


def _key_terms(sentence: str) -> set[str]:
    return {t for t in tokenize(unicodedata.normalize("NFKC", sentence)) if not _FIGURE.fullmatch(t)}


def term_coverage(sentence: str, text: str) -> float:
    """Share of the sentence's key terms (jieba tokens, no stopwords, no figures) that occur in
    the text; 1.0 when the sentence has none (its figures are checked separately)."""
    terms = _key_terms(sentence)
    if not terms:
        return 1.0
    normal = _normal(text)
    return sum(t in normal for t in terms) / len(terms)


def _coverage_scorer(sentence: str):  # noqa: ANN202 - Callable[[str], float]
    return lambda candidate: term_coverage(sentence, candidate)


def _cosine_scorer(sentence: str, candidates: list[str], bridge: Encoder):  # noqa: ANN202
    vectors: np.ndarray = bridge.encode_queries([sentence, *candidates])
    sims = {c: float(vectors[0] @ v) for c, v in zip(candidates, vectors[1:], strict=True)}
    return lambda candidate: sims.get(candidate, 0.0)


def _is_abstention(text: str) -> bool:
    plain = _PUNCT.sub("", unicodedata.normalize("NFKC", text)).lower()
    return (
        bool(plain)
        and any(_PUNCT.sub("", p).lower() in plain for p in ABSTAIN.values())
        and not CITATION_MARKER.search(text)
    )


def _render(shown: list[_Sentence], numbers: dict[int, int], lang: str, lead: str) -> str:
    joiner = " " if lang == "en" else ""
    lines: dict[int, list[str]] = {}
    for s in shown:
        marks = "".join(f"[{numbers[n]}]" for n in s.cited if n in numbers)
        piece = f"{s.body}{marks}"
        if not s.supported:
            piece = f"{WARN} {piece} {UNSUPPORTED_LABEL.get(lang, UNSUPPORTED_LABEL['en'])}"
        lines.setdefault(s.line, []).append(piece)
    body = "\n".join(_join(parts, joiner) for _, parts in sorted(lines.items()))
    return f"{lead} {body}".strip() if lead else body


def _join(parts: list[str], joiner: str) -> str:
    """Sentences of one line; a marked sentence is set off by spaces, even in Chinese."""
    out = parts[0]
    for before, piece in zip(parts, parts[1:], strict=False):
        out += (" " if WARN in before or WARN in piece else joiner) + piece
    return out


def _range(passages: Mapping[int, Citation]) -> str:
    keys = sorted(passages)
    return f"passages {keys[0]}–{keys[-1]}" if keys else "no passages"
