"""Generated answers end to end through langchain-openai, against a local stub server that
speaks the OpenAI chat-completions API (JSON and SSE streaming; tests/openai_stub.py). Retrieval
is real; only the model's replies are scripted, so each test shows what quote-then-write and
verification do with one kind of reply. The model sees numbered quotes, not whole passages."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

import rag
from rag import prompts
from rag.answer import ABSTAIN
from rag.generate import LLMSettings, generate_answer, stream_answer
from rag.verify import check_sentence, verify
from tests.openai_stub import StubOpenAI, quote_number, running

pytestmark = pytest.mark.slow

QUESTION = "中国已成为多少个国家和地区的主要贸易伙伴？"


@pytest.fixture(scope="module")
def assistant() -> rag.Assistant:
    settings = rag.Settings.load()
    try:
        return rag.load(settings)
    except rag.IndexNotFoundError:
        rag.build_index(settings)
        return rag.load(settings)


@pytest.fixture()
def server() -> Iterator[StubOpenAI]:
    with running() as stub:
        yield stub


@pytest.fixture()
def llm(server: StubOpenAI) -> LLMSettings:
    return LLMSettings(backend="openai", base_url=server.url, model="stub-model", timeout=20)


@pytest.fixture(scope="module")
def evidence(assistant: rag.Assistant) -> str:
    """The quoted sentence that answers QUESTION (the extractive stage's choice)."""
    for c in assistant.ask(QUESTION, mode="extractive").citations:
        if "150" in c.sentence and "主要贸易伙伴" in c.sentence:
            return c.sentence
    raise AssertionError("the corpus no longer holds the trade-partner sentence")


def cite(messages: list[dict]) -> int:
    """The number of the trade-partner quote in the prompt the model got."""
    return quote_number(messages, "150", "主要贸易伙伴")


def checks(answer: rag.Answer) -> tuple:
    """The per-sentence verdicts the answer carries."""
    return answer.sentences


def test_well_cited_answer_is_kept_with_its_citation(assistant, server, llm, evidence) -> None:  # noqa: ANN001
    sentence = evidence
    server.respond = lambda messages: f"{sentence}[{cite(messages)}]"
    answer = generate_answer(assistant, QUESTION, settings=llm)
    assert answer.mode == "openai" and not answer.abstained
    assert "150" in answer.answer and answer.answer.endswith("[1]") and "⚠" not in answer.answer
    assert [c.n for c in answer.citations] == [1]
    assert answer.citations[0].key in {p.key for p in answer.passages}
    assert answer.citations[0].sentence == sentence and sentence in answer.citations[0].text
    assert not any("unsupported" in note for note in answer.notes)
    assert [(c.supported, c.citations) for c in checks(answer)] == [(True, (1,))]
    # The model saw numbered quotes (one sentence each, with paper and page), not whole passages.
    prompt = server.requests[-1]["messages"][-1]["content"]
    quotes = [line for line in prompt.splitlines() if line.startswith("[")]
    assert QUESTION in prompt and quotes and all(len(q) < 600 for q in quotes)
    assert not any(p.text in prompt for p in answer.passages if len(p.text) > 400)
    assert json.loads(json.dumps(answer.to_dict(), ensure_ascii=False))["answer"] == answer.answer


def test_citation_of_a_passage_that_does_not_exist_is_removed(assistant, server, llm, evidence) -> None:  # noqa: ANN001
    sentence = evidence
    server.respond = lambda messages: f"{sentence}[{cite(messages)}][9]"
    answer = generate_answer(assistant, QUESTION, settings=llm)
    assert "[9]" not in answer.answer and answer.answer.endswith("[1]") and "⚠" not in answer.answer
    assert any("removed citation [9]" in note for note in answer.notes)
    assert [c.n for c in answer.citations] == [1]


def test_sentence_with_a_wrong_figure_is_marked_unsupported(assistant, server, llm, evidence) -> None:  # noqa: ANN001
    sentence = evidence
    wrong = sentence.replace("150", "160")
    server.respond = lambda messages: f"{sentence}[{cite(messages)}]{wrong}[{cite(messages)}]"
    answer = generate_answer(assistant, QUESTION, settings=llm)
    assert answer.mode == "openai"
    first, second = answer.answer.split("⚠")
    assert "150" in first and "160" in second and second.rstrip().endswith("[未获引文支持]")
    assert any("figure 160 not in the cited passage" in note for note in answer.notes)
    assert [c.supported for c in checks(answer)] == [True, False]
    # The same draft checked directly against the passage: the verdicts the JSON will carry.
    n = next(p.n for p in answer.passages if sentence in p.text)
    passages = {p.n: p for p in answer.passages}
    verdicts = verify(f"{sentence}[{n}]{wrong}[{n}]", passages, question_lang="zh").sentences
    assert [(c.supported, c.citations) for c in verdicts] == [(True, (1,)), (False, (1,))]
    assert "160" in verdicts[1].reason


def test_answer_with_nothing_supported_falls_back_to_the_extractive_answer(assistant, server, llm, evidence) -> None:  # noqa: ANN001
    sentence = evidence
    server.respond = lambda messages: f"{sentence.replace('150', '160')}[{cite(messages)}] 这一点非常重要。"
    answer = generate_answer(assistant, QUESTION, settings=llm)
    assert answer.mode == "extractive" and "150" in answer.answer and "160" not in answer.answer
    assert answer.notes[0].startswith("generated answer unusable (no sentence is supported")
    assert answer.notes[0].endswith("showing the extractive answer")


def test_answer_in_the_wrong_language_falls_back(assistant, server, llm, evidence) -> None:  # noqa: ANN001
    server.respond = lambda m: f"China is a major trading partner of more than 150 countries and regions [{cite(m)}]."
    answer = generate_answer(assistant, QUESTION, settings=llm)
    assert answer.mode == "extractive" and "answer is in en, the question in zh" in answer.notes[0]


def test_abstention_phrase_gives_an_abstained_answer(assistant, server, llm) -> None:  # noqa: ANN001
    server.respond = lambda messages: ABSTAIN["zh"]
    answer = generate_answer(assistant, QUESTION, settings=llm)
    assert answer.abstained and answer.answer == ABSTAIN["zh"] and answer.citations == ()
    assert answer.passages  # what was searched stays visible


def test_out_of_scope_question_abstains_without_asking_the_model(assistant, server, llm) -> None:  # noqa: ANN001
    server.respond = lambda messages: "红烧肉要先焯水[1]。"
    answer = generate_answer(assistant, "红烧肉怎么做才好吃？", settings=llm)
    assert answer.abstained and answer.answer == ABSTAIN["zh"] and server.requests == []


def test_streaming_yields_tokens_before_the_final_answer(assistant, server, llm, evidence) -> None:  # noqa: ANN001
    sentence = evidence
    drafts = []
    server.respond = lambda messages: drafts.append(f"{sentence}[{cite(messages)}]") or drafts[-1]
    items = list(stream_answer(assistant, QUESTION, settings=llm))
    tokens, final = items[:-1], items[-1]
    assert len(tokens) > 3 and all(isinstance(t, str) for t in tokens)
    assert "".join(tokens) == drafts[-1]
    assert isinstance(final, rag.Answer) and final.answer.endswith("[1]") and final.citations
    assert "first_token" in final.timings_ms
    assert server.requests[-1].get("stream") is True


def test_follow_up_is_condensed_by_the_model_before_retrieval(assistant, server, llm, evidence) -> None:  # noqa: ANN001
    sentence = evidence
    standalone = "中国已成为多少个国家和地区的主要贸易伙伴？"
    first_q, first_a = "中国跨境电商的贸易伙伴有什么变化？", "贸易伙伴呈现多元化趋势[1]。"

    def respond(messages: list[dict]) -> str:
        if messages[0]["content"] == prompts.CONDENSE_SYSTEM["zh"]:
            return f"独立问题：{standalone}"
        return f"{sentence}[{cite(messages)}]"

    server.respond = respond
    answer = generate_answer(assistant, "那有多少个国家呢？", history=[(first_q, first_a)], settings=llm)
    condense, generate = server.requests
    assert first_q in condense["messages"][-1]["content"] and "多元化趋势" in condense["messages"][-1]["content"]
    assert "那有多少个国家呢？" in condense["messages"][-1]["content"]
    assert answer.standalone_question == standalone and answer.question == "那有多少个国家呢？"
    assert standalone in generate["messages"][-1]["content"]
    assert "150" in answer.answer and answer.citations


def test_unreachable_endpoint_shows_the_extractive_answer_naming_the_url_and_the_fix(assistant) -> None:  # noqa: ANN001
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    llm = LLMSettings(backend="openai", base_url=f"http://127.0.0.1:{port}/v1", model="m", timeout=5)
    answer = generate_answer(assistant, QUESTION, settings=llm)
    assert answer.mode == "extractive" and "150" in answer.answer and answer.citations
    assert f"127.0.0.1:{port}" in answer.notes[0] and "RAG_LLM=extractive" in answer.notes[0]
    assert answer.notes[0].endswith("showing the extractive answer")


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_shows_the_extractive_answer_with_the_status(assistant, server, llm, status) -> None:  # noqa: ANN001
    server.status = status
    answer = generate_answer(assistant, QUESTION, settings=llm)
    assert answer.mode == "extractive" and "150" in answer.answer
    assert f"HTTP {status}" in answer.notes[0] and server.url in answer.notes[0]


def test_server_timeout_shows_the_extractive_answer(assistant, server) -> None:  # noqa: ANN001
    server.delay = 3.0
    llm = LLMSettings(backend="openai", base_url=server.url, model="stub-model", timeout=1)
    answer = generate_answer(assistant, QUESTION, settings=llm)
    assert answer.mode == "extractive" and "150" in answer.answer
    assert "Timeout" in answer.notes[0] and "RAG_LLM_TIMEOUT" in answer.notes[0]


def test_structured_reply_is_rendered_as_cited_sentences(assistant, server, llm, evidence) -> None:  # noqa: ANN001
    """A server that honours the JSON schema replies with {"sentences": [...]}: the answer shows
    them as sentences ending with their [n], streamed sentence by sentence."""
    sentence = evidence

    def respond(messages: list[dict]) -> str:
        n = cite(messages)
        sentences = [{"text": sentence, "quotes": [n]}, {"text": "贸易伙伴多元化。", "quotes": [n, 99]}]
        return json.dumps({"sentences": sentences}, ensure_ascii=False)

    server.respond = respond
    items = list(stream_answer(assistant, QUESTION, settings=llm))
    final = items[-1]
    schema = server.requests[-1]["response_format"]["json_schema"]["schema"]
    valid = schema["properties"]["sentences"]["items"]["properties"]["quotes"]["items"]["enum"]
    assert cite(server.requests[-1]["messages"]) in valid and 99 not in valid
    assert final.mode == "openai" and "{" not in final.answer and final.answer.count("[1]") == 2
    assert "[99]" not in final.answer and "150" in final.answer
    assert not any(isinstance(t, str) and "{" in t for t in items[:-1])  # no raw JSON reaches the chat


def test_server_that_refuses_the_schema_is_asked_again_without_it(assistant, server, llm, evidence) -> None:  # noqa: ANN001
    server.refuse_response_format = True
    server.respond = lambda messages: f"{evidence}[{cite(messages)}]"
    answer = generate_answer(assistant, QUESTION, settings=llm)
    assert answer.mode == "openai" and "150" in answer.answer
    assert "response_format" in server.requests[0] and "response_format" not in server.requests[-1]


def test_missing_model_name_is_a_clear_error(assistant) -> None:  # noqa: ANN001
    with pytest.raises(rag.ModelNotAvailableError, match="RAG_LLM_MODEL"):
        generate_answer(assistant, QUESTION, settings=LLMSettings(backend="openai"))


def test_english_answer_over_chinese_passages_is_checked_across_languages(assistant, server, llm) -> None:  # noqa: ANN001
    question = "With how many countries and regions is China a major trading partner?"
    good = "China has become a major trading partner of more than 150 countries and regions [{n}]."
    bad = "China's cross-border e-commerce grew by 160 percent [{n}]."
    server.respond = lambda m: f"{good.format(n=cite(m))} {bad.format(n=cite(m))}"
    answer = generate_answer(assistant, question, settings=llm)
    assert answer.mode == "openai" and answer.language == "en"
    assert answer.answer.startswith("China has become") and "⚠ China's cross-border" in answer.answer
    assert answer.answer.endswith("[unsupported]")
    assert any("sentence 2 unsupported: figure 160" in note for note in answer.notes)
    assert "Answer in English" in server.requests[-1]["messages"][-1]["content"]
    assert "your answer is in English" in server.requests[-1]["messages"][0]["content"]


def test_sentence_citing_the_neighbouring_quote_is_cited_to_the_quote_that_supports_it(assistant, server, llm) -> None:  # noqa: ANN001
    """Small writers often put the wrong quote's number: the citation moves to the quote whose
    words and figures the sentence has, and the notes say so."""
    written = {}

    def respond(messages: list[dict]) -> str:
        quotes = [line.split("：", 1)[1] for line in messages[-1]["content"].splitlines() if line.startswith("[")]
        # A later quote's sentence that quote 1 does not support ...
        written["text"] = next(q for q in quotes[1:] if not check_sentence(q, [quotes[0]])[0])
        return f"{written['text']}[1]"  # ... cited as quote 1

    server.respond = respond
    answer = generate_answer(assistant, "跨境物流面临哪些问题？", settings=llm)
    assert answer.mode == "openai" and [s.supported for s in answer.sentences] == [True]
    assert "instead of [1]" in answer.sentences[0].reason and any("instead of" in n for n in answer.notes)
    assert rag.SOURCE_REF.sub("", answer.citations[0].sentence).strip() == written["text"].strip()
