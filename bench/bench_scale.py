"""How cost grows with the library: prints one row per library size, asserts nothing.

    .venv/bin/python bench/bench_scale.py [--sizes 1k,10k,100k,1m] [--questions 60] [--work DIR]
                                          [--stores faiss,milvus]

Libraries (under --work, default build/bench-scale/; rebuilt every run, no embedding cache):
  1k, 10k  real text: the five papers plus documents of build/scale-corpus (`make scale-corpus`,
           Chinese prose from Debian packages) until about N chunks, indexed by `rag index`
  100k     the 10k library repeated with moved vectors (rag.scale_library): every leg searches
           and every answer is made for real; only the vectors are synthetic
  1m       dense search only: synthetic e5 vectors (rag.synthetic_vectors)

Per library: chunks; index chunks/s and peak RSS of `rag index` (wall time from process start,
models included); disk (the index generation, without the embedding cache); peak RSS of a
warm `rag serve` (started, answered one question, read from /proc); warm retrieval and full
answer p50/p95 over the first --questions dev questions, in one process; the retrieval split
into embedding the question and searching; cold `rag ask` (process start to printed answer,
median of 3).
With --stores faiss,milvus each library is also copied into Milvus Lite (`rag index --to milvus`,
the FAISS index's vectors re-used) and served from it (RAG_STORE=milvus) beside the folder: the
"index chunks/s" of a Milvus row is its insert rate (chunks written per second of the copy, as
rag.milvus logs it), "index peak RSS" that of the copying process, disk the Lite file.
Dense search per size (the dev questions' e5 vectors against N vectors): exact (flat) and HNSW
query p50 on one thread, HNSW recall@10 against exact, HNSW build time. The index uses exact
search up to rag.EXACT_SEARCH_LIMIT vectors and HNSW above.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import rag

ROOT = Path(__file__).resolve().parent.parent
SIZES = {"1k": 1_000, "10k": 10_000, "100k": 100_000, "1m": 1_000_000}
EF_SEARCH = (64, 128, 256, 512, 1024, 2048)  # HNSW candidate lists measured for recall@10 against exact search
CHARS_PER_CHUNK = 260  # new characters per chunk at 350/80 (measured on build/scale-corpus)
QUESTION = "跨境电商物流面临哪些问题？"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def dev_questions(n: int) -> list[str]:
    lines = (ROOT / "eval" / "sets" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()][:n]


def store_env(store: str, work: Path, size: str) -> dict[str, str] | None:
    """The environment that serves a library from `store` (None: the index folder, as ever)."""
    if store == "faiss":
        return None
    return dict(os.environ, RAG_STORE="milvus", RAG_MILVUS_URI=str(work / f"milvus-{size}.db"))


def copy_to_milvus(index: Path, corpus: Path, env: dict[str, str], log: Path) -> dict[str, float]:
    """`rag index --to milvus` of a built library: insert rate (from rag.milvus's log line) and RSS."""
    import re

    shutil.rmtree(env["RAG_MILVUS_URI"], ignore_errors=True)
    cmd = [sys.executable, "-m", "rag.cli", "-v", "index", "--to", "milvus"]
    cmd += ["--index", str(index), "--corpus", str(corpus)]
    _, rss = run_measured(cmd, log, env)
    found = re.search(r"milvus: wrote ([\d,]+) chunks into \S+ in ([\d.]+) s", log.read_text(encoding="utf-8"))
    if found is None:
        raise SystemExit(f"no insert time in {log}")
    chunks, seconds = int(found.group(1).replace(",", "")), float(found.group(2))
    return {"index_s": seconds, "index_rss_mb": rss, "chunks_per_s": chunks / seconds}


def path_mb(path: Path) -> float:
    files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
    return sum(f.stat().st_size for f in files) / 2**20


def run_measured(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run cmd to completion; (wall seconds, peak RSS MB of that process)."""
    start = time.perf_counter()
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed; see {log}")
    return wall, usage.ru_maxrss / 1024


def make_corpus(folder: Path, n_chunks: int) -> int:
    """The five papers plus scale-corpus documents, in name order, until ≈ n_chunks; returns
    the number of documents added."""
    source = ROOT / "build" / "scale-corpus"
    if not source.is_dir():
        raise SystemExit("build/scale-corpus/ is missing: run `make scale-corpus` first.")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for paper in (ROOT / "corpus").glob("*.txt"):
        shutil.copy(paper, folder / paper.name)
    budget = (n_chunks - 142) * CHARS_PER_CHUNK
    added = 0
    for doc in sorted(source.glob("*.txt")):
        if budget <= 0:
            break
        shutil.copy(doc, folder / doc.name)
        budget -= len(doc.read_text(encoding="utf-8"))
        added += 1
    return added


def disk_mb(index: Path) -> float:
    gens = [p for p in index.iterdir() if p.is_dir() and p.name.startswith("gen-")]
    return sum(f.stat().st_size for g in gens for f in g.rglob("*") if f.is_file()) / 2**20


SERVE_START_S = 1800  # a 100k library on Milvus Lite took over 600 s to open under load (its warm child: 15 min)


def serve_rss(index: Path, corpus: Path, log: Path, store_env: dict[str, str] | None = None) -> float:
    """Peak RSS (MB) of `rag serve` on the index once it is up and has answered a question
    (its output in `log`)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(store_env or os.environ, GRADIO_ANALYTICS_ENABLED="False")
    cmd = [
        sys.executable,
        "-m",
        "rag.cli",
        "serve",
        "--index",
        str(index),
        "--corpus",
        str(corpus),
        "--port",
        str(port),
    ]
    out = open(log, "w", encoding="utf-8")  # noqa: SIM115 - closed in finally, after the server
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        started = time.monotonic()
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"rag serve exited ({proc.returncode}) before it listened; see {log}")
            if time.monotonic() - started > SERVE_START_S:
                raise SystemExit(f"rag serve did not listen within {SERVE_START_S} s; see {log}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(1)
        from gradio_client import Client

        Client(f"http://127.0.0.1:{port}/", verbose=False)  # the page and its API answer
        status = Path(f"/proc/{proc.pid}/status").read_text()
        return int(status.split("VmHWM:")[1].split()[0]) / 1024
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        out.close()


def cold_ask(index: Path, corpus: Path, runs: int = 3, env: dict[str, str] | None = None) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "rag.cli", "ask", QUESTION, "--index", str(index), "--corpus", str(corpus)],
            cwd=ROOT,
            check=True,
            capture_output=True,
            env=env,
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def warm_child(index: str, corpus: str, n: int) -> None:
    """In a fresh process: load, warm up, ask; print one JSON line."""
    start = time.perf_counter()
    assistant = rag.load(rag.Settings.load(index_dir=Path(index), corpus_dir=Path(corpus)))
    loaded = time.perf_counter() - start
    assistant.warm_up()
    warmed = time.perf_counter() - start
    embed, search, retrieve, total = [], [], [], []
    for q in dev_questions(n):
        answer = assistant.ask(q)
        retrieve.append(answer.timings_ms["retrieve"])
        total.append(answer.timings_ms["total"])
        t = time.perf_counter()
        query = assistant.retriever.embed(q)
        embed.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        assistant.retriever.search(query, assistant.settings.k)
        search.append((time.perf_counter() - t) * 1000)
    status = Path("/proc/self/status").read_text()
    print(
        json.dumps(
            {
                "chunks": len(assistant.data.chunks),
                "load_s": loaded,
                "warm_s": warmed,
                "rss_mb": int(status.split("VmHWM:")[1].split()[0]) / 1024,
                "embed_p50": statistics.median(embed),
                "search_p50": statistics.median(search),
                "search_p95": percentile(search, 95),
                "retrieve_p50": statistics.median(retrieve),
                "retrieve_p95": percentile(retrieve, 95),
                "total_p50": statistics.median(total),
                "total_p95": percentile(total, 95),
            }
        )
    )


def warm(index: Path, corpus: Path, n: int, env: dict[str, str] | None = None) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(index), str(corpus), str(n)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def dense_search(source: Path, n: int, queries: list, repeats: int = 1) -> dict[str, float]:
    """Exact and HNSW search of the query vectors against n synthetic vectors drawn from source."""
    import numpy as np

    vectors = rag.synthetic_vectors(source, n)
    flat = rag.build_vector_index(vectors, exact_limit=n)
    t = time.perf_counter()
    hnsw = rag.build_vector_index(vectors, exact_limit=0)
    build_s = time.perf_counter() - t
    del vectors
    exact_ms: list[float] = []
    truths = []
    for q in queries:
        t = time.perf_counter()
        truths.append(set(rag.nearest(flat, q, 10)[0].tolist()))
        exact_ms.append((time.perf_counter() - t) * 1000)
    out: dict[str, float] = {"exact_p50": statistics.median(exact_ms), "build_s": build_s}
    for ef in EF_SEARCH:  # the shipped efSearch is rag's HNSW_EF_SEARCH; the others show the trade
        hnsw.hnsw.efSearch = ef
        hnsw_ms, recall = [], []
        for _ in range(repeats):
            for q, truth in zip(queries, truths, strict=True):
                t = time.perf_counter()
                found, _ = rag.nearest(hnsw, q, 10)
                hnsw_ms.append((time.perf_counter() - t) * 1000)
                recall.append(len(truth & set(found.tolist())) / max(1, len(truth)))
        out[f"hnsw{ef}_p50"] = statistics.median(hnsw_ms)
        out[f"hnsw{ef}_p95"] = percentile(hnsw_ms, 95)
        out[f"recall{ef}"] = float(np.mean(recall))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1k,10k,100k,1m")
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "bench-scale")
    parser.add_argument(
        "--stores", default="faiss", help="serve each library from these stores: faiss (the folder), milvus (Lite)"
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        warm_child(args.child[0], args.child[1], int(args.child[2]))
        return 0
    sizes = [s.strip().lower() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        parser.error(f"unknown size {unknown[0]!r}; choose from {', '.join(SIZES)}")
    if "100k" in sizes and not {"1k", "10k"} & set(sizes[: sizes.index("100k")]):
        parser.error("100k repeats the 10k library: put 10k (or 1k) before it in --sizes")
    args.work.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    search_rows: list[dict[str, float]] = []
    try:
        measure(args, sizes, rows, search_rows)
    finally:  # a step failing hours into a run (a server too slow to start) keeps the rows measured before it
        print_tables(rows, search_rows)
        save(args.work, rows, search_rows)
    return 0


def save(work: Path, rows: list[dict[str, object]], search_rows: list[dict[str, float]]) -> None:
    (work / "results.json").write_text(json.dumps({"libraries": rows, "dense_search": search_rows}, indent=1))


def measure(
    args: argparse.Namespace, sizes: list[str], rows: list[dict[str, object]], search_rows: list[dict[str, float]]
) -> None:
    """Fill rows and search_rows, saving them to results.json as each row's figures come in."""
    real_source: Path | None = None
    for size in sizes:
        n = SIZES[size]
        corpus, index = args.work / f"corpus-{size}", args.work / f"index-{size}"
        shutil.rmtree(index, ignore_errors=True)
        row: dict[str, object] = {"size": size}
        if size in ("1k", "10k"):
            docs = make_corpus(corpus, n)
            print(f"[{size}] indexing the five papers + {docs} documents …", file=sys.stderr, flush=True)
            wall, rss = run_measured(
                [sys.executable, "-m", "rag.cli", "index", "--corpus", str(corpus), "--index", str(index)],
                args.work / f"index-{size}.log",
            )
            row.update(index_s=wall, index_rss_mb=rss)
            real_source = index
        elif size == "100k":
            assert real_source is not None  # main checked the order of --sizes
            corpus = args.work / f"corpus-{'10k' if (args.work / 'index-10k').is_dir() else '1k'}"
            print(f"[{size}] repeating {real_source.name} …", file=sys.stderr, flush=True)
            t = time.perf_counter()
            rag.scale_library(real_source, index, n)
            row.update(index_s=time.perf_counter() - t, index_rss_mb=None, synthetic=True)
        rows.append(row)
        if size != "1m":
            print(f"[{size}] serving …", file=sys.stderr, flush=True)
            w = warm(index, corpus, args.questions)
            row.update(w, disk_mb=disk_mb(index))
            row["chunks_per_s"] = None if row.get("synthetic") else w["chunks"] / float(row["index_s"])  # type: ignore[arg-type]
            save(args.work, rows, search_rows)
            row.update(serve_rss_mb=serve_rss(index, corpus, args.work / f"serve-{size}.log"))
            row.update(cold_ask_s=cold_ask(index, corpus))
            save(args.work, rows, search_rows)
        if size != "1m" and "milvus" in args.stores.split(","):
            env = store_env("milvus", args.work, size)
            assert env is not None
            print(f"[{size}] copying into Milvus Lite and serving from it …", file=sys.stderr, flush=True)
            mrow: dict[str, object] = {"size": size, "store": "Milvus Lite", "synthetic": row.get("synthetic")}
            rows.append(mrow)
            mrow.update(copy_to_milvus(index, corpus, env, args.work / f"milvus-{size}.log"))
            mrow.update(warm(index, corpus, args.questions, env), disk_mb=path_mb(Path(env["RAG_MILVUS_URI"])))
            save(args.work, rows, search_rows)
            mrow.update(serve_rss_mb=serve_rss(index, corpus, args.work / f"serve-milvus-{size}.log", env))
            mrow.update(cold_ask_s=cold_ask(index, corpus, env=env))
            save(args.work, rows, search_rows)
    built = [
        args.work / f"index-{size}"
        for size in ("10k", "1k")
        if (args.work / f"index-{size}" / "manifest.json").exists()
    ]
    source = real_source or (built[0] if built else rag.Settings.load().index_dir)  # a 1m-only run reuses 10k's
    encoder = rag.dense_encoder(rag.Settings.load())
    queries = list(encoder.encode_queries(dev_questions(args.questions)))
    for size in sizes:
        print(f"[{size}] dense search, exact vs HNSW …", file=sys.stderr, flush=True)
        search_rows.append({"size": size, **dense_search(source, SIZES[size], queries)})
        save(args.work, rows, search_rows)


def _f(value: object, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def print_tables(rows: list[dict[str, object]], search_rows: list[dict[str, float]]) -> None:
    print(
        "| library | chunks | index chunks/s | index peak RSS MB | disk MB | serve RSS MB | load s | "
        "embed question p50 ms | search p50/p95 ms | retrieve p50/p95 ms | answer p50/p95 ms | cold ask s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        if "chunks" not in r:
            continue
        name = f"{r['size']}{' (synthetic vectors)' if r.get('synthetic') else ''}"
        name += f", {r['store']}" if r.get("store") else ""
        print(
            f"| {name} | {r['chunks']:,} | {_f(r.get('chunks_per_s'), '.1f')} | {_f(r.get('index_rss_mb'), '.0f')} | "
            f"{_f(r.get('disk_mb'), '.0f')} | {_f(r.get('serve_rss_mb'), '.0f')} | {r['load_s']:.1f} | "
            f"{r['embed_p50']:.0f} | "
            f"{r['search_p50']:.0f} / {r['search_p95']:.0f} | {r['retrieve_p50']:.0f} / {r['retrieve_p95']:.0f} | "
            f"{r['total_p50']:.0f} / {r['total_p95']:.0f} | {_f(r.get('cold_ask_s'), '.1f')} |"
        )
    print()
    print(f"Dense search, one thread, {len(search_rows) and 'dev questions'} (exact up to {rag.EXACT_SEARCH_LIMIT:,}):")
    print(
        "| vectors | exact p50 ms | HNSW build s | "
        + " | ".join(f"efSearch {ef}: p50 / p95 ms, recall@10" for ef in EF_SEARCH)
        + " |"
    )
    print("|---|---:|---:|" + "---:|" * len(EF_SEARCH))
    for r in search_rows:
        cells = " | ".join(
            f"{r[f'hnsw{ef}_p50']:.2f} / {r[f'hnsw{ef}_p95']:.2f}, {r[f'recall{ef}']:.3f}" for ef in EF_SEARCH
        )
        print(f"| {SIZES[str(r['size'])]:,} | {r['exact_p50']:.2f} | {r['build_s']:.1f} | {cells} |")


if __name__ == "__main__":
    sys.exit(main())
