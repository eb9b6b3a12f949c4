"""The command line as a user meets it: the JSON contract, readable errors, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import rag

ROOT = Path(__file__).resolve().parent.parent

CITATION_FIELDS = {"n": int, "doc_id": str, "title": str, "text": str, "score": float, "key": str, "sentence": str}
NULLABLE = {"section": str, "page": str, "doi": str}


def run(args: list[str], settings: rag.Settings, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, RAG_INDEX_DIR=str(settings.index_dir), PYTHONIOENCODING="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        input=stdin,
        timeout=300,
    )


def check_citation(c: dict) -> None:
    for key, kind in CITATION_FIELDS.items():
        assert isinstance(c[key], kind), (key, c[key])
    for key, kind in NULLABLE.items():
        assert c[key] is None or isinstance(c[key], kind), (key, c[key])


def check_contract(obj: dict) -> None:
    assert isinstance(obj["question"], str) and isinstance(obj["answer"], str) and obj["answer"]
    assert isinstance(obj["abstained"], bool) and obj["language"] in ("zh", "en")
    assert set(obj["timings_ms"]) >= {"retrieve", "answer", "total"}
    assert all(isinstance(v, float | int) for v in obj["timings_ms"].values())
    for c in obj["citations"] + obj["passages"]:
        check_citation(c)
    assert [p["n"] for p in obj["passages"]] == list(range(1, len(obj["passages"]) + 1))
    if obj["abstained"]:
        assert obj["citations"] == []


@pytest.mark.slow
def test_ask_json_prints_one_valid_object_per_question_in_order(settings: rag.Settings, tmp_path: Path) -> None:
    questions = tmp_path / "qs.jsonl"
    questions.write_text(json.dumps({"question": "红烧肉怎么做？"}, ensure_ascii=False) + "\n", encoding="utf-8")
    result = run(
        [
            "ask",
            "--json",
            "中国已成为多少个国家和地区的主要贸易伙伴？",
            "What are the problems of cross-border logistics?",
            "--questions",
            str(questions),
            "--k",
            "4",
        ],
        settings,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["question"] for o in lines] == [
        "中国已成为多少个国家和地区的主要贸易伙伴？",
        "What are the problems of cross-border logistics?",
        "红烧肉怎么做？",
    ]
    for obj in lines:
        check_contract(obj)
        assert len(obj["passages"]) == 4
    assert lines[2]["abstained"] and not lines[0]["abstained"]


@pytest.mark.slow
def test_ask_prints_answer_and_reference_list_for_a_person(settings: rag.Settings) -> None:
    result = run(["ask", "中国已成为多少个国家和地区的主要贸易伙伴？"], settings)
    assert result.returncode == 0, result.stderr
    assert "150 多个国家和地区" in result.stdout and "参考出处" in result.stdout
    assert "[1] 中国跨境电商发展的困境及其对策研究" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("flag", ["--no-bm25", "--no-dense"])
def test_retrieval_legs_can_be_switched_off(settings: rag.Settings, flag: str) -> None:
    result = run(["ask", "--json", flag, "跨境电商综合试验区的创新效应"], settings)
    assert result.returncode == 0, result.stderr
    check_contract(json.loads(result.stdout))


def test_an_empty_question_gives_an_error_line_not_a_traceback(settings: rag.Settings) -> None:
    result = run(["ask", "   "], settings)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr


def test_a_missing_index_names_the_command_that_builds_it(tmp_path: Path) -> None:
    env = dict(os.environ, RAG_INDEX_DIR=str(tmp_path / "none"))
    result = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ask", "问题"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )
    assert result.returncode == 1 and "rag index" in result.stderr and "Traceback" not in result.stderr


def test_bad_settings_name_the_value_and_the_fix(tmp_path: Path) -> None:
    env = dict(os.environ, RAG_CHUNK_CHARS="lots")
    result = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ask", "问题"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )
    assert result.returncode == 1 and "'lots'" in result.stderr and "Traceback" not in result.stderr
