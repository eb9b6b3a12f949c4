"""Generated answers end to end through langchain-openai, against a local stub server that
speaks the OpenAI chat-completions API (JSON and SSE streaming). Retrieval is real; only the
model's replies are scripted, so each test shows what verification does with one kind of reply."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import rag
from rag import prompts
from rag.answer import ABSTAIN
from rag.chunking import split_sentences
from rag.generate import LLMSettings, generate_answer, stream_answer
from rag.verify import verify

pytestmark = pytest.mark.slow

QUESTION = "中国已成为多少个国家和地区的主要贸易伙伴？"
Reply = Callable[[list[dict]], str]


class StubOpenAI(ThreadingHTTPServer):
    """POST /v1/chat/completions -> the reply `respond(messages)` scripts; records requests."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict] = []
        self.respond: Reply = lambda messages: ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    server: StubOpenAI

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        if self.path.rstrip("/") != "/v1/chat/completions":
            self.send_error(404)
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        text = self.server.respond(body["messages"])
        if body.get("stream"):
            self._stream(body["model"], text)
        else:
            self._send_json(_completion(body["model"], text))

    def _send_json(self, payload: dict) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, model: str, text: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        pieces = [text[i : i + 4] for i in range(0, len(text), 4)]
        for i, piece in enumerate(pieces):
            delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
            self._event(_chunk(model, delta, None))
        self._event(_chunk(model, {}, "stop"))
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _event(self, payload: dict) -> None:
        self.wfile.write(b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n")
        self.wfile.flush()


def _completion(model: str, text: str) -> dict:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


def _chunk(model: str, delta: dict, finish: str | None) -> dict:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


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
    stub = StubOpenAI()
    thread = threading.Thread(target=stub.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        stub.shutdown()
        stub.server_close()


@pytest.fixture()
def llm(server: StubOpenAI) -> LLMSettings:
    return LLMSettings(backend="openai", base_url=server.url, model="stub-model", timeout=20)


@pytest.fixture(scope="module")
def evidence(assistant: rag.Assistant) -> tuple[int, str]:
    """(n, sentence): a real sentence of a retrieved passage that answers QUESTION, and the
    number that passage has in the context the model sees."""
    for p in assistant.ask(QUESTION).passages:
        for a, b in split_sentences(p.text):
            if "150" in p.text[a:b] and "主要贸易伙伴" in p.text[a:b]:
                return p.n, p.text[a:b]
    raise AssertionError("the corpus no longer holds the trade-partner sentence")


def checks(answer: rag.Answer) -> tuple | None:
    """The per-sentence verdicts, once rag.types.Answer carries them."""
    return getattr(answer, "sentences", None)


def test_well_cited_answer_is_kept_with_its_citation(assistant, server, llm, evidence) -> None:  # noqa: ANN001
    n, sentence = evidence
    server.respond = lambda messages: f"{sentence}[{n}]"
    answer = generate_answer(assistant, QUESTION, settings=llm)
    assert answer.mode == "openai" and not answer.abstained
    assert "150" in answer.answer and answer.answer.endswith("[1]") and "⚠" not in answer.answer
    assert [c.n for c in answer.citations] == [1]
    assert answer.citations[0].key == answer.passages[n - 1].key
    assert answer.citations[0].sentence == sentence
    assert not any("unsupported" in note for note in answer.notes)
    if checks(answer) is not None:
        assert [(c.supported, c.citations) for c in checks(answer)] == [(True, (1,))]
    # The model saw the numbered passages, with the papers' own reference markers removed.
    prompt = server.requests[-1]["messages"][-1]["content"]
    assert f"[{n}] " in prompt and QUESTION in prompt
    assert json.loads(json.dumps(answer.to_dict(), ensure_ascii=False))["answer"] == answer.answer


def test_citation_of_a_passage_that_does_not_exist_is_removed(assistant, server, llm, evidence) -> None:  # noqa: ANN001
    n, sentence = evidence
    server.respond = lambda messages: f"{sentence}[{n}][9]"
    answer = generate_answer(assistant, QUESTION, settings=llm)
    assert "[9]" not in answer.answer and answer.answer.endswith("[1]") and "⚠" not in answer.answer
    assert any("removed citation [9]" in note for note in answer.notes)
    assert [c.n for c in answer.citations] == [1]


def test_sentence_with_a_wrong_figure_is_marked_unsupported(assistant, server, llm, evidence) -> None:  # noqa: ANN001
    n, sentence = evidence
    wrong = sentence.replace("150", "160")
    server.respond = lambda messages: f"{sentence}[{n}]{wrong}[{n}]"
    answer = generate_answer(assistant, QUESTION, settings=llm)
    assert answer.mode == "openai"
    first, second = answer.answer.split("⚠")
    assert "150" in first and "160" in second and second.rstrip().endswith("[未获引文支持]")
    assert any("figure 160 not in the cited passage" in note for note in answer.notes)
    if checks(answer) is not None:
        assert [c.supported for c in checks(answer)] == [True, False]
    # The same draft checked directly: the verdicts the JSON will carry.
    passages = {p.n: p for p in answer.passages}
    verdicts = verify(f"{sentence}[{n}]{wrong}[{n}]", passages, question_lang="zh").sentences
    assert [(c.supported, c.citations) for c in verdicts] == [(True, (1,)), (False, (1,))]
    assert "160" in verdicts[1].reason


def test_answer_with_nothing_supported_falls_back_to_the_extractive_answer(assistant, server, llm, evidence) -> None:  # noqa: ANN001
    n, sentence = evidence
    server.respond = lambda messages: f"{sentence.replace('150', '160')}[{n}] 这一点非常重要。"
    answer = generate_answer(assistant, QUESTION, settings=llm)
    assert answer.mode == "extractive" and "150" in answer.answer and "160" not in answer.answer
    assert answer.notes[0].startswith("generated answer unusable (no sentence is supported")
    assert answer.notes[0].endswith("showing the extractive answer")


def test_answer_in_the_wrong_language_falls_back(assistant, server, llm, evidence) -> None:  # noqa: ANN001
    n, _ = evidence
    server.respond = lambda messages: f"China is a major trading partner of more than 150 countries and regions [{n}]."
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
    n, sentence = evidence
    draft = f"{sentence}[{n}]"
    server.respond = lambda messages: draft
    items = list(stream_answer(assistant, QUESTION, settings=llm))
    tokens, final = items[:-1], items[-1]
    assert len(tokens) > 3 and all(isinstance(t, str) for t in tokens)
    assert "".join(tokens) == draft
    assert isinstance(final, rag.Answer) and final.answer.endswith("[1]") and final.citations
    assert "first_token" in final.timings_ms
    assert server.requests[-1].get("stream") is True


def test_follow_up_is_condensed_by_the_model_before_retrieval(assistant, server, llm, evidence) -> None:  # noqa: ANN001
    n, sentence = evidence
    standalone = "中国已成为多少个国家和地区的主要贸易伙伴？"
    first_q, first_a = "中国跨境电商的贸易伙伴有什么变化？", "贸易伙伴呈现多元化趋势[1]。"

    def respond(messages: list[dict]) -> str:
        if messages[0]["content"] == prompts.CONDENSE_SYSTEM["zh"]:
            return f"独立问题：{standalone}"
        return f"{sentence}[{n}]"

    server.respond = respond
    answer = generate_answer(assistant, "那有多少个国家呢？", history=[(first_q, first_a)], settings=llm)
    condense, generate = server.requests
    assert first_q in condense["messages"][-1]["content"] and "多元化趋势" in condense["messages"][-1]["content"]
    assert "那有多少个国家呢？" in condense["messages"][-1]["content"]
    assert answer.standalone_question == standalone and answer.question == "那有多少个国家呢？"
    assert standalone in generate["messages"][-1]["content"]
    assert "150" in answer.answer and answer.citations


def test_unreachable_endpoint_names_the_url_and_the_fix(assistant) -> None:  # noqa: ANN001
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    llm = LLMSettings(backend="openai", base_url=f"http://127.0.0.1:{port}/v1", model="m", timeout=5)
    with pytest.raises(rag.ModelNotAvailableError) as err:
        generate_answer(assistant, QUESTION, settings=llm)
    assert f"127.0.0.1:{port}" in str(err.value) and "RAG_LLM=extractive" in str(err.value)


def test_missing_model_name_is_a_clear_error(assistant) -> None:  # noqa: ANN001
    with pytest.raises(rag.ModelNotAvailableError, match="RAG_LLM_MODEL"):
        generate_answer(assistant, QUESTION, settings=LLMSettings(backend="openai"))


def test_english_answer_over_chinese_passages_is_checked_across_languages(assistant, server, llm) -> None:  # noqa: ANN001
    question = "With how many countries and regions is China a major trading partner?"
    base = assistant.ask(question)
    n = next((p.n for p in base.passages if "150 多个" in p.text), None)
    if base.abstained or n is None:
        pytest.skip("retrieval no longer finds the trade-partner passage for the English question")
    good = f"China has become a major trading partner of more than 150 countries and regions [{n}]."
    bad = f"China's cross-border e-commerce grew by 160 percent [{n}]."
    server.respond = lambda messages: f"{good} {bad}"
    answer = generate_answer(assistant, question, settings=llm)
    assert answer.mode == "openai" and answer.language == "en"
    assert answer.answer.startswith("China has become") and "⚠ China's cross-border" in answer.answer
    assert answer.answer.endswith("[unsupported]")
    assert any("sentence 2 unsupported: figure 160" in note for note in answer.notes)
    assert "Answer in English" in server.requests[-1]["messages"][0]["content"]
