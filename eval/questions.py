"""Load and validate a question file (JSON lines, the schema of eval/questions.jsonl)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rag import RagError

FIELDS: dict[str, type] = {
    "id": str,
    "lang": str,
    "question": str,
    "gold_docs": list,
    "evidence": list,
    "answer_keys": list,
    "answerable": bool,
    "multi_doc": bool,
    "tags": list,
}


class QuestionFileError(RagError):
    """A question file that cannot be used; the message lists every problem with its line."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{path}: {len(problems)} problem(s) in the question file:\n  {shown}{more}")


def load_questions(path: Path | str) -> list[dict[str, Any]]:
    """Every question of a JSON-lines file, validated. Raises QuestionFileError naming line and field."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionFileError(path, [f"cannot read the file ({exc})"]) from None
    questions: list[dict[str, Any]] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for ln, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {ln}: not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        found = question_problems(q)
        if isinstance(q, dict) and isinstance(q.get("id"), str):
            if q["id"] in seen:
                found.append(f"field 'id': {q['id']!r} already used on line {seen[q['id']]}")
            seen.setdefault(q["id"], ln)
        problems += [f"line {ln}: {p}" for p in found]
        if not found:
            questions.append(q)
    if not questions and not problems:
        problems.append("no questions (the file is empty)")
    if problems:
        raise QuestionFileError(path, problems)
    return questions


def question_problems(q: object) -> list[str]:
    """What is wrong with one parsed line, as 'field ...: ...' phrases (empty when valid)."""
    if not isinstance(q, dict):
        return [f"expected a JSON object, got {type(q).__name__}"]
    problems = [f"missing field {name!r}" for name in FIELDS if name not in q]
    for name, kind in FIELDS.items():
        if name in q and not isinstance(q[name], kind):
            problems.append(f"field {name!r} should be {kind.__name__}, got {type(q[name]).__name__}")
    if problems:
        return problems
    if not q["id"].strip():
        problems.append("field 'id' is empty")
    if q["lang"] not in ("zh", "en"):
        problems.append(f"field 'lang' is {q['lang']!r}; use 'zh' or 'en'")
    if not q["question"].strip():
        problems.append("field 'question' is empty")
    for name in ("gold_docs", "evidence", "tags"):
        if not all(isinstance(x, str) and x.strip() for x in q[name]):
            problems.append(f"field {name!r} must hold non-empty strings")
    groups = q["answer_keys"]
    if not all(isinstance(g, list) and g and all(isinstance(a, str) and a.strip() for a in g) for g in groups):
        problems.append("field 'answer_keys' must be a list of non-empty lists of strings, e.g. [[\"20%\"]]")
    return problems + _answerable_problems(q)


def _answerable_problems(q: dict[str, Any]) -> list[str]:
    if not q["answerable"]:
        if q["gold_docs"] or q["evidence"] or q["answer_keys"]:
            return ["field 'answerable' is false but gold_docs/evidence/answer_keys are not empty"]
        return []
    problems = [
        f"field {name!r} is empty on an answerable question"
        for name in ("gold_docs", "evidence", "answer_keys")
        if not q[name]
    ]
    if q["multi_doc"] and len(q["gold_docs"]) < 2:
        problems.append("field 'multi_doc' is true but fewer than 2 gold_docs are listed")
    return problems
