"""Per-sample utility credit: how much one sample would help the env's student, to first order.

The set utility (dev macro-F1 of the student trained on the accepted set) is one number per set, so it cannot
tell a learner which of its samples helped. Refitting the student once per candidate (leave-one-in) would, but
costs one fit per sample. This module gives the first-order estimate instead, the gradient-alignment influence
of TracIn (Pruthi et al., 2020) with a single checkpoint: the student (multinomial logistic regression on the
classifier features, trained on the accepted set) takes one gradient step on the candidate ``(x, y)``, and the
gain is how much that step lowers the student's mean log-loss on the env-private dev split::

    G = mean_d (p_d - e_{y_d}) x_d^T,   g = mean_d (p_d - e_{y_d})        (dev gradient: weights, intercept)
    gain(x, y) = (p_x - e_y) . (G x + g)                                  (= -dL_dev / d step, step size 1)

Positive: the sample pulls the student towards the dev split's real labels; negative: away from them (an
off-label or off-domain sample). The gains of a step's samples are comparable with each other (one student, one
dev split), which is what a policy-gradient learner needs; their absolute scale is arbitrary.
"""

from __future__ import annotations

import numpy as np


def influence_gains(dev_proba: np.ndarray, dev_features: np.ndarray, dev_labels: np.ndarray,
                    proba: np.ndarray, features: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """First-order dev log-loss decrease of a gradient step on each candidate (see the module docstring).

    ``dev_proba`` / ``proba``: the student's class probabilities ``(n, C)`` of the dev rows / the candidates;
    ``*_features``: ``(n, F)``; ``*_labels``: label indices ``(n,)``.

    A candidate like the dev rows of its label gains, the same text under the other label loses:

    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]]); y = np.array([0, 1]); p = np.full((2, 2), 0.5)
    >>> influence_gains(p, X, y, p, X, y).tolist(), influence_gains(p, X, y, p, X, 1 - y).tolist()
    ([0.25, 0.25], [-0.25, -0.25])
    """
    dev_proba, dev_features = np.asarray(dev_proba, float), np.asarray(dev_features, float)
    proba, features = np.asarray(proba, float), np.asarray(features, float)
    n_classes = dev_proba.shape[1]
    if (proba.shape[1] != n_classes or len(dev_proba) != len(dev_features) or len(proba) != len(features)
            or len(dev_labels) != len(dev_features) or len(labels) != len(features)
            or dev_features.shape[1] != features.shape[1]):
        raise ValueError(f"shape mismatch: dev proba {dev_proba.shape}, features {dev_features.shape}, labels "
                         f"{np.shape(dev_labels)}; candidates proba {proba.shape}, features {features.shape}, "
                         f"labels {np.shape(labels)}")
    if len(features) == 0:
        return np.zeros(0)
    if len(dev_features) == 0:
        raise ValueError("the dev split is empty: no influence can be measured")
    dev_residual = dev_proba - np.eye(n_classes)[np.asarray(dev_labels, int)]
    grad_w = dev_residual.T @ dev_features / len(dev_features)  # (C, F)
    grad_b = dev_residual.mean(axis=0)  # (C,)
    residual = proba - np.eye(n_classes)[np.asarray(labels, int)]
    return np.sum(residual * (features @ grad_w.T + grad_b), axis=1)
