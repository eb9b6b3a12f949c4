"""A small run of bench/fuzz_ask.py through the real `rag ask --json --questions FILE`: no
traceback, one JSON line per question in order, and exit status 1 only because of the lines
made bad on purpose (the full 1,000-question run is `python bench/fuzz_ask.py`)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

import rag

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def load_fuzz():  # noqa: ANN201 - the bench script, a module outside any package
    spec = importlib.util.spec_from_file_location("fuzz_ask", ROOT / "bench" / "fuzz_ask.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_sixty_fuzzed_questions_give_sixty_json_lines_and_fail_only_the_bad_ones(settings: rag.Settings) -> None:
    fuzz = load_fuzz()
    cases = fuzz.make_cases(60, seed=7)
    assert fuzz.make_cases(60, seed=7) == cases  # the same seed gives the same bytes
    kinds = {c.kind for c in cases}
    assert {"surrogate-json", "separators", "brace-text", "json-no-question", "paste"} <= kinds, kinds
    result = fuzz.run_batch(cases, env={"RAG_INDEX_DIR": str(settings.index_dir)}, timeout=600)
    fig = fuzz.check(cases, result)
    assert fig.problems == []
    c = fig.counts
    assert c["tracebacks"] == 0 and c["invalid_json"] == 0 and c["unexpected"] == 0
    assert c["output_lines"] == c["questions"] == sum(x.expect != "blank" for x in cases)
    assert c["errors_answer"] == 0 and c["errors_error"] == sum(x.expect == "error" for x in cases) > 0
    assert result.returncode == 1  # because of the deliberately bad lines, and only them
    assert c["pastes"] == c["paste_question_kept"] > 0
