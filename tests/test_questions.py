"""The fixed question set: well-formed, large and varied enough, and grounded in the papers."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import rag
from eval.metrics import norm
from eval.questions import load_questions

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "eval" / "sets" / "dev.jsonl"
CORPUS = ROOT / "corpus"


@pytest.fixture(scope="module")
def questions() -> list[dict[str, Any]]:
    return load_questions(QUESTIONS)


@cache
def raw_text(doc_id: str) -> str:
    return norm((CORPUS / f"{doc_id}.txt").read_text(encoding="utf-8"))


@cache
def clean_text(doc_id: str) -> str:
    return norm(rag.read_paper(CORPUS / f"{doc_id}.txt").text)


def test_every_line_is_valid_and_ids_are_unique(questions: list[dict[str, Any]]) -> None:
    lines = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(questions) == len(lines)
    assert len({q["id"] for q in questions}) == len(questions)


def test_the_set_is_large_bilingual_and_has_unanswerable_questions(questions: list[dict[str, Any]]) -> None:
    english = sum(q["lang"] == "en" for q in questions)
    unanswerable = sum(not q["answerable"] for q in questions)
    assert len(questions) >= 80
    assert english / len(questions) >= 0.25, f"only {english} of {len(questions)} questions are English"
    assert unanswerable >= 10, f"only {unanswerable} unanswerable questions"


def test_gold_documents_exist(questions: list[dict[str, Any]]) -> None:
    missing = {d for q in questions for d in q["gold_docs"] if not (CORPUS / f"{d}.txt").is_file()}
    assert not missing, f"gold docs without a corpus file: {sorted(missing)}"


@pytest.mark.parametrize("source", ["raw", "cleaned"])
def test_every_evidence_string_occurs_in_a_gold_document(questions: list[dict[str, Any]], source: str) -> None:
    """Raw: the question set matches the papers. Cleaned: citations, which quote the cleaned
    text, can contain the evidence at all."""
    text = raw_text if source == "raw" else clean_text
    absent = [
        f"{q['id']}: {ev!r}"
        for q in questions
        for ev in q["evidence"]
        if not any(norm(ev) in text(d) for d in q["gold_docs"])
    ]
    assert not absent, f"{len(absent)} evidence string(s) not in the {source} gold text:\n" + "\n".join(absent)
