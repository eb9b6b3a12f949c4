"""Quality under dilution (`rag eval --distractors DIR`): the five papers plus 300+ unrelated
Chinese documents (Debian's manual pages) in one index. A researcher's library holds far more than
the papers a question is about; the others must never be cited and must not push the papers out
of the top k."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import rag
from eval import dilution, harness

# Every second dev question: both languages and the unanswerable ones, about two minutes for
# both indexes once the diluted index exists.
SAMPLE_EVERY = 2


@pytest.fixture(scope="module")
def questions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lines = harness.SPLITS["dev"].read_text(encoding="utf-8").splitlines()
    path = tmp_path_factory.mktemp("questions") / "dev-sample.jsonl"
    path.write_text("\n".join(lines[::SAMPLE_EVERY]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def diluted(distractors: Path, settings: rag.Settings) -> tuple[rag.Assistant, list[str]]:
    """The papers plus the distractors, indexed under build/eval-index/ (built once, reused)."""
    corpus, added = harness.diluted_corpus(settings.corpus_dir, distractors)
    return harness.open_corpus(corpus, None, 5), added


@pytest.mark.slow
def test_the_diluted_corpus_holds_the_papers_their_catalog_and_300_distractors(
    distractors: Path, settings: rag.Settings
) -> None:
    corpus, added = harness.diluted_corpus(settings.corpus_dir, distractors)
    names = {p.name for p in corpus.iterdir()}
    assert len(added) >= 300 and set(added) <= names
    assert "catalog.toml" in names and "README.md" not in names
    assert {p.name for p in settings.corpus_dir.glob("*.txt")} <= names
    sizes = [len((corpus / name).read_text(encoding="utf-8")) for name in added]
    assert min(sizes) >= 300 and max(sizes) <= 3100
    assert not any("跨境" in (corpus / name).read_text(encoding="utf-8") for name in added)


@pytest.mark.slow
def test_distractors_are_never_cited_and_hit_at_5_holds(
    assistant: rag.Assistant, diluted: tuple[rag.Assistant, list[str]], questions: Path, tmp_path: Path
) -> None:
    other, added = diluted
    papers = {p.doc_id for p in rag.indexed_papers(assistant.settings)}
    assert len(rag.indexed_papers(other.settings)) == len(papers) + len(added)
    plain = harness.run_eval(questions, k=5, out_dir=tmp_path / "plain", assistant=assistant)
    mixed = harness.run_eval(questions, k=5, out_dir=tmp_path / "distractors", assistant=other)
    assert dilution.citing_distractors(mixed, papers) == []
    hit = [overall(r)["hit_at_k"] for r in (plain, mixed)]
    assert hit[0] - hit[1] <= dilution.MAX_HIT_DROP + 1e-9, hit
    assert dilution.failures(plain, mixed, papers) == []
    print(dilution.render("dev sample", plain, mixed, papers, len(added), Path("build/distractors")))


def overall(report: dict[str, Any]) -> dict[str, Any]:
    return report["systems"]["rag"]["metrics"]["overall"]


def report(hit: float, cited: list[str]) -> dict[str, Any]:
    rows = [{"id": "q1", "citations": [{"doc_id": d} for d in cited], "top": [{"doc_id": d} for d in cited]}]
    metrics = {"overall": {"n": 1, "hit_at_k": hit, "answer_accuracy": 0.5}, "zh": {"hit_at_k": hit}}
    return {"systems": {"rag": {"metrics": metrics, "questions": rows}}}


def test_a_cited_distractor_or_a_larger_loss_of_hit_at_k_fails_and_the_table_shows_both_sides() -> None:
    papers = {"000_paper"}
    assert dilution.failures(report(0.95, ["000_paper"]), report(0.92, ["000_paper"]), papers) == []
    fails = dilution.failures(report(0.95, []), report(0.90, ["manzh-1-ls"]), papers)
    assert fails[0].startswith("1 answers cite a distractor document: q1")
    assert fails[1].startswith("hit_at_k = 0.900, 0.050 below the papers alone")
    table = dilution.render("dev", report(0.95, []), report(0.90, ["manzh-1-ls"]), papers, 346, Path("d"))
    assert "| hit@k | 0.950 | 0.900 | -0.050 |" in table
    assert "| answers citing a distractor | 0 | 1 | |" in table
