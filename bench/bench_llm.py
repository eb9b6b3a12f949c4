"""Local generators compared on the question set (quote, then write): for each GGUF model, how
many answers are served as written (not replaced by the extractive answer), how many of their
sentences verify, answer-key accuracy beside the extractive answer's, English questions answered
in English, time to first token, tokens/s and peak RSS. Prints figures, asserts nothing.

    .venv/bin/python bench/bench_llm.py [--models models/a.gguf,models/b.gguf] [--questions eval/sets/dev.jsonl]
                                        [--every 4] [--k 5] [--max-tokens 400]

Each model runs in its own process (`--child`), so its peak RSS is its own; the extractive
answers are computed in the same child for the same questions. "Answer-key accuracy (quotes)"
also counts a key found in a quote that a verified sentence cites: an English sentence names
敦煌网 as "DHgate" and rests on the quote that says 敦煌网.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_MODELS = "models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf,models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def keys_found(keys: list[list[str]], text: str) -> bool:
    from eval.metrics import missing_key_groups

    return bool(keys) and not missing_key_groups(keys, text)


def child(model: str, questions_path: str, every: int, k: int, max_tokens: int) -> dict:
    import rag
    from eval.questions import load_questions
    from rag import LLMSettings

    questions = load_questions(questions_path)[::every]
    assistant = rag.load()
    llm = LLMSettings.load(backend="llamacpp", model_path=model, max_tokens=max_tokens)
    t = time.perf_counter()
    answerer = rag.GeneratedAnswerer(llm)
    answerer.model.invoke("hi")  # load and warm outside the timings
    load_s = time.perf_counter() - t
    rows = []
    for q in questions:
        base = assistant.ask(q["question"], k=k, mode="extractive")
        start, pieces, stamps, final = time.perf_counter(), 0, [], None
        for item in assistant.stream(q["question"], k=k, mode=answerer):
            if isinstance(item, str):
                pieces += 1
                stamps.append(time.perf_counter())
            else:
                final = item
        assert final is not None
        written = final.mode != "extractive" and not final.abstained
        claims = [s for s in final.sentences if s.reason != "abstention"] if written else []
        quotes = " ".join(
            c.sentence for s in claims if s.supported for n in s.citations for c in final.citations if c.n == n
        )
        keys = q.get("answer_keys") or []
        rows.append(
            {
                "id": q["id"],
                "lang": q["lang"],
                "answerable": bool(q.get("answerable")),
                "asked_model": pieces > 0,
                "written": written,
                "abstained": final.abstained,
                "base_abstained": base.abstained,
                "answer_lang": rag.language_of(final.answer) if written else None,
                "sentences": len(claims),
                "verified": sum(s.supported for s in claims),
                "first_token_ms": final.timings_ms.get("first_token"),
                "tokens": pieces,
                "tokens_per_s": (len(stamps) - 1) / max(1e-6, stamps[-1] - stamps[0]) if len(stamps) > 2 else None,
                "key_ok": keys_found(keys, final.answer) if keys else None,
                "key_ok_quotes": keys_found(keys, final.answer + " " + quotes) if keys else None,
                "base_key_ok": keys_found(keys, base.answer) if keys else None,
                "seconds": time.perf_counter() - start,
                "answer": final.answer[:300],
                "notes": list(final.notes[:2]),
            }
        )
        print(f"  {q['id']}: {'written' if written else final.mode}{' (abstained)' if final.abstained else ''} "
              f"{rows[-1]['seconds']:.1f} s", file=sys.stderr, flush=True)  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"model": Path(model).name, "load_s": load_s, "peak_rss_mb": peak, "rows": rows}


def summarise(result: dict) -> list[str]:
    rows = result["rows"]
    asked = [r for r in rows if r["answerable"] and r["asked_model"]]
    written = [r for r in asked if r["written"]]
    sentences = sum(r["sentences"] for r in written)
    verified = sum(r["verified"] for r in written)
    keyed = [r for r in rows if r["answerable"] and r["key_ok"] is not None]
    en = [r for r in asked if r["lang"] == "en"]
    ttft = [r["first_token_ms"] / 1000 for r in rows if r["first_token_ms"]]
    rates = [r["tokens_per_s"] for r in rows if r["tokens_per_s"]]

    def share(part: int, whole: int) -> str:
        return f"{part / whole:.2f} ({part}/{whole})" if whole else "n/a"

    return [
        f"{result['model']}: {len(rows)} questions, model load {result['load_s']:.1f} s, "
        f"peak RSS {result['peak_rss_mb']:.0f} MB",
        f"  served as written (answerable questions the model was asked): {share(len(written), len(asked))}",
        f"  sentences verified: {share(verified, sentences)}",
        f"  answer-key accuracy: written/fallback {share(sum(r['key_ok'] for r in keyed), len(keyed))}, "
        f"with cited quotes {share(sum(r['key_ok_quotes'] for r in keyed), len(keyed))}, "
        f"extractive {share(sum(r['base_key_ok'] for r in keyed), len(keyed))}",
        f"  English questions answered in English: {share(sum(r['answer_lang'] == 'en' for r in en), len(en))}",
        f"  time to first token p50 {statistics.median(ttft) if ttft else float('nan'):.2f} s, "
        f"p90 {percentile(ttft, 90):.2f} s; generation {statistics.median(rates) if rates else float('nan'):.1f} "
        "tokens/s (median)",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=DEFAULT_MODELS, help="comma-separated GGUF paths")
    parser.add_argument("--questions", default="eval/sets/dev.jsonl")
    parser.add_argument("--every", type=int, default=4, help="every Nth question (dev has 237)")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=400)
    parser.add_argument("--out", default=None, help="write the per-question rows as JSON here")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.questions, args.every, args.k, args.max_tokens), ensure_ascii=False))
        return 0
    results = []
    for model in args.models.split(","):
        path = ROOT / model if not Path(model).is_absolute() else Path(model)
        if not path.is_file():
            print(f"{model}: not provisioned; run `make llm` (scripts/provision_llm.sh)")
            continue
        cmd = [sys.executable, __file__, "--child", str(path), "--questions", args.questions,
               "--every", str(args.every), "--k", str(args.k), "--max-tokens", str(args.max_tokens)]  # fmt: skip
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, cwd=ROOT).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
        print("\n".join(summarise(results[-1])), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
