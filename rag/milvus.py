"""The index in Milvus: Milvus Lite (a local folder ending in .db, embedded, nothing to run) or a
Milvus server or cluster (http(s)://host:19530), through the same client code.

One index is one *generation*: four collections written together and published by one alias.

    <name>_g<id>            chunks: row (primary key, the chunk's position in IndexData.chunks),
                            key, doc_id, section, pages, span, lang, kind, text, tokens,
                            one FLOAT_VECTOR per encoder slot ("dense" e5, "use" USE) and
                            "bm25", a sparse field Milvus's BM25 function fills from the tokens
    <name>_g<id>_sentences  row, chunk, doc_id, span, "use": the USE vector of each sentence
    <name>_g<id>_vocab      row, term, "use": the Chinese terms English questions bridge to
    <name>_g<id>_meta       JSON records: the store record (schema version, BM25 analyser), the
                            manifest, one record per paper and one per paper's headings
    <name>                  the alias readers use; a rebuild writes a new generation, then
                            switches the alias (atomic in Milvus) and drops the old generation

BM25: the project's own tokens (rag.lexical.tokenize, folded, stopwords out, the section heading
included) are stored joined by spaces and analysed by a whitespace tokenizer, so Milvus's BM25
ranks as rag/lexical.py does (bench/bench_milvus.py measures it; Milvus's jieba analyser on the
raw text, BM25_ANALYSERS["jieba"], agrees less). Milvus Lite has no whitespace tokenizer: its
"standard" one (\\w+, lower-cased) splits the same tokens identically but for the few with
punctuation inside ("1.5"), and the query goes through the same analyser.

Per-paper updates rewrite the rows from the first one that changes. On Milvus Lite they rewrite
every row: Lite 3.2.2 scores BM25 with each segment's own statistics (its own TODO says so), so
rows written later would be scored against another IDF (measured: top-10 overlap with
rag/lexical.py fell from 1.0 to 0.94 after one paper was removed and added back); rewritten
together they land in one segment again. Whether a Milvus server needs the same could not be
checked here (no server runs here); it gets the cheaper rewrite from the first changed row.

pymilvus is imported inside the functions that talk to Milvus: `import rag` stays light."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import IndexMismatchError, IndexNotFoundError, RagError, StoreUnavailableError
from .progress import Progress
from .store import FORMAT_VERSION, IndexData, _paper, check_compatible
from .types import Chunk, Heading
from .vector_index import EXACT_SEARCH_LIMIT

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

# Stored in the meta collection; a collection written with another version is refused with
# "rebuild". 1: chunks / sentences / vocab / meta collections as described above; 2: sentences
# carry a key (doc_id:start:end), by which a reader fetches their vectors whatever their row.
SCHEMA_VERSION = 2
BM25_ANALYSERS = ("tokens", "jieba")  # what the BM25 function reads: the project's tokens, or raw text
DEFAULT_BM25 = "tokens"  # measured closer to rag/lexical.py's ranking (bench/bench_milvus.py)
CONNECT_TIMEOUT = 10.0  # seconds to reach a server before saying it cannot be reached
INSERT_BATCH = 500  # rows per insert call: a few MB of vectors, well under gRPC's message limit
PAGE = 4000  # rows per query call when reading back (Milvus caps a query at 16,384)
MAX_TOPK = 16_384  # Milvus's largest search limit
META_PART_CHARS = 60_000  # a JSON record is cut into VARCHAR parts of at most this many ASCII chars
MAX_VARCHAR = 65_535
HNSW_PARAMS = {"M": 32, "efConstruction": 40}  # as rag/store.py builds FAISS HNSW past EXACT_SEARCH_LIMIT
HNSW_EF_SEARCH = 128
_GENERATION = re.compile(r"^g\d{14}[0-9a-f]{6}$")
_COMPANIONS = ("sentences", "vocab", "meta")
_HASH_SPAN = 1 << 62  # meta ids: hash of (kind, doc_id, part) in [0, 2^62)


class MilvusUnavailableError(StoreUnavailableError):
    """Milvus cannot be reached or opened at the configured URI."""


class IndexReplacedError(RagError):
    """The generation this reader loaded was replaced by a rebuild and dropped: load again."""


@dataclass(frozen=True, slots=True)
class Ranked:
    """Chunk rows (positions in the IndexData the collection mirrors), best first, and their
    scores (inner product for vectors, BM25 for text). Unpacks as `rows, scores = ...`."""

    rows: np.ndarray  # int64
    scores: np.ndarray  # float32
    keys: tuple[str, ...] = ()  # the chunks' keys (doc_id:start), stable across per-paper updates

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.rows, self.scores))

    def __len__(self) -> int:
        return len(self.rows)


class MilvusIndex:
    """One index in Milvus, read and written through the alias `collection`.

    uri: a path ending in .db (Milvus Lite, created when missing) or http(s)://host:port.
    bm25: which text the BM25 function reads when writing (BM25_ANALYSERS); a reader follows
    what the stored collection says."""

    def __init__(
        self,
        uri: str | Path,
        token: str | None = None,
        collection: str = "rag",
        *,
        timeout: float = CONNECT_TIMEOUT,
        bm25: str = DEFAULT_BM25,
        progress: bool = False,
    ) -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,150}", collection):
            raise RagError(
                f"Milvus collection name {collection!r} is not allowed; use letters, digits and underscores, "
                "starting with a letter (e.g. rag)."
            )
        if bm25 not in BM25_ANALYSERS:
            raise RagError(f"bm25={bm25!r} is unknown; use one of {', '.join(BM25_ANALYSERS)}.")
        self.uri = str(uri)
        self.alias = collection
        self.bm25_mode = bm25
        self.progress = progress
        self._client = _connect(self.uri, token, timeout)
        self.lite = "lite" in str(self._call("ask the server version", self._client.get_server_version)).lower()
        if self.lite:  # Lite's in-process gRPC server logs an ERROR for a call it leaves to the client
            logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
        self._name: str | None = None  # the generation this reader is pinned to (load() refreshes)
        self._store: dict[str, Any] | None = None

    # ----------------------------------------------------------------- reading

    @property
    def where(self) -> str:
        return f"Milvus collection {self.alias!r} at {self.uri}"

    def generation(self) -> str:
        """The collection the alias points at now (this reader stays on it until load())."""
        if self._name is None:
            self._name = self._resolve()
            self._store = None
        return self._name

    def manifest(self) -> dict[str, Any]:
        """The manifest stored with the collection (as rag.store's manifest.json, with its
        generation and format_version)."""
        return self._record("manifest", "") or {}

    def check_compatible(self, expected: dict[str, Any]) -> None:
        """Raise IndexMismatchError naming both values when the collection was built with other
        encoders or chunking than `expected` (rag.indexing.expected_signature), as the FAISS
        folder does."""
        check_compatible(self.manifest(), expected, self.where)

    def load(self, *, vectors: bool = False, vocab_vectors: bool = False) -> IndexData:
        """The index as rag.store.IndexData, read from Milvus alone. Without `vectors` the
        per-chunk, per-sentence and vocabulary vectors stay in Milvus (vectors == {}, None):
        the legs search them there; `vocab_vectors` reads the vocabulary's alone (the
        abstention model multiplies all of them). Re-pins this reader to the alias's current
        generation."""
        import numpy as np

        self._name, self._store = None, None
        name = self.generation()
        manifest = self.manifest()
        n = self._count(name)
        fields = [*_CHUNK_SCALARS, "tokens"]
        slots = list(manifest.get("encoders", {}))
        rows = list(self._scan(name, "row", fields + (slots if vectors else []), 0, n, n))
        if [r["row"] for r in rows] != list(range(n)):
            raise RagError(f"The {self.where} has gaps in its rows; rebuild it with `rag index --rebuild`.")
        chunks = tuple(_chunk(r) for r in rows)
        tokens = tuple(tuple(_untoken(w) for w in r["tokens"].split()) for r in rows)
        vecs = {s: np.asarray([r[s] for r in rows], dtype=np.float32).reshape(n, -1) for s in slots} if vectors else {}
        sent_name = f"{name}_sentences"
        ns = self._count(sent_name)
        srows = list(
            self._scan(
                sent_name, "row", ["row", "chunk", "char_start", "char_end"] + (["use"] if vectors else []), 0, ns, ns
            )
        )
        sentences = tuple((r["chunk"], r["char_start"], r["char_end"]) for r in srows)
        sentence_vectors = (
            np.asarray([r["use"] for r in srows], dtype=np.float32).reshape(ns, -1) if vectors and ns else None
        )
        vocab_name = f"{name}_vocab"
        nv = self._count(vocab_name)
        with_vocab = vectors or vocab_vectors
        vrows = list(self._scan(vocab_name, "row", ["row", "term"] + (["use"] if with_vocab else []), 0, nv, nv))
        vocab = tuple(r["term"] for r in vrows)
        vocab_array = (
            np.asarray([r["use"] for r in vrows], dtype=np.float32).reshape(nv, -1) if with_vocab and nv else None
        )
        papers = self.papers(manifest)
        by_doc = self._records("headings")
        headings = tuple(Heading(**h) for doc_id in papers for h in by_doc.get(doc_id, []))
        return IndexData(
            manifest, papers, chunks, tokens, vecs, sentences, sentence_vectors, vocab, vocab_array, {}, headings
        )

    def papers(self, manifest: dict[str, Any] | None = None) -> dict[str, Any]:
        """doc_id -> rag.types.Paper, in index order, from the meta records alone."""
        order = (manifest if manifest is not None else self.manifest()).get("paper_order", {})
        return {d: _paper(body) for d, body in sorted(self._records("paper").items(), key=lambda p: order.get(p[0], 0))}

    def vectors_by_row(self, rows: Sequence[int]) -> dict[int, tuple[str, np.ndarray]]:
        """Sentence row -> (its key, its USE vector), by primary key (cheap at any size)."""
        import numpy as np

        name = f"{self.generation()}_sentences"
        out: dict[int, tuple[str, np.ndarray]] = {}
        for i in range(0, len(rows), PAGE):
            part = [int(r) for r in rows[i : i + PAGE]]
            for r in self._query(name, f"row in {part}", ["row", "key", "use"], limit=len(part)):
                out[r["row"]] = (r["key"], np.asarray(r["use"], dtype=np.float32))
        return out

    def vectors_by_key(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The USE vectors of sentences by their key (sentence_key): a reader fetches them by key
        so that rows moved by a per-paper update since it loaded do not mix its sentences up."""
        import numpy as np

        name = f"{self.generation()}_sentences"
        out: dict[str, np.ndarray] = {}
        for i in range(0, len(keys), PAGE):
            part = list(keys[i : i + PAGE])
            for r in self._query(name, f"key in {_quote_list(part)}", ["key", "use"], limit=len(part)):
                out[r["key"]] = np.asarray(r["use"], dtype=np.float32)
        return out

    def search(
        self,
        field: str,
        vector: Any,
        k: int,
        *,
        exclude_references: bool = True,
        doc_ids: Iterable[str] | None = None,
    ) -> Ranked:
        """The k chunks whose `field` vector ("dense", "use") has the largest inner product with
        `vector` (cosine: both L2-normalised), as FAISS IndexFlatIP ranks them."""
        import numpy as np

        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        params: dict[str, Any] = {"metric_type": "IP"}
        if self._dense_index(field) == "HNSW":
            params["params"] = {"ef": max(HNSW_EF_SEARCH, k)}
        return self._ranked(field, [query.tolist()], k, params, exclude_references, doc_ids)

    def bm25(
        self,
        query: str | Sequence[str],
        k: int,
        *,
        exclude_references: bool = True,
        doc_ids: Iterable[str] | None = None,
    ) -> Ranked:
        """The k chunks with the best BM25 score for a question (text, tokenised here as the
        index was) or for BM25 terms already made (rag.lexical.tokenize). Chunks that share no
        term with the query are not returned."""
        import numpy as np

        if self._stored()["bm25"] == "tokens":
            from .lexical import tokenize

            terms = tokenize(query) if isinstance(query, str) else list(query)
            text = " ".join(_token(t) for t in terms)
        else:
            text = query if isinstance(query, str) else " ".join(query)
        if not text.strip():
            return Ranked(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        ranked = self._ranked("bm25", [text], k, {"metric_type": "BM25"}, exclude_references, doc_ids)
        keep = ranked.scores > 0
        return Ranked(
            ranked.rows[keep], ranked.scores[keep], tuple(k for k, y in zip(ranked.keys, keep, strict=True) if y)
        )

    def sentence_vectors(self, rows: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        """(sentence rows, their USE vectors) of every sentence inside the given chunks: the
        sentences whose span lies within a chunk's span in its paper, as rag/legs.py's sentence
        leg gathers them (a sentence in the overlap of two chunks belongs to both)."""
        import numpy as np

        name = self.generation()
        chunk_rows = sorted({int(r) for r in rows})
        if not chunk_rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        spans: dict[str, list[tuple[int, int]]] = {}
        for r in self._query(name, f"row in {chunk_rows}", ["doc_id", "char_start", "char_end"]):
            spans.setdefault(r["doc_id"], []).append((r["char_start"], r["char_end"]))
        found: dict[int, list[float]] = {}
        for doc_id, doc_spans in spans.items():
            lo = min(s for s, _ in doc_spans)
            hi = max(e for _, e in doc_spans)
            expr = f"doc_id == {_quote(doc_id)} and char_start >= {lo} and char_end <= {hi}"
            for r in self._query(f"{name}_sentences", expr, ["row", "char_start", "char_end", "use"]):
                if any(s <= r["char_start"] and r["char_end"] <= e for s, e in doc_spans):
                    found[r["row"]] = r["use"]
        order = sorted(found)
        vectors = np.asarray([found[r] for r in order], dtype=np.float32)
        return np.asarray(order, dtype=np.int64), vectors.reshape(len(order), -1)

    def bridge_terms(self, word_vectors: Any, *, min_similarity: float, per_word: int) -> list[str]:
        """rag.lexical.bridge_terms over the stored vocabulary: for each English word vector,
        at most `per_word` Chinese index terms at least `min_similarity` (cosine) close."""
        import numpy as np

        name = f"{self.generation()}_vocab"
        vectors = np.atleast_2d(np.asarray(word_vectors, dtype=np.float32))
        if not len(vectors) or not self._count(name):
            return []
        hits = self._call(
            "search the vocabulary",
            self._client.search,
            name,
            data=vectors.tolist(),
            anns_field="use",
            limit=per_word,
            output_fields=["term"],
            search_params={"metric_type": "IP"},
        )
        return [h["entity"]["term"] for per in hits for h in per if h["distance"] >= min_similarity]

    # ----------------------------------------------------------------- writing

    def write(self, data: IndexData) -> str:
        """Write `data` as a new generation, switch the alias to it, drop the previous one.
        Returns the new collection's name. A write that fails leaves the alias where it was
        (the half-written collections are dropped) and raises RagError saying so."""
        from .store import check_unique_keys

        check_unique_keys(data, Path(self.uri))
        name = f"{self.alias}_g{time.strftime('%Y%m%d%H%M%S')}{uuid.uuid4().hex[:6]}"
        previous = self._current()
        if previous is None and self._exists(self.alias):
            raise RagError(
                f"A Milvus collection is named {self.alias!r} at {self.uri}, the name of this index's alias. "
                "Choose another collection name (RAG_MILVUS_COLLECTION) or drop that collection."
            )
        started = time.perf_counter()
        try:
            self._create(name, data)
            self._insert_chunks(name, data, 0)
            self._insert_sentences(name, data, 0)
            self._insert_vocab(name, data, 0)
            self._write_meta(name, data, self._store_record(name, data), papers=data.papers)
            for part in self._collections(name):
                self._call("flush", self._client.flush, part)
        except BaseException as exc:
            self._drop_generation(name)
            where = f"still serves {previous}" if previous else "was not created"
            if isinstance(exc, RagError):
                raise RagError(f"{exc} The index {self.alias!r} {where}.") from exc
            raise
        self._switch(name, previous)
        logger.info(
            "milvus: wrote %s chunks into %s in %.1f s", f"{len(data.chunks):,}", name, time.perf_counter() - started
        )
        return name

    def upsert_papers(self, data: IndexData, doc_ids: Iterable[str]) -> None:
        """Bring the published collection up to `data` (the whole index after the change, as
        rag/indexing.py assembles it), rewriting the chunks of `doc_ids` and every chunk whose
        row moved: rows stay the positions in data.chunks. Not atomic: a reader may see the
        rewritten rows change one batch at a time (a full write() is atomic)."""
        name = self._resolve()
        self._name, self._store = name, None
        self.bm25_mode = self._stored()["bm25"]  # as the collection was built, whatever this instance was given
        self._check_layout(name, data)
        changed = set(doc_ids)
        n = self._count(name)
        stored = {r["row"]: r for r in self._scan(name, "row", ["row", "key"], 0, n, n)}
        first = len(data.chunks)
        for row, chunk in enumerate(data.chunks):
            old = stored.get(row)
            if chunk.doc_id in changed or old is None or old["key"] != chunk.key:
                first = row
                break
        first = min([first] + [r for r, old in stored.items() if old["key"].rpartition(":")[0] in changed])
        if self.lite:
            first = 0  # Lite: per-segment BM25 statistics (module docstring)
        logger.info("milvus: rewriting chunk rows %d..%d of %s", first, len(data.chunks), name)
        self._insert_chunks(name, data, first, upsert=True)
        self._delete(name, f"row >= {len(data.chunks)}")
        s_first = next((i for i, (ci, _, _) in enumerate(data.sentences) if ci >= first), len(data.sentences))
        self._insert_sentences(name, data, s_first, upsert=True)
        self._delete(f"{name}_sentences", f"row >= {len(data.sentences)}")
        v_first = self._first_vocab_change(name, data)
        self._insert_vocab(name, data, v_first, upsert=True)
        self._delete(f"{name}_vocab", f"row >= {len(data.vocab)}")
        gone = [d for d in changed if d not in data.papers]
        papers = {d: p for d, p in data.papers.items() if d in changed}
        self._write_meta(name, data, self._stored(), papers=papers, gone=gone)
        for part in self._collections(name):
            self._call("flush", self._client.flush, part)

    def delete_papers(self, doc_ids: Iterable[str]) -> None:
        """Remove papers: their chunks and sentences go, the rows after them move down (read
        back from Milvus with their vectors and written again), the manifest forgets them.
        The vocabulary keeps their terms (a bridged term that matches nothing is harmless)."""
        doc_ids = sorted(set(doc_ids))
        if not doc_ids:
            return
        name = self._resolve()
        self._name, self._store = name, None
        manifest = self.manifest()
        self._compact_rows(name, doc_ids, manifest)
        files = {
            f: e
            for f, e in manifest.get("files", {}).items()
            if not (isinstance(e, dict) and e.get("doc_id") in doc_ids)
        }
        manifest = dict(manifest, files=files)
        manifest["paper_order"] = {
            d: i for i, d in enumerate(d for d in manifest.get("paper_order", {}) if d not in doc_ids)
        }
        counts = dict(manifest.get("counts", {}))
        counts.update(
            papers=len(manifest["paper_order"]), chunks=self._count(name), sentences=self._count(f"{name}_sentences")
        )
        manifest["counts"] = counts
        meta = f"{name}_meta"
        self._delete(meta, f'kind in ["paper", "headings"] and doc_id in {_quote_list(doc_ids)}')
        self._put_record(meta, "manifest", "", manifest)
        for part in self._collections(name):
            self._call("flush", self._client.flush, part)

    def drop(self) -> None:
        """Remove the index: the alias and every generation of it."""
        current = self._current()
        if current is not None:
            self._call("drop the alias", self._client.drop_alias, self.alias)
        for name in self._generations():
            self._drop_generation(name)
        self._name, self._store = None, None

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> MilvusIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- internals

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """pymilvus errors as RagError naming the URI and what was being done."""
        from pymilvus.exceptions import MilvusException

        try:
            yield
        except MilvusException as exc:
            message = getattr(exc, "message", "") or str(exc)
            if self._name is not None and "not exist" in message and self._name in message:
                raise IndexReplacedError(
                    f"The {self.where} was rebuilt or dropped while this process was reading {self._name}; "
                    "load it again."
                ) from exc
            if any(word in message.lower() for word in ("unavailable", "connect", "deadline")):
                raise MilvusUnavailableError(
                    f"Lost Milvus at {self.uri} while trying to {doing} ({message}). Check that the server is still "
                    "running and reachable, then try again."
                ) from exc
            raise RagError(f"Milvus at {self.uri} could not {doing}: {message}.") from exc

    def _call(self, doing: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        with self._errors(doing):
            return fn(*args, **kwargs)

    def _exists(self, name: str) -> bool:
        return bool(self._call("list collections", self._client.has_collection, name))

    def _current(self) -> str | None:
        """The collection the alias points at, or None when there is no alias yet."""
        aliases = self._call("list aliases", self._client.list_aliases).get("aliases", [])
        if self.alias not in aliases:
            return None
        return str(self._call("describe the alias", self._client.describe_alias, self.alias)["collection_name"])

    def _resolve(self) -> str:
        name = self._current()
        if name is None:
            raise IndexNotFoundError(
                f"No index in the {self.where}. Build it with `rag index` (RAG_STORE=milvus), or check "
                "RAG_MILVUS_URI and RAG_MILVUS_COLLECTION."
            )
        self._check_parts(name)
        self._load_collections(name)
        self._check_schema(name)
        return name

    def _check_parts(self, name: str) -> None:
        """The alias's generation has the companions this version writes: one laid out by another
        version of rag (or by another program) is refused with "rebuild" rather than failing to
        load a collection that is not there."""
        names = set(self._call("list collections", self._client.list_collections))
        missing = [part for part in self._collections(name) if part not in names]
        if missing:
            raise IndexMismatchError(
                f"The {self.where} ({name}) is not laid out as this version of rag writes it (no "
                f"{', '.join(missing)}): another version of rag or another program wrote it. Rebuild it with "
                "`rag index --rebuild`; the alias switches to the new collection when it is complete."
            )

    def _load_collections(self, name: str) -> None:
        """Collections are searchable once loaded; a new process finds them released (Lite
        always, a server after a restart or a release). Loading a loaded one costs one call."""
        for part in self._collections(name):
            state = self._call(f"ask the load state of {part}", self._client.get_load_state, part)
            if "Loaded" not in str(state.get("state") if isinstance(state, dict) else state):
                self._call(f"load {part}", self._client.load_collection, part)

    def _check_schema(self, name: str) -> None:
        store = self._record("store", "", name=name)
        version = (store or {}).get("schema_version")
        if version != SCHEMA_VERSION:
            raise IndexMismatchError(
                f"The {self.where} ({name}) has Milvus schema version {version}, this version of rag reads "
                f"{SCHEMA_VERSION}. Rebuild it with `rag index --rebuild`; the alias switches to the new "
                "collection when it is complete."
            )

    def _stored(self) -> dict[str, Any]:
        if self._store is None:
            name = self.generation()
            self._store = self._record("store", "", name=name) or {}
        return self._store

    def _generations(self) -> list[str]:
        names = self._call("list collections", self._client.list_collections)
        prefix = f"{self.alias}_"
        return sorted(n for n in names if n.startswith(prefix) and _GENERATION.match(n[len(prefix) :]))

    def _collections(self, name: str) -> list[str]:
        return [name] + [f"{name}_{part}" for part in _COMPANIONS]

    def _drop_generation(self, name: str) -> None:
        for part in self._collections(name):
            try:
                if self._exists(part):
                    self._call(f"drop {part}", self._client.drop_collection, part)
            except RagError as exc:  # the original error matters more than the clean-up's
                logger.warning("could not drop %s: %s", part, exc)

    def _switch(self, name: str, previous: str | None) -> None:
        """Point the alias at `name` (atomic), then drop the previous generation and any older
        one a killed write left behind."""
        if previous is None:
            self._call("create the alias", self._client.create_alias, name, self.alias)
        else:
            self._call("switch the alias", self._client.alter_alias, name, self.alias)
        self._name, self._store = name, None
        for old in self._generations():
            if old < name:
                self._drop_generation(old)

    def _create(self, name: str, data: IndexData) -> None:
        from pymilvus import DataType, Function, FunctionType

        client = self._client
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("row", DataType.INT64, is_primary=True)
        schema.add_field("key", DataType.VARCHAR, max_length=1024)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=512)
        schema.add_field("section", DataType.VARCHAR, max_length=MAX_VARCHAR, nullable=True)
        for field in ("page", "page_end", "pdf_page"):
            schema.add_field(field, DataType.INT64, nullable=True)
        schema.add_field("char_start", DataType.INT64)
        schema.add_field("char_end", DataType.INT64)
        schema.add_field("lang", DataType.VARCHAR, max_length=16)
        schema.add_field("kind", DataType.VARCHAR, max_length=32)
        jieba = self.bm25_mode == "jieba"
        text_analyser = {"enable_analyzer": True, "analyzer_params": {"tokenizer": "jieba"}} if jieba else {}
        schema.add_field("text", DataType.VARCHAR, max_length=MAX_VARCHAR, **text_analyser)
        token_analyser = {} if jieba else {"enable_analyzer": True, "analyzer_params": self._token_analyser()}
        schema.add_field("tokens", DataType.VARCHAR, max_length=MAX_VARCHAR, **token_analyser)
        index = client.prepare_index_params()
        big = len(data.chunks) > EXACT_SEARCH_LIMIT
        for slot, vecs in data.vectors.items():
            schema.add_field(slot, DataType.FLOAT_VECTOR, dim=int(vecs.shape[1]))
            if big:
                index.add_index(slot, index_type="HNSW", metric_type="IP", params=HNSW_PARAMS)
            else:
                index.add_index(slot, index_type="FLAT", metric_type="IP")
        schema.add_field("bm25", DataType.SPARSE_FLOAT_VECTOR)
        source = "text" if jieba else "tokens"
        schema.add_function(
            Function(
                name="bm25", function_type=FunctionType.BM25, input_field_names=[source], output_field_names=["bm25"]
            )
        )
        index.add_index(
            "bm25", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params={"bm25_k1": 1.5, "bm25_b": 0.75}
        )
        self._call(f"create {name}", client.create_collection, name, schema=schema, index_params=index)
        use_dim = _use_dim(data)
        self._create_side(
            f"{name}_sentences",
            [
                ("chunk", DataType.INT64, {}),
                ("key", DataType.VARCHAR, {"max_length": 1024}),
                ("doc_id", DataType.VARCHAR, {"max_length": 512}),
                ("char_start", DataType.INT64, {}),
                ("char_end", DataType.INT64, {}),
            ],
            use_dim,
        )
        self._create_side(f"{name}_vocab", [("term", DataType.VARCHAR, {"max_length": 1024})], use_dim)
        self._create_side(
            f"{name}_meta",
            [
                ("kind", DataType.VARCHAR, {"max_length": 32}),
                ("doc_id", DataType.VARCHAR, {"max_length": 512}),
                ("part", DataType.INT64, {}),
                ("body", DataType.VARCHAR, {"max_length": MAX_VARCHAR}),
            ],
            2,  # Milvus wants a vector field in every collection; meta rows carry zeros
            pk="id",
        )

    def _create_side(self, name: str, fields: list[tuple[str, Any, dict[str, Any]]], dim: int, pk: str = "row") -> None:
        from pymilvus import DataType

        schema = self._client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field(pk, DataType.INT64, is_primary=True)
        for field, dtype, params in fields:
            schema.add_field(field, dtype, **params)
        vector = "use" if pk == "row" else "v"
        schema.add_field(vector, DataType.FLOAT_VECTOR, dim=dim)
        index = self._client.prepare_index_params()
        index.add_index(vector, index_type="FLAT", metric_type="IP")
        self._call(f"create {name}", self._client.create_collection, name, schema=schema, index_params=index)

    def _token_analyser(self) -> dict[str, Any]:
        # A server has Milvus's whitespace tokenizer; Milvus Lite only \w+ ("standard").
        return {"tokenizer": "standard"} if self.lite else {"tokenizer": "whitespace"}

    def _insert(self, name: str, rows: Iterator[dict[str, Any]], total: int, what: str, upsert: bool) -> None:
        method = self._client.upsert if upsert else self._client.insert
        batch: list[dict[str, Any]] = []
        with Progress(f"milvus: writing {what}", total, bar=self.progress, unit="row") as progress:
            for row in rows:
                batch.append(row)
                if len(batch) >= INSERT_BATCH:
                    self._call(f"write {what} into {name}", method, name, batch)
                    progress.update(len(batch))
                    batch = []
            if batch:
                self._call(f"write {what} into {name}", method, name, batch)
                progress.update(len(batch))

    def _insert_chunks(self, name: str, data: IndexData, first: int, upsert: bool = False) -> None:
        slots = list(data.vectors)

        def rows() -> Iterator[dict[str, Any]]:
            for i in range(first, len(data.chunks)):
                c = data.chunks[i]
                row = {
                    "row": i,
                    "key": c.key,
                    "doc_id": c.doc_id,
                    "section": c.section,
                    "page": c.page,
                    "page_end": c.page_end,
                    "pdf_page": c.pdf_page,
                    "char_start": c.start,
                    "char_end": c.end,
                    "lang": c.lang,
                    "kind": c.kind,
                    "text": c.text,
                    "tokens": " ".join(_token(t) for t in data.tokens[i]) if i < len(data.tokens) else "",
                }
                for slot in slots:
                    row[slot] = data.vectors[slot][i].tolist()
                yield row

        self._insert(name, rows(), len(data.chunks) - first, "chunks", upsert)

    def _insert_sentences(self, name: str, data: IndexData, first: int, upsert: bool = False) -> None:
        if data.sentence_vectors is None:
            return
        vectors = data.sentence_vectors
        rows = (
            {
                "row": i,
                "chunk": ci,
                "key": sentence_key(data.chunks[ci].doc_id, s, e),
                "doc_id": data.chunks[ci].doc_id,
                "char_start": s,
                "char_end": e,
                "use": vectors[i].tolist(),
            }
            for i, (ci, s, e) in enumerate(data.sentences)
            if i >= first
        )
        self._insert(f"{name}_sentences", rows, len(data.sentences) - first, "sentences", upsert)

    def _insert_vocab(self, name: str, data: IndexData, first: int, upsert: bool = False) -> None:
        if data.vocab_vectors is None:
            return
        vectors = data.vocab_vectors
        rows = ({"row": i, "term": t, "use": vectors[i].tolist()} for i, t in enumerate(data.vocab) if i >= first)
        self._insert(f"{name}_vocab", rows, len(data.vocab) - first, "vocabulary", upsert)

    def _first_vocab_change(self, name: str, data: IndexData) -> int:
        vocab = f"{name}_vocab"
        n = self._count(vocab)
        stored = {r["row"]: r["term"] for r in self._scan(vocab, "row", ["row", "term"], 0, n, n)}
        for i, term in enumerate(data.vocab):
            if stored.get(i) != term:
                return i
        return len(data.vocab)

    def _store_record(self, name: str, data: IndexData) -> dict[str, Any]:
        """What a reader must know of how the collection was built (kept by per-paper updates)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "bm25": self.bm25_mode,
            "analyser": None if self.bm25_mode == "jieba" else self._token_analyser(),
            "vector_index": "HNSW" if len(data.chunks) > EXACT_SEARCH_LIMIT else "FLAT",
            "generation": name,
        }

    def _write_meta(
        self, name: str, data: IndexData, store: dict[str, Any], *, papers: dict[str, Any], gone: Sequence[str] = ()
    ) -> None:
        meta = f"{name}_meta"
        manifest = dict(data.manifest, generation=name, format_version=FORMAT_VERSION)
        manifest["paper_order"] = {d: i for i, d in enumerate(data.papers)}
        drop = sorted(set(papers) | set(gone))
        if drop:
            self._delete(meta, f'kind in ["paper", "headings"] and doc_id in {_quote_list(drop)}')
        headings: dict[str, list[dict[str, Any]]] = {}
        for h in data.headings:
            if h.doc_id in papers:
                headings.setdefault(h.doc_id, []).append(h.to_dict())
        rows = [*_record_rows("store", "", store), *_record_rows("manifest", "", manifest)]
        for doc_id, paper in papers.items():
            rows += _record_rows("paper", doc_id, paper.to_dict())
            rows += _record_rows("headings", doc_id, headings.get(doc_id, []))
        self._delete(meta, 'kind in ["store", "manifest"]')
        self._insert(meta, iter(rows), len(rows), "papers and manifest", upsert=True)

    def _put_record(self, meta: str, kind: str, doc_id: str, body: Any) -> None:
        self._delete(meta, f'kind == "{kind}" and doc_id == {_quote(doc_id)}')
        rows = _record_rows(kind, doc_id, body)
        self._insert(meta, iter(rows), len(rows), kind, upsert=True)

    def _record(self, kind: str, doc_id: str, *, name: str | None = None) -> Any:
        meta = f"{name or self.generation()}_meta"
        parts = self._query(meta, f'kind == "{kind}" and doc_id == {_quote(doc_id)}', ["part", "body"])
        if not parts:
            return None
        return json.loads("".join(p["body"] for p in sorted(parts, key=lambda p: p["part"])))

    def _records(self, kind: str) -> dict[str, Any]:
        """Every record of a kind, by doc_id (meta ids are hashes: read in ranges of them)."""
        meta = f"{self.generation()}_meta"
        expr = f'kind == "{kind}"'
        total = self._count(meta, expr)
        parts: dict[str, list[tuple[int, str]]] = {}
        for r in self._scan(meta, "id", ["doc_id", "part", "body"], 0, _HASH_SPAN, total, expr):
            parts.setdefault(r["doc_id"], []).append((r["part"], r["body"]))
        return {d: json.loads("".join(body for _, body in sorted(p))) for d, p in parts.items()}

    def _compact_rows(self, name: str, doc_ids: list[str], manifest: dict[str, Any]) -> None:
        """Delete the papers' chunks and sentences and close the gaps they leave."""
        slots = list(manifest.get("encoders", {}))
        where = f"doc_id in {_quote_list(doc_ids)}"
        removed = sorted(r["row"] for r in self._query(name, where, ["row"]))
        if not removed:
            return
        n = self._count(name)
        start = 0 if self.lite else removed[0]  # Lite: per-segment BM25 statistics (module docstring)
        old_to_new = _renumber(removed, n, start)
        moved = list(self._scan(name, "row", [*_CHUNK_SCALARS, "tokens", *slots], start, n, n - start))
        self._delete(name, where)
        rows = []
        for r in moved:
            if r["row"] in old_to_new:
                rows.append(dict(r, row=old_to_new[r["row"]]))
        self._insert(name, iter(rows), len(rows), "chunks", upsert=True)
        self._delete(name, f"row >= {n - len(removed)}")
        sent = f"{name}_sentences"
        ns = self._count(sent)
        s_removed = sorted(r["row"] for r in self._query(sent, where, ["row"]))
        # Sentences are in chunk order: those of later chunks come after the paper's own.
        s_first = 0 if self.lite or not s_removed else min(s_removed)
        s_old_to_new = _renumber(s_removed, ns, s_first)
        s_moved = list(
            self._scan(
                sent,
                "row",
                ["row", "chunk", "key", "doc_id", "char_start", "char_end", "use"],
                s_first,
                ns,
                ns - s_first,
            )
        )
        self._delete(sent, where)
        rows = [
            dict(r, row=s_old_to_new[r["row"]], chunk=old_to_new.get(r["chunk"], r["chunk"]))
            for r in s_moved
            if r["row"] in s_old_to_new
        ]
        self._insert(sent, iter(rows), len(rows), "sentences", upsert=True)
        self._delete(sent, f"row >= {ns - len(s_removed)}")

    def _check_layout(self, name: str, data: IndexData) -> None:
        stored = {s: int(info.get("dim", 0)) for s, info in self.manifest().get("encoders", {}).items()}
        given = {s: int(v.shape[1]) for s, v in data.vectors.items()}
        if stored and stored != given:
            raise IndexMismatchError(
                f"The {self.where} holds vectors {stored}, the update brings {given}. "
                "Rebuild with `rag index --rebuild`."
            )

    def _dense_index(self, field: str) -> str:
        return str(self._stored().get("vector_index", "FLAT"))

    def _ranked(
        self,
        field: str,
        data: list[Any],
        k: int,
        params: dict[str, Any],
        exclude_references: bool,
        doc_ids: Iterable[str] | None,
    ) -> Ranked:
        import numpy as np

        hits = self._call(
            f"search {field}",
            self._client.search,
            self.generation(),
            data=data,
            anns_field=field,
            limit=max(1, min(k, MAX_TOPK)),
            filter=_filter(exclude_references, doc_ids),
            search_params=params,
            output_fields=["key"],
        )[0]
        rows = np.fromiter((h["row"] for h in hits), dtype=np.int64, count=len(hits))
        keys = [h["entity"]["key"] for h in hits]
        # Milvus Lite 3.2.2 reports BM25 as -score (its internal distance); a server as +score.
        scores = np.fromiter(
            (abs(h["distance"]) if field == "bm25" else h["distance"] for h in hits), dtype=np.float32, count=len(hits)
        )
        order = np.lexsort((rows, -scores))  # ties by row, as the in-process legs' stable sorts
        return Ranked(rows[order], scores[order], tuple(keys[i] for i in order))

    def _count(self, name: str, expr: str = "") -> int:
        out = self._call(f"count {name}", self._client.query, name, filter=expr, output_fields=["count(*)"])
        return int(out[0]["count(*)"])

    def _query(self, name: str, expr: str, fields: list[str], limit: int = MAX_TOPK) -> list[dict[str, Any]]:
        return list(
            self._call(f"read {name}", self._client.query, name, filter=expr, output_fields=fields, limit=limit)
        )

    def _delete(self, name: str, expr: str) -> None:
        self._call(f"delete from {name}", self._client.delete, name, filter=expr)

    def _scan(
        self, name: str, pk: str, fields: list[str], lo: int, hi: int, total: int, expr: str = ""
    ) -> Iterator[dict[str, Any]]:
        """Rows with lo <= pk < hi in pk order, PAGE at a time (ranges of the key space, since
        a query returns at most MAX_TOPK rows); a range that is too full is split."""
        if hi <= lo:
            return
        pages = max(1, -(-max(total, 1) // PAGE))
        step = max(1, -(-(hi - lo) // pages))
        stack = [(a, min(a + step, hi)) for a in range(lo, hi, step)][::-1]
        fields = list(dict.fromkeys([pk, *fields]))
        while stack:
            a, b = stack.pop()
            where = f"{pk} >= {a} and {pk} < {b}" + (f" and ({expr})" if expr else "")
            rows = self._query(name, where, fields)
            if len(rows) >= MAX_TOPK and b - a > 1:
                mid = (a + b) // 2
                stack += [(mid, b), (a, mid)]
                continue
            yield from sorted(rows, key=lambda r: r[pk])


_CHUNK_SCALARS = [
    "row",
    "key",
    "doc_id",
    "section",
    "page",
    "page_end",
    "pdf_page",
    "char_start",
    "char_end",
    "lang",
    "kind",
    "text",
]


def _connect(uri: str, token: str | None, timeout: float) -> Any:
    """A MilvusClient, or MilvusUnavailableError naming the URI and what to check."""
    # gRPC's C core logs to stderr on its own; against Lite's in-process server it reports every
    # keepalive GOAWAY ("too_many_pings") of an idle chat as an ERROR although the next call
    # simply reconnects (measured: answers after 1, 2 and 4 idle minutes). Set before grpc loads.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    try:
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException
    except ImportError:
        raise RagError(
            "Milvus support is not installed. Install it with `pip install -e '.[milvus]'` (pymilvus, milvus-lite)."
        ) from None
    server = re.match(r"^(https?|tcp|unix)://", uri, re.IGNORECASE) is not None
    if not server:
        path = Path(uri).expanduser()
        if path.suffix != ".db":
            raise RagError(
                f"RAG_MILVUS_URI={uri!r} is neither a server (http://host:19530) nor a Milvus Lite file: a local "
                "index must end in .db, e.g. index/milvus.db."
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MilvusUnavailableError(
                f"Cannot create {path.parent}/ for Milvus Lite ({exc}). Check the path."
            ) from exc
        uri = str(path)
    # pymilvus logs every failed call with its traceback; the RagError raised instead says it all.
    logging.getLogger("pymilvus.decorators").setLevel(logging.CRITICAL)
    try:
        return MilvusClient(uri=uri, token=token or "", timeout=timeout)
    except MilvusException as exc:
        message = getattr(exc, "message", "") or str(exc)
        if server:
            raise MilvusUnavailableError(
                f"Cannot reach Milvus at {uri} ({message}). Check that the server is running and that this machine "
                "can reach it on that port (default 19530: the gRPC port, not the 9091 web one), that "
                "RAG_MILVUS_URI is right, and RAG_MILVUS_TOKEN (user:password) if it needs one."
            ) from exc
        raise MilvusUnavailableError(
            f"Cannot open Milvus Lite at {uri} ({message}). Milvus Lite serves one process at a time: check that "
            "no other rag (a running `rag serve`, another `rag index`) has it open, and that the folder is "
            "writable. For several processes or users, run a Milvus server (docs/milvus.md)."
        ) from exc


def sentence_key(doc_id: str, start: int, end: int) -> str:
    """A sentence's name across rebuilds and per-paper updates (its row is neither)."""
    return f"{doc_id}:{start}:{end}"


def _filter(exclude_references: bool, doc_ids: Iterable[str] | None) -> str:
    parts = ['kind != "references"'] if exclude_references else []
    if doc_ids:  # as rag/retrieve.py: None or empty = every paper
        parts.append(f"doc_id in {_quote_list(sorted(set(doc_ids)))}")
    return " and ".join(parts)


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _quote_list(items: Sequence[str]) -> str:
    return json.dumps(list(items), ensure_ascii=False)


def _token(term: str) -> str:
    """A BM25 term as one \\w+ word, so that Lite's standard tokenizer and a server's whitespace
    one both keep it whole: "17.29%" would otherwise count as "17" and "29", changing document
    lengths and so every score. Every other character (and "_") becomes _x<hex>_, reversibly."""
    return _NON_WORD.sub(lambda m: f"_x{ord(m.group()):x}_", term)


def _untoken(word: str) -> str:
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), word)


_NON_WORD = re.compile(r"[^\w]|_")
_ESCAPED = re.compile(r"_x([0-9a-f]+)_")


def _chunk(row: dict[str, Any]) -> Chunk:
    return Chunk(
        doc_id=row["doc_id"],
        page=row["page"],
        page_end=row["page_end"],
        section=row["section"],
        start=row["char_start"],
        end=row["char_end"],
        text=row["text"],
        lang=row["lang"],
        kind=row["kind"],
        pdf_page=row["pdf_page"],
    )


def _use_dim(data: IndexData) -> int:
    for vectors in (data.sentence_vectors, data.vocab_vectors, data.vectors.get("use")):
        if vectors is not None and vectors.ndim == 2:
            return int(vectors.shape[1])
    return 512


def _meta_id(kind: str, doc_id: str, part: int) -> int:
    digest = hashlib.blake2b(f"{kind}\x1f{doc_id}\x1f{part}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % _HASH_SPAN


def _record_rows(kind: str, doc_id: str, body: Any) -> list[dict[str, Any]]:
    """A JSON record as meta rows: ASCII JSON (a VARCHAR's limit is in bytes) cut in parts."""
    text = json.dumps(body, ensure_ascii=True)
    pieces = [text[i : i + META_PART_CHARS] for i in range(0, len(text), META_PART_CHARS)] or [""]
    return [
        {"id": _meta_id(kind, doc_id, p), "kind": kind, "doc_id": doc_id, "part": p, "body": piece, "v": [0.0, 0.0]}
        for p, piece in enumerate(pieces)
    ]


def _renumber(removed: list[int], n: int, start: int) -> dict[int, int]:
    """Old row -> new row for the rows from `start` that stay, once `removed` (sorted) are gone."""
    import bisect

    gone = set(removed)
    return {r: r - bisect.bisect_left(removed, r) for r in range(start, n) if r not in gone}
