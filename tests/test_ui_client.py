"""The app's API as a program uses it: gradio_client against the running page, in-process."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

import rag

pytestmark = pytest.mark.slow
gradio_client = pytest.importorskip("gradio_client")

CITATION_FIELDS = {"n", "doc_id", "title", "section", "page", "text", "score", "sentence", "key", "doi"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    from ui.app import build_demo, launch

    settings = rag.Settings.load()
    try:
        assistant = rag.load(settings)
    except rag.IndexNotFoundError:
        rag.build_index(settings)
        assistant = rag.load(settings)
    demo = build_demo(assistant)
    _, url, _ = launch(demo, port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield gradio_client.Client(url, verbose=False, analytics_enabled=False, download_files=False)
    finally:
        demo.close()


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
