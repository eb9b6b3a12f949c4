"""Generated answers on the question set: for the local GGUF model (when provisioned), time to
first token, tokens/s and the share of sentences verified as supported; and the same
verification share for the extractive answer.

    .venv/bin/python bench/bench_llm.py [--questions eval/sets/dev.jsonl] [--k 5] [--limit N]
                                        [--skip-extractive] [--skip-llm] [--max-tokens 256]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import rag  # noqa: E402
from eval.questions import load_questions  # noqa: E402
from rag import LLMSettings  # noqa: E402


class Tally:
    def __init__(self) -> None:
        self.sentences = self.supported = self.answers = self.all_supported = self.abstained = 0
        self.reasons: dict[str, int] = {}

    def add(self, checks: tuple, abstained: bool) -> None:
        if abstained:
            self.abstained += 1
            return
        claims = [c for c in checks if c.reason != "abstention"]
        self.answers += 1
        self.sentences += len(claims)
        self.supported += sum(c.supported for c in claims)
        self.all_supported += bool(claims) and all(c.supported for c in claims)
        for c in claims:
            if not c.supported:
                kind = c.reason.split(" ")[0] if not c.reason.startswith("no citation") else "no citation"
                self.reasons[kind] = self.reasons.get(kind, 0) + 1

    def report(self, name: str) -> None:
        share = self.supported / self.sentences if self.sentences else 0.0
        whole = self.all_supported / self.answers if self.answers else 0.0
        print(
            f"{name}: {self.supported}/{self.sentences} sentences supported ({share:.1%}); "
            f"{self.all_supported}/{self.answers} answers fully supported ({whole:.1%}); {self.abstained} abstained"
        )
        if self.reasons:
            print("  unsupported because: " + ", ".join(f"{k} {v}" for k, v in sorted(self.reasons.items())))


def bench_extractive(assistant: rag.Assistant, questions: list[dict], k: int) -> None:
    tally = Tally()
    for q in questions:
        answer = assistant.ask(q["question"], k=k, mode="extractive")
        tally.add(answer.sentences, answer.abstained)
    tally.report("extractive")


def llm_unavailable(llm: LLMSettings) -> str | None:
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed"
    if not llm.model_path.is_file():
        return f"no model at {llm.model_path}"
    return None


def bench_gguf(assistant: rag.Assistant, questions: list[dict], k: int, llm: LLMSettings) -> None:
    reason = llm_unavailable(llm)
    if reason:
        print(f"local GGUF model: not provisioned ({reason}); run `make llm` (scripts/provision_llm.sh)")
        return
    t = time.perf_counter()
    answerer = rag.GeneratedAnswerer(llm)
    model = answerer.model
    model.invoke("你好")  # load and warm the model outside the timings
    print(f"local GGUF model {llm.model_path.name}: loaded in {time.perf_counter() - t:.1f} s")
    tally, first, rates, fallbacks = Tally(), [], [], 0
    for q in questions:
        start, tokens, stamps = time.perf_counter(), [], []
        final = None
        for item in assistant.stream(q["question"], k=k, mode=answerer):
            if isinstance(item, str):
                tokens.append(item)
                stamps.append(time.perf_counter())
            else:
                final = item
        if final is None:
            continue
        if not tokens:  # abstained from retrieval before the model was asked
            tally.add((), True)
            continue
        first.append(final.timings_ms.get("first_token", (stamps[0] - start) * 1000))
        if len(stamps) > 1:
            rates.append((len(stamps) - 1) / max(1e-6, stamps[-1] - stamps[0]))
        fallbacks += final.notes[:1] != () and final.notes[0].startswith("generated answer unusable")
        # The model's own draft, verified: what the share measures (the fallback would hide it).
        draft = rag.check_citations("".join(tokens), {p.n: p for p in final.passages}, question_lang=final.language,
                       bridge=assistant.retriever.bridge)  # fmt: skip
        tally.add(draft.sentences, draft.abstained)
    if first:
        print(
            f"  time to first token: median {statistics.median(first):.0f} ms, "
            f"p90 {sorted(first)[int(0.9 * (len(first) - 1))]:.0f} ms (includes prompt processing)"
        )
    if rates:
        print(f"  generation: median {statistics.median(rates):.1f} tokens/s (streamed chunks per second)")
    tally.report("  local GGUF model, its own drafts")
    print(f"  drafts replaced by the extractive answer (unusable): {fallbacks}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", default="eval/sets/dev.jsonl")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--limit", type=int, default=None, help="first N questions only")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--skip-extractive", action="store_true")
    parser.add_argument("--skip-llm", action="store_true")
    args = parser.parse_args(argv)
    questions = load_questions(args.questions)[: args.limit]
    assistant = rag.load()
    print(f"{len(questions)} questions from {args.questions}, k={args.k}")
    if not args.skip_extractive:
        bench_extractive(assistant, questions, args.k)
    if not args.skip_llm:
        bench_gguf(assistant, questions, args.k, LLMSettings.load(backend="llamacpp", max_tokens=args.max_tokens))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
