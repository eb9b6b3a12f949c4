"""Reference-manager files beside the papers -> BibRecords, and which record describes which paper.

Formats: BibTeX (.bib, read by bibtexparser v2), RIS (.ris or a RIS .txt, read by rispy), CSL-JSON
(.json), and the tagged exports of CNKI and EndNote: RefWorks (`RT Journal Article`), EndNote/refer
(`%0 Journal Article`) and NoteExpress (`{Reference Type}: Journal Article`). CNKI saves these as
.txt files next to .txt papers, so a .txt is a bibliography only when its first lines say so
(`sniff`). Every format maps to one `BibRecord` in CSL-JSON's vocabulary; a bad record becomes a
sentence in `Bibliography.problems`, never an exception. `match_records` pairs records with papers
by DOI, then title, then attachment file name, without I/O.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from .errors import CorpusError
from .ingest import decode_text
from .text import DOI
from .types import BibRecord

logger = logging.getLogger(__name__)

FORMATS = ("bibtex", "ris", "csl-json", "refworks", "endnote", "noteexpress")
# How much of a .txt/.json is read to decide whether it is a bibliography.
SNIFF_BYTES = 64 * 1024
# A normalised title (letters and digits only) shorter than this never matches: "Introduction",
# "摘要" or "Editorial" name many papers, while 8 letters of a real title rarely collide.
MIN_TITLE_CHARS = 8
# Evidence that a record describes a paper, strongest first.
EVIDENCE = ("DOI", "title", "file name")

# ---------------------------------------------------------------- item types (CSL)

BIBTEX_TYPES = {
    "article": "article-journal",
    "inproceedings": "paper-conference",
    "conference": "paper-conference",
    "incollection": "chapter",
    "inbook": "chapter",
    "book": "book",
    "phdthesis": "thesis",
    "mastersthesis": "thesis",
    "masterthesis": "thesis",
    "thesis": "thesis",
    "techreport": "report",
    "report": "report",
    "dataset": "dataset",
    "online": "webpage",
}
RIS_TYPES = {
    "JOUR": "article-journal",
    "JFULL": "article-journal",
    "EJOUR": "article-journal",
    "MGZN": "article-magazine",
    "NEWS": "article-newspaper",
    "BOOK": "book",
    "EBOOK": "book",
    "EDBOOK": "book",
    "CHAP": "chapter",
    "ECHAP": "chapter",
    "CONF": "paper-conference",
    "CPAPER": "paper-conference",
    "THES": "thesis",
    "RPRT": "report",
    "DATA": "dataset",
    "ELEC": "webpage",
    "WEB": "webpage",
    "GEN": "document",
}
# The English type names of RefWorks RT, EndNote %0 and NoteExpress {Reference Type}.
NAMED_TYPES = {
    "journal article": "article-journal",
    "electronic article": "article-journal",
    "dissertation": "thesis",
    "thesis": "thesis",
    "dissertation/thesis": "thesis",
    "conference proceedings": "paper-conference",
    "conference paper": "paper-conference",
    "book": "book",
    "edited book": "book",
    "book section": "chapter",
    "book, section": "chapter",
    "chapter": "chapter",
    "newspaper article": "article-newspaper",
    "magazine article": "article-magazine",
    "report": "report",
    "patent": "patent",
    "web page": "webpage",
    "electronic source": "webpage",
    "dataset": "dataset",
    "generic": "document",
}
# Language names as CNKI writes them -> language tags.
LANGUAGES = {"中文": "zh", "英文": "en", "chinese": "zh", "english": "en"}

# ---------------------------------------------------------------- names

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\U00020000-\U0002ffff]")
# Lower-case particles that belong to the family name: "Jean de la Fontaine" -> "de la Fontaine, Jean".
_PARTICLES = frozenset("von van der den de del della di da du dos des la le ter ten".split())
# A name written without a comma that holds one of these words is an organisation, kept as written.
_ORGANISATION_WORDS = re.compile(
    r"\b(organi[sz]ation|institute|university|association|committee|consortium|council|society|agency|"
    r"cent(?:er|re)|foundation|group|team|collaboration|project|ministry|office|bureau|inc|ltd)\b",
    re.I,
)
_NAME_LIST = re.compile(r"[;；]")
_KEYWORD_LIST = re.compile(r"[;；,，]")


def _person(name: str) -> str | None:
    """One author as BibRecord writes it: "Family, Given" for Latin letters, as written for CJK
    names and organisations; None for empty names and "others"."""
    name = " ".join(name.split()).strip(" ;,，；")
    if not name or name.casefold() in {"others", "et al.", "et al", "等"}:
        return None
    if _CJK.search(name):
        return name
    if "," in name:
        family, given = (part.strip() for part in name.split(",", 1))
        return f"{family}, {given}" if given else family
    words = name.split(" ")
    if len(words) == 1 or _ORGANISATION_WORDS.search(name):
        return name
    start = len(words) - 1
    while start > 1 and words[start - 1] in _PARTICLES:
        start -= 1
    return f"{' '.join(words[start:])}, {' '.join(words[:start])}"


def _people(values: Iterable[str]) -> tuple[str, ...]:
    """Authors from fields that hold one name or a CNKI list "张三;李四;" each."""
    out: list[str] = []
    for value in values:
        parts = _NAME_LIST.split(value)
        if len(parts) == 1 and _CJK.search(value):
            parts = re.split(r"[,，、]", value)  # "张三,李四": a comma never sits inside a CJK name
        out.extend(p for p in (_person(part) for part in parts) if p)
    return tuple(out)


# ---------------------------------------------------------------- field values


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value)
    text = " ".join(str(value).split()).strip()
    return text or None


def _doi(value: str | None) -> str | None:
    """ "https://doi.org/10.1038/NATURE14539", "doi:10.1038/…" -> "10.1038/nature14539"."""
    if not value:
        return None
    found = DOI.search(unquote(value))
    return found.group(1).rstrip(".").lower() if found else None


def _year(value: str | None) -> int | None:
    found = re.search(r"(?<!\d)(1[5-9]\d\d|20\d\d)(?!\d)", value or "")
    return int(found.group(1)) if found else None


def _pages(first: str | None, last: str | None = None) -> str | None:
    """ "436--444", "436–444", ("436", "444") -> "436-444"."""
    first, last = _clean(first), _clean(last)
    if first and last and not re.search(r"[-–—]", first):
        first = f"{first}-{last}"
    first = first or last
    return re.sub(r"\s*[-–—]+\s*", "-", first) if first else None


def _keywords(values: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        out.extend(k for k in (" ".join(part.split()) for part in _KEYWORD_LIST.split(value)) if k)
    return tuple(dict.fromkeys(out))


def _language(value: str | None) -> str | None:
    value = _clean(value)
    if not value:
        return None
    value = value.strip(" ;；")
    return LANGUAGES.get(value.casefold(), value) or None


def _file_path(entry: str) -> str | None:
    """One attachment as its path: JabRef/Zotero-BBT "Description:path/x.pdf:application/pdf"
    (colons inside the path escaped as "\\:" or a Windows drive "C:"), a file:// URL, or a plain path."""
    entry = entry.strip()
    if not entry:
        return None
    parts = re.split(r"(?<!\\):", entry)
    if len(parts) >= 3 and not entry.lower().startswith("file:"):
        entry = ":".join(parts[1:-1])
    entry = entry.replace("\\:", ":").strip()
    if entry.lower().startswith("file:"):
        entry = unquote(re.sub(r"^file:(//)?", "", entry, flags=re.I))
    return entry or None


def _files(values: Iterable[str], separator: str = ";") -> tuple[str, ...]:
    out = [_file_path(part) for value in values for part in value.split(separator)]
    return tuple(p for p in out if p)


def basename(path: str) -> str:
    """The file name of a path written with / or \\ ("storage/ABCD1234/x.pdf" -> "x.pdf")."""
    return re.split(r"[\\/]", path.rstrip("\\/"))[-1]


# ---------------------------------------------------------------- the result


@dataclass(frozen=True, slots=True)
class Bibliography:
    """One bibliography file as read: its records (in file order) and the problems found in it,
    each a sentence "refs.bib:14: entry could not be parsed (…); …"."""

    path: Path
    format: str  # one of FORMATS
    records: tuple[BibRecord, ...]
    problems: tuple[str, ...]


@dataclass(slots=True)
class _Draft:
    """A record's fields as read, before they are checked: one per entry of any format."""

    line: int  # 1-based line where the record starts
    item_type: str
    key: str = ""
    title: str | None = None
    authors: tuple[str, ...] = ()
    year: int | None = None
    container: str | None = None
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None
    publisher: str | None = None
    place: str | None = None
    doi: str | None = None
    url: str | None = None
    language: str | None = None
    abstract: str | None = None
    keywords: tuple[str, ...] = ()
    files: tuple[str, ...] = ()


def _finish(drafts: Iterable[_Draft], name: str, problems: list[str]) -> tuple[BibRecord, ...]:
    """BibRecords of the drafts that have a title and a key not seen before; problems for the rest."""
    records: list[BibRecord] = []
    first_line: dict[str, int] = {}
    for d in drafts:
        origin = f"{name}:{d.line}"
        if d.key and d.key in first_line:
            problems.append(
                f"{origin}: duplicate citation key {d.key!r} (first at line {first_line[d.key]}); "
                "the first is kept: give one of them another key"
            )
            continue
        if d.key:
            first_line[d.key] = d.line
        if not d.title:
            problems.append(f"{origin}: record has no title; skipped (add its title in the reference manager)")
            continue
        records.append(
            BibRecord(
                origin=origin,
                key=d.key,
                item_type=d.item_type,
                title=d.title,
                authors=d.authors,
                year=d.year,
                container=d.container,
                volume=_clean(d.volume),
                issue=_clean(d.issue),
                pages=d.pages,
                publisher=d.publisher,
                place=d.place,
                doi=d.doi,
                url=d.url,
                language=d.language,
                abstract=d.abstract,
                keywords=d.keywords,
                files=d.files,
            )
        )
    return tuple(records)


# ---------------------------------------------------------------- sniffing

_TAGGED_START = {
    "ris": re.compile(r"^TY {1,2}- ?\S"),
    "refworks": re.compile(r"^RT [A-Za-z]"),
    "endnote": re.compile(r"^%0 \S"),
    "noteexpress": re.compile(r"^\{Reference Type\}:\s*\S", re.I),
}
_TAGGED_LINE = {
    "ris": re.compile(r"^[A-Z][A-Z0-9] {1,2}-( |$)"),
    "refworks": re.compile(r"^(?:A1|T1|SR|JF|YR|AD|ID) "),  # what follows RT in CNKI's and RefWorks' exports
    "endnote": re.compile(r"^%\S "),
    "noteexpress": re.compile(r"^\{[^{}]{1,40}\}:"),
}
_TEXT_FORMATS = {".txt": ("ris", "refworks", "endnote", "noteexpress"), ".enw": ("endnote",)}


def sniff(path: Path) -> str | None:
    """The bibliographic format of a file, one of FORMATS, or None when it is not a bibliography.

    .bib -> "bibtex", .ris -> "ris" by name; a .json is "csl-json" when it holds a list whose first
    item is a CSL object (a "type" and a title, author, date or id); a .txt/.enw is tagged when its
    first two non-empty lines are tagged lines of one format ("TY  - JOUR", "RT Journal Article",
    "%0 Journal Article", "{Reference Type}: Journal Article"), so a paper saved as .txt is never
    one. Unreadable files are None (the caller reports them when it reads them as papers)."""
    suffix = path.suffix.lower()
    if suffix == ".bib":
        return "bibtex"
    if suffix == ".ris":
        return "ris"
    if suffix not in _TEXT_FORMATS and suffix != ".json":
        return None
    try:
        text = _head(path)
    except (OSError, CorpusError) as exc:
        logger.debug("sniff %s: not read (%s)", path.name, exc)
        return None
    if suffix == ".json":
        return "csl-json" if _looks_like_csl(text) else None
    lines = [line.rstrip() for line in text.splitlines() if line.strip()][:2]
    for fmt in _TEXT_FORMATS[suffix]:
        if lines and _TAGGED_START[fmt].match(lines[0]) and len(lines) == 2 and _TAGGED_LINE[fmt].match(lines[1]):
            return fmt
    return None


def _head(path: Path) -> str:
    """The start of a file as text, cut at a line end so no character is split."""
    with path.open("rb") as fh:
        data = fh.read(SNIFF_BYTES)
        more = bool(fh.read(1))
    if more and b"\n" in data:
        data = data[: data.rindex(b"\n") + 1]
    return decode_text(data, path.name)


def _looks_like_csl(text: str) -> bool:
    start = text.lstrip()
    if not start.startswith("["):
        return False
    try:
        first, _ = json.JSONDecoder().raw_decode(start, _skip(start, 1))
    except ValueError:
        return False
    keys = {"title", "author", "issued", "id", "container-title", "DOI"}
    return isinstance(first, dict) and isinstance(first.get("type"), str) and bool(keys & first.keys())


def _skip(text: str, at: int) -> int:
    while at < len(text) and (text[at].isspace() or text[at] == ","):
        at += 1
    return at


def bibliography_files(corpus_dir: Path) -> list[Path]:
    """The bibliography files directly in `corpus_dir` (not in subfolders), sorted by name;
    [] when the folder has none or does not exist."""
    if not corpus_dir.is_dir():
        return []
    return sorted(p for p in corpus_dir.iterdir() if p.is_file() and sniff(p))


# ---------------------------------------------------------------- reading


def read_bibliography(path: Path) -> Bibliography:
    """Read one bibliography file (its format found by `sniff`) into BibRecords.

    Text is UTF-8 (with or without BOM) or GB18030/GBK, as CNKI saves it. Each record's `origin` is
    "<file name>:<line where it starts>". Bad entries (syntax errors, duplicate keys, no title) are
    skipped and named in `problems`; the good ones are returned. Raises CorpusError when the file
    cannot be read or decoded, or is not a bibliography in a known format."""
    fmt = sniff(path)
    if fmt is None:
        raise CorpusError(
            f"{path.name} is not a bibliography file: use a BibTeX .bib, RIS .ris, CSL-JSON .json, or a "
            "RefWorks/EndNote/NoteExpress export (.txt) from the reference manager or CNKI"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"{path.name} cannot be read ({exc}); check that it exists and is readable") from exc
    try:
        text = decode_text(data, path.name)
    except CorpusError as exc:
        raise CorpusError(f"{exc}; export the bibliography again from the reference manager") from exc
    problems: list[str] = []
    drafts = _READERS[fmt](text, path.name, problems)
    records = _finish(drafts, path.name, problems)
    logger.debug("%s: %d %s records, %d problems", path.name, len(records), fmt, len(problems))
    return Bibliography(path=path, format=fmt, records=records, problems=tuple(problems))


# ---------------------------------------------------------------- BibTeX

_BIB_DECODED = (
    "title",
    "journal",
    "journaltitle",
    "booktitle",
    "publisher",
    "school",
    "institution",
    "organization",
    "address",
    "location",
    "abstract",
    "keywords",
    "language",
    "langid",
)


@lru_cache(maxsize=1)
def _latex() -> Any:
    from pylatexenc.latex2text import LatexNodes2Text  # installed with bibtexparser

    return LatexNodes2Text()


@lru_cache(maxsize=1)
def _latex_context() -> Any:
    """pylatexenc's macro table, built once (it costs ~0.5 ms a value when rebuilt per call)."""
    from pylatexenc.latexwalker import get_default_latex_context_db

    return get_default_latex_context_db()


def _unlatex(value: str | None) -> str | None:
    """LaTeX -> Unicode: "{\\'E}tude des {R}{\\'e}seaux" -> "Étude des Réseaux"."""
    if not value:
        return None
    if "\\" not in value and "$" not in value and "~" not in value:
        value = value.replace("{", "").replace("}", "")  # braces only group: no LaTeX to convert
    else:
        try:
            value = _latex().latex_to_text(value, latex_context=_latex_context())
        except Exception:  # pylatexenc is lenient; a failure leaves the text with its braces dropped
            value = value.replace("{", "").replace("}", "")
    return _clean(value)


def _bib_people(value: str | None) -> tuple[str, ...]:
    from bibtexparser.middlewares.names import parse_single_name_into_parts, split_multiple_persons_names

    out: list[str] = []
    for raw in split_multiple_persons_names(value or ""):
        raw = raw.strip()
        if raw.startswith("{") and raw.endswith("}") and _balanced(raw[1:-1]):  # {World Health Organization}
            name = _unlatex(raw)
        elif _CJK.search(raw) or raw.casefold() == "others":
            name = _person(_unlatex(raw) or "")
        else:
            try:
                parts = parse_single_name_into_parts(raw)
            except Exception:  # bibtexparser's InvalidNameError: read it as written
                name = _person(_unlatex(raw) or "")
            else:
                family = _unlatex(" ".join(parts.von + parts.last))
                given = _unlatex(" ".join(parts.first + parts.jr))
                name = f"{family}, {given}" if family and given else family or given
        if name:
            out.append(name)
    return tuple(out)


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def _bib_type(entry_type: str, fields: Mapping[str, str]) -> str:
    entry_type = entry_type.lower()
    if entry_type in {"misc", "online", "unpublished"}:
        where = " ".join(fields.get(k, "") for k in ("archiveprefix", "eprinttype", "howpublished", "url"))
        if "arxiv" in where.lower() or fields.get("eprint"):
            return "article"  # a preprint
    return BIBTEX_TYPES.get(entry_type, "document")


# "… here author = Doe" inside a value: the entry lacks a comma before `author = `.
_SWALLOWED_FIELD = re.compile(
    r"(?:^|\s)(?:author|title|journal|journaltitle|booktitle|year|date|volume|number|pages|doi|url|publisher)"
    r"\s*=\s*",
    re.I,
)


def _read_bibtex(text: str, name: str, problems: list[str]) -> list[_Draft]:
    import bibtexparser
    from bibtexparser.model import DuplicateBlockKeyBlock

    library = bibtexparser.parse_string(text)
    for block in library.failed_blocks:
        line = (block.start_line or 0) + 1
        if isinstance(block, DuplicateBlockKeyBlock):
            first = (block.previous_block.start_line or 0) + 1
            problems.append(
                f"{name}:{line}: duplicate citation key {block.key!r} (first at line {first}); "
                "the first is kept: give one of them another key"
            )
        else:
            error = block.error
            reason = getattr(error, "abort_reason", None) or str(error).split("bibtex:")[-1].strip()
            reason = " ".join((reason or type(error).__name__).split())
            problems.append(f"{name}:{line}: entry could not be parsed ({reason}); fix it in the file")
    drafts = []
    for entry in library.entries:
        f = {k.lower(): str(v.value) for k, v in entry.fields_dict.items()}
        for field_name, value in f.items():
            swallowed = _SWALLOWED_FIELD.search(value)
            if swallowed:  # `title = {…}` and the next field with no comma between: the parser glues them
                problems.append(
                    f"{name}:{entry.start_line + 1}: entry {entry.key!r}: its {field_name} holds "
                    f"'{swallowed.group(0).strip()}…', a field with no comma before it; add the comma"
                )
        d = {k: _unlatex(f.get(k)) for k in _BIB_DECODED}
        url = _clean(f.get("url"))
        drafts.append(
            _Draft(
                line=entry.start_line + 1,
                item_type=_bib_type(entry.entry_type, f),
                key=entry.key,
                title=d["title"],
                authors=_bib_people(f.get("author")),
                year=_year(f.get("year") or f.get("date")),
                container=d["journaltitle"] or d["journal"] or d["booktitle"],
                volume=f.get("volume"),
                issue=f.get("number") or f.get("issue"),
                pages=_pages(f.get("pages")),
                publisher=d["publisher"] or d["school"] or d["institution"] or d["organization"],
                place=d["address"] or d["location"],
                doi=_doi(f.get("doi")) or (_doi(url) if url and "doi.org/" in url.lower() else None),
                url=url,
                language=_language(d["language"] or d["langid"]),
                abstract=d["abstract"],
                keywords=_keywords([d["keywords"] or ""]),
                files=_files([f.get("file", "")]),
            )
        )
    return drafts


# ---------------------------------------------------------------- RIS

_RIS_START = re.compile(r"^TY {1,2}- ?")
_RIS_END = re.compile(r"^ER {1,2}-")
_RIS_TAG = re.compile(r"^([A-Z][A-Z0-9]) {1,2}- ?")


def _read_ris(text: str, name: str, problems: list[str]) -> list[_Draft]:
    import rispy

    drafts = []
    for line, lines in _ris_chunks(text.splitlines()):
        chunk = "\n".join(_RIS_TAG.sub(r"\1  - ", row) for row in lines)
        try:
            entries = rispy.loads(chunk, list_tags=[*rispy.LIST_TYPE_TAGS, "L1"])
        except Exception as exc:  # rispy raises its own ParseError and plain errors alike
            problems.append(f"{name}:{line}: record could not be parsed ({exc}); fix it in the file")
            continue
        drafts.extend(_ris_draft(entry, line) for entry in entries[:1])
    return drafts


def _ris_chunks(lines: list[str]) -> Iterable[tuple[int, list[str]]]:
    """(1-based start line, lines) of each TY … ER record; a missing ER ends at the next TY."""
    start, rows = 0, []
    for number, row in enumerate(lines, 1):
        if _RIS_START.match(row):
            if rows:
                yield start, [*rows, "ER  - "]
            start, rows = number, [row]
        elif rows:
            rows.append(row)
            if _RIS_END.match(row):
                yield start, rows
                rows = []
    if rows:
        yield start, [*rows, "ER  - "]


def _ris_draft(e: Mapping[str, Any], line: int) -> _Draft:
    def first(*keys: str) -> str | None:
        for key in keys:
            value = e.get(key)
            if isinstance(value, list):
                value = value[0] if value else None
            if _clean(value):
                return _clean(value)
        return None

    item_type = RIS_TYPES.get(str(e.get("type_of_reference", "")).strip().upper(), "document")
    container = (
        None
        if item_type == "book"
        else first("secondary_title", "journal_name", "alternate_title3", "alternate_title2", "alternate_title1")
    )
    return _Draft(
        line=line,
        item_type=item_type,
        key=first("id") or "",
        title=first("title", "primary_title"),
        authors=_people([*e.get("authors", []), *e.get("first_authors", [])]),
        year=_year(first("year", "publication_year", "date")),
        container=container,
        volume=first("volume"),
        issue=first("number"),
        pages=_pages(first("start_page"), first("end_page")),
        publisher=first("publisher"),
        place=first("place_published"),
        doi=_doi(first("doi")),
        url=first("urls"),
        language=_language(first("language")),
        abstract=first("abstract", "notes_abstract"),
        keywords=_keywords(e.get("keywords", [])),
        files=_files(e.get("file_attachments1", [])),
    )


# ---------------------------------------------------------------- CSL-JSON


def _read_csl(text: str, name: str, problems: list[str]) -> list[_Draft]:
    body = text.lstrip()
    offset = len(text) - len(body)
    decoder = json.JSONDecoder()
    drafts: list[_Draft] = []
    at = _skip(body, 1)
    line, counted = 1, 0  # lines are counted on from the last item, not from the top each time
    while at < len(body) and body[at] != "]":
        line += text.count("\n", counted, offset + at)
        counted = offset + at
        try:
            item, at = decoder.raw_decode(body, at)
        except json.JSONDecodeError as exc:
            where = text.count("\n", 0, offset + exc.pos) + 1
            reason = exc.msg.removesuffix(" at")  # "Unterminated string starting at" + a position
            problems.append(
                f"{name}:{line}: not valid JSON from here ({reason} on line {where}); records after it were not "
                "read: fix the file or export it again"
            )
            break
        at = _skip(body, at)
        if not isinstance(item, dict):
            problems.append(f"{name}:{line}: item is not a CSL-JSON object; skipped")
            continue
        drafts.append(_csl_draft(item, line))
    return drafts


def _csl_draft(item: Mapping[str, Any], line: int) -> _Draft:
    def text(key: str) -> str | None:
        return _clean(item.get(key))

    issued = item.get("issued") or {}
    parts = issued.get("date-parts") if isinstance(issued, dict) else None
    year = None
    if parts and parts[0]:
        year = _year(str(parts[0][0]))
    elif isinstance(issued, dict):
        year = _year(str(issued.get("raw") or issued.get("literal") or ""))
    keyword = item.get("keyword") or ""
    return _Draft(
        line=line,
        item_type=text("type") or "document",
        key=str(item.get("id") or ""),
        title=text("title"),
        authors=tuple(a for a in (_csl_person(p) for p in item.get("author") or []) if a),
        year=year,
        container=text("container-title"),
        volume=text("volume"),
        issue=text("issue"),
        pages=_pages(text("page")),
        publisher=text("publisher"),
        place=text("publisher-place"),
        doi=_doi(text("DOI")),
        url=text("URL"),
        language=_language(text("language")),
        abstract=text("abstract"),
        keywords=_keywords(keyword if isinstance(keyword, list) else [str(keyword)]),
    )


def _csl_person(person: Any) -> str | None:
    if not isinstance(person, dict):
        return None
    if person.get("literal"):
        return _clean(person["literal"])
    family, given = _clean(person.get("family")) or "", _clean(person.get("given")) or ""
    if _CJK.search(family + given):
        return family + given or None  # 郭 + 冉 -> 郭冉
    return f"{family}, {given}" if family and given else family or given or None


# ---------------------------------------------------------------- tagged text: RefWorks, EndNote, NoteExpress

# RefWorks tags CNKI and RefWorks write; anything else is a continuation of the previous value.
_REFWORKS_TAGS = frozenset(
    "RT SR A1 A2 A3 A4 A5 A6 AD T1 T2 T3 JF JO YR FD VO IS SP OP K1 AB NO PB PP ED SN CN LA DS LK UL DO "
    "ID CL RD ST SL WP WT OT U1 U2 U3 U4 U5 AN CA".split()
)
_REFWORKS_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9]) (.*)$")
_ENDNOTE_LINE = re.compile(r"^%(\S) ?(.*)$")
_NOTEEXPRESS_LINE = re.compile(r"^\{([^{}]{1,40})\}:\s?(.*)$")


def _tagged(
    text: str, match: Callable[[str], tuple[str, str] | None], start_tag: str, list_tag: str = ""
) -> Iterable[tuple[int, dict[str, list[str]]]]:
    """(start line, tag -> values) of each record of a tagged export; a record starts at
    `start_tag`, a line without a tag continues the value before it (or, after `list_tag`, is
    one more value: EndNote writes one keyword a line under %K)."""
    record: dict[str, list[str]] = {}
    start, last = 0, None
    for number, row in enumerate(text.splitlines(), 1):
        if not row.strip():
            continue
        found = match(row.rstrip())
        if found and found[0] == start_tag:
            if record:
                yield start, record
            record, start = {}, number
        if found:
            last = found[0]
            record.setdefault(last, []).append(found[1].strip())
        elif last is not None and record and last == list_tag:
            record[last].append(row.strip())
        elif last is not None and record:
            record[last][-1] = f"{record[last][-1]} {row.strip()}".strip()
    if record:
        yield start, record


def _match_refworks(row: str) -> tuple[str, str] | None:
    found = _REFWORKS_LINE.match(row)
    if found and found.group(1).upper() in _REFWORKS_TAGS:
        return found.group(1).upper(), found.group(2)
    return None


def _match_endnote(row: str) -> tuple[str, str] | None:
    found = _ENDNOTE_LINE.match(row)
    return (found.group(1), found.group(2)) if found else None


def _match_noteexpress(row: str) -> tuple[str, str] | None:
    found = _NOTEEXPRESS_LINE.match(row)
    return (found.group(1).strip().casefold(), found.group(2)) if found else None


def _tagged_draft(line: int, r: Mapping[str, list[str]], tags: Mapping[str, tuple[str, ...]]) -> _Draft:
    """A draft from tag -> values by `tags`: field -> the tags that may hold it, best first."""

    def all_of(field: str) -> list[str]:
        return [v for tag in tags.get(field, ()) for v in r.get(tag, []) if v.strip()]

    def one(field: str) -> str | None:
        values = all_of(field)
        return _clean(values[0]) if values else None

    kind = (one("type") or "").casefold()
    return _Draft(
        line=line,
        item_type=NAMED_TYPES.get(kind, "document"),
        key=one("key") or "",
        title=one("title"),
        authors=_people(all_of("authors")),
        year=_year(one("year")),
        container=one("container"),
        volume=one("volume"),
        issue=one("issue"),
        pages=_pages(one("first_page"), one("last_page")),
        publisher=one("publisher"),
        place=one("place"),
        doi=_doi(one("doi")),
        url=one("url"),
        language=_language(one("language")),
        abstract=one("abstract"),
        keywords=_keywords(all_of("keywords")),
        files=_files(all_of("files")),
    )


_REFWORKS_FIELDS = {
    "type": ("RT",),
    "key": ("ID",),
    "title": ("T1",),
    "authors": ("A1",),
    "year": ("YR", "FD"),
    "container": ("JF", "JO", "T2"),
    "volume": ("VO",),
    "issue": ("IS",),
    "first_page": ("SP",),
    "last_page": ("OP",),
    "publisher": ("PB",),
    "place": ("PP",),
    "doi": ("DO",),
    "url": ("UL", "LK"),
    "language": ("LA",),
    "abstract": ("AB",),
    "keywords": ("K1",),
}
_ENDNOTE_FIELDS = {
    "type": ("0",),
    "key": ("F",),
    "title": ("T",),
    "authors": ("A",),
    "year": ("D", "8"),
    "container": ("J", "B"),
    "volume": ("V",),
    "issue": ("N",),
    "first_page": ("P",),
    "publisher": ("I",),
    "place": ("C",),
    "doi": ("R",),
    "url": ("U",),
    "language": ("G",),
    "abstract": ("X",),
    "keywords": ("K",),
    "files": (">",),
}
_NOTEEXPRESS_FIELDS = {
    "type": ("reference type",),
    "title": ("title",),
    "authors": ("author",),
    "year": ("year", "date"),
    "container": ("journal", "secondary title"),
    "volume": ("volume",),
    "issue": ("issue",),
    "first_page": ("pages",),
    "publisher": ("publisher",),
    "place": ("place published",),
    "doi": ("doi",),
    "url": ("url", "link"),
    "language": ("language",),
    "abstract": ("abstract",),
    "keywords": ("keywords",),
    "files": ("file attachments",),
}


def _read_refworks(text: str, name: str, problems: list[str]) -> list[_Draft]:
    return [_tagged_draft(line, r, _REFWORKS_FIELDS) for line, r in _tagged(text, _match_refworks, "RT", "K1")]


def _read_endnote(text: str, name: str, problems: list[str]) -> list[_Draft]:
    return [_tagged_draft(line, r, _ENDNOTE_FIELDS) for line, r in _tagged(text, _match_endnote, "0", "K")]


def _read_noteexpress(text: str, name: str, problems: list[str]) -> list[_Draft]:
    records = _tagged(text, _match_noteexpress, "reference type")
    return [_tagged_draft(line, r, _NOTEEXPRESS_FIELDS) for line, r in records]


_READERS: dict[str, Callable[[str, str, list[str]], list[_Draft]]] = {
    "bibtex": _read_bibtex,
    "ris": _read_ris,
    "csl-json": _read_csl,
    "refworks": _read_refworks,
    "endnote": _read_endnote,
    "noteexpress": _read_noteexpress,
}

# ---------------------------------------------------------------- matching records to papers


@dataclass(frozen=True, slots=True)
class PaperKeys:
    """What a paper itself tells about its identity: its file name (or path relative to the
    corpus folder) and the DOI and title it states, when it states them."""

    name: str
    doi: str | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Matches:
    """Which record describes which paper: by_paper maps a paper's name to (record, how), how
    one of EVIDENCE; records that describe no paper; conflicts as sentences for the user."""

    by_paper: Mapping[str, tuple[BibRecord, str]]
    unmatched_records: tuple[BibRecord, ...]
    conflicts: tuple[str, ...]


def title_key(title: str | None) -> str | None:
    """A title for comparison: NFKC, casefolded, letters, marks and digits only (whitespace and
    punctuation of every script dropped); None when shorter than MIN_TITLE_CHARS."""
    if not title:
        return None
    folded = unicodedata.normalize("NFKC", title).casefold()
    key = "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LMN")
    return key if len(key) >= MIN_TITLE_CHARS else None


def _file_key(path: str) -> str:
    return unicodedata.normalize("NFC", basename(path)).casefold()


@dataclass(frozen=True, slots=True)
class _Keys:
    """What a record or paper is compared by, computed once."""

    doi: str | None
    title: str | None
    files: frozenset[str]


def _record_keys(record: BibRecord) -> _Keys:
    return _Keys(_doi(record.doi), title_key(record.title), frozenset(_file_key(f) for f in record.files))


def _paper_keys(paper: PaperKeys) -> _Keys:
    return _Keys(_doi(paper.doi), title_key(paper.title), frozenset([_file_key(paper.name)]))


def _claims(records: Sequence[BibRecord], papers: Sequence[PaperKeys]) -> list[tuple[int, int, int]]:
    """(strength, record index, paper index) of every record-paper pair with evidence, strongest
    (index into EVIDENCE) first, then earlier records, then earlier papers."""
    index: list[dict[str, list[int]]] = [{}, {}, {}]  # DOI / title / file name -> paper indexes
    for p, paper in enumerate(papers):
        keys = _paper_keys(paper)
        for strength, values in enumerate(((keys.doi,), (keys.title,), keys.files)):
            for value in values:
                if value:
                    index[strength].setdefault(value, []).append(p)
    claims = set()
    for r, record in enumerate(records):
        keys = _record_keys(record)
        for strength, values in enumerate(((keys.doi,), (keys.title,), keys.files)):
            for value in values:
                claims.update((strength, r, p) for p in index[strength].get(value or "", ()))
    best: dict[tuple[int, int], int] = {}
    for strength, r, p in sorted(claims):
        best.setdefault((r, p), strength)  # a pair counts once, by its strongest evidence
    return sorted((strength, r, p) for (r, p), strength in best.items())


def match_records(records: Sequence[BibRecord], papers: Sequence[PaperKeys]) -> Matches:
    """Pair records with papers, each at most once: equal DOI first, then equal title (`title_key`),
    then a record's attachment file name equal to the paper's file name (casefolded). When two
    records claim one paper, the stronger evidence wins, then the earlier record; the loser is
    named in `conflicts`. Pure: no I/O."""
    claims = _claims(records, papers)
    record_of: dict[int, tuple[int, int]] = {}  # paper index -> (record index, strength)
    paper_of: dict[int, tuple[int, int]] = {}  # record index -> (paper index, strength)
    conflicts: list[str] = []
    for strength, r, p in claims:
        origin, how = records[r].origin, EVIDENCE[strength]
        if r in paper_of:
            taken, taken_strength = paper_of[r]
            if taken_strength == strength and taken != p:
                conflicts.append(
                    f"{origin} matches both {papers[taken].name} and {papers[p].name} by {how}; "
                    f"using {papers[taken].name}"
                )
            continue
        if p in record_of:
            winner, winner_strength = record_of[p]
            conflicts.append(
                f"two records claim {papers[p].name}: {records[winner].origin} (by {EVIDENCE[winner_strength]}) "
                f"and {origin} (by {how}); using {records[winner].origin}"
            )
            continue
        record_of[p], paper_of[r] = (r, strength), (p, strength)
    by_paper = {papers[p].name: (records[r], EVIDENCE[s]) for p, (r, s) in sorted(record_of.items())}
    unmatched = tuple(record for r, record in enumerate(records) if r not in paper_of)
    return Matches(by_paper=by_paper, unmatched_records=unmatched, conflicts=tuple(conflicts))
