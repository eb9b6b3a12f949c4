"""Build small Zotero data directories for tests: a zotero.sqlite with a faithful subset of Zotero's
schema (table and column names of resource/schema/userdata.sql) and storage/<key>/ folders.

    db = build_zotero(tmp_path / "Zotero", [
        {"key": "ATTN2345", "type": "conferencePaper",
         "fields": {"title": "Attention Is All You Need", "date": "2017-00-00 2017"},
         "creators": [("author", "Vaswani", "Ashish"), ("author", "World Health Organization")],
         "tags": ["attention"], "collections": ["Machine Learning/Transformers"],
         "attachments": [{"key": "PDF23456", "file": "Vaswani - 2017.pdf", "pdf": some_pdf}]},
    ])

An item: key, type (Zotero type name: journalArticle, note, attachment, …), fields (Zotero field
names; "date" as Zotero stores it, "YYYY-MM-DD original"), creators ((type, last, first) or
(type, single-field name)), tags, collections ("Parent/Child" paths, made as needed), deleted,
attachments (child attachment dicts). An attachment dict: key, file (name in storage/<key>/),
pdf (a file to copy there; none: the file is missing), content_type (default application/pdf),
link ("imported" (default) or "linked" with path: absolute or "attachments:<relative>"), title.
An item of type "attachment" is a standalone attachment: its attachment keys sit in the item.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

USERDATA_VERSION = 129  # the userdata version of Zotero's schema these tables follow
PDF = "application/pdf"
LINK_MODES = {"imported": 0, "imported_url": 1, "linked": 2}
CREATOR_TYPES = ("author", "contributor", "editor", "translator", "seriesEditor", "bookAuthor", "inventor")
ITEM_TYPES = (
    "annotation", "attachment", "note", "book", "bookSection", "journalArticle", "magazineArticle",
    "newspaperArticle", "thesis", "report", "conferencePaper", "preprint", "dataset", "webpage",
    "patent", "standard", "document", "presentation",
)  # fmt: skip

SCHEMA = """
CREATE TABLE version (schema TEXT PRIMARY KEY, version INT NOT NULL);
CREATE TABLE settings (setting TEXT, key TEXT, value, PRIMARY KEY (setting, key));
CREATE TABLE libraries (libraryID INTEGER PRIMARY KEY, type TEXT NOT NULL, editable INT NOT NULL,
    filesEditable INT NOT NULL, version INT NOT NULL DEFAULT 0, storageVersion INT NOT NULL DEFAULT 0,
    lastSync INT NOT NULL DEFAULT 0, archived INT NOT NULL DEFAULT 0);
CREATE TABLE itemTypes (itemTypeID INTEGER PRIMARY KEY, typeName TEXT, templateItemTypeID INT, display INT DEFAULT 1);
CREATE TABLE fields (fieldID INTEGER PRIMARY KEY, fieldName TEXT, fieldFormatID INT);
CREATE TABLE creatorTypes (creatorTypeID INTEGER PRIMARY KEY, creatorType TEXT);
CREATE TABLE items (itemID INTEGER PRIMARY KEY, itemTypeID INT NOT NULL,
    dateAdded TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, dateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    clientDateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, libraryID INT NOT NULL, key TEXT NOT NULL,
    version INT NOT NULL DEFAULT 0, clientVersion INT NOT NULL DEFAULT 0, synced INT NOT NULL DEFAULT 0,
    UNIQUE (libraryID, key));
CREATE TABLE itemDataValues (valueID INTEGER PRIMARY KEY, value UNIQUE, valueNormalized TEXT);
CREATE TABLE itemData (itemID INT, fieldID INT, valueID, PRIMARY KEY (itemID, fieldID));
CREATE TABLE itemNotes (itemID INTEGER PRIMARY KEY, parentItemID INT, note TEXT, title TEXT);
CREATE TABLE itemAttachments (itemID INTEGER PRIMARY KEY, parentItemID INT, linkMode INT, contentType TEXT,
    charsetID INT, path TEXT, syncState INT DEFAULT 0, storageModTime INT, storageHash TEXT,
    lastProcessedModificationTime INT, lastRead INT);
CREATE TABLE tags (tagID INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, nameNormalized TEXT);
CREATE TABLE itemTags (itemID INT NOT NULL, tagID INT NOT NULL, type INT NOT NULL, PRIMARY KEY (itemID, tagID));
CREATE TABLE creators (creatorID INTEGER PRIMARY KEY, firstName TEXT, lastName TEXT, fieldMode INT,
    firstNameNormalized TEXT, lastNameNormalized TEXT, UNIQUE (lastName, firstName, fieldMode));
CREATE TABLE itemCreators (itemID INT NOT NULL, creatorID INT NOT NULL, creatorTypeID INT NOT NULL DEFAULT 1,
    orderIndex INT NOT NULL DEFAULT 0, PRIMARY KEY (itemID, creatorID, creatorTypeID, orderIndex),
    UNIQUE (itemID, orderIndex));
CREATE TABLE collections (collectionID INTEGER PRIMARY KEY, collectionName TEXT NOT NULL,
    parentCollectionID INT DEFAULT NULL, clientDateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    libraryID INT NOT NULL, key TEXT NOT NULL, version INT NOT NULL DEFAULT 0, clientVersion INT NOT NULL DEFAULT 0,
    synced INT NOT NULL DEFAULT 0, UNIQUE (libraryID, key));
CREATE TABLE collectionItems (collectionID INT NOT NULL, itemID INT NOT NULL, orderIndex INT NOT NULL DEFAULT 0,
    PRIMARY KEY (collectionID, itemID));
CREATE TABLE deletedItems (itemID INTEGER PRIMARY KEY, dateDeleted DEFAULT CURRENT_TIMESTAMP NOT NULL);
CREATE TABLE deletedCollections (collectionID INTEGER PRIMARY KEY, dateDeleted DEFAULT CURRENT_TIMESTAMP NOT NULL);
"""

KEY_CHARS = "23456789ABCDEFGHIJKLMNPQRSTUVWXYZ"  # the alphabet of Zotero keys


def build_zotero(data_dir: Path, items: list[dict[str, Any]], *, userdata_version: int = USERDATA_VERSION) -> Path:
    """Create `data_dir`/zotero.sqlite holding `items` (see the module docstring) and storage/<key>/
    with the PDFs they name; returns the database path."""
    data_dir.mkdir(parents=True, exist_ok=True)
    database = data_dir / "zotero.sqlite"
    database.unlink(missing_ok=True)
    with sqlite3.connect(database) as conn:
        _Builder(conn, data_dir, userdata_version).build(items)
    conn.close()
    return database


class _Builder:
    def __init__(self, conn: sqlite3.Connection, data_dir: Path, version: int) -> None:
        self.conn, self.data_dir = conn, data_dir
        conn.executescript(SCHEMA)
        conn.execute("INSERT INTO version VALUES ('userdata', ?)", (version,))
        conn.execute("INSERT INTO version VALUES ('system', 32)")
        conn.execute("INSERT INTO settings VALUES ('client', 'lastVersion', '7.0.0')")
        conn.execute("INSERT INTO libraries (libraryID, type, editable, filesEditable) VALUES (1, 'user', 1, 1)")
        conn.executemany("INSERT INTO itemTypes (itemTypeID, typeName) VALUES (?, ?)", enumerate(ITEM_TYPES, 1))
        conn.executemany("INSERT INTO creatorTypes VALUES (?, ?)", enumerate(CREATOR_TYPES, 1))
        self.types = {name: i for i, name in enumerate(ITEM_TYPES, 1)}
        self.creator_types = {name: i for i, name in enumerate(CREATOR_TYPES, 1)}
        self.fields: dict[str, int] = {}
        self.collections: dict[str, int] = {}
        self.clock = 0

    def build(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            item_id = self.item(item)
            if item["type"] == "attachment":
                self.attachment(item, item_id, None)
            for att in item.get("attachments", ()):
                self.attachment(att, self.item({"type": "attachment", **att}), item_id)
            if item["type"] == "note":
                self.conn.execute("INSERT INTO itemNotes VALUES (?, NULL, ?, ?)", (item_id, item.get("note", ""), ""))

    def item(self, item: dict[str, Any]) -> int:
        self.clock += 1  # dateAdded in the order given, so "first PDF" is well defined
        added = f"2024-01-01 00:{self.clock // 60:02d}:{self.clock % 60:02d}"
        cur = self.conn.execute(
            "INSERT INTO items (itemTypeID, dateAdded, libraryID, key) VALUES (?, ?, 1, ?)",
            (self.types[item["type"]], added, item["key"]),
        )
        item_id = int(cur.lastrowid or 0)
        fields = dict(item.get("fields", {}))
        if item["type"] == "attachment" and "title" in item:
            fields.setdefault("title", item["title"])
        for name, value in fields.items():
            self.value(item_id, name, value)
        for n, creator in enumerate(item.get("creators", ())):
            self.creator(item_id, n, creator)
        for tag in item.get("tags", ()):
            tag_id = self.row("tags", "tagID", "name", tag)
            self.conn.execute("INSERT INTO itemTags VALUES (?, ?, 0)", (item_id, tag_id))
        for path in item.get("collections", ()):
            self.conn.execute("INSERT INTO collectionItems VALUES (?, ?, 0)", (self.collection(path), item_id))
        if item.get("deleted"):
            self.conn.execute("INSERT INTO deletedItems (itemID) VALUES (?)", (item_id,))
        return item_id

    def value(self, item_id: int, field: str, value: str) -> None:
        if field not in self.fields:
            cur = self.conn.execute("INSERT INTO fields (fieldName) VALUES (?)", (field,))
            self.fields[field] = int(cur.lastrowid or 0)
        value_id = self.row("itemDataValues", "valueID", "value", value)
        self.conn.execute("INSERT INTO itemData VALUES (?, ?, ?)", (item_id, self.fields[field], value_id))

    def row(self, table: str, id_column: str, column: str, value: str) -> int:
        found = self.conn.execute(f"SELECT {id_column} FROM {table} WHERE {column} = ?", (value,)).fetchone()
        if found:
            return int(found[0])
        return int(self.conn.execute(f"INSERT INTO {table} ({column}) VALUES (?)", (value,)).lastrowid or 0)

    def creator(self, item_id: int, order: int, creator: tuple[str, ...]) -> None:
        if len(creator) == 3:
            kind, last, first, mode = creator[0], creator[1], creator[2], 0
        else:  # a single-field name (fieldMode 1): organisations, names written whole
            kind, last, first, mode = creator[0], creator[1], "", 1
        found = self.conn.execute(
            "SELECT creatorID FROM creators WHERE lastName = ? AND firstName = ? AND fieldMode = ?", (last, first, mode)
        ).fetchone()
        creator_id = (
            found[0]
            if found
            else self.conn.execute(
                "INSERT INTO creators (firstName, lastName, fieldMode) VALUES (?, ?, ?)", (first, last, mode)
            ).lastrowid
        )
        self.conn.execute(
            "INSERT INTO itemCreators VALUES (?, ?, ?, ?)", (item_id, creator_id, self.creator_types[kind], order)
        )

    def collection(self, path: str) -> int:
        parent: int | None = None
        so_far = ""
        for name in path.split("/"):
            so_far = f"{so_far}/{name}" if so_far else name
            if so_far not in self.collections:
                key = _key(len(self.collections) + 1, "C")
                cur = self.conn.execute(
                    "INSERT INTO collections (collectionName, parentCollectionID, libraryID, key) VALUES (?, ?, 1, ?)",
                    (name, parent, key),
                )
                self.collections[so_far] = int(cur.lastrowid or 0)
            parent = self.collections[so_far]
        assert parent is not None
        return parent

    def attachment(self, att: dict[str, Any], item_id: int, parent_id: int | None) -> None:
        link = att.get("link", "imported")
        if link == "linked":
            path = str(att["path"])
            if att.get("pdf") and Path(path).is_absolute():
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(att["pdf"], path)
        else:
            path = f"storage:{att['file']}"
            folder = self.data_dir / "storage" / att["key"]
            folder.mkdir(parents=True, exist_ok=True)
            if att.get("pdf"):
                shutil.copyfile(att["pdf"], folder / att["file"])
        self.conn.execute(
            "INSERT INTO itemAttachments (itemID, parentItemID, linkMode, contentType, path) VALUES (?, ?, ?, ?, ?)",
            (item_id, parent_id, LINK_MODES[link], att.get("content_type", PDF), path),
        )


def _key(n: int, prefix: str) -> str:
    digits = ""
    while len(digits) < 7:
        n, rest = divmod(n, len(KEY_CHARS))
        digits = KEY_CHARS[rest] + digits
    return prefix + digits


def make_pdf(path: Path, title: str, lines: tuple[str, ...] = ()) -> Path:
    """A one-page PDF with `title` and `lines` in Helvetica (Latin text only), made with reportlab."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    path.parent.mkdir(parents=True, exist_ok=True)
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.setTitle(title)
    pdf.setFont("Helvetica-Bold", 16)
    pdf.drawString(72, 770, title)
    pdf.setFont("Helvetica", 11)
    for n, line in enumerate(lines):
        pdf.drawString(72, 740 - 16 * n, line)
    pdf.showPage()
    pdf.save()
    return path


VASWANI = (
    ("Vaswani", "Ashish"), ("Shazeer", "Noam"), ("Parmar", "Niki"), ("Uszkoreit", "Jakob"),
    ("Jones", "Llion"), ("Gomez", "Aidan N."), ("Kaiser", "Łukasz"), ("Polosukhin", "Illia"),
)  # fmt: skip


def sample_items(files: Path, linked: Path) -> list[dict[str, Any]]:
    """A small library: PDFs made under `files`; linked PDFs under `linked` (absolute links) and
    `linked`/base (links relative to the base directory "attachments:"). What each item shows:

    ATTN: conference paper, 8 authors, DOI only in `extra`, nested collection, imported PDF
    DEEP: journal article, DOI upper-case, two PDFs and an HTML snapshot (ignored)
    ZHCN: Chinese article, a two-part Chinese name and an organisation, linked PDF (absolute path)
    THES: thesis (university -> publisher), linked PDF relative to the base directory
    HAND: edited book (editors as authors), imported PDF missing from storage/
    WHOR: report by an organisation, in no collection, preprint-free, imported PDF
    PREP: preprint, in the trash (ignored); NOTE: a note (ignored); LECT: standalone PDF
    """
    pdf = {name: make_pdf(files / f"{name}.pdf", title) for name, title in (
        ("attn", "Attention Is All You Need"), ("deep", "Deep learning"), ("supp", "Deep learning: supplement"),
        ("zhcn", "Cross-border e-commerce"), ("thes", "Neural Retrieval Models"), ("whor", "Global report"),
        ("prep", "A deleted preprint"), ("lect", "Lecture notes"),
    )}  # fmt: skip
    return [
        {"key": "ATTN2345", "type": "conferencePaper",
         "fields": {"title": "Attention Is All You Need", "date": "2017-00-00 2017",
                    "proceedingsTitle": "Advances in Neural Information Processing Systems", "volume": "30",
                    "pages": "5998-6008", "publisher": "Curran Associates", "place": "Long Beach, CA",
                    "url": "https://arxiv.org/abs/1706.03762", "language": "en",
                    "abstractNote": "The dominant sequence transduction models are based on recurrent networks.",
                    "extra": "arXiv: 1706.03762\nDOI: 10.48550/arXiv.1706.03762"},
         "creators": [("author", last, first) for last, first in VASWANI],
         "tags": ["transformer", "Attention"], "collections": ["Machine Learning/Transformers"],
         "attachments": [{"key": "PDFA2345", "file": "Vaswani et al. - 2017 - Attention.pdf", "pdf": pdf["attn"]}]},
        {"key": "DEEP2345", "type": "journalArticle",
         "fields": {"title": "Deep learning", "date": "2015-05-28 28 May 2015", "publicationTitle": "Nature",
                    "volume": "521", "issue": "7553", "pages": "436-444", "DOI": "10.1038/NATURE14539"},
         "creators": [("author", "LeCun", "Yann"), ("author", "Bengio", "Yoshua"), ("author", "Hinton", "Geoffrey"),
                      ("editor", "Someone", "Else")],
         "tags": ["deep learning"], "collections": ["Machine Learning", "To read"],
         "attachments": [
             {"key": "PDFD2345", "file": "LeCun - 2015.pdf", "pdf": pdf["deep"]},
             {"key": "HTML2345", "file": "Snapshot.html", "pdf": pdf["deep"], "content_type": "text/html"},
             {"key": "SUPP2345", "file": "Supplement.pdf", "pdf": pdf["supp"]},
         ]},
        {"key": "ZHCN2345", "type": "journalArticle",
         "fields": {"title": "跨境电商发展中存在的问题研究", "date": "2021-05-00 2021年5月",
                    "publicationTitle": "中国流通经济", "volume": "35", "issue": "5", "pages": "130-137",
                    "language": "zh"},
         "creators": [("author", "张", "三"), ("author", "中国互联网络信息中心")],
         "tags": ["跨境电商"], "collections": ["中文文献"],
         "attachments": [{"key": "PDFZ2345", "link": "linked", "path": str(linked / "张三 - 2021.pdf"),
                          "pdf": pdf["zhcn"]}]},
        {"key": "THES2345", "type": "thesis",
         "fields": {"title": "Neural Retrieval Models", "date": "2020-06-00 June 2020", "university": "MIT",
                    "place": "Cambridge, MA"},
         "creators": [("author", "Smith", "Jane")], "collections": ["Machine Learning/Transformers/Retrieval"],
         "attachments": [{"key": "PDFT2345", "link": "linked", "path": "attachments:theses/Smith - 2020.pdf",
                          "pdf": pdf["thes"]}]},
        {"key": "HAND2345", "type": "book",
         "fields": {"title": "Handbook of Natural Language Processing", "date": "2010-00-00 2010",
                    "publisher": "Chapman and Hall/CRC"},
         "creators": [("editor", "Indurkhya", "Nitin"), ("editor", "Damerau", "Fred J.")],
         "collections": ["Machine Learning"],
         "attachments": [{"key": "PDFH2345", "file": "Handbook.pdf", "pdf": None}]},
        {"key": "WHOR2345", "type": "report",
         "fields": {"title": "Global report on infection prevention", "date": "2022-00-00 2022",
                    "institution": "World Health Organization", "place": "Geneva"},
         "creators": [("author", "World Health Organization")],
         "attachments": [{"key": "PDFW2345", "file": "WHO - 2022.pdf", "pdf": pdf["whor"]}]},
        {"key": "PREP2345", "type": "preprint", "deleted": True, "collections": ["Machine Learning"],
         "fields": {"title": "A deleted preprint", "date": "2023-00-00 2023"},
         "attachments": [{"key": "PDFP2345", "file": "Deleted.pdf", "pdf": pdf["prep"]}]},
        {"key": "NOTE2345", "type": "note", "note": "<p>Remember to read the appendix.</p>",
         "collections": ["Machine Learning"]},
        {"key": "LECT2345", "type": "attachment", "title": "Lecture notes on retrieval", "file": "lecture.pdf",
         "pdf": pdf["lect"], "collections": ["To read"]},
    ]  # fmt: skip


def build_sample(data_dir: Path, work: Path) -> Path:
    """The sample library (sample_items) in `data_dir`; PDFs and linked files under `work`.
    The base directory of relative links is `work`/base. Returns the database path."""
    items = sample_items(work / "made", work / "linked")
    base = work / "base"
    for item in items:  # a link relative to the base directory: put its PDF there
        for att in item.get("attachments", ()):
            if str(att.get("path", "")).startswith("attachments:"):
                target = base / att["path"].removeprefix("attachments:")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(att["pdf"], target)
    return build_zotero(data_dir, items)
