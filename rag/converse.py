"""Conversations: the one history format (`Turn`) and the one condenser that turns a follow-up
into a question that can be searched on its own. Without a language model it resolves against
the last turn only (older turns are already folded into its standalone form):

    item reference   "那第二个呢？", "the second one?"  -> the last answer's second item
    topic switch     "那支付方面呢？", "what about payments?" after "跨境电商物流面临哪些问题？"
                     -> the last question with its topic replaced: "跨境电商支付面临哪些问题？"
    back-reference   "它的增长率是多少？" -> searched together with the last standalone question
    anything else    a new subject, searched as it is
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from .text import HAN, WORD_CHAR, YEAR, language_of, shape, strip_citations
from .types import Answer, Turn

__all__ = ["Turn", "as_turns", "condense", "answer_items", "item_reference"]

# (term, weight) pairs of a text: how specific each of its terms is (idf), from the index.
Weigher = Callable[[str], list[tuple[str, float]]]

_LEAD = re.compile(
    r"^(?:那么|那|还有|另外|此外|再说说|说说|再问一下|and\s+(?:what|how)\s+about|what\s+about|how\s+about|and|also)\s*[,，]?\s*",
    re.I,
)
_TAIL = re.compile(r"(?:方面|这方面|这一块|这块)?(?:呢|怎么样|如何|又如何|情况如何)?\s*[？?。.!！]*$")
# Chinese pronouns anywhere; English ones as whole words ("credit", "security" hold no "it").
_PRONOUN = re.compile(r"(它们|它|其|该|这些|这个|上述|\b(?:those|these|they|them|their|it|its|this|that)\b)", re.I)
# An English question whose subject or owner is a pronoun refers back, however many words it has.
_REFERRING = re.compile(
    r"\b(?:does|did|do|is|was|are|were|has|have|had|can|could|will|would|should)\s+(?:it|they|this|that)\b"
    r"|\b(?:its|their)\s+\w",
    re.I,
)
_ORDINALS = {
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "last": -1,
    "最后": -1,
}
_ITEM = re.compile(
    r"(?:第\s*([一二两三四五六七八九十\d]+)\s*(?:个|点|条|项|种|方面|阶段)?|(最后)\s*(?:一)?(?:个|点|条|项)|"
    r"\b(?:the\s+)?(first|second|third|fourth|fifth|sixth|seventh|eighth|last)\s+(?:one|item|point|stage|problem|measure)?|"
    r"\b(?:item|point|number|no\.?)\s*(\d+))",
    re.I,
)


def as_turns(history: Sequence[Any] | None) -> tuple[Turn, ...]:
    """The history as Turns. Accepts Turns, Answers, (question, answer) pairs, {"question", "answer"}
    dicts and plain earlier questions (the JSON API's form); anything else raises TypeError."""
    out: list[Turn] = []
    for item in history or ():
        if isinstance(item, Turn):
            out.append(item)
        elif isinstance(item, Answer):
            out.append(Turn(item.question, item.answer, item.standalone_question))
        elif isinstance(item, str):
            out.append(Turn(item))
        elif isinstance(item, list | tuple) and len(item) == 2 and all(isinstance(x, str) for x in item):
            out.append(Turn(item[0], item[1]))
        elif isinstance(item, dict) and isinstance(item.get("question"), str):
            out.append(Turn(item["question"], str(item.get("answer") or ""), item.get("standalone_question")))
        else:
            raise TypeError(
                f"history item {item!r:.80} is not a Turn, an Answer, a question or a (question, answer) pair"
            )
    return tuple(out)


def answer_items(answer: str) -> list[str]:
    """The items of an answer, in order: its sentences that carry [n] citations, markers removed
    (the extractive answer's English lead-in is not an item)."""
    body = re.sub(r"^From the papers \(quoted in their original language\):\s*", "", answer.strip())
    items = [m.group(1).strip(" ；;，,") for m in re.finditer(r"(.+?)(?:\[\d{1,3}\])+[；;。.]?", body, re.S)]
    return [strip_citations(i).strip() for i in items if i.strip()] or [strip_citations(body)]


def item_reference(question: str) -> int | None:
    """The item a follow-up points at: "第二个" -> 2, "the third one" -> 3, "最后一个" -> -1."""
    m = _ITEM.search(question)
    if not m:
        return None
    word = next(g for g in m.groups() if g)
    if word.isdigit():
        return int(word)
    if word.lower() in _ORDINALS:
        return _ORDINALS[word.lower()]
    return _chinese_number(word)


def _chinese_number(word: str) -> int | None:
    if word == "十":
        return 10
    if word.startswith("十"):
        return 10 + _ORDINALS.get(word[1:], 0)
    if len(word) == 1:
        return _ORDINALS.get(word)
    return None


def condense(
    question: str,
    history: Sequence[Turn],
    rewrite: Callable[[str, Sequence[Turn]], str | None] | None = None,
    weigh: Weigher | None = None,
    translate: Callable[[str], str] | None = None,
) -> str:
    """A standalone question for retrieval. With `rewrite` (a language model's condenser) its
    answer is used when it gives one; otherwise the rules of the module docstring, with `weigh`
    (term -> specificity, from the index) choosing the last question's topic and `translate`
    putting an English topic into the papers' terms when the last question was Chinese."""
    if not history:
        return question
    if rewrite is not None:
        rewritten = rewrite(question, history)
        if rewritten:
            return rewritten
    last = history[-1]
    base = last.standalone or last.question
    if base.endswith(f" {last.question}"):  # the last turn was itself glued to its topic: keep the topic only
        base = base[: -len(last.question) - 1]
    n = item_reference(question)
    item = _item(history, n) if n is not None else None
    if item:
        return item
    if not is_follow_up(question, weigh):
        return question
    topic = _LEAD.sub("", _TAIL.sub("", question.strip())).strip()
    new_years, old_years = YEAR.findall(topic), YEAR.findall(base)
    if _LEAD.match(question.strip()) and new_years and old_years and len(topic) <= 8:
        return base.replace(old_years[0], new_years[0], 1)  # "那 2019 年呢？": the same question, another year
    old = _topic_of(base, weigh)
    if _LEAD.match(question.strip()) and topic and not _PRONOUN.search(topic) and old and old in base:
        if translate is not None and language_of(topic) != language_of(base):
            topic = translate(topic) or topic
        return base.replace(old, topic, 1)  # "那支付方面呢？": the same question about another topic
    return f"{base} {question}"  # "它的增长率是多少？": searched with the last question, not all of them


FORMS = ("list", "how_many", "quantity", "definition", "consequence", "cause", "multi_paper", "which_paper")


def has_form(question: str) -> bool:
    """The question says what kind of answer it wants (a list, a figure, a definition, …)."""
    return any(shape(name).search(question) for name in FORMS)


def _item(history: Sequence[Turn], n: int, depth: int = 3) -> str | None:
    """Item n of the most recent answer (within `depth` turns) that has that many items."""
    for turn in reversed(history[-depth:]):
        items = answer_items(turn.answer) if turn.answer else []
        if len(items) >= 2 and (n == -1 or 1 <= n <= len(items)):
            return items[n - 1] if n > 0 else items[-1]
    return None


def is_follow_up(question: str, weigh: Weigher | None = None) -> bool:
    """The question leans on the previous turn: it opens with a follow-up word ("那…", "what
    about…"), is a short "…呢？", asks without a topic of its own ("为什么？"), has an English
    pronoun as its subject or owner ("did it…", "its…"), or has a pronoun and at most two terms
    of its own."""
    text = question.strip()
    if _LEAD.match(text) and _LEAD.sub("", text):
        return True
    own = [t for t, _w in weigh(text)] if weigh else re.findall(r"\w+", text)
    if text.rstrip("？? ").endswith("呢") and len(HAN.findall(text)) <= 8:
        return True
    asks = text.endswith(("？", "?")) or has_form(text)
    if weigh and not own and asks and len(re.findall(r"\w", text)) >= 2:
        return True  # "为什么？", "具体是多少？": a question with no topic of its own
    if weigh and len(own) <= 1 and shape("which").search(text) and len(re.findall(r"\w", text)) <= 10:
        return True  # "哪个省份最多？": which one, of what the last turn was about
    if _REFERRING.search(text):
        return True  # "What share did it account for?", "What are its causes?": about the last turn's subject
    return bool(_PRONOUN.search(text)) and len(own) <= 2


def _topic_of(question: str, weigh: Weigher | None) -> str | None:
    """The most specific term of a question (highest weight), as written in it."""
    if weigh is None:
        return None
    terms = [(t, w) for t, w in weigh(question) if t in question.lower() or t in question]
    if not terms:
        return None
    term = max(terms, key=lambda tw: (tw[1], len(tw[0])))[0]
    if language_of(question) == "en":
        m = re.search(re.escape(term), question, re.I)
        return question[m.start() : m.end()] if m else None
    return term


def question_pieces(question: str) -> list[str]:
    """The questions joined in one, split where the word lists' `sub_question_joints` say
    ("哪一年开始设立的？广西有哪些地方获批？" -> two); [question] when it is one."""
    return [p.strip() for p in shape("sub_question_joints").split(question) if p and p.strip()] or [question]


def question_parts(question: str, limit: int, min_letters: int) -> list[tuple[str, str]]:
    """The pieces of a question (`question_pieces`) as (text to search, its own words): a part
    that leans on the one before ("…是多少？这会带来什么风险？", a follow-up shape or too short
    to stand alone: fewer than `min_letters` letters) is searched together with it. One part (the
    question itself, text and "") when it does not split into 2 to `limit` parts."""
    pieces = question_pieces(question)
    if not 2 <= len(pieces) <= limit:
        return [(question, "")]
    out: list[tuple[str, str]] = []
    for i, piece in enumerate(pieces):
        short = len(WORD_CHAR.findall(piece)) < min_letters
        if i > 0 and (short or shape("follow_up").search(piece)):
            out.append((f"{pieces[i - 1]} {piece}", piece))
        elif short:
            return [(question, "")]
        else:
            out.append((piece, piece))
    return out
