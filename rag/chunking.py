"""Cleaned papers -> chunks: sentence-aware packing that never crosses a section boundary."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from .ingest import page_marks, page_span, pdf_page_at, word_list
from .text import HAN, language_of
from .types import Block, Chunk, CleanPaper

# A sentence ends at Chinese or English end punctuation, with any closing quote/bracket and
# reference markers like [3] or [4, 5] that follow it. An English full stop needs a space, the
# end, or a Chinese character after it ("…in 2023.中国…"); _full_stop rules out "U.S.", "e.g.".
_SENTENCE = re.compile(
    r"""(?:[。！？；!?;]|\.(?=\s|$|[\u3400-\u9fff]))  # the stop ("1.88" never matches)
        [”’"」』)）]*                                # closing quotes or brackets
        (?:\s*\[\d+(?:\s*[,，\-–]\s*\d+)*\])*        # reference markers after the stop
    """,
    re.X,
)
_CJK = HAN
_INITIALS = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")  # "U.S", "e.g", "i.e" before their last dot
# The English clause before a stop: a Latin word after the last Chinese character or punctuation.
_ENGLISH_CLAUSE = re.compile(r"[A-Za-z]{2,}[^\u3000-\u303f\u3400-\u9fff\uff00-\uffef]*$")


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """[start, end) spans of the sentences of `text`, shifted by `offset`, whitespace trimmed.
    A paragraph break (a blank line, as after a heading) always ends a sentence."""
    spans: list[tuple[int, int]] = []
    base = 0
    for para in re.split(r"(\n\s*\n)", text):
        if para and not para.isspace():
            pos = 0
            for m in _SENTENCE.finditer(para):
                if para[m.start()] == "." and not _full_stop(para, m.start()):
                    continue
                _add_span(para, pos, m.end(), offset + base, spans)
                pos = m.end()
            _add_span(para, pos, len(para), offset + base, spans)
        base += len(para)
    return spans


def _full_stop(text: str, dot: int) -> bool:
    """Whether the "." at `dot` (followed by a space, the end or a Chinese character) ends a
    sentence. Not after an abbreviation (data/abbreviations.en.txt: "e.g.", "Fig.", "et al.")
    or initials ("U.S."); before a space, not after a digit or a capital either ("1. 引言",
    "the WTO. It" stay whole, as before); before a Chinese character, only after an English
    clause ("…in 2023.中国…" ends, "主要有：1.政策支持" does not)."""
    token = re.search(r"\S*$", text[:dot]).group(0)  # type: ignore[union-attr]  # always matches
    word = token.lstrip("([“‘\"'")
    if f"{word.lower()}." in _abbreviations() or _INITIALS.fullmatch(word):
        return False
    if dot + 1 < len(text) and _CJK.match(text[dot + 1]):
        return bool(_ENGLISH_CLAUSE.search(text[:dot]))
    return not (dot and re.match(r"[0-9A-Z]", text[dot - 1]))


@lru_cache(maxsize=1)
def _abbreviations() -> frozenset[str]:
    return word_list("abbreviations.en.txt")


def _add_span(text: str, start: int, end: int, offset: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start and re.search(r"\w", text[start:end]):
        spans.append((start + offset, end + offset))


def chunk_paper(clean: CleanPaper, *, chunk_chars: int = 350, chunk_overlap: int = 80) -> list[Chunk]:
    """Pack each section's sentences into chunks of at most `chunk_chars` (a longer sentence
    stays whole), carrying up to `chunk_overlap` characters of trailing sentences forward."""
    marks = page_marks(clean)
    chunks: list[Chunk] = []
    for section, kind, headings, blocks in _sections(clean.blocks):
        sentences = [s for b in blocks for s in split_sentences(clean.text[b.start : b.end], b.start)]
        if headings and kind != "references":
            # The first chunk of a section starts at its heading(s): "3. 现状 / 3.1. 产品同质化严重"
            # are often the very words a question uses, and quoting them is honest.
            sentences = [(h.start, h.end) for h in headings] + sentences
        # English carries about a third of the information per character that Chinese does.
        scale = 3 if language_of(clean.text[blocks[0].start : blocks[-1].end]) == "en" else 1
        for start, end in _pack(sentences, chunk_chars * scale, chunk_overlap * scale):
            text = clean.text[start:end]
            page, page_end = page_span(marks, start, end)
            chunks.append(
                Chunk(
                    doc_id=clean.paper.doc_id,
                    page=page,
                    page_end=page_end,
                    section=section,
                    start=start,
                    end=end,
                    text=text,
                    lang=language_of(text),
                    kind=kind,
                    pdf_page=pdf_page_at(clean, start),
                )
            )
    return chunks


def _sections(blocks: tuple[Block, ...]) -> Iterator[tuple[str | None, str, list[Block], list[Block]]]:
    """Runs of consecutive non-heading blocks that share a section and kind, with the
    headings right before them that are not special ("摘要", "Abstract", "参考文献")."""
    run: list[Block] = []
    headings: list[Block] = []
    pending: list[Block] = []
    for block in blocks:
        if block.kind == "heading" or (run and (block.section, block.kind) != (run[0].section, run[0].kind)):
            if run:
                yield run[0].section, run[0].kind, headings, run
                run = []
            if block.kind == "heading":
                pending.append(block)
                continue
        if not run:
            headings = [h for h in pending if _numbered(h, block)]
            pending = []
        run.append(block)
    if run:
        yield run[0].section, run[0].kind, headings, run


def _numbered(heading: Block, first: Block) -> bool:
    """Numbered or Chinese-ordinal headings of the body; not 摘要/Abstract/Keywords/参考文献."""
    return first.kind in ("body",)


def _pack(sentences: list[tuple[int, int]], limit: int, overlap: int) -> Iterator[tuple[int, int]]:
    i = 0
    while i < len(sentences):
        j = i + 1
        while j < len(sentences) and sentences[j][1] - sentences[i][0] <= limit:
            j += 1
        yield sentences[i][0], sentences[j - 1][1]
        if j >= len(sentences):
            return
        # Next chunk starts with the trailing sentences that fit in the overlap, but always moves on.
        k = j
        while k - 1 > i and sentences[j - 1][1] - sentences[k - 1][0] <= overlap:
            k -= 1
        i = k
