"""Citations: numbering in order of first use, marker checks, and reference formats
(Markdown footnotes, GB/T 7714-2015, BibTeX) built only from metadata the index has."""

from __future__ import annotations

import re
from collections.abc import Iterable

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


# ---------------------------------------------------------------- reference formats


def gbt7714(paper: Paper) -> str:
    """GB/T 7714-2015 journal-article style, with only the fields the index really has:
    `作者. 题名[J]. 刊名, 年. DOI: ...`. Unknown parts are left out, not guessed."""
    parts: list[str] = []
    if paper.authors:
        names = list(paper.authors[:3]) + (["等"] if len(paper.authors) > 3 else [])
        parts.append(", ".join(names) + ".")
    parts.append(f"{paper.title}[J].")
    venue = ", ".join(x for x in (paper.journal, str(paper.year) if paper.year else None) if x)
    if venue:
        parts.append(venue + ".")
    if paper.doi:
        parts.append(f"DOI: {paper.doi}.")
    return " ".join(parts)


def bibtex(paper: Paper) -> str:
    fields = [("title", paper.title)]
    if paper.authors:
        fields.append(("author", " and ".join(paper.authors)))
    if paper.journal:
        fields.append(("journal", paper.journal))
    if paper.year:
        fields.append(("year", str(paper.year)))
    if paper.doi:
        fields.append(("doi", paper.doi))
    key = re.sub(r"\W+", "_", paper.doc_id)
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@article{{{key},\n{body}\n}}"


def markdown_for_writing(answer: Answer, papers: dict[str, Paper]) -> str:
    """The answer with footnote-style references: `text[^1]` ... `[^1]: title, section, p. 137`."""
    body = MARKER.sub(lambda m: f"[^{m.group(1)}]", answer.answer)
    notes = []
    for c in answer.citations:
        where = ", ".join(x for x in (c.section, f"p. {c.page}" if c.page else None) if x)
        ref = gbt7714(papers[c.doc_id]) if c.doc_id in papers else c.title
        quote = strip_source_refs(c.sentence or c.text[:120]).strip()
        notes.append(f"[^{c.n}]: {ref} {where}. “{quote}”")
    return body + ("\n\n" + "\n".join(notes) if notes else "")


def reference_list(papers: Iterable[Paper], style: str = "gbt7714") -> str:
    unique = list({p.doc_id: p for p in papers}.values())
    if style == "bibtex":
        return "\n\n".join(bibtex(p) for p in unique)
    return "\n".join(f"[{i}] {gbt7714(p)}" for i, p in enumerate(unique, 1))
