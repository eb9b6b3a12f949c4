"""The index folder, sole owner of index/.

    index/manifest.json        what is here: format, encoders, chunking, file hashes, counts,
                               and which generation folder holds the data (written last)
    index/gen-<id>/papers.json chunks.jsonl tokens.jsonl headings.jsonl
                   sentences.npy (chunk index, start, end) per sentence, int64
                   bm25/ (the chunks' BM25 index, bm25s's .npy + JSON, memory-mapped)
                   body.txt (the papers' text without instruction-like sentences, folded)
                   <slot>.faiss <slot>.npy (vectors per encoder; sentences-use.npy float16)

A build writes a new generation folder and then replaces manifest.json atomically, so a crash
mid-build leaves the previous index loadable; old generations are removed after the switch.
One build at a time per folder: index/build.lock is held (flock) for the whole build. Nothing
is pickled.

Where an index is kept is a *store* (STORES, picked by Settings.store): "faiss" is this folder,
"milvus" a Milvus collection (rag/milvus.py). Both load an IndexData, or a subclass of it, which is
all the retrieval legs read: its tables, `search`, `lexical`, `sentence_vectors`, `vocab_vectors`."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .errors import IndexBusyError, IndexMismatchError, IndexNotFoundError, RagError
from .types import Chunk, Heading, Paper

if TYPE_CHECKING:
    import numpy as np

    from .config import Settings
    from .lexical import Lexical

logger = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: headings.jsonl (the papers' outlines)
MANIFEST = "manifest.json"
LOCK = "build.lock"
LOCK_POLL_SECONDS = 0.5
# Per-sentence vectors are stored as float16 (half the disk and page cache of float32; cosines
# move by < 1e-3, the dev eval is unchanged) and memory-mapped: a question reads only the rows of
# its candidate chunks. Vocabulary vectors stay float32: every English question multiplies all of
# them, which BLAS does on float32 in place and numpy would first copy out of float16.
SENTENCE_VECTOR_DTYPE = "float16"
BODY = "body.txt"  # the papers' trusted text, folded: where the abstainer looks names up
BM25_FOLDER = "bm25"  # the chunks' BM25 index (rag.lexical.Lexical.save), memory-mapped when served


@dataclass(frozen=True, slots=True)
class Where:
    """Which chunks a search may return: references out unless asked for, and only the given
    papers (None: all). A store that searches within it (Milvus: a filter expression) does; the
    FAISS folder searches the whole library and the retriever masks the rest, as it always did."""

    exclude_references: bool = True
    doc_ids: frozenset[str] | None = None


@dataclass(frozen=True)
class IndexData:
    manifest: dict[str, Any]
    papers: dict[str, Paper]
    chunks: tuple[Chunk, ...]
    tokens: tuple[tuple[str, ...], ...]  # BM25 tokens per chunk
    vectors: dict[str, np.ndarray]  # slot -> (n_chunks, dim), L2-normalised
    sentences: tuple[tuple[int, int, int], ...] = ()  # (chunk index, start, end) in the paper text
    sentence_vectors: np.ndarray | None = None  # bridge-encoder vectors of `sentences`
    vocab: tuple[str, ...] = ()  # Chinese BM25 tokens, for bridging English questions
    vocab_vectors: np.ndarray | None = None  # bridge-encoder vectors of `vocab`
    faiss: dict[str, Any] = field(default_factory=dict)  # slot -> faiss index (loaded)
    headings: tuple[Heading, ...] = ()  # every paper's outline, in order
    folder: Path | None = None  # the generation folder it was loaded from; None when built in memory
    body: str | None = None  # the papers' trusted text, folded (rag.evidence.SentenceScorer.trusted_body)

    @cached_property
    def lexical(self) -> Lexical:
        """BM25 over the chunks' tokens: the index saved with this generation (memory-mapped),
        else built from `tokens` (an IndexData assembled in memory, or an older generation)."""
        from .lexical import Lexical

        saved = self.folder / BM25_FOLDER if self.folder is not None else None
        if saved is not None and saved.is_dir():
            return Lexical.load(saved)
        return Lexical([list(t) for t in self.tokens])

    def search(
        self, slot: str, vector: np.ndarray, k: int, where: Where | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k chunks nearest to a query vector (dim,) of encoder `slot`: (chunk indexes int64,
        inner products float32), best first. Uses the slot's FAISS index when loaded from disk,
        else scans the vectors (an IndexData assembled in memory). `where` is not applied here
        (the retriever masks after fusion); a store that can filter in the search does."""
        import numpy as np

        index = self.faiss.get(slot)
        if index is not None:
            from .vector_index import nearest

            return nearest(index, vector, k)
        sims = np.asarray(self.vectors[slot] @ vector, dtype=np.float32)
        top = np.argsort(-sims, kind="stable")[:k]
        return top.astype(np.int64), sims[top]

    def has(self, need: str) -> bool:
        """Whether the index holds an artefact a retrieval leg needs: "vectors:<slot>",
        "sentence_vectors", "tokens", "bm25", "vocab_vectors", "headings"."""
        kind, _, slot = need.partition(":")
        present = {
            "vectors": slot in self.vectors,
            "sentence_vectors": self.sentence_vectors is not None,
            "tokens": len(self.tokens) == len(self.chunks),
            "bm25": len(self.tokens) == len(self.chunks)
            or (self.folder is not None and (self.folder / BM25_FOLDER).is_dir()),
            "vocab_vectors": self.vocab_vectors is not None,
            "headings": bool(self.headings),
        }
        return present.get(kind, False)

    def close(self) -> None:
        """Release what the data holds open (nothing for a folder; a Milvus connection)."""


class Store(Protocol):
    """Where an index is kept: read, and written by `rag index`. `old` is the index the build
    started from (None: a whole new index) and `changed` the papers added, re-read, re-described
    or removed since it, which a store that updates in place rewrites."""

    def describe(self) -> str: ...  # for messages: "index/", "Milvus collection 'rag' at …"
    def manifest(self) -> dict[str, Any] | None: ...  # None: no index yet
    def papers(self) -> list[Paper]: ...
    def load(self, expected: dict[str, Any] | None, *, full: bool = False) -> IndexData: ...
    def write(self, data: IndexData, *, old: IndexData | None = None, changed: Iterable[str] = ()) -> None: ...


class FolderStore:
    """The index folder (FAISS, bm25s, JSON lines), this module's functions behind Store."""

    def __init__(self, settings: Settings) -> None:
        self.index_dir = settings.index_dir
        self.corpus_dir = settings.corpus_dir

    def describe(self) -> str:
        return f"{self.index_dir}/"

    def manifest(self) -> dict[str, Any] | None:
        return read_manifest(self.index_dir)

    def papers(self) -> list[Paper]:
        return read_papers(self.index_dir)

    def load(self, expected: dict[str, Any] | None, *, full: bool = False) -> IndexData:
        """full: the chunks' BM25 tokens too (a build extends them; serving needs only the BM25 index)."""
        return load_index(self.index_dir, expected, self.corpus_dir, tokens=full)

    def write(self, data: IndexData, *, old: IndexData | None = None, changed: Iterable[str] = ()) -> None:
        write_index(self.index_dir, data)  # a whole new generation each time: atomic, and cheap on disk


# Settings.store -> "module:class" of its Store, imported when picked (rag.milvus needs pymilvus).
STORES: dict[str, str] = {"faiss": "rag.store:FolderStore", "milvus": "rag.milvus_store:MilvusStore"}


def open_store(settings: Settings, name: str | None = None) -> Store:
    """The store settings pick (or `name`'s), not yet connected to anything slow."""
    import importlib

    key = name or settings.store
    if key not in STORES:
        raise RagError(f"store={key!r} is unknown; use one of {', '.join(STORES)} (RAG_STORE).")
    module, _, cls = STORES[key].partition(":")
    return getattr(importlib.import_module(module), cls)(settings)  # type: ignore[no-any-return]


def read_manifest(index_dir: Path) -> dict[str, Any] | None:
    path = index_dir / MANIFEST
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RagError(f"{path} is damaged ({exc}). Rebuild with `rag index --rebuild`.") from exc


def read_papers(index_dir: Path) -> list[Paper]:
    """The papers of the index in index_dir, in index order, without loading vectors or models.
    Raises IndexNotFoundError when there is no index, RagError when it is damaged."""
    manifest = read_manifest(index_dir)
    if manifest is None:
        raise IndexNotFoundError(f"No index in {index_dir}/. Build it with `rag index`.")
    path = index_dir / manifest["generation"] / "papers.json"
    try:
        return [_paper(p) for p in json.loads(path.read_text(encoding="utf-8"))]
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise RagError(f"{path} is damaged ({exc}). Rebuild with `rag index --rebuild`.") from exc


def check_compatible(manifest: dict[str, Any], expected: dict[str, Any], where: Path | str) -> None:
    """Raise IndexMismatchError naming both values when the index was built otherwise. `where`:
    the index folder, or how another store names its index ("Milvus collection 'rag' at …")."""
    place = f"index in {where}/" if isinstance(where, Path) else where
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"The {place} has index format {manifest.get('format_version')}, this version reads "
            f"{FORMAT_VERSION}. Rebuild it with `rag index --rebuild`."
        )
    built = {
        "encoders": {slot: info.get("name") for slot, info in manifest.get("encoders", {}).items()},
        "chunking": manifest.get("chunking"),
    }
    for key in ("encoders", "chunking"):
        if built[key] != expected.get(key):
            raise IndexMismatchError(
                f"The {place} was built with {key} {json.dumps(built[key], ensure_ascii=False)}, but the "
                f"settings ask for {json.dumps(expected.get(key), ensure_ascii=False)}. Rebuild it with "
                "`rag index --rebuild`, or set RAG_EMBEDDER / RAG_EMBED_BACKEND / RAG_BRIDGE_ENCODER / "
                "RAG_CHUNK_CHARS back to the values it was built with."
            )


def load_index(
    index_dir: Path,
    expected: dict[str, Any] | None = None,
    corpus_dir: Path | None = None,
    *,
    tokens: bool = True,
) -> IndexData:
    """The index in index_dir. Vectors and flat FAISS indexes are memory-mapped (read-only), so
    loading costs little memory of its own and the page cache is shared by every process serving
    the folder. Raises IndexNotFoundError, IndexMismatchError (built with other encoders or
    chunking than `expected`) or RagError (damaged: rebuild). tokens=False leaves the chunks'
    BM25 tokens unread when the generation holds its BM25 index (serving needs only that)."""
    import numpy as np

    from .vector_index import read_vector_index

    manifest = read_manifest(index_dir)
    if manifest is None:
        where = f" (reads {corpus_dir}/)" if corpus_dir else ""
        raise IndexNotFoundError(f"No index in {index_dir}/. Build it with `rag index`{where}.")
    if expected is not None:
        check_compatible(manifest, expected, index_dir)
    gen = index_dir / manifest["generation"]
    try:
        papers = {p["doc_id"]: _paper(p) for p in json.loads((gen / "papers.json").read_text(encoding="utf-8"))}
        chunks = tuple(Chunk(**row) for row in _read_jsonl(gen / "chunks.jsonl"))
        if tokens or not (gen / BM25_FOLDER).is_dir():
            token_lists = tuple(tuple(row) for row in _read_jsonl(gen / "tokens.jsonl"))
        else:
            token_lists = ()
        if (gen / "sentences.npy").exists():
            sentences = tuple(map(tuple, np.load(gen / "sentences.npy", allow_pickle=False).tolist()))
        else:  # written before sentences.npy
            sentences = tuple(tuple(row) for row in _read_jsonl(gen / "sentences.jsonl"))
        vectors = {slot: _load_npy(gen / f"{slot}.npy") for slot in manifest["encoders"]}
        indexes = {slot: read_vector_index(gen / f"{slot}.faiss") for slot in manifest["encoders"]}
        sent_path = gen / "sentences-use.npy"
        sentence_vectors = _load_npy(sent_path) if sent_path.exists() else None
        vocab_path = gen / "vocab-use.npy"
        vocab = tuple(_read_jsonl(gen / "vocab.jsonl")) if vocab_path.exists() else ()
        vocab_vectors = _load_npy(vocab_path) if vocab_path.exists() else None
        headings = tuple(Heading(**row) for row in _read_jsonl(gen / "headings.jsonl"))
        body = (gen / BODY).read_text(encoding="utf-8") if (gen / BODY).exists() else None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise RagError(
            f"The index in {gen}/ is incomplete or damaged ({exc}). Rebuild with `rag index --rebuild`."
        ) from exc
    return IndexData(
        manifest,
        papers,
        chunks,
        token_lists,
        vectors,
        sentences,
        sentence_vectors,
        vocab,
        vocab_vectors,
        indexes,  # type: ignore[arg-type]
        headings,
        gen,
        body,
    )


def cache_dir(index_dir: Path) -> Path:
    """Where the embedding cache of an index lives (rag/cache.py): kept across generations."""
    return index_dir / "cache"


def write_index(index_dir: Path, data: IndexData) -> Path:
    """Write a new generation and switch the manifest to it atomically. Returns the folder.
    Raises RagError, writing nothing, when two chunks share a key or two files share an id."""
    import numpy as np

    from .vector_index import build_vector_index, write_vector_index

    check_unique_keys(data, index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    name = f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    tmp = index_dir / f".tmp-{name}"
    tmp.mkdir()
    try:
        papers = [p.to_dict() for p in data.papers.values()]
        (tmp / "papers.json").write_text(json.dumps(papers, ensure_ascii=False, indent=1), encoding="utf-8")
        _write_jsonl(tmp / "chunks.jsonl", (c.to_dict() for c in data.chunks))
        _write_jsonl(tmp / "tokens.jsonl", (list(t) for t in data.tokens))
        data.lexical.save(tmp / BM25_FOLDER)
        np.save(tmp / "sentences.npy", np.asarray(data.sentences, dtype=np.int64).reshape(-1, 3), allow_pickle=False)
        _write_jsonl(tmp / "headings.jsonl", (h.to_dict() for h in data.headings))
        if data.body is not None:
            (tmp / BODY).write_text(data.body, encoding="utf-8")
        for slot, vecs in data.vectors.items():
            np.save(tmp / f"{slot}.npy", np.asarray(vecs, dtype=np.float32), allow_pickle=False)
            write_vector_index(build_vector_index(vecs), tmp / f"{slot}.faiss")
        if data.sentence_vectors is not None:
            np.save(tmp / "sentences-use.npy", data.sentence_vectors.astype(SENTENCE_VECTOR_DTYPE), allow_pickle=False)
        if data.vocab_vectors is not None:
            _write_jsonl(tmp / "vocab.jsonl", data.vocab)
            np.save(tmp / "vocab-use.npy", np.asarray(data.vocab_vectors, dtype=np.float32), allow_pickle=False)
        fsync_dir(tmp)
        os.replace(tmp, index_dir / name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    manifest = dict(data.manifest, generation=name, format_version=FORMAT_VERSION)
    _atomic_write(index_dir / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))
    _remove_old_generations(index_dir, keep=name)
    return index_dir / name


def check_unique_keys(data: IndexData, index_dir: Path) -> None:
    """Citations, eval labels and snapshots find a chunk by its key and a paper by its id: a
    duplicate would quote one paper's sentence under another's title, so it is never written."""
    owners: dict[str, list[str]] = {}
    for name, entry in data.manifest.get("files", {}).items():
        if isinstance(entry, dict) and not entry.get("copy_of"):
            owners.setdefault(str(entry.get("doc_id")), []).append(name)
    for doc_id, names in owners.items():
        if len(names) > 1:
            raise RagError(
                f"The files {', '.join(sorted(names))} would share the document id {doc_id!r}; nothing was "
                f"written and the index in {index_dir}/ is unchanged. Rename one of them and run `rag index` again."
            )
    seen: set[str] = set()
    for chunk in data.chunks:
        if chunk.key in seen:
            names = owners.get(chunk.doc_id) or [p.source for p in data.papers.values() if p.doc_id == chunk.doc_id]
            raise RagError(
                f"Two chunks share the key {chunk.key!r} (from {', '.join(sorted(names)) or chunk.doc_id}); "
                f"nothing was written and the index in {index_dir}/ is unchanged. Rebuild with "
                "`rag index --rebuild`; if it happens again, rename the file and report the bug."
            )
        seen.add(chunk.key)


@contextmanager
def build_lock(index_dir: Path, *, wait: float) -> Iterator[None]:
    """Hold index_dir/build.lock for one build. Another build on the same folder waits up to
    `wait` seconds (saying who it waits for), then raises IndexBusyError. The lock is an flock,
    which the system drops when its process ends, however it ends: a build killed with -9 leaves
    nothing to clean up. The file keeps the holder's pid, for the message only."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no locking rather than no indexing
        yield
        return
    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / LOCK
    with open(path, "a+", encoding="utf-8") as fh:
        if not _try_flock(fh, fcntl):
            holder = _lock_holder(path)
            logger.warning("another rag index is running on %s (pid %s); waiting…", index_dir, holder)
            deadline = time.monotonic() + wait
            while not _try_flock(fh, fcntl):
                if time.monotonic() >= deadline:
                    raise IndexBusyError(
                        f"Another rag index (pid {_lock_holder(path)}) is still building {index_dir}/ after "
                        f"{wait:.0f} s of waiting. Let it finish and run `rag index` again, or wait longer "
                        "with `rag index --wait SECONDS`."
                    )
                time.sleep(LOCK_POLL_SECONDS)
            logger.warning("the other rag index on %s finished; going on", index_dir)
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()  # the flock itself goes with the file handle


def build_running(index_dir: Path) -> str | None:
    """The pid (as written in build.lock) of a `rag index` building index_dir now, else None."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return None
    path = index_dir / LOCK
    if not path.exists():
        return None
    with open(path, "a+", encoding="utf-8") as fh:
        if _try_flock(fh, fcntl):
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            return None
    return _lock_holder(path)


def _try_flock(fh: Any, fcntl: Any) -> bool:
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _lock_holder(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip() or "unknown"
    except OSError:
        return "unknown"


def _remove_old_generations(index_dir: Path, keep: str) -> None:
    for path in index_dir.iterdir():
        if path.is_dir() and path.name.startswith(("gen-", ".tmp-gen-")) and path.name != keep:
            shutil.rmtree(path, ignore_errors=True)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def fsync_dir(path: Path) -> None:
    """Make a rename into `path` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _load_npy(path: Path) -> np.ndarray:
    """A saved array, memory-mapped read-only (np.load mmap_mode="r")."""
    import numpy as np

    return np.load(path, mmap_mode="r", allow_pickle=False)


def _write_jsonl(path: Path, rows: Any) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[Any]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _paper(row: dict[str, Any]) -> Paper:
    row = dict(row)
    row["languages"] = tuple(row.get("languages", ()))
    row["authors"] = tuple(row.get("authors", ()))
    row["keywords"] = tuple(row.get("keywords", ()))
    row["sources"] = tuple(tuple(pair) for pair in row.get("sources", ()))
    row["collections"] = tuple(row.get("collections", ()))
    row["tags"] = tuple(row.get("tags", ()))
    return Paper(**row)
