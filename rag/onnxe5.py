"""e5-small passages through ONNX Runtime: the provisioned sentence-transformers folder exported
once (torch.onnx, mean pooling and L2 normalisation inside the graph) to
`<model>-onnx/model.onnx`, and its Linear layers quantised to int8 (`model-int8.onnx`).

Measured by `bench/bench_embed.py` on the 2 shared cores: see README "Embedding speed". The
export needs torch and the `onnx` package once (~15 s); after that an index build needs only
onnxruntime and the `tokenizers` library. Texts are sorted by length and batched so that padding
costs little."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ModelNotAvailableError

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

MAX_TOKENS = 512  # the model's max_seq_length (sentence_bert_config.json)
FP32, INT8 = "model.onnx", "model-int8.onnx"


def onnx_dir(model_path: str | Path) -> Path:
    """Where the exported graphs of a provisioned model folder live: beside it."""
    path = Path(model_path)
    return path.with_name(path.name + "-onnx")


def ensure_onnx(model_path: str | Path, *, int8: bool) -> Path:
    """The ONNX graph of the model folder (exported, and quantised, on first use)."""
    folder = onnx_dir(model_path)
    target = folder / (INT8 if int8 else FP32)
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    fp32 = folder / FP32
    if not fp32.is_file():
        logger.warning("exporting %s to ONNX (once, ~15 s) ...", model_path)
        _atomic(fp32, lambda tmp: _export(Path(model_path), tmp))
    if int8:
        logger.warning("quantising the ONNX graph to int8 (once) ...")
        _atomic(target, lambda tmp: _quantise(fp32, tmp))
    return target


def _atomic(dest: Path, write) -> None:  # noqa: ANN001 - write(tmp_path)
    fd, name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; the model folder is shared like models/
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
        for extra in dest.parent.glob(tmp.name + "*"):  # external-data files an exporter may leave
            extra.unlink(missing_ok=True) if extra.is_file() else shutil.rmtree(extra, ignore_errors=True)


def _export(model_path: Path, out: Path) -> None:
    try:
        import onnx  # noqa: F401 - torch.onnx needs it to write the graph
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise ModelNotAvailableError(
            f"Exporting e5 to ONNX needs torch and onnx ({exc}); run `make setup` (pip install -e .), "
            "or set RAG_EMBED_BACKEND=torch."
        ) from exc

    class Pooled(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1)

    model = AutoModel.from_pretrained(str(model_path), attn_implementation="eager").eval()
    dummy = (torch.ones(2, 16, dtype=torch.long), torch.ones(2, 16, dtype=torch.long))
    axes = {
        "input_ids": {0: "batch", 1: "tokens"},
        "attention_mask": {0: "batch", 1: "tokens"},
        "embedding": {0: "batch"},
    }
    with torch.no_grad():
        torch.onnx.export(
            Pooled(model),
            dummy,
            str(out),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )


def _quantise(fp32: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Only MatMul: quantising the 250k-row word-embedding Gather saves disk, not time, and costs accuracy.
    quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])


class OnnxE5:
    """Passage vectors from an exported graph; `int8` picks the quantised one."""

    def __init__(self, model_path: str | Path, *, int8: bool, threads: int | None = None, batch_size: int = 16) -> None:
        self.model_path = Path(model_path)
        self.int8 = int8
        self.threads = threads or max(1, os.cpu_count() or 1)
        self.batch_size = batch_size

    @cached_property
    def _session(self):  # noqa: ANN202 - onnxruntime.InferenceSession
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        graph = ensure_onnx(self.model_path, int8=self.int8)
        return ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])

    @cached_property
    def _tokenizer(self):  # noqa: ANN202 - tokenizers.Tokenizer
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.model_path / "tokenizer.json"))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.no_padding()
        return tokenizer

    def encode(self, texts: list[str]) -> np.ndarray:
        """L2-normalised vectors of `texts` (prefixes already applied), in order."""
        import numpy as np

        encodings = self._tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        out: np.ndarray | None = None
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.full((len(rows), width), 1, dtype=np.int64)  # 1 = <pad> in XLM-R
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[r, :n] = encodings[i].ids
                mask[r, :n] = 1
            (vectors,) = self._session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})
            if out is None:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[rows] = vectors
        return out if out is not None else np.zeros((0, 384), dtype=np.float32)
