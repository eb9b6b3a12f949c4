"""The parts that can be swapped (issue: answers that generalise): one Assistant.ask over an
Answerer interface, retrieval legs as a registry with weights from Tuning, numbers in a
loadable Tuning, outlines stored at ingest. Each exercised on the real index."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

import rag


class FirstSentence:
    """A small answerer: quotes the first sentence of the best passage."""

    name: ClassVar[str] = "first-sentence"

    def condense(self, question: str, history: tuple) -> str | None:
        return None

    def stream(self, context: rag.Context) -> Iterator[str | rag.Draft]:
        best = context.passages[0]
        sentence = rag.split_sentences(best.text)[0]
        quote = best.text[sentence[0] : sentence[1]]
        yield quote
        yield rag.Draft(f"{quote}[1]", (best,), quoted=True)


def test_an_answerer_plugs_into_ask_and_its_draft_is_verified(assistant: rag.Assistant) -> None:
    answer = assistant.ask("跨境电商物流面临哪些问题？", mode=FirstSentence())
    assert answer.mode == "first-sentence" and answer.citations and answer.answer.endswith("[1]")
    assert answer.sentences and all(s.supported for s in answer.sentences)  # verification ran on it
    pieces = list(assistant.stream("跨境电商物流面临哪些问题？", mode=FirstSentence()))
    assert isinstance(pieces[0], str) and isinstance(pieces[-1], rag.Answer)


def test_the_default_answerer_is_extractive_and_unknown_modes_are_refused(assistant: rag.Assistant) -> None:
    assert assistant.ask("跨境电商物流面临哪些问题？").mode == "extractive"
    with pytest.raises(rag.RagError, match="Unknown answer mode"):
        assistant.ask("跨境电商物流面临哪些问题？", mode="telepathy")


def test_a_leg_registered_in_one_place_takes_part_in_fusion(settings: rag.Settings) -> None:
    import numpy as np

    @rag.leg
    class LongChunks(rag.Leg):
        """A toy leg: longer chunks score higher (enough to see it fused)."""

        name = "test-long"
        needs = ("bm25",)  # an artefact every served index has (serving leaves "tokens" unread)

        def score(self, query: rag.legs.Query) -> np.ndarray:
            return np.array([len(c.text) for c in self.data.chunks], dtype=np.float32)

    try:
        base = rag.Tuning()
        weights = {lang: dict(w, **{"test-long": 50.0}) for lang, w in base.leg_weights.items()}
        tuning = rag.Tuning.load(None)
        tuning = type(tuning)(**{**tuning.to_dict(), "leg_weights": weights, "pooled_languages": ("en",)})
        assistant = rag.load(settings, tuning=tuning)
        hits = assistant.retrieve("跨境电商物流面临哪些问题？", k=5)
        assert all("test-long" in h.legs for h in hits)
        longest = max(len(c.text) for c in assistant.data.chunks if c.kind != "references")
        assert len(hits[0].chunk.text) >= 0.8 * longest  # the heavy toy leg decides the order
    finally:
        del rag.LEGS["test-long"]


def test_tuning_values_load_from_a_file_and_unknown_names_are_refused(settings: rag.Settings, tmp_path: Path) -> None:
    path = tmp_path / "tuning.json"
    path.write_text(json.dumps({"plain_max_sentences": 1, "plain_min_ratio": 0.0}), encoding="utf-8")
    one = rag.load(settings.with_(tuning=str(path)))
    answer = one.ask("2024 年前三季度我国跨境电商进出口额是多少？")
    assert answer.answer.count("[") == 1
    path.write_text(json.dumps({"no_such_weight": 1}), encoding="utf-8")
    with pytest.raises(rag.RagError, match="unknown tuning values no_such_weight"):
        rag.Tuning.load(path)


def test_outlines_are_stored_at_ingest_and_answer_list_questions(assistant: rag.Assistant) -> None:
    heads = [h for h in assistant.data.headings if h.doc_id == "000_0ea6e26401eae5d1"]
    assert any(h.text.startswith("(二)") and h.level == 2 for h in heads)
    answer = assistant.ask("中国跨境电商发展中存在哪些问题？")
    assert "(二) 物流效率较为有限" in answer.answer


def test_the_langchain_adapters_wrap_the_public_assistant(assistant: rag.Assistant) -> None:
    runnable = rag.as_runnable(assistant)
    answer = runnable.invoke({"question": "跨境电商物流面临哪些问题？", "k": 3})
    assert isinstance(answer, rag.Answer) and len(answer.passages) == 3


def test_provisioning_failures_are_rag_errors() -> None:
    assert issubclass(rag.ProvisionError, rag.RagError)
