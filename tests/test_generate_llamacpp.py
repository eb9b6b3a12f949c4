"""The local GGUF model through llama.cpp: a real generated answer is parsed, verified and
returned in the JSON contract. Runs only where `make llm` (scripts/provision_llm.sh) has run."""

from __future__ import annotations

import importlib.util
import json

import pytest

import rag
from rag.cite import markers
from rag.generate import LLMSettings, generate_answer, stream_answer

LLM = LLMSettings(backend="llamacpp", max_tokens=160)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None,
        reason="llama-cpp-python is not installed; run `make llm` (scripts/provision_llm.sh) to build it",
    ),
    pytest.mark.skipif(
        not LLM.model_path.is_file(),
        reason=f"no GGUF model at {LLM.model_path}; run `make llm` (scripts/provision_llm.sh) to provision it",
    ),
]

QUESTION = "中国已成为多少个国家和地区的主要贸易伙伴？"
FIELDS = {"question", "answer", "abstained", "language", "citations", "passages", "timings_ms", "mode",
          "standalone_question", "notes"}  # fmt: skip


@pytest.fixture(scope="module")
def assistant() -> rag.Assistant:
    return rag.load(rag.Settings.load())


@pytest.fixture(scope="module")
def model() -> object:
    from rag.generate import make_chat_model

    return make_chat_model(LLM)


def test_generated_answer_is_verified_and_in_the_json_contract(assistant, model) -> None:  # noqa: ANN001
    answer = generate_answer(assistant, QUESTION, chat_model=model, settings=LLM)
    out = json.loads(json.dumps(answer.to_dict(), ensure_ascii=False))
    assert set(out) >= FIELDS and out["language"] == "zh" and out["passages"]
    # Either the model's answer passed verification, or the extractive answer replaced it, said so.
    assert answer.mode in {"llamacpp", "extractive"}
    if answer.mode == "extractive":
        assert answer.notes[0].startswith("generated answer unusable (")
    if not answer.abstained:
        assert answer.citations and set(markers(answer.answer)) == {c.n for c in answer.citations}
        assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    if answer.mode == "llamacpp" and not answer.abstained:
        assert {c.key for c in answer.citations} <= {p.key for p in answer.passages}
    assert answer.timings_ms["generate"] > 0


def test_local_model_streams_tokens_then_the_answer(assistant, model) -> None:  # noqa: ANN001
    items = list(stream_answer(assistant, QUESTION, chat_model=model, settings=LLM))
    assert isinstance(items[-1], rag.Answer)
    tokens = [t for t in items[:-1] if isinstance(t, str)]
    assert len(tokens) > 1 and "first_token" in items[-1].timings_ms
