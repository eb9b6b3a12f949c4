"""The scale benchmark's library (scripts/scale_corpus.py, build/scale-corpus/) is what it claims
to be: 1,500+ documents of real Chinese prose, millions of characters, no HTML left, no document
twice, 12,000+ chunks when the project indexes it, and a second build with a current stamp costs
nothing."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import rag

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "scale_corpus.py"
HAN = re.compile(r"[\u3400-\u9fff]")
MIN_CHUNKS = 12_000  # what bench/bench_scale.py's 10k-chunk library needs
HTML_LEFTOVERS = ("<div", "</div>", "<span", "</p>", "<br/>", "&nbsp;", "&amp;", "&lt;", "&gt;", "&#")


def documents(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.txt"))}


def test_the_library_is_large_real_chinese_prose_without_html_or_repeats(scale_corpus: Path) -> None:
    texts = documents(scale_corpus)
    assert len(texts) >= 1500
    assert sum(len(t) for t in texts.values()) >= 3_500_000
    for name, text in texts.items():
        han = len(HAN.findall(text))
        assert han >= 150 and han >= 0.5 * len("".join(text.split())), f"{name} is not mostly Chinese"
        assert len(text) <= 3001, f"{name} has {len(text)} characters"
        leftovers = [s for s in HTML_LEFTOVERS if s in text]
        assert not leftovers, f"{name} still holds {leftovers}"
    assert len({hashlib.sha256(t.encode()).digest() for t in texts.values()}) == len(texts)
    sources = json.loads((scale_corpus / "sources.json").read_text(encoding="utf-8"))
    assert set(sources["documents"]) == set(texts)
    assert {origin["package"] for origin in sources["documents"].values()} == set(sources["packages"])


def test_a_second_build_with_a_current_stamp_changes_nothing_and_prints_the_summary(scale_corpus: Path) -> None:
    before = (scale_corpus.stat().st_ino, (scale_corpus / "stamp").stat().st_mtime_ns)
    command = [sys.executable, str(SCRIPT), "--out", str(scale_corpus)]
    run = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "is up to date" in run.stderr
    assert (scale_corpus.stat().st_ino, (scale_corpus / "stamp").stat().st_mtime_ns) == before
    assert f"{len(documents(scale_corpus)):,}" in run.stdout and "manpages-zh" in run.stdout


@pytest.mark.slow
def test_indexing_the_library_gives_the_12000_chunks_the_benchmark_needs(scale_corpus: Path) -> None:
    """The project's own reader and chunker at the default settings, as `rag index` runs them
    before embedding (about 10 s)."""
    settings = rag.Settings.load()
    chunks = 0
    for path in sorted(scale_corpus.glob("*.txt")):
        clean = rag.read_paper(path)
        chunks += len(rag.chunk_paper(clean, chunk_chars=settings.chunk_chars, chunk_overlap=settings.chunk_overlap))
    assert chunks >= MIN_CHUNKS
