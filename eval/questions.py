"""Load and validate a question file: JSON Lines or CSV. Only `question` is required; the other
fields (the schema of eval/sets/dev.jsonl) are optional, and the metrics that need a missing
field are skipped for that question (the summary says which and why).

CSV: a header row naming the columns; list columns (gold_docs, evidence, tags) hold a JSON list
or items separated by ";"; answer_keys holds JSON ([["20%"], ["阿里巴巴"]]) or groups separated
by ";" whose alternatives are separated by "|"; answerable and multi_doc hold true/false/yes/no/1/0."""

from __future__ import annotations

import csv
import io
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


REQUIRED = ("question",)
_TRUE, _FALSE = {"true", "yes", "1", "y"}, {"false", "no", "0", "n"}


def load_questions(path: Path | str) -> list[dict[str, Any]]:
    """Every question of a JSON Lines or CSV file, validated, with the optional fields filled
    (see `complete`). Raises QuestionFileError naming line and field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionFileError(path, [f"cannot read the file ({exc})"]) from None
    rows = _csv_rows(text) if path.suffix.lower() == ".csv" else _jsonl_rows(text)
    questions: list[dict[str, Any]] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for ln, q in rows:
        if isinstance(q, str):  # a line that could not be parsed
            problems.append(f"line {ln}: {q}")
            continue
        if isinstance(q, dict):
            q = complete(q, ln)
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


def _jsonl_rows(text: str) -> list[tuple[int, Any]]:
    rows: list[tuple[int, Any]] = []
    for ln, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            rows.append((ln, json.loads(line)))
        except json.JSONDecodeError as exc:
            rows.append((ln, f"not valid JSON ({exc.msg} at column {exc.colno})"))
    return rows


def _csv_rows(text: str) -> list[tuple[int, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "question" not in reader.fieldnames:
        return [(1, f"a CSV question file needs a header row with a 'question' column, got {reader.fieldnames}")]
    rows: list[tuple[int, Any]] = []
    for row in reader:
        ln = reader.line_num
        try:
            rows.append((ln, {k: _csv_value(k, v) for k, v in row.items() if k and v not in (None, "")}))
        except ValueError as exc:
            rows.append((ln, str(exc)))
    return rows


def _csv_value(name: str, raw: str) -> Any:
    raw = raw.strip()
    if name in ("answerable", "multi_doc"):
        if raw.lower() in _TRUE | _FALSE:
            return raw.lower() in _TRUE
        raise ValueError(f"field {name!r} is {raw!r}; use true or false")
    if name in ("gold_docs", "evidence", "tags", "answer_keys") and raw.startswith("["):
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"field {name!r} is not valid JSON ({exc.msg})") from None
    if name in ("gold_docs", "evidence", "tags"):
        return [x.strip() for x in raw.split(";") if x.strip()]
    if name == "answer_keys":
        return [[a.strip() for a in g.split("|") if a.strip()] for g in raw.split(";") if g.strip()]
    return raw


def complete(q: dict[str, Any], line: int) -> dict[str, Any]:
    """The question with every optional field present: id "q-<line>", lang detected, lists
    empty, multi_doc false, answerable true when gold labels are given and None (unknown)
    when none are. Metrics skip what a question does not label."""
    import rag

    out = dict(q)
    out.setdefault("id", f"q-{line:03d}")
    if isinstance(out.get("question"), str):
        out.setdefault("lang", rag.language_of(out["question"]))
    for name in ("gold_docs", "evidence", "answer_keys", "tags"):
        out.setdefault(name, [])
    out.setdefault("multi_doc", False)
    if "answerable" not in out:
        labelled = any(isinstance(out.get(n), list) and out[n] for n in ("gold_docs", "evidence", "answer_keys"))
        out["answerable"] = True if labelled else None
    return out


def question_problems(q: object) -> list[str]:
    """What is wrong with one parsed line, as 'field ...: ...' phrases (empty when valid)."""
    if not isinstance(q, dict):
        return [f"expected a JSON object, got {type(q).__name__}"]
    problems = [f"missing field {name!r}" for name in REQUIRED if name not in q]
    for name, kind in FIELDS.items():
        if name == "answerable" and q.get(name) is None:
            continue  # unknown: answerability metrics are skipped
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
    if q["answerable"] is None:
        return []
    if not q["answerable"]:
        if q["gold_docs"] or q["evidence"] or q["answer_keys"]:
            return ["field 'answerable' is false but gold_docs/evidence/answer_keys are not empty"]
        return []
    problems = []
    if q["multi_doc"] and len(q["gold_docs"]) < 2:
        problems.append("field 'multi_doc' is true but fewer than 2 gold_docs are listed")
    return problems
