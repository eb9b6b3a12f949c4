"""Run question sets through the assistant (and optionally baselines), write report.json and
summary.md per set, diff against the previous run, and gate on eval/thresholds.json.

    rag eval                      dev and test side by side (eval/sets/{dev,test}.jsonl)
    rag eval --split test --gate  the CI gate: the test split, never tuned on
    rag eval --questions FILE     your own questions (JSON Lines or CSV; only `question` needed)
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import rag
from eval import metrics
from eval.questions import load_questions
from eval.report import diff_reports, render_splits, render_summary

logger = logging.getLogger(__name__)

EVAL_DIR = Path(__file__).resolve().parent
SETS_DIR = EVAL_DIR / "sets"
SPLITS = {"dev": SETS_DIR / "dev.jsonl", "test": SETS_DIR / "test.jsonl"}
CONVERSATIONS = {"dev": SETS_DIR / "conversations_dev.jsonl", "test": SETS_DIR / "conversations_test.jsonl"}
DEFAULT_QUESTIONS = SPLITS["dev"]
DEFAULT_OUT = EVAL_DIR / "runs" / "latest"
DEFAULT_THRESHOLDS = EVAL_DIR / "thresholds.json"
MAIN = "rag"
# The systems compared with --baselines: name -> (label, retrieval legs passed to ask/retrieve).
VARIANTS: dict[str, tuple[str, dict[str, bool]]] = {
    "dense_only": ("rag, dense only", {"use_bm25": False}),
    "bm25_only": ("rag, BM25 only", {"use_dense": False}),
}

AskFn = Callable[[str], dict[str, Any]]
RankFn = Callable[[str], list[dict[str, Any]]]


def run_eval(
    questions_path: Path | str = DEFAULT_QUESTIONS,
    *,
    k: int = 5,
    out_dir: Path | str = DEFAULT_OUT,
    baselines: bool = False,
    settings: rag.Settings | None = None,
) -> dict[str, Any]:
    """Evaluate every question, write report.json and summary.md into out_dir, return the report."""
    started = time.perf_counter()
    questions = load_questions(questions_path)  # fails fast, before any model loads
    settings = settings or rag.Settings.load()
    assistant = rag.load(settings)
    systems = {MAIN: _run_assistant(assistant, questions, k, {}, "rag (hybrid)")}
    if baselines:
        systems["naive"] = _run_naive(settings, questions, k)
        for name, (label, legs) in VARIANTS.items():
            systems[name] = _run_assistant(assistant, questions, k, legs, label)
    report = {"meta": _meta(questions_path, questions, k, assistant.settings, started), "systems": systems}
    report["meta"]["skipped"] = metrics.skipped_metrics(questions)
    _write(Path(out_dir), report)
    return report


def _run_assistant(
    assistant: rag.Assistant, questions: list[dict[str, Any]], k: int, legs: dict[str, bool], label: str
) -> dict[str, Any]:
    def ask(text: str) -> dict[str, Any]:
        return assistant.ask(text, k=k, **legs).to_dict()

    def rank(text: str) -> list[dict[str, Any]]:
        return [_hit_dict(h) for h in assistant.retrieve(text, k=10, **legs)]

    return _run_system(label, questions, k, ask, rank if k < 10 else None)


def _run_naive(settings: rag.Settings, questions: list[dict[str, Any]], k: int) -> dict[str, Any]:
    from eval.baselines import NaiveBaseline

    t0 = time.perf_counter()
    naive = NaiveBaseline(settings)
    rank = (lambda text: naive.retrieve(text, 10)) if k < 10 else None
    result = _run_system("naive LangChain (1000/200, dense, FAISS)", questions, k, lambda t: naive.ask(t, k), rank)
    result["seconds"] = round(time.perf_counter() - t0, 1)  # includes splitting and embedding the corpus
    return result


def _run_system(label: str, questions: list[dict[str, Any]], k: int, ask: AskFn, rank: RankFn | None) -> dict[str, Any]:
    """Ask every question; keep the metrics and one compact row per question."""
    records, rows = [], []
    t0 = time.perf_counter()
    for q in _progress(questions, label):
        ranked, error = None, None
        try:
            answer = ask(q["question"])
            ranked = rank(q["question"]) if rank else None
        except rag.RagError as exc:
            logger.warning("%s: %s failed: %s", label, q["id"], exc)
            answer, error = _empty_answer(q["question"]), f"error: {exc}"
        record = {"question": q, "answer": answer, "ranked": ranked}
        records.append(record)
        rows.append(_row(record, k, error))
    logger.info("%s: %d questions in %.1f s", label, len(questions), time.perf_counter() - t0)
    return {
        "label": label,
        "metrics": metrics.compute_breakdown(records, k),
        "questions": rows,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def _row(record: dict[str, Any], k: int, error: str | None) -> dict[str, Any]:
    q, a = record["question"], record["answer"]
    judged = metrics.judge(record, k)
    failures = ([error] if error else []) + judged["failures"]
    return {
        "id": q["id"],
        "lang": q["lang"],
        "tags": q["tags"],
        "question": q["question"],
        "answerable": q["answerable"],
        "passed": not failures,
        "failures": failures,
        "answer": a.get("answer", ""),
        "abstained": bool(a.get("abstained")),
        "citations": [{key: c.get(key) for key in ("n", "doc_id", "key")} for c in a.get("citations", [])],
        "top": [
            {"key": p.get("key"), "doc_id": p.get("doc_id"), "snippet": _snippet(p.get("text", ""))}
            for p in a.get("passages", [])[:k]
        ],
        "timings_ms": a.get("timings_ms", {}),
    }


def _hit_dict(hit: rag.Hit) -> dict[str, Any]:
    return {"n": hit.rank, "doc_id": hit.chunk.doc_id, "key": hit.chunk.key, "text": hit.chunk.text, "score": hit.score}


def _empty_answer(question: str) -> dict[str, Any]:
    return {"question": question, "answer": "", "abstained": True, "citations": [], "passages": [], "timings_ms": {}}


def _snippet(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _meta(
    questions_path: Path | str, questions: list[dict[str, Any]], k: int, settings: rag.Settings, started: float
) -> dict[str, Any]:
    path = Path(questions_path)
    return {
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - started, 1),
        "questions_path": str(path),
        "questions_sha256": hashlib.sha256(path.read_bytes()).hexdigest()[:16],
        "n_questions": len(questions),
        "k": k,
        "rag_version": rag.__version__,
        "git_commit": _git_commit(),
        "settings": {f.name: _plain(getattr(settings, f.name)) for f in dataclasses.fields(settings)},
    }


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=EVAL_DIR,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=EVAL_DIR, capture_output=True, text=True, timeout=10)
    return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def _write(out_dir: Path, report: dict[str, Any]) -> None:
    """Move the last report.json to previous.json, then write the new report and summary."""
    out_dir.mkdir(parents=True, exist_ok=True)
    current, previous = out_dir / "report.json", out_dir / "previous.json"
    if current.exists():
        os.replace(current, previous)
    old = json.loads(previous.read_text(encoding="utf-8")) if previous.exists() else None
    report["diff"] = diff_reports(report, old, MAIN) if old else None
    _atomic_write(current, json.dumps(report, ensure_ascii=False, indent=1))
    _atomic_write(out_dir / "summary.md", render_summary(report, MAIN))


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _progress(items: list[Any], label: str) -> list[Any] | Any:
    if not sys.stderr.isatty():
        return items
    from tqdm import tqdm

    return tqdm(items, desc=label, unit="q")


def load_thresholds(path: Path | str) -> dict[str, float]:
    """The flat {"overall.hit_at_k": 0.9, ...} map; RagError when the file is unusable."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise rag.RagError(f"Cannot read thresholds from {path} ({exc}).") from None
    bad = (
        [k for k, v in data.items() if not isinstance(v, int | float) or isinstance(v, bool)]
        if isinstance(data, dict)
        else ["<the file is not a JSON object>"]
    )
    if bad:
        raise rag.RagError(f"{path}: thresholds must be a flat map of numbers; bad entries: {', '.join(bad)}")
    return {k: float(v) for k, v in data.items()}


def gate(report: dict[str, Any], thresholds: dict[str, float]) -> list[str]:
    """The main system's metrics that miss their thresholds, as readable lines."""
    return metrics.gate_failures(metrics.flatten(report["systems"][MAIN]["metrics"]), thresholds)


def main(argv: Sequence[str] | None = None) -> int:
    """`rag eval` / `python -m eval.harness`: 0 ok, 1 gate failed, 2 unusable input."""
    parser = argparse.ArgumentParser(
        prog="rag eval", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--questions", type=Path, help="your own question file (JSON Lines or CSV)")
    parser.add_argument(
        "--split", choices=[*SPLITS, "all"], default="all", help="the shipped split(s) to run (default: dev and test)"
    )
    parser.add_argument("--conversations", type=Path, help="your own multi-turn conversation file (JSON Lines)")
    parser.add_argument("--k", type=int, default=5, help="passages retrieved per question (default 5)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"run folder (default {DEFAULT_OUT})")
    parser.add_argument("--baselines", action="store_true", help="also run the naive, dense-only and BM25-only systems")
    parser.add_argument("--gate", action="store_true", help="exit 1 when a metric misses eval/thresholds.json")
    parser.add_argument("--thresholds", type=Path, default=DEFAULT_THRESHOLDS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    logging.getLogger("eval").setLevel(logging.INFO)
    if args.questions:
        runs = {args.questions.stem: (args.questions, args.out)}
    else:
        names = list(SPLITS) if args.split == "all" else [args.split]
        runs = {name: (SPLITS[name], args.out / name) for name in names}
    try:
        thresholds = load_thresholds(args.thresholds) if args.gate else {}
        settings = rag.Settings.load(k=args.k)
        reports = {
            name: run_eval(path, k=args.k, out_dir=out, baselines=args.baselines, settings=settings)
            for name, (path, out) in runs.items()
        }
    except rag.RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name, (_path, out) in runs.items():
        print((out / "summary.md").read_text(encoding="utf-8").split("\n## Failures")[0])
        print(f"Wrote {out / 'report.json'} and summary.md ({reports[name]['meta']['seconds']} s).\n")
    conversation_files = (
        {args.conversations.stem: args.conversations}
        if args.conversations
        else {n: CONVERSATIONS[n] for n in runs if n in CONVERSATIONS and CONVERSATIONS[n].exists()}
    )
    if conversation_files:
        from eval.conversations import render, run_conversations

        assistant = rag.load(rag.Settings.load(k=args.k))
        for name, path in conversation_files.items():
            result = run_conversations(assistant, path, k=args.k)
            out = args.out / f"conversations-{name}.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(out, json.dumps(result, ensure_ascii=False, indent=1))
            if name in reports:
                reports[name]["conversations"] = result["metrics"]
            print(render(result, name).split("\n| id")[0] if name == "test" else render(result, name))
    if len(reports) > 1:
        side_by_side = render_splits(reports, MAIN)
        _atomic_write(args.out / "splits.md", side_by_side)
        print(side_by_side)
    if not args.gate:
        return 0
    gated = "test" if "test" in reports else next(iter(reports))
    report = reports[gated]
    print(f"gate: on {gated} ({runs[gated][0]})")
    failures = gate(report, thresholds)
    for line in failures:
        print(f"gate: {line}", file=sys.stderr)
    print(f"gate: {'FAILED' if failures else 'passed'} ({len(thresholds)} thresholds, {args.thresholds})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
