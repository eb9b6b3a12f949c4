"""A question that names a paper by its author or title is searched in that paper only, and the
name is not taken for a topic the papers never mention (before: "According to Guo Ran's
paper, …" abstained with "the papers never mention Guo Ran": bylines are not in the body)."""

from __future__ import annotations

import pytest

import rag
from rag.scope import named_papers
from rag.types import Paper

GUO_RAN = "001_4139313f3243f7e4"


@pytest.mark.parametrize(
    ("question", "key"),
    [
        ("According to Guo Ran's paper, what current problems of cross-border e-commerce does it identify?", "同质化"),
        ("Which rail links does Ran Guo mention as infrastructure that improved cross-border logistics?", "中欧班列"),
        ("郭冉的论文在提升平台服务水平方面，对支付环节提出了哪些建议？", "移动支付"),
    ],
)
def test_a_paper_named_by_its_author_is_the_one_searched_and_cited(
    assistant: rag.Assistant, question: str, key: str
) -> None:
    answer = assistant.ask(question)
    assert not answer.abstained, answer.abstention
    assert key in answer.answer
    assert {c.doc_id for c in answer.citations} == {GUO_RAN}
    assert any("searched only" in note for note in answer.notes)


def test_a_paper_named_by_a_quoted_title_is_the_one_searched(assistant: rag.Assistant) -> None:
    answer = assistant.ask("《中国跨境电商发展的困境及其对策研究》把中国跨境电商的发展历程划分为哪几个阶段？")
    assert {c.doc_id for c in answer.citations} == {"000_0ea6e26401eae5d1"}
    assert all(stage in answer.answer for stage in ("萌芽阶段", "探索发展阶段", "高速增长期", "高质量发展阶段"))


def _paper(doc_id: str, authors: tuple[str, ...] = (), title: str = "") -> Paper:
    return Paper(doc_id, title or doc_id, None, f"{doc_id}.pdf", "0" * 64, authors=authors, title_known=bool(title))


PAPERS = {
    "lecun": _paper("lecun", ("LeCun, Yann", "Bengio, Yoshua")),
    "li": _paper("li", ("Li, Ming",)),
    "guo": _paper("guo", ("郭冉",)),
    "titled": _paper("titled", title="数字经济背景下中国跨境电商发展研究"),
}


@pytest.mark.parametrize(
    ("question", "doc_ids", "rest"),
    [
        ("What does LeCun say about convolution?", {"lecun"}, "What does say about convolution?"),
        ("In Bengio et al.'s paper, how is training done?", {"lecun"}, "how is training done?"),
        ("What do Guoran and LeCun agree on?", {"guo", "lecun"}, "What do and agree on?"),
        ("《数字经济背景下中国跨境电商》一文提出了什么对策？", {"titled"}, "提出了什么对策？"),
    ],
)
def test_authors_pinyin_and_quoted_titles_name_papers(question: str, doc_ids: set[str], rest: str) -> None:
    found = named_papers(question, PAPERS)
    assert found is not None and found.doc_ids == doc_ids and found.text == rest


@pytest.mark.parametrize(
    "question",
    [
        "What does Li say about payments?",  # a two-letter family name alone is too common to name a paper
        "What is the state of cross-border logistics?",
        "《数字经济》一文说了什么？",  # a quotation shorter than TITLE_MIN_CHARS
    ],
)
def test_questions_that_name_no_paper_search_the_whole_library(question: str) -> None:
    assert named_papers(question, PAPERS) is None


@pytest.mark.parametrize(
    ("question", "doc_id", "key"),
    [
        ("综合试验区那篇论文针对中小外贸企业培育跨境电商专业人才，提出了哪几条措施？", "003_d0102665b7b2c82a", "薪酬与福利体系"),
        ("另一篇讨论法治问题的论文给出的开设该专业的本科院校数量是多少？", "004_af3a6016a1d3b571", "111"),
    ],
)
def test_a_paper_described_by_its_subject_is_the_one_searched(
    assistant: rag.Assistant, question: str, doc_id: str, key: str
) -> None:
    answer = assistant.ask(question)
    assert key in answer.answer and {c.doc_id for c in answer.citations} == {doc_id}
    assert any("searched only" in note for note in answer.notes)


@pytest.mark.parametrize(
    "question",
    [
        "数字经济背景下跨境电商发展那篇论文，从哪几个方面提出了对策？",  # two papers are about the digital economy
        "In the rule-of-law paper, how does cross-border e-commerce help upgrade foreign trade?",  # English: not read
        "这篇论文在结语中主张建立怎样的治理机制？",  # points at a paper without describing it
    ],
)
def test_a_description_that_does_not_single_out_one_paper_restricts_nothing(
    assistant: rag.Assistant, question: str
) -> None:
    answer = assistant.ask(question)
    assert not any("searched only" in note for note in answer.notes)
