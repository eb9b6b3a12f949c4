"""Shared fixtures: the real corpus, the real models, the project's index (built once when
missing or stale, into a temporary folder so the user's index/ is never touched by tests)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

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


@pytest.fixture(scope="session")
def pdf_fixtures() -> Path:
    """build/pdf-fixtures/: the journal-style PDFs of the corpus and their truth.json files
    (scripts/pdf_fixtures.py; reused when its stamp is current, built once otherwise)."""
    for tool in ("xelatex", "pdftoppm", "img2pdf", "qpdf"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed; run `bash scripts/install_texlive.sh`")
    return _script("pdf_fixtures").build()


@pytest.fixture(scope="session")
def distractors() -> Path:
    """build/distractors/: 300+ unrelated Chinese documents from Debian's manpages-zh
    (scripts/distractors.py; reused when its stamp is current, built once otherwise)."""
    module = _script("distractors")
    try:
        module.package_version()
    except RuntimeError:
        # /usr/share/man/zh_CN exists on any Debian (passwd, login and man-db ship a few pages), so
        # the package itself is asked for, and installed when missing, as make test installs the rest.
        install = subprocess.run(
            ["bash", str(ROOT / "scripts" / "install_manpages_zh.sh")], capture_output=True, text=True, check=False
        )
        if install.returncode != 0 or shutil.which("groff") is None:
            reason = (install.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.skip(f"cannot install manpages-zh (scripts/install_manpages_zh.sh): {reason}")
    return module.build()


@pytest.fixture(scope="session")
def scale_corpus() -> Path:
    """build/scale-corpus/: 1,500+ documents of real Chinese prose from Debian's Chinese manuals
    (scripts/scale_corpus.py; reused when its stamp is current, built once otherwise). The packages
    are installed by scripts/install_scale_corpus.sh when missing; skipped only when that fails."""
    module = _script("scale_corpus")
    try:
        module.package_versions()
    except RuntimeError:
        install = subprocess.run(
            ["bash", str(ROOT / "scripts" / "install_scale_corpus.sh")], capture_output=True, text=True, check=False
        )
        if install.returncode != 0:
            reason = (install.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.skip(f"cannot install the scale-corpus packages (scripts/install_scale_corpus.sh): {reason}")
    return module.build()


def _script(name: str) -> ModuleType:
    """A module of scripts/, loaded by path (scripts/ is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module
