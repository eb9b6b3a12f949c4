"""The corpus folder against the previous index: each file's document id, whether it changed
since the last build, and which files are copies of another. Only new and changed files are
read (cleaned); nothing is embedded here.

A copy is a file whose cleaned text has the fingerprint of another file's (dedupe.fingerprint:
the same words however the file was saved: CRLF, GBK, a BOM, `paper (1).txt`). It is reported
and not indexed, so one paper's passages cannot fill the top k twice over. Of a group of equal
files, the one indexed before stays the original; else the shortest name, then the first."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .dedupe import fingerprint
from .errors import CorpusError
from .ingest import corpus_files, document_ids, file_sha256, read_paper
from .progress import Progress
from .types import CleanPaper

if TYPE_CHECKING:
    from .readcache import PdfCache
    from .store import IndexData

logger = logging.getLogger(__name__)

# Statuses of a file that is indexed; "copy" marks one recorded as a copy and not read again.
INDEXED_BEFORE = ("unchanged", "updated", "kept")


@dataclass(frozen=True)
class FileEntry:
    """One file as manifest.json records it (files: name -> entry)."""

    doc_id: str
    sha256: str  # of the file's bytes: unchanged bytes are not read again
    text_sha256: str | None = None  # dedupe.fingerprint of its cleaned text; None in older indexes
    copy_of: str | None = None  # for a copy: the file it repeats (its text is not indexed)

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class CorpusFile:
    path: Path
    entry: FileEntry  # what the manifest will record
    clean: CleanPaper | None  # read this time (new or changed); None when the old chunks stay
    status: str  # "added" | "updated" | "unchanged" | "kept" (unreadable, old chunks stay) | "copy"
    name: str = ""  # unique within the corpus: the file name, or a Zotero attachment's path under storage/

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.path.name)


@dataclass(frozen=True)
class Scan:
    papers: tuple[CorpusFile, ...]  # to be indexed: one per distinct text, by file name
    copies: tuple[tuple[CorpusFile, str], ...]  # (copy, name of the file it repeats)
    skipped: tuple[str, ...]  # "name: reason", one per unreadable file
    removed: tuple[str, ...]  # indexed before, gone from the folder

    def duplicates(self) -> tuple[str, ...]:
        return tuple(f"{copy.name} is a copy of {original}" for copy, original in self.copies)

    def manifest_files(self) -> dict[str, dict[str, str]]:
        entries = {f.name: f.entry for f in self.papers}
        for copy, original in self.copies:
            entries[copy.name] = replace(copy.entry, copy_of=original)
        return {name: entries[name].to_dict() for name in sorted(entries)}


def previous_files(manifest: dict[str, Any]) -> dict[str, FileEntry]:
    """manifest["files"] as entries; an index written before ids were recorded maps name -> sha."""
    out: dict[str, FileEntry] = {}
    for name, value in manifest.get("files", {}).items():
        if isinstance(value, str):
            out[name] = FileEntry(doc_id=Path(name).stem, sha256=value)
        else:
            out[name] = FileEntry(
                str(value["doc_id"]), str(value["sha256"]), value.get("text_sha256"), value.get("copy_of")
            )
    return out


# A file with at least this many pages gets a progress bar of its own while it is read.
PAGE_BAR_MIN = 30


def scan(
    corpus_dir: Path,
    old: IndexData | None,
    catalog: dict[str, dict[str, object]],
    *,
    progress: bool,
    ocr: bool = False,
    pdf_extractor: str = "pdfplumber",
    files: Sequence[tuple[Path, str, str]] | None = None,
    pdf_cache: PdfCache | None = None,
) -> Scan:
    """`files`: (path, unique name, document id) of each paper when the corpus is not a plain
    folder (a Zotero library: names are paths under its data directory); default: the folder's
    paper files, named by file name, with document_ids. `pdf_cache`: readings of PDFs kept
    from earlier builds (rag/readcache.py)."""
    previous = previous_files(old.manifest) if old else {}
    if files is None:
        paths = corpus_files(corpus_dir)
        ids = document_ids(paths)
        _warn_ambiguous_catalog(catalog, ids)
        files = [(path, path.name, ids[path]) for path in paths]
    found: list[CorpusFile] = []
    skipped: list[str] = []
    with Progress("reading files", len(files), bar=progress, unit="file") as bar:
        for path, name, doc_id in files:
            item = _look(
                path,
                doc_id,
                previous.get(name),
                old,
                catalog,
                skipped,
                _Reader(ocr, progress, pdf_extractor, pdf_cache),
                name,
            )
            if item is not None:
                found.append(item)
            bar.update()
    papers, copies = _split_copies(found)
    for copy, original in copies:
        logger.warning(
            "%s is a copy of %s (the same text); not indexed, so its passages do not repeat", copy.name, original
        )
    readable = [
        f
        for f in (
            _read_if_needed(f, catalog, skipped, _Reader(ocr, progress, pdf_extractor, pdf_cache)) for f in papers
        )
        if f is not None
    ]
    present = {name for _, name, _ in files}
    removed = sorted(n for n, e in previous.items() if e.copy_of is None and n not in present)
    return Scan(tuple(readable), tuple(copies), tuple(skipped), tuple(removed))


def _look(
    path: Path,
    doc_id: str,
    prev: FileEntry | None,
    old: IndexData | None,
    catalog: dict[str, dict[str, object]],
    skipped: list[str],
    reader: _Reader,
    name: str,
) -> CorpusFile | None:
    """One file: reuse what the previous build knew when its bytes, id and catalog entry are
    the same; else read it. An unreadable file is warned about once and keeps its old chunks."""
    indexed = old is not None and doc_id in old.papers

    def unreadable(exc: CorpusError) -> CorpusFile | None:
        _skip(path, exc, skipped)
        if prev is not None and prev.copy_of is None and prev.doc_id == doc_id and indexed:
            return CorpusFile(path, prev, None, "kept", name)  # keep what was indexed before rather than lose it
        return None

    try:
        sha = file_sha256(path)
    except OSError as exc:
        return unreadable(_gone(name, exc))
    unchanged = False
    if prev is not None and prev.sha256 == sha and prev.doc_id == doc_id:
        if prev.copy_of and prev.text_sha256:
            return CorpusFile(path, prev, None, "copy", name)
        unchanged = old is not None and indexed and not _catalog_changed(old, doc_id, catalog)
        if unchanged and prev.text_sha256:
            return CorpusFile(path, prev, None, "unchanged", name)
    try:
        clean = reader.read(path, catalog, doc_id, name)
    except CorpusError as exc:
        return unreadable(exc)
    except OSError as exc:  # moved, deleted or unplugged between listing and reading
        return unreadable(_gone(name, exc))
    entry = FileEntry(doc_id, sha, fingerprint(clean.text))
    if unchanged:  # indexed before text fingerprints were recorded: the chunks stay, the print is new
        return CorpusFile(path, entry, None, "unchanged", name)
    return CorpusFile(path, entry, clean, "updated" if prev is not None and prev.copy_of is None else "added", name)


def _split_copies(found: list[CorpusFile]) -> tuple[list[CorpusFile], list[tuple[CorpusFile, str]]]:
    groups: dict[str, list[CorpusFile]] = {}
    for f in found:
        groups.setdefault(f.entry.text_sha256 or f"unknown:{f.name}", []).append(f)
    papers: list[CorpusFile] = []
    copies: list[tuple[CorpusFile, str]] = []
    for group in groups.values():
        group.sort(key=lambda f: (f.status not in INDEXED_BEFORE, len(f.name), f.name))
        papers.append(group[0])
        copies += [(f, group[0].name) for f in group[1:]]
    return sorted(papers, key=lambda f: f.name), sorted(copies, key=lambda c: c[0].name)


def _read_if_needed(
    f: CorpusFile, catalog: dict[str, dict[str, object]], skipped: list[str], reader: _Reader
) -> CorpusFile | None:
    """A file recorded as a copy whose original has gone (or changed) is a paper of its own now."""
    if f.status != "copy":
        return f
    try:
        clean = reader.read(f.path, catalog, f.entry.doc_id, f.name)
    except CorpusError as exc:
        _skip(f.path, exc, skipped)
        return None
    except OSError as exc:
        _skip(f.path, _gone(f.name, exc), skipped)
        return None
    entry = FileEntry(f.entry.doc_id, f.entry.sha256, fingerprint(clean.text))
    return CorpusFile(f.path, entry, clean, "added", f.name)


@dataclass
class _Reader:
    """read_paper with the build's options, and a page bar for long files (a 300-page book)."""

    ocr: bool
    bar: bool
    extractor: str = "pdfplumber"
    cache: PdfCache | None = None  # readings of PDFs kept across builds (rag/readcache.py)

    def read(self, path: Path, catalog: dict[str, dict[str, object]], doc_id: str, name: str) -> CleanPaper:
        pages: Progress | None = None

        def on_page(done: int, total: int) -> None:
            nonlocal pages
            if pages is None and (total >= PAGE_BAR_MIN or self.ocr):  # OCR takes seconds a page
                pages = Progress(f"reading {path.name}", total, bar=self.bar, unit="page")
            if pages is not None:
                pages.update(done - pages.done)

        try:
            return read_paper(
                path,
                catalog,
                doc_id=doc_id,
                ocr=self.ocr,
                progress=on_page,
                pdf_extractor=self.extractor,
                source=name,
                pdf_cache=self.cache,
            )
        finally:
            if pages is not None:
                pages.close()


def _gone(name: str, exc: OSError) -> CorpusError:
    return CorpusError(
        f"{name} could not be opened ({exc.strerror or exc}): was it moved or deleted while indexing? "
        "Run `rag index` again once the folder is settled."
    )


def _skip(path: Path, exc: CorpusError, skipped: list[str]) -> None:
    """One warning per unreadable file, naming it once (the CLI does not repeat it)."""
    reason = str(exc) if path.name in str(exc) else f"{path.name}: {exc}"
    logger.warning("skipped: %s", reason)
    skipped.append(reason)


def _catalog_changed(old: IndexData, doc_id: str, catalog: dict[str, dict[str, object]]) -> bool:
    return old.manifest.get("catalog", {}).get(doc_id, {}) != catalog.get(doc_id, {})


def _warn_ambiguous_catalog(catalog: dict[str, dict[str, object]], ids: dict[Path, str]) -> None:
    """A catalog entry under a stem that two files share belongs to neither: say which keys to use."""
    in_use = set(ids.values())
    for key in catalog:
        names = sorted(p.name for p in ids if p.stem == key)
        if key not in in_use and len(names) > 1:
            logger.warning(
                'corpus/catalog.toml has [papers."%s"], but %s share that stem and are keyed by file name; '
                'move the entry under the name of the file it describes, e.g. [papers."%s"]',
                key,
                " and ".join(names),
                names[0],
            )
