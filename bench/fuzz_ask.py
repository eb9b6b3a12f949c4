"""Fuzz `rag ask --json --questions FILE` as a user's batch meets it: prints figures; exits 1 when
a promise is broken (a traceback, a missing or extra output line, a line that is not JSON, an
unexpected error, a long paste that lost its question).

    .venv/bin/python bench/fuzz_ask.py [--n 1000] [--seed 15] [--keep FILE]

The n question lines are generated from a seed (same seed, same bytes): the eval questions in
Chinese and English, mixed; lone surrogates as JSON escapes and as raw bytes; control characters
and the separators str.splitlines() splits on (\\x1c, \\x0b, U+2028, ...); pastes of 2,000-6,000
characters of the papers with the question at the end; plain lines that start with "{"; JSON
lines with and without a usable "question"; emoji, RTL text, random code points from every
plane. About one line in 40 more is blank: `rag ask` skips blank lines, so they are counted here
and expect no output. Every other line must give exactly one JSON line, in order."""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEPARATORS = ["\x1c", "\x1d", "\x1e", "\x1f", "\x0b", "\x0c", "\x85", "\u2028", "\u2029"]
CONTROLS = [chr(c) for c in (*range(0x00, 0x09), 0x0E, 0x0F, 0x10, 0x1B, 0x7F)] + [
    "\u200b",
    "\u200d",
    "\u200e",
    "\u202e",
    "\ufeff",
    "\ue000",
    "\ufffe",
]
EMOJI = ["😀", "🚀", "📦", "🇨🇳", "👩‍💻", "🤔", "✅", "🌏"]
RTL = ["ما هي مشاكل التجارة الإلكترونية عبر الحدود؟", "מהן הבעיות של הסחר האלקטרוני?", "\u202eسؤال\u202c"]


@dataclass
class Case:
    """One input line: its bytes (no newline), what it must give, and how it was made."""

    data: bytes
    expect: str  # "answer" | "error" | "either" (random text: searchable or not) | "blank"
    kind: str
    keep: str | None = None  # text the answered question must end with (a long paste's question)


@dataclass
class Figures:
    counts: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)


def questions() -> list[str]:
    path = ROOT / "eval" / "sets" / "dev.jsonl"
    return [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def corpus_text() -> str:
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "corpus").glob("*.txt"))]
    return " ".join(" ".join(t.split()) for t in texts)


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate becomes the bytes a bad encoder writes


def _json(obj: object) -> bytes:
    return json.dumps(obj).encode("ascii")  # surrogates as \\udxxx escapes, as a JSON writer emits them


def _sprinkle(rng: random.Random, text: str, pool: list[str], n: int) -> str:
    chars = list(text)
    for _ in range(n):
        chars.insert(rng.randrange(len(chars) + 1), rng.choice(pool))
    return "".join(chars)


def _soup(rng: random.Random, n: int) -> str:
    """Random code points from every plane, surrogates and unassigned ones included, no newline."""
    ranges = [(0x20, 0x80), (0, 0x20), (0x80, 0xD800), (0xD800, 0xE000), (0xE000, 0x10000), (0x10000, 0x110000)]
    out = []
    for _ in range(n):
        low, high = rng.choice(ranges)
        c = rng.randrange(low, high)
        out.append(chr(c) if c != 0x0A else " ")
    return "".join(out)


def _either(text: str, kind: str) -> Case:
    """Random text: answered or refused as empty, both fine; all whitespace is a blank line."""
    return Case(_utf8(text), "either" if text.strip() else "blank", kind)


def generators(qs: list[str], corpus: str) -> list[tuple[int, Callable[[random.Random], Case]]]:
    zh = [q for q in qs if not q.isascii()]
    en = [q for q in qs if q.isascii()]

    def paste(rng: random.Random) -> Case:
        start = rng.randrange(len(corpus) - 7000)
        q = rng.choice(zh + en)
        text = corpus[start : start + rng.randrange(2000, 6000)] + rng.choice(["\n\n", " ", "。"]) + q
        return Case(
            _json({"question": text}) if rng.random() < 0.3 else _utf8(text.replace("\n", " ")),
            "answer",
            "paste",
            keep=q,
        )

    return [
        (12, lambda r: Case(_utf8(r.choice(zh)), "answer", "zh")),
        (8, lambda r: Case(_utf8(r.choice(en)), "answer", "en")),
        (5, lambda r: Case(_utf8(f"{r.choice(en)} {r.choice(zh)}"), "answer", "mixed")),
        (
            6,
            lambda r: Case(
                _json({"question": _sprinkle(r, r.choice(zh), ["\ud800", "\udfff", "\udc80"], 2)}),
                "answer",
                "surrogate-json",
            ),
        ),
        (4, lambda r: Case(_utf8(_sprinkle(r, r.choice(zh), ["\ud83d", "\udc00"], 1)), "answer", "surrogate-bytes")),
        (
            3,
            lambda r: Case(
                _json({"question": r.choice(["\ud800", "\udfff？", "\udc80\udc81"])}), "error", "surrogate-only"
            ),
        ),
        (
            8,
            lambda r: Case(_utf8(_sprinkle(r, r.choice(zh + en), SEPARATORS, r.randint(1, 4))), "answer", "separators"),
        ),
        (6, lambda r: Case(_utf8(_sprinkle(r, r.choice(zh + en), CONTROLS, r.randint(1, 6))), "answer", "controls")),
        (5, paste),
        (
            5,
            lambda r: Case(
                _utf8("{" + r.choice(["注意", "note", "", "1,2"]) + "} " + r.choice(zh + en)), "answer", "brace-text"
            ),
        ),
        (
            6,
            lambda r: Case(
                _json({"id": r.randrange(999), "question": r.choice(zh + en), "lang": "x"}), "answer", "json"
            ),
        ),
        (
            2,
            lambda r: Case(
                _utf8(json.dumps({"question": r.choice(zh)}, ensure_ascii=False) + "\r"), "answer", "json-crlf"
            ),
        ),
        (
            3,
            lambda r: Case(
                _json(r.choice([{"q": 1}, {"question": 5}, {"question": None}, {}, {"question": ["a"]}])),
                "error",
                "json-no-question",
            ),
        ),
        (2, lambda r: Case(_json({"question": r.choice(["", "   ", "？？", "\u2028"])}), "error", "json-empty")),
        (4, lambda r: Case(_utf8(r.choice(EMOJI) + r.choice(zh + en) + r.choice(EMOJI)), "answer", "emoji")),
        (2, lambda r: Case(_utf8("".join(r.choices(EMOJI, k=r.randint(1, 5)))), "error", "emoji-only")),
        (4, lambda r: Case(_utf8(r.choice(RTL)), "answer", "rtl")),
        (2, lambda r: Case(_utf8(r.choice(["？？！", "...", "\x00", "—", "【】"])), "error", "punctuation")),
        (2, lambda r: Case(_utf8(r.choice(zh) + "\r"), "answer", "crlf")),
        (8, lambda r: _either(_soup(r, r.randint(1, 60)), "soup")),
        (1, lambda r: _either(_soup(r, r.randint(2000, 20000)), "soup-long")),
        (2, lambda r: Case(b"\xff\xfe" + _utf8(r.choice(zh)) + b"\xc3", "answer", "bad-bytes")),
    ]


def make_cases(n: int, seed: int) -> list[Case]:
    """n question lines, and about one blank line in 40 between them: one of every kind first
    (when n allows), so a small run covers them all whatever the question sets hold, then kinds
    drawn by weight."""
    rng = random.Random(seed)
    table = generators(questions(), corpus_text())
    weights = [w for w, _ in table]
    cases = []
    for i in range(n):
        if rng.random() < 1 / 40:
            cases.append(Case(rng.choice([b"", b"   ", b"\t", b"\r", "\u3000".encode()]), "blank", "blank"))
        make = table[i][1] if n >= len(table) and i < len(table) else rng.choices([g for _, g in table], weights)[0]
        cases.append(make(rng))
    return cases


def run_batch(
    cases: list[Case], env: dict[str, str] | None = None, timeout: float = 3600
) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "questions.txt"
        path.write_bytes(b"\n".join(c.data for c in cases) + b"\n")
        return subprocess.run(
            [sys.executable, "-m", "rag.cli", "ask", "--json", "--questions", str(path)],
            capture_output=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})},
            timeout=timeout,
        )


def check(cases: list[Case], result: subprocess.CompletedProcess) -> Figures:
    """Match output lines to the non-blank input lines, in order, and count what came back."""
    fig = Figures()
    asked = [c for c in cases if c.expect != "blank"]
    fig.counts.update(input_lines=len(cases), blank=len(cases) - len(asked), questions=len(asked))
    stderr = result.stderr.decode("utf-8", "replace")
    fig.counts["tracebacks"] = stderr.count("Traceback")
    lines = result.stdout.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    fig.counts["output_lines"] = len(lines)
    if len(lines) != len(asked):
        fig.problems.append(f"{len(asked)} questions gave {len(lines)} output lines")
    for number, (case, raw) in enumerate(zip(asked, lines, strict=False), 1):
        try:
            out = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            fig.counts["invalid_json"] += 1
            fig.problems.append(f"output {number} ({case.kind}) is not a JSON line: {exc}")
            continue
        _judge(fig, number, case, out)
    failed = fig.counts["errors"] > 0
    fig.counts["exit_status"] = result.returncode
    if result.returncode != int(failed) or fig.counts["tracebacks"]:
        fig.problems.append(f"exit status {result.returncode} (expected {int(failed)}); stderr: {stderr[-800:]}")
    return fig


def _judge(fig: Figures, number: int, case: Case, out: dict) -> None:
    if "error" in out:
        fig.counts["errors"] += 1
        fig.counts[f"errors_{case.expect}"] += 1
        if out["error"].startswith("unexpected"):
            fig.counts["unexpected"] += 1
        if case.expect == "answer" or out["error"].startswith("unexpected"):
            fig.problems.append(f"output {number} ({case.kind}): {out['error'][:200]}")
        return
    fig.counts["answers"] += 1
    fig.counts["abstained"] += bool(out.get("abstained"))
    if case.expect == "error":
        fig.problems.append(f"output {number} ({case.kind}) should be an error: {out['question'][:80]!r}")
    if any("shortened" in n for n in out.get("notes", [])):
        fig.counts["shortened"] += 1
    if case.keep is not None:  # a long paste: its question's end must survive, and the note say so
        kept = out["question"].endswith(case.keep[-8:]) and any("shortened" in n for n in out["notes"])
        fig.counts["pastes"] += 1
        fig.counts["paste_question_kept"] += kept
        fig.counts["paste_question_whole"] += case.keep in out["question"]
        if not kept:
            fig.problems.append(f"output {number} (paste) lost its question {case.keep!r}")


def report(fig: Figures, seconds: float) -> str:
    c = fig.counts
    rows = [
        (
            "input lines",
            f"{c['input_lines']}  ({c['questions']} questions, {c['blank']} blank lines skipped by design)",
        ),
        ("output lines", f"{c['output_lines']}  (expected {c['questions']}: one per question, in order)"),
        ("answers", f"{c['answers']}  (abstained {c['abstained']}, shortened with a note {c['shortened']})"),
        (
            "long pastes",
            f"{c['pastes']}  (question's end kept {c['paste_question_kept']}, whole question kept "
            f"{c['paste_question_whole']})",
        ),
        (
            "error objects",
            f"{c['errors']}  (deliberately bad lines {c['errors_error']}, random text with nothing to search "
            f"{c['errors_either']}, unexpected {c['unexpected']})",
        ),
        ("invalid JSON lines", str(c["invalid_json"])),
        ("tracebacks", str(c["tracebacks"])),
        ("exit status", f"{c['exit_status']}  (1 when any line failed)"),
        ("elapsed", f"{seconds:.0f} s  ({seconds / max(c['questions'], 1):.2f} s per question, models loaded once)"),
    ]
    return "\n".join(f"{name:<20}{value}" for name, value in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="question lines (blank lines come on top)")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--keep", help="also write the generated questions file here")
    args = parser.parse_args(argv)
    cases = make_cases(args.n, args.seed)
    if args.keep:
        Path(args.keep).write_bytes(b"\n".join(c.data for c in cases) + b"\n")
    start = time.perf_counter()
    result = run_batch(cases)
    fig = check(cases, result)
    print(report(fig, time.perf_counter() - start))
    for problem in fig.problems[:20]:
        print(f"problem: {problem}")
    return 1 if fig.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
