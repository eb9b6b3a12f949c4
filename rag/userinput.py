"""What users type, made usable: control characters dropped, whitespace collapsed, over-long
input shortened. (Placeholder moved from pipeline.py; the batch-input work extends it.)"""

from __future__ import annotations

import logging
import re
import unicodedata

from .errors import BadQuestionError

logger = logging.getLogger(__name__)


def clean_question(question: object, max_chars: int = 2000) -> str:
    """A usable query from user input: control characters dropped, whitespace collapsed,
    over-long input truncated (with a log line). Raises BadQuestionError when nothing is left."""
    if not isinstance(question, str):
        raise BadQuestionError(f"The question must be text, got {type(question).__name__}.")
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in question)
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()
    if not text or not re.search(r"\w", text):
        raise BadQuestionError("The question is empty; type a question in Chinese or English.")
    if len(text) > max_chars:
        logger.warning("question of %d characters truncated to %d", len(text), max_chars)
        text = text[:max_chars]
    return text
