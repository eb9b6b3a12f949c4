"""Cited answers from a folder of papers. The front door: everything the CLI, the UI and the
eval harness use is re-exported here; importing it loads no model.

    settings = rag.Settings.load()            # defaults < RAG_* environment < keyword arguments
    rag.build_index(settings)                 # corpus/ -> index/ (incremental, atomic)
    assistant = rag.load(settings)
    answer = assistant.ask("跨境电商物流面临哪些问题？", history=[...], mode="extractive")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import Settings
from .errors import (
    BadQuestionError,
    CorpusError,
    IndexBusyError,
    IndexMismatchError,
    IndexNotFoundError,
    ModelNotAvailableError,
    ProvisionError,
    RagError,
    StoreUnavailableError,
)
from .text import CITATION_MARKER, SOURCE_REF, language_of, strip_source_refs
from .tuning import Tuning
from .types import Answer, Chunk, Citation, CleanPaper, Heading, Hit, Paper, SentenceCheck, Turn, page_label
from .userinput import (
    MAX_K,
    QuestionLine,
    check_k,
    clean_question,
    prepare_question,
    printable,
    read_question_lines,
)

__version__ = "0.2.0"

__all__ = [
    "ANSWERERS",
    "CITATION_MARKER",
    "SOURCE_REF",
    "Answer",
    "Answerer",
    "Assistant",
    "BadQuestionError",
    "BuildReport",
    "Chunk",
    "Citation",
    "CleanPaper",
    "Context",
    "CorpusError",
    "Draft",
    "GeneratedAnswerer",
    "Heading",
    "Hit",
    "IndexBusyError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "LEGS",
    "LLMSettings",
    "Leg",
    "ModelNotAvailableError",
    "MAX_K",
    "MilvusIndex",
    "Paper",
    "ProvisionError",
    "QuestionLine",
    "RagError",
    "StoreUnavailableError",
    "copy_index",
    "open_store",
    "SentenceCheck",
    "Settings",
    "Tuning",
    "Turn",
    "__version__",
    "answerer",
    "as_langchain_retriever",
    "as_runnable",
    "build_index",
    "read_bibliography",
    "match_records",
    "PaperKeys",
    "read_zotero",
    "SentenceTransformerEncoder",
    "EMBED_BACKENDS",
    "index_status",
    "IndexStatus",
    "scale_library",
    "synthetic_vectors",
    "build_vector_index",
    "nearest",
    "EXACT_SEARCH_LIMIT",
    "check_citations",
    "check_k",
    "chunk_paper",
    "clean_question",
    "dense_encoder",
    "export_references",
    "generate_answer",
    "language_of",
    "language_problem",
    "leg",
    "load",
    "indexed_papers",
    "markdown_for_writing",
    "ensure_models",
    "open_or_build",
    "page_label",
    "prepare_question",
    "printable",
    "provision_e5",
    "read_paper",
    "read_question_lines",
    "reference",
    "save_catalog_entry",
    "load_catalog",
    "reference_list",
    "REFERENCE_FORMATS",
    "REFERENCE_STYLES",
    "split_sentences",
    "stream_answer",
    "strip_source_refs",
    "term_coverage",
]

if TYPE_CHECKING:
    from .adapters import as_langchain_retriever, as_runnable
    from .answer import ANSWERERS, Answerer, Context, Draft, answerer
    from .bibfile import PaperKeys, match_records, read_bibliography
    from .catalog import load_catalog, save_catalog_entry
    from .chunking import chunk_paper, split_sentences
    from .cite import markdown_for_writing
    from .config import EMBED_BACKENDS
    from .embeddings import SentenceTransformerEncoder, dense_encoder
    from .generate import GeneratedAnswerer, LLMSettings, generate_answer, stream_answer
    from .indexing import BuildReport, IndexStatus, build_index, copy_index, index_status
    from .ingest import read_paper
    from .legible import verdict as language_problem
    from .legs import LEGS, Leg, leg
    from .milvus import MilvusIndex
    from .pipeline import Assistant, indexed_papers, load, open_or_build
    from .provision import ensure_models, provision_e5
    from .references import FORMATS as REFERENCE_FORMATS
    from .references import STYLES as REFERENCE_STYLES
    from .references import export_references, reference, reference_list
    from .store import open_store
    from .synthetic import scale_library, synthetic_vectors
    from .vector_index import EXACT_SEARCH_LIMIT, build_vector_index, nearest
    from .verify import term_coverage
    from .verify import verify as check_citations
    from .zotero import read_zotero

_LAZY: dict[str, str | tuple[str, str]] = {
    "Assistant": "pipeline",
    "load": "pipeline",
    "indexed_papers": "pipeline",
    "open_or_build": "pipeline",
    "build_index": "indexing",
    "BuildReport": "indexing",
    "index_status": "indexing",
    "copy_index": "indexing",
    "IndexStatus": "indexing",
    "as_langchain_retriever": "adapters",
    "as_runnable": "adapters",
    "ANSWERERS": "answer",
    "Answerer": "answer",
    "Context": "answer",
    "Draft": "answer",
    "answerer": "answer",
    "LEGS": "legs",
    "Leg": "legs",
    "leg": "legs",
    "MilvusIndex": "milvus",
    "open_store": "store",
    "chunk_paper": "chunking",
    "split_sentences": "chunking",
    "markdown_for_writing": "cite",
    "load_catalog": "catalog",
    "save_catalog_entry": "catalog",
    "reference": "references",
    "reference_list": "references",
    "export_references": "references",
    "REFERENCE_FORMATS": ("references", "FORMATS"),
    "REFERENCE_STYLES": ("references", "STYLES"),
    "dense_encoder": "embeddings",
    "SentenceTransformerEncoder": "embeddings",
    "EMBED_BACKENDS": "config",
    "read_bibliography": "bibfile",
    "match_records": "bibfile",
    "PaperKeys": "bibfile",
    "read_zotero": "zotero",
    "read_paper": "ingest",
    "provision_e5": "provision",
    "ensure_models": "provision",
    "GeneratedAnswerer": "generate",
    "LLMSettings": "generate",
    "generate_answer": "generate",
    "stream_answer": "generate",
    "term_coverage": "verify",
    "scale_library": "synthetic",
    "synthetic_vectors": "synthetic",
    "build_vector_index": "vector_index",
    "nearest": "vector_index",
    "EXACT_SEARCH_LIMIT": "vector_index",
    "check_citations": ("verify", "verify"),
    "language_problem": ("legible", "verdict"),
}


def __getattr__(name: str) -> Any:
    """Stages are imported on first use, so `import rag` stays light."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    from importlib import import_module

    module, attr = module if isinstance(module, tuple) else (module, name)
    return getattr(import_module(f".{module}", __name__), attr)
