"""Which papers a question names: "According to Guo Ran's paper, …", "郭冉那篇文章…",
"What does LeCun say about …", "《数字经济背景下…》一文…", "the rule-of-law paper",
"综合试验区那篇论文". A question that names papers by their authors or titles, or describes
one paper so that its profile (title, keywords, abstract, headings) alone fits the description,
is searched in those papers only, and the words that named them are left out of the searched
text and of the abstention checks (an author's name is not a topic the papers must mention:
running heads and bylines are not in the indexed body).

Matched: each author of an indexed paper as written in its record ("郭冉", "LeCun, Yann"), a
Chinese author's name in pinyin either way round ("Guo Ran", "Ran Guo", "Guoran"), a Western
author's family name as a whole word; a known title, whole or as a 《…》/“…” quotation of at
least TITLE_MIN_CHARS characters of it."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

from .text import HAN, fold
from .types import Heading, Paper

__all__ = ["NameIndex", "PaperReference", "PaperScope", "named_papers"]

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


def named_papers(question: str, papers: Mapping[str, Paper], names: NameIndex | None = None) -> PaperReference | None:
    """The papers the question names by author or title, or None when it names none (or names
    every paper of the library, which restricts nothing). `names`: the library's NameIndex,
    built once (else built for this call)."""
    names = names or NameIndex(papers)
    found: dict[str, list[re.Match[str]]] = {}
    for doc_id in names.candidates(question):
        for pattern in _patterns(papers[doc_id]):
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


class NameIndex:
    """The papers whose authors or titles a question could name, found in time that does not grow
    with the library (the name patterns are then run on those papers only): Chinese names by
    their first two characters, pinyin and Latin names by their words, titles by substring (one
    check per known title)."""

    def __init__(self, papers: Mapping[str, Paper]) -> None:
        self.han: dict[str, set[str]] = {}
        self.words: dict[str, set[str]] = {}
        self.titles: list[tuple[str, str, str]] = []  # (title, folded title, doc_id)
        for doc_id, paper in papers.items():
            for author in paper.authors:
                for key, table in _name_keys(author.strip()):
                    table_of = self.han if table == "han" else self.words
                    table_of.setdefault(key, set()).add(doc_id)
            if paper.title_known and paper.title:
                self.titles.append((paper.title, fold(paper.title), doc_id))

    def candidates(self, question: str) -> set[str]:
        found: set[str] = set()
        for i in range(len(question)):
            for key in (question[i : i + 2], question[i]):
                found |= self.han.get(key, set())
        words = re.findall(r"\w+", question.lower())
        pairs = [a + b for a, b in zip(words, words[1:], strict=False)] + [
            b + a for a, b in zip(words, words[1:], strict=False)
        ]
        for word in {*words, *pairs}:  # "Guoran", "Guo Ran", "Ran Guo" -> "guoran"
            found |= self.words.get(word, set())
        quotes = [fold(m.group(1)) for m in _TitleQuote._QUOTE.finditer(question)]
        for title, folded, doc_id in self.titles:
            if title in question or any(q in folded for q in quotes):
                found.add(doc_id)
        return found


def _name_keys(name: str) -> list[tuple[str, str]]:
    """The keys an author is found by, as (key, table): its first two characters for a Chinese
    name ("han"), with its pinyin run together ("guoran", "word": a question's word, or two
    adjacent words joined either way); a Latin name's first word and family name ("word")."""
    if not name:
        return []
    if HAN.search(name):
        keys = [(name[:2], "han")]
        spellings = _pinyin_syllables(name)
        if spellings:
            family, given = spellings
            keys.append((family + given, "word"))
        return keys
    family = name.split(",")[0].strip() if "," in name else name.split()[-1]
    if len(family) < FAMILY_NAME_MIN_CHARS:
        return []
    return [(w[0], "word") for w in (re.findall(r"\w+", name.lower()), re.findall(r"\w+", family.lower())) if w]


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
            syllables = _pinyin_syllables(name)
            if syllables:
                family, given = syllables
                alternatives = rf"{family}\s*{given}|{given}\s+{family}"  # "Guo Ran", "Guoran", "Ran Guo"
                out.append(re.compile(rf"{_EN_BEFORE}\b(?:{alternatives})\b{_EN_AFTER}", re.I))
        else:
            family = name.split(",")[0].strip() if "," in name else name.split()[-1]
            if len(family) >= FAMILY_NAME_MIN_CHARS:
                out.append(re.compile(rf"{_EN_BEFORE}\b(?:{re.escape(name)}|{re.escape(family)})\b{_EN_AFTER}", re.I))
    if title:
        out.append(re.compile(r"[《“\"]?" + re.escape(title) + r"[》”\"]?" + _ZH_AFTER))
        out.append(_TitleQuote(fold(title)))  # type: ignore[arg-type]
    return tuple(out)


@lru_cache(maxsize=65536)
def _pinyin_syllables(name: str) -> tuple[str, str] | None:
    """A two- to four-character Chinese name in toneless pinyin as (family, given): "郭冉" ->
    ("guo", "ran"); None for anything else."""
    if not 2 <= len(name) <= 4 or not all(HAN.match(c) for c in name):
        return None
    from pypinyin import lazy_pinyin

    syllables = lazy_pinyin(name)
    return syllables[0], "".join(syllables[1:])


class _TitleQuote:
    """A quotation in the question (《…》, “…”) of TITLE_MIN_CHARS or more characters of a title:
    the same finditer interface as a compiled pattern."""

    _QUOTE = re.compile(rf"[《“]([^》”]{{{TITLE_MIN_CHARS},}})[》”]" + _ZH_AFTER)

    def __init__(self, folded_title: str) -> None:
        self.title = folded_title

    def finditer(self, text: str):  # noqa: ANN201 - the iterator of re.Match a pattern gives
        return (m for m in self._QUOTE.finditer(text) if fold(m.group(1)) in self.title)


# A paper described by its subject: "综合试验区那篇论文", "讲中国跨境电商困境的那篇论文",
# "另一篇讨论法治问题的论文", "the rule-of-law paper", "the paper on the dilemmas of …".
_ZH_DESCRIBED = re.compile(
    r"(?:(?:那|这|另一|另)篇(?:讲|讨论|谈|关于|研究|分析)(?P<after>[^，,。？?；;]{2,16}?)的(?:论文|文章))"
    r"|(?:(?:讲|讨论|谈|关于|研究|分析)?(?P<before>[\u4e00-\u9fffA-Za-z0-9、]{2,16}?)的?(?:那|这|另一|另)?篇(?:论文|文章))"
    r"|(?:(?P<plain>[\u4e00-\u9fffA-Za-z0-9]{2,12}?)(?:论文|一文))"
)
_EN_DESCRIBED = re.compile(
    r"(?:(?:according\s+to|in|from|by)\s+)?\bthe\s+(?P<before>[\w'-]+(?:\s+[\w'-]+){0,3}?)\s+(?:paper|article|study)\b"
    r"|(?:(?:according\s+to|in|from|by)\s+)?\bthe\s+(?:paper|article|study)\s+(?:on|about|discussing|dealing\s+with)\s+"
    r"(?:the\s+)?(?P<after>[^,?;]{3,80}?)(?=\s*[,?;]|\s+(?:say|says|propose|proposes|list|lists|give|gives|identify|"
    r"identifies|recommend|recommends|mean|means|lay|lays|argue|argues|define|defines|describe|describes|suggest|suggests)\b)",
    re.I,
)
# Words that point at a paper without describing it ("这篇论文", "the same paper", "the other paper").
_NOT_A_DESCRIPTION = frozenset(
    "这 那 该 本 此 上述 另一 其他 同一 这一 前面 上面 刚才 第一 第二 "
    "same other this that first second last previous earlier whole above".split()
)
# A described paper is the one searched when its profile fits the description at least this many
# times better than the next paper's (idf-weighted description terms found in each profile).
DESCRIPTION_MIN_MARGIN = 1.5


class PaperScope:
    """The papers a question names or describes, read against each paper's profile (title,
    keywords, abstract and headings). `terms(text)` gives a description's terms with their
    weights ([] for a description it does not read)."""

    def __init__(
        self,
        papers: Mapping[str, Paper],
        headings: Sequence[Heading],
        terms: Callable[[str], list[tuple[str, float]]],
    ) -> None:
        self.papers = papers
        self.headings = headings
        self.terms = terms
        self.names = NameIndex(papers)

    @cached_property
    def profiles(self) -> dict[str, str]:
        """Per paper, its title, keywords, abstract and headings, folded and lower-cased: built
        when a question first describes a paper, not for every library that is opened."""
        outline: dict[str, list[str]] = {}
        for h in self.headings:
            outline.setdefault(h.doc_id, []).append(h.text)
        return {
            doc_id: fold(
                " ".join(
                    [p.title if p.title_known else "", " ".join(p.keywords), p.abstract or "", *outline.get(doc_id, [])]
                )
            ).lower()
            for doc_id, p in self.papers.items()
        }

    def resolve(self, question: str) -> PaperReference | None:
        """The papers the question names (`named_papers`), else the one paper it describes."""
        named = named_papers(question, self.papers, self.names)
        if named is not None or len(self.papers) < 2:
            return named
        for m in [*_ZH_DESCRIBED.finditer(question), *_EN_DESCRIBED.finditer(question)]:
            description = next((g for g in m.groups() if g), "")
            doc_id = self.described(description)
            if doc_id is not None:
                rest = (question[: m.start()] + " " + question[m.end() :]).strip()
                rest = re.sub(r"^[\s,，:：;；]+|\s+(?=[,，?？.。])", "", re.sub(r"\s{2,}", " ", rest)).strip()
                return PaperReference(frozenset({doc_id}), rest or question, (m.group(0).strip(),))
        return None

    def described(self, description: str) -> str | None:
        """The one paper whose profile fits the description, by DESCRIPTION_MIN_MARGIN over the next."""
        words = re.findall(r"[a-z]+|[\u4e00-\u9fff]+", description.lower())
        if not words or all(w in _NOT_A_DESCRIPTION for w in words):
            return None
        terms = [(fold(t).lower(), w) for t, w in self.terms(description) if w > 0]
        if not terms:
            return None
        scores = sorted(
            ((sum(w for t, w in terms if t in profile), doc_id) for doc_id, profile in self.profiles.items()),
            reverse=True,
        )
        (best, doc_id), (second, _) = scores[0], scores[1]
        return doc_id if best > 0 and best >= second * DESCRIPTION_MIN_MARGIN else None
