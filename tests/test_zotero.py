"""A Zotero data directory read as a user would see it: which PDFs come back under which names and
ids, each item's metadata, collections, and the sentences about what was left out or refused."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from zotero_fixture import build_sample, build_zotero, make_pdf

from rag import zotero
from rag.errors import CorpusError
from rag.zotero import read_zotero

ROOT = Path(__file__).resolve().parent.parent
TYPESET = ROOT / "build" / "pdf-fixtures" / "mixed"
SAMPLE_NAMES = [
    "storage/LECT2345/lecture.pdf",
    "storage/PDFA2345/Vaswani et al. - 2017 - Attention.pdf",
    "storage/PDFD2345/LeCun - 2015.pdf",
    "storage/PDFW2345/WHO - 2022.pdf",
    "storage/SUPP2345/Supplement.pdf",
]


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where read_zotero makes its temporary copy, to check that nothing is left there."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home folder with no Zotero profile (tests add one where they need it)."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.delenv("APPDATA", raising=False)
    return folder


@pytest.fixture
def sample(tmp_path: Path, home: Path, private_tmp: Path) -> Path:
    """The sample library, with a Zotero profile stating its data and base directories."""
    data_dir = tmp_path / "Zotero"
    build_sample(data_dir, tmp_path / "work")
    write_profile(home, data_dir, tmp_path / "work" / "base")
    return data_dir


def write_profile(home: Path, data_dir: Path, base: Path) -> None:
    profile = home / ".zotero" / "zotero" / "a1b2c3d4.default"
    profile.mkdir(parents=True)
    (profile / "prefs.js").write_text(
        "// Mozilla User Preferences\n"
        f'user_pref("extensions.zotero.baseAttachmentPath", {json.dumps(str(base))});\n'
        f'user_pref("extensions.zotero.dataDir", {json.dumps(str(data_dir))});\n'
        'user_pref("extensions.zotero.lastViewedFolder", "L1");\n',
        encoding="utf-8",
    )


def by_doc_id(library: zotero.ZoteroLibrary) -> dict[str, zotero.ZoteroAttachment]:
    return {a.doc_id: a for a in library.attachments}


def test_every_pdf_comes_back_with_its_name_and_the_item_key(sample: Path, tmp_path: Path) -> None:
    library = read_zotero(sample)
    linked = [
        str(tmp_path / "work" / "base" / "theses" / "Smith - 2020.pdf"),
        str(tmp_path / "work" / "linked" / "张三 - 2021.pdf"),
    ]
    assert [a.name for a in library.attachments] == sorted(SAMPLE_NAMES + linked)
    ids = {a.name: a.doc_id for a in library.attachments}
    assert ids["storage/PDFA2345/Vaswani et al. - 2017 - Attention.pdf"] == "ATTN2345"
    assert ids["storage/PDFD2345/LeCun - 2015.pdf"] == "DEEP2345"
    assert ids["storage/SUPP2345/Supplement.pdf"] == "DEEP2345-SUPP2345"  # the item's second PDF
    assert ids["storage/LECT2345/lecture.pdf"] == "LECT2345"  # a PDF with no parent item
    assert ids[linked[0]] == "THES2345" and ids[linked[1]] == "ZHCN2345"
    for a in library.attachments:
        assert a.path.is_absolute() and a.path.is_file() and a.record.files == (a.name,)
    assert library.schema_version == 129
    assert library.problems == ()


def test_records_carry_the_items_metadata(sample: Path) -> None:
    found = by_doc_id(read_zotero(sample))
    attention = found["ATTN2345"].record
    assert attention.title == "Attention Is All You Need"
    assert attention.authors == (
        "Vaswani, Ashish", "Shazeer, Noam", "Parmar, Niki", "Uszkoreit, Jakob",
        "Jones, Llion", "Gomez, Aidan N.", "Kaiser, Łukasz", "Polosukhin, Illia",
    )  # fmt: skip
    assert (attention.year, attention.container, attention.volume, attention.pages) == (
        2017, "Advances in Neural Information Processing Systems", "30", "5998-6008")  # fmt: skip
    assert attention.doi == "10.48550/arxiv.1706.03762"  # from "DOI: …" in the extra field
    assert attention.item_type == "paper-conference"
    assert (attention.publisher, attention.place, attention.language) == ("Curran Associates", "Long Beach, CA", "en")
    assert attention.url == "https://arxiv.org/abs/1706.03762"
    assert attention.abstract == "The dominant sequence transduction models are based on recurrent networks."
    assert attention.tags == attention.keywords == ("Attention", "transformer")
    assert attention.collections == ("Machine Learning/Transformers",)
    assert (attention.origin, attention.key) == ("zotero.sqlite item ATTN2345", "ATTN2345")

    deep = found["DEEP2345"].record
    assert deep.authors == ("LeCun, Yann", "Bengio, Yoshua", "Hinton, Geoffrey")  # the editor is not an author
    assert (deep.year, deep.container, deep.volume, deep.issue) == (2015, "Nature", "521", "7553")
    assert deep.doi == "10.1038/nature14539" and deep.item_type == "article-journal"
    assert deep.collections == ("Machine Learning", "To read")
    assert found["DEEP2345-SUPP2345"].record.title == "Deep learning"

    chinese = found["ZHCN2345"].record
    assert chinese.authors == ("张三", "中国互联网络信息中心")
    assert (chinese.title, chinese.year, chinese.container) == ("跨境电商发展中存在的问题研究", 2021, "中国流通经济")
    assert (chinese.tags, chinese.collections, chinese.language) == (("跨境电商",), ("中文文献",), "zh")

    thesis = found["THES2345"].record
    assert (thesis.item_type, thesis.publisher, thesis.authors) == ("thesis", "MIT", ("Smith, Jane",))
    assert thesis.collections == ("Machine Learning/Transformers/Retrieval",)

    report = found["WHOR2345"].record
    assert report.authors == ("World Health Organization",) and report.publisher == "World Health Organization"
    assert (report.item_type, report.year, report.collections, report.doi) == ("report", 2022, (), None)

    lecture = found["LECT2345"].record
    assert (lecture.title, lecture.item_type, lecture.authors) == ("Lecture notes on retrieval", "document", ())


def test_editors_stand_in_when_an_item_has_no_author(tmp_path: Path, home: Path) -> None:
    pdf = make_pdf(tmp_path / "h.pdf", "Handbook")
    data_dir = tmp_path / "Zotero"
    build_zotero(data_dir, [
        {"key": "HAND2345", "type": "book", "fields": {"title": "Handbook", "date": "2010-00-00 2010"},
         "creators": [("editor", "Indurkhya", "Nitin"), ("editor", "Damerau", "Fred J.")],
         "attachments": [{"key": "PDFH2345", "file": "Handbook.pdf", "pdf": pdf}]},
        {"key": "CHAP2345", "type": "bookSection", "fields": {"title": "Tokenisation", "bookTitle": "Handbook"},
         "creators": [("editor", "Indurkhya", "Nitin"), ("author", "Webster", "Jonathan J.")],
         "attachments": [{"key": "PDFC2345", "file": "Chapter.pdf", "pdf": pdf}]},
    ])  # fmt: skip
    found = by_doc_id(read_zotero(data_dir))
    assert found["HAND2345"].record.authors == ("Indurkhya, Nitin", "Damerau, Fred J.")
    assert found["HAND2345"].record.item_type == "book"
    chapter = found["CHAP2345"].record
    assert (chapter.authors, chapter.container, chapter.item_type) == (("Webster, Jonathan J.",), "Handbook", "chapter")


def test_trash_notes_and_other_files_are_left_out(sample: Path) -> None:
    library = read_zotero(sample)
    names = " ".join(a.name for a in library.attachments)
    assert "Deleted.pdf" not in names  # its item is in the trash
    assert "Snapshot.html" not in names  # not a PDF
    assert {a.doc_id for a in library.attachments}.isdisjoint({"PREP2345", "NOTE2345"})
    assert not any("Deleted" in line or "Snapshot" in line for line in library.missing + library.problems)


def test_missing_files_are_listed_and_the_rest_returned(sample: Path, tmp_path: Path) -> None:
    library = read_zotero(sample)
    assert library.missing == (
        "storage/PDFH2345/Handbook.pdf (item 'Handbook of Natural Language Processing'): file not found; "
        "sync or re-download it in Zotero",
    )
    linked = tmp_path / "work" / "linked" / "张三 - 2021.pdf"
    linked.unlink()  # a linked file moved away outside Zotero
    library = read_zotero(sample)
    assert library.missing[0] == (  # sorted like the attachments: by name
        f"{linked} (item '跨境电商发展中存在的问题研究'): linked file not found; move it back or relink it in "
        "Zotero (Show File → Locate)"
    )
    assert len(library.attachments) == len(SAMPLE_NAMES) + 1  # everything else still comes back


def test_links_to_the_base_directory_need_the_profile(tmp_path: Path, home: Path, private_tmp: Path) -> None:
    data_dir = tmp_path / "Zotero"
    build_sample(data_dir, tmp_path / "work")  # no Zotero profile in this home
    library = read_zotero(data_dir)
    assert [p.split(":")[0] for p in library.problems] == ["attachments"]
    assert library.problems[0].startswith("attachments:theses/Smith - 2020.pdf (item 'Neural Retrieval Models'): ")
    assert "Linked Attachment Base Directory" in library.problems[0]
    assert "THES2345" not in by_doc_id(library) and "ATTN2345" in by_doc_id(library)
    given = read_zotero(data_dir, base_dir=tmp_path / "work" / "base")
    assert by_doc_id(given)["THES2345"].path == tmp_path / "work" / "base" / "theses" / "Smith - 2020.pdf"


def test_collection_keeps_its_items_and_those_of_its_subcollections(sample: Path) -> None:
    def ids(collection: str) -> list[str]:
        return sorted(a.doc_id for a in read_zotero(sample, collection=collection).attachments)

    assert ids("Machine Learning") == ["ATTN2345", "DEEP2345", "DEEP2345-SUPP2345", "THES2345"]
    assert ids("Transformers") == ["ATTN2345", "THES2345"]
    assert ids("machine learning/transformers") == ["ATTN2345", "THES2345"]
    assert ids("To read") == ["DEEP2345", "DEEP2345-SUPP2345", "LECT2345"]
    assert ids("中文文献") == ["ZHCN2345"]
    key = sqlite3.connect(sample / "zotero.sqlite").execute(
        "SELECT key FROM collections WHERE collectionName = 'Retrieval'").fetchone()[0]  # fmt: skip
    assert ids(key) == ["THES2345"]


@pytest.mark.parametrize("name", ["Physics", "Transformer"])
def test_an_unknown_collection_lists_those_that_exist(sample: Path, name: str) -> None:
    with pytest.raises(CorpusError) as caught:
        read_zotero(sample, collection=name)
    assert str(caught.value) == (
        f"No Zotero collection is named '{name}'; the library has: Machine Learning, Machine Learning/Transformers, "
        "Machine Learning/Transformers/Retrieval, To read, 中文文献"
    )


def test_the_users_database_is_not_changed_and_no_copy_is_left(sample: Path, private_tmp: Path) -> None:
    database = sample / "zotero.sqlite"
    before = hashlib.sha256(database.read_bytes()).hexdigest()
    listing = sorted(p.name for p in sample.iterdir())
    read_zotero(sample)
    read_zotero(sample, collection="Transformers")
    with pytest.raises(CorpusError):
        read_zotero(sample, collection="Physics")
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in sample.iterdir()) == listing  # no -journal, -wal or -shm beside it
    assert list(private_tmp.iterdir()) == []


def test_a_library_in_wal_mode_is_read_without_touching_its_folder(sample: Path, private_tmp: Path) -> None:
    database = sample / "zotero.sqlite"
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    before = hashlib.sha256(database.read_bytes()).hexdigest()
    listing = sorted(p.name for p in sample.iterdir())
    assert len(read_zotero(sample).attachments) == len(SAMPLE_NAMES) + 2
    assert sorted(p.name for p in sample.iterdir()) == listing
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before
    assert list(private_tmp.iterdir()) == []


@pytest.mark.parametrize("make", ["empty folder", "no such folder"])
def test_a_folder_without_zotero_sqlite_is_refused(tmp_path: Path, make: str) -> None:
    folder = tmp_path / "Documents"
    if make == "empty folder":
        (folder / "storage").mkdir(parents=True)
    with pytest.raises(CorpusError) as caught:
        read_zotero(folder)
    assert str(caught.value) == (
        f"{folder} is not a Zotero data directory (it has no zotero.sqlite); it is the folder with zotero.sqlite "
        "and storage/, shown in Zotero → Settings → Advanced → Files and Folders"
    )


@pytest.mark.parametrize("content", [b"not a database, just text\n", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"])
def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "zotero.sqlite").write_bytes(content)
    with pytest.raises(CorpusError) as caught:
        read_zotero(tmp_path)
    assert str(caught.value).startswith(f"{tmp_path / 'zotero.sqlite'} is not an SQLite database (it starts with b'")
    assert "point at Zotero's data directory" in str(caught.value)


@pytest.mark.parametrize("damage", ["truncated", "overwritten"])
def test_a_damaged_database_is_refused(sample: Path, damage: str, private_tmp: Path) -> None:
    database = sample / "zotero.sqlite"
    data = database.read_bytes()
    page = 4096
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:
        data = data[: 2 * page] + b"\xff" * (3 * page) + data[5 * page :]
    database.write_bytes(data)
    with pytest.raises(CorpusError) as caught:
        read_zotero(sample)
    assert str(caught.value).startswith(f"{database} is damaged (database disk image is malformed); ")
    assert "Check Database Integrity" in str(caught.value) and "zotero.sqlite.bak" in str(caught.value)
    assert list(private_tmp.iterdir()) == []


LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA locking_mode=EXCLUSIVE")  # what a running Zotero does
conn.execute("INSERT INTO settings VALUES ('client', 'lastRun', 1)")
print("locked", flush=True)
sys.stdin.read()
"""


@pytest.mark.parametrize("holder", ["transaction", "zotero running"])
def test_a_locked_database_says_to_close_zotero(
    sample: Path, holder: str, monkeypatch: pytest.MonkeyPatch, private_tmp: Path
) -> None:
    monkeypatch.setattr(zotero, "LOCK_WAIT_SECONDS", 0.2)
    database = sample / "zotero.sqlite"
    if holder == "transaction":  # another connection in the middle of a write
        other = sqlite3.connect(database, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        release = other.close
    else:  # another process that holds the database, as Zotero does while it runs
        proc = subprocess.Popen([sys.executable, "-c", LOCKER, str(database)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"

        def release() -> None:
            proc.communicate("", timeout=10)

    try:
        with pytest.raises(CorpusError) as caught:
            read_zotero(sample)
    finally:
        release()
    assert str(caught.value) == (
        f"{database} is locked by another program (Zotero is running and writing to it); close Zotero, or retry "
        "in a moment"
    )
    assert list(private_tmp.iterdir()) == []
    assert len(read_zotero(sample).attachments) == len(SAMPLE_NAMES) + 2  # once released it reads


@pytest.mark.parametrize("damage", ["too old", "no version row", "table missing"])
def test_an_unknown_schema_names_the_version_and_the_range(sample: Path, damage: str) -> None:
    database = sample / "zotero.sqlite"
    with sqlite3.connect(database) as conn:
        if damage == "too old":
            conn.execute("UPDATE version SET version = 60 WHERE schema = 'userdata'")
        elif damage == "no version row":
            conn.execute("DELETE FROM version WHERE schema = 'userdata'")
        else:
            conn.execute("DROP TABLE itemAttachments")
    conn.close()
    with pytest.raises(CorpusError) as caught:
        read_zotero(sample)
    message = str(caught.value)
    assert message.startswith(f"{database} ")
    assert "this reader supports 76 or later (Zotero 2.1 and newer)" in message
    expected = {
        "too old": "has Zotero schema version 60;",
        "no version row": "states no Zotero schema version (no 'userdata' row in its version table);",
        "table missing": "has Zotero schema version 129 but lacks itemAttachments.itemID, itemAttachments.parentItemID",
    }[damage]
    assert expected in message


@pytest.mark.parametrize("second_link", ["linked to the same file", "linked to the first's stored copy"])
def test_two_items_with_one_file_are_reported(tmp_path: Path, home: Path, second_link: str) -> None:
    pdf = make_pdf(tmp_path / "shared" / "paper.pdf", "One paper")
    data_dir = tmp_path / "Zotero"
    first = {"key": "ONEA2345", "type": "journalArticle", "fields": {"title": "One paper"},
             "attachments": [{"key": "PDF1A234", "link": "linked", "path": str(pdf)}]}  # fmt: skip
    if second_link == "linked to the first's stored copy":
        first["attachments"] = [{"key": "PDF1A234", "file": "paper.pdf", "pdf": pdf}]
        target = str(data_dir / "storage" / "PDF1A234" / "paper.pdf")
        first_name = "storage/PDF1A234/paper.pdf"
    else:
        target = first_name = str(pdf)
    second = {"key": "TWOB2345", "type": "journalArticle", "fields": {"title": "Same paper, again"},
              "attachments": [{"key": "PDF2B234", "link": "linked", "path": target}]}  # fmt: skip
    build_zotero(data_dir, [first, second])
    library = read_zotero(data_dir)
    assert [a.doc_id for a in library.attachments] == ["ONEA2345"]
    second_name = "storage/PDF1A234/paper.pdf" if second_link != "linked to the same file" else str(pdf)
    assert library.problems == (
        f"{second_name} (item 'Same paper, again') is the same file as {first_name} (item 'One paper'); read once, "
        "for the first; remove one of the two attachments in Zotero",
    )


def test_typeset_papers_as_zotero_attachments(tmp_path: Path, home: Path) -> None:
    pdfs = sorted(TYPESET.glob("*.pdf")) if TYPESET.is_dir() else []
    if not pdfs:
        pytest.skip(f"{TYPESET} holds no PDFs; build it with scripts/pdf_fixtures.py")
    items = [
        {"key": f"TYPE{n:04d}".replace("0", "Z").replace("1", "Y"), "type": "journalArticle",
         "fields": {"title": pdf.stem}, "collections": ["Typeset"],
         "attachments": [{"key": f"PDF{n:05d}".replace("0", "X").replace("1", "W"), "file": pdf.name, "pdf": pdf}]}
        for n, pdf in enumerate(pdfs)
    ]  # fmt: skip
    build_zotero(tmp_path / "Zotero", items)
    library = read_zotero(tmp_path / "Zotero", collection="Typeset")
    assert sorted(a.path.name for a in library.attachments) == sorted(p.name for p in pdfs)
    for a in library.attachments:
        assert a.path.read_bytes() == (TYPESET / a.path.name).read_bytes()
        assert a.record.title == a.path.stem


WAL_HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA locking_mode=EXCLUSIVE")  # Zotero 8: WAL, the database held while it runs
conn.execute("PRAGMA journal_mode=WAL")
conn.execute("UPDATE itemDataValues SET value = 'Deep learning (revised)' WHERE value = 'Deep learning'")
print("held", flush=True)
sys.stdin.read()
"""


def test_a_wal_library_held_by_a_running_zotero_is_read_with_its_latest_edits(sample: Path, private_tmp: Path) -> None:
    database = sample / "zotero.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", WAL_HOLDER, str(database)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        listing = sorted(p.name for p in sample.iterdir())
        assert "zotero.sqlite-wal" in listing  # the edit is only in the write-ahead log so far
        library = read_zotero(sample)
        assert by_doc_id(library)["DEEP2345"].record.title == "Deep learning (revised)"
        assert sorted(p.name for p in sample.iterdir()) == listing
        assert list(private_tmp.iterdir()) == []
    finally:
        proc.communicate("", timeout=10)
