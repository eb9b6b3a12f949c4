"""Asking: cited answers that keep the source's figures, lists, abstention, conflicts, and the
citation invariants on every question of the project's question set."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import rag
from rag.cite import quote_supports, sentences_with_markers

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    json.loads(line)
    for line in (ROOT / "eval" / "sets" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]
TRADE_PASSAGE = "我国已经成为 150 多个国家和地区的主要贸易伙伴"


@pytest.mark.parametrize(
    "question",
    [
        "中国已成为多少个国家和地区的主要贸易伙伴？",
        "Of how many countries and regions is China the main trading partner?",
    ],
)
def test_same_fact_in_chinese_and_english_cites_the_passage_and_keeps_the_figure(
    assistant: rag.Assistant, question: str
) -> None:
    answer = assistant.ask(question)
    assert not answer.abstained
    assert "150 多个国家和地区" in answer.answer  # the figure exactly as printed
    cited = [c for c in answer.citations if TRADE_PASSAGE in c.text]
    assert cited and f"[{cited[0].n}]" in answer.answer
    assert cited[0].doc_id == "000_0ea6e26401eae5d1"
    assert cited[0].title == "中国跨境电商发展的困境及其对策研究"
    assert answer.language == ("zh" if "中国" in question else "en")


def test_a_list_question_returns_several_items_each_cited(assistant: rag.Assistant) -> None:
    answer = assistant.ask("中国跨境电商发展中存在哪些问题？")
    items = sentences_with_markers(answer.answer)
    assert len(items) >= 3
    assert all(markers for _, markers in items)
    text = answer.answer
    assert "物流效率" in text and "支付风险" in text and "监管制度" in text


@pytest.mark.parametrize(
    "question",
    ["红烧肉怎么做才好吃？", "What will the weather be in Shanghai tomorrow?", "2022 年卡塔尔世界杯决赛的比分是多少？"],
)
def test_questions_the_papers_do_not_answer_abstain_plainly(assistant: rag.Assistant, question: str) -> None:
    answer = assistant.ask(question)
    assert answer.abstained and not answer.citations
    assert answer.answer in (
        "所检索的论文中没有找到这个问题的答案。",
        "The indexed papers do not answer this question.",
    )
    assert answer.passages  # the closest passages are still listed, as related
    assert "[1]" not in answer.answer


def test_conflicting_figures_from_two_papers_are_both_shown(assistant: rag.Assistant) -> None:
    answer = assistant.ask("全国有多少所本科院校开设了跨境电子商务本科专业？")
    assert "111 所" in answer.answer and "58 所" in answer.answer
    docs = {c.doc_id for c in answer.citations}
    assert {"004_af3a6016a1d3b571", "002_268bfb1f0d63e3bd"} <= docs


def test_every_marker_of_every_answer_resolves_to_a_quote_containing_its_sentence(assistant: rag.Assistant) -> None:
    problems = []
    for q in QUESTIONS:
        answer = assistant.ask(q["question"])
        numbers = {c.n: c for c in answer.citations}
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), q["id"]  # numbered from 1
        first_use = [int(n) for n in dict.fromkeys(re.findall(r"\[(\d+)\]", answer.answer))]
        assert first_use == sorted(first_use), (q["id"], answer.answer)  # in order of first use
        for sentence, markers in sentences_with_markers(answer.answer):
            sentence = re.sub(r"^From the papers \(quoted in their original language\):\s*", "", sentence)
            sentence = sentence.lstrip("；;")
            for n in markers:
                if n not in numbers or not quote_supports(numbers[n], sentence):
                    problems.append((q["id"], n, sentence[:60]))
    assert not problems, problems[:10]


def test_retriever_composes_with_langchain(assistant: rag.Assistant) -> None:
    from langchain_core.documents import Document

    retriever = rag.as_langchain_retriever(assistant, k=3)
    docs = retriever.invoke("跨境电商综合试验区的政策效应")
    assert len(docs) == 3 and all(isinstance(d, Document) for d in docs)
    meta = docs[0].metadata
    assert {"doc_id", "section", "page", "key", "score", "title"} <= set(meta)
    assert docs[0].page_content and meta["key"].startswith(meta["doc_id"] + ":")


def test_follow_up_switches_the_topic_and_a_new_question_stands_alone(assistant: rag.Assistant) -> None:
    """The follow-up is the last question about another topic, not both topics glued together."""
    first = assistant.ask("跨境电商企业应将哪些技术应用到物流中？")
    follow = assistant.ask("那支付方面呢？", history=[first])
    assert "支付" in (follow.standalone_question or "") and "物流" not in (follow.standalone_question or "")
    assert not follow.abstained and "支付" in follow.answer
    fresh = assistant.ask("红烧肉怎么做？", history=[first])
    assert fresh.standalone_question == "红烧肉怎么做？" and fresh.abstained


@pytest.mark.parametrize("bad", ["", "   ", "\n\t", "？？！"])
def test_empty_questions_are_refused_with_a_clear_message(assistant: rag.Assistant, bad: str) -> None:
    with pytest.raises(rag.BadQuestionError, match="empty"):
        assistant.ask(bad)


def test_huge_control_and_foreign_script_input_still_gives_a_valid_answer(assistant: rag.Assistant) -> None:
    huge = assistant.ask("跨境电商物流" * 20000)  # 120 KB
    assert len(huge.question) <= assistant.settings.max_question_chars
    controls = assistant.ask("跨境电商\x00\x07的物流\x1b[31m问题？")
    assert "\x00" not in controls.question and controls.passages
    russian = assistant.ask("Какова погода завтра в Москве?")
    assert russian.abstained


@pytest.mark.parametrize(
    ("question", "wanted"),
    [
        # two questions in one: no passage answers both, each part is answered
        ("跨境电商综合试验区是哪一年开始设立的？我国跨境电商企业总数有多少家？", ("2015", "70,769")),
        ("我国从哪一年开始设立跨境电子商务综合试验区？广东省有多少家跨境电商企业？", ("2015", "14,772")),
        # two years in one question: a figure of each year, about the subject asked
        ("2022 年和 2024 年中国跨境电商市场规模分别是多少？", ("15.7", "17.66")),
        ("2008 年和 2016 年跨境电商行业分别发生了什么？", ("金融危机", "四八新政")),
    ],
)
def test_every_part_of_a_question_gets_its_cited_answer(
    assistant: rag.Assistant, question: str, wanted: tuple[str, ...]
) -> None:
    answer = assistant.ask(question)
    assert not answer.abstained
    for text in wanted:
        assert text in answer.answer, (text, answer.answer)
        cited = [c for c in answer.citations if text in c.text]
        assert cited and f"[{cited[0].n}]" in answer.answer


def test_a_part_the_papers_do_not_answer_is_named_and_the_rest_answered(assistant: rag.Assistant) -> None:
    answer = assistant.ask("跨境电商综合试验区是哪一年开始设立的？亚马逊 2030 年在火星上有几家仓库？")
    assert not answer.abstained and "2015" in answer.answer
    assert "火星" not in answer.answer
    assert any("do not answer this part" in n and "火星" in n for n in answer.notes)


def test_a_when_question_is_answered_with_a_year(assistant: rag.Assistant) -> None:
    for question in ("Kilimall 是哪一年创立的？", "跨境电商综合试验区是哪一年开始设立的？"):
        answer = assistant.ask(question)
        assert not answer.abstained, answer.notes
        assert re.search(r"(19|20)\d\d", answer.answer)


@pytest.mark.parametrize(
    ("question", "items"),
    [
        # items that open sentences several sentences apart: "(1) 萌芽阶段…。这一时期…。(2) 探索发展阶段…"
        ("中国跨境电商的发展历程被划分为哪几个阶段？", ("萌芽阶段", "探索发展阶段", "高速增长期", "高质量发展阶段")),
        # the list opened inside the sentence after the one that answers best ("…划分为四个关键阶段：(1) …")
        ("中国跨境电商的发展历程可以划分为哪几个阶段？", ("萌芽阶段", "探索发展阶段", "高速增长期", "高质量发展阶段")),
        # the same kind with "一是…二是…三是…", announced by a sentence without a colon
        ("当前中国跨境电商发展呈现出哪些主要特点？", ("市场规模方面", "商业模式方面", "政策环境方面")),
    ],
)
def test_a_list_spread_over_several_sentences_is_quoted_item_by_item(
    assistant: rag.Assistant, question: str, items: tuple[str, ...]
) -> None:
    answer = assistant.ask(question)
    assert all(item in answer.answer for item in items), answer.answer


@pytest.mark.parametrize(
    ("question", "heading", "body", "not_sibling"),
    [
        ("综合试验区试点政策的创新效应具体体现在哪些方面？", "3.3.", "竞争敏感度", "产业集聚效应表现在"),
        ("物流效率较为有限具体表现在哪些方面？", "(二) 物流效率较为有限", "跨境物流成本较高", "监管制度尚未健全"),
    ],
)
def test_a_question_naming_a_section_is_answered_from_that_section(
    assistant: rag.Assistant, question: str, heading: str, body: str, not_sibling: str
) -> None:
    answer = assistant.ask(question)
    assert answer.answer.startswith(heading) and body in answer.answer and not_sibling not in answer.answer


def test_a_list_question_inside_one_sub_heading_is_not_answered_with_its_siblings(assistant: rag.Assistant) -> None:
    answer = assistant.ask("郭冉那篇文章讲数字经济视域下跨境电商的发展机遇，其中政策支持具体体现在哪些方面？")
    assert "税收政策" in answer.answer and "市场广阔" not in answer.answer
