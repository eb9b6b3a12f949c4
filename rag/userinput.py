"""User input at the edges, before any model sees it: a question typed, pasted or read from a
file, and the number of passages asked for. Pure functions, no model, no I/O.

Whatever comes in (lone surrogates from a JSON escape or a bad byte, control characters, a
2,000-character paste with the question at its end) comes out as text that can be searched,
printed and JSON-dumped, or as a BadQuestionError that says what to type instead.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from dataclasses import dataclass

from .errors import BadQuestionError, RagError

logger = logging.getLogger(__name__)

__all__ = [
    "MAX_K",
    "QuestionLine",
    "check_k",
    "clean_question",
    "prepare_question",
    "printable",
    "read_question_lines",
]

# Passages a chat or API request may ask for. The chat's slider offers 1..10; beyond 20 the
# answer only gets slower and the sources panel unreadable (k=1000 returned 137 passages).
# Settings allow up to 100 for the CLI and the eval harness.
MAX_K = 20

_SURROGATE = re.compile("[\ud800-\udfff]")
# A sentence ends at Chinese or English end punctuation; "." only before a space, so that
# decimals ("3.5%") and abbreviations inside words do not split.
_SENTENCE = re.compile(r".*?(?:[。！？!?；;…]+[”’\"')）]*|\.(?=\s)|$)", re.S)
_QUESTION_MARK = re.compile(r"[?？]")
_ELLIPSIS = " … "
_MIN_CONTEXT = 20  # a shorter scrap of the opening is noise, not context


@dataclass(frozen=True, slots=True)
class QuestionLine:
    """One non-blank line of a questions file: the question it carries, or why it carries none."""

    line: int  # 1-based line number in the input
    text: str  # the line as read (surrogates replaced), to echo back in an error
    question: str | None  # None when the line is unusable; `error` says why
    error: str | None = None
    notes: tuple[str, ...] = ()  # things the reader changed, for the answer's notes


def printable(text: str) -> str:
    """`text` with lone surrogates (from "\\ud800" in JSON, or undecodable bytes read with
    surrogateescape) replaced by U+FFFD, so it can always be printed and encoded as UTF-8."""
    return _SURROGATE.sub("\ufffd", text)


def _scrub(question: str) -> str:
    """Surrogates -> U+FFFD; any whitespace (incl. \\x1c, \\x0b, U+2028) -> one space; other
    control, format, private-use and unassigned code points dropped; NFC."""
    out = []
    for ch in question:
        category = unicodedata.category(ch)
        if category == "Cs":
            out.append("\ufffd")
        elif ch.isspace():
            out.append(" ")
        elif category[0] != "C":
            out.append(ch)
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", "".join(out))).strip()


def prepare_question(question: object, max_chars: int = 2000) -> tuple[str, tuple[str, ...]]:
    """A usable query from user input, and notes on what was changed that the user should see.

    Over-long input keeps its question: the last sentence that ends in ？/? (else the last
    sentence), plus as much of the opening as fits, joined by " … ". Raises BadQuestionError
    when nothing searchable is left."""
    if not isinstance(question, str):
        raise BadQuestionError(f"The question must be text, got {type(question).__name__}.")
    text = _scrub(question)
    if not text or not re.search(r"\w", text):
        raise BadQuestionError("The question is empty; type a question in Chinese or English.")
    if len(text) <= max_chars:
        return text, ()
    short, kept = _keep_question(text, max_chars)
    note = (
        f"问题过长，已缩短 question shortened: {len(text)} → {len(short)} characters (limit {max_chars}); kept {kept}"
    )
    return short, (note,)


def clean_question(question: object, max_chars: int = 2000) -> str:
    """`prepare_question` without the notes (the shortening is logged), for callers that only
    need the text."""
    text, notes = prepare_question(question, max_chars)
    for note in notes:
        logger.warning("%s", note)
    return text


def _sentences(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _SENTENCE.finditer(text) if text[m.start() : m.end()].strip()]


def _keep_question(text: str, max_chars: int) -> tuple[str, str]:
    """(shortened text, what was kept) for text longer than max_chars."""
    spans = _sentences(text)
    is_question = [bool(_QUESTION_MARK.search(text[a:b])) for a, b in spans]
    last = max((i for i, q in enumerate(is_question) if q), default=len(spans) - 1)
    start, end = spans[last]
    # "萌芽阶段是哪几年？以什么事件为标志？": the questions just before the last one belong to it.
    while last > 0 and is_question[last - 1] and end - spans[last - 1][0] <= max_chars // 2:
        last -= 1
        start = spans[last][0]
    sentence = "question sentence(s)" if is_question[last] else "sentence"
    kept = f"the last {sentence}"
    question = text[start:end].strip()
    if len(question) >= max_chars:
        return question[-max_chars:].strip(), f"the end of the last {sentence}"
    if end <= max_chars:  # everything up to the question fits; what followed it is dropped
        return text[:end].strip(), f"{kept} and all that came before it"
    budget = max_chars - len(question) - len(_ELLIPSIS)
    if budget < _MIN_CONTEXT:
        return question, kept
    head = text[:budget]
    ends = [e for _, e in _sentences(head) if e < budget]
    if ends and ends[-1] >= budget // 2:  # cut the opening at a sentence end when one is near
        head = head[: ends[-1]]
    return f"{head.rstrip()}{_ELLIPSIS}{question}", f"{kept} and the opening context"


def read_question_lines(data: str | bytes) -> list[QuestionLine]:
    """The questions of a batch file, one per non-blank line, in order.

    Lines are split on "\\n" only (a trailing "\\r" is dropped): \\x1c, \\x0b, \\x0c, \\x85,
    U+2028 and U+2029 stay inside their question, as whitespace. Blank lines are skipped (their
    numbers are missing from the result). Bytes that are not UTF-8 become U+FFFD, with a note.
    A line that starts with "{" and parses as a JSON object is read for its "question" field
    (an object without one is an error item); one that does not parse is a plain question."""
    raw_lines = data.split(b"\n") if isinstance(data, bytes) else data.split("\n")
    items = []
    for number, raw in enumerate(raw_lines, 1):
        notes: tuple[str, ...] = ()
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError:
                raw = raw.decode("utf-8", errors="replace")
                notes = (f"line {number} is not valid UTF-8; the undecodable bytes were replaced by U+FFFD",)
        line = printable(raw.removeprefix("\ufeff") if number == 1 else raw).removesuffix("\r")
        if not line.strip():
            continue
        items.append(_question_line(number, line.strip(), notes))
    return items


def _question_line(number: int, line: str, notes: tuple[str, ...]) -> QuestionLine:
    if not line.startswith("{"):
        return QuestionLine(number, line, line, notes=notes)
    try:
        obj = json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        return QuestionLine(number, line, line, notes=notes)  # plain text that happens to start with "{"
    question = obj.get("question") if isinstance(obj, dict) else None
    if isinstance(question, str):
        return QuestionLine(number, line, printable(question), notes=notes)
    if isinstance(obj, dict) and "question" in obj:
        problem = f'its "question" is {type(question).__name__}, not text'
    else:
        keys = ", ".join(list(obj)[:8]) if isinstance(obj, dict) else ""
        problem = f'it has no "question" field (keys: {keys or "none"})'
    error = f'line {number} is a JSON object but {problem}. Write {{"question": "…"}} or the question as plain text.'
    return QuestionLine(number, line, None, error=error, notes=notes)


def check_k(value: object, high: int = MAX_K) -> int | None:
    """The number of passages a request asks for: None (use the settings' default) or a whole
    number in 1..high. Anything else is a RagError naming the value and the range."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d{1,9}\s*", value):
        number = int(value)
    if number is None:
        raise RagError(f"k={printable(repr(value))[:40]} is not a whole number; ask for 1 to {high} passages.")
    if not 1 <= number <= high:
        raise RagError(f"k={number} is out of range: ask for 1 to {high} passages, or leave k out for the default.")
    return number
