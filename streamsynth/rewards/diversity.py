"""Semantic diversity and label balance of a generated set: pure numpy functions.

All scores are set-level (one number per set) and cost O(n) in the number of samples ``n``: no function here
builds an ``n x n`` matrix when ``n`` exceeds the embedding width ``d``.

Embeddings are float arrays of shape ``(n, d)``. Every function that uses cosine similarity L2-normalizes the
rows itself (with :func:`l2_normalize`, in which an all-zero row stays zero), so rows of any non-zero length
are fine; an all-zero row (e.g. the embedding of an empty text) contributes nothing to the kernel.

Degenerate inputs (no sample, one sample, all samples identical, one label only) always give a defined value,
never NaN and never an exception; each docstring says which.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence

import numpy as np

__all__ = [
    "l2_normalize",
    "vendi_score",
    "normalized_vendi",
    "per_label_vendi",
    "semantic_diversity",
    "label_balance",
]

# Eigenvalues (after normalization to sum 1) below this are numerical noise of a rank-deficient kernel.
_EIGEN_TOL = 1e-12


def _as_2d(x: np.ndarray, name: str = "emb", dim: int | None = None) -> np.ndarray:
    """``x`` as a finite 2-D float array (with ``dim`` columns when given; an empty 1-D array is an empty set);
    raise ``ValueError`` otherwise."""
    arr = np.asarray(x)
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, 0 if dim is None else dim)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (n, d), got shape {arr.shape}")
    if dim is not None and arr.shape[1] != dim:
        raise ValueError(f"{name} has {arr.shape[1]} columns, expected {dim}")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Scale each row of ``x`` to unit L2 norm; all-zero rows stay zero.

    ``out[i] = x[i] / ||x[i]||_2`` when ``||x[i]||_2 > 0`` and ``out[i] = 0`` otherwise. Floating inputs keep
    their dtype; other inputs become float64. A 1-D input is treated as a single row and returned 1-D.

    >>> l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    array([[0.6, 0.8],
           [0. , 0. ]])
    """
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    norms = np.linalg.norm(arr, axis=-1, keepdims=True)
    safe = np.where(norms > 0, norms, 1).astype(arr.dtype, copy=False)
    return arr / safe


def vendi_score(emb: np.ndarray) -> float:
    """Vendi score of a set of embeddings with the cosine kernel (Friedman & Dieng, TMLR 2023).

    With ``X`` the row-normalized ``(n, d)`` embeddings and the kernel ``K = X X^T / n``, the score is the
    exponential of the Shannon entropy of the eigenvalues of ``K``::

        VS = exp(-sum_i p_i log p_i),   p_i = lambda_i / sum_j lambda_j,   over lambda_i > 0

    The non-zero eigenvalues of ``X X^T / n`` equal those of the ``d x d`` matrix ``X^T X / n``, which is what
    is decomposed when ``n > d``; the cost is ``O(n d^2 + d^3)``, linear in ``n``. Tiny negative eigenvalues
    (round-off) are clipped to 0 and the rest renormalized to sum to 1.

    ``VS`` is the effective number of distinct samples: ``1 <= VS <= min(n, d)``. Values: 0.0 for an empty set,
    1.0 for one sample, for identical samples, or when every row is zero; ``k`` for ``k`` orthonormal rows.

    >>> vendi_score(np.eye(3))
    3.0
    >>> vendi_score(np.ones((5, 4)))
    1.0
    """
    x = _as_2d(emb)
    n, d = x.shape
    if n == 0:
        return 0.0
    x = l2_normalize(x.astype(np.float64, copy=False))
    # Same non-zero spectrum either way; decompose the smaller of the two Gram matrices.
    gram = x @ x.T if n <= d else x.T @ x
    eig = np.clip(np.linalg.eigvalsh(gram / n), 0.0, None)
    total = float(eig.sum())
    if not total > 0.0:  # every row is zero: all samples identical
        return 1.0
    p = eig / total
    p = p[p > _EIGEN_TOL]
    entropy = float(-np.sum(p * np.log(p)))
    return float(math.exp(max(entropy, 0.0)))


def normalized_vendi(emb: np.ndarray) -> float:
    """Vendi score mapped to [0, 1]: ``log(VS) / log(n)`` for ``n >= 2`` samples, 0.0 for ``n < 2``.

    0 when all samples are identical, 1 when the ``n`` samples are mutually orthogonal. Since ``VS <= d``,
    a set with more samples than embedding dimensions cannot reach 1: its ceiling is ``log(d) / log(n)``.

    >>> normalized_vendi(np.eye(4))
    1.0
    >>> normalized_vendi(np.array([[1.0, 0.0], [1.0, 0.0]]))
    0.0
    """
    x = _as_2d(emb)
    n = x.shape[0]
    if n < 2:
        return 0.0
    value = math.log(vendi_score(x)) / math.log(n)
    return float(min(max(value, 0.0), 1.0))


def _group_rows(labels: Sequence[Hashable], n: int) -> dict[Hashable, np.ndarray]:
    """Map each label (in order of first appearance) to the indices of its rows."""
    labels = list(labels)
    if len(labels) != n:
        raise ValueError(f"got {n} embeddings but {len(labels)} labels; they must match one to one")
    groups: dict[Hashable, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(label, []).append(i)
    return {label: np.asarray(idx, dtype=np.intp) for label, idx in groups.items()}


def per_label_vendi(emb: np.ndarray, labels: Sequence[str]) -> dict[str, float]:
    """:func:`normalized_vendi` of each label's rows, keyed by label in order of first appearance.

    ``out[c] = normalized_vendi(emb[labels == c])`` for every label ``c`` present in ``labels``; a label with
    fewer than 2 samples scores 0.0. Total cost is linear in ``n`` (each row is in one group). Raises
    ``ValueError`` when ``len(labels) != len(emb)``.

    >>> emb = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    >>> per_label_vendi(emb, ["pos", "pos", "neg", "neg"])
    {'pos': 1.0, 'neg': 0.0}
    """
    x = _as_2d(emb)
    return {label: normalized_vendi(x[idx]) for label, idx in _group_rows(labels, x.shape[0]).items()}


def semantic_diversity(emb: np.ndarray, labels: Sequence[str]) -> float:
    """Mean over the labels present of the per-label normalized Vendi score, in [0, 1].

    ``semantic_diversity = (1 / |C|) * sum_{c in C} normalized_vendi(emb[labels == c])`` where ``C`` is the set
    of labels present. Labels with fewer than 2 samples contribute 0 and still count in ``|C|``, so a set that
    spreads one sample per label scores 0. Returns 0.0 for an empty set.

    >>> emb = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    >>> semantic_diversity(emb, ["pos", "pos", "neg", "neg"])
    0.5
    """
    scores = per_label_vendi(emb, labels)
    if not scores:
        return 0.0
    return float(sum(scores.values()) / len(scores))


def label_balance(labels: Sequence[str], label_set: Sequence[str]) -> float:
    """Normalized Shannon entropy of the label counts over the full label set, in [0, 1].

    With ``p_c = count(c) / n`` for every ``c`` in the ``K`` distinct entries of ``label_set`` (absent labels
    have ``p_c = 0`` and ``0 log 0 = 0``)::

        label_balance = -sum_c p_c log p_c / log K

    1 when every label of the set has the same count, 0 when one label has every sample. Returns 0.0 for an
    empty ``labels``; 1.0 when ``K == 1`` and ``labels`` is non-empty (one possible label is trivially
    balanced). Raises ``ValueError`` for a label that is not in ``label_set``.

    >>> label_balance(["a", "b", "a", "b"], ["a", "b"])
    1.0
    >>> label_balance(["a", "a"], ["a", "b", "c"])
    0.0
    >>> round(label_balance(["a", "b"], ["a", "b", "c", "d"]), 6)
    0.5
    """
    classes = list(dict.fromkeys(label_set))
    known = set(classes)
    counts = Counter(labels)
    unknown = [label for label in counts if label not in known]
    if unknown:
        raise ValueError(f"labels {sorted(map(str, unknown))} are not in the label set {classes}")
    n = sum(counts.values())
    if n == 0:
        return 0.0
    if len(classes) == 1:
        return 1.0
    p = np.array([c / n for c in counts.values() if c > 0], dtype=np.float64)
    entropy = float(-np.sum(p * np.log(p)))
    return float(min(max(entropy / math.log(len(classes)), 0.0), 1.0))
