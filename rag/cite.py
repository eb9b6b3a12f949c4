"""Citations: numbering in order of first use, marker checks, and the answer as Markdown with
footnotes for writing (the reference formats themselves are in references.py)."""

from __future__ import annotations

import re

from .references import DEFAULT_STYLE, reference
from .text import CITATION_MARKER, strip_source_refs
from .types import Answer, Citation, Hit, Paper, page_label

MARKER = CITATION_MARKER


def citation_from_hit(n: int, hit: Hit, paper: Paper | None, sentence: str = "") -> Citation:
    chunk = hit.chunk
    return Citation(
        n=n,
        doc_id=chunk.doc_id,
        title=paper.title if paper else chunk.doc_id,
        section=chunk.section,
        page=page_label(chunk.page, chunk.page_end),
        text=chunk.text,
        score=hit.score,
        sentence=sentence,
        key=chunk.key,
        doi=paper.doi if paper else None,
        source=paper.source if paper else None,
        pdf_page=chunk.pdf_page,
        authors=paper.authors if paper else (),
        year=paper.year if paper else None,
    )


def markers(text: str) -> list[int]:
    return [int(m) for m in MARKER.findall(text)]


def unresolved_markers(answer: Answer) -> list[int]:
    """Marker numbers in the answer text with no citation of that number."""
    known = {c.n for c in answer.citations}
    return [n for n in markers(answer.answer) if n not in known]


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", strip_source_refs(text))


def sentences_with_markers(text: str) -> list[tuple[str, list[int]]]:
    """Split an answer into (sentence, [n, ...]) pairs: each sentence ends at its markers."""
    out: list[tuple[str, list[int]]] = []
    for m in re.finditer(r"(.+?)((?:\[\d{1,3}\])+)", text, re.S):
        sentence = m.group(1).strip()
        if sentence:
            out.append((sentence, markers(m.group(2))))
    return out


def quote_supports(citation: Citation, sentence: str) -> bool:
    """True when the citation's quote contains the sentence (ignoring whitespace and the
    papers' own reference markers)."""
    return _norm(sentence) in _norm(citation.text)


def markdown_for_writing(answer: Answer, papers: dict[str, Paper], style: str = DEFAULT_STYLE) -> str:
    """The answer with footnote-style references in a GB/T 7714 style (references.STYLES):
    `text[^1]` ... `[^1]: <reference with the cited page>, <section>. “<quote>”`."""
    body = MARKER.sub(lambda m: f"[^{m.group(1)}]", answer.answer)
    notes = []
    for c in answer.citations:
        paper = papers.get(c.doc_id)
        ref = reference(paper, style, page=c.page) if paper else c.title
        where = ", ".join(x for x in (c.section, f"p. {c.page}" if c.page and paper and paper.pages else None) if x)
        quote = strip_source_refs(c.sentence or c.text[:120]).strip()
        notes.append(f"[^{c.n}]: {ref}{' ' + where + '.' if where else ''} “{quote}”")
    return body + ("\n\n" + "\n".join(notes) if notes else "")
