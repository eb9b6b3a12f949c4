"""The chat's generated mode, driven through its event handler against a local server that
speaks the OpenAI chat-completions protocol (tests/openai_stub.py): the draft streams in, then
the verified answer, each sentence with its verdict and its quotes one click away."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import rag
from tests.openai_stub import StubOpenAI, quote_number, running
from ui import app, render

QUESTION = "中国已成为多少个国家和地区的主要贸易伙伴？"
QUESTION_EN = "With how many countries and regions is China a major trading partner?"


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubOpenAI]:
    with running() as server:
        monkeypatch.setenv("RAG_LLM", "openai")
        monkeypatch.setenv("RAG_LLM_BASE_URL", server.url)
        monkeypatch.setenv("RAG_LLM_MODEL", "stub")
        yield server


def chat_turn(assistant: rag.Assistant, question: str) -> tuple[list[str], str, dict, str]:
    """(what the chat showed while streaming, the final chat HTML, the final answer dict, what
    "Copy for writing" gives for it)."""
    handlers = app._Handlers(app._resolve(assistant))
    shown, updates = [], []
    for update in handlers.respond(question, [], [], 5, "generated", []):
        updates.append(update)
        if isinstance(update[1], list):
            shown.append(update[1][-1]["content"])
    turns = updates[-1][2]
    return shown, updates[-1][1][-1]["content"], turns[-1]["answer"], handlers.for_writing(turns)


def test_generated_mode_streams_a_draft_then_shows_the_verified_answer(
    stub: StubOpenAI, assistant: rag.Assistant
) -> None:
    assert app.answer_modes() == ["extractive", "generated"]

    def reply(messages: list[dict]) -> str:
        n = quote_number(messages, "150", "主要贸易伙伴")
        return f"我国已经成为 150 多个国家和地区的主要贸易伙伴[{n}]。我国是 160 个国家的伙伴[{n}]。"

    stub.respond = reply
    shown, final, answer, _ = chat_turn(assistant, QUESTION)
    assert len([c for c in shown if "rag-draft" in c]) >= 2  # the draft grew piece by piece
    assert answer["mode"] == "openai" and "150 多个国家和地区" in answer["answer"]
    assert [s["supported"] for s in answer["sentences"]] == [True, False]  # the invented "160" is caught
    # Each sentence shows its verdict; the unsupported one is marked as such.
    assert final.count('class="rag-sent rag-ok"') == 1 and final.count('class="rag-sent rag-bad"') == 1
    assert "✓ 原文 quote" in final and "⚠ 原文 quote" in final


def test_english_sentence_keeps_its_chinese_quote_one_click_away(stub: StubOpenAI, assistant: rag.Assistant) -> None:
    stub.respond = lambda m: (
        f"China has become a major trading partner of more than 150 countries and regions "
        f"[{quote_number(m, '150', '主要贸易伙伴')}]."
    )
    _, final, answer, writing = chat_turn(assistant, QUESTION_EN)
    assert answer["mode"] == "openai" and answer["language"] == "en"
    assert answer["sentences"][0]["supported"]
    quote = answer["citations"][0]["sentence"]
    assert "主要贸易伙伴" in quote
    # The English sentence, then a collapsed <details> holding the Chinese quote it rests on.
    sentence_at = final.index("China has become")
    details_at = final.index('<details class="rag-ev">', sentence_at)
    assert final.index(render._esc(quote), details_at) > details_at
    # "Copy for writing": the English text with a footnote that quotes the original sentence.
    assert "China has become" in writing and "[^1]" in writing and "主要贸易伙伴" in writing.split("[^1]:")[1]
