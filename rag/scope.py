"""Which papers a question names: "According to Guo Ran's paper, …", "郭冉那篇文章…",
"What does LeCun say about …", "《数字经济背景下…》一文…". A question that names papers by
their authors or titles is searched in those papers only, and the words that named them are
left out of the searched text and of the abstention checks (an author's name is not a topic the
papers must mention: running heads and bylines are not in the indexed body).

Matched: each author of an indexed paper as written in its record ("郭冉", "LeCun, Yann"), a
Chinese author's name in pinyin either way round ("Guo Ran", "Ran Guo", "Guoran"), a Western
author's family name as a whole word; a known title, whole or as a 《…》/“…” quotation of at
least TITLE_MIN_CHARS characters of it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from .text import HAN, fold
from .types import Paper

__all__ = ["PaperReference", "named_papers"]

TITLE_MIN_CHARS = 6  # a quoted part of a title shorter than this names no paper
FAMILY_NAME_MIN_CHARS = 3  # a Western family name shorter than this ("Li", "Wu") is not matched alone

# The words around a paper's name that refer to the paper ("'s paper", "那篇文章", "et al.").
_ZH_AFTER = r"(?:\s*(?:等人?|老师|教授))?(?:\s*(?:的|那篇|这篇|那|这))*\s*(?:论文|文章|研究|一文|文中)?"
_EN_BEFORE = r"(?:(?:according\s+to|in|by|from)\s+)?(?:the\s+)?"
_EN_AFTER = r"(?:\s+et\s+al\.?)?(?:['’]s)?(?:\s+(?:paper|article|study|work))?"


@dataclass(frozen=True)
class PaperReference:
    """Papers a question names: their ids, the question without the words that named them,
    and those words as written."""

    doc_ids: frozenset[str]
    text: str
    named: tuple[str, ...]


def named_papers(question: str, papers: Mapping[str, Paper]) -> PaperReference | None:
    """The papers the question names by author or title, or None when it names none (or names
    every paper of the library, which restricts nothing)."""
    found: dict[str, list[re.Match[str]]] = {}
    for doc_id, paper in papers.items():
        for pattern in _patterns(paper):
            for m in pattern.finditer(question):
                found.setdefault(doc_id, []).append(m)
    if not found or len(found) == len(papers):
        return None
    spans = sorted({(m.start(), m.end()) for ms in found.values() for m in ms})
    text, last = [], 0
    for start, end in spans:
        if start >= last:
            text.append(question[last:start])
            last = end
    text.append(question[last:])
    rest = re.sub(r"\s{2,}", " ", " ".join(t.strip() for t in text if t.strip()))
    rest = re.sub(r"^[\s,，:：;；]+|\s+(?=[,，?？.。])", "", rest).strip()
    named = tuple(dict.fromkeys(question[s:e].strip() for s, e in spans))
    return PaperReference(frozenset(found), rest or question, named)


def _patterns(paper: Paper) -> list[re.Pattern[str]]:
    return list(_paper_patterns(paper.authors, paper.title if paper.title_known else ""))


@lru_cache(maxsize=4096)
def _paper_patterns(authors: tuple[str, ...], title: str) -> tuple[re.Pattern[str], ...]:
    out: list[re.Pattern[str]] = []
    for author in authors:
        name = author.strip()
        if not name:
            continue
        if HAN.search(name):
            out.append(re.compile(re.escape(name) + _ZH_AFTER))
            spellings = _pinyin_spellings(name)
            if spellings:
                alternatives = "|".join(spellings)
                out.append(re.compile(rf"{_EN_BEFORE}\b(?:{alternatives})\b{_EN_AFTER}", re.I))
        else:
            family = name.split(",")[0].strip() if "," in name else name.split()[-1]
            if len(family) >= FAMILY_NAME_MIN_CHARS:
                out.append(re.compile(rf"{_EN_BEFORE}\b(?:{re.escape(name)}|{re.escape(family)})\b{_EN_AFTER}", re.I))
    if title:
        out.append(re.compile(r"[《“\"]?" + re.escape(title) + r"[》”\"]?" + _ZH_AFTER))
        out.append(_TitleQuote(fold(title)))  # type: ignore[arg-type]
    return tuple(out)


def _pinyin_spellings(name: str) -> list[str]:
    """A two- or three-character Chinese name in pinyin, family name first or last ("郭冉" ->
    "guo\\s*ran", "ran\\s+guo"), as regex alternatives."""
    if not 2 <= len(name) <= 4 or not all(HAN.match(c) for c in name):
        return []
    from pypinyin import lazy_pinyin

    syllables = lazy_pinyin(name)
    family, given = syllables[0], "".join(syllables[1:])
    return [rf"{family}\s*{given}", rf"{given}\s+{family}"]


class _TitleQuote:
    """A quotation in the question (《…》, “…”) of TITLE_MIN_CHARS or more characters of a title:
    the same finditer interface as a compiled pattern."""

    _QUOTE = re.compile(rf"[《“]([^》”]{{{TITLE_MIN_CHARS},}})[》”]" + _ZH_AFTER)

    def __init__(self, folded_title: str) -> None:
        self.title = folded_title

    def finditer(self, text: str):  # noqa: ANN201 - the iterator of re.Match a pattern gives
        return (m for m in self._QUOTE.finditer(text) if fold(m.group(1)) in self.title)
