"""A Zotero library as the corpus, end to end: the five typeset papers as PDF attachments of a
zotero.sqlite built with Zotero's schema, indexed with `rag index --zotero`, asked, cited with the
items' metadata, exported; a collection restricts it; a missing attachment is skipped by name;
Zotero's own database is never changed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from zotero_fixture import build_zotero

import rag
from rag.cli import main
from ui.app import with_pdf_links

QUESTION = "中国已成为多少个国家和地区的主要贸易伙伴？"


def _items(pdfs: Path) -> list[dict[str, object]]:
    truth = json.loads((pdfs / "truth.json").read_text(encoding="utf-8"))["papers"]
    items: list[dict[str, object]] = []
    for n, (_doc, paper) in enumerate(sorted(truth.items())):
        creators = [("author", name[0], name[1:]) for name in paper["authors"]]
        items.append(
            {
                "key": f"PAPR{n + 2}AAA",
                "type": "journalArticle",
                "fields": {
                    "title": paper["title"],
                    "date": f"{paper['year']}-00-00 {paper['year']}",
                    "publicationTitle": paper["journal"],
                    "volume": "14",
                    "issue": "6",
                    "DOI": paper["doi"],
                    "language": "zh-CN",
                },
                "creators": creators,
                "tags": ["跨境电商"],
                "collections": ["毕业论文/第二章" if n < 2 else "毕业论文/第三章"],
                "attachments": [{"key": f"FILE{n + 2}AAA", "file": paper["file"], "pdf": pdfs / paper["file"]}],
            }
        )
    items.append(  # an attachment whose file was never synced to this machine
        {
            "key": "GONE2AAA",
            "type": "journalArticle",
            "fields": {"title": "未同步的论文", "date": "2024-00-00 2024"},
            "collections": ["毕业论文/第三章"],
            "attachments": [{"key": "GONE3AAA", "file": "未同步.pdf", "pdf": None}],
        }
    )
    return items


@pytest.mark.slow
def test_a_zotero_library_is_indexed_asked_and_cited_with_its_metadata(
    pdf_fixtures: Path,
    settings: rag.Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = tmp_path / "Zotero"
    database = build_zotero(data, _items(pdf_fixtures / "mixed"))
    before = hashlib.sha256(database.read_bytes()).hexdigest()
    index = tmp_path / "index"
    assert main(["index", "--zotero", str(data), "--index", str(index)]) == 0
    out = capsys.readouterr()
    assert "5 papers" in out.out and "1 skipped" in out.out
    warned = [r.getMessage() for r in caplog.records if "GONE3AAA" in r.getMessage()]
    assert len(warned) == 1 and "未同步.pdf" in warned[0] and "not found" in warned[0]  # named once, not dropped
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in data.iterdir()) == ["storage", "zotero.sqlite"]  # nothing written there

    zotero = settings.with_(zotero=str(data), corpus_dir=data, index_dir=index)
    papers = {p.doc_id: p for p in rag.indexed_papers(zotero)}
    assert sorted(papers) == [f"PAPR{n}AAA" for n in range(2, 7)]
    first = papers["PAPR3AAA"]  # 001: its PDF's Info title is "Microsoft Word - draft3.docx"
    assert first.title == "数字经济视域下跨境电商的发展机遇、现状与路径研究"
    assert dict(first.sources)["title"] == "zotero.sqlite item PAPR3AAA (by Zotero item)"
    assert (first.volume, first.issue, first.tags) == ("14", "6", ("跨境电商",))
    assert first.collections == ("毕业论文/第二章",)
    assert first.source == "storage/FILE3AAA/001_4139313f3243f7e4.pdf"

    assistant = rag.load(zotero)
    answer = assistant.ask(QUESTION)
    assert not answer.abstained and answer.citations
    cited = answer.citations[0]
    assert cited.title == papers[cited.doc_id].title and cited.authors == papers[cited.doc_id].authors
    linked = with_pdf_links(answer.to_dict(), data)["citations"][0]
    assert linked["open_url"].startswith(f"/gradio_api/file={data / 'storage'}")  # opens Zotero's own file
    reference = rag.reference(papers[cited.doc_id])
    assert reference.endswith(f"[J]. 电子商务评论，2025，14（6）. DOI:{papers[cited.doc_id].doi}.")

    # One collection (with its subcollections) as its own index.
    chapter = tmp_path / "index-ch2"
    assert main(["index", "--zotero", str(data), "--collection", "毕业论文/第二章", "--index", str(chapter)]) == 0
    assert sorted(p.doc_id for p in rag.indexed_papers(settings.with_(index_dir=chapter))) == ["PAPR2AAA", "PAPR3AAA"]
    assert main(["index", "--zotero", str(data), "--collection", "第四章", "--index", str(chapter)]) == 1
    assert "毕业论文/第二章" in capsys.readouterr().err  # the unknown name is answered with the names that exist


def test_zotero_setting_from_rag_corpus(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RAG_CORPUS", f"zotero:{tmp_path}")
    loaded = rag.Settings.load()
    assert loaded.zotero == str(tmp_path) and loaded.corpus_dir == tmp_path
    monkeypatch.setenv("RAG_CORPUS", str(tmp_path / "papers"))
    loaded = rag.Settings.load()
    assert not loaded.zotero and loaded.corpus_dir == tmp_path / "papers"


def test_collection_without_zotero_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["index", "--collection", "毕业论文"]) == 1
    assert "--zotero DIR" in capsys.readouterr().err
