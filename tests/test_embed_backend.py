"""Passage backends (RAG_EMBED_BACKEND): the faster int8 one gives the fp32 vectors to within the
measured cosine; the default (torch fp32) gives each text the same vector whatever it is batched
with, which the embedding cache and resumed builds rely on, where int8's dynamic quantisation does
not; a wrong value is named with the choices; an index records its backend so that vectors of two
backends are never mixed (issue 14)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import rag
from rag import EMBED_BACKENDS, SentenceTransformerEncoder

ROOT = Path(__file__).resolve().parent.parent
PAPER_001 = ROOT / "corpus" / "001_4139313f3243f7e4.txt"

# bench/bench_embed.py over the 142 chunks of the corpus: onnx-int8's lowest cosine to torch fp32
# was 0.98 (README "Embedding speed"); a few texts must clear a slightly lower bar.
MIN_COSINE = 0.975
FAST = "onnx-int8"


def test_the_int8_backend_gives_the_fp32_vectors(settings: rag.Settings) -> None:
    texts = [c.text for c in rag.load(settings).data.chunks[:6]]
    fast = SentenceTransformerEncoder("e5-small", settings.embedder_path, backend=FAST)
    fp32 = SentenceTransformerEncoder("e5-small", settings.embedder_path, backend="torch")
    cosine = (fast.encode_passages(texts) * fp32.encode_passages(texts)).sum(1)
    assert cosine.min() >= MIN_COSINE, cosine


def test_the_default_gives_a_text_one_vector_whatever_it_is_batched_with(settings: rag.Settings) -> None:
    texts = [c.text for c in rag.load(settings).data.chunks[:36]]
    assert rag.Settings.load().embed_backend == "torch"
    for backend, stable in (("torch", True), (FAST, False)):
        encoder = SentenceTransformerEncoder("e5-small", settings.embedder_path, backend=backend)
        alone = encoder.encode_passages(texts[:16])[0]
        beside_others = encoder.encode_passages([texts[0], *texts[20:35]])[0]
        same = bool(np.allclose(alone, beside_others, atol=1e-5))
        assert same == stable, (backend, float(alone @ beside_others))


def test_an_unknown_backend_is_named_with_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_EMBED_BACKEND", "fp16")
    with pytest.raises(rag.RagError) as err:
        rag.Settings.load()
    assert "'fp16'" in str(err.value) and all(name in str(err.value) for name in EMBED_BACKENDS)
    monkeypatch.delenv("RAG_EMBED_BACKEND")
    with pytest.raises(rag.RagError, match="'tpu'.*cpu.*cuda"):
        rag.Settings.load(device="tpu")


def test_cuda_without_a_gpu_says_so() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    encoder = SentenceTransformerEncoder("e5-small", rag.Settings.load().embedder_path, device="cuda")
    assert encoder.backend == "torch"  # the measured CPU backends never run on a GPU
    with pytest.raises(rag.RagError, match="cuda.*RAG_DEVICE=cpu"):
        encoder.encode_passages(["跨境电商"])


def test_the_manifest_records_the_backend_and_another_backend_rebuilds(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(PAPER_001, corpus / PAPER_001.name)
    default = rag.Settings.load(corpus_dir=corpus, index_dir=tmp_path / "index", embed_backend=FAST)
    rag.build_index(default, progress=False)
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["encoders"]["dense"] == {
        "name": f"e5-small+{default.embed_backend}",
        "dim": 384,
        "backend": default.embed_backend,
    }
    torch_fp32 = default.with_(embed_backend="torch")
    with pytest.raises(rag.IndexMismatchError, match="RAG_EMBED_BACKEND"):
        rag.load(torch_fp32)
    report = rag.build_index(torch_fp32, progress=False)  # re-embeds every chunk: nothing is mixed
    assert report.embedded_by_encoder["dense"] == report.chunks
    caches = sorted(p.name for p in (tmp_path / "index" / "cache").glob("dense-*"))
    assert caches == ["dense-e5-small", f"dense-e5-small_{default.embed_backend}"]
    vectors = rag.load(torch_fp32).data.vectors["dense"]
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
