"""The run-to-run diff and the summary a developer reads after changing the pipeline."""

from __future__ import annotations

from typing import Any

from eval.report import diff_reports, render_summary


def row(qid: str, passed: bool, keys: list[str]) -> dict[str, Any]:
    return {
        "id": qid,
        "question": f"问题 {qid}",
        "passed": passed,
        "failures": [] if passed else ["answer lacks 20%"],
        "top": [{"key": k, "doc_id": k.split(":")[0], "snippet": "片段"} for k in keys],
    }


def report(rows: list[dict[str, Any]], accuracy: float, k: int = 5) -> dict[str, Any]:
    metrics = {"overall": {"n": len(rows), "answer_accuracy": accuracy, "latency_retrieve_p50": 10.0 * accuracy}}
    meta = {
        "finished": "2025-01-01T00:00:00+00:00",
        "seconds": 1.0,
        "questions_path": "q.jsonl",
        "k": k,
        "questions_sha256": "abc",
        "n_questions": len(rows),
        "rag_version": "0.1.0",
        "git_commit": "abc1234",
        "settings": {},
    }
    return {"meta": meta, "systems": {"rag": {"label": "rag", "metrics": metrics, "questions": rows}}}


OLD = report([row("zh-001", True, ["a:0", "b:10"]), row("zh-002", False, ["a:5"]), row("zh-003", True, ["c:1"])], 0.5)
NEW = report([row("zh-001", False, ["b:10", "a:0"]), row("zh-002", True, ["a:7"]), row("zh-004", True, ["c:1"])], 0.75)


def test_the_diff_names_questions_that_flipped_and_changed_chunks() -> None:
    diff = diff_reports(NEW, OLD, "rag")
    assert diff["newly_failing"] == ["zh-001"]
    assert diff["newly_passing"] == ["zh-002"]
    changes = {c["id"]: c for c in diff["topk_changed"]}
    assert changes["zh-001"]["reordered"] is True
    assert (changes["zh-002"]["removed"], changes["zh-002"]["added"]) == (["a:5"], ["a:7"])
    assert (diff["added_questions"], diff["dropped_questions"]) == (["zh-004"], ["zh-003"])


def test_the_diff_reports_metric_deltas_but_not_stage_latency_noise() -> None:
    diff = diff_reports(NEW, OLD, "rag")
    assert diff["metrics"]["rag"]["overall.answer_accuracy"] == [0.5, 0.75]
    assert "overall.latency_retrieve_p50" not in diff["metrics"]["rag"]


def test_the_summary_warns_when_runs_used_different_k_and_lists_failures() -> None:
    new = report(NEW["systems"]["rag"]["questions"], 0.75, k=3)
    new["diff"] = diff_reports(new, OLD, "rag")
    text = render_summary(new, "rag")
    assert "k changed: 5 -> 3" in text
    assert "| overall.answer_accuracy | 0.500 | 0.750 | +0.250 |" in text
    assert "| zh-001 | 问题 zh-001 | answer lacks 20% |" in text
    assert "| zh-002 |" not in text.split("## Failures")[1]


def test_the_summary_lists_wrong_pages_when_a_page_truth_was_given() -> None:
    rows = [
        row("zh-001", True, ["a:0"])
        | {"page": {"verdict": "wrong", "true_pages": [132, 133], "chunk_pages": [131, 131], "rank": 2}},
        row("zh-002", True, ["a:5"])
        | {"page": {"verdict": "right", "true_pages": [132], "chunk_pages": [132, 132], "rank": 1}},
    ]
    new = report(rows, 1.0)
    assert "Wrong pages" not in render_summary(new, "rag")
    new["meta"]["truth"] = "build/pdf-fixtures/mixed/truth.json"
    text = render_summary(new, "rag")
    assert "printed pages judged against `build/pdf-fixtures/mixed/truth.json`" in text
    assert "| zh-001 | 132, 133 | 131 | 2 |" in text
    assert "| zh-002 |" not in text.split("## Wrong pages")[1].split("## Failures")[0]
