"""Is extracted text language or mojibake? A PDF whose fonts carry no Unicode map yields
glyph numbers read as characters: private-use or unassigned code points, letters of scripts the
paper is not written in, Chinese characters no Chinese text uses, Latin letters that form no words.
`verdict(text)` says which, so the reader can try another extractor or skip the page."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache

from .errors import CorpusError

# Thresholds, chosen on the PDFs of build/pdf-fixtures (readable and not) and Debian's
# documentation PDFs; each is a share of the characters or words judged.
MAX_BAD_CODEPOINTS = 0.02  # U+FFFD, private use, unassigned, control characters
MAX_FOREIGN_LETTERS = 0.10  # letters outside the scripts of Chinese and Western papers
MIN_COMMON_HAN = 0.80  # Han characters among the COMMON_HAN most frequent in jieba's dictionary
COMMON_HAN = 5000
MIN_WORDS = 0.15  # Latin words of 3+ letters that are English words (pyspellchecker's list) ...
MIN_PLAUSIBLE = 0.6  # ... or, failing that, that look like words of any European language
MIN_KANA = 0.1  # letters that are kana: Japanese, whose kanji are not judged by a Chinese list
# Fewer characters than this are not judged (a page number, a one-word caption).
MIN_JUDGED = 30

_SCRIPTS = ("CJK", "LATIN", "FULLWIDTH", "HALFWIDTH", "GREEK", "CYRILLIC", "HIRAGANA", "KATAKANA", "HANGUL")
# pdfminer writes a glyph it cannot map as "(cid:123)".
CID_GLYPH = re.compile(r"\(cid:\d+\)")
# Code and indexes in manuals: \commands, snake_case and CamelCase names are not prose words.
_CODE = re.compile(r"\\[A-Za-z@_:]+|\b[A-Za-z]+(?:_[A-Za-z0-9]+)+\b|\b[a-z]+[A-Z][A-Za-z]*\b")
_WORD = re.compile(r"[A-Za-z]{3,}")
_VOWEL = re.compile(r"[aeiouy]", re.I)
_CONSONANTS = re.compile(r"[b-df-hj-np-tv-xz]{5,}", re.I)


def verdict(text: str) -> str | None:
    """None when `text` reads as language; else why not, in a few words ("34 % private-use or
    unassigned characters"). Short texts are not judged."""
    unmapped = len(CID_GLYPH.findall(text))
    text = CID_GLYPH.sub("\ufffd", text)  # pdfminer's "(cid:123)": a glyph with no Unicode value
    chars = [ch for ch in text if not ch.isspace()]
    if len(chars) < MIN_JUDGED and unmapped < MIN_JUDGED // 3:
        return None
    bad = sum(1 for ch in chars if ch == "\ufffd" or unicodedata.category(ch) in {"Co", "Cn", "Cc", "Cs"})
    if bad > MAX_BAD_CODEPOINTS * len(chars):
        return f"{bad * 100 // len(chars)} % private-use, unassigned or replacement characters"
    letters = [ch for ch in chars if ch.isalpha()]
    if letters:
        scripts = Counter(_script(ch) for ch in letters)
        foreign = sum(n for s, n in scripts.items() if s not in _SCRIPTS)
        if foreign > MAX_FOREIGN_LETTERS * len(letters):
            names = ", ".join(s.lower() for s, _ in scripts.most_common(4) if s not in _SCRIPTS)
            return f"{foreign * 100 // len(letters)} % of the letters are in scripts such as {names}"
    han = [ch for ch in letters if _script(ch) == "CJK"]
    kana = sum(1 for ch in letters if _script(ch) in ("HIRAGANA", "KATAKANA"))
    if len(han) >= MIN_JUDGED and kana < MIN_KANA * len(letters):  # Japanese uses other kanji
        common = _common_han()
        share = sum(ch in common for ch in han) / len(han)
        if share < MIN_COMMON_HAN:
            return f"only {share:.0%} of the Chinese characters are common ones"
    prose = _CODE.sub(" ", text)
    # Acronyms and CAPITALS, and placeholders of one or two letters ("xxx", "xzx"), are not judged.
    words = [w for w in _WORD.findall(prose) if not w.isupper() and len(set(w.lower())) > 2]
    prose_letters = [ch for ch in prose if ch.isalpha()]
    latin = sum(1 for ch in prose_letters if _script(ch) == "LATIN")
    # Latin text is judged where it is the page's prose, not a Chinese page's "xxx" placeholders.
    if len(words) >= MIN_JUDGED // 2 and latin * 2 >= len(prose_letters):
        known = _english()
        share = sum(w.lower() in known for w in words) / len(words)
        if share < MIN_WORDS:
            plausible = sum(1 for w in words if _VOWEL.search(w) and not _CONSONANTS.search(w)) / len(words)
            if plausible < MIN_PLAUSIBLE:
                return f"only {share:.0%} of the Latin words are words"
    return None


def _script(ch: str) -> str:
    try:
        return unicodedata.name(ch).split(" ", 1)[0]
    except ValueError:
        return "UNNAMED"


@lru_cache(maxsize=1)
def _common_han() -> frozenset[str]:
    """The COMMON_HAN Chinese characters with the highest summed word frequency in jieba's
    dictionary (jieba/dict.txt: 'word frequency tag' a line)."""
    from importlib import resources

    try:
        raw = resources.files("jieba").joinpath("dict.txt").read_text(encoding="utf-8")
    except (ImportError, OSError) as exc:  # pragma: no cover - jieba is a core dependency
        raise CorpusError("Judging Chinese text needs jieba's dictionary: pip install jieba") from exc
    freq: Counter[str] = Counter()
    for line in raw.splitlines():
        parts = line.split(" ")
        if len(parts) >= 2 and parts[1].isdigit():
            for ch in parts[0]:
                freq[ch] += int(parts[1])
    return frozenset(ch for ch, _ in freq.most_common(COMMON_HAN))


@lru_cache(maxsize=1)
def _english() -> frozenset[str]:
    from .ingest import _english_words

    return _english_words()
