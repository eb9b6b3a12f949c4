"""What a generator may emit, as a grammar: every sentence ends with citations of the quotes.

Two forms of one rule, for the two kinds of model endpoint:

    quote_by_quote_gbnf(numbers, lang)    a GBNF grammar for llama.cpp's constrained decoding:
                                          one sentence per quote, the k-th citing quote k
    cited_sentences_schema(numbers)       a JSON schema for servers with structured output:
                                          1..MAX_SENTENCES sentences citing quotes among `numbers`

In both a citation of a quote that does not exist, or a sentence without one, cannot be
decoded. Neither allows the abstention sentence: whether the papers answer is decided before
writing (rag.abstain, calibrated on the dev questions), and the quotes are the sentences chosen
because they answer; given the choice, the 1.5B model abstained on answerable questions whose
quotes held the answer. `render_json` turns a structured reply into the text form, and
`JsonSentences` does it while the reply streams.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from .answer import ABSTAIN

__all__ = [
    "MAX_SENTENCES",
    "JsonSentences",
    "cited_sentences_schema",
    "quote_by_quote_gbnf",
    "render_json",
]

MAX_SENTENCES = 6  # an answer to read and paste, not an essay; also the most quotes a writer is given
MIN_SENTENCE_CHARS = 8  # a written sentence's body; shorter ones were filler ("and.")
_END = {"zh": "。", "en": "."}


def _literal(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a GBNF string literal has JSON's escapes


# Chinese script and CJK/full-width punctuation: kept out of an English answer's prose (a reader of
# English gets English; the quote stays one click away), except as a short gloss in parentheses
# after a translated name: "DHgate (敦煌网)".
_CJK = "\\u3000-\\u303F\\u3400-\\u4DBF\\u4E00-\\u9FFF\\uF900-\\uFAFF\\uFF00-\\uFFEF"
_HAN = "\\u3400-\\u4DBF\\u4E00-\\u9FFF"
GLOSS_MAX_CHARS = 16


def quote_by_quote_gbnf(numbers: Sequence[int], lang: str) -> str:
    """GBNF for a small local writer: at most one sentence per quote, in the quotes' order, the
    k-th ending with the k-th quote's `[n]` (before or after its full stop), each at least
    MIN_SENTENCE_CHARS long. Left free, the 1.5B
    model wrote one sentence from the first quote and stopped (answer keys of the other quotes
    lost); this way every chosen quote is carried into the answer, reworded in the question's
    language. A sentence's body holds no line break, bracket or sentence-ending mark (a decimal
    point between digits, "3.46", is allowed); for an English answer, no Chinese script or CJK
    punctuation either, except a gloss of up to GLOSS_MAX_CHARS characters in parentheses after a
    translated name. Raises ValueError for no numbers."""
    if not numbers:
        raise ValueError("a cited answer needs at least one quote to cite")
    end = _literal(_END.get(lang, "."))
    sep = "" if lang == "zh" else '" " '
    body = _body_rules(lang)
    cite = [_literal(f"[{n}]") for n in numbers]
    sentences = [
        f's{i} ::= first rest{{{MIN_SENTENCE_CHARS - 1},}} ({c} {end} | {end} " "? {c})' for i, c in enumerate(cite, 1)
    ]
    # s1 (s2 (s3)?)?: in order, but the writer may stop after any sentence. Forced to write one
    # sentence per quote, the 1.5B model filled the ones it had nothing for with "and.[2]".
    tail = ""
    for i in range(len(numbers), 1, -1):
        tail = f"({sep}s{i}{(' ' + tail) if tail else ''})?"
    root = f"root ::= s1{(' ' + tail) if tail else ''}"
    return "\n".join([root, *sentences, *body])


def _body_rules(lang: str) -> list[str]:
    stops = "。！？；" if lang == "zh" else ".!?;" + _CJK + "()"
    extra = "" if lang == "zh" else " | gloss"
    rules = [
        # The first character is not a space, digit-dot or closing mark: a sentence starts cleanly.
        f'first ::= [^ \\t\\n\\[\\]{stops}] | [0-9] "." [0-9]',
        f'rest ::= [^\\n\\[\\]{stops}] | [0-9] "." [0-9]{extra}',
    ]
    if lang != "zh":
        rules.append(f'gloss ::= "(" [^\\n\\[\\]()]{{1,{GLOSS_MAX_CHARS}}} ")"')
    return rules


def cited_sentences_schema(numbers: Iterable[int]) -> dict[str, Any]:
    """JSON schema (OpenAI `response_format` json_schema, strict): {"sentences": [{"text": str,
    "quotes": [n, ...]}, ...]} with 1..MAX_SENTENCES sentences. Raises ValueError like the GBNF."""
    valid = sorted(set(numbers))
    if not valid:
        raise ValueError("a cited answer needs at least one quote to cite")
    sentence = {
        "type": "object",
        "properties": {
            "text": {"type": "string"},
            "quotes": {"type": "array", "items": {"type": "integer", "enum": valid}, "minItems": 1},
        },
        "required": ["text", "quotes"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"sentences": {"type": "array", "items": sentence, "minItems": 1, "maxItems": MAX_SENTENCES}},
        "required": ["sentences"],
        "additionalProperties": False,
    }


def _sentence_text(item: Any, lang: str, valid: Sequence[int] | None) -> str | None:
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        return None
    quotes = [n for n in item.get("quotes") or () if isinstance(n, int) and (valid is None or n in valid)]
    body = re.sub(r"\s*\[\d{1,3}\]", "", item["text"]).strip()
    if not body:
        return None
    end = ""
    if body[-1] in ".。!?！？":
        body, end = body[:-1].rstrip(), body[-1]
    return f"{body}{''.join(f'[{n}]' for n in dict.fromkeys(quotes))}{end or _END.get(lang, '.')}"


def render_json(reply: str, lang: str, valid: Sequence[int] | None = None) -> str | None:
    """The text form (`sentence[n].` joined) of a structured reply, the abstention sentence for an
    empty list, or None when the reply is not the structured form (the caller keeps it as text)."""
    try:
        data = json.loads(reply)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("sentences"), list):
        return None
    parts = [t for t in (_sentence_text(s, lang, valid) for s in data["sentences"]) if t]
    if not parts:
        return ABSTAIN.get(lang, ABSTAIN["en"])
    return ("" if lang == "zh" else " ").join(parts)


class JsonSentences:
    """Renders a structured reply while it streams: `feed(piece)` returns the text of the
    sentences completed by that piece (each `{"text": …, "quotes": […]}` object as soon as it
    closes), so a chat can show sentences before the reply ends."""

    _OPEN = re.compile(r'\{\s*"(?:text|quotes)"')

    def __init__(self, lang: str, valid: Sequence[int] | None = None) -> None:
        self.lang, self.valid = lang, valid
        self.buffer = ""
        self._pos = 0  # where to look for the next sentence object
        self._count = 0
        self._decoder = json.JSONDecoder()

    def feed(self, piece: str) -> str:
        self.buffer += piece
        out: list[str] = []
        while (m := self._OPEN.search(self.buffer, self._pos)) is not None:
            try:
                item, end = self._decoder.raw_decode(self.buffer, m.start())
            except ValueError:
                break  # the object has not closed yet
            self._pos = end
            text = _sentence_text(item, self.lang, self.valid)
            if text:
                out.append(("" if self.lang == "zh" or not self._count else " ") + text)
                self._count += 1
        return "".join(out)
