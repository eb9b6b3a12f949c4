"""The embedding cache: every vector an encoder computes is kept on disk, keyed by the encoder and
a hash of the text, and written batch by batch as it is computed. A build killed at any moment
(kill -9, a closed laptop, a full disk) loses at most the batch in flight: the next build finds
the rest here and embeds only what is missing. A library re-chunked with other settings embeds
only the chunks whose text is new.

Layout: <index>/cache/<encoder>/ holds shards, one per batch written:
    000123.keys   n text digests (16-byte BLAKE2b each), in row order
    000123.npy    n x dim float32 vectors (memory-mapped when read)
    000123.json   {"n", "dim", "keys_sha256", "npy_sha256"}: written last, so a shard without it
                  is a torn write and is removed; a shard whose checksums do not match its files
                  is corrupt: it is removed with a warning and its texts are embedded again.
Each file is written to a temporary name, fsync'd and renamed into place. Shards that no text of
the published index uses are merged away when their count grows (EmbeddingCache.compact)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .store import fsync_dir

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

DIGEST_BYTES = 16
COMPACT_SHARDS = 64  # more shards than this after a build: merge the used vectors into one


def digest(text: str) -> bytes:
    """The cache key of a text: 16 bytes of BLAKE2b over its UTF-8."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=DIGEST_BYTES).digest()


class EmbeddingCache:
    """Vectors of one encoder by text digest: `EmbeddingCache(index_dir / "cache", "dense-e5-small")`.
    `dim`: the vectors' dimension when known; else taken from the shards (so a fully cached build
    need not load the model to learn it)."""

    def __init__(self, root: Path, name: str, dim: int | None = None) -> None:
        self.dir = root / re.sub(r"[^A-Za-z0-9._-]+", "_", name)
        self.dim = dim
        self._where: dict[bytes, tuple[int, int]] = {}  # digest -> (shard, row)
        self._shards: dict[int, Path] = {}
        self._checked: set[int] = set()
        self._next = 0
        self._load()

    def __len__(self) -> int:
        return len(self._where)

    @property
    def shards(self) -> int:
        return len(self._shards)

    def _load(self) -> None:
        if not self.dir.is_dir():
            return
        for meta_path in sorted(self.dir.glob("*.json")):
            if not meta_path.stem.isdigit():  # ".tmp-000007.json": a write a kill interrupted
                continue
            shard = int(meta_path.stem)
            self._next = max(self._next, shard + 1)
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                keys = (self.dir / f"{meta_path.stem}.keys").read_bytes()
                self.dim = self.dim or int(meta["dim"])
                if meta["dim"] != self.dim or len(keys) != meta["n"] * DIGEST_BYTES:
                    raise ValueError("size does not match its record")
                if hashlib.sha256(keys).hexdigest() != meta["keys_sha256"]:
                    raise ValueError("checksum of its keys does not match")
            except (OSError, ValueError, KeyError) as exc:
                self._drop(shard, f"{exc}")
                continue
            self._shards[shard] = self.dir / f"{meta_path.stem}.npy"
            for row in range(meta["n"]):
                self._where[keys[row * DIGEST_BYTES : (row + 1) * DIGEST_BYTES]] = (shard, row)
        for leftover in self.dir.iterdir():  # torn writes: files of a shard never committed
            stem = leftover.name.split(".")[0]
            if stem.isdigit() and int(stem) not in self._shards and not leftover.name.endswith(".json"):
                leftover.unlink(missing_ok=True)
            elif leftover.name.startswith(".tmp-"):
                leftover.unlink(missing_ok=True)

    def _drop(self, shard: int, why: str) -> None:
        logger.warning(
            "embedding cache %s: shard %06d is corrupt (%s); removed, its texts will be embedded again",
            self.dir,
            shard,
            why,
        )
        for suffix in (".json", ".keys", ".npy"):
            (self.dir / f"{shard:06d}{suffix}").unlink(missing_ok=True)
        self._shards.pop(shard, None)
        self._where = {k: v for k, v in self._where.items() if v[0] != shard}

    def get(self, digests: Sequence[bytes]) -> tuple[list[int], np.ndarray]:
        """(positions in `digests` that are cached, their vectors in that order). A shard whose
        vectors fail their checksum is dropped (warned) and its positions are left out."""
        import numpy as np

        by_shard: dict[int, list[tuple[int, int]]] = {}
        for i, d in enumerate(digests):
            hit = self._where.get(d)
            if hit is not None:
                by_shard.setdefault(hit[0], []).append((i, hit[1]))
        found: list[int] = []
        parts: list[np.ndarray] = []
        for shard, pairs in sorted(by_shard.items()):
            vectors = self._vectors(shard)
            if vectors is None:
                continue
            found += [i for i, _ in pairs]
            parts.append(np.asarray(vectors[[row for _, row in pairs]], dtype=np.float32))
        if not parts:
            return [], np.zeros((0, self.dim or 0), dtype=np.float32)
        return found, np.concatenate(parts)

    def _vectors(self, shard: int) -> np.ndarray | None:
        import numpy as np

        path = self._shards.get(shard)
        if path is None:
            return None
        try:
            if shard not in self._checked:
                meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
                if _sha256_file(path) != meta["npy_sha256"]:
                    raise ValueError("checksum of its vectors does not match")
                self._checked.add(shard)
            vectors = np.load(path, mmap_mode="r", allow_pickle=False)
            if vectors.shape[1] != self.dim:
                raise ValueError(f"vectors of dimension {vectors.shape[1]}, not {self.dim}")
            return vectors
        except (OSError, ValueError, KeyError) as exc:
            self._drop(shard, str(exc))
            return None

    def add(self, digests: Sequence[bytes], vectors: np.ndarray) -> None:
        """Write one shard (fsync'd, committed by its .json last). Raises OSError (disk full);
        the shard is then not committed and nothing already cached is touched."""
        import numpy as np

        if not len(digests):
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        shard = self._next
        self._next += 1
        stem = f"{shard:06d}"
        keys = b"".join(digests)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.dim = self.dim or int(vectors.shape[1])
        if vectors.shape != (len(digests), self.dim):
            raise ValueError(f"{vectors.shape} vectors for {len(digests)} texts of dimension {self.dim}")
        try:
            _write(self.dir / f"{stem}.keys", keys)
            tmp = self.dir / f".tmp-{stem}.npy"
            with open(tmp, "wb") as fh:
                np.save(fh, vectors, allow_pickle=False)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.dir / f"{stem}.npy")
            meta = {
                "n": len(digests),
                "dim": self.dim,
                "keys_sha256": hashlib.sha256(keys).hexdigest(),
                "npy_sha256": _sha256_file(self.dir / f"{stem}.npy"),
            }
            _write(self.dir / f"{stem}.json", json.dumps(meta).encode())
        except OSError:
            for suffix in (".keys", ".npy", ".json"):
                (self.dir / f"{stem}{suffix}").unlink(missing_ok=True)
            (self.dir / f".tmp-{stem}.npy").unlink(missing_ok=True)
            raise
        fsync_dir(self.dir)
        self._shards[shard] = self.dir / f"{stem}.npy"
        self._checked.add(shard)
        for row, d in enumerate(digests):
            self._where[d] = (shard, row)

    def compact(self, keep: Iterable[bytes]) -> None:
        """When there are more than COMPACT_SHARDS shards: one shard of the vectors of `keep` (the
        texts the published index uses) replaces them all. Safe to interrupt: the merged shard is
        committed before the old ones are removed, and a digest found twice is read once."""
        if self.shards <= COMPACT_SHARDS:
            return
        wanted = [d for d in dict.fromkeys(keep) if d in self._where]
        found, vectors = self.get(wanted)
        old = list(self._shards)
        self.add([wanted[i] for i in found], vectors)
        merged = self._next - 1
        for shard in old:
            if shard != merged:
                for suffix in (".json", ".keys", ".npy"):
                    (self.dir / f"{shard:06d}{suffix}").unlink(missing_ok=True)
                self._shards.pop(shard, None)
        self._where = {k: v for k, v in self._where.items() if v[0] == merged}


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
