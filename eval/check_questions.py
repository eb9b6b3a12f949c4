#!/usr/bin/env python3
"""Validate eval/questions.jsonl against the source corpus (stdlib only).

Checks:
  * every line is a JSON object with the required fields and types;
  * ids are unique and use the zh-/en-/na- prefixes;
  * answerable questions have gold docs that exist, 1-3 evidence strings and
    1+ answer-key groups; unanswerable ones have all three empty;
  * every evidence string occurs in one of its gold docs (for single-doc
    questions: in the gold doc) after normalisation (NFKC, remove all
    whitespace);
  * every answer-key group has at least one alternative that occurs in some
    gold doc (same normalisation, case-insensitive);
  * multi_doc questions list >= 2 gold docs and each gold doc is covered by
    at least one evidence span.

Usage: python eval/check_questions.py [questions.jsonl] [corpus_dir]
Exits 1 if any problem is found.
"""

import json
import os
import re
import sys
import unicodedata
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_Q = os.path.join(HERE, "questions.jsonl")
DEFAULT_CORPUS = "/work/shared/corpus"

REQUIRED = {
    "id": str,
    "lang": str,
    "question": str,
    "gold_docs": list,
    "evidence": list,
    "answer_keys": list,
    "answerable": bool,
    "multi_doc": bool,
    "tags": list,
}
ALLOWED_TAGS = {"factual", "list", "why", "how", "abstract", "multi_doc", "conflict", "unanswerable"}


def norm(s):
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s))


def main():
    qpath = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_Q
    cdir = sys.argv[2] if len(sys.argv) > 2 else DEFAULT_CORPUS
    docs = {}
    for fn in sorted(os.listdir(cdir)):
        if fn.endswith(".txt"):
            with open(os.path.join(cdir, fn), encoding="utf-8") as f:
                docs[fn[:-4]] = norm(f.read())
    docs_lower = {k: v.lower() for k, v in docs.items()}

    problems = []
    seen = set()
    n = 0
    with open(qpath, encoding="utf-8") as f:
        lines = f.readlines()
    for ln, line in enumerate(lines, 1):
        if not line.strip():
            problems.append(f"line {ln}: blank line")
            continue
        try:
            q = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"line {ln}: bad JSON: {e}")
            continue
        n += 1
        qid = q.get("id", f"<line {ln}>")

        def p(msg, qid=qid):
            problems.append(f"{qid}: {msg}")

        if not isinstance(q, dict):
            p("not an object")
            continue
        for k, t in REQUIRED.items():
            if k not in q:
                p(f"missing field {k}")
            elif not isinstance(q[k], t):
                p(f"field {k} should be {t.__name__}")
        if set(q) - set(REQUIRED):
            p(f"unexpected fields {sorted(set(q) - set(REQUIRED))}")
        if any(k not in q or not isinstance(q[k], REQUIRED[k]) for k in REQUIRED):
            continue
        if qid in seen:
            p("duplicate id")
        seen.add(qid)
        if not re.fullmatch(r"(zh|en|na)-\d{3}", qid):
            p("id should look like zh-001 / en-001 / na-001")
        if q["lang"] not in ("zh", "en"):
            p("lang must be zh or en")
        if qid[:2] in ("zh", "en") and qid[:2] != q["lang"]:
            p("id prefix does not match lang")
        if not q["question"].strip():
            p("empty question")
        bad_tags = [t for t in q["tags"] if t not in ALLOWED_TAGS]
        if bad_tags or not q["tags"]:
            p(f"bad/empty tags {bad_tags}")
        for k in ("gold_docs", "evidence"):
            if not all(isinstance(x, str) and x.strip() for x in q[k]):
                p(f"{k} must be non-empty strings")
        if not all(
            isinstance(g, list) and g and all(isinstance(a, str) and a.strip() for a in g) for g in q["answer_keys"]
        ):
            p("answer_keys must be a list of non-empty lists of strings")
            continue

        if not q["answerable"]:
            if q["gold_docs"] or q["evidence"] or q["answer_keys"] or q["multi_doc"]:
                p("unanswerable question must have empty gold_docs/evidence/answer_keys and multi_doc false")
            if "unanswerable" not in q["tags"]:
                p("unanswerable question should carry tag 'unanswerable'")
            if not qid.startswith("na-"):
                p("unanswerable ids should start with na-")
            continue

        if qid.startswith("na-"):
            p("answerable question with na- id")
        if "unanswerable" in q["tags"]:
            p("answerable question tagged unanswerable")
        missing = [d for d in q["gold_docs"] if d not in docs]
        if missing:
            p(f"unknown gold docs {missing}")
            continue
        if not q["gold_docs"]:
            p("answerable question without gold_docs")
            continue
        if len(set(q["gold_docs"])) != len(q["gold_docs"]):
            p("duplicate gold docs")
        if not 1 <= len(q["evidence"]) <= 6:
            p(f"evidence count {len(q['evidence'])} out of range")
        if not q["answer_keys"]:
            p("no answer_keys")
        if q["multi_doc"] != (len(q["gold_docs"]) > 1):
            p("multi_doc flag inconsistent with number of gold docs")
        if q["multi_doc"] and "multi_doc" not in q["tags"]:
            p("multi_doc question should carry tag 'multi_doc'")
        if "conflict" in q["tags"] and not q["multi_doc"]:
            p("conflict question must be multi_doc")

        covered = set()
        for ev in q["evidence"]:
            ne = norm(ev)
            if len(ne) < 4:
                p(f"evidence too short: {ev!r}")
            hits = [d for d in q["gold_docs"] if ne in docs[d]]
            if not hits:
                p(f"evidence not found in gold doc(s): {ev!r}")
            covered.update(hits)
        if q["multi_doc"]:
            unc = [d for d in q["gold_docs"] if d not in covered]
            if unc:
                p(f"no evidence span from gold doc(s) {unc}")
        for g in q["answer_keys"]:
            if not any(norm(a).lower() in docs_lower[d] for a in g for d in q["gold_docs"]):
                p(f"answer key group not found in any gold doc: {g}")

    if n == 0:
        problems.append("no questions loaded")
    langs = Counter()
    tags = Counter()
    for line in lines:
        try:
            q = json.loads(line)
            langs[q["lang"]] += 1
            tags.update(q["tags"])
        except Exception:
            pass
    print(f"{n} questions; lang {dict(langs)}; tags {dict(sorted(tags.items()))}")
    for pr in problems:
        print("PROBLEM", pr)
    if problems:
        print(f"{len(problems)} problem(s)")
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
