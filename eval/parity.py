"""PDF parity: the same question set over corpus/ (text) and over another folder of the same
papers (e.g. the PDF fixtures), side by side. A pure function of the two runs' metric breakdowns
(the table is report.render_parity); `rag eval --corpus DIR --compare-text` runs both and exits 1
when `parity_failures` is not empty.

The limits: reading the papers from PDF may cost at most MAX_HIT_DROP of hit@k (overall, zh and
en each) and MAX_ACCURACY_DROP of answer-key accuracy against the text files, and the first
passage holding the evidence must show the evidence's printed page on at least MIN_PAGE_ACCURACY
of the questions (only checked when DIR has a truth.json; "n/a" otherwise).
"""

from __future__ import annotations

from typing import Any

# 0.03 is about one question in thirty: more than re-extraction noise, less than a real loss.
MAX_HIT_DROP = 0.03
MAX_ACCURACY_DROP = 0.03
# A wrong page sends the reader to the wrong place in print; nearly all must be right.
MIN_PAGE_ACCURACY = 0.98

# The rows gated on a drop against text: (group, metric) -> the largest drop allowed.
DROP_LIMITS = {
    ("overall", "hit_at_k"): MAX_HIT_DROP,
    ("zh", "hit_at_k"): MAX_HIT_DROP,
    ("en", "hit_at_k"): MAX_HIT_DROP,
    ("overall", "answer_accuracy"): MAX_ACCURACY_DROP,
}
EPSILON = 1e-9  # 0.9 - 0.87 is 0.030000000000000027 in floats


def _value(breakdown: dict[str, dict[str, Any]], group: str, metric: str) -> float | None:
    return breakdown.get(group, {}).get(metric)


def parity_failures(text: dict[str, dict[str, Any]], other: dict[str, dict[str, Any]]) -> list[str]:
    """Readable lines for every limit the other corpus misses; empty when it keeps up with text."""
    fails = []
    for (group, metric), limit in DROP_LIMITS.items():
        a, b = _value(text, group, metric), _value(other, group, metric)
        if a is not None and b is None:
            fails.append(f"{group}.{metric}: measured on text ({a:.3f}) but not on the other corpus")
        elif a is not None and b is not None and a - b > limit + EPSILON:
            fails.append(f"{group}.{metric} = {b:.3f}, {a - b:.3f} below text ({a:.3f}); at most {limit} allowed")
    page = _value(other, "overall", "page_accuracy")
    if page is not None and page < MIN_PAGE_ACCURACY:
        fails.append(f"overall.page_accuracy = {page:.3f} below {MIN_PAGE_ACCURACY}")
    return fails
