"""Exact-value tests of the semantic diversity and label balance rewards on tiny hand-made inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from streamsynth.rewards.diversity import (
    l2_normalize,
    label_balance,
    normalized_vendi,
    per_label_vendi,
    semantic_diversity,
    vendi_score,
)

TOL = 1e-10


def entropy(*p: float) -> float:
    return -sum(x * math.log(x) for x in p if x > 0)


def brute_force_vendi(x: np.ndarray) -> float:
    """Vendi score from the n x n cosine kernel, straight from the definition (reference for the d x d path)."""
    x = l2_normalize(x.astype(np.float64))
    eig = np.clip(np.linalg.eigvalsh(x @ x.T / len(x)), 0, None)
    p = eig / eig.sum()
    p = p[p > 1e-12]
    return float(np.exp(-np.sum(p * np.log(p))))


# --- l2_normalize -----------------------------------------------------------------------------------------------


def test_l2_normalize_rows_and_zero_rows():
    out = l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0], [0.0, -2.0]]))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0], [0.0, -1.0]], atol=TOL)
    assert np.isfinite(out).all()


def test_l2_normalize_keeps_float_dtype_and_converts_ints():
    assert l2_normalize(np.ones((2, 3), dtype=np.float32)).dtype == np.float32
    out = l2_normalize(np.array([[1, 1]]))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, [[1 / math.sqrt(2), 1 / math.sqrt(2)]], atol=TOL)


def test_l2_normalize_one_dimensional_input():
    np.testing.assert_allclose(l2_normalize(np.array([0.0, 5.0])), [0.0, 1.0], atol=TOL)


# --- vendi_score ------------------------------------------------------------------------------------------------


def test_vendi_empty_set_is_zero():
    assert vendi_score(np.zeros((0, 4))) == 0.0


def test_vendi_one_sample_is_one():
    assert vendi_score(np.array([[0.3, -0.2, 0.9]])) == pytest.approx(1.0, abs=TOL)


@pytest.mark.parametrize("n", [2, 5, 40])
def test_vendi_identical_samples_is_one(n):
    x = np.tile([[1.0, 2.0, -2.0]], (n, 1))
    assert vendi_score(x) == pytest.approx(1.0, abs=TOL)


def test_vendi_parallel_rows_of_different_length_count_as_identical():
    assert vendi_score(np.array([[1.0, 2.0], [2.0, 4.0], [0.5, 1.0]])) == pytest.approx(1.0, abs=TOL)


def test_vendi_all_zero_rows_is_one():
    assert vendi_score(np.zeros((3, 4))) == 1.0


@pytest.mark.parametrize("k", [1, 2, 3, 5, 8])
def test_vendi_k_orthonormal_rows_is_k(k):
    assert vendi_score(np.eye(8)[:k]) == pytest.approx(k, abs=TOL)


def test_vendi_rotated_orthonormal_basis_is_its_size():
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(6, 6)))
    assert vendi_score(q[:4]) == pytest.approx(4.0, abs=1e-9)


def test_vendi_two_vectors_at_cosine_point_six():
    # K = [[1, .6], [.6, 1]] / 2 has eigenvalues 0.8 and 0.2.
    x = np.array([[1.0, 0.0], [0.6, 0.8]])
    assert vendi_score(x) == pytest.approx(math.exp(entropy(0.8, 0.2)), abs=TOL)
    assert vendi_score(x) == pytest.approx(1.6493848884661, abs=1e-9)


def test_vendi_duplicate_counts_as_weight():
    # X^T X / 3 = diag(2/3, 1/3).
    x = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert vendi_score(x) == pytest.approx(math.exp(entropy(2 / 3, 1 / 3)), abs=TOL)


def test_vendi_zero_row_adds_nothing():
    x = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    assert vendi_score(x) == pytest.approx(2.0, abs=TOL)


@pytest.mark.parametrize("n, d", [(5, 8), (8, 8), (50, 8), (200, 3)])
def test_vendi_matches_the_n_by_n_kernel(n, d):
    x = np.random.default_rng(n * d).normal(size=(n, d))
    assert vendi_score(x) == pytest.approx(brute_force_vendi(x), abs=1e-9)


def test_vendi_is_scale_invariant_and_order_invariant():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 5))
    scales = rng.uniform(0.1, 10, size=(30, 1))
    assert vendi_score(x * scales) == pytest.approx(vendi_score(x), abs=1e-9)
    assert vendi_score(x[::-1]) == pytest.approx(vendi_score(x), abs=1e-9)


def test_vendi_float32_input():
    assert vendi_score(np.eye(4, dtype=np.float32)) == pytest.approx(4.0, abs=1e-6)


def test_vendi_rejects_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        vendi_score(np.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        vendi_score(np.array([[1.0, np.nan]]))


# --- normalized_vendi -------------------------------------------------------------------------------------------


def test_normalized_vendi_fewer_than_two_samples_is_zero():
    assert normalized_vendi(np.zeros((0, 3))) == 0.0
    assert normalized_vendi(np.array([[1.0, 0.0]])) == 0.0


def test_normalized_vendi_identical_is_zero_and_orthogonal_is_one():
    assert normalized_vendi(np.tile([[0.2, 0.4]], (7, 1))) == pytest.approx(0.0, abs=TOL)
    assert normalized_vendi(np.eye(5)) == pytest.approx(1.0, abs=TOL)
    assert normalized_vendi(np.eye(5)[:2]) == pytest.approx(1.0, abs=TOL)


def test_normalized_vendi_hand_computed():
    x = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert normalized_vendi(x) == pytest.approx(entropy(2 / 3, 1 / 3) / math.log(3), abs=TOL)


def test_normalized_vendi_more_samples_than_dimensions_is_capped_by_d():
    # Rows e1, e2, e1, e2: VS = 2 = d, so the score is log 2 / log 4.
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    assert normalized_vendi(x) == pytest.approx(0.5, abs=TOL)


def test_normalized_vendi_in_unit_interval_on_random_sets():
    rng = np.random.default_rng(2)
    for n in (2, 3, 10, 100):
        value = normalized_vendi(rng.normal(size=(n, 6)))
        assert 0.0 <= value <= 1.0


# --- per_label_vendi and semantic_diversity ---------------------------------------------------------------------

E = np.eye(3)


def test_per_label_vendi_values_and_first_appearance_order():
    emb = np.stack([E[0], E[0], E[1], E[0], E[2], E[1]])
    labels = ["b", "a", "a", "b", "c", "c"]
    out = per_label_vendi(emb, labels)
    assert list(out) == ["b", "a", "c"]
    assert out["b"] == pytest.approx(0.0, abs=TOL)  # two copies of e1
    assert out["a"] == pytest.approx(1.0, abs=TOL)  # e1, e2
    assert out["c"] == pytest.approx(1.0, abs=TOL)  # e3, e2


def test_per_label_vendi_single_sample_label_scores_zero():
    out = per_label_vendi(np.stack([E[0], E[1], E[2]]), ["x", "x", "y"])
    assert out == {"x": pytest.approx(1.0, abs=TOL), "y": 0.0}


def test_per_label_vendi_empty_and_length_mismatch():
    assert per_label_vendi(np.zeros((0, 3)), []) == {}
    with pytest.raises(ValueError, match="labels"):
        per_label_vendi(np.eye(3), ["a", "b"])


def test_semantic_diversity_is_mean_over_labels_present():
    emb = np.stack([E[0], E[1], E[0], E[0], E[2]])
    # pos: e1, e2 -> 1; neg: e1, e1 -> 0; neu: one sample -> 0 (counted).
    assert semantic_diversity(emb, ["pos", "pos", "neg", "neg", "neu"]) == pytest.approx(1 / 3, abs=TOL)


def test_semantic_diversity_hand_computed_mixed():
    emb = np.stack([E[0], E[0], E[1], E[2], E[2], E[2]])
    expected = (entropy(2 / 3, 1 / 3) / math.log(3) + 0.0) / 2
    assert semantic_diversity(emb, ["a", "a", "a", "b", "b", "b"]) == pytest.approx(expected, abs=TOL)


def test_semantic_diversity_degenerate_sets():
    assert semantic_diversity(np.zeros((0, 4)), []) == 0.0
    assert semantic_diversity(np.array([]), []) == 0.0
    assert vendi_score(np.array([])) == 0.0
    assert semantic_diversity(np.eye(3), ["a", "b", "c"]) == 0.0  # every label a singleton
    assert semantic_diversity(np.tile(E[0], (4, 1)), ["a"] * 4) == pytest.approx(0.0, abs=TOL)
    assert semantic_diversity(np.eye(3), ["a"] * 3) == pytest.approx(1.0, abs=TOL)  # one label only


def test_semantic_diversity_accepts_integer_labels():
    assert semantic_diversity(np.eye(4), [0, 0, 1, 1]) == pytest.approx(1.0, abs=TOL)


# --- label_balance ----------------------------------------------------------------------------------------------


def test_label_balance_uniform_is_one_and_single_label_is_zero():
    assert label_balance(["a", "b", "c"] * 3, ["a", "b", "c"]) == pytest.approx(1.0, abs=TOL)
    assert label_balance(["b"] * 5, ["a", "b", "c"]) == 0.0


def test_label_balance_counts_absent_labels():
    # Two of four labels, equally used: H = log 2, normalized by log 4.
    assert label_balance(["a", "b"], ["a", "b", "c", "d"]) == pytest.approx(0.5, abs=TOL)


def test_label_balance_hand_computed_two_to_one():
    expected = entropy(2 / 3, 1 / 3) / math.log(2)
    assert label_balance(["a", "a", "b"], ["a", "b"]) == pytest.approx(expected, abs=TOL)
    assert label_balance(["a", "a", "b"], ["a", "b"]) == pytest.approx(0.9182958340544896, abs=TOL)


def test_label_balance_degenerate_inputs():
    assert label_balance([], ["a", "b"]) == 0.0
    assert label_balance([], []) == 0.0
    assert label_balance(["a", "a"], ["a"]) == 1.0
    assert label_balance(["a", "b"], ["a", "b", "a"]) == pytest.approx(1.0, abs=TOL)  # duplicates ignored


def test_label_balance_rejects_unknown_label():
    with pytest.raises(ValueError, match="not in the label set"):
        label_balance(["a", "z"], ["a", "b"])
    with pytest.raises(ValueError):
        label_balance(["a"], [])
