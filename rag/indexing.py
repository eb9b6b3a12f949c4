"""Corpus folder -> index folder, incrementally: unchanged files keep their chunks and vectors,
changed files are re-read and re-embedded, deleted files are dropped, unreadable files are
skipped with a warning (and keep their previous version if they had one), copies of a paper are
reported and not indexed (see scan.py). Each distinct text is embedded once, however often it
occurs; a paper that repeats itself keeps each chunk once (dedupe.py). One build per index
folder at a time (store.build_lock); re-running on an unchanged folder changes nothing."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from . import store
from .cache import EmbeddingCache
from .catalog import load_catalog
from .chunking import chunk_paper, split_sentences
from .config import Settings
from .dedupe import distinct_chunks
from .embeddings import Encoder, bridge_encoder, dense_backend, dense_encoder, dense_signature
from .errors import CorpusError, RagError, StoreUnavailableError
from .evidence import SentenceScorer
from .ingest import corpus_files, read_paper
from .lexical import han_vocabulary, tokenize
from .metadata import Assignment, Records, apply_record, assign, fingerprint, load_records
from .outline import outline_of
from .progress import Progress
from .readcache import PdfCache
from .scan import CorpusFile, Scan, scan
from .tuning import Tuning
from .types import Chunk, Heading, Paper

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

# How long a second `rag index` on the same folder waits for the first before giving up.
LOCK_WAIT_SECONDS = 1800.0


@dataclass(frozen=True)
class BuildReport:
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()  # warnings, one per unreadable file
    duplicates: tuple[str, ...] = ()  # "paper (1).txt is a copy of paper.txt": copies are not indexed
    repeated: tuple[str, ...] = ()  # "big.txt repeats itself: 12,500 chunks, 25 distinct; each kept once"
    chunks: int = 0
    embedded_chunks: int = 0  # distinct chunk texts embedded by this build
    embedded_sentences: int = 0  # distinct sentence texts embedded by this build (cross-lingual encoder)
    embedded_by_encoder: dict[str, int] = field(default_factory=dict)  # chunk texts encoded, per encoder slot
    seconds: float = 0.0
    index_dir: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    # Which reference-manager record each paper got: "x.pdf <- refs.bib:12 (by DOI)", unmatched ones
    metadata: tuple[str, ...] = ()

    def summary(self) -> str:
        counts = (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.removed)} removed, {len(self.skipped)} skipped"
        )
        if self.duplicates:
            counts += f", {len(self.duplicates)} {'copy' if len(self.duplicates) == 1 else 'copies'} not indexed"
        if self.repeated:
            counts += f", {len(self.repeated)} with repeated chunks kept once"
        parts = [
            f"{self.chunks} chunks from {len(self.added) + len(self.updated) + len(self.unchanged)} papers",
            counts,
            f"{self.embedded_chunks} chunks embedded in {self.seconds:.1f} s -> {self.index_dir}",
        ]
        return "; ".join(parts)


def expected_signature(settings: Settings) -> dict[str, object]:
    """What an index must have been built with to be used (and extended) with these settings.
    The dense name carries its passage backend ("e5-small+onnx-int8"; torch fp32: the bare
    name): vectors of two backends differ slightly and are never mixed in one index."""
    encoders = {"dense": dense_signature(settings)}
    if settings.bridge_encoder not in ("", "none", "off"):
        encoders["use"] = settings.bridge_encoder
    return {"encoders": encoders, "chunking": settings.chunking_signature()}


@dataclass(frozen=True)
class IndexStatus:
    """What `rag index --status` shows: the published index, what the corpus has that it lacks,
    what the last build could not read, the embedding cache, and a build in progress."""

    index_dir: str  # where the index is: "index/", "Milvus collection 'rag' at …" (Store.describe)
    built: str | None  # when the published index was written; None: there is none
    papers: int
    chunks: int
    pending_added: tuple[str, ...]  # in the corpus, not in the index
    pending_changed: tuple[str, ...]  # in both, bytes changed since the build
    pending_removed: tuple[str, ...]  # in the index, gone from the corpus
    failed: tuple[str, ...]  # "name: reason" from the last build
    cache: dict[str, int]  # encoder -> texts cached
    running: str | None  # pid of a build in progress

    def summary(self) -> str:
        lines = [
            f"{self.index_dir}: "
            + (f"{self.papers} papers, {self.chunks} chunks, built {self.built}" if self.built else "no index yet")
        ]
        pending = len(self.pending_added) + len(self.pending_changed) + len(self.pending_removed)
        lines.append(
            f"pending: {len(self.pending_added)} new, {len(self.pending_changed)} changed, "
            f"{len(self.pending_removed)} removed" + (" (run `rag index`)" if pending else " (up to date)")
        )
        for label, names in (("new", self.pending_added), ("changed", self.pending_changed)):
            lines += [f"  {label}: {n}" for n in names[:20]] + (
                [f"  … {len(names) - 20} more"] if len(names) > 20 else []
            )
        lines += [f"  removed: {n}" for n in self.pending_removed[:20]]
        lines.append(f"failed in the last build: {len(self.failed)}")
        lines += [f"  {f}" for f in self.failed]
        lines.append(
            "embedding cache: "
            + (", ".join(f"{name} {n:,} texts" for name, n in sorted(self.cache.items())) or "empty")
        )
        lines.append(f"build running: pid {self.running}" if self.running else "build running: no")
        return "\n".join(lines)


def index_status(settings: Settings) -> IndexStatus:
    """Compare the corpus with the published index (by file bytes) without reading papers or
    loading models. Raises CorpusError when the corpus cannot be listed."""
    from .cache import EmbeddingCache
    from .ingest import document_ids, file_sha256
    from .scan import previous_files

    target = store.open_store(settings)
    manifest = target.manifest() or {}
    before = previous_files(manifest)
    if settings.zotero:
        from .zotero import read_zotero

        library = read_zotero(Path(settings.zotero).expanduser(), collection=settings.zotero_collection or None)
        files = {a.name: a.path for a in library.attachments}
    else:
        paths = corpus_files(settings.corpus_dir, warn=False)
        document_ids(paths)
        files = {p.name: p for p in paths}
    added = tuple(sorted(n for n in files if n not in before))
    changed = tuple(sorted(n for n in files if n in before and before[n].sha256 != file_sha256(files[n])))
    removed = tuple(sorted(n for n, e in before.items() if n not in files and e.copy_of is None))
    cache_root = store.cache_dir(settings.index_dir)
    cache = (
        {d.name: len(EmbeddingCache(cache_root, d.name)) for d in sorted(cache_root.iterdir()) if d.is_dir()}
        if cache_root.is_dir()
        else {}
    )
    counts = manifest.get("counts", {})
    return IndexStatus(
        index_dir=target.describe(),
        built=manifest.get("created"),
        papers=int(counts.get("papers", 0)),
        chunks=int(counts.get("chunks", 0)),
        pending_added=added,
        pending_changed=changed,
        pending_removed=removed,
        failed=tuple(manifest.get("skipped", ())),
        cache=cache,
        running=store.build_running(settings.index_dir),
    )


def build_index(
    settings: Settings, *, rebuild: bool = False, progress: bool | None = None, wait: float | None = None
) -> BuildReport:
    """Bring settings.index_dir up to date with settings.corpus_dir. `progress`: a bar (default on
    a terminal), else progress lines on the `rag.progress` logger. Another build running on the
    same index folder is waited for up to `wait` seconds (default LOCK_WAIT_SECONDS), then
    IndexBusyError; after it, this build finds its work done."""
    progress = sys.stderr.isatty() if progress is None else progress
    if not settings.zotero:
        corpus_files(settings.corpus_dir, warn=False)  # a missing corpus folder is reported before anything is created
    with store.build_lock(settings.index_dir, wait=LOCK_WAIT_SECONDS if wait is None else wait):
        return _build(settings, rebuild, progress)


def _warn_other_corpus(settings: Settings, old: store.IndexData | None) -> None:
    """An index built from one folder and now fed another loses the first folder's papers: say so."""
    before = old.manifest.get("corpus_dir") if old is not None else None
    if before and old is not None and old.papers and Path(before).resolve() != Path(settings.corpus_dir).resolve():
        logger.warning(
            "%s/ was built from %s/; indexing %s/ into it replaces those papers. For a separate index "
            "give --index DIR (or RAG_INDEX_DIR).",
            settings.index_dir,
            before,
            settings.corpus_dir,
        )


def _build(settings: Settings, rebuild: bool, progress: bool) -> BuildReport:
    started = time.perf_counter()
    old = None if rebuild else _reusable(settings)
    # A Zotero library's records are fixed in Zotero; its data directory is never written to.
    catalog = {} if settings.zotero else load_catalog(settings.corpus_dir)
    _warn_other_corpus(settings, old)
    files, available, missing = _sources(settings)
    found = scan(
        settings.corpus_dir,
        old,
        catalog,
        progress=progress,
        ocr=settings.ocr,
        pdf_extractor=settings.pdf_extractor,
        files=files,
        pdf_cache=PdfCache(store.cache_dir(settings.index_dir) / "pdf"),
    )
    found = replace(found, skipped=found.skipped + missing)
    assignment = assign(available, [(f.name, _last_read(f, old)) for f in found.papers])
    applied = {
        f.entry.doc_id: fingerprint(assignment.by_name[f.name][0]) for f in found.papers if f.name in assignment.by_name
    }
    for line in assignment.lines:
        logger.info("metadata: %s", line)
    if old is not None and _nothing_changed(old, found, catalog) and applied == old.manifest.get("records", {}):
        return _report(found, old, {"chunks": 0, "sentences": 0}, (), settings, started, {}, assignment.lines)
    old_by_doc = _chunks_by_doc(old) if old else {}
    kept = {
        f.entry.doc_id: (_described(settings, f, old, catalog, assignment, applied), old_by_doc.get(f.entry.doc_id, []))
        for f in found.papers
        if f.clean is None and old is not None
    }
    fresh, repeated = _chunk_fresh(settings, found)
    by_doc = {f.entry.doc_id: f.name for f in found.papers}
    fresh = [(_with_record(paper, assignment, by_doc[paper.doc_id]), chunks) for paper, chunks in fresh]
    data, embedded, timings = _assemble(settings, old, kept, fresh, progress)
    outlines: dict[str, list[Heading]] = {}  # doc_id -> its headings (kept papers: from the old index)
    for h in old.headings if old else ():
        outlines.setdefault(h.doc_id, []).append(h)
    for f in found.papers:
        if f.clean is not None:
            outlines[f.entry.doc_id] = outline_of(f.clean)
    headings = tuple(h for doc in data.papers for h in outlines.get(doc, ()))
    data = replace(data, manifest=_manifest(settings, data, found, catalog) | {"records": applied}, headings=headings)
    data = replace(data, body=SentenceScorer(data, Tuning()).trusted_body())  # served as is, not assembled at start
    store.open_store(settings).write(data, old=old, changed=_changed_papers(old, data, found))
    return _report(found, data, embedded, repeated, settings, started, timings, assignment.lines)


def _sources(settings: Settings) -> tuple[list[tuple[Path, str, str]] | None, Records, tuple[str, ...]]:
    """The papers to scan (None: the corpus folder's files), the records that may describe them,
    and attachments named by the library whose files are missing."""
    if not settings.zotero:
        return None, load_records(settings.corpus_dir), ()
    from .zotero import read_zotero

    library = read_zotero(Path(settings.zotero).expanduser(), collection=settings.zotero_collection or None)
    files = [(a.path, a.name, a.doc_id) for a in library.attachments]
    given = {a.name: a.record for a in library.attachments}
    return files, Records(given=given, problems=library.problems), library.missing


def _last_read(f: CorpusFile, old: store.IndexData | None) -> Paper:
    if f.clean is not None:
        return f.clean.paper
    assert old is not None  # a file not read this time was indexed before
    return old.papers[f.entry.doc_id]


def _with_record(paper: Paper, assignment: Assignment, name: str) -> Paper:
    chosen = assignment.by_name.get(name)
    return apply_record(paper, *chosen) if chosen else paper


def _described(
    settings: Settings,
    f: CorpusFile,
    old: store.IndexData | None,
    catalog: dict[str, dict[str, object]],
    assignment: Assignment,
    applied: dict[str, dict[str, object] | None],
) -> Paper:
    """A paper not read again: as indexed, unless its record changed; then the file's own
    metadata is read again (its chunks stay) and the new record, if any, laid over it."""
    assert old is not None
    paper = old.papers[f.entry.doc_id]
    before = old.manifest.get("records", {}).get(f.entry.doc_id)
    if before == applied.get(f.entry.doc_id):
        return paper
    if before is not None:  # fields of the old record must not outlive it
        try:
            paper = read_paper(
                f.path,
                catalog,
                doc_id=f.entry.doc_id,
                ocr=settings.ocr,
                pdf_extractor=settings.pdf_extractor,
                source=f.name,
            ).paper
        except CorpusError as exc:
            logger.warning("skipped: %s: its record changed but it cannot be read again (%s)", f.name, exc)
            return paper
    return _with_record(paper, assignment, f.name)


def _nothing_changed(old: store.IndexData, found: Scan, catalog: dict[str, dict[str, object]]) -> bool:
    """The folder is as the index describes it: then the index folder is left exactly as it is."""
    return (
        all(f.clean is None and f.status in ("unchanged", "kept") for f in found.papers)
        and not found.removed
        and found.manifest_files() == old.manifest.get("files")
        and {f.entry.doc_id for f in found.papers} == set(old.papers)
        and {d: catalog.get(d, {}) for d in old.papers} == old.manifest.get("catalog")
    )


def _report(
    found: Scan,
    data: store.IndexData,
    embedded: dict[str, int],
    repeated: Sequence[str],
    settings: Settings,
    started: float,
    timings: dict[str, float],
    metadata: Sequence[str] = (),
) -> BuildReport:
    def named(status: str) -> tuple[str, ...]:
        return tuple(f.name for f in found.papers if f.status == status)

    return BuildReport(
        added=named("added"),
        updated=named("updated"),
        unchanged=named("unchanged"),
        removed=found.removed,
        skipped=found.skipped,
        duplicates=found.duplicates(),
        repeated=tuple(repeated),
        chunks=len(data.chunks),
        embedded_chunks=embedded["chunks"],
        embedded_by_encoder={k.split(":", 1)[1]: v for k, v in embedded.items() if k.startswith("chunks:")},
        embedded_sentences=embedded["sentences"],
        seconds=time.perf_counter() - started,
        index_dir=str(settings.index_dir),
        timings=timings,
        metadata=tuple(metadata),
    )


def _reusable(settings: Settings) -> store.IndexData | None:
    """The current index when it was built with the same settings, else None (full rebuild).
    A store that cannot be reached is an error, not a reason to rebuild."""
    target = store.open_store(settings)
    if target.manifest() is None:
        return None
    try:
        return target.load(expected_signature(settings), full=True)
    except StoreUnavailableError:
        raise
    except Exception as exc:  # a mismatched or damaged index is simply rebuilt from scratch
        logger.info("rebuilding from scratch: %s", exc)
        return None


def _changed_papers(old: store.IndexData | None, data: store.IndexData, found: Scan) -> set[str]:
    """The papers a store that updates in place must rewrite: read again, described anew, or gone."""
    if old is None:
        return set(data.papers)
    read = {f.entry.doc_id for f in found.papers if f.clean is not None}
    described = {d for d, paper in data.papers.items() if old.papers.get(d) != paper}
    return read | described | (set(old.papers) - set(data.papers))


def copy_index(settings: Settings, to: str, *, wait: float | None = None) -> str:
    """Copy the index of the other store into `to` ("milvus": the index folder into the Milvus
    collection of settings; "faiss": the other way), vectors and BM25 tokens as stored: nothing
    is embedded. The copy is refused, naming both, when the index was built with other encoders
    or chunking than settings ask for. Returns a line saying what was copied where."""
    source_name = {"milvus": "faiss", "faiss": "milvus"}.get(to)
    if source_name is None:
        raise RagError(f"--to {to!r} is unknown; use milvus (copy index/ into Milvus) or faiss (the other way).")
    source, target = store.open_store(settings, source_name), store.open_store(settings, to)
    started = time.perf_counter()
    with store.build_lock(settings.index_dir, wait=LOCK_WAIT_SECONDS if wait is None else wait):
        data = source.load(expected_signature(settings), full=True)
        target.write(data)
    return (
        f"copied {len(data.papers)} papers, {len(data.chunks):,} chunks and {len(data.sentences):,} sentences "
        f"from {source.describe()} to {target.describe()} in {time.perf_counter() - started:.1f} s "
        "(stored vectors re-used, nothing embedded)"
    )


def _chunks_by_doc(old: store.IndexData) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, chunk in enumerate(old.chunks):
        out.setdefault(chunk.doc_id, []).append(i)
    return out


def _chunk_fresh(settings: Settings, found: Scan) -> tuple[list[tuple[Paper, list[Chunk]]], list[str]]:
    """Chunks of the papers read this time, each text once per paper (a file that repeats one
    paper 500 times gives that paper's chunks, not 500 times as many)."""
    fresh: list[tuple[Paper, list[Chunk]]] = []
    repeated: list[str] = []
    for f in found.papers:
        if f.clean is None:
            continue
        chunks = chunk_paper(f.clean, chunk_chars=settings.chunk_chars, chunk_overlap=settings.chunk_overlap)
        distinct = distinct_chunks(chunks)
        if len(distinct) < len(chunks):
            note = f"{f.name} repeats itself: {len(chunks):,} chunks, {len(distinct):,} distinct; each kept once"
            logger.info("%s", note)
            repeated.append(note)
        fresh.append((f.clean.paper, distinct))
    return fresh, repeated


def _assemble(
    settings: Settings,
    old: store.IndexData | None,
    kept: dict[str, tuple[Paper, list[int]]],
    fresh: list[tuple[Paper, list[Chunk]]],
    progress: bool,
) -> tuple[store.IndexData, dict[str, int], dict[str, float]]:
    import numpy as np

    timings: dict[str, float] = {}
    encoders = {"dense": dense_encoder(settings)}
    bridge = bridge_encoder(settings)
    if bridge is not None:
        encoders["use"] = bridge
    old_rows = [i for _, rows in kept.values() for i in rows]
    new_chunks = [c for _, chunks in fresh for c in chunks]
    chunks = tuple(old.chunks[i] for i in old_rows) + tuple(new_chunks) if old else tuple(new_chunks)
    t = time.perf_counter()
    new_tokens = [tuple(tokenize(_lexical_text(c))) for c in new_chunks]
    tokens = (tuple(old.tokens[i] for i in old_rows) if old else ()) + tuple(new_tokens)
    timings["tokenize"] = time.perf_counter() - t
    vectors: dict[str, np.ndarray] = {}
    embedded = {"chunks": 0, "sentences": 0}
    # A chunk whose text the previous index embedded (a paper re-read for its metadata, or edited
    # in one place) takes its old vectors: only texts never seen are encoded.
    known = {embed_text(c): row for row, c in enumerate(old.chunks)} if old else {}
    texts = [embed_text(c) for c in new_chunks]
    reused = [i for i, text in enumerate(texts) if text in known]
    todo = [i for i, text in enumerate(texts) if text not in known]
    caches = {slot: _cache(settings, slot, encoder) for slot, encoder in encoders.items()}
    for slot, encoder in encoders.items():
        t = time.perf_counter()
        parts = [old.vectors[slot][old_rows]] if old and old_rows else []
        if new_chunks:
            fresh_vecs = np.zeros((len(texts), encoder.dim), dtype=np.float32)
            if reused:
                assert old is not None
                fresh_vecs[reused] = old.vectors[slot][[known[texts[i]] for i in reused]]
            if todo:
                fresh_vecs[todo], n = encode_once(
                    encoder, [texts[i] for i in todo], progress, f"chunks ({slot})", caches[slot], settings.embed_batch
                )
                embedded["chunks"] = max(embedded["chunks"], n)
                embedded[f"chunks:{slot}"] = n
            parts.append(fresh_vecs)
        vectors[slot] = np.concatenate(parts) if parts else np.zeros((0, encoder.dim), dtype=np.float32)
        timings[f"embed_{slot}"] = time.perf_counter() - t
    use_cache = caches.get("use")
    batch = settings.embed_batch
    sentences, sentence_vectors, embedded["sentences"] = _sentences(
        old, chunks, bridge, progress, timings, use_cache, batch
    )
    vocab, vocab_vectors = _vocabulary(old, tokens, bridge, progress, timings, use_cache, batch)
    _compact(caches, chunks, sentences, vocab)
    papers = {p.doc_id: p for p, _ in kept.values()} | {p.doc_id: p for p, _ in fresh}
    data = store.IndexData({}, papers, chunks, tokens, vectors, sentences, sentence_vectors, vocab, vocab_vectors)
    return data, embedded, timings


def _compact(
    caches: dict[str, EmbeddingCache],
    chunks: Sequence[Chunk],
    sentences: Sequence[tuple[int, int, int]],
    vocab: Sequence[str],
) -> None:
    """Keep the caches to what this index uses once they have grown many shards."""
    from .cache import COMPACT_SHARDS, digest

    if all(c.shards <= COMPACT_SHARDS for c in caches.values()):
        return
    texts = [embed_text(c) for c in chunks]
    for slot, cache in caches.items():
        keep = list(texts)
        if slot == "use":
            keep += [chunks[ci].text[s - chunks[ci].start : e - chunks[ci].start] for ci, s, e in sentences]
            keep += list(vocab)
        cache.compact(digest(t) for t in keep)


def _cache(settings: Settings, slot: str, encoder: Encoder) -> EmbeddingCache:
    """The embedding cache of one encoder in the index folder (rag/cache.py)."""
    return EmbeddingCache(store.cache_dir(settings.index_dir), f"{slot}-{encoder.signature}")


def encode_once(
    encoder: Encoder,
    texts: list[str],
    progress: bool,
    what: str,
    cache: EmbeddingCache | None = None,
    batch_size: int = 256,
) -> tuple[np.ndarray, int]:
    """Vectors of `texts` in order, each distinct text encoded once (a 10 MB file of 114 sentences
    said 60,000 times costs 114 encodings), with progress. With a `cache`, texts it holds are not
    encoded and each batch encoded is written to it before the next starts (a killed build
    resumes there). Returns the vectors and the number of texts encoded."""
    import numpy as np

    from .cache import digest

    rows: dict[str, int] = {}
    inverse = np.fromiter((rows.setdefault(t, len(rows)) for t in texts), dtype=np.int64, count=len(texts))
    distinct = list(rows)
    if not distinct:
        return np.zeros((0, encoder.dim), dtype=np.float32), 0
    keys = [digest(t) for t in distinct] if cache is not None else []
    found, cached = cache.get(keys) if cache is not None else ([], None)
    out: np.ndarray | None = None
    if cached is not None and len(found):
        out = np.zeros((len(distinct), cached.shape[1]), dtype=np.float32)
        out[found] = cached
    todo = sorted(set(range(len(distinct))) - set(found))
    with Progress(f"embedding {what}", len(todo), bar=progress, unit="text") as bar:
        for i in range(0, len(todo), batch_size):
            batch = todo[i : i + batch_size]
            vectors = encoder.encode_passages([distinct[j] for j in batch], progress=False)
            if out is None:
                out = np.zeros((len(distinct), vectors.shape[1]), dtype=np.float32)
            out[batch] = vectors
            if cache is not None:
                try:
                    cache.add([keys[j] for j in batch], vectors)
                except OSError as exc:
                    raise RagError(
                        f"Cannot write the embedding cache in {cache.dir}/ ({exc.strerror or exc}). Free disk "
                        "space and run `rag index` again: the index in use is unchanged and the texts embedded "
                        "so far are kept."
                    ) from exc
            bar.update(len(batch))
    assert out is not None
    return out[inverse], len(todo)


def _sentences(
    old: store.IndexData | None,
    chunks: tuple[Chunk, ...],
    bridge: Encoder | None,
    progress: bool,
    timings: dict[str, float],
    cache: EmbeddingCache | None = None,
    batch_size: int = 256,
) -> tuple[tuple[tuple[int, int, int], ...], np.ndarray | None, int]:
    """Unique sentences of every chunk, with bridge-encoder vectors: a text the previous index
    already embedded is reused, every other distinct text is embedded once."""
    import numpy as np

    seen: set[tuple[str, int, int]] = set()
    sentences: list[tuple[int, int, int]] = []
    texts: list[str] = []
    for ci, chunk in enumerate(chunks):
        for s, e in split_sentences(chunk.text, chunk.start):
            if (chunk.doc_id, s, e) not in seen:
                seen.add((chunk.doc_id, s, e))
                sentences.append((ci, s, e))
                texts.append(chunk.text[s - chunk.start : e - chunk.start])
    if bridge is None:
        return tuple(sentences), None, 0
    t = time.perf_counter()
    known = _old_sentence_rows(old)
    out = np.zeros((len(sentences), bridge.dim), dtype=np.float32)
    if old is not None and old.sentence_vectors is not None:
        reused = [i for i, text in enumerate(texts) if text in known]
        out[reused] = old.sentence_vectors[[known[texts[i]] for i in reused]]
    todo = [i for i, text in enumerate(texts) if text not in known]
    embedded = 0
    if todo:
        out[todo], embedded = encode_once(
            bridge, [texts[i] for i in todo], progress, "sentences (use)", cache, batch_size
        )
    timings["embed_sentences"] = time.perf_counter() - t
    return tuple(sentences), out, embedded


def _old_sentence_rows(old: store.IndexData | None) -> dict[str, int]:
    """Sentence text -> its row in the previous index's sentence vectors."""
    if old is None or old.sentence_vectors is None:
        return {}
    rows: dict[str, int] = {}
    for row, (ci, s, e) in enumerate(old.sentences):
        chunk = old.chunks[ci]
        rows.setdefault(chunk.text[s - chunk.start : e - chunk.start], row)
    return rows


def _vocabulary(
    old: store.IndexData | None,
    tokens: tuple[tuple[str, ...], ...],
    bridge: Encoder | None,
    progress: bool,
    timings: dict[str, float],
    cache: EmbeddingCache | None = None,
    batch_size: int = 256,
) -> tuple[tuple[str, ...], np.ndarray | None]:
    """Chinese index tokens with bridge vectors, so English words can find their Chinese terms."""
    import numpy as np

    if bridge is None:
        return (), None
    t = time.perf_counter()
    vocab = han_vocabulary(tokens)
    known: dict[str, np.ndarray] = {}
    if old is not None and old.vocab_vectors is not None:
        known = {tok: old.vocab_vectors[i] for i, tok in enumerate(old.vocab)}
    todo = [tok for tok in vocab if tok not in known]
    if todo:
        fresh, _ = encode_once(bridge, todo, progress, "vocabulary (use)", cache, batch_size)
        known.update(zip(todo, fresh, strict=True))
    vectors = np.stack([known[tok] for tok in vocab]) if vocab else np.zeros((0, 512), dtype=np.float32)
    timings["embed_vocab"] = time.perf_counter() - t
    return tuple(vocab), vectors.astype(np.float32)


def embed_text(chunk: Chunk) -> str:
    """What the dense encoders see: the chunk as quoted. Prefixing the section heading was
    measured worse for e5 (Chinese questions, hit@5 0.903 vs 0.946 without)."""
    return chunk.text


def _lexical_text(chunk: Chunk) -> str:
    """BM25 also indexes the section heading: its words are often the question's words."""
    if chunk.section and chunk.kind in ("body", "references") and not chunk.text.startswith(chunk.section):
        return f"{chunk.section}\n{chunk.text}"
    return chunk.text


def _manifest(
    settings: Settings, data: store.IndexData, found: Scan, catalog: dict[str, dict[str, object]]
) -> dict[str, object]:
    """files maps each file name to its document id, sha256 of bytes and of cleaned text, and for
    a copy the file it repeats: the next build reads only what changed and finds copies again."""
    papers = list(data.papers.values())
    backends = {"dense": dense_backend(settings), "use": "numpy"}
    return {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "encoders": {
            slot: {"name": name, "dim": int(data.vectors[slot].shape[1]), "backend": backends[slot]}
            for slot, name in expected_signature(settings)["encoders"].items()  # type: ignore[union-attr]
        },
        "chunking": settings.chunking_signature(),
        "corpus_dir": str(settings.corpus_dir),
        "zotero": {"dir": settings.zotero, "collection": settings.zotero_collection} if settings.zotero else None,
        "files": found.manifest_files(),
        "skipped": list(found.skipped),
        "catalog": {p.doc_id: catalog.get(p.doc_id, {}) for p in papers},
        "counts": {
            "papers": len(papers),
            "copies": len(found.copies),
            "chunks": len(data.chunks),
            "sentences": len(data.sentences),
            "reference_chunks": sum(c.kind == "references" for c in data.chunks),
        },
    }
