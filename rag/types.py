"""The data passed between stages: frozen dataclasses, no I/O."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Paper:
    """What the index knows about one source file. Nothing here is guessed."""

    doc_id: str  # file stem, e.g. "000_0ea6e26401eae5d1"; the file name when stems collide (document_ids)
    title: str  # from the file's outline or corpus/catalog.toml; else the doc_id
    doi: str | None
    source: str  # file name inside the corpus folder
    sha256: str
    languages: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    year: int | None = None
    journal: str | None = None
    title_known: bool = False  # False when `title` is only the file stem
    abstract: str | None = None  # the paper's own abstract (its first one), when it has one
    keywords: tuple[str, ...] = ()
    # Where each known field came from: (("title", "catalog.toml"), ("authors", "first page: …"), …)
    sources: tuple[tuple[str, str], ...] = ()
    # From a reference manager's record (BibRecord) or catalog.toml only; None/() when not stated.
    item_type: str | None = None  # CSL type: "article-journal", "book", "thesis", "paper-conference", …
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None  # the paper's page range in its journal or book, e.g. "130-137"
    publisher: str | None = None
    place: str | None = None  # place of publication
    url: str | None = None
    language: str | None = None  # the record's language tag ("zh", "en-US"), when it states one
    collections: tuple[str, ...] = ()  # Zotero collections holding the item
    tags: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class BibRecord:
    """One record of a reference manager: an entry of a .bib/.ris/CSL-JSON/RefWorks/EndNote file
    or an item of a Zotero library, in CSL-JSON's vocabulary. Only what the record states."""

    origin: str  # where it was read, for reports: "refs.bib:12", "zotero.sqlite item 7XK2M9QP"
    key: str = ""  # its citation key (BibTeX), ID (RIS/CSL-JSON) or Zotero item key
    item_type: str = "article-journal"  # CSL type: "article-journal", "book", "chapter", "thesis", …
    title: str | None = None
    # "Family, Given" for names written in Latin letters ("Vaswani, Ashish"), as written for
    # Chinese, Japanese and Korean names ("郭冉") and for organisations ("中国互联网络信息中心").
    authors: tuple[str, ...] = ()
    year: int | None = None
    container: str | None = None  # journal, proceedings or book the item appeared in
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None  # "130-137"
    publisher: str | None = None
    place: str | None = None
    doi: str | None = None  # bare, lower-case: "10.1038/nature14539"
    url: str | None = None
    language: str | None = None
    abstract: str | None = None
    keywords: tuple[str, ...] = ()
    files: tuple[str, ...] = ()  # attachment paths or file names the record names
    collections: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def fields(self) -> dict[str, object]:
        """The record as Paper fields (journal = container), stated ones only."""
        out: dict[str, object] = {
            "title": self.title,
            "authors": self.authors,
            "year": self.year,
            "journal": self.container,
            "doi": self.doi,
            "abstract": self.abstract,
            "keywords": self.keywords,
            "item_type": self.item_type,
            "volume": self.volume,
            "issue": self.issue,
            "pages": self.pages,
            "publisher": self.publisher,
            "place": self.place,
            "url": self.url,
            "language": self.language,
            "collections": self.collections,
            "tags": self.tags,
        }
        return {k: v for k, v in out.items() if v not in (None, "", ())}


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph or heading of a cleaned paper, with where it sits."""

    start: int  # [start, end) in the cleaned text
    end: int
    kind: str  # "heading" | "abstract" | "abstract_en" | "keywords" | "body" | "references"
    section: str | None
    page: int | None  # printed page where the block starts, when the source shows it
    page_end: int | None
    index: int | None = None  # for a PDF: the 1-based page index in the file where the block starts


@dataclass(frozen=True, slots=True)
class Page:
    """One page of raw text as read from a file (a text file is one page with no number)."""

    doc_id: str
    number: int | None  # printed page number when known
    text: str
    index: int | None = None  # for a PDF: the 1-based page index in the file
    paragraphs: bool = False  # a blank line separates paragraphs (a PDF read with its layout)


@dataclass(frozen=True, slots=True)
class CleanPaper:
    """A paper after cleaning: one text with its paragraphs, headings and pages marked."""

    paper: Paper
    text: str
    blocks: tuple[Block, ...]
    # (offset in text, printed page, PDF page index or None) where each page starts, in order
    pages: tuple[tuple[int, int, int | None], ...] = ()


@dataclass(frozen=True, slots=True)
class Chunk:
    doc_id: str
    page: int | None  # printed page where the chunk starts, when known
    page_end: int | None  # last printed page the chunk may lie on, when known
    section: str | None  # nearest heading
    start: int  # [start, end) in the cleaned text of the paper
    end: int
    text: str
    lang: str  # "zh" | "en"
    kind: str  # "body" | "abstract" | "abstract_en" | "keywords" | "references" | "footnote"
    pdf_page: int | None = None  # for a PDF: the 1-based page index where the chunk starts (to open it there)

    @property
    def key(self) -> str:
        """Stable across rebuilds of the same text: used by citations, eval and snapshots."""
        return f"{self.doc_id}:{self.start}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Heading:
    """A heading of a paper as the cleaner found it at ingest: the outline of the paper."""

    doc_id: str
    start: int  # [start, end) in the cleaned text of the paper
    end: int
    level: int  # 1 for "4.", 2 for "4.1." and for "(一)" under a numbered heading
    text: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def page_label(page: int | None, page_end: int | None) -> str | None:
    """'137' or '137–138', or None when the source shows no page numbers."""
    if page is None:
        return None
    if page_end is None or page_end == page:
        return str(page)
    return f"{page}–{page_end}"


@dataclass(frozen=True, slots=True)
class Hit:
    """A retrieved chunk with its fused score and the score of each retrieval leg."""

    chunk: Chunk
    score: float
    rank: int
    legs: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Citation:
    n: int
    doc_id: str
    title: str
    section: str | None
    page: str | None  # "137" or "137–138"
    text: str  # the quoted supporting text (the chunk)
    score: float
    sentence: str  # the cited sentence, verbatim from `text`
    key: str
    doi: str | None = None
    untrusted: tuple[str, ...] = ()  # instruction-like sentences of `text` (data, never followed)
    source: str | None = None  # the paper's file name in the corpus folder
    pdf_page: int | None = None  # for a PDF: the 1-based page index where the quoted passage starts
    authors: tuple[str, ...] = ()  # the paper's authors and year, as the index knows them
    year: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "untrusted": list(self.untrusted),
            "n": self.n,
            "doc_id": self.doc_id,
            "title": self.title,
            "section": self.section,
            "page": self.page,
            "text": self.text,
            "score": round(self.score, 4),
            "sentence": self.sentence,
            "key": self.key,
            "doi": self.doi,
            "source": self.source,
            "pdf_page": self.pdf_page,
            "authors": list(self.authors),
            "year": self.year,
        }


@dataclass(frozen=True, slots=True)
class SentenceCheck:
    """The verdict on one sentence of an answer: its citations (final numbers) and why."""

    text: str  # the sentence without its [n] markers
    citations: tuple[int, ...]
    supported: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "citations": list(self.citations),
            "supported": self.supported,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier exchange of a conversation: the history format of Assistant.ask."""

    question: str
    answer: str = ""
    standalone: str | None = None  # what was searched for it, when known


@dataclass(frozen=True, slots=True)
class Answer:
    question: str
    answer: str
    abstained: bool
    language: str
    citations: tuple[Citation, ...]
    passages: tuple[Citation, ...]  # top-k retrieved, rank order, n = rank
    timings_ms: dict[str, float]
    mode: str = "extractive"
    standalone_question: str | None = None
    notes: tuple[str, ...] = ()
    sentences: tuple[SentenceCheck, ...] = ()  # per-sentence citation verification
    abstention: dict[str, float] = field(default_factory=dict)  # the abstention features and p_unanswerable

    def turn(self) -> Turn:
        """This answer as a turn of the conversation history."""
        return Turn(self.question, self.answer, self.standalone_question)

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON contract of `rag ask --json`, the UI and the eval harness."""
        return {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "language": self.language,
            "citations": [c.to_dict() for c in self.citations],
            "passages": [p.to_dict() for p in self.passages],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "mode": self.mode,
            "standalone_question": self.standalone_question,
            "notes": list(self.notes),
            "sentences": [c.to_dict() for c in self.sentences],
            "abstention": {k: round(v, 4) for k, v in self.abstention.items()},
        }
