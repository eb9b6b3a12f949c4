"""Follow-ups resolve against the last turn (issue: follow-ups that follow), on the real index."""

from __future__ import annotations

import pytest

import rag
from rag.converse import answer_items, item_reference


def test_a_topic_switch_after_a_list_question_searches_the_new_topic(assistant: rag.Assistant) -> None:
    first = assistant.ask("跨境电商物流面临哪些问题？")
    follow = assistant.ask("那支付方面呢？", history=[first])
    assert follow.standalone_question == "跨境电商支付面临哪些问题？"
    assert "支付" in follow.answer and not follow.abstained


def test_the_second_item_of_a_list_answer_is_addressable(assistant: rag.Assistant) -> None:
    first = assistant.ask("中国跨境电商发展中存在哪些问题？")
    second = answer_items(first.answer)[1]
    follow = assistant.ask("那第二个呢？", history=[first])
    assert follow.standalone_question == second
    assert "物流" in follow.answer and "监管制度尚未健全" not in follow.answer  # not the whole list again
    english = assistant.ask("What problems does China's cross-border e-commerce face?")
    third = assistant.ask("Tell me more about the third one.", history=[english])
    assert third.standalone_question == answer_items(english.answer)[2] and third.language == "en"


def test_an_english_follow_up_in_a_chinese_conversation_is_answered_in_english(assistant: rag.Assistant) -> None:
    first = assistant.ask("跨境电商物流面临哪些问题？")
    follow = assistant.ask("What about payments?", history=[first])
    assert "支付" in (follow.standalone_question or "")
    assert follow.language == "en" and follow.answer.startswith("From the papers")
    unknown = assistant.ask("And what about the weather in Paris?", history=[first])
    assert unknown.abstained and unknown.answer == "The indexed papers do not answer this question."


def test_a_pronoun_keeps_only_the_last_topic_and_a_new_subject_is_not_glued(assistant: rag.Assistant) -> None:
    first = assistant.ask("2024 年前三季度我国跨境电商进出口额是多少？")
    follow = assistant.ask("它的同比增长是多少？", history=[first])
    assert follow.standalone_question == f"{first.question} 它的同比增长是多少？" and "11.5%" in follow.answer
    third = assistant.ask("它比外贸整体增速高多少？", history=[first, follow])
    assert third.standalone_question == f"{first.question} 它比外贸整体增速高多少？"  # not every earlier turn
    new = assistant.ask("全国有多少所本科院校开设了跨境电子商务本科专业？", history=[first, follow])
    assert new.standalone_question == "全国有多少所本科院校开设了跨境电子商务本科专业？" and "111" in new.answer


def test_an_english_question_about_it_is_searched_with_the_last_one(assistant: rag.Assistant) -> None:
    first = assistant.ask("How big was China's cross-border e-commerce market in 2022?")
    follow = assistant.ask("What share of total goods trade did it account for?", history=[first])
    assert follow.standalone_question.startswith(first.question)
    assert "37.3%" in follow.answer and not follow.abstained
    # the same kind: a possessive pronoun with a topic of several words
    kilimall = assistant.ask("Which platform does the paper give as an example of Chinese e-commerce in Africa?")
    share = assistant.ask("What share of the East African market does its platform hold?", history=[kilimall])
    assert share.standalone_question.startswith(kilimall.question)
    assert "50%" in share.answer


@pytest.mark.parametrize(
    "switch",
    ["What about data security?", "And what about credit?", "What about digital payments?"],
)
def test_english_words_holding_it_or_this_are_no_pronouns(switch: str) -> None:
    """ "security", "credit" and "digital" hold "it": the topic switch replaces the last topic
    instead of gluing the question to it."""
    from rag.converse import Turn, condense, is_follow_up

    assert is_follow_up(switch)
    history = (Turn("跨境电商物流面临哪些问题？"),)
    standalone = condense(switch, history, weigh=lambda text: [("物流", 5.0)] if "物流" in text else [])
    assert standalone != f"跨境电商物流面临哪些问题？ {switch}" and "物流" not in standalone
    assert not is_follow_up("What problems exist in the credit system of digital trade?")


@pytest.mark.parametrize(
    ("text", "n"),
    [("那第二个呢？", 2), ("第3点呢", 3), ("the second one?", 2), ("最后一个呢？", -1), ("跨境电商", None)],
)
def test_item_references(text: str, n: int | None) -> None:
    assert item_reference(text) == n


def test_history_accepts_answers_turns_pairs_and_questions(assistant: rag.Assistant) -> None:
    first = assistant.ask("跨境电商物流面临哪些问题？")
    for history in ([first], [first.turn()], [(first.question, first.answer)], [first.question]):
        follow = assistant.ask("那支付方面呢？", history=history)
        assert "支付" in (follow.standalone_question or "")
    with pytest.raises(TypeError, match="history item"):
        assistant.ask("那支付方面呢？", history=[42])


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("And the fifth?", 5),
        ("第二个阶段有什么特点？", 2),
        ("Under the second bottleneck, why is quality risk hard to supervise?", 2),
        # ordinals of time are no item references
        ("And in the first half of the following year, how did exports compare with imports?", None),
        ("2024 年第三季度呢？", None),
        ("What happened the first time?", None),
    ],
)
def test_ordinals_of_items_are_references_and_ordinals_of_time_are_not(text: str, n: int | None) -> None:
    assert item_reference(text) == n


def test_the_items_of_an_answer_are_those_of_the_enumeration_it_quotes() -> None:
    stages = (
        "发展历程可追溯至 20 世纪末。[1]其发展脉络可划分为四个关键阶段：(1) 萌芽阶段以阿里巴巴国际站成立为标志。[1]"
        "(2) 探索发展阶段见证了行业模式的多元化创新。[1](3) 高速增长期是行业发展的黄金时期。[2](4) 高质量发展阶段。[2]"
    )
    assert [i[:3] for i in answer_items(stages)] == ["(1)", "(2)", "(3)", "(4)"]  # not the sentence before (1)
    headings = "3.1. 综合试验区试点政策的政策效应[1]；3.2. 综合试验区试点政策的产业集聚效应[2]；3.3. 创新效应[3]；"
    assert answer_items(headings) == ["3.1. 综合试验区试点政策的政策效应", "3.2. 综合试验区试点政策的产业集聚效应", "3.3. 创新效应"]


def test_an_item_of_a_numbered_list_is_told_in_full_and_the_last_item_is_the_lists_last(
    assistant: rag.Assistant,
) -> None:
    stages = assistant.ask("中国跨境电商的发展历程被划分为哪几个阶段？")
    second = assistant.ask("第二个阶段有什么特点？", history=[stages])
    assert "探索发展阶段" in second.answer and "敦煌网" in second.answer and "PayPal" in second.answer
    assert "高速增长期" not in second.answer  # the item, not the rest of the list
    last = assistant.ask("最后一个阶段呢？", history=[stages, second])
    assert "高质量发展阶段" in last.answer and "品牌竞争" in last.answer  # the list's last, not the told item's
    # the same kind in English, on a list of headings
    effects = assistant.ask("综合试验区试点政策从哪几个方面赋能跨境电商高质量发展？")
    third = assistant.ask("And the third one?", history=[effects])
    assert "创新效应" in third.standalone_question and third.language == "en" and not third.abstained


def test_a_follow_up_topic_takes_the_slot_of_the_word_that_shares_its_frame(assistant: rag.Assistant) -> None:
    first = assistant.ask("讲中国跨境电商困境的那篇论文里，物流方面存在哪些问题？")
    follow = assistant.ask("那支付方面呢？", history=[first])
    assert "支付方面" in follow.standalone_question and "物流" not in follow.standalone_question
    effect = assistant.ask("跨境电商综合试验区试点政策的政策效应是怎么体现的？")
    innovation = assistant.ask("创新效应呢？", history=[effect])
    assert "创新效应" in innovation.standalone_question and "政策效应" not in innovation.standalone_question
    english = assistant.ask("In the rule-of-law paper, what is the main challenge on the legislative side?")
    enforcement = assistant.ask("And on the enforcement side?", history=[english])
    assert enforcement.standalone_question.endswith("on the enforcement side?")
    assert "legislative" not in enforcement.standalone_question


@pytest.mark.parametrize(
    "question",
    [
        "另外问一下，综合试验区那篇论文提到用什么系统来核查跨境电商交易数据、杜绝逃税？",
        "And how big was the Southeast Asian e-commerce market in 2022?",
    ],
)
def test_a_question_of_its_own_after_a_follow_up_word_stands_alone(assistant: rag.Assistant, question: str) -> None:
    first = assistant.ask("跨境电商物流面临哪些问题？")
    assert assistant.ask(question, history=[first]).standalone_question == question


def test_an_item_reference_without_a_list_to_point_at_is_searched_with_the_last_question(
    assistant: rag.Assistant,
) -> None:
    first = assistant.ask("跨境电商综合试验区能从哪三个方面赋能中国跨境电商？")  # one sentence, no list
    follow = assistant.ask("那第二个呢？", history=[first])
    assert follow.standalone_question == f"{first.question} 那第二个呢？"  # was "跨境电商综合第二个能从…"
    partners = assistant.ask("中国已成为多少个国家和地区的主要贸易伙伴？")  # the same kind: a one-sentence answer
    assert len(answer_items(partners.answer)) == 1
    again = assistant.ask("第三个呢？", history=[partners])
    assert again.standalone_question == f"{partners.question} 第三个呢？"


def test_an_english_question_about_a_chinese_item_searches_the_item(assistant: rag.Assistant) -> None:
    stages = assistant.ask("What stages has China's cross-border e-commerce development gone through?")
    second = assistant.ask("What characterizes the second stage?", history=[stages])
    assert second.standalone_question.startswith("(2) 探索发展阶段")  # no English words glued to it
    assert not second.abstained and "敦煌网" in second.answer and second.language == "en"
