"""Multi-turn conversations: each turn is asked with the earlier answers as history, and judged
like a question (answer keys present, or an abstention where the papers do not answer).

A line: {"id", "lang", "turns": [{"question", "gold_docs", "answer_keys", "answerable"}, ...]}.
Reported: accuracy on first turns, on follow-up turns (the number that measures the condenser),
and the standalone question each follow-up was searched as."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import rag
from eval.metrics import missing_key_groups
from eval.questions import QuestionFileError


def load_conversations(path: Path | str) -> list[dict[str, Any]]:
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except OSError as exc:
        raise QuestionFileError(path, [f"cannot read the file ({exc})"]) from None
    out, problems = [], []
    for ln, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            conv = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {ln}: not valid JSON ({exc.msg})")
            continue
        turns = conv.get("turns") if isinstance(conv, dict) else None
        if (
            not isinstance(turns, list)
            or not turns
            or not all(isinstance(t, dict) and t.get("question") for t in turns)
        ):
            problems.append(f"line {ln}: needs 'turns', a list of objects with a 'question'")
            continue
        out.append(conv)
    if problems:
        raise QuestionFileError(path, problems)
    return out


def judge_turn(turn: dict[str, Any], answer: rag.Answer) -> bool:
    if turn.get("answerable") is False:
        return answer.abstained
    keys = turn.get("answer_keys") or []
    return not answer.abstained and not missing_key_groups(keys, answer.answer)


def run_conversations(assistant: rag.Assistant, path: Path | str, k: int = 5) -> dict[str, Any]:
    """Ask every conversation turn by turn; return the metrics and one row per turn."""
    rows = []
    for conv in load_conversations(path):
        history: list[rag.Answer] = []
        for i, turn in enumerate(conv["turns"]):
            try:
                answer = assistant.ask(turn["question"], history=history, k=k)
            except rag.RagError as exc:
                rows.append(
                    {"id": conv["id"], "turn": i + 1, "question": turn["question"], "passed": False, "error": str(exc)}
                )
                continue
            history.append(answer)
            rows.append(
                {
                    "id": conv["id"],
                    "turn": i + 1,
                    "question": turn["question"],
                    "standalone": answer.standalone_question,
                    "language_ok": answer.language == rag.language_of(turn["question"]),
                    "abstained": answer.abstained,
                    "passed": judge_turn(turn, answer),
                    "answer": answer.answer[:200],
                }
            )
    first = [r for r in rows if r["turn"] == 1]
    follow = [r for r in rows if r["turn"] > 1]
    return {
        "metrics": {
            "conversations": len(first),
            "first_turn_accuracy": _share(first),
            "follow_up_accuracy": _share(follow),
            "follow_up_turns": len(follow),
            "answer_language_ok": _share(rows, "language_ok"),
        },
        "turns": rows,
    }


def _share(rows: list[dict[str, Any]], key: str = "passed") -> float | None:
    return sum(bool(r.get(key)) for r in rows) / len(rows) if rows else None


def render(result: dict[str, Any], name: str) -> str:
    m = result["metrics"]
    lines = [
        f"## Conversations: {name}",
        "",
        f"{m['conversations']} conversations; first-turn accuracy {_fmt(m['first_turn_accuracy'])}, "
        f"follow-up accuracy {_fmt(m['follow_up_accuracy'])} over {m['follow_up_turns']} follow-up turns, "
        f"answered in the asker's language {_fmt(m['answer_language_ok'])}.",
        "",
        "| id | turn | question | searched as | passed |",
        "|---|---:|---|---|---|",
    ]
    for r in result["turns"]:
        lines.append(
            f"| {r['id']} | {r['turn']} | {r['question'][:40]} | {str(r.get('standalone', ''))[:40]} | "
            f"{'yes' if r['passed'] else 'NO'} |"
        )
    return "\n".join(lines) + "\n"


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"
