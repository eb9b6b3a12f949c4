"""Cited answers from a folder of papers. The front door: everything the CLI, the UI and the
eval harness use is re-exported here; importing it loads no model."""

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
    RagError,
)
from .types import Answer, Chunk, Citation, CleanPaper, Hit, Paper, SentenceCheck, page_label

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "Assistant",
    "BadQuestionError",
    "BuildReport",
    "Chunk",
    "Citation",
    "CleanPaper",
    "CorpusError",
    "Hit",
    "IndexBusyError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "LLMSettings",
    "ModelNotAvailableError",
    "Paper",
    "RagError",
    "SentenceCheck",
    "Settings",
    "__version__",
    "as_langchain_retriever",
    "bibtex",
    "build_index",
    "chunk_paper",
    "dense_encoder",
    "gbt7714",
    "generate_answer",
    "load",
    "markdown_for_writing",
    "page_label",
    "provision_e5",
    "read_paper",
    "reference_list",
    "split_sentences",
    "stream_answer",
    "verify_answer",
]

if TYPE_CHECKING:
    from .chain import as_langchain_retriever
    from .chunking import chunk_paper, split_sentences
    from .cite import bibtex, gbt7714, markdown_for_writing, reference_list
    from .embeddings import dense_encoder
    from .generate import LLMSettings, generate_answer, stream_answer, verify_answer
    from .indexing import BuildReport, build_index
    from .ingest import read_paper
    from .pipeline import Assistant, load
    from .provision import provision_e5

_LAZY = {
    "Assistant": "pipeline",
    "load": "pipeline",
    "build_index": "indexing",
    "BuildReport": "indexing",
    "as_langchain_retriever": "chain",
    "chunk_paper": "chunking",
    "split_sentences": "chunking",
    "bibtex": "cite",
    "gbt7714": "cite",
    "markdown_for_writing": "cite",
    "reference_list": "cite",
    "dense_encoder": "embeddings",
    "read_paper": "ingest",
    "provision_e5": "provision",
    "LLMSettings": "generate",
    "generate_answer": "generate",
    "stream_answer": "generate",
    "verify_answer": "generate",
}


def __getattr__(name: str) -> Any:
    """Stages are imported on first use, so `import rag` stays light."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{module}", __name__), name)
