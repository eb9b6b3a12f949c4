"""Shared fixtures: the real corpus, the real models, the project's index (built once when
missing or stale, into a temporary folder so the user's index/ is never touched by tests)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import rag

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
PAPER_001 = CORPUS / "001_4139313f3243f7e4.txt"


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> rag.Settings:
    """Default settings over an up-to-date index of the five papers."""
    base = rag.Settings.load()
    try:
        rag.load(base)
        return base
    except (rag.IndexNotFoundError, rag.IndexMismatchError):
        built = base.with_(index_dir=tmp_path_factory.mktemp("index"))
        rag.build_index(built, progress=False)
        return built


@pytest.fixture(scope="session")
def assistant(settings: rag.Settings) -> rag.Assistant:
    return rag.load(settings)


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """Two real papers in a corpus folder of their own (for incremental and failure tests)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("001_4139313f3243f7e4.txt", "003_d0102665b7b2c82a.txt"):
        shutil.copy(CORPUS / name, corpus / name)
    return corpus
