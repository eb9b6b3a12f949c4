"""Pure metric functions: per-question records in, numbers out. No I/O.

A record is {"question": <a line of a question file>, "answer": <Answer.to_dict()>,
"ranked": [<passage dicts with "text", "doc_id", "key">, up to 10, rank order]}.
"ranked" is only needed for MRR@10 when k < 10; without it the answer's passages are used.
Rates are None when no question qualifies for them (e.g. no multi-doc question in a group).
A question may leave labels out (a user's own file): `answerable` None skips the answerability
metrics, no `evidence` skips hit@k/MRR/evidence support, no `answer_keys` skips accuracy, no
`gold_docs` skips citation precision; `skipped_metrics` says which were skipped and why.

Page accuracy needs a truth file (the PDF fixtures' truth.json, see `index_truth`): it is only
computed when one is given, and only over questions with evidence.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from typing import Any

Record = dict[str, Any]
MARKER = re.compile(r"\[(\d+)\]")
# For these lower is better: the gate reads their threshold as a maximum.
LOWER_IS_BETTER = ("false_abstention_rate", "latency_")
# A chunk whose printed pages span more than this cannot point a reader to the evidence's page.
MAX_PAGE_SPAN = 2
PAGE_LABEL = re.compile(r"^\s*(\d+)\s*(?:[–-]\s*(\d+))?\s*$")


def norm(text: str) -> str:
    """The normalisation used for every comparison: NFKC, no whitespace, lower case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def evidence_rank(evidence: Sequence[str], passages: Sequence[dict[str, Any]]) -> int | None:
    """1-based rank of the first passage containing some evidence string, or None."""
    wanted = [norm(e) for e in evidence if norm(e)]
    for rank, passage in enumerate(passages, 1):
        text = norm(passage.get("text", ""))
        if any(e in text for e in wanted):
            return rank
    return None


def missing_key_groups(answer_keys: Sequence[Sequence[str]], answer_text: str) -> list[list[str]]:
    """The answer-key groups none of whose alternatives occurs in the answer."""
    text = norm(answer_text)
    return [list(group) for group in answer_keys if not any(norm(alt) in text for alt in group)]


def marker_checks(answer: dict[str, Any]) -> list[tuple[int, bool]]:
    """Each [n] marker of the answer with whether it resolves: a citation n exists and its
    quoted text contains its cited sentence."""
    by_n = {c.get("n"): c for c in answer.get("citations", [])}
    checks = []
    for match in MARKER.finditer(answer.get("answer", "")):
        n = int(match.group(1))
        cite = by_n.get(n)
        sentence = norm(cite.get("sentence", "")) if cite else ""
        ok = bool(sentence) and sentence in norm(cite.get("text", ""))
        checks.append((n, ok))
    return checks


def judge(record: Record, k: int) -> dict[str, Any]:
    """Everything measured about one question, plus a readable list of what failed."""
    q, a = record["question"], record["answer"]
    passages = a.get("passages", [])[:k]
    ranked = (record.get("ranked") or a.get("passages", []))[:10]
    markers = marker_checks(a)
    sentences = a.get("sentences") or []
    out: dict[str, Any] = {
        "abstained": bool(a.get("abstained")),
        "markers": len(markers),
        "markers_resolved": sum(ok for _, ok in markers),
        "sentences": len(sentences),
        "sentences_supported": sum(bool(s.get("supported")) for s in sentences),
        "top_keys": [p.get("key") for p in passages],
    }
    out.update(_judge_answerable(q, a, passages, ranked) if q["answerable"] is True else {})
    out["failures"] = _failures(q, out, markers, k)
    return out


def _judge_answerable(q: Record, a: Record, passages: list[Record], ranked: list[Record]) -> dict[str, Any]:
    """Measures of an answerable question; None where the question lacks the label it needs."""
    has_evidence, has_keys, gold = bool(q["evidence"]), bool(q["answer_keys"]), set(q["gold_docs"])
    rank_k = evidence_rank(q["evidence"], passages)
    rank_10 = evidence_rank(q["evidence"], ranked)
    cites = a.get("citations", [])
    answered = not a.get("abstained")
    top_docs = {p.get("doc_id") for p in passages}
    missing = missing_key_groups(q["answer_keys"], a.get("answer", "")) if answered else q["answer_keys"]
    return {
        "hit_at_1": rank_k == 1 if has_evidence else None,
        "hit_at_k": rank_k is not None if has_evidence else None,
        "rr": (1.0 / rank_10 if rank_10 else 0.0) if has_evidence else None,
        "evidence_rank": rank_10,
        "gold_doc_share": len(gold & top_docs) / len(gold) if q["multi_doc"] and gold else None,
        "missing_keys": missing if has_keys else [],
        "correct": (answered and not missing) if has_keys else None,
        "cited": answered and bool(cites),
        "citation_precision": (
            sum(c.get("doc_id") in gold for c in cites) / len(cites) if answered and cites and gold else None
        ),
        "non_gold_cited": (
            sorted({c.get("doc_id") for c in cites if c.get("doc_id") not in gold}) if answered and gold else []
        ),
        "evidence_supported": (answered and evidence_rank(q["evidence"], cites) is not None) if has_evidence else None,
    }


def _failures(q: Record, out: dict[str, Any], markers: list[tuple[int, bool]], k: int) -> list[str]:
    fails = [f"marker [{n}] does not resolve" for n, ok in markers if not ok]
    if q["answerable"] is None:
        return fails
    if not q["answerable"]:
        return ([] if out["abstained"] else ["answered an unanswerable question"]) + fails
    if out["hit_at_k"] is False:
        found = f"rank {out['evidence_rank']}" if out["evidence_rank"] else "not in top 10"
        fails.append(f"no evidence in top {k} ({found})")
    if out["abstained"]:
        return ["false abstention", *fails]
    if out["missing_keys"]:
        fails.append("answer lacks " + " & ".join("/".join(g) for g in out["missing_keys"]))
    if not out["cited"]:
        fails.append("no citations")
    elif out["evidence_supported"] is False:
        fails.append("no cited quote holds the evidence")
    if out["non_gold_cited"]:
        fails.append("cites non-gold " + ", ".join(out["non_gold_cited"]))
    return fails


def compute_retrieval(records: Sequence[Record], k: int) -> dict[str, float | None]:
    """hit@1, hit@k, MRR@10 over answerable questions; gold-doc share of top k over multi-doc ones."""
    outs = [judge(r, k) for r in records if r["question"]["answerable"] is True]
    multi = [o["gold_doc_share"] for o in outs if o["gold_doc_share"] is not None]
    return {
        "hit_at_1": _mean(o["hit_at_1"] for o in outs),
        "hit_at_k": _mean(o["hit_at_k"] for o in outs),
        "mrr_at_10": _mean(o["rr"] for o in outs),
        "multi_doc_gold_share": _mean(multi),
    }


def compute_answers(records: Sequence[Record]) -> dict[str, float | None]:
    """Answer-key accuracy and false abstention on answerable questions; abstention on unanswerable."""
    answerable = [judge(r, 1) for r in records if r["question"]["answerable"] is True]
    unanswerable = [r for r in records if r["question"]["answerable"] is False]
    return {
        "answer_accuracy": _mean(o["correct"] for o in answerable),
        "false_abstention_rate": _mean(o["abstained"] for o in answerable),
        "unanswerable_abstention_rate": _mean(bool(r["answer"].get("abstained")) for r in unanswerable),
    }


def compute_citations(records: Sequence[Record]) -> dict[str, float | None]:
    """Citation rates over answered answerable questions; marker and sentence checks over all answers."""
    outs = [judge(r, 1) for r in records]
    answered = [
        o for r, o in zip(records, outs, strict=True) if r["question"]["answerable"] is True and not o["abstained"]
    ]
    precisions = [o["citation_precision"] for o in answered if o["citation_precision"] is not None]
    markers = sum(o["markers"] for o in outs)
    sentences = sum(o["sentences"] for o in outs)
    return {
        "cited_rate": _mean(o["cited"] for o in answered),
        "citation_precision": _mean(precisions),
        "evidence_support": _mean(o["evidence_supported"] for o in answered),
        "marker_resolution": sum(o["markers_resolved"] for o in outs) / markers if markers else None,
        "sentence_supported": sum(o["sentences_supported"] for o in outs) / sentences if sentences else None,
    }


def compute_latency(records: Sequence[Record]) -> dict[str, float | None]:
    """p50 and p95 in milliseconds of each stage found in the answers' timings_ms."""
    stages = sorted({s for r in records for s in r["answer"].get("timings_ms", {})})
    out: dict[str, float | None] = {}
    for stage in stages:
        timed = [r["answer"].get("timings_ms", {}) for r in records]
        values = [float(t[stage]) for t in timed if stage in t]
        out[f"latency_{stage}_p50"] = percentile(values, 50)
        out[f"latency_{stage}_p95"] = percentile(values, 95)
    return out


def compute_metrics(records: Sequence[Record], k: int, truth: Truth | None = None) -> dict[str, Any]:
    """All metrics of one group of records; page accuracy too when a truth is given."""
    return {
        "n": len(records),
        "n_answerable": sum(r["question"]["answerable"] is True for r in records),
        **compute_retrieval(records, k),
        **compute_answers(records),
        **compute_citations(records),
        **(compute_pages(records, truth, k) if truth is not None else {}),
        **compute_latency(records),
    }


def compute_breakdown(records: Sequence[Record], k: int, truth: Truth | None = None) -> dict[str, dict[str, Any]]:
    """Metrics overall, per language ('zh', 'en') and per tag ('tag:factual', ...)."""
    groups: dict[str, list[Record]] = {"overall": list(records)}
    for r in records:
        groups.setdefault(r["question"]["lang"], []).append(r)
    for r in records:
        for tag in r["question"]["tags"]:
            groups.setdefault(f"tag:{tag}", []).append(r)
    return {name: compute_metrics(group, k, truth) for name, group in groups.items()}


# ---------------------------------------------------------------- printed pages

# doc_id -> (the paper's normalised sentences concatenated, [(start, end, first page, last page)])
Truth = dict[str, tuple[str, list[tuple[int, int, int, int]]]]


def index_truth(truth: dict[str, Any]) -> Truth:
    """A truth.json object ({"papers": {doc_id: {"sentences": [{"text", "page", "page_end"}]}}})
    made searchable: each paper's sentences normalised (`norm`) and concatenated, with the span
    and printed pages of every sentence. Sentences without a page are skipped."""
    out: Truth = {}
    for doc_id, paper in truth.get("papers", {}).items():
        parts, spans, offset = [], [], 0
        for s in paper.get("sentences", []):
            text = norm(s.get("text", ""))
            if not text or s.get("page") is None:
                continue
            first = int(s["page"])
            last = int(s["page_end"]) if s.get("page_end") is not None else first
            parts.append(text)
            spans.append((offset, offset + len(text), first, max(first, last)))
            offset += len(text)
        out[doc_id] = ("".join(parts), spans)
    return out


def true_pages(truth: Truth, doc_id: str, evidence: str) -> set[int]:
    """The printed pages of the sentences the evidence's first and last characters fall in,
    for every place the evidence occurs in the paper; empty when it is not found."""
    text, spans = truth.get(doc_id, ("", []))
    wanted = norm(evidence)
    pages: set[int] = set()
    starts = [s[0] for s in spans]
    at = text.find(wanted) if wanted else -1
    while at >= 0:
        for pos in (at, at + len(wanted) - 1):
            _, _, first, last = spans[bisect_right(starts, pos) - 1]
            pages.update(range(first, last + 1))
        at = text.find(wanted, at + 1)
    return pages


def page_range(passage: dict[str, Any]) -> tuple[int, int] | None:
    """A passage's printed pages as (first, last): from int `page`/`page_end`, or from a
    citation's page label ("137", "137–138"); None when the source shows no pages."""
    page, page_end = passage.get("page"), passage.get("page_end")
    if isinstance(page, int):
        return page, page_end if isinstance(page_end, int) else page
    match = PAGE_LABEL.match(page) if isinstance(page, str) else None
    if not match:
        return None
    first = int(match.group(1))
    return first, int(match.group(2) or first)


def judge_page(question: Record, passages: Sequence[dict[str, Any]], truth: Truth) -> dict[str, Any]:
    """Whether the first passage holding the evidence points to the evidence's printed page:
    verdict "right", "wrong", "no_truth" (the evidence is not found in the truth of a gold paper)
    or "no_hit" (no passage holds it); None for questions without evidence. The passage's pages
    are compared with the evidence's pages in the passage's own paper; a passage without pages,
    or spanning more than MAX_PAGE_SPAN pages, is wrong."""
    evidence = [e for e in question.get("evidence") or [] if norm(e)]
    if question.get("answerable") is not True or not evidence:
        return {"verdict": None}
    if not any(true_pages(truth, d, e) for d in question.get("gold_docs") or [] for e in evidence):
        return {"verdict": "no_truth"}
    rank = evidence_rank(evidence, passages)
    if rank is None:
        return {"verdict": "no_hit"}
    hit = passages[rank - 1]
    held = [e for e in evidence if norm(e) in norm(hit.get("text", ""))]
    want = set().union(*(true_pages(truth, hit.get("doc_id", ""), e) for e in held))
    got = page_range(hit)
    right = got is not None and got[1] - got[0] + 1 <= MAX_PAGE_SPAN and bool(want & set(range(got[0], got[1] + 1)))
    return {
        "verdict": "right" if right else "wrong",
        "true_pages": sorted(want),
        "chunk_pages": list(got) if got else None,
        "rank": rank,
    }


def compute_pages(records: Sequence[Record], truth: Truth, k: int) -> dict[str, float | int | None]:
    """page_accuracy = right / (questions with both a truth page and an evidence-holding passage
    in the top k), with the counts: page_n (that denominator), page_no_truth, page_no_hit."""
    verdicts = [judge_page(r["question"], r["answer"].get("passages", [])[:k], truth)["verdict"] for r in records]
    judged = [v for v in verdicts if v in ("right", "wrong")]
    return {
        "page_accuracy": _mean(v == "right" for v in judged),
        "page_n": len(judged),
        "page_no_truth": verdicts.count("no_truth"),
        "page_no_hit": verdicts.count("no_hit"),
    }


# What each family of metrics needs from a question, for the "skipped" note of the summary.
NEEDS = {
    "answerable": ("abstention and false abstention, and every answer metric", "answerable"),
    "evidence": ("hit@1, hit@k, MRR@10, cited quote holds evidence", "evidence"),
    "answer_keys": ("answer-key accuracy", "answer_keys"),
    "gold_docs": ("citation precision, gold docs in top k", "gold_docs"),
}


def skipped_metrics(questions: Sequence[Record]) -> list[str]:
    """Readable lines for the metrics skipped on some questions because a label is missing."""
    out = []
    for field, (what, name) in NEEDS.items():
        if field == "answerable":
            missing = sum(q.get("answerable") is None for q in questions)
        else:
            missing = sum(q.get("answerable") is True and not q.get(name) for q in questions)
        if missing:
            out.append(f"{what}: skipped on {missing} of {len(questions)} questions (no `{name}`)")
    return out


def flatten(breakdown: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """{'overall.hit_at_k': 0.93, 'zh.mrr_at_10': ...}: the names thresholds.json uses."""
    return {f"{group}.{name}": value for group, metrics in breakdown.items() for name, value in metrics.items()}


def gate_failures(flat: dict[str, float | None], thresholds: dict[str, float]) -> list[str]:
    """Readable lines for every metric that misses its threshold (a maximum for lower-is-better ones)."""
    fails = []
    for name, limit in sorted(thresholds.items()):
        value = flat.get(name, "unknown")
        lower = any(part in name.split(".")[-1] for part in LOWER_IS_BETTER)
        if value == "unknown":
            fails.append(f"{name}: no such metric (known e.g. overall.hit_at_k, zh.answer_accuracy)")
        elif value is None:
            fails.append(f"{name}: not measured (no question qualifies), threshold {limit}")
        elif (value > limit) if lower else (value < limit):
            fails.append(f"{name} = {value:.3f} {'above max' if lower else 'below min'} {limit}")
    return fails


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Linear-interpolated percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * pct / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _mean(values: Iterable[float | bool | None]) -> float | None:
    items = [float(v) for v in values if v is not None]
    return sum(items) / len(items) if items else None
