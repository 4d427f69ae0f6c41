"""Turning samples into vectors: one embedding per sample (for diversity) and classifier features (judge, student)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from streamsynth.rewards.diversity import l2_normalize
from streamsynth.rewards.embeddings import Embedder


def field_embeddings(samples: Sequence[Mapping[str, str]], fields: Sequence[str],
                     embedder: Embedder) -> list[np.ndarray]:
    """One (n, dim) embedding matrix per field, in ``fields`` order."""
    return [embedder.encode([s[f] for s in samples]) for f in fields]


def sample_vectors(per_field: list[np.ndarray]) -> np.ndarray:
    """The embedding of each sample used for diversity and novelty: the sum of its field embeddings,
    L2-normalised, so every task of a stream shares one vector space whatever its number of fields.

    >>> sample_vectors([np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])]).round(4).tolist()
    [[0.7071, 0.7071]]
    """
    if len(per_field) == 1:
        return per_field[0]
    return l2_normalize(np.sum(per_field, axis=0)).astype(np.float32)


def classifier_features(per_field: list[np.ndarray]) -> np.ndarray:
    """Features of the judge and the student.

    One field: its embedding. Two fields (premise/hypothesis style): ``[u, v, |u - v|, u * v]`` (Conneau et al.
    2017), so a linear model can see how the two texts relate. More fields: the embeddings concatenated.

    >>> classifier_features([np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])]).tolist()
    [[1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0]]
    """
    if len(per_field) == 1:
        return per_field[0]
    if len(per_field) == 2:
        u, v = per_field
        return np.concatenate([u, v, np.abs(u - v), u * v], axis=1).astype(np.float32)
    return np.concatenate(per_field, axis=1).astype(np.float32)
