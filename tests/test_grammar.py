"""What a writer may emit and how its draft is read before verification: the citation grammar
(parsed by llama.cpp itself when it is installed), structured replies rendered as cited
sentences, citations written after the full stop, and figures translated at the wrong magnitude."""

from __future__ import annotations

import importlib.util
import json

import pytest

from rag.answer import ABSTAIN
from rag.generate import cites_before_stop
from rag.grammar import (
    MAX_SENTENCES,
    MIN_SENTENCE_CHARS,
    JsonSentences,
    cited_sentences_schema,
    quote_by_quote_gbnf,
    render_json,
)
from rag.verify import _normal, check_sentence, scale_mismatches, verify

QUOTE_2024 = "2024 年中国跨境电商市场规模飙升至 17.66 万亿元，与 2023 年的 16.85 万亿元相比，实现了 4.8%的同比增长。"
QUOTE_EXPORT = "其中出口量占据显著地位，达到 8210 亿元。"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_grammar_asks_one_sentence_per_quote_citing_it(lang: str) -> None:
    gbnf = quote_by_quote_gbnf([1, 2, 3], lang)
    rules = dict(line.split(" ::= ", 1) for line in gbnf.splitlines())
    # In order; the writer may stop after any sentence (forced on, it wrote filler like "and.[2]").
    assert rules["root"] == ("s1 (s2 (s3)?)?" if lang == "zh" else 's1 (" " s2 (" " s3)?)?')
    assert f"rest{{{MIN_SENTENCE_CHARS - 1},}}" in rules["s2"]
    for k in (1, 2, 3):  # the k-th sentence can end with quote k's number only
        assert f'"[{k}]"' in rules[f"s{k}"] and not any(f'"[{j}]"' in rules[f"s{k}"] for j in (1, 2, 3) if j != k)
    assert ABSTAIN[lang] not in gbnf  # whether to abstain is decided before writing
    if lang == "en":  # Chinese script stays out of English prose, except a gloss in parentheses
        assert "\\u4E00-\\u9FFF" in rules["rest"] and "gloss" in rules["rest"]
    with pytest.raises(ValueError, match="at least one quote"):
        quote_by_quote_gbnf([], lang)


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python is not installed")
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_llama_cpp_parses_the_grammar(lang: str) -> None:
    from llama_cpp import LlamaGrammar

    assert LlamaGrammar.from_string(quote_by_quote_gbnf(range(1, MAX_SENTENCES + 1), lang), verbose=False)


def test_schema_enumerates_the_quote_numbers() -> None:
    schema = cited_sentences_schema([2, 1])
    item = schema["properties"]["sentences"]["items"]
    assert item["properties"]["quotes"]["items"]["enum"] == [1, 2] and item["required"] == ["text", "quotes"]
    assert schema["properties"]["sentences"]["maxItems"] == MAX_SENTENCES


def test_structured_reply_renders_as_cited_sentences_without_unknown_numbers() -> None:
    reply = {"sentences": [{"text": "Exports reached 8210 hundred million yuan.", "quotes": [2, 7]},
                           {"text": "The market grew [1] by 4.8%", "quotes": [1]}]}  # fmt: skip
    text = render_json(json.dumps(reply), "en", [1, 2])
    assert text == "Exports reached 8210 hundred million yuan[2]. The market grew by 4.8%[1]."
    assert render_json('{"sentences": []}', "zh") == ABSTAIN["zh"]
    assert render_json("我国已经成为 150 多个国家和地区的主要贸易伙伴[1]。", "zh") is None  # plain text stays text


def test_streamed_structured_reply_gives_each_sentence_when_it_closes() -> None:
    sentences = [{"text": "贸易伙伴超过 150 个。", "quotes": [1]}, {"text": "规模 17.66 万亿元。", "quotes": [2]}]
    reply = json.dumps({"sentences": sentences}, ensure_ascii=False)
    stream = JsonSentences("zh", [1, 2])
    shown = [stream.feed(reply[i : i + 7]) for i in range(0, len(reply), 7)]
    assert "".join(shown) == "贸易伙伴超过 150 个[1]。规模 17.66 万亿元[2]。"
    assert sum(1 for s in shown if s) == 2  # two pieces, one per closed sentence


@pytest.mark.parametrize(
    ("draft", "expected"),
    [
        ("Costs are high. [1] Efficiency is low.[2][3]", "Costs are high [1]. Efficiency is low [2][3]."),
        ("成本较高。[1]效率低下。[2]", "成本较高[1]。效率低下[2]。"),
        ("Already right [1]. Fine [2].", "Already right [1]. Fine [2]."),
    ],
)
def test_citation_after_the_full_stop_belongs_to_that_sentence(draft: str, expected: str) -> None:
    assert cites_before_stop(draft) == expected
    checked = verify(cites_before_stop(draft), {n: _passage(n) for n in (1, 2, 3)}, question_lang="en")
    assert all(s.citations for s in checked.sentences)


def _passage(n: int):  # noqa: ANN202
    from rag.types import Citation

    return Citation(n, "d", "t", None, None, "成本较高，效率低下。Costs are high. Efficiency is low.", 1.0, "", f"k{n}")


@pytest.mark.parametrize(
    ("sentence", "quote", "wrong"),
    [
        # The bug: 17.66 万亿 (trillion) written as billion passed, its digits matched.
        ("China's cross-border e-commerce trade in 2024 was 17.66 billion yuan.", QUOTE_2024, True),
        ("China's cross-border e-commerce trade in 2024 was 17.66 trillion yuan.", QUOTE_2024, False),
        ("Exports reached 8210 million yuan.", QUOTE_EXPORT, True),
        ("Exports reached 8210 hundred million yuan.", QUOTE_EXPORT, False),
        ("Trade grew by 4.8% in 2024.", QUOTE_2024, False),  # no magnitude word: nothing to compare
    ],
)
def test_figure_at_the_wrong_magnitude_is_unsupported(sentence: str, quote: str, wrong: bool) -> None:
    assert bool(scale_mismatches(sentence, _normal(quote))) is wrong
    supported, reason, _ = check_sentence(sentence, [quote])
    if wrong:
        assert not supported and "≠" in reason


@pytest.mark.parametrize(
    ("sentence", "quote", "supported"),
    [
        ("Exports reached 821 billion yuan in 2023.", QUOTE_EXPORT + "2023 年", True),  # 8210 亿 = 821 billion
        ("The market reached 17,660 billion yuan in 2024.", QUOTE_2024, True),  # 17.66 万亿 = 17,660 billion
        ("Exports reached 82.1 billion yuan in 2023.", QUOTE_EXPORT + "2023 年", False),  # ten times too small
    ],
)
def test_the_same_amount_in_other_digits_is_the_quotes_figure(sentence: str, quote: str, supported: bool) -> None:
    ok, reason, _ = check_sentence(sentence, [quote])
    assert "figure" not in reason if supported else ("not in the cited passage" in reason and not ok)
