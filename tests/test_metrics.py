"""The eval metrics on small hand-made records: the judgements a reader of the report relies on."""

from __future__ import annotations

from typing import Any

import pytest

from eval import metrics

DOC_A, DOC_B = "000_a", "001_b"
EVIDENCE = "萌芽阶段(1999~2004 年)以阿里巴巴国际站成立为标志"


def question(**overrides: Any) -> dict[str, Any]:
    q = {
        "id": "zh-001",
        "lang": "zh",
        "question": "萌芽阶段是哪几年？以什么为标志？",
        "gold_docs": [DOC_A],
        "evidence": [EVIDENCE],
        "answer_keys": [["1999~2004"], ["阿里巴巴国际站", "阿里巴巴"]],
        "answerable": True,
        "multi_doc": False,
        "tags": ["factual"],
    }
    return q | overrides


def passage(n: int, text: str, doc_id: str = DOC_A, sentence: str = "") -> dict[str, Any]:
    return {"n": n, "doc_id": doc_id, "key": f"{doc_id}:{n * 100}", "text": text, "sentence": sentence}


def answer(text: str, citations: list[dict[str, Any]], passages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "answer": text,
        "abstained": False,
        "citations": citations,
        "passages": passages,
        "timings_ms": {"retrieve": 10.0, "answer": 2.0, "total": 12.0},
    } | extra


CHUNK = "其发展脉络可划分为四个阶段：(1) 萌芽阶段(1999~2004 年)以阿里巴巴国际站成立为标志，开创了线上外贸的新模式。"
SENTENCE = "(1) 萌芽阶段(1999~2004 年)以阿里巴巴国际站成立为标志，开创了线上外贸的新模式。"
GOOD = answer(SENTENCE + "[1]", [passage(1, CHUNK, sentence=SENTENCE)], [passage(1, CHUNK)])


def record(q: dict[str, Any] | None = None, a: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"question": q or question(), "answer": a or GOOD} | extra


def test_a_good_answer_passes_every_check() -> None:
    judged = metrics.judge(record(), k=5)
    assert judged["failures"] == []
    assert metrics.compute_answers([record()])["answer_accuracy"] == 1.0
    assert metrics.compute_citations([record()])["evidence_support"] == 1.0


def test_an_answer_missing_one_key_group_is_wrong() -> None:
    text = "萌芽阶段是 1999~2004 年。[1]"  # the years, but not the marking event
    rec = record(a=answer(text, GOOD["citations"], GOOD["passages"]))
    assert metrics.compute_answers([rec])["answer_accuracy"] == 0.0
    assert "answer lacks 阿里巴巴国际站/阿里巴巴" in metrics.judge(rec, 5)["failures"]


def test_any_alternative_of_a_group_counts_and_matching_ignores_width_space_and_case() -> None:
    text = "１９９９～２００４ 年，阿里 巴巴 成立。[1]"  # full-width digits and tilde, spaces inside
    assert metrics.missing_key_groups(question()["answer_keys"], text) == []
    assert metrics.missing_key_groups([["RCEP"]], "the rcep agreement") == []


def test_abstaining_on_an_unanswerable_question_counts_as_correct() -> None:
    na = question(id="na-001", gold_docs=[], evidence=[], answer_keys=[], answerable=False, tags=["unanswerable"])
    abstained = record(na, answer("资料中没有找到答案。", [], [passage(1, CHUNK)], abstained=True))
    answered = record(na, GOOD)
    assert metrics.compute_answers([abstained])["unanswerable_abstention_rate"] == 1.0
    assert metrics.judge(abstained, 5)["failures"] == []
    assert metrics.compute_answers([answered])["unanswerable_abstention_rate"] == 0.0
    assert metrics.judge(answered, 5)["failures"] == ["answered an unanswerable question"]


def test_abstaining_on_an_answerable_question_is_a_false_abstention_not_an_answer() -> None:
    rec = record(a=answer("资料中没有找到答案。", [], [passage(1, CHUNK)], abstained=True))
    got = metrics.compute_answers([rec, record()])
    assert got["false_abstention_rate"] == 0.5
    assert got["answer_accuracy"] == 0.5
    # An abstention is not counted against the citation rates of the answers that were given.
    assert metrics.compute_citations([rec, record()])["cited_rate"] == 1.0


def test_a_marker_without_its_citation_does_not_resolve() -> None:
    cites = [passage(1, CHUNK, sentence=SENTENCE), passage(2, CHUNK, sentence=SENTENCE)]
    rec = record(a=answer(f"{SENTENCE}[1] 另见[3]", cites, GOOD["passages"]))
    assert metrics.marker_checks(rec["answer"]) == [(1, True), (3, False)]
    assert metrics.compute_citations([rec])["marker_resolution"] == 0.5
    assert "marker [3] does not resolve" in metrics.judge(rec, 5)["failures"]


def test_a_marker_whose_sentence_is_not_in_the_quote_does_not_resolve() -> None:
    cite = passage(1, CHUNK, sentence="跨境电商在 2030 年将占外贸一半。")  # invented, not in the quoted chunk
    rec = record(a=answer("跨境电商在 2030 年将占外贸一半。[1]", [cite], GOOD["passages"]))
    assert metrics.marker_checks(rec["answer"]) == [(1, False)]


def test_hit_at_k_needs_the_evidence_within_the_first_k_passages() -> None:
    filler = [passage(i, f"无关段落 {i}", DOC_B) for i in (1, 2, 3)]
    passages = [*filler, passage(4, CHUNK)]
    rec = record(a=answer(GOOD["answer"], GOOD["citations"], passages))
    assert metrics.compute_retrieval([rec], k=3)["hit_at_k"] == 0.0
    got = metrics.compute_retrieval([rec], k=4)
    assert (got["hit_at_k"], got["hit_at_1"], got["mrr_at_10"]) == (1.0, 0.0, 0.25)


def test_mrr_uses_the_ranked_list_beyond_k() -> None:
    ranked = [passage(i, f"无关段落 {i}", DOC_B) for i in range(1, 7)] + [passage(7, CHUNK)]
    rec = record(a=answer(GOOD["answer"], GOOD["citations"], ranked[:5]), ranked=ranked)
    got = metrics.compute_retrieval([rec], k=5)
    assert got["hit_at_k"] == 0.0
    assert got["mrr_at_10"] == pytest.approx(1 / 7)
    assert "no evidence in top 5 (rank 7)" in metrics.judge(rec, 5)["failures"]


def test_evidence_split_by_a_line_break_in_the_chunk_still_counts() -> None:
    broken = CHUNK.replace("阿里巴巴国际站", "阿里巴巴国\n际站")
    assert metrics.evidence_rank([EVIDENCE], [passage(1, broken)]) == 1


def test_citation_precision_counts_cited_documents_outside_the_gold_set() -> None:
    other = "其他论文的一段话。"
    cites = [passage(1, CHUNK, sentence=SENTENCE), passage(2, other, DOC_B, sentence=other)]
    rec = record(a=answer(f"{SENTENCE}[1]{other}[2]", cites, GOOD["passages"]))
    assert metrics.compute_citations([rec])["citation_precision"] == 0.5
    assert f"cites non-gold {DOC_B}" in metrics.judge(rec, 5)["failures"]


def test_a_correct_answer_whose_quotes_lack_the_evidence_is_unsupported() -> None:
    cite = passage(1, "阿里巴巴国际站在 1999~2004 年很重要。", sentence="阿里巴巴国际站在 1999~2004 年很重要。")
    rec = record(a=answer("阿里巴巴国际站在 1999~2004 年很重要。[1]", [cite], GOOD["passages"]))
    got = metrics.compute_citations([rec])
    assert metrics.compute_answers([rec])["answer_accuracy"] == 1.0
    assert got["evidence_support"] == 0.0
    assert "no cited quote holds the evidence" in metrics.judge(rec, 5)["failures"]


def test_multi_doc_share_counts_gold_documents_found_in_top_k() -> None:
    q = question(gold_docs=[DOC_A, DOC_B, "002_c"], multi_doc=True, tags=["multi_doc"])
    rec = record(q, answer(GOOD["answer"], GOOD["citations"], [passage(1, CHUNK), passage(2, "乙", DOC_B)]))
    assert metrics.compute_retrieval([rec], k=5)["multi_doc_gold_share"] == pytest.approx(2 / 3)
    assert metrics.compute_retrieval([record()], k=5)["multi_doc_gold_share"] is None


def test_sentence_verdicts_are_scored_only_when_present() -> None:
    verdicts = [{"text": "a", "citations": [1], "supported": True}, {"text": "b", "citations": [], "supported": False}]
    with_verdicts = record(a=GOOD | {"sentences": verdicts})
    assert metrics.compute_citations([with_verdicts, record()])["sentence_supported"] == 0.5
    assert metrics.compute_citations([record()])["sentence_supported"] is None


def test_breakdown_splits_by_language_and_tag() -> None:
    en = question(id="en-001", lang="en", tags=["why"])
    wrong = record(en, answer("I do not know.", [], GOOD["passages"]))
    groups = metrics.compute_breakdown([record(), wrong], k=5)
    assert groups["overall"]["answer_accuracy"] == 0.5
    assert (groups["zh"]["answer_accuracy"], groups["en"]["answer_accuracy"]) == (1.0, 0.0)
    assert groups["tag:why"]["n"] == 1


def test_latency_percentiles_per_stage() -> None:
    recs = [record(a=GOOD | {"timings_ms": {"retrieve": float(ms), "total": float(ms) + 1}}) for ms in range(1, 101)]
    got = metrics.compute_latency(recs)
    assert got["latency_retrieve_p50"] == pytest.approx(50.5)
    assert got["latency_retrieve_p95"] == pytest.approx(95.05)
    assert "latency_answer_p50" not in got


def test_gate_names_each_missed_threshold_and_treats_abstention_and_latency_as_maxima() -> None:
    flat = {
        "overall.hit_at_k": 0.8,
        "overall.false_abstention_rate": 0.2,
        "overall.latency_total_p95": 900.0,
        "en.multi_doc_gold_share": None,
    }
    fails = metrics.gate_failures(
        flat,
        {
            "overall.hit_at_k": 0.9,
            "overall.false_abstention_rate": 0.1,
            "overall.latency_total_p95": 1000.0,
            "en.multi_doc_gold_share": 0.5,
            "overall.hit_at_5": 0.9,
        },
    )
    assert "overall.hit_at_k = 0.800 below min 0.9" in fails
    assert "overall.false_abstention_rate = 0.200 above max 0.1" in fails
    assert not any(f.startswith("overall.latency") for f in fails)
    assert any(f.startswith("en.multi_doc_gold_share: not measured") for f in fails)
    assert any(f.startswith("overall.hit_at_5: no such metric") for f in fails)
