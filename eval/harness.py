"""Run question sets through the assistant (and optionally baselines), write report.json and
summary.md per set, diff against the previous run, and gate on eval/thresholds.json.

    rag eval                      dev and test side by side (eval/sets/{dev,test}.jsonl)
    rag eval --split test --gate  the CI gate: the test split, never tuned on
    rag eval --questions FILE     your own questions (JSON Lines or CSV; only `question` needed)
    rag eval --corpus DIR         the same sets over another folder of the same papers (e.g. PDFs),
                                  indexed into build/eval-index/; page accuracy from DIR/truth.json
    rag eval --corpus DIR --compare-text
                                  corpus/ and DIR side by side; exit 1 when DIR falls behind
    rag eval --distractors DIR    the papers alone and the papers plus DIR's unrelated documents,
                                  side by side; exit 1 when a distractor is cited (eval/dilution.py)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import rag
from eval import dilution, metrics
from eval.parity import parity_failures
from eval.questions import load_questions
from eval.report import diff_reports, render_parity, render_splits, render_summary

logger = logging.getLogger(__name__)

EVAL_DIR = Path(__file__).resolve().parent
ROOT = EVAL_DIR.parent
EVAL_INDEXES = ROOT / "build" / "eval-index"  # indexes of other corpora; never the user's index/
EVAL_CORPORA = ROOT / "build" / "eval-corpus"  # corpora assembled by the harness (papers + distractors)
PAPER_SUFFIXES = (".txt", ".md", ".pdf")
TRUTH_NAME = "truth.json"
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
    assistant: rag.Assistant | None = None,
    truth_path: Path | None = None,
) -> dict[str, Any]:
    """Evaluate every question, write report.json and summary.md into out_dir, return the report.
    `assistant` saves loading the index again (it wins over `settings`); `truth_path` (a PDF
    fixture truth.json) adds page accuracy."""
    started = time.perf_counter()
    questions = load_questions(questions_path)  # fails fast, before any model loads
    truth = load_truth(truth_path) if truth_path else None
    assistant = assistant or rag.load(settings or rag.Settings.load())
    settings = assistant.settings
    systems = {MAIN: _run_assistant(assistant, questions, k, {}, "rag (hybrid)", truth)}
    if baselines:
        systems["naive"] = _run_naive(settings, questions, k, truth)
        for name, (label, legs) in VARIANTS.items():
            systems[name] = _run_assistant(assistant, questions, k, legs, label, truth)
    report = {"meta": _meta(questions_path, questions, k, assistant.settings, started), "systems": systems}
    report["meta"]["skipped"] = metrics.skipped_metrics(questions)
    report["meta"]["truth"] = str(truth_path) if truth_path else None
    _write(Path(out_dir), report)
    return report


def _run_assistant(
    assistant: rag.Assistant,
    questions: list[dict[str, Any]],
    k: int,
    legs: dict[str, bool],
    label: str,
    truth: metrics.Truth | None = None,
) -> dict[str, Any]:
    def ask(text: str) -> dict[str, Any]:
        return assistant.ask(text, k=k, **legs).to_dict()

    def rank(text: str) -> list[dict[str, Any]]:
        return [_hit_dict(h) for h in assistant.retrieve(text, k=10, **legs)]

    return _run_system(label, questions, k, ask, rank if k < 10 else None, truth)


def _run_naive(
    settings: rag.Settings, questions: list[dict[str, Any]], k: int, truth: metrics.Truth | None = None
) -> dict[str, Any]:
    from eval.baselines import NaiveBaseline

    t0 = time.perf_counter()
    naive = NaiveBaseline(settings)
    rank = (lambda text: naive.retrieve(text, 10)) if k < 10 else None
    result = _run_system(
        "naive LangChain (1000/200, dense, FAISS)", questions, k, lambda t: naive.ask(t, k), rank, truth
    )
    result["seconds"] = round(time.perf_counter() - t0, 1)  # includes splitting and embedding the corpus
    return result


def _run_system(
    label: str,
    questions: list[dict[str, Any]],
    k: int,
    ask: AskFn,
    rank: RankFn | None,
    truth: metrics.Truth | None = None,
) -> dict[str, Any]:
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
        rows.append(_row(record, k, error, truth))
    logger.info("%s: %d questions in %.1f s", label, len(questions), time.perf_counter() - t0)
    return {
        "label": label,
        "metrics": metrics.compute_breakdown(records, k, truth),
        "questions": rows,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def _row(record: dict[str, Any], k: int, error: str | None, truth: metrics.Truth | None = None) -> dict[str, Any]:
    q, a = record["question"], record["answer"]
    judged = metrics.judge(record, k)
    failures = ([error] if error else []) + judged["failures"]
    page = metrics.judge_page(q, a.get("passages", [])[:k], truth) if truth is not None else {}
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
        **({"page": page} if page.get("verdict") else {}),
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
        "settings": {name: _plain(value) for name, value in settings.to_dict().items()},
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


def load_truth(path: Path | str) -> metrics.Truth:
    """A PDF fixture truth.json, searchable for the printed pages of evidence; RagError when unusable."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        papers = data["papers"]
        for doc_id, paper in papers.items():
            for s in paper["sentences"]:
                if not isinstance(s["text"], str) or not isinstance(s.get("page"), int | None):
                    raise ValueError(f"paper {doc_id}: a sentence needs a text and an integer page")
        return metrics.index_truth(data)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise rag.RagError(
            f"Cannot read the page truth {path} ({type(exc).__name__}: {exc}). It must be a JSON object "
            '{"papers": {doc_id: {"sentences": [{"text", "page", "page_end"}, ...]}}}; '
            "give another with --truth."
        ) from None


def eval_index_dir(corpus: Path) -> Path:
    """Where `rag eval --corpus DIR` keeps DIR's index: one folder per corpus path, under build/."""
    resolved = corpus.resolve()
    return EVAL_INDEXES / f"{resolved.name}-{hashlib.sha256(str(resolved).encode()).hexdigest()[:8]}"


def open_corpus(corpus: Path | None, index: Path | None, k: int) -> rag.Assistant:
    """The assistant over the default index, or over `corpus` indexed into `index` (default
    eval_index_dir(corpus)): built when missing, brought up to date when the folder changed,
    left as it is otherwise."""
    if corpus is None and index is None:
        return rag.load(rag.Settings.load(k=k))
    settings = rag.Settings.load(k=k, corpus_dir=corpus, index_dir=index)
    if index is None:
        settings = settings.with_(index_dir=eval_index_dir(settings.corpus_dir))
    rag.ensure_models(settings)
    report = rag.build_index(settings, progress=False)
    logger.info("index of %s: %s", settings.corpus_dir, report.summary())
    return rag.load(settings)


def diluted_corpus(papers: Path, distractors: Path, target: Path | None = None) -> tuple[Path, list[str]]:
    """A corpus folder (default under build/eval-corpus/) holding the files of `papers` (its papers,
    catalog.toml and reference-manager files; not its README.md) and the paper files of
    `distractors`. Files are copied only when new or changed and stale ones removed, so the index
    of a second run finds nothing to do. Returns the folder and the distractor file names."""
    if not distractors.is_dir():
        raise rag.CorpusError(f"Distractor folder {distractors} does not exist; build it with `make distractors`.")
    own = {p.name: p for p in sorted(papers.iterdir()) if p.is_file() and p.name != "README.md"}
    extra = {
        p.name: p
        for p in sorted(distractors.iterdir())
        if p.is_file() and p.suffix.lower() in PAPER_SUFFIXES and p.name != "README.md"
    }
    clash = sorted({Path(n).stem for n in extra} & {Path(n).stem for n in own if n.endswith(PAPER_SUFFIXES)})
    if clash:
        named = ", ".join(clash[:5])
        raise rag.CorpusError(f"{distractors} has files named like papers of {papers} ({named}); rename them.")
    if not extra:
        raise rag.CorpusError(f"{distractors} holds no .txt/.md/.pdf files to add as distractors.")
    key = hashlib.sha256(f"{papers.resolve()}\n{distractors.resolve()}".encode()).hexdigest()[:8]
    target = target or EVAL_CORPORA / f"{papers.resolve().name}+{distractors.resolve().name}-{key}"
    target.mkdir(parents=True, exist_ok=True)
    wanted = {**own, **extra}
    for stale in target.iterdir():
        if stale.name not in wanted:
            stale.unlink()
    for name, source in wanted.items():
        copy = target / name
        if not copy.is_file() or copy.read_bytes() != source.read_bytes():
            shutil.copy2(source, copy)
    return target, sorted(extra)


def truth_for(corpus: Path | None, truth: Path | None) -> Path | None:
    """--truth, else DIR/truth.json when the corpus folder has one."""
    if truth is not None:
        return truth
    default = (corpus or rag.Settings.load().corpus_dir) / TRUTH_NAME
    return default if default.is_file() else None


def gate(report: dict[str, Any], thresholds: dict[str, float]) -> list[str]:
    """The main system's metrics that miss their thresholds, as readable lines."""
    return metrics.gate_failures(metrics.flatten(report["systems"][MAIN]["metrics"]), thresholds)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag eval", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--questions", type=Path, help="your own question file (JSON Lines or CSV)")
    parser.add_argument(
        "--split", choices=[*SPLITS, "all"], default="all", help="the shipped split(s) to run (default: dev and test)"
    )
    parser.add_argument("--conversations", type=Path, help="your own multi-turn conversation file (JSON Lines)")
    parser.add_argument("--k", type=int, default=5, help="passages retrieved per question (default 5)")
    parser.add_argument(
        "--out", type=Path, help=f"run folder (default {DEFAULT_OUT}; eval/runs/corpus-NAME with --corpus)"
    )
    parser.add_argument("--baselines", action="store_true", help="also run the naive, dense-only and BM25-only systems")
    parser.add_argument("--gate", action="store_true", help="exit 1 when a metric misses eval/thresholds.json")
    parser.add_argument("--thresholds", type=Path, default=DEFAULT_THRESHOLDS, help=argparse.SUPPRESS)
    parser.add_argument(
        "--corpus", type=Path, help="evaluate over this folder of the same papers (e.g. the PDFs) instead of corpus/"
    )
    parser.add_argument("--index", type=Path, help=f"index folder for --corpus (default under {EVAL_INDEXES}/)")
    parser.add_argument(
        "--truth", type=Path, help=f"printed pages of every sentence (default: the corpus folder's {TRUTH_NAME})"
    )
    parser.add_argument(
        "--distractors",
        type=Path,
        help="also run over the papers plus this folder of unrelated documents (e.g. build/distractors) "
        "and compare; --index is then that corpus's index",
    )
    parser.add_argument(
        "--compare-text",
        action="store_true",
        help="run corpus/ and --corpus DIR side by side; exit 1 when DIR is worse (see eval/parity.py)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """`rag eval` / `python -m eval.harness`: 0 ok, 1 gate (or parity) failed, 2 unusable input."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    logging.getLogger("eval").setLevel(logging.INFO)
    if args.compare_text:
        return _compare_text(args)
    if args.distractors:
        return _with_distractors(args)
    out = args.out or _default_out(args.corpus)
    runs = _runs(args, out)
    try:
        thresholds = load_thresholds(args.thresholds) if args.gate else {}
        truth = _checked_truth(args)
        assistant = open_corpus(args.corpus, args.index, args.k)
        reports = {
            name: run_eval(path, k=args.k, out_dir=o, baselines=args.baselines, assistant=assistant, truth_path=truth)
            for name, (path, o) in runs.items()
        }
    except rag.RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name, (_path, o) in runs.items():
        print((o / "summary.md").read_text(encoding="utf-8").split("\n## Failures")[0])
        print(f"Wrote {o / 'report.json'} and summary.md ({reports[name]['meta']['seconds']} s).\n")
    _run_conversations(args, out, runs, reports, assistant)
    if len(reports) > 1:
        side_by_side = render_splits(reports, MAIN)
        _atomic_write(out / "splits.md", side_by_side)
        print(side_by_side)
    if not args.gate:
        return 0
    gated = "test" if "test" in reports else next(iter(reports))
    print(f"gate: on {gated} ({runs[gated][0]})")
    failures = gate(reports[gated], thresholds)
    for line in failures:
        print(f"gate: {line}", file=sys.stderr)
    print(f"gate: {'FAILED' if failures else 'passed'} ({len(thresholds)} thresholds, {args.thresholds})")
    return 1 if failures else 0


def _checked_truth(args: argparse.Namespace) -> Path | None:
    """The truth file of the run, read once here so that a bad one fails before any index is built."""
    truth = truth_for(args.corpus, args.truth)
    if truth is not None:
        load_truth(truth)
    return truth


def _default_out(corpus: Path | None) -> Path:
    """A run over another corpus gets its own folder, so its diff is against its own last run."""
    return DEFAULT_OUT if corpus is None else EVAL_DIR / "runs" / f"corpus-{corpus.resolve().name}"


def _runs(args: argparse.Namespace, out: Path) -> dict[str, tuple[Path, Path]]:
    """name -> (question file, run folder)."""
    if args.questions:
        return {args.questions.stem: (args.questions, out)}
    names = list(SPLITS) if args.split == "all" else [args.split]
    return {name: (SPLITS[name], out / name) for name in names}


def _run_conversations(
    args: argparse.Namespace,
    out: Path,
    runs: dict[str, tuple[Path, Path]],
    reports: dict[str, dict[str, Any]],
    assistant: rag.Assistant,
) -> None:
    files = (
        {args.conversations.stem: args.conversations}
        if args.conversations
        else {n: CONVERSATIONS[n] for n in runs if n in CONVERSATIONS and CONVERSATIONS[n].exists()}
    )
    if not files:
        return
    from eval.conversations import render, run_conversations

    for name, path in files.items():
        result = run_conversations(assistant, path, k=args.k)
        target = out / f"conversations-{name}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(target, json.dumps(result, ensure_ascii=False, indent=1))
        if name in reports:
            reports[name]["conversations"] = result["metrics"]
        print(render(result, name).split("\n| id")[0] if name == "test" else render(result, name))


def _compare_text(args: argparse.Namespace) -> int:
    """corpus/ and --corpus DIR over the same question sets; 1 when DIR misses a parity limit."""

    if args.corpus is None:
        print("error: --compare-text needs --corpus DIR (the folder to compare with corpus/).", file=sys.stderr)
        return 2
    out = args.out or EVAL_DIR / "runs" / f"parity-{args.corpus.resolve().name}"
    runs = _runs(args, out)
    results: dict[str, dict[str, dict[str, Any]]] = {}
    try:
        truth = _checked_truth(args)
        for side, corpus in (("text", None), ("corpus", args.corpus)):
            assistant = open_corpus(corpus, args.index if corpus else None, args.k)
            results[side] = {
                name: run_eval(
                    path, k=args.k, out_dir=o / side, assistant=assistant, truth_path=truth if corpus else None
                )
                for name, (path, o) in runs.items()
            }
            del assistant  # one index in memory at a time
    except rag.RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failures = []
    for name in runs:
        text, other = (results[side][name]["systems"][MAIN]["metrics"] for side in ("text", "corpus"))
        table = render_parity(name, text, other, args.corpus)
        _atomic_write(runs[name][1] / "parity.md", table)
        print(table)
        failures += [f"{name}: {line}" for line in parity_failures(text, other)]
    for line in failures:
        print(f"parity: {line}", file=sys.stderr)
    print(f"parity: {'FAILED' if failures else 'passed'} ({args.corpus} vs corpus/)")
    return 1 if failures else 0


def _with_distractors(args: argparse.Namespace) -> int:
    """The question sets over the papers alone and over the papers plus --distractors DIR, in one
    invocation; 1 when a distractor is cited or hit@k falls more than the limit."""
    out = args.out or EVAL_DIR / "runs" / f"distractors-{args.distractors.resolve().name}"
    runs = _runs(args, out)
    results: dict[str, dict[str, dict[str, Any]]] = {}
    try:
        papers = args.corpus or rag.Settings.load().corpus_dir
        diluted, added = diluted_corpus(papers, args.distractors)
        for side, corpus in (("plain", args.corpus), ("distractors", diluted)):
            assistant = open_corpus(corpus, args.index if side == "distractors" else None, args.k)
            if side == "plain":
                own = {p.doc_id for p in rag.indexed_papers(assistant.settings)}
            results[side] = {
                name: run_eval(path, k=args.k, out_dir=o / side, assistant=assistant)
                for name, (path, o) in runs.items()
            }
            del assistant  # one index in memory at a time
    except rag.RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failures = []
    for name in runs:
        plain, other = results["plain"][name], results["distractors"][name]
        table = dilution.render(name, plain, other, own, len(added), args.distractors)
        _atomic_write(runs[name][1] / "dilution.md", table)
        print(table)
        failures += [f"{name}: {line}" for line in dilution.failures(plain, other, own)]
    for line in failures:
        print(f"dilution: {line}", file=sys.stderr)
    print(f"dilution: {'FAILED' if failures else 'passed'} ({len(added)} documents of {args.distractors} added)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
