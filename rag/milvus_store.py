"""The index kept in Milvus (RAG_STORE=milvus) behind rag.store.Store, so that the pipeline, the
legs and the retriever read it as they read the index folder.

Serving loads the tables a question needs in process (chunks, papers, headings, sentence spans,
the vocabulary and its vectors, BM25 document frequencies: what the answerer and the abstention
model read whole) and leaves the rest on the engine:

    search(slot, vector, k, where)  dense search on Milvus, references and the paper filter as
                                    a filter expression (rag.store.Where)
    lexical.scores(terms, where)    BM25 on Milvus over the project's own tokens (rag/milvus.py)
    sentence_vectors[rows]          the USE vectors of the sentences a question reaches, read by
                                    key and kept in a bounded per-process cache

Answers from the engine come back as chunk keys (doc_id:start) and sentence keys, and are mapped
onto this process's tables: a `rag index` that updates papers in place while a chat process
serves moves rows, not keys, so the process keeps answering from the papers it loaded (new
papers appear after a reload; removed ones stop being returned at once)."""

from __future__ import annotations

import logging
import sys
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from functools import cached_property
from typing import TYPE_CHECKING, Any

from .errors import IndexMismatchError
from .store import IndexData, Where

if TYPE_CHECKING:
    import numpy as np

    from .config import Settings
    from .milvus import MilvusIndex
    from .types import Paper

logger = logging.getLogger(__name__)

# Sentence vectors kept per process after a question read them: float16 (as the index folder
# stores them), 1 KB each, so 50 MB. A question reads the sentences of its candidate chunks
# (Tuning.dense_candidates per leg); questions on one topic come back to the same ones.
SENTENCE_CACHE_ROWS = 50_000


class MilvusStore:
    """rag.store.Store over one Milvus collection alias (Settings.milvus_*), connected on first use."""

    def __init__(self, settings: Settings) -> None:
        self.uri = settings.milvus_target
        self.token = settings.milvus_token
        self.collection = settings.milvus_collection

    def describe(self) -> str:
        return f"Milvus collection {self.collection!r} at {self.uri}"

    @cached_property
    def engine(self) -> MilvusIndex:
        from .milvus import MilvusIndex

        return MilvusIndex(self.uri, self.token or None, self.collection, progress=sys.stderr.isatty())

    def manifest(self) -> dict[str, Any] | None:
        """The manifest stored with the collection; {} when the collection cannot be read by this
        version (a rebuild replaces it); None when there is no index yet."""
        if self.engine._current() is None:
            return None
        try:
            return self.engine.manifest()
        except IndexMismatchError:
            return {}

    def papers(self) -> list[Paper]:
        return list(self.engine.papers().values())

    def load(self, expected: dict[str, Any] | None, *, full: bool = False) -> IndexData:
        """The index for serving (a MilvusData), or with `full` every vector and token read back
        (a build extends it; a copy into the folder writes it)."""
        engine = self.engine
        if expected is not None:
            engine.check_compatible(expected)  # no index, schema or embedder mismatch: named errors
        if full:
            return engine.load(vectors=True)
        base = engine.load(vocab_vectors=True)
        frequency = Counter(t for tokens in base.tokens for t in set(tokens))
        values = {f.name: getattr(base, f.name) for f in fields(IndexData)}
        values.update(tokens=(), sentence_vectors=None)
        data = MilvusData(**values, engine=engine, frequency=dict(frequency))
        if engine._count(f"{engine.generation()}_sentences"):
            object.__setattr__(data, "sentence_vectors", SentenceVectors(engine, data))
        return data

    def write(self, data: IndexData, *, old: IndexData | None = None, changed: Iterable[str] = ()) -> None:
        """A whole new index: a new generation, then the alias switches (atomic). An update:
        the changed papers are rewritten in place (rag.milvus.MilvusIndex.upsert_papers)."""
        if old is None:
            self.engine.write(data)
        else:
            self.engine.upsert_papers(data, changed)


@dataclass(frozen=True)
class MilvusData(IndexData):
    """IndexData whose vectors and BM25 stay in Milvus (see the module docstring)."""

    engine: MilvusIndex | None = None
    frequency: dict[str, int] | None = None  # BM25 document frequency of each term, for the idf

    @cached_property
    def _row_of(self) -> dict[str, int]:
        return {c.key: i for i, c in enumerate(self.chunks)}

    def _rows(self, keys: Sequence[str], scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The engine's answer on this process's rows; keys it did not load are left out."""
        import numpy as np

        pairs = [(self._row_of[k], float(s)) for k, s in zip(keys, scores, strict=True) if k in self._row_of]
        rows = np.fromiter((r for r, _ in pairs), dtype=np.int64, count=len(pairs))
        return rows, np.fromiter((s for _, s in pairs), dtype=np.float32, count=len(pairs))

    def search(
        self, slot: str, vector: np.ndarray, k: int, where: Where | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        where = where or Where(exclude_references=False)
        assert self.engine is not None
        ranked = self.engine.search(slot, vector, k, exclude_references=where.exclude_references, doc_ids=where.doc_ids)
        return self._rows(ranked.keys, ranked.scores)

    @cached_property
    def lexical(self) -> EngineBm25:  # type: ignore[override]
        return EngineBm25(self)

    def has(self, need: str) -> bool:
        kind, _, slot = need.partition(":")
        present = {
            "vectors": slot in self.manifest.get("encoders", {}),
            "sentence_vectors": self.sentence_vectors is not None,
            "bm25": True,
            "vocab_vectors": self.vocab_vectors is not None,
            "headings": bool(self.headings),
        }
        return present.get(kind, False)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()


# How many chunks BM25 returns when a caller gives no depth (the legs give Tuning.dense_candidates).
BM25_DEPTH = 1000


class EngineBm25:
    """rag.lexical.Lexical's interface over Milvus's BM25: scores of the best `depth` chunks."""

    def __init__(self, data: MilvusData) -> None:
        self.data = data
        self.size = len(data.chunks)

    def scores(self, query_tokens: list[str], *, where: Where | None = None, depth: int | None = None) -> np.ndarray:
        import numpy as np

        out = np.zeros(self.size, dtype=np.float32)
        if not query_tokens:
            return out
        where = where or Where(exclude_references=False)
        assert self.data.engine is not None
        ranked = self.data.engine.bm25(
            list(query_tokens),
            depth or BM25_DEPTH,
            exclude_references=where.exclude_references,
            doc_ids=where.doc_ids,
        )
        rows, scores = self.data._rows(ranked.keys, ranked.scores)
        out[rows] = scores
        return out

    def document_frequency(self) -> dict[str, int]:
        return dict(self.data.frequency or {})


class SentenceVectors:
    """The USE vectors of the index's sentences as an array-like of this process's sentence rows
    (`vectors[row]`, `vectors[rows]`), read from Milvus by key on first use and cached."""

    def __init__(self, engine: MilvusIndex, data: IndexData) -> None:
        from .milvus import sentence_key

        self.engine = engine
        self.data = data
        self._key = sentence_key
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        dim = data.manifest.get("encoders", {}).get("use", {}).get("dim", 512)
        self.shape = (len(data.sentences), int(dim))
        self.ndim = 2

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: Any) -> np.ndarray:
        import numpy as np

        single = np.ndim(rows) == 0
        wanted = np.atleast_1d(np.asarray(rows, dtype=np.int64)).tolist()
        got: dict[int, np.ndarray] = {}
        with self._lock:
            for r in dict.fromkeys(wanted):
                if r in self._cache:
                    self._cache.move_to_end(r)
                    got[r] = self._cache[r]
        missing = [r for r in dict.fromkeys(wanted) if r not in got]
        if missing:
            fetched = self._fetch(missing)
            got.update(fetched)
            with self._lock:
                self._cache.update(fetched)
                while len(self._cache) > SENTENCE_CACHE_ROWS:
                    self._cache.popitem(last=False)
        if not wanted:
            return np.zeros((0, self.shape[1]), dtype=np.float32)
        out = np.stack([got[r] for r in wanted]).astype(np.float32)
        return out[0] if single else out

    def _fetch(self, rows: list[int]) -> dict[int, np.ndarray]:
        import numpy as np

        # By row (the primary key: a lookup), checked against the key this process expects; rows
        # that a per-paper update moved since it loaded are read again by key (a VARCHAR match,
        # slow over hundreds of thousands of sentences, so only for those).
        keys = {}
        for r in rows:
            ci, s, e = self.data.sentences[r]
            keys[r] = self._key(self.data.chunks[ci].doc_id, s, e)
        out = {r: vec for r, (key, vec) in self.engine.vectors_by_row(rows).items() if keys.get(r) == key}
        moved = {keys[r]: r for r in rows if r not in out}
        found = self.engine.vectors_by_key(list(moved)) if moved else {}
        zero = np.zeros(self.shape[1], dtype=np.float16)
        out |= {r: found.get(key, zero) for key, r in moved.items()}  # removed since: scores 0
        return {r: np.asarray(v, dtype=np.float16) for r, v in out.items()}
