"""Conversations: the one history format (`Turn`) and the one condenser that turns a follow-up
("那支付方面呢？", "what about payments?") into a question that can be searched on its own."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .text import shape
from .types import Answer, Turn

__all__ = ["Turn", "as_turns", "condense"]


def as_turns(history: Sequence[Any] | None) -> tuple[Turn, ...]:
    """The history as Turns. Accepts Turns, Answers, (question, answer) pairs and plain earlier
    questions (the JSON API's form); anything else raises TypeError naming the item."""
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


def is_follow_up(question: str) -> bool:
    """The question leans on the previous turn (opens with or contains a back-reference)."""
    return bool(shape("follow_up").search(question))


def condense(
    question: str, history: Sequence[Turn], rewrite: Callable[[str, Sequence[Turn]], str | None] | None = None
) -> str:
    """A standalone question for retrieval. With `rewrite` (a language model's condenser) its
    answer is used when it gives one; otherwise a follow-up is searched together with the last
    turn's standalone question, and a question that stands on its own is searched as it is."""
    if not history:
        return question
    if rewrite is not None:
        rewritten = rewrite(question, history)
        if rewritten:
            return rewritten
    if is_follow_up(question):
        last = history[-1]
        return f"{last.standalone or last.question} {question}"
    return question
