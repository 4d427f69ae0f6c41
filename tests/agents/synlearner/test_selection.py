"""Exact-value tests of synlearner's DAI selection: label-consistency quality and greedy MMR under quotas,
on hand-made 2-D embeddings whose cosines are exact (0, 0.6, 0.8, 1)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from streamsynth.agents.synlearner.selection import greedy_select, label_consistency

TOL = 1e-12


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


# Seeds: label 0 = (0.8, 0.6) and (0.8, -0.6), whose mean (0.8, 0) renormalises to (1, 0); label 1 = (0, 1).
SEEDS = np.array([[0.8, 0.6], [0.8, -0.6], [0.0, 1.0]])
SEED_LABELS = [0, 0, 1]


# --- label_consistency -------------------------------------------------------------------------------------------


def test_label_consistency_exact_two_labels():
    vectors = np.array([[0.6, 0.8], [1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    labels = [0, 1, 0, 1]
    # cosines to the centroids (1, 0) and (0, 1): (0.6, 0.8), (1, 0), (0.8, 0.6), (0, 1)
    got = label_consistency(vectors, labels, SEEDS, SEED_LABELS, 2, temperature=0.1)
    np.testing.assert_allclose(got, [_sigmoid(-2.0), _sigmoid(-10.0), _sigmoid(2.0), _sigmoid(10.0)], rtol=TOL)
    np.testing.assert_allclose(got[:2], [0.11920292202211755, 4.5397868702434395e-05], rtol=1e-9)
    # default temperature 0.05
    np.testing.assert_allclose(label_consistency(vectors[2:3], [0], SEEDS, SEED_LABELS, 2),
                               [0.9820137900379085], rtol=1e-9)


def test_label_consistency_three_labels_and_non_unit_inputs():
    seeds = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    got = label_consistency(np.array([[3.0, 4.0], [0.6, 0.8]]), [1, 2], seeds, [0, 1, 2], 3, temperature=1.0)
    denom = math.exp(0.6) + math.exp(0.8) + math.exp(-0.6)
    np.testing.assert_allclose(got, [math.exp(0.8) / denom, math.exp(-0.6) / denom], rtol=TOL)
    # scaled seeds and scaled candidates give the same (cosine) result
    np.testing.assert_allclose(
        label_consistency(np.array([[0.6, 0.8]]), [1], seeds * 5.0, [0, 1, 2], 3, temperature=1.0), got[:1], rtol=TOL)


def test_label_consistency_validation():
    with pytest.raises(ValueError, match=r"label\(s\) \[2\]"):
        label_consistency(np.array([[1.0, 0.0]]), [0], SEEDS, SEED_LABELS, 3)
    with pytest.raises(ValueError, match="labels must be in"):
        label_consistency(np.array([[1.0, 0.0]]), [2], SEEDS, SEED_LABELS, 2)
    with pytest.raises(ValueError, match="one label per row"):
        label_consistency(np.array([[1.0, 0.0]]), [0, 1], SEEDS, SEED_LABELS, 2)
    with pytest.raises(ValueError, match="dimension"):
        label_consistency(np.array([[1.0, 0.0, 0.0]]), [0], SEEDS, SEED_LABELS, 2)
    with pytest.raises(ValueError, match="temperature"):
        label_consistency(np.array([[1.0, 0.0]]), [0], SEEDS, SEED_LABELS, 2, temperature=0.0)
    with pytest.raises(ValueError, match="zero row"):
        label_consistency(np.array([[0.0, 0.0]]), [0], SEEDS, SEED_LABELS, 2)
    with pytest.raises(ValueError, match="centroids"):  # (1, 0) and (-1, 0) cancel out
        label_consistency(np.array([[1.0, 0.0]]), [0], np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]]), [0, 0, 1], 2)
    assert label_consistency(np.zeros((0, 2)), [], SEEDS, SEED_LABELS, 2).shape == (0,)


# --- greedy_select -------------------------------------------------------------------------------------------------

# v0 = (1, 0), v1 = (0.8, 0.6), v2 = (0.6, 0.8), v3 = (0, 1): cos(v0, v1) = 0.8, cos(v0, v2) = 0.6, cos(v0, v3) = 0,
# cos(v1, v2) = 0.96, cos(v1, v3) = 0.6, cos(v2, v3) = 0.8.
V = np.array([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8], [0.0, 1.0]])
Q = np.array([0.9, 0.8, 0.5, 0.3])


def test_greedy_exact_pick_order_hand_example():
    # weight 0.5: step 1 all novelties 1 -> v0 (0.95); step 2 novelties 0.2, 0.4, 1 -> scores 0.5, 0.45, 0.65 -> v3;
    # step 3 max sims 0.8, 0.8 -> scores 0.5, 0.35 -> v1; then v2.
    assert greedy_select(Q, V, [0, 0, 0, 0], {0: 4}) == [0, 3, 1, 2]
    assert greedy_select(Q, V, [0, 0, 0, 0], {0: 2}) == [0, 3]
    # weight 0.8 favours quality: step 2 scores 0.64 + 0.04, 0.4 + 0.08, 0.24 + 0.2 -> v1 (0.68)
    assert greedy_select(Q, V, [0, 0, 0, 0], {0: 2}, weight=0.8) == [0, 1]


def test_greedy_weight_one_is_quality_order():
    quality = np.array([0.2, 0.9, 0.5, 0.7])
    assert greedy_select(quality, V, [0, 0, 0, 0], {0: 3}, weight=1.0) == [1, 3, 2]
    assert greedy_select(quality, V, [0, 0, 0, 0], {0: 9}, weight=1.0, reference=V[1:2]) == [1, 3, 2, 0]


def test_greedy_weight_zero_skips_near_duplicate():
    near = np.array([1.0, 0.01]) / np.hypot(1.0, 0.01)
    vectors = np.array([[1.0, 0.0], near, [0.0, 1.0]])
    quality = np.array([0.9, 0.95, 0.1])
    assert greedy_select(quality, vectors, [0, 0, 0], {0: 2}, weight=0.0) == [0, 2]  # tie at step 1 -> index 0
    assert greedy_select(quality, vectors, [0, 0, 0], {0: 3}, weight=0.0) == [0, 2, 1]
    assert greedy_select(quality, vectors, [0, 0, 0], {0: 2}, weight=1.0) == [1, 0]


def test_greedy_gate_counts_novelty_in_proportion_to_quality():
    quality = np.array([0.9, 0.8, 0.5, 0.0])
    # ungated, step 2: v1 0.4 + 0.1, v2 0.25 + 0.2, v3 0 + 0.5 -> v3 (quality 0) ties v1 and wins on... index: v1
    # gated: v1 0.4 + 0.5 x 0.8 x 0.2 = 0.48, v2 0.25 + 0.5 x 0.5 x 0.4 = 0.35, v3 0 -> v1; v3 comes last
    assert greedy_select(quality, V, [0, 0, 0, 0], {0: 4}, gate=True) == [0, 1, 2, 3]
    assert greedy_select(quality, V, [0, 0, 0, 0], {0: 4}, weight=0.4) == [0, 3, 1, 2]
    assert greedy_select(quality, V, [0, 0, 0, 0], {0: 4}, weight=0.4, gate=True) == [0, 1, 2, 3]
    assert greedy_select(quality, V, [0, 0, 0, 0], {0: 4}, weight=1.0, gate=True) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match=r"with gate, quality must lie in \[0, 1\]"):
        greedy_select(np.array([0.9, 1.2, 0.5, 0.3]), V, [0, 0, 0, 0], {0: 1}, gate=True)
    assert greedy_select(np.array([0.9, 1.2, 0.5, 0.3]), V, [0, 0, 0, 0], {0: 1}) == [1]  # no range without gate


def test_greedy_quotas_respected():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(12, 5))
    quality = rng.uniform(size=12)
    labels = [0, 1, 2] * 4
    picked = greedy_select(quality, vectors, labels, {0: 1, 1: 3})
    assert len(picked) == 4 and len(set(picked)) == 4
    assert sorted(labels[i] for i in picked) == [0, 1, 1, 1]  # label 2 has no quota, so none
    picked = greedy_select(quality, vectors, labels, {0: 10, 1: 0, 7: 3})  # more than exists: stops when out
    assert sorted(picked) == [0, 3, 6, 9]
    assert greedy_select(quality, vectors, labels, {0: 0, 1: 0}) == []
    assert greedy_select(quality, vectors, labels, {}) == []
    assert greedy_select(np.zeros(0), np.zeros((0, 5)), [], {0: 3}) == []


def test_greedy_reference_pushes_away():
    vectors = np.array([[1.0, 0.0], [0.0, 1.0]])
    quality = np.array([0.9, 0.6])
    assert greedy_select(quality, vectors, [0, 0], {0: 2}) == [0, 1]
    # reference (2, 0) ~ v0: v0 scores 0.45 + 0.5 * 0 = 0.45 < v1's 0.3 + 0.5 * 1 = 0.8
    assert greedy_select(quality, vectors, [0, 0], {0: 2}, reference=np.array([[2.0, 0.0]])) == [1, 0]
    # reference (0.8, 0.6): v0 0.45 + 0.5 * 0.2 = 0.55 > v1 0.3 + 0.5 * 0.4 = 0.5
    assert greedy_select(quality, vectors, [0, 0], {0: 1}, reference=np.array([[0.8, 0.6]])) == [0]
    # with quality 0.75 for v1: v1 0.375 + 0.2 = 0.575 > 0.55
    assert greedy_select(np.array([0.9, 0.75]), vectors, [0, 0], {0: 1}, reference=np.array([[0.8, 0.6]])) == [1]
    # an empty reference (any width) is the same as none
    assert greedy_select(quality, vectors, [0, 0], {0: 2}, reference=np.zeros((0, 7))) == [0, 1]


def test_greedy_ties_go_to_lower_index():
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    assert greedy_select(np.full(4, 0.5), vectors, [0, 0, 0, 0], {0: 4}) == [0, 1, 2, 3]
    assert greedy_select(np.full(4, 0.5), vectors, [1, 0, 0, 0], {0: 2, 1: 0}) == [1, 3]


def _naive_mmr(quality, vectors, labels, quota, reference, weight):
    unit = [np.asarray(v, float) / np.linalg.norm(v) for v in vectors]
    ref = [np.asarray(r, float) / np.linalg.norm(r) for r in reference]
    left, picked = dict(quota), []
    while any(v > 0 for v in left.values()):
        best, best_score = None, -math.inf
        for i in range(len(unit)):
            if i in picked or left.get(labels[i], 0) <= 0:
                continue
            sims = [float(unit[i] @ unit[j]) for j in picked] + [float(unit[i] @ r) for r in ref]
            score = weight * quality[i] + (1 - weight) * (1 - max(sims) if sims else 1.0)
            if score > best_score:
                best, best_score = i, score
        if best is None:
            break
        picked.append(best)
        left[labels[best]] -= 1
    return picked


@pytest.mark.parametrize("seed", range(5))
def test_greedy_matches_naive_implementation(seed):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(30, 4))
    quality = rng.uniform(size=30)
    labels = rng.integers(0, 3, size=30).tolist()
    reference = rng.normal(size=(5, 4))
    quota = {0: 4, 1: 2, 2: 5}
    for weight in (0.0, 0.3, 0.7, 1.0):
        for ref in (None, reference):
            expected = _naive_mmr(quality, vectors, labels, quota, [] if ref is None else ref, weight)
            assert greedy_select(quality, vectors, labels, quota, reference=ref, weight=weight) == expected


def test_greedy_validation():
    labels = [0, 0, 0, 0]
    with pytest.raises(ValueError, match="weight"):
        greedy_select(Q, V, labels, {0: 1}, weight=1.5)
    with pytest.raises(ValueError, match="weight"):
        greedy_select(Q, V, labels, {0: 1}, weight=-0.1)
    with pytest.raises(ValueError, match="quality"):
        greedy_select(Q[:3], V, labels, {0: 1})
    with pytest.raises(ValueError, match="quality"):
        greedy_select(np.array([0.1, np.nan, 0.2, 0.3]), V, labels, {0: 1})
    with pytest.raises(ValueError, match="labels"):
        greedy_select(Q, V, [0, 0], {0: 1})
    with pytest.raises(ValueError, match="quota"):
        greedy_select(Q, V, labels, {0: -1})
    with pytest.raises(ValueError, match="reference has dimension 3"):
        greedy_select(Q, V, labels, {0: 1}, reference=np.ones((2, 3)))
    with pytest.raises(ValueError, match="vectors"):
        greedy_select(Q, V[:, 0], labels, {0: 1})
    with pytest.raises(ValueError, match="zero row"):
        greedy_select(Q, np.vstack([V[:3], [0.0, 0.0]]), labels, {0: 1})
