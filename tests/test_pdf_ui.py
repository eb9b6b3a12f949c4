"""A citation of a PDF passage shows the printed page and opens the PDF itself at the page the
passage is on, served by the real app; the paper's own title and authors are what the chat shows."""

from __future__ import annotations

import json
import re
import shutil
import socket
import urllib.request
from pathlib import Path

import pytest

import rag

DOC = "003_d0102665b7b2c82a"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def pdf_assistant(pdf_fixtures: Path, tmp_path_factory: pytest.TempPathFactory) -> rag.Assistant:
    root = tmp_path_factory.mktemp("pdf-ui")
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(pdf_fixtures / "mixed" / f"{DOC}.pdf", corpus / f"{DOC}.pdf")
    settings = rag.Settings.load(corpus_dir=corpus, index_dir=root / "index")
    rag.build_index(settings, progress=False)
    return rag.load(settings)


@pytest.mark.slow
def test_a_cited_pdf_passage_opens_the_pdf_at_its_page(pdf_assistant: rag.Assistant, pdf_fixtures: Path) -> None:
    from ui import render
    from ui.app import build_demo, launch, with_pdf_links

    truth = json.loads((pdf_fixtures / "mixed" / "truth.json").read_text(encoding="utf-8"))["papers"][DOC]
    answer = pdf_assistant.ask("2022 年中国跨境电商市场规模是多少？")
    assert not answer.abstained and answer.citations
    shown = with_pdf_links(answer.to_dict(), pdf_assistant.settings.corpus_dir)
    cited = shown["citations"][0]
    assert cited["title"] == truth["title"]
    sentence = next(s for s in truth["sentences"] if "15.7" in s["text"])
    assert cited["page"] == str(sentence["page"])  # the printed page, 210 here, not the index 1
    url = cited["open_url"]
    assert url.endswith(f"#page={sentence['index']}")
    assert f'href="{url}"' in render.sources_panel([{"mid": "m1", "question": "q", "answer": shown}])

    demo = build_demo(pdf_assistant)
    _, base, _ = launch(
        demo, port=free_port(), prevent_thread_lock=True, quiet=True, corpus_dir=pdf_assistant.settings.corpus_dir
    )
    try:
        with urllib.request.urlopen(base.rstrip("/") + url.split("#")[0], timeout=30) as response:
            assert response.status == 200
            assert response.read(5) == b"%PDF-"
        # Nothing outside the corpus folder is served.
        secret = re.sub(r"file=.*", "file=/etc/passwd", url.split("#")[0])
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(base.rstrip("/") + secret, timeout=30)
    finally:
        demo.close()
