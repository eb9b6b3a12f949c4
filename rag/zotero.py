"""A local Zotero library (its data directory) -> the PDF attachments it holds, each with the
metadata of its item as a BibRecord.

Zotero keeps everything in `<data dir>/zotero.sqlite` (tables: items, itemData/itemDataValues,
creators/itemCreators, itemAttachments, collections/collectionItems, tags/itemTags, deletedItems,
version) and imported files in `<data dir>/storage/<attachment key>/`. The user's database is
never opened for writing: it is copied into a private temporary folder first and the copy is read.

    library = read_zotero(Path("~/Zotero").expanduser(), collection="Thesis")
    for attachment in library.attachments:   # ZoteroAttachment(path, name, doc_id, record)
        ...
    library.missing                          # sentences naming attachments whose file is absent
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sqlite3
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import CorpusError
from .text import DOI, HAN
from .types import BibRecord

logger = logging.getLogger(__name__)

DATABASE_NAME = "zotero.sqlite"
WAL_SUFFIX = "-wal"
STORAGE_DIR = "storage"
SQLITE_HEADER = b"SQLite format 3\x00"
WAL_MODE = 2  # byte 18 of an SQLite header: 1 = rollback journal, 2 = write-ahead log
WHERE_TO_FIND = "shown in Zotero → Settings → Advanced → Files and Folders"

# How long to wait for Zotero to finish a write before calling the database locked.
LOCK_WAIT_SECONDS = 1.0

# The 'userdata' row of the version table: Zotero itself refuses to upgrade anything older than 76
# (Zotero 2.1); 129 is the newest this reader was checked against (newer ones are read, with a note).
MIN_USERDATA_VERSION = 76
TESTED_USERDATA_VERSION = 129

REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "version": ("schema", "version"),
    "items": ("itemID", "itemTypeID", "dateAdded", "key"),
    "itemTypes": ("itemTypeID", "typeName"),
    "fields": ("fieldID", "fieldName"),
    "itemData": ("itemID", "fieldID", "valueID"),
    "itemDataValues": ("valueID", "value"),
    "creators": ("creatorID", "firstName", "lastName", "fieldMode"),
    "itemCreators": ("itemID", "creatorID", "creatorTypeID", "orderIndex"),
    "creatorTypes": ("creatorTypeID", "creatorType"),
    "itemAttachments": ("itemID", "parentItemID", "linkMode", "contentType", "path"),
    "collections": ("collectionID", "collectionName", "parentCollectionID", "key"),
    "collectionItems": ("collectionID", "itemID"),
    "tags": ("tagID", "name"),
    "itemTags": ("itemID", "tagID"),
    "deletedItems": ("itemID",),
}

# itemAttachments.linkMode (Zotero.Attachments.LINK_MODE_*); linked URLs (3) have no file.
IMPORTED_FILE, IMPORTED_URL, LINKED_FILE = 0, 1, 2
FILE_LINK_MODES = (IMPORTED_FILE, IMPORTED_URL, LINKED_FILE)
STORAGE_PREFIX = "storage:"  # imported files: "storage:<file name>" in storage/<attachment key>/
BASE_PREFIX = "attachments:"  # linked files relative to the base directory set in the profile
PDF_CONTENT_TYPE = "application/pdf"
PDF_SUFFIX = ".pdf"
NOT_REGULAR = frozenset({"attachment", "note", "annotation"})

# Creator types taken as a record's authors, the first that the item has (editors only when the
# item names no author).
AUTHOR_TYPES = ("author", "inventor", "editor")
SINGLE_FIELD = 1  # creators.fieldMode: the whole name in lastName (organisations)
CJK = re.compile(r"[\u3040-\u30ff\uac00-\ud7af]")  # kana and hangul; Han comes from rag.text

CSL_TYPES = {
    "journalArticle": "article-journal",
    "book": "book",
    "bookSection": "chapter",
    "conferencePaper": "paper-conference",
    "thesis": "thesis",
    "report": "report",
    "preprint": "article",
    "dataset": "dataset",
    "webpage": "webpage",
    "magazineArticle": "article-magazine",
    "newspaperArticle": "article-newspaper",
    "patent": "patent",
    "standard": "standard",
}
OTHER_CSL_TYPE = "document"
CONTAINER_FIELDS = ("publicationTitle", "proceedingsTitle", "bookTitle", "websiteTitle", "encyclopediaTitle")
PUBLISHER_FIELDS = ("publisher", "university", "institution")
EXTRA_DOI = re.compile(r"^\s*DOI:\s*(\S+)", re.I | re.M)
DATE_YEAR = re.compile(r"^(\d{4})-")

# Where Zotero keeps its profiles (prefs.js holds the base directory of linked files).
PROFILE_ROOTS = (
    ".zotero/zotero",  # Linux
    ".var/app/org.zotero.Zotero/.zotero/zotero",  # Linux, Flatpak
    "Library/Application Support/Zotero/Profiles",  # macOS
)
PREF = re.compile(r'user_pref\(\s*"(extensions\.zotero\.[A-Za-z.]+)"\s*,\s*("(?:[^"\\]|\\.)*")\s*\)\s*;')


@dataclass(frozen=True, slots=True)
class ZoteroAttachment:
    """One PDF of the library with the metadata of the item it belongs to."""

    path: Path  # absolute path of the PDF
    name: str  # unique file name: the path relative to the data directory, "storage/ABCD2345/x.pdf"
    doc_id: str  # the item key; "<item key>-<attachment key>" for an item's second PDF
    record: BibRecord


@dataclass(frozen=True, slots=True)
class ZoteroLibrary:
    """What `read_zotero` found: the PDFs to read and sentences about those it had to leave out."""

    attachments: tuple[ZoteroAttachment, ...]
    missing: tuple[str, ...] = ()  # attachments whose file is absent, one sentence each
    problems: tuple[str, ...] = ()  # anything else left out, one sentence each
    schema_version: int = 0  # the 'userdata' schema version of zotero.sqlite


@dataclass(frozen=True, slots=True)
class _Attachment:
    """A row of itemAttachments with what is needed to find its file."""

    item_id: int
    key: str
    parent_id: int | None
    link_mode: int
    content_type: str
    stored_path: str
    date_added: str


def read_zotero(data_dir: Path, *, collection: str | None = None, base_dir: Path | None = None) -> ZoteroLibrary:
    """The PDF attachments of a Zotero library, each with its item's metadata.

    `data_dir` is Zotero's data directory (the folder with zotero.sqlite and storage/). Only PDFs of
    regular items (and standalone PDFs) that are not in the trash are returned, sorted by name;
    `collection` (a name, "Parent/Child" path or key) keeps those of the items in that collection
    and its subcollections. Linked files stored relative to Zotero's base directory are resolved
    against `base_dir`, else the base directory set in the Zotero profile whose data directory is
    `data_dir` (prefs.js).

    Raises CorpusError when `data_dir` holds no zotero.sqlite, the file is not an SQLite database
    or is damaged, the database is locked by a running Zotero, its schema is not one this reader
    knows, or `collection` names no collection of the library.
    """
    data_dir = Path(data_dir).expanduser()
    if data_dir.name == DATABASE_NAME and data_dir.is_file():
        data_dir = data_dir.parent
    database = data_dir / DATABASE_NAME
    if not database.is_file():
        raise CorpusError(
            f"{data_dir} is not a Zotero data directory (it has no {DATABASE_NAME}); it is the folder with "
            f"{DATABASE_NAME} and {STORAGE_DIR}/, {WHERE_TO_FIND}"
        )
    _check_header(database)
    with _private_copy(database) as copy, closing(_open_read_only(copy)) as conn:
        try:
            version = _check_schema(conn, database)
            return _read_library(conn, data_dir.resolve(), version, collection, base_dir)
        except sqlite3.DatabaseError as e:
            raise _damaged(database, e) from e


def _check_header(database: Path) -> None:
    with database.open("rb") as f:
        head = f.read(len(SQLITE_HEADER))
    if not head:
        raise CorpusError(f"{database} is empty; restore it from Zotero's backup {database.name}.bak")
    if head != SQLITE_HEADER:
        raise CorpusError(
            f"{database} is not an SQLite database (it starts with {head[:8]!r}); point at Zotero's data "
            f"directory, {WHERE_TO_FIND}"
        )


def _damaged(database: Path, error: Exception) -> CorpusError:
    return CorpusError(
        f"{database} is damaged ({error}); close Zotero and retry, or let Zotero repair it "
        f"(Settings → Advanced → Files and Folders → Check Database Integrity) or restore {database.name}.bak"
    )


def _locked(database: Path) -> CorpusError:
    return CorpusError(
        f"{database} is locked by another program (Zotero is running and writing to it); close Zotero, or retry "
        "in a moment"
    )


@contextmanager
def _private_copy(database: Path) -> Iterator[Path]:
    """A consistent copy of `database` in a temporary folder, removed on exit.

    SQLite's locks are advisory (fcntl) locks on Linux and macOS: a plain file copy is never blocked
    by them, so it could copy a transaction half written. A database in rollback-journal mode is
    therefore copied through SQLite's backup API from a read-only connection: that holds a shared
    lock for the copy, and a writer that holds the lock longer than LOCK_WAIT_SECONDS (a running
    Zotero keeps it, locking_mode=EXCLUSIVE) makes it fail with "database is locked", which is
    reported as such. A database in WAL mode (Zotero 8) is copied as files, the database and its
    -wal: read-only SQLite access to it would create -shm/-wal files in the user's folder, and a
    copy of a -wal keeps only whole transactions (its frames carry checksums), so the copy is
    consistent even while Zotero runs; it is checked with `PRAGMA quick_check` after.
    """
    folder = Path(tempfile.mkdtemp(prefix="rag-zotero-"))
    copy = folder / DATABASE_NAME
    try:
        if _journal_mode(database) == WAL_MODE:
            _copy_files(database, copy)
        else:
            _backup(database, copy)
        yield copy
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _journal_mode(database: Path) -> int:
    with database.open("rb") as f:
        header = f.read(20)
    return header[18] if len(header) > 18 else 0


def _copy_files(database: Path, copy: Path) -> None:
    try:
        shutil.copyfile(database, copy)
        wal = database.with_name(database.name + WAL_SUFFIX)
        if wal.is_file():
            shutil.copyfile(wal, copy.with_name(copy.name + WAL_SUFFIX))
    except PermissionError as e:  # Windows: Zotero opens its database for itself alone
        raise _locked(database) from e
    with closing(sqlite3.connect(copy)) as conn:
        try:
            verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as e:
            raise _damaged(database, e) from e
    if verdict != "ok":
        raise _damaged(database, verdict)


def _backup(database: Path, copy: Path) -> None:
    try:
        uri = _read_only_uri(database)
        with closing(sqlite3.connect(uri, uri=True, timeout=LOCK_WAIT_SECONDS, isolation_level=None)) as source:
            # Take the shared lock first: Python's backup() retries a busy source forever, while a
            # read waits LOCK_WAIT_SECONDS and then fails; held, it keeps writers out until the copy is made.
            source.execute("BEGIN")
            source.execute("SELECT count(*) FROM sqlite_master").fetchone()
            with closing(sqlite3.connect(copy)) as target:
                source.backup(target)
            source.execute("COMMIT")
    except sqlite3.OperationalError as e:
        if "locked" in str(e) or "busy" in str(e):
            raise _locked(database) from e
        raise _damaged(database, e) from e
    except sqlite3.DatabaseError as e:
        raise _damaged(database, e) from e


def _read_only_uri(path: Path) -> str:
    from urllib.parse import quote

    return f"file:{quote(str(path.resolve()))}?mode=ro"


def _open_read_only(copy: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(_read_only_uri(copy), uri=True)
    conn.row_factory = sqlite3.Row
    return conn


def _check_schema(conn: sqlite3.Connection, database: Path) -> int:
    """The userdata schema version, after checking the tables and columns this reader uses."""
    supported = f"this reader supports {MIN_USERDATA_VERSION} or later (Zotero 2.1 and newer)"
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    row = (
        conn.execute("SELECT version FROM version WHERE schema = 'userdata'").fetchone()
        if "version" in tables
        else None
    )
    if row is None:
        raise CorpusError(
            f"{database} states no Zotero schema version (no 'userdata' row in its version table); {supported}. "
            "Open it once in Zotero to upgrade it, or point at another data directory"
        )
    version = int(row[0])
    if version < MIN_USERDATA_VERSION:
        raise CorpusError(
            f"{database} has Zotero schema version {version}; {supported}. Open it once in a current Zotero "
            "to upgrade it"
        )
    lacking = []
    for table, columns in REQUIRED_COLUMNS.items():
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")} if table in tables else set()
        lacking += [f"{table}.{c}" for c in columns if c not in have]
    if lacking:
        raise CorpusError(
            f"{database} has Zotero schema version {version} but lacks {', '.join(lacking)}; {supported} "
            f"with Zotero's tables intact. Let Zotero check it (Settings → Advanced → Files and Folders → "
            "Check Database Integrity)"
        )
    if version > TESTED_USERDATA_VERSION:
        logger.info(
            "%s: Zotero schema version %d is newer than %d, the newest checked",
            database,
            version,
            TESTED_USERDATA_VERSION,
        )
    return version


def _read_library(
    conn: sqlite3.Connection, data_dir: Path, version: int, collection: str | None, base_dir: Path | None
) -> ZoteroLibrary:
    items = _items(conn)  # itemID -> (key, type name, dateAdded)
    tree = _collections(conn)
    holders = _collection_items(conn, tree)
    allowed = _restrict(conn, tree, collection) if collection is not None else None
    pdfs = _pdfs_by_owner(conn, items, allowed)
    fields = _fields(conn)
    creators = _creators(conn)
    tags = _tags(conn)

    base = base_dir if base_dir is not None else _base_directory(data_dir) if _uses_base(pdfs) else None
    found: list[ZoteroAttachment] = []
    missing: list[str] = []
    problems: list[str] = []
    seen: dict[Path, tuple[str, str]] = {}  # resolved file -> (its name, the item it was kept for)
    for owner in sorted(pdfs, key=lambda i: (items[i][2], i)):
        key, type_name, _ = items[owner]
        record = _record(
            key,
            type_name,
            fields.get(owner, {}),
            creators.get(owner, []),
            tags.get(owner, []),
            [tree.paths[c] for c in holders.get(owner, ())],
        )
        label = f"item {record.title!r}" if record.title else f"item {key}"
        for n, att in enumerate(sorted(pdfs[owner], key=lambda a: (a.date_added, a.item_id))):
            path, name, problem = _locate(att, data_dir, base)
            if path is None:
                problems.append(f"{name} ({label}): {problem}")
                continue
            if not path.is_file():
                missing.append(f"{name} ({label}): {problem}")
                continue
            real = path.resolve()
            if real in seen:
                first_name, first_label = seen[real]
                problems.append(
                    f"{name} ({label}) is the same file as {first_name} ({first_label}); read once, for the first; "
                    "remove one of the two attachments in Zotero"
                )
                continue
            seen[real] = (name, label)
            doc_id = key if n == 0 else f"{key}-{att.key}"
            found.append(ZoteroAttachment(path, name, doc_id, _with_files(record, name)))
    missing.sort()
    problems.sort()
    for line in missing + problems:
        logger.warning("skipped: %s", line)
    found.sort(key=lambda a: a.name)
    return ZoteroLibrary(tuple(found), tuple(missing), tuple(problems), version)


def _pdfs_by_owner(
    conn: sqlite3.Connection, items: dict[int, tuple[str, str, str]], allowed: set[int] | None
) -> dict[int, list[_Attachment]]:
    """The PDF attachments not in the trash, by the item they belong to (their parent, or themselves
    when standalone); only regular items' and standalone ones, only owners in `allowed` when given."""
    gone = _ids(conn, "SELECT itemID FROM deletedItems")
    if _has_table(conn, "feedItems"):  # items of RSS feeds are not part of the library
        gone |= _ids(conn, "SELECT itemID FROM feedItems")
    pdfs: dict[int, list[_Attachment]] = defaultdict(list)
    for att in _attachments(conn):
        owner = att.parent_id if att.parent_id is not None else att.item_id
        if att.item_id in gone or owner in gone or owner not in items or not _is_pdf(att):
            continue
        if att.parent_id is not None and items[owner][1] in NOT_REGULAR:
            continue
        if allowed is None or owner in allowed:
            pdfs[owner].append(att)
    return pdfs


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def _names_table(conn: sqlite3.Connection, combined: str, plain: str) -> str:
    """Zotero fills `...Combined` (built-in plus custom types/fields) at startup; a database written by
    another tool may have only the plain table."""
    if _has_table(conn, combined) and conn.execute(f"SELECT 1 FROM {combined} LIMIT 1").fetchone():
        return combined
    return plain


def _ids(conn: sqlite3.Connection, sql: str) -> set[int]:
    return {row[0] for row in conn.execute(sql)}


def _items(conn: sqlite3.Connection) -> dict[int, tuple[str, str, str]]:
    types = _names_table(conn, "itemTypesCombined", "itemTypes")
    sql = f"SELECT i.itemID, i.key, t.typeName, i.dateAdded FROM items i LEFT JOIN {types} t USING (itemTypeID)"
    return {r[0]: (r[1], r[2] or "", str(r[3] or "")) for r in conn.execute(sql)}


def _fields(conn: sqlite3.Connection) -> dict[int, dict[str, str]]:
    names = _names_table(conn, "fieldsCombined", "fields")
    sql = (
        f"SELECT d.itemID, f.fieldName, v.value FROM itemData d JOIN {names} f USING (fieldID) "
        "JOIN itemDataValues v USING (valueID)"
    )
    out: dict[int, dict[str, str]] = defaultdict(dict)
    for item_id, name, value in conn.execute(sql):
        if value is not None and str(value).strip():
            out[item_id][name] = str(value).strip()
    return out


def _creators(conn: sqlite3.Connection) -> dict[int, list[tuple[str, str]]]:
    """itemID -> [(creator type, name as a record writes it)] in Zotero's order."""
    sql = (
        "SELECT ic.itemID, ct.creatorType, c.firstName, c.lastName, c.fieldMode FROM itemCreators ic "
        "JOIN creators c USING (creatorID) JOIN creatorTypes ct USING (creatorTypeID) ORDER BY ic.itemID, ic.orderIndex"
    )
    out: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for item_id, creator_type, first, last, mode in conn.execute(sql):
        name = _name(first or "", last or "", mode)
        if name:
            out[item_id].append((creator_type, name))
    return out


def _name(first: str, last: str, mode: int | None) -> str:
    """'Family, Given' for Latin-script names; CJK names and single-field names as written."""
    first, last = first.strip(), last.strip()
    if mode == SINGLE_FIELD or not first:
        return last or first
    if not last:
        return first
    if HAN.search(last + first) or CJK.search(last + first):
        return last + first
    return f"{last}, {first}"


def _tags(conn: sqlite3.Connection) -> dict[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    for item_id, name in conn.execute("SELECT it.itemID, t.name FROM itemTags it JOIN tags t USING (tagID)"):
        if name and name.strip():
            out[item_id].append(name.strip())
    return {i: sorted(set(names), key=str.casefold) for i, names in out.items()}


@dataclass(frozen=True, slots=True)
class _Tree:
    """The library's collections (those not in the trash)."""

    paths: dict[int, str]  # collectionID -> "Parent/Child"
    keys: dict[int, str]
    children: dict[int, tuple[int, ...]]


def _collections(conn: sqlite3.Connection) -> _Tree:
    rows = {
        r[0]: (r[1], r[2], r[3])
        for r in conn.execute("SELECT collectionID, collectionName, parentCollectionID, key FROM collections")
    }
    if _has_table(conn, "deletedCollections"):
        for gone in _ids(conn, "SELECT collectionID FROM deletedCollections"):
            rows.pop(gone, None)
    paths: dict[int, str] = {}

    def path(cid: int, depth: int = 0) -> str:
        name, parent, _ = rows[cid]
        if parent not in rows or depth > len(rows):  # a cycle would be damage; stop at the top
            return name
        return f"{path(parent, depth + 1)}/{name}"

    children: dict[int, list[int]] = defaultdict(list)
    for cid, (_, parent, _) in rows.items():
        paths[cid] = path(cid)
        if parent in rows:
            children[parent].append(cid)
    return _Tree(paths, {cid: row[2] for cid, row in rows.items()}, {c: tuple(k) for c, k in children.items()})


def _collection_items(conn: sqlite3.Connection, tree: _Tree) -> dict[int, list[int]]:
    out: dict[int, list[int]] = defaultdict(list)
    for cid, item_id in conn.execute("SELECT collectionID, itemID FROM collectionItems"):
        if cid in tree.paths:
            out[item_id].append(cid)
    return {i: sorted(cids, key=lambda c: tree.paths[c].casefold()) for i, cids in out.items()}


def _restrict(conn: sqlite3.Connection, tree: _Tree, collection: str) -> set[int]:
    """The items in the collection named `collection` (name, path or key) and its subcollections."""
    wanted = collection.strip().strip("/").casefold()
    roots = [
        c
        for c, p in tree.paths.items()
        if wanted in (p.casefold(), p.rsplit("/", 1)[-1].casefold(), tree.keys[c].casefold())
    ]
    if not roots:
        names = ", ".join(sorted(tree.paths.values(), key=str.casefold)) or "none"
        raise CorpusError(f"No Zotero collection is named {collection!r}; the library has: {names}")
    chosen: set[int] = set()
    stack = list(roots)
    while stack:
        cid = stack.pop()
        if cid not in chosen:
            chosen.add(cid)
            stack.extend(tree.children.get(cid, ()))
    marks = ",".join("?" * len(chosen))
    return _ids_args(conn, f"SELECT itemID FROM collectionItems WHERE collectionID IN ({marks})", sorted(chosen))


def _ids_args(conn: sqlite3.Connection, sql: str, args: Iterable[int]) -> set[int]:
    return {row[0] for row in conn.execute(sql, tuple(args))}


def _attachments(conn: sqlite3.Connection) -> list[_Attachment]:
    sql = (
        "SELECT a.itemID, i.key, a.parentItemID, a.linkMode, a.contentType, a.path, i.dateAdded "
        "FROM itemAttachments a JOIN items i USING (itemID)"
    )
    return [
        _Attachment(r[0], r[1], r[2], r[3] if r[3] is not None else -1, r[4] or "", r[5] or "", str(r[6] or ""))
        for r in conn.execute(sql)
    ]


def _is_pdf(att: _Attachment) -> bool:
    if att.link_mode not in FILE_LINK_MODES:
        return False
    return att.content_type.lower() == PDF_CONTENT_TYPE or att.stored_path.lower().endswith(PDF_SUFFIX)


def _uses_base(pdfs: dict[int, list[_Attachment]]) -> bool:
    return any(a.stored_path.startswith(BASE_PREFIX) for atts in pdfs.values() for a in atts)


def _locate(att: _Attachment, data_dir: Path, base: Path | None) -> tuple[Path | None, str, str]:
    """(file or None, its name for reports and the corpus, what is wrong when it is absent)."""
    stored = att.stored_path
    if att.link_mode != LINKED_FILE:
        file_name = stored.removeprefix(STORAGE_PREFIX)
        name = f"{STORAGE_DIR}/{att.key}/{file_name}"
        if not file_name:
            return None, name, "Zotero records no file name for it; re-attach the PDF in Zotero"
        return data_dir / STORAGE_DIR / att.key / file_name, name, "file not found; sync or re-download it in Zotero"
    relink = "linked file not found; move it back or relink it in Zotero (Show File → Locate)"
    if stored.startswith(BASE_PREFIX):
        relative = stored.removeprefix(BASE_PREFIX)
        if base is None:
            return (
                None,
                stored,
                (
                    "a linked file relative to Zotero's base directory, which no Zotero profile here states; pass "
                    "base_dir (Zotero → Settings → Advanced → Files and Folders → Linked Attachment Base Directory)"
                ),
            )
        path = base / relative
    else:
        path = Path(stored)
    if not path.is_absolute():
        return None, stored, "a linked file with a relative path; relink it in Zotero"
    try:
        name = path.resolve().relative_to(data_dir).as_posix()
    except ValueError:
        name = path.as_posix()
    return path, name, relink


def _record(
    key: str,
    type_name: str,
    fields: dict[str, str],
    creators: list[tuple[str, str]],
    tags: list[str],
    collections: list[str],
) -> BibRecord:
    authors: list[str] = []
    for wanted in AUTHOR_TYPES:
        authors = [name for kind, name in creators if kind == wanted]
        if authors:
            break
    return BibRecord(
        origin=f"{DATABASE_NAME} item {key}",
        key=key,
        item_type=CSL_TYPES.get(type_name, OTHER_CSL_TYPE),
        title=fields.get("title"),
        authors=tuple(authors),
        year=_year(fields.get("date")),
        container=_first(fields, CONTAINER_FIELDS),
        volume=fields.get("volume"),
        issue=fields.get("issue"),
        pages=fields.get("pages"),
        publisher=_first(fields, PUBLISHER_FIELDS),
        place=fields.get("place"),
        doi=_doi(fields),
        url=fields.get("url"),
        language=fields.get("language"),
        abstract=fields.get("abstractNote"),
        keywords=tuple(tags),
        collections=tuple(collections),
        tags=tuple(tags),
    )


def _with_files(record: BibRecord, name: str) -> BibRecord:
    return replace(record, files=(name,))


def _first(fields: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((fields[n] for n in names if n in fields), None)


def _year(date: str | None) -> int | None:
    """Zotero stores dates as 'YYYY-MM-DD original text' ('2017-00-00 2017'); 0000 is no year."""
    match = DATE_YEAR.match(date or "")
    if match is None or match.group(1) == "0000":
        return None
    return int(match.group(1))


def _doi(fields: dict[str, str]) -> str | None:
    candidates = [fields.get("DOI", "")] + EXTRA_DOI.findall(fields.get("extra", ""))
    for text in candidates:
        match = DOI.search(text)
        if match:
            return match.group(1).rstrip(".").lower()
    return None


def _base_directory(data_dir: Path) -> Path | None:
    """The base directory of linked files in the Zotero profile whose data directory is `data_dir`."""
    for prefs in _profile_prefs():
        values = _read_prefs(prefs)
        configured = values.get("extensions.zotero.dataDir") or str(Path.home() / "Zotero")
        base = values.get("extensions.zotero.baseAttachmentPath")
        if base and Path(configured).expanduser().resolve() == data_dir:
            logger.debug("base directory of linked files: %s (from %s)", base, prefs)
            return Path(base)
    return None


def _profile_prefs() -> list[Path]:
    roots = [Path.home() / root for root in PROFILE_ROOTS]
    if os.environ.get("APPDATA"):  # Windows
        roots.append(Path(os.environ["APPDATA"]) / "Zotero" / "Zotero" / "Profiles")
    return sorted(p for root in roots if root.is_dir() for p in root.glob("*/prefs.js"))


def _read_prefs(prefs: Path) -> dict[str, str]:
    """The Zotero settings of a Firefox-style prefs.js: user_pref("extensions.zotero.x", "value");"""
    try:
        text = prefs.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        logger.debug("cannot read %s: %s", prefs, e)
        return {}
    out = {}
    for name, literal in PREF.findall(text):
        try:
            out[name] = json.loads(literal)
        except json.JSONDecodeError:
            continue
    return out
