"""Continual-learning metrics over a task stream (Lopez-Paz & Ranzato, 2017, Gradient Episodic Memory).

``R`` is a T x T matrix: ``R[i, j]`` is the score (student test accuracy) of the data the agent synthesizes for
task j after it has finished tasks 0..i. ``b[j]`` is the score of the untrained agent on task j.

- ``ACC = mean_j R[T-1, j]``                         (the final agent over every task)
- ``BWT = mean_{j < T-1} (R[T-1, j] - R[j, j])``      (negative = forgetting)
- ``FWT = mean_{j > 0} (R[j-1, j] - b[j])``           (positive = earlier tasks help later ones)

For an agent that does not learn, every row of R is the same and BWT = FWT = 0.
"""

from __future__ import annotations

import numpy as np


def _check(R: np.ndarray) -> np.ndarray:
    R = np.asarray(R, dtype=float)
    if R.ndim != 2 or R.shape[0] != R.shape[1] or R.shape[0] == 0:
        raise ValueError(f"R must be a non-empty square matrix (tasks x tasks), got shape {R.shape}")
    if not np.isfinite(R).all():
        raise ValueError("R holds NaN or infinite values")
    return R


def acc(R: np.ndarray) -> float:
    """Mean of the last row.

    >>> acc([[0.5, 0.1], [0.4, 0.8]])
    0.6000000000000001
    """
    R = _check(R)
    return float(R[-1].mean())


def bwt(R: np.ndarray) -> float:
    """Backward transfer: mean over the first T-1 tasks of ``R[T-1, j] - R[j, j]``; 0 for a single task.

    >>> round(bwt([[0.5, 0.1], [0.4, 0.8]]), 6)
    -0.1
    """
    R = _check(R)
    T = R.shape[0]
    if T == 1:
        return 0.0
    return float(np.mean([R[T - 1, j] - R[j, j] for j in range(T - 1)]))


def fwt(R: np.ndarray, b: np.ndarray) -> float:
    """Forward transfer: mean over tasks 1..T-1 of ``R[j-1, j] - b[j]``; 0 for a single task.

    >>> round(fwt([[0.5, 0.3], [0.4, 0.8]], [0.5, 0.2]), 6)
    0.1
    """
    R = _check(R)
    b = np.asarray(b, dtype=float)
    if b.shape != (R.shape[0],):
        raise ValueError(f"b must hold one score per task ({R.shape[0]}), got shape {b.shape}")
    T = R.shape[0]
    if T == 1:
        return 0.0
    return float(np.mean([R[j - 1, j] - b[j] for j in range(1, T)]))


def constant_rows(scores: np.ndarray) -> np.ndarray:
    """The R matrix of an agent that does not learn: every row is its per-task scores.

    >>> constant_rows([0.7, 0.9]).tolist()
    [[0.7, 0.9], [0.7, 0.9]]
    """
    scores = np.asarray(scores, dtype=float)
    return np.tile(scores, (len(scores), 1))
