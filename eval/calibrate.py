"""Fit the abstention decision on the dev split only: a logistic regression over the named
features of rag/abstain.py, and the threshold that abstains on the most unanswerable dev
questions while keeping false abstention on answerable ones at or under --max-false.
It also picks Tuning.figure_min_term_coverage from a small grid (the feature depends on it).

    .venv/bin/python -m eval.calibrate [--questions eval/sets/dev.jsonl ...] [--out tuning.json]

Prints the fitted values as JSON (paste them into rag/tuning.py, or point RAG_TUNING at --out).
Never run it on the test split: test judges what dev chose."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import rag
from eval.harness import SETS_DIR
from eval.questions import load_questions

# The features are whatever the pipeline reports in Answer.abstention (p_unanswerable aside).
FEATURES: list[str] = []


def collect(assistant: rag.Assistant, questions: list[dict[str, Any]]) -> tuple[list[list[float]], list[int]]:
    """Feature rows and labels (1 = unanswerable) for the labelled questions."""
    rows, labels = [], []
    for q in questions:
        if q["answerable"] is None:
            continue
        try:
            answer = assistant.ask(q["question"])
        except rag.RagError:
            continue
        if not FEATURES:
            FEATURES.extend(k for k in answer.abstention if k != "p_unanswerable")
        rows.append([float(answer.abstention.get(f, 0.0)) for f in FEATURES])
        labels.append(0 if q["answerable"] else 1)
    return rows, labels


def fit(rows: list[list[float]], labels: list[int], max_false: float) -> dict[str, Any]:
    """Logistic regression (L2, balanced classes). The threshold is chosen on out-of-fold
    probabilities (5-fold cross-validation on dev), not on the fit's own: a threshold set where
    the fitted model just meets max_false on the questions it was fitted to is too tight for new
    questions. Reports the cross-validated abstention and false abstention it gives."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    x, y = np.array(rows), np.array(labels)

    def model() -> LogisticRegression:
        return LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)

    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    p = cross_val_predict(model(), x, y, cv=folds, method="predict_proba")[:, 1]
    best = (1.0, 0.0, 0.0)  # threshold, abstention on unanswerable, false abstention (out of fold)
    for threshold in sorted(set(np.round(p, 4)) | {0.5}):
        false = float(np.mean(p[y == 0] >= threshold)) if (y == 0).any() else 0.0
        caught = float(np.mean(p[y == 1] >= threshold)) if (y == 1).any() else 0.0
        if false <= max_false and (caught, -threshold) > (best[1], -best[0]):
            best = (float(threshold), caught, false)
    fitted = model().fit(x, y)
    weights = {"bias": float(fitted.intercept_[0])} | {
        f: float(w) for f, w in zip(FEATURES, fitted.coef_[0], strict=True)
    }
    return {"weights": weights, "threshold": best[0], "abstention": best[1], "false_abstention": best[2]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.calibrate", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--questions",
        type=Path,
        nargs="+",
        default=[p for p in (SETS_DIR / "dev.jsonl", SETS_DIR / "dev_extra.jsonl") if p.exists()],
    )
    parser.add_argument("--max-false", type=float, default=0.03, help="false abstention allowed on dev (0.03)")
    parser.add_argument("--out", type=Path, help="write the fitted Tuning values here (JSON)")
    parser.add_argument(
        "--coverage",
        type=float,
        nargs="+",
        default=[0.0, 0.3],
        help="figure_min_term_coverage values to try (default 0.0 0.3)",
    )
    parser.add_argument("--dump", type=Path, help="write each question's features and label here (JSON Lines)")
    args = parser.parse_args(argv)
    if any(p.name.startswith("test") for p in args.questions):
        print("error: calibrate on dev only; the test split judges the result.", file=sys.stderr)
        return 2
    questions = [q for path in args.questions for q in load_questions(path)]
    settings = rag.Settings.load()
    base = rag.Tuning.load(settings.tuning)
    results = []
    for cov in args.coverage:
        tuning = dataclasses.replace(base, figure_min_term_coverage=cov)
        rows, labels = collect(rag.load(settings, tuning=tuning), questions)
        if args.dump:
            labelled = [q for q in questions if q["answerable"] is not None]
            with open(args.dump, "w", encoding="utf-8") as fh:
                for q, row, label in zip(labelled, rows, labels, strict=False):
                    fh.write(
                        json.dumps(
                            {
                                "id": q["id"],
                                "question": q["question"],
                                "unanswerable": label,
                                "features": dict(zip(FEATURES, row, strict=True)),
                            },
                            ensure_ascii=False,
                        )
                        + "\n"
                    )
        result = fit(rows, labels, args.max_false) | {
            "figure_min_term_coverage": cov,
            "n": len(labels),
            "unanswerable": sum(labels),
        }
        print(json.dumps(result, ensure_ascii=False), flush=True)
        results.append(result)
    chosen = max(results, key=lambda r: (r["abstention"], -r["false_abstention"]))
    values = {
        "abstention_weights": {k: round(v, 4) for k, v in chosen["weights"].items()},
        "abstain_threshold": round(chosen["threshold"], 4),
        "figure_min_term_coverage": chosen["figure_min_term_coverage"],
    }
    print("chosen on dev:", json.dumps(values, ensure_ascii=False, indent=1))
    if args.out:
        args.out.write_text(json.dumps(values, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
