"""Speed and memory of asking, on the five papers: prints figures, asserts nothing.

    .venv/bin/python bench/bench_ask.py [--cold-runs 3] [--index]

cold: wall time of `rag ask "…"` from process start to printed answer (median of runs);
warm: per-question latency over eval/sets/dev.jsonl with models loaded (p50/p95 of the
retrieval stage and of the whole answer); peak resident memory of the warm process;
--index also times a full `rag index --rebuild` into a temporary folder."""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import rag

ROOT = Path(__file__).resolve().parent.parent


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def cold(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "rag.cli", "ask", "中国已成为多少个国家和地区的主要贸易伙伴？"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - start)
    return times


def warm() -> tuple[list[float], list[float], float]:
    questions = [json.loads(line)["question"] for line in (ROOT / "eval" / "sets" / "dev.jsonl").open(encoding="utf-8")]
    assistant = rag.load(rag.Settings.load())
    assistant.warm_up()
    retrieve, total = [], []
    for q in questions:
        answer = assistant.ask(q)
        retrieve.append(answer.timings_ms["retrieve"])
        total.append(answer.timings_ms["total"])
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return retrieve, total, peak_mb


def index_time() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, RAG_INDEX_DIR=tmp)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "rag.cli", "index", "--rebuild"], cwd=ROOT, env=env, check=True, capture_output=True
        )
        return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--index", action="store_true", help="also time a full index build")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} (figures are noisy when > cores)")
    if args.index:
        print(f"index build (5 papers, --rebuild): {index_time():.1f} s")
    times = cold(args.cold_runs)
    print(f"cold `rag ask` (process start to answer): median {statistics.median(times):.2f} s over {len(times)} runs")
    retrieve, total, peak = warm()
    print(
        f"warm retrieval ({len(retrieve)} questions): "
        f"p50 {percentile(retrieve, 50):.1f} ms, p95 {percentile(retrieve, 95):.1f} ms"
    )
    print(f"warm full answer: p50 {percentile(total, 50):.1f} ms, p95 {percentile(total, 95):.1f} ms")
    print(f"peak memory of the warm process: {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
