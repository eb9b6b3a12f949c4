"""Cleaned papers -> chunks: sentence-aware packing that never crosses a section boundary."""

from __future__ import annotations

import re
from collections.abc import Iterator

from .ingest import page_marks, page_span
from .types import Block, Chunk, CleanPaper

# A sentence ends at Chinese or English end punctuation, with any closing quote/bracket and
# reference markers like [3] or [4, 5] that follow it; English needs a space after the stop.
_SENTENCE = re.compile(
    r"""(?:[。！？；!?;]|(?<![0-9A-Z])\.(?=\s|$))      # the stop ("1.88" and "U.S." do not end)
        [”’"」』)）]*                                # closing quotes or brackets
        (?:\s*\[\d+(?:\s*[,，\-–]\s*\d+)*\])*        # reference markers after the stop
    """,
    re.X,
)
_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """[start, end) spans of the sentences of `text`, shifted by `offset`, whitespace trimmed.
    A paragraph break (a blank line, as after a heading) always ends a sentence."""
    spans: list[tuple[int, int]] = []
    base = 0
    for para in re.split(r"(\n\s*\n)", text):
        if para and not para.isspace():
            pos = 0
            for m in _SENTENCE.finditer(para):
                _add_span(para, pos, m.end(), offset + base, spans)
                pos = m.end()
            _add_span(para, pos, len(para), offset + base, spans)
        base += len(para)
    return spans


def _add_span(text: str, start: int, end: int, offset: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start and re.search(r"\w", text[start:end]):
        spans.append((start + offset, end + offset))


def language_of(text: str) -> str:
    """'zh' when Chinese characters make up a fair share of the letters, else 'en'."""
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text))
    return "zh" if cjk and cjk * 3 >= latin else "en"


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
