"""The OpenAI-compatible path (RAG_LLM=openai) against a real local server: llama-cpp-python's
`python -m llama_cpp.server` on 127.0.0.1 with the packaged GGUF model, so langchain-openai,
streaming, structured output and the fallbacks meet a real server, not only the stub. Runs only
where `make llm` (scripts/provision_llm.sh) has run."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

import rag
from rag.cite import markers
from rag.generate import DEFAULT_GGUF, LLMSettings, generate_answer, stream_answer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("sse_starlette") is None,
        reason="llama-cpp-python[server] is not installed; run `make llm` (scripts/provision_llm.sh)",
    ),
    pytest.mark.skipif(not DEFAULT_GGUF.is_file(), reason=f"no GGUF model at {DEFAULT_GGUF}; run `make llm`"),
]

QUESTION = "中国已成为多少个国家和地区的主要贸易伙伴？"
QUESTION_EN = "With how many countries and regions is China a major trading partner?"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    threads = LLMSettings().threads  # as the in-process writer: one core left to the rest
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(DEFAULT_GGUF), "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", "2048", "--n_threads", str(threads)]  # fmt: skip
    # The server logs a lot while loading: to a file, not a pipe nobody reads (a full pipe blocks it).
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}  # as rag.generate loads llama.cpp
    with log.open("wb") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"llama_cpp.server exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"llama_cpp.server did not start within 300 s: {log.read_text(errors='replace')[-2000:]}"
                )
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def assistant() -> rag.Assistant:
    return rag.load(rag.Settings.load())


def _llm(url: str, **kw: object) -> LLMSettings:
    return LLMSettings(backend="openai", base_url=url, model=DEFAULT_GGUF.name, timeout=300, max_tokens=160, **kw)


def test_real_server_streams_a_written_cited_answer(assistant, server) -> None:  # noqa: ANN001
    items = list(stream_answer(assistant, QUESTION, settings=_llm(server)))
    answer = items[-1]
    assert isinstance(answer, rag.Answer) and answer.passages
    pieces = [t for t in items[:-1] if isinstance(t, str)]
    assert pieces and "first_token" in answer.timings_ms
    # The server honoured the JSON schema: no raw JSON reached the chat, sentences came whole.
    assert not any("{" in p for p in pieces)
    assert answer.mode in {"openai", "extractive"}
    if answer.mode == "extractive":  # the model's draft failed verification; said so
        assert answer.notes[0].startswith("generated answer unusable (")
    else:
        assert not answer.abstained and answer.citations
        assert set(markers(answer.answer)) == {c.n for c in answer.citations}
        assert any(s.supported for s in answer.sentences)
        assert "150" in answer.answer


def test_real_server_answers_an_english_question_in_english(assistant, server) -> None:  # noqa: ANN001
    answer = generate_answer(assistant, QUESTION_EN, settings=_llm(server))
    assert answer.language == "en"
    if answer.mode == "openai":
        assert rag.language_of(answer.answer) == "en" and answer.citations
        assert any("150" in c.sentence for c in answer.citations)  # the Chinese quote, kept beside it
    else:
        assert answer.notes[0].startswith("generated answer unusable (")


def test_real_server_without_structured_output_still_gives_a_verified_answer(assistant, server) -> None:  # noqa: ANN001
    answer = generate_answer(assistant, QUESTION, settings=_llm(server, structured="off"))
    assert answer.mode in {"openai", "extractive"} and answer.sentences
    assert "150" in answer.answer
