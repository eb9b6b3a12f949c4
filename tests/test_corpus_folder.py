"""What a newcomer meets pointing the index at a folder of their own: papers in subfolders are
named (not silently ignored), an index with no passages answers with what to do instead of a
traceback, and feeding one index a second folder says that the first folder's papers go."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

import rag

ROOT = Path(__file__).resolve().parent.parent
PAPER = ROOT / "corpus" / "003_d0102665b7b2c82a.txt"


@pytest.mark.parametrize("nested", ["sub/paper.txt", "2024/march/paper.txt"])
def test_papers_in_subfolders_are_named_and_an_empty_index_says_what_to_do(
    tmp_path: Path, nested: str, caplog: pytest.LogCaptureFixture
) -> None:
    corpus = tmp_path / "corpus"
    (corpus / nested).parent.mkdir(parents=True)
    shutil.copy(PAPER, corpus / nested)
    settings = rag.Settings.load(corpus_dir=corpus, index_dir=tmp_path / "index")
    with caplog.at_level(logging.WARNING):
        report = rag.build_index(settings, progress=False)
    assert report.chunks == 0
    assert any("subfolders" in r.getMessage() and Path(nested).name in r.getMessage() for r in caplog.records)
    assistant = rag.load(settings)
    for question in ("跨境电商综合试验区有什么作用？", "What does the pilot zone do?"):
        with pytest.raises(rag.RagError, match=r"no passages.*rag index"):
            assistant.ask(question)


@pytest.mark.slow
def test_a_second_folder_into_the_same_index_is_announced(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    shutil.copy(PAPER, first / PAPER.name)
    shutil.copy(ROOT / "corpus" / "001_4139313f3243f7e4.txt", second / "001.txt")
    index = tmp_path / "index"
    rag.build_index(rag.Settings.load(corpus_dir=first, index_dir=index), progress=False)
    with caplog.at_level(logging.WARNING):
        report = rag.build_index(rag.Settings.load(corpus_dir=second, index_dir=index), progress=False)
    assert report.removed == (PAPER.name,)
    assert any("replaces those papers" in r.getMessage() and "--index" in r.getMessage() for r in caplog.records)
