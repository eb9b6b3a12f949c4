"""BM25 over jieba tokens (bm25s). Text is folded first (rag.normalise.fold: full-width forms,
radicals, traditional characters, case), so index and question tokens meet; punctuation is dropped."""

from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from .normalise import fold

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

_STOPWORDS = frozenset(
    "的 了 和 与 及 等 是 在 对 为 中 也 而 并 其 以 于 将 被 把 之 或 就 都 这 那 有 个 上 下 "
    "我国 哪些 什么 如何 怎样 为什么 多少 哪个 哪 吗 呢 么 请问 是否 方面 问题 进行 "
    "the a an of and or to in on for is are was were be by with what which how why who "
    "does do did that this these those it its as at from".split()
)
_EN_STOP = frozenset(
    "which what who whom whose why how when where does do did is are was were be been being has have had "
    "the a an of and or to in on for with by as at from into about than then that this these those it its "
    "their there they them paper papers article study author authors according said say says cited mentioned "
    "named give given mention described describe main most more much many some any each other such "
    "can could should would will may might must not no one two three first second also only".split()
)
_EN_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*[A-Za-z]")
_HAN = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[\w\u3400-\u9fff]")
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _jieba():  # noqa: ANN202
    import logging as _logging

    import jieba

    jieba.setLogLevel(_logging.WARNING)
    jieba.initialize()
    return jieba


# Texts whose tokens are remembered: the sentences a conversation keeps returning to are cut once
# (jieba takes about a millisecond per sentence, the largest fixed cost of an answer).
TOKENIZE_CACHE_SIZE = 50_000


def tokenize(text: str) -> list[str]:
    """Search-mode jieba tokens (long words and their parts) of the folded text, without
    stopwords or punctuation: "２０１９年" gives the tokens of "2019年", "中國" those of "中国"."""
    return list(_tokens(text))


@lru_cache(maxsize=TOKENIZE_CACHE_SIZE)
def _tokens(text: str) -> tuple[str, ...]:
    jieba = _jieba()
    with _lock:  # jieba's lazy dictionary state is not thread-safe
        raw = jieba.lcut_for_search(fold(text))
    return tuple(t for t in (tok.strip() for tok in raw) if t and _WORD.search(t) and t not in _STOPWORDS)


def word_spans(text: str) -> list[tuple[int, int]]:
    """The (start, end) of each word of the text in jieba's default segmentation."""
    jieba = _jieba()
    with _lock:
        return [(s, e) for _w, s, e in jieba.tokenize(text)]


class Lexical:
    """A BM25 index (bm25s) over the token lists of the chunks: built from the tokens at index
    time and saved beside them (Lexical.save), then memory-mapped by every process that serves
    the index (Lexical.load) instead of being rebuilt from tokens at each start."""

    def __init__(self, token_lists: list[list[str]] | None = None, *, _bm25: object | None = None) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        if _bm25 is None and token_lists:
            _bm25 = bm25s.BM25()
            _bm25.index(token_lists, show_progress=False)
        self._bm25 = _bm25  # None for an empty library: bm25s cannot index nothing
        self.size = int(_bm25.scores["num_docs"]) if _bm25 is not None else 0
        self._vocab: dict[str, int] = _bm25.vocab_dict if _bm25 is not None else {}

    @classmethod
    def load(cls, folder: Path) -> Lexical:
        """The index saved in `folder`, its score arrays memory-mapped (read-only)."""
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        return cls(_bm25=bm25s.BM25.load(str(folder), mmap=True))

    def save(self, folder: Path) -> None:
        """Write the index into `folder` (created): score arrays as .npy, vocabulary and
        parameters as JSON (bm25s's own format; nothing pickled). An empty index writes nothing."""
        if self._bm25 is not None:
            self._bm25.save(str(folder), allow_pickle=False)

    def document_frequency(self) -> dict[str, int]:
        """How many chunks hold each index term (every such chunk has a positive BM25 score, so
        it is the term's number of stored scores)."""
        import numpy as np

        if self._bm25 is None:
            return {}
        counts = np.diff(np.asarray(self._bm25.scores["indptr"]))
        return {term: int(counts[i]) for term, i in self._vocab.items() if i < len(counts)}

    def scores(self, query_tokens: list[str], *, where: object = None, depth: int | None = None) -> np.ndarray:
        """BM25 score of every chunk (0 where nothing matches). `where` and `depth` are for a store
        that ranks on an engine (rag.milvus); in process every chunk is scored, whatever they say."""
        import numpy as np

        known = [t for t in query_tokens if t in self._vocab]
        if not known or self.size == 0:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)


_NAME_TAGS = frozenset({"ns", "nr", "nt", "nz", "nrt", "nrfg", "eng"})
# Words jieba sometimes tags as names but that a question uses generically.
_GENERIC_NAMES = frozenset(
    "中国 我国 国家 全球 世界 国际 跨境 电商 论文 文章 本文 作者 文中 城市 地区 企业 平台".split()
)


def named_terms(text: str) -> list[str]:
    """Place, person, organisation and Latin names in Chinese text (jieba part-of-speech), as
    written in `text`. Tagging runs on the folded text, so "ＲＣＥＰ", "中國" and "阿⾥巴巴" are
    tagged like "RCEP", "中国" and "阿里巴巴", and 中國 is as generic as 中国. To look a name up,
    compare folded forms: `fold(name) in fold(passage)`."""
    _jieba()
    import jieba.posseg as pseg

    folded = fold(text)
    with _lock:
        pairs = [(w.word, w.flag) for w in pseg.cut(folded)]
    names: list[str] = []
    pos = 0
    for word, flag in pairs:
        start, pos = pos, pos + len(word)
        key = word.strip()
        if flag in _NAME_TAGS and len(key) >= 2 and key not in _GENERIC_NAMES:
            # fold() keeps offsets, so the name is cut from the question as the user wrote it.
            names.append(text[start:pos].strip() if folded[start:pos] == word else key)
    return names


def nouns(text: str) -> list[str]:
    """The nouns of Chinese text in order (jieba part-of-speech n*, vn), folded."""
    _jieba()
    import jieba.posseg as pseg

    with _lock:
        pairs = [(w.word.strip(), w.flag) for w in pseg.cut(fold(text))]
    return [w for w, flag in pairs if w and (flag.startswith("n") or flag == "vn")]


def han_vocabulary(token_lists: list[list[str]] | tuple[tuple[str, ...], ...]) -> list[str]:
    """The Chinese tokens of the index, sorted: what an English question can be bridged to."""
    return sorted({t for toks in token_lists for t in toks if _HAN.search(t)})


def english_terms(question: str) -> list[str]:
    """Content words of an English question, lower-cased, in order, without repeats."""
    seen: dict[str, None] = {}
    for word in _EN_WORD.findall(fold(question)):
        if word not in _EN_STOP and len(word) > 2:
            seen.setdefault(word, None)
    return list(seen)


# An English word is bridged to the Chinese index tokens whose USE embedding is this close;
# measured on the corpus vocabulary ("province" -> 省份 0.73, "payment" -> 支付 0.85; noise < 0.6).
BRIDGE_MIN_SIM = 0.6
BRIDGE_PER_WORD = 2


def bridge_terms(
    word_vectors: np.ndarray,
    vocab: list[str],
    vocab_vectors: np.ndarray,
    *,
    min_similarity: float = BRIDGE_MIN_SIM,
    per_word: int = BRIDGE_PER_WORD,
) -> list[str]:
    """Chinese tokens for each English word (nearest in the cross-lingual space): at most
    `per_word` per word, each at least `min_similarity` (cosine) close."""
    import numpy as np

    if not len(vocab) or not len(word_vectors):
        return []
    sims = word_vectors @ vocab_vectors.T
    out: list[str] = []
    for row in sims:
        for i in np.argsort(-row)[:per_word]:
            if row[i] >= min_similarity:
                out.append(vocab[int(i)])
    return out


_PINYIN: dict[int, dict[str, list[str]]] = {}


def pinyin_terms(words: list[str], vocab: tuple[str, ...] | list[str]) -> list[str]:
    """Chinese index tokens whose toneless pinyin is one of the words: romanised names in an
    English question ("Pengcheng" -> 鹏城, "Guangxi" -> 广西). pypinyin, loaded on first use."""
    key = id(vocab)
    if key not in _PINYIN:
        from pypinyin import lazy_pinyin

        table: dict[str, list[str]] = {}
        for tok in vocab:
            if len(tok) >= 2 and all(_HAN.match(ch) for ch in tok):
                table.setdefault("".join(lazy_pinyin(tok)), []).append(tok)
        _PINYIN.clear()
        _PINYIN[key] = table
    table = _PINYIN[key]
    out: list[str] = []
    for word in words:
        out += table.get(re.sub(r"[^a-z]", "", word.lower()), [])
    return list(dict.fromkeys(out))
