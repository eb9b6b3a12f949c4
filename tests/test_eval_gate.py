"""The real harness on the held-out test split with the default pipeline meets eval/thresholds.json;
unusable question files are refused with the line and field named; a user's own file needs only
questions. The `settings` fixture
(conftest.py) builds the index into a temporary folder when the project's own is missing or stale."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

import rag
from eval import harness

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def run_dir(settings: rag.Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("eval-run")
    harness.run_eval(harness.SPLITS["test"], k=5, out_dir=out, settings=settings)
    return out


@pytest.fixture(scope="session")
def report(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "report.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_the_default_pipeline_passes_the_gate(report: dict[str, Any]) -> None:
    thresholds = harness.load_thresholds(harness.DEFAULT_THRESHOLDS)
    failures = harness.gate(report, thresholds)
    assert not failures, "metrics under eval/thresholds.json:\n" + "\n".join(failures)


@pytest.mark.slow
def test_the_summary_lists_every_failed_question(report: dict[str, Any], run_dir: Path) -> None:
    rows = report["systems"]["rag"]["questions"]
    assert len(rows) == report["meta"]["n_questions"] >= 75
    assert all(row["passed"] == (not row["failures"]) for row in rows)
    summary = (run_dir / "summary.md").read_text(encoding="utf-8")
    assert "| hit@k |" in summary
    assert all(f"| {row['id']} |" in summary for row in rows if not row["passed"])


def test_a_broken_question_file_is_refused_with_line_and_field(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    good = json.loads(harness.SPLITS["dev"].read_text(encoding="utf-8").splitlines()[0])
    bad = tmp_path / "bad.jsonl"
    lines = [
        json.dumps(good, ensure_ascii=False),
        "{not json",
        json.dumps({**good, "id": "zh-900", "answerable": "yes"}),
        json.dumps({k: v for k, v in good.items() if k != "question"} | {"id": "zh-901"}),
        json.dumps(good, ensure_ascii=False),
    ]
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code = harness.main(["--questions", str(bad), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    assert "line 2: not valid JSON" in err
    assert "line 3: field 'answerable' should be bool, got str" in err
    assert "line 4: missing field 'question'" in err
    assert "line 5: field 'id': 'zh-001' already used on line 1" in err
    assert not (tmp_path / "run").exists()  # refused before any model or index was loaded


def test_the_harness_imports_only_the_front_door_of_rag() -> None:
    for path in (ROOT / "eval").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rag."):
                pytest.fail(f"{path.name} imports {node.module}; use `import rag` / `from rag import ...`")
            if isinstance(node, ast.Import) and any(a.name.startswith("rag.") for a in node.names):
                pytest.fail(f"{path.name} imports a rag submodule; use `import rag`")


def test_a_question_the_pipeline_refuses_is_a_failure_not_a_crash(settings: rag.Settings, tmp_path: Path) -> None:
    q = {
        "id": "zh-999",
        "lang": "zh",
        "question": "？？？",
        "gold_docs": ["000_0ea6e26401eae5d1"],
        "evidence": ["以阿里巴巴国际站成立为标志"],
        "answer_keys": [["阿里巴巴"]],
        "answerable": True,
        "multi_doc": False,
        "tags": ["factual"],
    }
    path = tmp_path / "odd.jsonl"
    path.write_text(json.dumps(q, ensure_ascii=False) + "\n", encoding="utf-8")
    report = harness.run_eval(path, out_dir=tmp_path / "run", settings=settings)
    row = report["systems"]["rag"]["questions"][0]
    assert not row["passed"]
    assert row["failures"][0].startswith("error: ")
    assert "zh-999" in (tmp_path / "run" / "summary.md").read_text(encoding="utf-8")


def test_a_users_own_questions_need_only_the_question_and_csv_works(settings: rag.Settings, tmp_path: Path) -> None:
    """Metrics that need a label the file lacks are skipped, and the summary says so."""
    plain = tmp_path / "mine.jsonl"
    plain.write_text(
        json.dumps({"question": "跨境电商物流面临哪些问题？"}, ensure_ascii=False)
        + "\n"
        + json.dumps({"question": "巴西的首都是哪里？", "answerable": False}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    report = harness.run_eval(plain, out_dir=tmp_path / "run", settings=settings)
    overall = report["systems"]["rag"]["metrics"]["overall"]
    assert overall["n"] == 2 and overall["hit_at_k"] is None and overall["answer_accuracy"] is None
    assert overall["unanswerable_abstention_rate"] == 1.0
    summary = (tmp_path / "run" / "summary.md").read_text(encoding="utf-8")
    assert "hit@1, hit@k, MRR@10" not in summary or "skipped" in summary
    assert "abstention and false abstention, and every answer metric: skipped on 1 of 2 questions" in summary

    table = tmp_path / "mine.csv"
    table.write_text(
        "question,gold_docs,evidence,answer_keys\n"
        "中国已成为多少个国家和地区的主要贸易伙伴？,000_0ea6e26401eae5d1,150 多个国家和地区,150\n",
        encoding="utf-8",
    )
    report = harness.run_eval(table, out_dir=tmp_path / "run-csv", settings=settings)
    row = report["systems"]["rag"]["questions"][0]
    assert row["answerable"] is True and row["passed"], row["failures"]


def test_the_shipped_splits_do_not_share_questions() -> None:
    from eval.questions import load_questions

    dev = {q["question"] for q in load_questions(harness.SPLITS["dev"])}
    test = {q["question"] for q in load_questions(harness.SPLITS["test"])}
    assert len(dev) >= 150 and len(test) >= 60 and not dev & test
