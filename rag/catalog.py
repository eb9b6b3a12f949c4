"""corpus/catalog.toml: metadata the user states for a paper, above every other source.

    [papers."<doc_id>"]
    title = "…"
    authors = ["郭冉", "Vaswani, Ashish"]
    year = 2025
    journal = "电子商务评论"
    doi = "10.…"

Read with tomllib; written with tomlkit so the user's comments and other entries survive an
edit from the chat's library tab. Writes go to a temporary file first and replace the old one."""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path

from .errors import CorpusError

CATALOG_NAME = "catalog.toml"
# The fields a user may state; others in a record are kept but not written from the library tab.
EDITABLE = ("title", "authors", "year", "journal", "doi", "volume", "issue", "pages", "publisher", "place", "url")


def load_catalog(corpus_dir: Path) -> dict[str, dict[str, object]]:
    """{doc_id: {field: value}} from corpus_dir/catalog.toml; {} when there is none.
    Raises CorpusError when the file is not valid TOML (naming it and the parser's message)."""
    path = corpus_dir / CATALOG_NAME
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path} is not valid TOML ({exc}); fix or remove it") from exc
    papers = data.get("papers", {})
    return {str(k): dict(v) for k, v in papers.items() if isinstance(v, dict)}


def save_catalog_entry(corpus_dir: Path, doc_id: str, fields: dict[str, object]) -> Path:
    """Set `fields` of [papers."<doc_id>"] in corpus_dir/catalog.toml (created if missing); a
    field given as None or "" is removed. Comments and other entries are kept. Returns the path.
    Raises CorpusError for an unknown field, a year that is not a number, or an unreadable file."""
    import tomlkit

    unknown = sorted(set(fields) - set(EDITABLE))
    if unknown:
        raise CorpusError(f"Unknown catalog field(s) {', '.join(unknown)}; use {', '.join(EDITABLE)}.")
    path = corpus_dir / CATALOG_NAME
    load_catalog(corpus_dir)  # refuse to rewrite a file that does not parse
    doc = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()
    papers = doc.setdefault("papers", tomlkit.table(is_super_table=True))
    entry = papers.setdefault(doc_id, tomlkit.table())
    for name, value in fields.items():
        if value in (None, "", [], ()):
            entry.pop(name, None)
            continue
        if name == "year":
            text = str(value).strip()
            if not (text.isdigit() and len(text) == 4):
                raise CorpusError(f"year={value!r} is not a year; write four digits, e.g. 2025.")
            value = int(text)
        elif name == "authors":
            value = [str(a).strip() for a in value if str(a).strip()]  # type: ignore[union-attr]
        else:
            value = str(value).strip()
        entry[name] = value
    if not entry:
        papers.pop(doc_id, None)
    fd, tmp = tempfile.mkstemp(prefix=".catalog-", suffix=".toml", dir=corpus_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(tomlkit.dumps(doc))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
