"""Picking a first dataset from a candidate pool that is both high-quality and diverse (the DAI step).

* :func:`label_consistency` scores each candidate by how clearly its embedding belongs to its own label, using the
  seed examples' label centroids (a cheap quality proxy in ``[0, 1]``);
* :func:`greedy_select` runs greedy max-marginal-relevance selection under per-label quotas, trading that quality
  against novelty (cosine distance to what is already selected and to a reference set, e.g. earlier tasks' data);
* :func:`top_per_label` picks the best scores of each label (no novelty term);
* :func:`placed` and :func:`seed_agreement` apply them to SynLearner's candidate rows (dicts with ``sample`` and
  ``label``); with the env's draft scores (``dai_drafts``) the quality is the env's instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from streamsynth.config import check_int
from streamsynth.synthesis.prompting import format_fields
from streamsynth.tasks.spec import LABEL_KEY


def _matrix(name: str, value: np.ndarray, *, dim: int | None = None) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < 1:
        raise ValueError(f"{name} must be a 2-D array (rows, dim >= 1), got shape {arr.shape}")
    if dim is not None and arr.shape[1] != dim:
        raise ValueError(f"{name} has dimension {arr.shape[1]}, expected {dim}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite (found NaN or inf)")
    return arr


def _unit_rows(name: str, arr: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError(f"{name} has an all-zero row (row {int(np.flatnonzero(norms[:, 0] == 0)[0])}); "
                         "cosine similarity is undefined for it")
    return arr / norms


def _labels(name: str, labels: Sequence[int], n: int, n_labels: int | None = None) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.shape != (n,):
        raise ValueError(f"{name} must hold one label per row ({n}), got shape {arr.shape}")
    if n and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be ints, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if n_labels is not None and n and (arr.min() < 0 or arr.max() >= n_labels):
        raise ValueError(f"{name} must be in [0, {n_labels}), got values in [{arr.min()}, {arr.max()}]")
    return arr


def label_consistency(vectors: np.ndarray, labels: Sequence[int], seed_vectors: np.ndarray,
                      seed_labels: Sequence[int], n_labels: int, temperature: float = 0.05) -> np.ndarray:
    """Probability of each candidate's own label under ``softmax_k(cos(x, c_k) / temperature)``.

    ``c_k`` is the mean of label ``k``'s seed vectors, renormalised to unit length. Rows of ``vectors`` and
    ``seed_vectors`` are normalised first (a no-op for unit-norm embeddings). Every label in ``range(n_labels)``
    needs at least one seed example.

    >>> seeds = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> label_consistency(np.array([[0.6, 0.8], [0.6, 0.8]]), [0, 1], seeds, [0, 1], 2, temperature=0.1).round(6)
    array([0.119203, 0.880797])
    """
    check_int("n_labels", n_labels)
    if not temperature > 0 or not np.isfinite(temperature):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    seeds = _matrix("seed_vectors", seed_vectors)
    dim = seeds.shape[1]
    cands = _matrix("vectors", vectors, dim=dim)
    cand_labels = _labels("labels", labels, len(cands), n_labels)
    seed_lab = _labels("seed_labels", seed_labels, len(seeds), n_labels)
    missing = sorted(set(range(n_labels)) - set(seed_lab.tolist()))
    if missing:
        raise ValueError(f"seed_labels has no example of label(s) {missing}; every label needs a seed centroid")
    if len(cands) == 0:
        return np.zeros(0, dtype=np.float64)
    seeds = _unit_rows("seed_vectors", seeds)
    centroids = np.stack([seeds[seed_lab == k].mean(axis=0) for k in range(n_labels)])
    centroids = _unit_rows("label centroids (seed examples of one label cancel out)", centroids)
    logits = _unit_rows("vectors", cands) @ centroids.T / temperature
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    return probs[np.arange(len(cands)), cand_labels]


def greedy_select(quality: np.ndarray, vectors: np.ndarray, labels: Sequence[int], quota: Mapping[int, int], *,
                  reference: np.ndarray | None = None, weight: float = 0.5, gate: bool = False) -> list[int]:
    """Greedy max-marginal-relevance selection under per-label quotas; returns candidate indices in pick order.

    Each step picks, among unpicked candidates whose label still has quota left, the one maximising
    ``weight * quality + (1 - weight) * (1 - max cosine similarity to the picked ones and to reference)``
    (the novelty term is 1 while nothing is picked and the reference is empty); ties go to the lower index.
    It stops when every quota is met or no eligible candidate is left. Labels absent from ``quota`` get none.
    With ``gate`` the novelty term counts in proportion to the quality (which must then lie in [0, 1]):
    ``weight * quality + (1 - weight) * quality * novelty``, so a candidate of quality 0 earns nothing however new
    it is (as in the env's per-sample score and SynLearner's ``label_gate`` reward).

    >>> v = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    >>> greedy_select(np.array([0.9, 0.8, 0.3]), v, [0, 0, 0], {0: 2})
    [0, 2]
    >>> greedy_select(np.array([0.9, 0.8, 0.3]), v, [0, 0, 0], {0: 2}, weight=1.0)
    [0, 1]
    >>> greedy_select(np.array([0.9, 0.7, 0.0]), v, [0, 0, 0], {0: 2}), greedy_select(
    ...     np.array([0.9, 0.7, 0.0]), v, [0, 0, 0], {0: 2}, gate=True)
    ([0, 2], [0, 1])
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight!r}")
    cands = _matrix("vectors", vectors)
    n, dim = cands.shape
    q = np.asarray(quality, dtype=np.float64)
    if q.shape != (n,):
        raise ValueError(f"quality must hold one value per row of vectors ({n}), got shape {q.shape}")
    if not np.isfinite(q).all():
        raise ValueError("quality must be finite (found NaN or inf)")
    if gate and not ((q >= 0) & (q <= 1)).all():
        raise ValueError("with gate, quality must lie in [0, 1] (novelty counts in proportion to it)")
    lab = _labels("labels", labels, n)
    left: dict[int, int] = {}
    for key, count in quota.items():
        left[int(key)] = check_int(f"quota[{key!r}]", count, 0)
    unit = _unit_rows("vectors", cands) if n else cands
    max_sim = np.full(n, -np.inf)
    if reference is not None:
        ref = np.asarray(reference, dtype=np.float64)
        if ref.ndim != 2:
            raise ValueError(f"reference must be a 2-D array, got shape {ref.shape}")
        if len(ref):
            ref = _unit_rows("reference", _matrix("reference", ref, dim=dim))
            for start in range(0, len(ref), 4096):  # bounded memory for large references
                max_sim = np.maximum(max_sim, (unit @ ref[start:start + 4096].T).max(axis=1))
    eligible = np.array([left.get(int(k), 0) > 0 for k in lab], dtype=bool)
    picked: list[int] = []
    while any(v > 0 for v in left.values()) and eligible.any():
        novelty = np.where(np.isneginf(max_sim), 1.0, 1.0 - max_sim)
        score = np.where(eligible, weight * q + (1.0 - weight) * (q * novelty if gate else novelty), -np.inf)
        best = int(np.argmax(score))  # first maximum: ties go to the lower index
        picked.append(best)
        eligible[best] = False
        label = int(lab[best])
        left[label] -= 1
        if left[label] == 0:
            eligible &= lab != label
        max_sim = np.maximum(max_sim, unit @ unit[best])
    return picked


def top_per_label(scores: Sequence[float], labels: Sequence[Any], quota: Mapping[Any, int]) -> list[int]:
    """Indices of the ``quota[label]`` highest ``scores`` of each label (ties to the lower index), ascending; labels
    absent from ``quota`` get none. The pick of best-of-n and of SynLearner's ``dai_select=score``.

    >>> top_per_label([0.2, 0.9, 0.5, 0.7], ["x", "x", "y", "x"], {"x": 2, "y": 0})
    [1, 3]
    """
    if len(scores) != len(labels):
        raise ValueError(f"{len(scores)} scores for {len(labels)} labels")
    by_label: dict[Any, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    chosen: list[int] = []
    for label, idx in by_label.items():
        idx.sort(key=lambda i: (-float(scores[i]), i))
        chosen.extend(idx[: max(0, int(quota.get(label, 0)))])
    return sorted(chosen)


def placed(embedder: Any, observation: Mapping[str, Any], rows: list[dict[str, Any]]
           ) -> tuple[list[dict[str, Any]], np.ndarray]:
    """The rows whose ``sample`` the embedder can place, with their vectors (a text with no features, under the
    hashing embedder, has none and no cosine)."""
    if not rows:
        return [], np.zeros((0, 1))
    fields = list(observation["fields"])
    vectors = embedder.encode([format_fields(r["sample"], fields) for r in rows])
    keep = np.linalg.norm(vectors, axis=1) > 0
    return [r for r, k in zip(rows, keep) if k], vectors[keep]


def seed_agreement(embedder: Any, observation: Mapping[str, Any], rows: list[dict[str, Any]], vectors: np.ndarray
                   ) -> np.ndarray:
    """Quality without the env: :func:`label_consistency` of each row (its ``label``, its vector) with the
    observation's seed examples; 0.5 for all when a label has no placeable seed example."""
    names = list(observation["labels"])
    seeds = list(observation["seed_examples"])
    fields = list(observation["fields"])
    seed_vectors = embedder.encode([format_fields(s, fields) for s in seeds]) if seeds else np.zeros((0, 1))
    ok = np.linalg.norm(seed_vectors, axis=1) > 0
    seed_ids = [names.index(s[LABEL_KEY]) for s, k in zip(seeds, ok) if k]
    if not set(seed_ids) >= set(range(len(names))):
        return np.full(len(rows), 0.5)
    return label_consistency(vectors, [names.index(r["label"]) for r in rows], seed_vectors[ok], seed_ids,
                             len(names))
