"""Measure the citation-verification scores on the project's papers, to set rag.verify's thresholds.

    .venv/bin/python bench/calibrate_verify.py [--questions eval/sets/dev.jsonl] [--k 5]

Pairs, built from the answerable questions of the eval set and real retrieval:
- supported (paraphrase): the question turned into a statement with its answer keys, against
  the chunk that holds its gold evidence (the question set's wording is not the paper's);
- supported (verbatim): each sentence of the extractive answer against the chunk it cites;
- unsupported (wrong passage): the same sentences against the other retrieved chunks that hold
  neither the evidence nor the sentence: same topic, so the hard case for a lexical test.
Chinese pairs are scored by key-term coverage, English questions over Chinese chunks by the
cross-lingual (USE) cosine with the closest chunk sentence. Prints the score distributions and,
per threshold, the share of each set that passes.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import rag  # noqa: E402
from eval.questions import load_questions  # noqa: E402
from rag import split_sentences, strip_source_refs, term_coverage  # noqa: E402

_ASKING = re.compile(r"(是哪几年|哪几年|哪几个|哪些|哪个|哪项|哪家|什么|多少|是否|如何|怎样|为什么|大约|[？?吗呢])")


def statement(question: str, keys: list[list[str]]) -> str:
    return _ASKING.sub("", question).strip() + "，" + "，".join(k[0] for k in keys if k)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def max_cosine(bridge, sentence: str, chunk_text: str) -> float:  # noqa: ANN001
    parts = [chunk_text[a:b] for a, b in split_sentences(chunk_text)] or [chunk_text]
    vectors = bridge.encode_queries([sentence, *parts])
    return float(max(vectors[1:] @ vectors[0]))


def table(name: str, scores: dict[str, list[float]], thresholds: list[float]) -> None:
    print(f"\n## {name}")
    for label, values in scores.items():
        if values:
            q = statistics.quantiles(values, n=10) if len(values) > 1 else values * 9
            print(f"{label:34s} n={len(values):4d} mean={statistics.mean(values):.3f} p10={q[0]:.3f} p50={q[4]:.3f}")
    print("threshold  " + "  ".join(f"{label[:24]:>24s}" for label in scores))
    for t in thresholds:
        row = "  ".join(f"{sum(v >= t for v in vals) / max(1, len(vals)):24.3f}" for vals in scores.values())
        print(f"{t:9.2f}  {row}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", default="eval/sets/dev.jsonl")
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args(argv)
    assistant = rag.load()
    bridge = assistant.retriever.bridge
    zh = {"paraphrase, gold chunk": [], "verbatim, cited chunk": [], "wrong passage": []}
    en = {"question, gold chunk": [], "question, wrong passage": []}
    zh_cos = {"paraphrase, gold chunk": [], "wrong passage": []}
    for q in load_questions(args.questions):
        if not q["answerable"] or not q["evidence"]:
            continue
        hits = assistant.retrieve(q["question"], args.k)
        gold = [c for c in assistant.data.chunks if any(_squash(e) in _squash(c.text) for e in q["evidence"])]
        keys = [k for alts in q["answer_keys"] for k in alts]
        wrong = [
            h.chunk
            for h in hits
            if not any(_squash(e) in _squash(h.chunk.text) for e in q["evidence"])
            and not any(_squash(k) in _squash(h.chunk.text) for k in keys)
        ]
        if q["lang"] == "zh" and not q["multi_doc"] and gold:
            claim = statement(q["question"], q["answer_keys"])
            zh["paraphrase, gold chunk"].append(max(term_coverage(claim, c.text) for c in gold))
            zh["wrong passage"] += [term_coverage(claim, c.text) for c in wrong]
            zh_cos["paraphrase, gold chunk"].append(max(max_cosine(bridge, claim, c.text) for c in gold))
            zh_cos["wrong passage"] += [max_cosine(bridge, claim, c.text) for c in wrong]
            answer = assistant.ask(q["question"], k=args.k)
            for c in answer.citations:
                sentence = strip_source_refs(c.sentence)
                zh["verbatim, cited chunk"].append(term_coverage(sentence, c.text))
        elif q["lang"] == "en" and gold:
            en["question, gold chunk"].append(max(max_cosine(bridge, q["question"], c.text) for c in gold))
            en["question, wrong passage"] += [max_cosine(bridge, q["question"], c.text) for c in wrong]
    table(
        "zh: key-term coverage (share of the sentence's jieba terms in the cited chunk)",
        zh,
        [0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8],
    )
    table("zh: USE cosine, closest chunk sentence (for comparison)", zh_cos, [0.3, 0.35, 0.4, 0.45, 0.5, 0.6])
    table("en over zh: USE cosine, closest chunk sentence", en, [0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
