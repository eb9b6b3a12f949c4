"""Which reference-manager record describes which paper, and the paper's fields with it.

Precedence of a field: corpus/catalog.toml > the matched record (a .bib/.ris/CSL-JSON/RefWorks/
EndNote/NoteExpress file beside the papers, or the Zotero item an attachment belongs to) > what
the paper itself says (rag/ingest.py, rag/pdfmeta.py) > the file stem. Records are matched by
DOI, then normalised title, then file name (bibfile.match_records); a Zotero attachment's own
item is given, not matched."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from .bibfile import PaperKeys, bibliography_files, match_records, read_bibliography
from .errors import CorpusError
from .types import BibRecord, Paper

logger = logging.getLogger(__name__)

_TUPLES = ("authors", "keywords", "collections", "tags")


@dataclass(frozen=True)
class Records:
    """The records available to a corpus: from its bibliographic files, and per file name those
    its source fixes (a Zotero attachment's item)."""

    records: tuple[BibRecord, ...] = ()
    given: Mapping[str, BibRecord] = field(default_factory=dict)
    files: tuple[str, ...] = ()  # the bibliographic files read
    problems: tuple[str, ...] = ()


def load_records(corpus_dir: Path, given: Mapping[str, BibRecord] | None = None) -> Records:
    """Every record of the bibliographic files directly in `corpus_dir` (see bibfile.sniff); a
    file that cannot be read is one problem, not a failed build. Problems are also logged."""
    records: list[BibRecord] = []
    problems: list[str] = []
    files = []
    for path in bibliography_files(corpus_dir) if corpus_dir.is_dir() else []:
        try:
            bib = read_bibliography(path)
        except CorpusError as exc:
            problems.append(str(exc))
            continue
        files.append(path.name)
        records += bib.records
        problems += bib.problems
    for problem in problems:
        logger.warning("%s", problem)
    return Records(tuple(records), dict(given or {}), tuple(files), tuple(problems))


@dataclass(frozen=True)
class Assignment:
    """The record chosen for each paper (by file name), how, and what to report."""

    by_name: dict[str, tuple[BibRecord, str]]
    lines: tuple[str, ...]  # "x.pdf <- refs.bib:12 (DOI)", "y.txt: no record", conflicts, unmatched


def assign(available: Records, papers: Sequence[tuple[str, Paper]]) -> Assignment:
    """Match records to papers given as (file name, paper as last read). A paper whose title and
    authors came from a record before still carries that record's DOI and title, so it matches
    the same record again."""
    keys = [
        PaperKeys(name, paper.doi, paper.title if paper.title_known else None)
        for name, paper in papers
        if name not in available.given
    ]
    matches = match_records(available.records, keys)
    by_name: dict[str, tuple[BibRecord, str]] = {n: (r, "Zotero item") for n, r in available.given.items()}
    by_name.update(matches.by_paper)
    lines: list[str] = []
    if available.records:
        for name, _ in papers:
            if name in matches.by_paper:
                record, how = matches.by_paper[name]
                lines.append(f"{name} <- {record.origin} (by {how})")
            elif name not in available.given:
                lines.append(f"{name}: no record matched (metadata from the paper itself)")
        lines += matches.conflicts
        lines += [f"{r.origin} ({r.title or r.key}): matches no paper" for r in matches.unmatched_records]
    return Assignment(by_name, tuple(lines))


def fingerprint(record: BibRecord | None) -> dict[str, object] | None:
    """What the manifest records of an applied record, to see next time whether it changed."""
    if record is None:
        return None
    return {k: list(v) if isinstance(v, tuple) else v for k, v in record.fields().items()} | {"origin": record.origin}


def apply_record(paper: Paper, record: BibRecord, how: str) -> Paper:
    """The paper with the record's fields, except those catalog.toml states (they stay)."""
    sources = dict(paper.sources)
    changes: dict[str, object] = {}
    for name, value in record.fields().items():
        if sources.get(name) == "catalog.toml":
            continue
        changes[name] = tuple(str(v) for v in value) if name in _TUPLES else value  # type: ignore[union-attr]
        sources[name] = f"{record.origin} (by {how})"
    if "title" in changes:
        changes["title_known"] = True
    if "year" in changes:
        changes["year"] = int(changes["year"])  # type: ignore[call-overload]
    return replace(paper, **changes, sources=tuple(sorted(sources.items())))  # type: ignore[arg-type]
