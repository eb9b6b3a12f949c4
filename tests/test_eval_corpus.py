"""`rag eval --corpus DIR`: the same question sets over another folder of the papers (the PDF
fixtures, later), with page accuracy from DIR/truth.json and a side-by-side parity check."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import rag
from eval import harness, parity
from eval.report import render_parity

ROOT = Path(__file__).resolve().parent.parent
DOC = "000_0ea6e26401eae5d1"
# A hand-made truth for one paper: two sentences holding the evidence of dev questions zh-001/zh-002.
TRUTH = {
    "variant": "hand",
    "papers": {
        DOC: {
            "file": f"{DOC}.pdf",
            "first_printed_page": 131,
            "pages": 2,
            "sentences": [
                {"text": "(1) 萌芽阶段(1999~2004 年)以阿里巴巴国际站成立为标志，开创了线上外贸的新模式。",
                 "kind": "body", "page": 132, "page_end": 132, "index": 2, "index_end": 2},
                {"text": "敦煌网等平台率先尝试小额 B2C 业务", "kind": "body",
                 "page": 132, "page_end": 133, "index": 2, "index_end": 3},
            ],
        }
    },
}  # fmt: skip


@pytest.fixture(scope="module")
def questions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every fifth dev question: both languages, unanswerable ones too, in seconds."""
    lines = harness.SPLITS["dev"].read_text(encoding="utf-8").splitlines()
    path = tmp_path_factory.mktemp("questions") / "sample.jsonl"
    path.write_text("\n".join(lines[:2] + lines[2::5]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The text corpus copied into a folder of its own, with a truth.json beside the papers."""
    corpus = tmp_path_factory.mktemp("other") / "papers"
    shutil.copytree(ROOT / "corpus", corpus)
    (corpus / "truth.json").write_text(json.dumps(TRUTH, ensure_ascii=False), encoding="utf-8")
    return corpus


def overall(run: Path) -> dict[str, Any]:
    return json.loads((run / "report.json").read_text(encoding="utf-8"))["systems"]["rag"]["metrics"]


@pytest.mark.slow
def test_a_copy_of_the_corpus_gives_the_same_retrieval_with_page_accuracy(
    settings: rag.Settings, questions: Path, copy: Path, tmp_path: Path
) -> None:
    harness.run_eval(questions, k=5, out_dir=tmp_path / "text", settings=settings)
    argv = ["--questions", str(questions), "--corpus", str(copy), "--index", str(copy.parent / "index")]
    assert harness.main([*argv, "--out", str(tmp_path / "copy")]) == 0
    text, other = overall(tmp_path / "text"), overall(tmp_path / "copy")
    for group in ("overall", "zh", "en"):
        assert other[group]["hit_at_k"] == text[group]["hit_at_k"], group
    assert "page_accuracy" not in text["overall"]
    pages = other["overall"]
    assert pages["page_n"] + pages["page_no_hit"] == 2  # zh-001 and zh-002 have a truth page
    assert pages["page_no_truth"] == other["overall"]["n_answerable"] - 2
    assert "page accuracy (evidence's printed page)" in (tmp_path / "copy" / "summary.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_compare_text_passes_on_an_identical_copy_and_prints_both_sides(
    settings: rag.Settings,
    questions: Path,
    copy: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    monkeypatch.setenv("RAG_INDEX_DIR", str(settings.index_dir))  # the text side: the tests' index
    no_truth = tmp_path / "papers"
    shutil.copytree(copy, no_truth, ignore=shutil.ignore_patterns("truth.json"))
    argv = ["--questions", str(questions), "--corpus", str(no_truth), "--index", str(copy.parent / "index")]
    assert harness.main([*argv, "--out", str(tmp_path / "parity"), "--compare-text"]) == 0
    out = capsys.readouterr().out
    assert "| zh: hit@k |" in out and "| en: hit@k |" in out
    assert "page accuracy (evidence's printed page) | n/a | n/a |" in out
    assert "parity: passed" in out
    assert (tmp_path / "parity" / "parity.md").exists()


def test_a_broken_truth_file_is_refused_before_any_index_is_built(
    copy: Path, questions: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bad = tmp_path / "truth.json"
    bad.write_text('{"papers": {"x": {"sentences": [{"page": 1}]}}}', encoding="utf-8")
    index = tmp_path / "index"
    argv = ["--questions", str(questions), "--corpus", str(copy), "--index", str(index), "--truth", str(bad)]
    assert harness.main([*argv, "--out", str(tmp_path / "out")]) == 2
    assert "Cannot read the page truth" in capsys.readouterr().err
    assert not index.exists()


def test_compare_text_needs_a_corpus(capsys: pytest.CaptureFixture) -> None:
    assert harness.main(["--compare-text"]) == 2
    assert "--compare-text needs --corpus DIR" in capsys.readouterr().err


def breakdown(hit_zh: float, hit_en: float, accuracy: float, page: float | None = None) -> dict[str, Any]:
    pages = {} if page is None else {"page_accuracy": page, "page_n": 50, "page_no_truth": 0, "page_no_hit": 2}
    return {
        "overall": {"hit_at_k": (hit_zh + hit_en) / 2, "answer_accuracy": accuracy, **pages},
        "zh": {"hit_at_k": hit_zh},
        "en": {"hit_at_k": hit_en},
    }


def test_parity_allows_small_losses_and_names_larger_ones() -> None:
    text = breakdown(0.95, 0.90, 0.80)
    assert parity.parity_failures(text, breakdown(0.92, 0.87, 0.77, page=0.98)) == []
    fails = parity.parity_failures(text, breakdown(0.95, 0.85, 0.80, page=0.97))
    assert any(f.startswith("en.hit_at_k = 0.850, 0.050 below text") for f in fails)
    assert any(f.startswith("overall.page_accuracy = 0.970 below 0.98") for f in fails)
    assert not any(f.startswith(("zh.", "overall.answer_accuracy")) for f in fails)


def test_the_parity_table_shows_differences_and_page_counts() -> None:
    table = render_parity("dev", breakdown(0.95, 0.90, 0.80), breakdown(0.93, 0.90, 0.82, 1.0), Path("build/pdf/mixed"))
    assert "| zh: hit@k | 0.950 | 0.930 | -0.020 |" in table
    assert "| answer-key accuracy | 0.800 | 0.820 | +0.020 |" in table
    assert "| page accuracy (evidence's printed page) | n/a | 1.000 |  |" in table
    assert "over 50 questions" in table
