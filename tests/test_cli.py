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


# Issue 15, item 7: batches never abort; one output per input.
QUESTION = "跨境电商物流面临哪些问题？"
BATCH = [  # (line, what it must give)
    (json.dumps({"question": "\ud800"}), "error"),  # a lone surrogate and nothing else
    (json.dumps({"question": "跨境电商\udc80物流面临哪些问题？"}), "answer"),  # a surrogate inside a question
    ("{注意} 跨境电商综合试验区的创新效应？", "answer"),  # plain text that starts with "{"
    ("{1,2} What are the problems of cross-border logistics?", "answer"),
    ("跨境电商\x1c物流\x0b面临哪些\u2028问题？", "answer"),  # splitlines() made three questions of this
    ("跨境电商\u2029综合试验区\x85的\x0c创新效应？", "answer"),
    ("", "skipped"),
    ('{"q": "跨境电商物流面临哪些问题？"}', "error"),  # JSON without a "question"
    ('{"question": 5}', "error"),
    ("？？", "error"),
    ("中国已成为多少个国家和地区的主要贸易伙伴？", "answer"),  # the batch went on to the end
]


def long_paste(length: int) -> str:
    text = " ".join((ROOT / "corpus" / "001_4139313f3243f7e4.txt").read_text(encoding="utf-8").split())
    return text[: length - len(QUESTION)] + QUESTION


@pytest.fixture(scope="module")
def batch(settings: rag.Settings, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, list[dict], str]:
    path = tmp_path_factory.mktemp("batch") / "questions.txt"
    lines = [line for line, _ in BATCH] + [long_paste(2069), long_paste(4000).replace("。", "。\u2028")]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run(["ask", "--json", "--questions", str(path), "--k", "3"], settings)
    return result.returncode, [json.loads(line) for line in result.stdout.split("\n") if line], result.stderr


@pytest.mark.slow
def test_a_batch_gives_one_json_line_per_question_in_order_and_goes_on_past_bad_ones(batch) -> None:  # noqa: ANN001
    status, out, stderr = batch
    expected = [kind for _, kind in BATCH if kind != "skipped"] + ["answer", "answer"]
    assert ["error" if "error" in o else "answer" for o in out] == expected
    assert status == 1 and "Traceback" not in stderr  # 1: some lines failed, reported in their place
    assert out[-3]["question"] == "中国已成为多少个国家和地区的主要贸易伙伴？" and not out[-3]["abstained"]
    for o in out:
        if "error" not in o:
            check_contract(o)


@pytest.mark.slow
def test_a_lone_surrogate_is_an_error_object_or_a_replacement_character(batch) -> None:  # noqa: ANN001
    _, out, _ = batch
    assert out[0] == {"question": "\ufffd", "error": out[0]["error"], "line": 1} and "empty" in out[0]["error"]
    assert out[1]["question"] == "跨境电商\ufffd物流面临哪些问题？" and out[1]["passages"]


@pytest.mark.slow
def test_separators_inside_a_line_do_not_split_it(batch) -> None:  # noqa: ANN001
    _, out, _ = batch
    assert out[4]["question"] == "跨境电商 物流 面临哪些 问题？"
    assert out[5]["question"] == "跨境电商 综合试验区 的 创新效应？"


@pytest.mark.slow
def test_a_bad_json_line_names_its_line_and_the_fix(batch) -> None:  # noqa: ANN001
    _, out, _ = batch
    assert out[6]["line"] == 8 and 'no "question" field' in out[6]["error"] and '{"question": "…"}' in out[6]["error"]
    assert out[7]["line"] == 9 and '"question" is int' in out[7]["error"]


@pytest.mark.slow
def test_a_long_paste_keeps_its_question_and_the_notes_say_so(batch) -> None:  # noqa: ANN001
    _, out, _ = batch
    for o in out[-2:]:
        assert len(o["question"]) <= 2000 and o["question"].endswith(QUESTION), o["question"][-80:]
        assert o["notes"][0].startswith("问题过长，已缩短 question shortened: ") and "limit 2000" in o["notes"][0]
    assert "2069 → " in out[-2]["notes"][0]


@pytest.mark.slow
def test_without_json_a_bad_question_prints_an_error_and_the_rest_are_answered(
    settings: rag.Settings, tmp_path: Path
) -> None:
    path = tmp_path / "qs.txt"
    path.write_text(f"？？\n{long_paste(2069)}\n", encoding="utf-8")
    result = run(["ask", "--questions", str(path)], settings)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: line 1: The question is empty")
    assert result.stdout.startswith("(note: 问题过长，已缩短 question shortened: 2069 → ")


@pytest.mark.parametrize("where", ["missing.txt", "."])
def test_an_unreadable_questions_file_says_what_to_give(settings: rag.Settings, tmp_path: Path, where: str) -> None:
    path = tmp_path / where
    result = run(["ask", "--json", "--questions", str(path)], settings)
    reason = "No such file or directory" if where == "missing.txt" else "Is a directory"
    assert result.returncode == 1 and result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr == (
        f"error: cannot read questions from {path} ({reason}). "
        "Give a file with one question per line, or - for stdin.\n"
    )


@pytest.mark.slow
def test_questions_from_stdin_with_undecodable_bytes_are_answered_with_a_note(settings: rag.Settings) -> None:
    env = dict(os.environ, RAG_INDEX_DIR=str(settings.index_dir))
    data = "跨境电商物流面临哪些问题？".encode() + b"\xff\xfe\n"
    result = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ask", "--json", "--questions", "-"],
        input=data,
        capture_output=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    [out] = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]
    assert out["question"] == "跨境电商物流面临哪些问题？\ufffd\ufffd"
    assert "line 1 is not valid UTF-8" in out["notes"][0]
