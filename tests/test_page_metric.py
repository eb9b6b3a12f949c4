"""Page accuracy on a tiny hand-made truth: the printed page a reader is sent to for the evidence."""

from __future__ import annotations

from typing import Any

from eval import metrics

DOC = "000_a"
# Printed pages 131-132; the second sentence starts on 131 and ends on 132.
TRUTH = {
    "variant": "hand",
    "papers": {
        DOC: {
            "file": f"{DOC}.pdf",
            "first_printed_page": 131,
            "pages": 2,
            "sentences": [
                {"text": "1. 引言", "kind": "heading", "page": 131, "page_end": 131, "index": 1, "index_end": 1},
                {
                    "text": "萌芽阶段(1999~2004 年)以阿里巴巴国际站成立为标志，\n开创了线上外贸的新模式。",
                    "kind": "body",
                    "page": 131,
                    "page_end": 132,
                    "index": 1,
                    "index_end": 2,
                },
                {"text": "敦煌网等平台率先尝试小额 B2C 业务。", "kind": "body", "page": 132, "page_end": 132},
                {"text": "ＲＣＥＰ生效后，出口增长２０％。", "kind": "body", "page": 132, "page_end": 132},
            ],
        }
    },
}
TRUTH_INDEX = metrics.index_truth(TRUTH)


def test_a_sentence_crossing_a_page_break_gives_both_pages() -> None:
    assert metrics.true_pages(TRUTH_INDEX, DOC, "萌芽阶段(1999~2004 年)") == {131, 132}


def test_evidence_spanning_two_sentences_gives_the_pages_of_both() -> None:
    assert metrics.true_pages(TRUTH_INDEX, DOC, "新模式。敦煌网等平台") == {131, 132}
    assert metrics.true_pages(TRUTH_INDEX, DOC, "1. 引言 萌芽阶段") == {131, 132}
    assert metrics.true_pages(TRUTH_INDEX, DOC, "引言") == {131}


def test_whitespace_and_full_width_differences_do_not_matter() -> None:
    assert metrics.true_pages(TRUTH_INDEX, DOC, "RCEP 生效后，出口增长 20%") == {132}
    assert metrics.true_pages(TRUTH_INDEX, DOC, "国际站成立为标志，开创了") == {131, 132}  # the newline in the truth


def test_evidence_not_in_the_paper_has_no_page() -> None:
    assert metrics.true_pages(TRUTH_INDEX, DOC, "不存在的句子") == set()
    assert metrics.true_pages(TRUTH_INDEX, "999_other", "引言") == set()


def test_page_labels_of_citations_are_read_as_ranges() -> None:
    assert metrics.page_range({"page": "137"}) == (137, 137)
    assert metrics.page_range({"page": "137–138"}) == (137, 138)
    assert metrics.page_range({"page": 5, "page_end": None}) == (5, 5)
    assert metrics.page_range({"page": None}) is None


def question(evidence: list[str], answerable: bool = True) -> dict[str, Any]:
    return {"id": "q", "lang": "zh", "tags": [], "gold_docs": [DOC], "evidence": evidence, "answerable": answerable}


def passage(text: str, page: str | None, doc_id: str = DOC) -> dict[str, Any]:
    return {"doc_id": doc_id, "text": text, "page": page}


def record(q: dict[str, Any], passages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"question": q, "answer": {"passages": passages}}


def verdict(evidence: str, *passages: dict[str, Any]) -> str:
    return metrics.judge_page(question([evidence]), list(passages), TRUTH_INDEX)["verdict"]


def test_the_first_passage_holding_the_evidence_is_judged_on_its_pages() -> None:
    evidence = "敦煌网等平台率先尝试小额 B2C 业务"
    other = passage("无关的段落。", "131")
    assert verdict(evidence, other, passage("……敦煌网等平台率先尝试小额B2C业务。", "132")) == "right"
    assert verdict(evidence, passage("敦煌网等平台率先尝试小额B2C业务", "131"), other) == "wrong"
    # Intersecting is enough, but a chunk over three pages does not point a reader anywhere.
    assert verdict(evidence, passage("敦煌网等平台率先尝试小额B2C业务", "131–132")) == "right"
    assert verdict(evidence, passage("敦煌网等平台率先尝试小额B2C业务", "130–132")) == "wrong"
    assert verdict(evidence, passage("敦煌网等平台率先尝试小额B2C业务", None)) == "wrong"


def test_page_accuracy_counts_only_questions_with_a_truth_page_and_a_hit() -> None:
    right = record(question(["以阿里巴巴国际站成立为标志"]), [passage("萌芽阶段以阿里巴巴国际站成立为标志", "132")])
    wrong = record(question(["出口增长20%"]), [passage("RCEP 生效后，出口增长 20%。", "131")])
    no_hit = record(question(["出口增长20%"]), [passage("无关的段落。", "132")])
    no_truth = record(question(["不存在的句子"]), [passage("不存在的句子", "132")])
    unanswerable = record(question([], answerable=False), [passage("无关的段落。", "132")])
    result = metrics.compute_pages([right, wrong, no_hit, no_truth, unanswerable], TRUTH_INDEX, k=5)
    assert result == {"page_accuracy": 0.5, "page_n": 2, "page_no_truth": 1, "page_no_hit": 1}


def test_without_a_truth_no_page_metric_is_reported() -> None:
    rec = record(question(["出口增长20%"]), [passage("出口增长20%", "132")])
    rec["answer"] |= {"answer": "", "abstained": True, "citations": [], "timings_ms": {}}
    rec["question"] |= {"answer_keys": [], "multi_doc": False}
    assert "page_accuracy" not in metrics.compute_metrics([rec], 5)
    assert metrics.compute_metrics([rec], 5, TRUTH_INDEX)["page_accuracy"] == 1.0
