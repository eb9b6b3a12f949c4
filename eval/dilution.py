"""Quality under dilution: the same question set over the papers alone and over the papers plus
hundreds of unrelated documents (`rag eval --distractors DIR`), side by side. Pure functions of
the two runs' reports (report.json objects).

The limits: no answer may cite a document that is not one of the papers (a distractor), and
adding the distractors may cost at most MAX_HIT_DROP of hit@k. The other rows (accuracy,
abstention) are shown, not gated: they are measured and reported in README's Figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eval.parity import EPSILON, MAX_HIT_DROP
from eval.report import LABELS

MAIN = "rag"
ROWS = [
    ("overall", "hit_at_k"),
    ("zh", "hit_at_k"),
    ("en", "hit_at_k"),
    ("overall", "mrr_at_10"),
    ("overall", "answer_accuracy"),
    ("overall", "unanswerable_abstention_rate"),
    ("overall", "false_abstention_rate"),
    ("overall", "citation_precision"),
]


def _metrics(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return report["systems"][MAIN]["metrics"]


def _rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    return report["systems"][MAIN]["questions"]


def citing_distractors(report: dict[str, Any], papers: set[str]) -> list[str]:
    """Ids of the questions whose answer cites a document that is not one of `papers`."""
    return [r["id"] for r in _rows(report) if any(c.get("doc_id") not in papers for c in r["citations"])]


def retrieving_distractors(report: dict[str, Any], papers: set[str]) -> list[str]:
    """Ids of the questions with a distractor passage among their top k (allowed; shown for scale)."""
    return [r["id"] for r in _rows(report) if any(p.get("doc_id") not in papers for p in r["top"])]


def failures(plain: dict[str, Any], diluted: dict[str, Any], papers: set[str]) -> list[str]:
    """Readable lines for every limit the diluted run misses; empty when it holds up."""
    fails = []
    cited = citing_distractors(diluted, papers)
    if cited:
        fails.append(f"{len(cited)} answers cite a distractor document: {', '.join(cited[:10])}")
    a = _metrics(plain)["overall"].get("hit_at_k")
    b = _metrics(diluted)["overall"].get("hit_at_k")
    if a is not None and b is not None and a - b > MAX_HIT_DROP + EPSILON:
        fails.append(f"hit_at_k = {b:.3f}, {a - b:.3f} below the papers alone ({a:.3f}); at most {MAX_HIT_DROP}")
    return fails


def render(
    name: str, plain: dict[str, Any], diluted: dict[str, Any], papers: set[str], added: int, distractors: Path
) -> str:
    """One Markdown table: papers alone | with distractors | Δ, then the distractor counts."""
    lines = [
        f"# Dilution on {name}: {len(papers)} papers alone vs plus {added} documents of {distractors}",
        "",
        "| metric | papers | + distractors | Δ |",
        "|---|---:|---:|---:|",
    ]
    for group, metric in ROWS:
        a, b = (_metrics(r).get(group, {}).get(metric) for r in (plain, diluted))
        delta = f"{b - a:+.3f}" if a is not None and b is not None else ""
        cells = ["–" if v is None else f"{v:.3f}" for v in (a, b)]
        prefix = "" if group == "overall" else f"{group}: "
        lines.append(f"| {prefix}{LABELS.get(metric, metric)} | {cells[0]} | {cells[1]} | {delta} |")
    n = _metrics(diluted)["overall"]["n"]
    cited, retrieved = citing_distractors(diluted, papers), retrieving_distractors(diluted, papers)
    lines += [
        f"| answers citing a distractor | 0 | {len(cited)} | |",
        f"| questions with a distractor in the top k | 0 | {len(retrieved)} | |",
        "",
        f"{n} questions; answers citing a distractor: {', '.join(cited) or 'none'}.",
    ]
    return "\n".join(lines) + "\n"
