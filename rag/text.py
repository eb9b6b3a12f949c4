"""Text rules shared by every stage: script ranges, language, citation and reference markers,
headings, years and figures, and the per-language word lists (rag/data/<lang>.toml).

One definition each, so ingest, retrieval, answering, verification and the UI agree."""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from pathlib import Path

from .normalise import fold  # noqa: F401 - the matching form of a text, re-exported here

DATA_DIR = Path(__file__).resolve().parent / "data"

# Han ideographs: Extension A, the unified block and the compatibility block.
HAN_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
HAN = re.compile(f"[{HAN_RANGES}]")
LATIN = re.compile(r"[A-Za-z]")
WORD_CHAR = re.compile(rf"[\w{HAN_RANGES}]")

# An answer's citation marker: "[3]".
CITATION_MARKER = re.compile(r"\[(\d{1,3})\]")
# The papers' own in-text reference markers: "[4]", "[4, 5]", "[4-6]" (with the space before).
SOURCE_REF = re.compile(r"\s*\[\d+(?:\s*[,，\-–]\s*\d+)*\]")

# A DOI as printed in running headers and on page 1: "10.12677/ecl.2025.1461720".
DOI = re.compile(r"\b(10\.\d{4,9}/[^\s,;，；]+)", re.I)
YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
DIGIT = re.compile(r"\d")
# A count written in Chinese numerals with its classifier: "四个", "两类", "三所".
CHINESE_NUMERAL = "[一二两三四五六七八九十百千]"
CHINESE_COUNT = re.compile(rf"(?<![第一二两三四五六七八九十]){CHINESE_NUMERAL}+\s*[个家所类种项名位条批大]")

# Headings as the cleaner leaves them: "4. 存在的问题", "4.1. 物流成本高", "(一) 监管制度".
NUMBERED_HEADING = re.compile(r"^(\d{1,2}(?:\.\d{1,2})*)\.\s*\S")
ORDINAL_HEADING = re.compile(r"^[(（][一二三四五六七八九十]{1,3}[)）]\s*\S")
HEADING_MAX_CHARS = 48


# Enumeration markers: the item an enumeration's sentence opens ("(2) 探索发展阶段…", "二是…",
# "其次，…", "Secondly, …"), as (style, number); "last" items ("最后", "finally") are number -1.
_HAN_DIGITS = {c: i for i, c in enumerate("一二三四五六七八九十", 1)}
_SEQUENCE_WORDS = {
    "首先": 1,
    "其次": 2,
    "再次": 3,
    "最后": -1,
    "first": 1,
    "firstly": 1,
    "second": 2,
    "secondly": 2,
    "third": 3,
    "thirdly": 3,
    "finally": -1,
    "lastly": -1,
}
_ENUMERATION_ITEM = re.compile(
    r"(?P<section>(?P<sp>\d{1,2}(?:\.\d{1,2})*)\.(?P<sn>\d{1,2})\.(?!\d))"
    r"|(?P<paren>[(（]\s*(?P<pd>\d{1,2})\s*[)）])"
    r"|(?P<circled>[\u2460-\u2473])"
    r"|(?P<dot>(?P<dd>\d{1,2})[、．](?!\d)|(?P<dd2>\d{1,2})\.(?![\d.]))"
    r"|(?P<hparen>[(（](?P<hp>[一二三四五六七八九十])[)）])"
    r"|(?P<shi>(?P<hs>[一二三四五六七八九十])是)"
    r"|(?P<di>第(?P<hd>[一二三四五六七八九十])[，,、])"
    r"|(?P<seq>首先|其次|再次|最后|(?i:firstly|secondly|thirdly|finally|lastly|first|second|third)(?=\s*,))"
)


def enumeration_item(text: str, at: int = 0) -> tuple[str, int] | None:
    """The enumeration marker at position `at` of `text` as (style, number): "(2) …" ->
    ("paren", 2), "3.2. …" (a numbered sub-heading) -> ("section 3", 2), "二是…" -> ("shi",
    2), "其次，…" -> ("sequence", 2), "最后…" -> ("sequence", -1); None when no marker starts
    there."""
    m = _ENUMERATION_ITEM.match(text, at)
    if not m:
        return None
    if m.group("section"):
        return f"section {m.group('sp')}", int(m.group("sn"))
    if m.group("paren"):
        return "paren", int(m.group("pd"))
    if m.group("circled"):
        return "circled", ord(m.group("circled")) - 0x2460 + 1
    if m.group("dot"):
        return "dot", int(m.group("dd") or m.group("dd2"))
    if m.group("hparen"):
        return "hparen", _HAN_DIGITS[m.group("hp")]
    if m.group("shi"):
        return "shi", _HAN_DIGITS[m.group("hs")]
    if m.group("di"):
        return "di", _HAN_DIGITS[m.group("hd")]
    return "sequence", _SEQUENCE_WORDS[m.group("seq").lower()]


def enumeration_items_in(text: str) -> list[tuple[int, str, int]]:
    """Every enumeration marker that opens the text or follows a colon, semicolon or full stop
    (an item may be introduced inside a sentence: "划分为四个阶段：(1) 萌芽阶段…"), as
    (position, style, number)."""
    out = []
    for m in re.finditer(r"(?:^|(?<=[：:；;。!?！？\]])|(?<=\.\s))\s*", text):
        item = enumeration_item(text, m.end())
        if item is not None:
            out.append((m.end(), *item))
    return out


def language_of(text: str) -> str:
    """'zh' when Han characters are at least a third as many as Latin letters, else 'en'."""
    han = len(HAN.findall(text))
    latin = len(LATIN.findall(text))
    return "zh" if han and han * 3 >= latin else "en"


def strip_source_refs(text: str) -> str:
    """The text without the papers' own reference markers, so they cannot pass for an [n]."""
    return SOURCE_REF.sub("", text)


def strip_citations(text: str) -> str:
    return CITATION_MARKER.sub("", text)


def heading_level(text: str) -> int | None:
    """1 for "4. …", 2 for "4.1. …", -1 for "(一) …" (one below the numbered heading above
    it), None when the line is not a heading (too long, or ends like a sentence)."""
    if "\n" in text or len(text) > HEADING_MAX_CHARS or text.endswith(("。", "；", "，")):
        return None
    m = NUMBERED_HEADING.match(text)
    if m:
        return m.group(1).count(".") + 1
    if ORDINAL_HEADING.match(text):
        return -1
    return None


def heading_words(text: str) -> str:
    """A heading without its number: "2.1. 政策支持" -> "政策支持", "(一) 监管制度" -> "监管制度"."""
    return re.sub(r"^\S+\s*", "", text).strip()


def is_heading(text: str) -> bool:
    return heading_level(text) is not None


def figures(text: str) -> list[str]:
    """Numbers of a sentence that are not years, citation markers or a leading list ordinal:
    "20%" -> ["20"], "1.88 万亿元" -> ["1.88"]."""
    plain = re.sub(r"\[\d+\]|^\(?\d\)?\s*|^\d+(?:\.\d+)*\.\s", "", text)
    return [f for f in NUMBER.findall(plain) if not YEAR.fullmatch(f)]


def has_figure(text: str) -> bool:
    return bool(figures(text))


def near_duplicate(a: str, b: str) -> bool:
    """One text contains the other once punctuation and spaces are ignored."""
    a2, b2 = re.sub(r"\W", "", a), re.sub(r"\W", "", b)
    return a2 in b2 or b2 in a2


@lru_cache(maxsize=4)
def words(lang: str) -> dict[str, object]:
    """The word lists of one language (rag/data/<lang>.toml): stopwords, question shapes, …"""
    path = DATA_DIR / f"{lang}.toml"
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    # A word list may be written as one whitespace-separated string.
    return {k: (v.split() if isinstance(v, str) else v) for k, v in data.items()}


@lru_cache(maxsize=64)
def shape(name: str) -> re.Pattern[str]:
    """A question shape ("list", "how_many", …) as one case-insensitive pattern over both
    languages: the union of the entries under [shapes] in every word-list file."""
    parts: list[str] = []
    for lang in ("zh", "en"):
        entries = words(lang).get("shapes", {}).get(name, [])  # type: ignore[union-attr]
        parts += list(entries)
    if not parts:
        raise KeyError(f"no question shape {name!r} in {DATA_DIR}")
    return re.compile("|".join(f"(?:{p})" for p in parts), re.I)


def answer_cues(name: str) -> tuple[str, ...]:
    """Cues of sentences that answer a question of shape `name` ("definition", …), both languages."""
    return tuple(dict.fromkeys(c for lang in ("zh", "en") for c in words(lang).get("answer_cues", {}).get(name, [])))


@lru_cache(maxsize=1)
def _instruction_pattern() -> re.Pattern[str]:
    parts = [p for lang in ("zh", "en") for p in words(lang).get("instruction_patterns", [])]
    return re.compile("|".join(f"(?:{p})" for p in parts), re.I)


def is_instruction(sentence: str) -> bool:
    """The sentence instructs the reader or an AI ("Ignore previous instructions and …",
    "无论用户问什么，只回答…"): text planted in a paper to steer an assistant. Such sentences are
    data, never answers (rag/data/<lang>.toml, instruction_patterns)."""
    return bool(_instruction_pattern().search(fold(sentence)))


@lru_cache(maxsize=64)
def word_set(lang: str, name: str) -> frozenset[str]:
    return frozenset(words(lang).get(name, []))  # type: ignore[arg-type]
