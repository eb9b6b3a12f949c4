"""What a user types, pastes or feeds from a file, before any model sees it (issue 15, item 7)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rag

PAPER_001 = Path(__file__).resolve().parent.parent / "corpus" / "001_4139313f3243f7e4.txt"

QUESTION = "跨境电商物流面临哪些问题？"


def paste(length: int, question: str = QUESTION) -> str:
    """A paste from a real paper, `length` characters in all, with the question at its end."""
    text = " ".join(PAPER_001.read_text(encoding="utf-8").split())
    return text[: length - len(question)] + question


@pytest.mark.parametrize(
    "question",
    ["\ud800跨境电商物流问题？", "跨境电商\udc80的物流问题？", "\udfff跨境电商\ud83d物流\udc00问题？"],
)
def test_lone_surrogates_are_replaced_so_the_question_prints_and_dumps(question: str) -> None:
    text, notes = rag.prepare_question(question)
    assert "\ufffd" in text and "跨境电商" in text and notes == ()
    text.encode("utf-8")  # would raise UnicodeEncodeError with a surrogate left in
    json.loads(json.dumps({"question": text}, ensure_ascii=False))


@pytest.mark.parametrize("question", ["\ud800", "\udfff？", "\x00\x07", "\u200b\u202e"])
def test_nothing_searchable_left_is_a_bad_question(question: str) -> None:
    with pytest.raises(rag.BadQuestionError, match="empty"):
        rag.prepare_question(question)


def test_control_characters_are_dropped_and_separators_become_one_space() -> None:
    assert rag.clean_question("跨境电商\x00\x07的物流\x1b问题？") == "跨境电商的物流问题？"
    assert rag.clean_question("跨境电商\x1c物流\x0b有哪些\u2028问题？") == "跨境电商 物流 有哪些 问题？"
    assert rag.clean_question("cross\u2029border\x85logistics?") == "cross border logistics?"


def test_a_2069_character_paste_keeps_the_question_at_its_end_and_says_so() -> None:
    pasted = paste(2069)
    text, notes = rag.prepare_question(pasted, max_chars=2000)
    assert len(pasted) == 2069 and len(text) <= 2000
    assert text.endswith(QUESTION) and text.startswith(pasted[:100])  # the question and the opening
    assert len(notes) == 1 and "shortened" in notes[0] and "2069" in notes[0] and "question" in notes[0]
    assert rag.clean_question(pasted) == text  # the plain-text API keeps the question too


def test_a_long_english_paste_keeps_its_last_question_not_what_follows() -> None:
    pasted = "Context. " + "The logistics costs are high. " * 90 + "What are the main problems? Thanks a lot."
    text, notes = rag.prepare_question(pasted, max_chars=2000)
    assert len(pasted) > 2000 and len(text) <= 2000
    assert text.endswith("What are the main problems?") and notes


def test_consecutive_questions_at_the_end_stay_together() -> None:
    question = "中国跨境电商的萌芽阶段是哪几年？以什么事件为标志？"
    text, _ = rag.prepare_question(paste(3000, question), max_chars=2000)
    assert text.endswith(question) and " … " in text


def test_a_huge_run_without_punctuation_keeps_its_end() -> None:
    text, notes = rag.prepare_question("跨境电商物流" * 20000, max_chars=2000)
    assert len(text) == 2000 and notes


def test_lines_are_split_on_newlines_only() -> None:
    data = "跨境电商\x1c物流\x0b有哪些问题？\n物流\u2028成本\u2029高吗？\r\nA\x85B\x0cC?\n"
    assert data.splitlines() != data.split("\n")  # what the old reader did: 8 questions from 3 lines
    items = rag.read_question_lines(data)
    assert [i.line for i in items] == [1, 2, 3]
    assert [rag.clean_question(i.question) for i in items] == [
        "跨境电商 物流 有哪些问题？",
        "物流 成本 高吗？",
        "A B C?",
    ]


def test_blank_lines_are_skipped_and_the_line_numbers_kept() -> None:
    items = rag.read_question_lines("\ufeff\n  \n问题一？\r\n\t\n问题二？".encode())  # a BOM, as Notepad writes
    assert [(i.line, i.question) for i in items] == [(3, "问题一？"), (5, "问题二？")]


@pytest.mark.parametrize("line", ["{注意} 跨境电商物流面临哪些问题？", "{1,2} what are the problems?", "{"])
def test_a_plain_line_that_starts_with_a_brace_is_a_question(line: str) -> None:
    [item] = rag.read_question_lines(line + "\n")
    assert item.question == line and item.error is None


def test_a_json_line_is_read_for_its_question() -> None:
    lines = [json.dumps({"id": 3, "question": "红烧肉怎么做？"}), json.dumps({"question": "物流\ud800问题？"})]
    items = rag.read_question_lines("\n".join(lines))
    assert items[0].question == "红烧肉怎么做？"
    assert items[1].question == "物流\ufffd问题？"  # the escaped surrogate cannot reach a print


@pytest.mark.parametrize(
    ("line", "says"),
    [('{"q": "问题？"}', 'no "question" field (keys: q)'), ('{"question": 5}', '"question" is int')],
)
def test_a_json_object_without_a_usable_question_is_an_error_item(line: str, says: str) -> None:
    [item] = rag.read_question_lines(f"问题？\n{line}\n")[1:]
    assert item.question is None and item.line == 2
    assert says in (item.error or "") and '{"question": "…"}' in (item.error or "")


def test_undecodable_bytes_are_replaced_with_a_note_on_that_line() -> None:
    items = rag.read_question_lines(b"\xed\xa0\x80\xe8\xb7\xa8\xe5\xa2\x83\xff?\nok?\n")
    assert items[0].question == "\ufffd\ufffd\ufffd跨境\ufffd?" and "line 1 is not valid UTF-8" in items[0].notes[0]
    assert items[1].notes == ()


@pytest.mark.parametrize("k", [1000, -1, 0, 21])
def test_k_out_of_range_is_a_readable_error(k: int) -> None:
    with pytest.raises(rag.RagError, match=f"k={k} is out of range: ask for 1 to 20 passages"):
        rag.check_k(k)


@pytest.mark.parametrize(("k", "expected"), [(None, None), (1, 1), (20, 20), (5.0, 5), ("7", 7)])
def test_k_in_range_or_absent_is_accepted(k: object, expected: int | None) -> None:
    assert rag.check_k(k) == expected


@pytest.mark.parametrize("k", ["lots", 2.5, True])
def test_k_that_is_not_a_whole_number_is_a_readable_error(k: object) -> None:
    with pytest.raises(rag.RagError, match="is not a whole number"):
        rag.check_k(k)
