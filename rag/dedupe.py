"""One notion of "the same text", used wherever repeats would cost time or crowd out answers:
copies of one paper (a CRLF copy, a GBK copy, `paper (1).txt`) are found by the fingerprint of
their cleaned text; a paper that repeats itself keeps each chunk once; the top k never shows one
passage twice.

Two texts are the same when they are equal after Unicode NFKC (full-width and half-width forms
agree) with all whitespace, byte-order marks and zero-width characters removed: line endings,
hard wraps and indentation are how a file was saved, not what it says."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import replace

from .types import Chunk, Hit

# Search ranks this many candidates per wanted hit before collapsing equal texts; the index
# already holds each text once per paper and no exact copy, so repeats are few.
DISTINCT_POOL = 10

_INVISIBLE = re.compile(r"[\s\ufeff\u200b\u200c\u200d\u2060]+")


def normalise(text: str) -> str:
    """The text as compared: NFKC, without whitespace or invisible characters."""
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))


def fingerprint(text: str) -> str:
    """sha256 of the normalised text: equal for two copies of one paper however they were saved."""
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


def distinct_chunks(chunks: Sequence[Chunk]) -> list[Chunk]:
    """The chunks of one paper with each text kept once, at its first place: a paper that repeats
    itself 500 times is indexed (and embedded, and retrieved) like one that does not."""
    seen: set[str] = set()
    out: list[Chunk] = []
    for chunk in chunks:
        key = normalise(chunk.text)
        if key not in seen:
            seen.add(key)
            out.append(chunk)
    return out


def distinct_hits(hits: Iterable[Hit], k: int) -> list[Hit]:
    """The first k hits whose chunk texts differ, ranked 1..k: copies of a passage in several
    papers (a near-copy of a paper, a paper quoted verbatim in another) fill one place, not k."""
    seen: set[str] = set()
    out: list[Hit] = []
    for hit in hits:
        if len(out) >= k:
            break
        key = normalise(hit.chunk.text)
        if key in seen:
            continue
        seen.add(key)
        out.append(hit if hit.rank == len(out) + 1 else replace(hit, rank=len(out) + 1))
    return out
