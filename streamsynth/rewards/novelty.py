"""Novelty of new samples against a reference memory, after NovelSum (Yang et al., ACL 2025).

NovelSum ("Measuring Data Diversity for Instruction Tuning: A Systematic Analysis and A Reliable Metric",
https://arxiv.org/abs/2502.17184, code https://github.com/UmeanNever/NovelSum) scores a sample by a
proximity-weighted average of its distances to other samples (inverse-rank weights: the closest sample counts
most) with density-aware weights. Here the other samples are a *reference* set (what the environment has
already seen), restricted to the ``k`` nearest, and the weighted average is normalized so the score is in
[0, 1]. For a new point ``x`` and reference points ``r_1..r_m``::

    d(x, r)      = clip(1 - cos(x, r), 0, 1)                      cosine distance, "opposite" capped at 1
    r_(1..k)     = the k = min(k, m) reference points nearest to x, ranked by d(x, r) (j = 1 is the nearest)
    w_j          = 1 / j**alpha                                   rank (proximity) weight
    sigma(r)     = mean of d(r, r') over the k nearest OTHER reference points r'   (1.0 when m == 1)
    s_j          = sigma(r_(j))**beta                             density weight
    novelty(x)   = sum_j w_j s_j d(x, r_(j)) / sum_j w_j s_j      in [0, 1];  1.0 when m == 0

``sigma`` is the local sparsity of a reference point (the inverse of its local density), so with ``beta > 0``
the neighbours that sit in sparse regions of the reference weigh more, and a duplicate-heavy cluster of the
reference (sigma near 0) weighs little. A negative ``beta`` weights by density instead, ``s_j =
(1 / sigma)**|beta|``, which is the direction of the NovelSum reference code (its weight is
``1 / mean_kNN_distance**p``, multiplying distances to points in dense regions); sigma is floored at 1e-12
there. When every ``s_j`` of a point is 0 (all its neighbours are exact duplicates inside the reference) the
rank-weighted mean ``sum_j w_j d_j / sum_j w_j`` is used, the limit of equal density weights.

Other differences from the reference code, which scores a set against itself: it averages over all other
samples (not the ``k`` nearest; its ``k`` only sets the density neighbourhood), divides by the rank weights only
(so its density factor rescales the score, which is unbounded), and estimates density on a separate dense
reference corpus with squared L2 distances.

Embeddings are L2-normalized here (all-zero rows stay zero and are at distance 1 from everything), so any
non-zero row length is fine. Costs: :func:`novelsum_novelty` is ``O(n m d)`` time and ``O(chunk_size * m)``
memory; :func:`reference_sparsity` is ``O(m^2 d)``, which :class:`ReferenceMemory` pays at most once per
:meth:`~ReferenceMemory.add`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from streamsynth.config import check_int
from streamsynth.rewards.diversity import _as_2d, l2_normalize

__all__ = ["reference_sparsity", "novelsum_novelty", "ReferenceMemory"]

_SIGMA_FLOOR = 1e-12  # keeps sigma**beta finite when beta < 0 and a reference point has an exact duplicate


def _check_params(k: int, alpha: float, beta: float, chunk_size: int = 1) -> None:
    check_int("k", k)
    if not (np.isfinite(alpha) and alpha >= 0):
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")
    if not np.isfinite(beta):
        raise ValueError(f"beta must be a finite number, got {beta!r}")
    check_int("chunk_size", chunk_size)


def _work_dtype(*arrays: np.ndarray) -> np.dtype:
    """float64 if any input is float64, else float32 (half the memory traffic for the big matmul)."""
    return np.result_type(*(a.dtype for a in arrays), np.float32)


def _nearest(sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and distances of the ``k`` largest similarities of each row, nearest first.

    sims: (rows, m) cosine similarities; returns (rows, k) int indices and (rows, k) float64 distances.
    """
    m = sims.shape[1]
    if k < m:
        idx = np.argpartition(sims, m - k, axis=1)[:, m - k :]  # (rows, k), unordered
    else:
        idx = np.broadcast_to(np.arange(m), sims.shape)
    dist = np.clip(1.0 - np.take_along_axis(sims, idx, axis=1).astype(np.float64), 0.0, 1.0)
    order = np.argsort(dist, axis=1, kind="stable")
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(dist, order, axis=1)


def reference_sparsity(reference: np.ndarray, k: int = 10, *, chunk_size: int = 1024) -> np.ndarray:
    """Local sparsity ``sigma`` of each reference point: mean cosine distance to its ``k`` nearest other points.

    ``sigma(r_i) = (1 / k') * sum_{r in kNN(r_i)} clip(1 - cos(r_i, r), 0, 1)`` with ``k' = min(k, m - 1)``
    neighbours taken among the other rows (a row is never its own neighbour, but a duplicate row is). Values
    are in [0, 1]; ``[1.0]`` for a one-point reference and an empty array for an empty one. Cost ``O(m^2 d)``
    time, ``O(chunk_size * m)`` memory.

    >>> reference_sparsity(np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]]), k=1)
    array([0.4, 0.2, 0.2])
    """
    _check_params(k, 0.0, 0.0, chunk_size)
    ref = _as_2d(reference, "reference")
    m = ref.shape[0]
    if m == 0:
        return np.zeros(0, dtype=np.float64)
    if m == 1:
        return np.ones(1, dtype=np.float64)
    ref = l2_normalize(ref.astype(_work_dtype(ref), copy=False))
    k_eff = min(k, m - 1)
    sigma = np.empty(m, dtype=np.float64)
    for start in range(0, m, chunk_size):
        stop = min(start + chunk_size, m)
        sims = ref[start:stop] @ ref.T  # (rows, m)
        rows = np.arange(stop - start)
        sims[rows, start + rows] = -np.inf  # exclude each point itself
        _, dist = _nearest(sims, k_eff)
        sigma[start:stop] = dist.mean(axis=1)
    return sigma


def novelsum_novelty(
    emb: np.ndarray,
    reference: np.ndarray,
    k: int = 10,
    alpha: float = 1.0,
    beta: float = 0.5,
    *,
    reference_sigma: np.ndarray | None = None,
    chunk_size: int = 1024,
) -> np.ndarray:
    """NovelSum-style novelty of each row of ``emb`` against ``reference``, in [0, 1] (formula in the module doc).

    ``novelty(x) = sum_j w_j s_j d(x, r_(j)) / sum_j w_j s_j`` over the ``min(k, m)`` nearest reference points,
    with ``w_j = 1 / j**alpha``, ``s_j = sigma(r_(j))**beta`` and ``d`` the cosine distance clipped to [0, 1].

    Args:
        emb: ``(n, d)`` new points.
        reference: ``(m, d)`` reference points. Empty: every novelty is 1.0.
        k: number of nearest reference points (and of neighbours for ``sigma``).
        alpha: rank-weight exponent (>= 0; 0 weights the ``k`` neighbours equally).
        beta: density-weight exponent (0 turns density weighting off; < 0 weights by density, see module doc).
        reference_sigma: precomputed :func:`reference_sparsity` of ``reference`` with the same ``k``
            (saves ``O(m^2 d)``); computed here when ``None``.
        chunk_size: rows of ``emb`` scored at a time; memory is ``O(chunk_size * m)``.

    Returns:
        float64 array of shape ``(n,)``. Cost ``O(n m d)``.

    >>> ref = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> novelsum_novelty(np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]), ref, k=1)
    array([0., 0., 1.])
    """
    _check_params(k, alpha, beta, chunk_size)
    x = _as_2d(emb, "emb")
    ref = _as_2d(reference, "reference")
    n, m = x.shape[0], ref.shape[0]
    if m == 0:
        return np.ones(n, dtype=np.float64)
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    if ref.shape[1] != x.shape[1]:
        raise ValueError(f"emb has {x.shape[1]} columns but reference has {ref.shape[1]}")
    if reference_sigma is None:
        sigma = reference_sparsity(ref, k, chunk_size=chunk_size)
    else:
        sigma = np.asarray(reference_sigma, dtype=np.float64)
        if sigma.shape != (m,):
            raise ValueError(f"reference_sigma must have shape ({m},), got {sigma.shape}")
    if beta < 0:
        density_weight = np.maximum(sigma, _SIGMA_FLOOR) ** beta
    else:
        density_weight = sigma**beta  # 0**0 == 1: beta = 0 turns the density weight off
    dtype = _work_dtype(x, ref)
    x = l2_normalize(x.astype(dtype, copy=False))
    ref_t = l2_normalize(ref.astype(dtype, copy=False)).T  # (d, m)
    k_eff = min(k, m)
    rank_weight = 1.0 / np.arange(1, k_eff + 1, dtype=np.float64) ** alpha  # (k,)
    out = np.empty(n, dtype=np.float64)
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        idx, dist = _nearest(x[start:stop] @ ref_t, k_eff)  # (rows, k) each
        weight = rank_weight * density_weight[idx]  # (rows, k)
        num = np.sum(weight * dist, axis=1)
        den = np.sum(weight, axis=1)
        plain = dist @ rank_weight / rank_weight.sum()  # fallback when every density weight is 0
        safe_den = np.where(den > 0, den, 1.0)
        out[start:stop] = np.where(den > 0, num / safe_den, plain)
    return np.clip(out, 0.0, 1.0)


class ReferenceMemory:
    """The most recent ``capacity`` embeddings seen, to score the novelty of new ones.

    A plain, picklable object: the rows (float32, L2-normalized, oldest first) and their local sparsity
    ``sigma``, computed lazily on the first :meth:`novelty` call after an :meth:`add` (so ``O(m^2 d)`` at most
    once per add, never per :meth:`novelty` call). :meth:`state_dict` / :meth:`load_state_dict` round-trip it
    through plain numpy arrays and numbers for checkpoints.

    Args:
        dim: embedding width ``d``.
        capacity: maximum number of rows kept; older rows are evicted first.
        k, alpha, beta: parameters of :func:`novelsum_novelty`.

    >>> memory = ReferenceMemory(dim=2, capacity=2, k=1)
    >>> memory.novelty(np.array([[1.0, 0.0]]))
    array([1.])
    >>> memory.add(np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]))
    >>> len(memory)
    2
    >>> memory.novelty(np.array([[1.0, 0.0], [0.0, 1.0]]))
    array([1., 0.])
    """

    def __init__(self, dim: int, capacity: int = 4096, k: int = 10, alpha: float = 1.0, beta: float = 0.5) -> None:
        check_int("dim", dim)
        check_int("capacity", capacity)
        _check_params(k, alpha, beta)
        self.dim = int(dim)
        self.capacity = int(capacity)
        self.k = int(k)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self._emb = np.zeros((0, self.dim), dtype=np.float32)
        self._sigma: np.ndarray | None = None
        self.n_added = 0  # rows ever added, evicted ones included

    def __len__(self) -> int:
        return int(self._emb.shape[0])

    def __repr__(self) -> str:
        return (
            f"ReferenceMemory(dim={self.dim}, capacity={self.capacity}, k={self.k}, alpha={self.alpha}, "
            f"beta={self.beta}, size={len(self)})"
        )

    @property
    def embeddings(self) -> np.ndarray:
        """Read-only view of the stored rows, ``(len(self), dim)`` float32, oldest first."""
        view = self._emb.view()
        view.flags.writeable = False
        return view

    @property
    def sigma(self) -> np.ndarray:
        """Read-only local sparsity of each stored row (:func:`reference_sparsity`), computed when stale."""
        if self._sigma is None:
            self._sigma = reference_sparsity(self._emb, self.k)
        view = self._sigma.view()
        view.flags.writeable = False
        return view

    def add(self, emb: np.ndarray) -> None:
        """Append the rows of ``emb`` (``(n, dim)``), keeping only the most recent ``capacity`` rows."""
        rows = _as_2d(emb, "emb", dim=self.dim)
        if rows.shape[0] == 0:
            return
        self.n_added += int(rows.shape[0])
        rows = l2_normalize(rows[-self.capacity :].astype(np.float32))
        self._emb = np.concatenate([self._emb, rows])[-self.capacity :]
        self._sigma = None

    def novelty(self, emb: np.ndarray, *, chunk_size: int = 1024) -> np.ndarray:
        """:func:`novelsum_novelty` of each row of ``emb`` (``(n, dim)``) against the memory; shape ``(n,)``."""
        x = _as_2d(emb, "emb", dim=self.dim)
        if len(self) == 0:
            return np.ones(x.shape[0], dtype=np.float64)
        return novelsum_novelty(
            x.astype(np.float32, copy=False),
            self._emb,
            self.k,
            self.alpha,
            self.beta,
            reference_sigma=self.sigma,
            chunk_size=chunk_size,
        )

    def state_dict(self) -> dict[str, Any]:
        """Plain-data snapshot: ints, floats and numpy arrays only (``sigma`` is computed if stale)."""
        return {
            "dim": self.dim,
            "capacity": self.capacity,
            "k": self.k,
            "alpha": self.alpha,
            "beta": self.beta,
            "n_added": self.n_added,
            "embeddings": self._emb.copy(),
            "sigma": np.array(self.sigma, dtype=np.float64),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` output (settings and contents); a malformed state raises ``ValueError`` and
        leaves the memory as it was."""
        self.__dict__.update(self._from_state_dict(state).__dict__)

    @classmethod
    def _from_state_dict(cls, state: Mapping[str, Any]) -> ReferenceMemory:
        """A new memory from :meth:`state_dict` output."""
        missing = {"dim", "capacity", "k", "alpha", "beta", "n_added", "embeddings", "sigma"} - set(state)
        if missing:
            raise ValueError(f"state dict misses keys {sorted(missing)}; pass ReferenceMemory.state_dict() output")
        memory = cls(
            int(state["dim"]), int(state["capacity"]), int(state["k"]), float(state["alpha"]), float(state["beta"])
        )
        emb = np.asarray(state["embeddings"], dtype=np.float32)
        sigma = np.asarray(state["sigma"], dtype=np.float64)
        if emb.ndim != 2 or emb.shape[1] != memory.dim or emb.shape[0] > memory.capacity:
            raise ValueError(
                f"embeddings of shape {emb.shape} do not fit dim={memory.dim}, capacity={memory.capacity}"
            )
        if sigma.shape != (emb.shape[0],):
            raise ValueError(f"sigma of shape {sigma.shape} does not match {emb.shape[0]} embeddings")
        memory._emb = emb.copy()
        memory._sigma = sigma.copy()
        memory.n_added = int(state["n_added"])
        return memory
