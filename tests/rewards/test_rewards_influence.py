"""Per-sample utility credit (streamsynth.rewards.influence): first-order influence on the student's dev loss."""

from __future__ import annotations

import numpy as np
import pytest

from streamsynth.rewards.influence import influence_gains


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def dev_loss(W, b, X, y):
    return float(-np.log(softmax(X @ W.T + b)[np.arange(len(y)), y]).mean())


def test_gain_is_the_dev_loss_decrease_of_a_small_gradient_step():
    """The definition, checked by finite differences on a softmax regression: one SGD step of size eta on the
    candidate lowers the mean dev log-loss by eta * gain, to first order."""
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(3, 5)), rng.normal(size=3)
    X_dev, y_dev = rng.normal(size=(40, 5)), rng.integers(0, 3, 40)
    X, y = rng.normal(size=(6, 5)), rng.integers(0, 3, 6)
    gains = influence_gains(softmax(X_dev @ W.T + b), X_dev, y_dev, softmax(X @ W.T + b), X, y)
    eta = 1e-5
    for x, label, gain in zip(X, y, gains):
        r = softmax((x @ W.T + b)[None])[0] - np.eye(3)[label]
        after = dev_loss(W - eta * np.outer(r, x), b - eta * r, X_dev, y_dev)
        assert (dev_loss(W, b, X_dev, y_dev) - after) / eta == pytest.approx(gain, rel=1e-3, abs=1e-6)


def test_a_sample_that_fills_the_students_gap_earns_most():
    # dev: a well-learned class-0 point, a class-0 point the student gets wrong, a well-learned class-1 point
    X_dev = np.eye(3)
    y_dev = np.array([0, 0, 1])
    p_dev = np.array([[0.9, 0.1], [0.3, 0.7], [0.1, 0.9]])
    X = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 1.0, 0]])
    gains = influence_gains(p_dev, X_dev, y_dev, p_dev[[0, 1, 1]], X, np.array([0, 0, 1]))
    like_learned, fills_gap, wrong_label = gains
    assert fills_gap > like_learned > 0 > wrong_label


def test_shapes_and_empty_inputs():
    p, X, y = np.full((2, 2), 0.5), np.eye(2), np.array([0, 1])
    assert influence_gains(p, X, y, np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0, int)).shape == (0,)
    with pytest.raises(ValueError, match="shape mismatch"):
        influence_gains(p, X, y, p, np.eye(3)[:2], y)
    with pytest.raises(ValueError, match="dev split is empty"):
        influence_gains(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0, int), p, X, y)
