"""The app's API as a program uses it: gradio_client against the running page, in-process."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import rag

pytestmark = pytest.mark.slow
gradio_client = pytest.importorskip("gradio_client")

ROOT = Path(__file__).resolve().parent.parent
CITATION_FIELDS = {
    *("n", "doc_id", "title", "section", "page", "text", "score", "sentence", "key", "doi", "untrusted"),
    *("source", "pdf_page"),  # the file, and for a PDF the page index to open it at
    *("authors", "year"),  # the paper's, for the sources panel's byline
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(assistant: rag.Assistant) -> Iterator[object]:
    """The real page for `assistant` on a free port, and a client of it."""
    from ui.app import build_demo, launch

    demo = build_demo(assistant)
    _, url, _ = launch(demo, port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield gradio_client.Client(url, verbose=False, analytics_enabled=False, download_files=False)
    finally:
        demo.close()


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    settings = rag.Settings.load()
    try:
        assistant = rag.load(settings)
    except rag.IndexNotFoundError:
        rag.build_index(settings)
        assistant = rag.load(settings)
    with served(assistant) as c:
        yield c


def test_ask_returns_the_answer_json_contract(client) -> None:  # noqa: ANN001
    out = client.predict(question="中国已成为多少个国家和地区的主要贸易伙伴？", k=5, api_name="/ask")
    assert set(out) >= {
        "question",
        "answer",
        "abstained",
        "language",
        "citations",
        "passages",
        "timings_ms",
        "mode",
        "standalone_question",
        "notes",
    }
    assert out["language"] == "zh" and out["abstained"] is False and out["mode"] == "extractive"
    assert "150 多个" in out["answer"] and "[1]" in out["answer"]
    assert out["citations"] and all(set(c) == CITATION_FIELDS for c in out["citations"])
    first = out["citations"][0]
    assert first["n"] == 1 and first["sentence"] and "主要贸易伙伴" in first["text"]
    assert len(out["passages"]) == 5 and [p["n"] for p in out["passages"]] == [1, 2, 3, 4, 5]
    assert out["standalone_question"] == "中国已成为多少个国家和地区的主要贸易伙伴？"


def test_ask_passes_history_and_paper_filter(client) -> None:  # noqa: ANN001
    first = "中国已成为多少个国家和地区的主要贸易伙伴？"
    out = client.predict(
        question="那它的货物贸易总额排名呢？", history=[first], doc_ids=["000_0ea6e26401eae5d1"], api_name="/ask"
    )
    assert out["standalone_question"].startswith(first)
    assert {p["doc_id"] for p in out["passages"]} == {"000_0ea6e26401eae5d1"}


def test_bad_question_is_a_readable_error(client) -> None:  # noqa: ANN001
    with pytest.raises(Exception, match="question is empty") as info:
        client.predict(question="？？", api_name="/ask")
    assert "Traceback" not in str(info.value)


# Issue 15, item 7: k is bounded with a readable error, the header counts the loaded papers, and
# a shortened question says so.
@pytest.mark.parametrize("k", [1000, -1])
def test_k_out_of_range_is_a_readable_error_not_a_flood_or_a_silent_abstention(client, k: int) -> None:  # noqa: ANN001
    with pytest.raises(Exception, match=rf"k={k} is out of range: ask for 1 to 20 passages") as info:
        client.predict(question="跨境电商物流面临哪些问题？", k=k, api_name="/ask")
    assert "Traceback" not in str(info.value)


def test_k_at_the_bound_is_answered_with_that_many_passages(client) -> None:  # noqa: ANN001
    out = client.predict(question="跨境电商物流面临哪些问题？", k=rag.MAX_K, api_name="/ask")
    assert len(out["passages"]) == rag.MAX_K and not out["abstained"]


def test_a_long_paste_keeps_its_question_and_the_notes_say_so(client) -> None:  # noqa: ANN001
    question = "跨境电商物流面临哪些问题？"
    text = " ".join((ROOT / "corpus" / "001_4139313f3243f7e4.txt").read_text(encoding="utf-8").split())
    pasted = text[: 2069 - len(question)] + question
    out = client.predict(question=pasted, api_name="/ask")
    assert out["question"].endswith(question) and len(out["question"]) <= 2000
    assert out["notes"][0].startswith("问题过长，已缩短 question shortened: 2069 → ")


def header_of(c) -> str:  # noqa: ANN001
    """The page header as the client downloads it with the page's configuration."""
    return next(
        comp["props"]["value"] for comp in c.config["components"] if comp.get("props", {}).get("elem_id") == "rag-intro"
    )


def test_the_header_counts_the_papers_of_the_loaded_index(client, tmp_path: Path) -> None:  # noqa: ANN001
    assert "基于索引中的 5 篇论文" in header_of(client) and "5 papers" in header_of(client)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("001_4139313f3243f7e4.txt", "003_d0102665b7b2c82a.txt"):
        shutil.copy(ROOT / "corpus" / name, corpus / name)
    settings = rag.Settings.load(corpus_dir=corpus, index_dir=tmp_path / "index")
    rag.build_index(settings, progress=False)
    with served(rag.load(settings)) as small:
        header = header_of(small)
    assert "基于索引中的 2 篇论文" in header and "2 papers" in header and "五篇" not in header

    from ui import app

    shutil.copy(ROOT / "corpus" / "000_0ea6e26401eae5d1.txt", corpus)  # a third paper, then Re-index
    handlers = app._Handlers(app._resolve(rag.load(settings)))
    *_, (status, _, _, header) = handlers.reindex(False)
    assert "1 added" in status and "基于索引中的 3 篇论文" in header


def test_the_chat_shows_that_a_question_was_shortened_and_refuses_a_bad_k() -> None:
    from ui import app

    handlers = app._Handlers(app._resolve(rag.load(rag.Settings.load())))
    question = "跨境电商物流面临哪些问题？"
    pasted = "以下是论文摘要。" + "跨境电商的发展离不开高效的物流体系。" * 120 + question
    *_, last = handlers.respond(pasted, [], [], 5, "extractive", [])
    shown, asked = last[1][-1]["content"], last[2][-1]["answer"]["question"]
    assert "rag-notice" in shown and "question shortened" in shown and asked.endswith(question)
    *_, last = handlers.respond(question, [], [], 1000, "extractive", [])
    assert "rag-error" in last[1][-1]["content"] and "k=1000 is out of range" in last[1][-1]["content"]
