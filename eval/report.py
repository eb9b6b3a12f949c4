"""The run's summary.md and the diff against the previous run (pure functions of report dicts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eval.metrics import flatten
from rag import page_label

LABELS = {
    "n": "questions",
    "hit_at_1": "hit@1",
    "hit_at_k": "hit@k",
    "mrr_at_10": "MRR@10",
    "multi_doc_gold_share": "gold docs in top k (multi-doc)",
    "answer_accuracy": "answer-key accuracy",
    "false_abstention_rate": "false abstention (answerable) ↓",
    "unanswerable_abstention_rate": "abstention on unanswerable",
    "cited_rate": "answers with citations",
    "citation_precision": "citation precision (doc)",
    "evidence_support": "cited quote holds evidence",
    "marker_resolution": "[n] markers resolve",
    "sentence_supported": "sentences supported",
    "page_accuracy": "page accuracy (evidence's printed page)",
    "page_n": "page: questions judged",
    "page_no_truth": "page: evidence not in truth",
    "page_no_hit": "page: no passage holds evidence",
}
COUNTS = ("n", "n_answerable", "page_n", "page_no_truth", "page_no_hit")
SYSTEM_METRICS = [
    "hit_at_1",
    "hit_at_k",
    "mrr_at_10",
    "multi_doc_gold_share",
    "answer_accuracy",
    "false_abstention_rate",
    "unanswerable_abstention_rate",
    "evidence_support",
    "latency_total_p50",
    "latency_total_p95",
]
TAG_METRICS = ["n", "hit_at_k", "mrr_at_10", "answer_accuracy", "evidence_support", "unanswerable_abstention_rate"]
DIFF_GROUPS = ("overall", "zh", "en")
DIFF_LATENCY = ("overall.latency_total_p50", "overall.latency_total_p95")  # the rest is noise between runs


def diff_reports(new: dict[str, Any], old: dict[str, Any], main: str) -> dict[str, Any]:
    """Metric changes (overall/zh/en, every system in both runs), questions newly passing or failing
    and changed top-k chunk keys of the main system."""
    changes: dict[str, dict[str, list[Any]]] = {}
    for system in new["systems"].keys() & old.get("systems", {}).keys():
        a, b = (flatten(r["systems"][system]["metrics"]) for r in (old, new))
        changes[system] = {
            name: [a.get(name), value] for name, value in b.items() if _diffable(name) and a.get(name) != value
        }
    before = {r["id"]: r for r in old.get("systems", {}).get(main, {}).get("questions", [])}
    after = {r["id"]: r for r in new["systems"][main]["questions"]}
    both = [i for i in after if i in before]
    return {
        "previous": {key: old.get("meta", {}).get(key) for key in ("finished", "git_commit", "k", "questions_sha256")},
        "k": new["meta"]["k"],
        "questions_sha256": new["meta"]["questions_sha256"],
        "metrics": changes,
        "newly_passing": [i for i in both if after[i]["passed"] and not before[i]["passed"]],
        "newly_failing": [i for i in both if before[i]["passed"] and not after[i]["passed"]],
        "topk_changed": [_topk_change(i, before[i], after[i]) for i in both if _keys(before[i]) != _keys(after[i])],
        "added_questions": [i for i in after if i not in before],
        "dropped_questions": [i for i in before if i not in after],
    }


def _diffable(name: str) -> bool:
    group, metric = name.split(".", 1)
    return group in DIFF_GROUPS and (not metric.startswith("latency_") or name in DIFF_LATENCY)


def _keys(row: dict[str, Any]) -> list[str]:
    return [p["key"] for p in row.get("top", [])]


def _topk_change(qid: str, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    old, new = _keys(before), _keys(after)
    return {
        "id": qid,
        "removed": [k for k in old if k not in new],
        "added": [k for k in new if k not in old],
        "reordered": set(old) == set(new),
    }


def render_summary(report: dict[str, Any], main: str) -> str:
    """The run as Markdown: settings, metric tables, baselines, changes, failures."""
    parts = [_header(report["meta"]), _metrics_table(report["systems"][main]), _tag_table(report["systems"][main])]
    if len(report["systems"]) > 1:
        parts.append(_systems_table(report["systems"]))
    if report.get("diff"):
        parts.append(_diff_section(report["diff"], main))
    if report["meta"].get("truth"):
        parts.append(_page_table(report["systems"][main]))
    parts.append(_failure_table(report["systems"][main]))
    return "\n\n".join(parts) + "\n"


def _header(meta: dict[str, Any]) -> str:
    s = meta["settings"]
    return "\n".join(
        [
            f"# Eval run {meta['finished']}",
            "",
            f"- commit `{meta['git_commit']}`, rag {meta['rag_version']}, {meta['seconds']} s",
            f"- questions: {meta['n_questions']} from `{meta['questions_path']}` (sha256 {meta['questions_sha256']})",
            f"- k={meta['k']}; embedder `{s.get('embedder')}`, bridge `{s.get('bridge_encoder')}`; "
            f"chunks {s.get('chunk_chars')}/{s.get('chunk_overlap')} chars; dense={s.get('use_dense')}, "
            f"bm25={s.get('use_bm25')}; answer mode `{s.get('answer_mode', 'extractive')}`; "
            f"reranker `{s.get('reranker')}`",
            *([f"- printed pages judged against `{meta['truth']}`"] if meta.get("truth") else []),
            *(["", "Skipped metrics (labels missing in the question file):"] if meta.get("skipped") else []),
            *(f"- {line}" for line in meta.get("skipped", [])),
        ]
    )


def _metrics_table(system: dict[str, Any]) -> str:
    m = system["metrics"]
    groups = [g for g in DIFF_GROUPS if g in m]
    names = [n for n in m["overall"] if n != "n_answerable"]
    lines = [
        f"## Metrics: {system['label']}",
        "",
        "| metric | " + " | ".join(groups) + " |",
        "|---|" + "---:|" * len(groups),
    ]
    lines += [f"| {_label(n)} | " + " | ".join(_fmt(m[g].get(n), n) for g in groups) + " |" for n in names]
    return "\n".join(lines)


def _tag_table(system: dict[str, Any]) -> str:
    tags = sorted(g for g in system["metrics"] if g.startswith("tag:"))
    lines = [
        "## By tag",
        "",
        "| tag | " + " | ".join(_label(n) for n in TAG_METRICS) + " |",
        "|---|" + "---:|" * len(TAG_METRICS),
    ]
    lines += [
        f"| {t[4:]} | " + " | ".join(_fmt(system["metrics"][t].get(n), n) for n in TAG_METRICS) + " |" for t in tags
    ]
    return "\n".join(lines)


def _systems_table(systems: dict[str, Any]) -> str:
    lines = [
        "## Baselines (overall, then per language)",
        "",
        "| metric | " + " | ".join(s["label"] for s in systems.values()) + " |",
        "|---|" + "---:|" * len(systems),
    ]
    per_lang = [(g, n) for g in ("zh", "en") for n in ("hit_at_k", "answer_accuracy")]
    rows = [("overall", n) for n in SYSTEM_METRICS] + per_lang
    for group, name in rows:
        cells = [_fmt(s["metrics"].get(group, {}).get(name), name) for s in systems.values()]
        prefix = "" if group == "overall" else f"{group}: "
        lines.append(f"| {prefix}{_label(name)} | " + " | ".join(cells) + " |")
    lines.append("| run time (s) | " + " | ".join(str(s.get("seconds", "")) for s in systems.values()) + " |")
    return "\n".join(lines)


def _diff_section(diff: dict[str, Any], main: str) -> str:
    prev = diff["previous"]
    lines = [f"## Changes since the previous run ({prev.get('finished')}, commit `{prev.get('git_commit')}`)", ""]
    for key, now in (("k", diff.get("k")), ("questions_sha256", diff.get("questions_sha256"))):
        if prev.get(key) != now:
            lines += [f"**{key} changed: {prev.get(key)} -> {now}; the runs are not directly comparable.**", ""]
    changed = diff["metrics"].get(main, {})
    if changed:
        lines += ["| metric | before | after | Δ |", "|---|---:|---:|---:|"]
        for name, (old, new) in sorted(changed.items()):
            metric = name.split(".", 1)[1]
            delta = _fmt_delta(old, new, metric)
            lines.append(f"| {name} | {_fmt(old, metric)} | {_fmt(new, metric)} | {delta} |")
    else:
        lines.append("No metric of the main system changed.")
    lines += [
        "",
        f"- newly passing ({len(diff['newly_passing'])}): {', '.join(diff['newly_passing']) or '–'}",
        f"- newly failing ({len(diff['newly_failing'])}): {', '.join(diff['newly_failing']) or '–'}",
        f"- top-k chunk keys changed for {len(diff['topk_changed'])} question(s)",
    ]
    for c in diff["topk_changed"][:40]:
        what = (
            "reordered"
            if c["reordered"]
            else f"-{len(c['removed'])} +{len(c['added'])}: "
            + ", ".join([f"-`{k}`" for k in c["removed"]] + [f"+`{k}`" for k in c["added"]])
        )
        lines.append(f"  - {c['id']}: {what}")
    for key in ("added_questions", "dropped_questions"):
        if diff.get(key):
            lines.append(f"- {key.replace('_', ' ')}: {', '.join(diff[key])}")
    return "\n".join(lines)


def _page_table(system: dict[str, Any]) -> str:
    """The questions whose first evidence-holding passage shows the wrong printed pages."""
    wrong = [r for r in system["questions"] if r.get("page", {}).get("verdict") == "wrong"]
    lines = [
        f"## Wrong pages: {system['label']} ({len(wrong)})",
        "",
        "| id | evidence on pages | passage pages | passage rank |",
        "|---|---|---|---:|",
    ]
    for r in wrong:
        page = r["page"]
        shown = page_label(*page["chunk_pages"]) if page.get("chunk_pages") else "none"
        lines.append(f"| {r['id']} | {', '.join(map(str, page['true_pages']))} | {shown} | {page['rank']} |")
    return "\n".join(lines)


def _failure_table(system: dict[str, Any]) -> str:
    failed = [r for r in system["questions"] if not r["passed"]]
    lines = [
        f"## Failures: {system['label']} ({len(failed)} of {len(system['questions'])})",
        "",
        "| id | question | what failed | top passages |",
        "|---|---|---|---|",
    ]
    for r in failed:
        top = "<br>".join(f"`{p['key']}` {p['snippet']}" for p in r["top"][:3])
        lines.append(f"| {r['id']} | {_cell(r['question'])} | {_cell('; '.join(r['failures']))} | {_cell(top)} |")
    return "\n".join(lines)


def _fmt_delta(old: Any, new: Any, name: str) -> str:
    if not (isinstance(old, int | float) and isinstance(new, int | float)):
        return ""
    return f"{new - old:+.0f}" if name.startswith("latency_") or name in COUNTS else f"{new - old:+.3f}"


def _label(name: str) -> str:
    if name.startswith("latency_"):
        stage, pct = name[len("latency_") :].rsplit("_", 1)
        return f"latency {stage} {pct} (ms)"
    return LABELS.get(name, name)


def _fmt(value: Any, name: str) -> str:
    if value is None:
        return "–"
    if name.startswith("latency_"):
        return f"{value:.0f}"
    if name in COUNTS:
        return str(value)
    return f"{value:.3f}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


SPLIT_METRICS = [
    "hit_at_k",
    "mrr_at_10",
    "answer_accuracy",
    "false_abstention_rate",
    "unanswerable_abstention_rate",
    "citation_precision",
    "evidence_support",
]


def render_splits(reports: dict[str, dict[str, Any]], main: str) -> str:
    """One table with the splits side by side (overall, zh, en): dev is tuned on, test is not."""
    names = list(reports)
    header = "| metric | " + " | ".join(f"{n} {g}" for n in names for g in DIFF_GROUPS) + " |"
    lines = [
        "# Eval: " + " vs ".join(f"{n} ({reports[n]['meta']['n_questions']} questions)" for n in names),
        "",
        "dev is the split weights and thresholds were chosen on; test was written apart and gates CI.",
        "",
        header,
        "|---|" + "---:|" * (len(names) * len(DIFF_GROUPS)),
    ]
    paged = any("page_accuracy" in reports[n]["systems"][main]["metrics"].get("overall", {}) for n in names)
    for metric in SPLIT_METRICS + (["page_accuracy"] if paged else []):
        cells = []
        for n in names:
            m = reports[n]["systems"][main]["metrics"]
            cells += [_fmt(m.get(g, {}).get(metric), metric) for g in DIFF_GROUPS]
        lines.append(f"| {_label(metric)} | " + " | ".join(cells) + " |")
    conv = [reports[n].get("conversations", {}).get("follow_up_accuracy") for n in names]
    if any(v is not None for v in conv):
        cells = [c for v in conv for c in (_fmt(v, "follow_up_accuracy"), "", "")]
        lines.append("| follow-up accuracy (conversations) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# (group, metric) rows of the parity table (eval/parity.py), in order.
PARITY_ROWS = [
    ("zh", "hit_at_k"),
    ("en", "hit_at_k"),
    ("overall", "hit_at_k"),
    ("overall", "answer_accuracy"),
    ("overall", "unanswerable_abstention_rate"),
    ("overall", "false_abstention_rate"),
    ("overall", "citation_precision"),
    ("overall", "page_accuracy"),
]


def _group_value(breakdown: dict[str, dict[str, Any]], group: str, metric: str) -> Any:
    return breakdown.get(group, {}).get(metric)


def render_parity(name: str, text: dict[str, dict[str, Any]], other: dict[str, dict[str, Any]], corpus: Path) -> str:
    """One Markdown table: text | other | Δ per row, with the page counts under it."""
    lines = [
        f"# Parity on {name}: corpus/ (text) vs {corpus}",
        "",
        "| metric | text | " + f"{corpus.name} | Δ |",
        "|---|---:|---:|---:|",
    ]
    for group, metric in PARITY_ROWS:
        a, b = _group_value(text, group, metric), _group_value(other, group, metric)
        delta = f"{b - a:+.3f}" if a is not None and b is not None else ""
        cells = ["n/a" if v is None and metric == "page_accuracy" else _fmt(v, metric) for v in (a, b)]
        prefix = "" if group == "overall" else f"{group}: "
        lines.append(f"| {prefix}{_label(metric)} | {cells[0]} | {cells[1]} | {delta} |")
    o = other.get("overall", {})
    if o.get("page_accuracy") is not None or o.get("page_n") is not None:
        lines += [
            "",
            f"Page accuracy over {o.get('page_n')} questions; no truth page for {o.get('page_no_truth')}, "
            f"no passage holding the evidence in the top k for {o.get('page_no_hit')}.",
        ]
    else:
        lines += ["", f"Page accuracy n/a: no truth file (give --truth or put {corpus}/truth.json)."]
    return "\n".join(lines) + "\n"
