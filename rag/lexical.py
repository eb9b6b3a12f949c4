"""BM25 over jieba tokens (bm25s). English words are lower-cased; punctuation is dropped."""

from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

_STOPWORDS = frozenset(
    "的 了 和 与 及 等 是 在 对 为 中 也 而 并 其 以 于 将 被 把 之 或 就 都 这 那 有 个 上 下 "
    "我国 哪些 什么 如何 怎样 为什么 多少 哪个 哪 吗 呢 么 请问 是否 方面 问题 进行 "
    "the a an of and or to in on for is are was were be by with what which how why who "
    "does do did that this these those it its as at from".split()
)
_WORD = re.compile(r"[\w\u3400-\u9fff]")
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _jieba():  # noqa: ANN202
    import logging as _logging

    import jieba

    jieba.setLogLevel(_logging.WARNING)
    jieba.initialize()
    return jieba


def tokenize(text: str) -> list[str]:
    """Search-mode jieba tokens (long words and their parts), without stopwords or punctuation."""
    jieba = _jieba()
    with _lock:  # jieba's lazy dictionary state is not thread-safe
        raw = jieba.lcut_for_search(text.lower())
    return [t for t in (tok.strip() for tok in raw) if t and _WORD.search(t) and t not in _STOPWORDS]


class Lexical:
    """A BM25 index over the token lists of the chunks, built in memory at load time."""

    def __init__(self, token_lists: list[list[str]]) -> None:
        import bm25s

        self.size = len(token_lists)
        self._bm25 = bm25s.BM25()
        self._bm25.index(token_lists, show_progress=False)
        self._vocab = set(self._bm25.vocab_dict)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every chunk (0 where nothing matches)."""
        import numpy as np

        known = [t for t in query_tokens if t in self._vocab]
        if not known or self.size == 0:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)
