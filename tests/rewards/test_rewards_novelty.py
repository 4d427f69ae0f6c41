"""Exact-value tests of NovelSum-style novelty and the reference memory on tiny hand-made embeddings."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

import streamsynth.rewards.novelty as novelty_module
from streamsynth.rewards.novelty import ReferenceMemory, novelsum_novelty, reference_sparsity

TOL = 1e-12

# Hand-made 2-D reference: cos(r1, r2) = 0.6, cos(r2, r3) = 0.8, cos(r1, r3) = 0, so the pairwise cosine
# distances are d12 = 0.4, d23 = 0.2, d13 = 1.0.
REF = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
# Query x = (0.8, 0.6): cos = 0.8, 0.96, 0.6 -> distances 0.2 (r1), 0.04 (r2), 0.4 (r3).
X = np.array([[0.8, 0.6]])
SIGMA_K2 = np.array([(0.4 + 1.0) / 2, (0.4 + 0.2) / 2, (0.2 + 1.0) / 2])  # [0.7, 0.3, 0.6]


# --- reference_sparsity -----------------------------------------------------------------------------------------


def test_sparsity_hand_computed():
    np.testing.assert_allclose(reference_sparsity(REF, k=1), [0.4, 0.2, 0.2], atol=TOL)
    np.testing.assert_allclose(reference_sparsity(REF, k=2), SIGMA_K2, atol=TOL)
    np.testing.assert_allclose(reference_sparsity(REF, k=10), SIGMA_K2, atol=TOL)  # k capped at m - 1


def test_sparsity_degenerate_references():
    assert reference_sparsity(np.zeros((0, 2))).shape == (0,)
    np.testing.assert_array_equal(reference_sparsity(np.array([[0.0, 1.0]])), [1.0])
    np.testing.assert_allclose(reference_sparsity(np.array([[1.0, 0.0], [1.0, 0.0]])), [0.0, 0.0], atol=TOL)
    np.testing.assert_allclose(reference_sparsity(np.array([[1.0, 0.0], [-1.0, 0.0]])), [1.0, 1.0], atol=TOL)


def test_sparsity_chunking_does_not_change_values():
    ref = np.random.default_rng(0).normal(size=(23, 5))
    np.testing.assert_allclose(
        reference_sparsity(ref, k=4, chunk_size=4), reference_sparsity(ref, k=4, chunk_size=1000), atol=TOL
    )


# --- novelsum_novelty: exact values -----------------------------------------------------------------------------


def test_identical_point_with_k1_is_zero():
    ref = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.6, 0.8]])
    np.testing.assert_allclose(novelsum_novelty(ref, ref, k=1), [0.0, 0.0, 0.0], atol=1e-12)


def test_orthogonal_and_opposite_points_are_one():
    ref = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    x = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [-0.6, -0.8, 0.0]])
    np.testing.assert_allclose(novelsum_novelty(x, ref, k=2), [1.0, 1.0, 1.0], atol=TOL)


def test_hand_computed_rank_and_density_weights():
    s1, s2 = math.sqrt(0.7), math.sqrt(0.3)  # s_j = sigma**0.5 of r1 and r2
    # k = 2 nearest: r2 (rank 1, d = 0.04), r1 (rank 2, d = 0.2).
    expected = (1 * s2 * 0.04 + 0.5 * s1 * 0.2) / (1 * s2 + 0.5 * s1)
    assert novelsum_novelty(X, REF, k=2)[0] == pytest.approx(expected, abs=TOL)
    assert novelsum_novelty(X, REF, k=2)[0] == pytest.approx(0.1092848445, abs=1e-9)


def test_hand_computed_rank_weights_only():
    assert novelsum_novelty(X, REF, k=2, beta=0.0)[0] == pytest.approx((0.04 + 0.5 * 0.2) / 1.5, abs=TOL)
    assert novelsum_novelty(X, REF, k=2, alpha=2.0, beta=0.0)[0] == pytest.approx(
        (0.04 + 0.25 * 0.2) / 1.25, abs=TOL
    )


def test_hand_computed_plain_mean_and_density_only():
    assert novelsum_novelty(X, REF, k=2, alpha=0.0, beta=0.0)[0] == pytest.approx((0.04 + 0.2) / 2, abs=TOL)
    assert novelsum_novelty(X, REF, k=3, alpha=0.0, beta=0.0)[0] == pytest.approx((0.04 + 0.2 + 0.4) / 3, abs=TOL)
    # beta = 1, alpha = 0: weights are the sparsities 0.3 (r2) and 0.7 (r1).
    assert novelsum_novelty(X, REF, k=2, alpha=0.0, beta=1.0)[0] == pytest.approx(
        (0.3 * 0.04 + 0.7 * 0.2) / 1.0, abs=TOL
    )
    assert novelsum_novelty(X, REF, k=2, beta=1.0)[0] == pytest.approx(
        (0.3 * 0.04 + 0.5 * 0.7 * 0.2) / (0.3 + 0.5 * 0.7), abs=TOL
    )


def test_negative_beta_weights_by_density():
    d2, d1 = 0.3**-0.5, 0.7**-0.5  # density weights (1 / sigma)**0.5
    expected = (d2 * 0.04 + 0.5 * d1 * 0.2) / (d2 + 0.5 * d1)
    assert novelsum_novelty(X, REF, k=2, beta=-0.5)[0] == pytest.approx(expected, abs=TOL)


def test_k_larger_than_reference_uses_every_point():
    sigma = reference_sparsity(REF, k=5)
    w = np.array([1.0, 1 / 2, 1 / 3]) * np.sqrt(sigma[[1, 0, 2]])  # ranks: r2, r1, r3
    expected = float(w @ np.array([0.04, 0.2, 0.4]) / w.sum())
    assert novelsum_novelty(X, REF, k=5)[0] == pytest.approx(expected, abs=TOL)


def test_one_point_reference_is_plain_distance():
    ref = np.array([[1.0, 0.0]])
    x = np.array([[0.6, 0.8], [1.0, 0.0], [0.0, -1.0]])
    np.testing.assert_allclose(novelsum_novelty(x, ref), [0.4, 0.0, 1.0], atol=TOL)


def test_duplicate_reference_falls_back_to_rank_weights():
    # Both sigmas are 0, so every density weight is 0; the rank-weighted mean is used instead of 0 / 0.
    ref = np.array([[1.0, 0.0], [1.0, 0.0]])
    out = novelsum_novelty(np.array([[0.6, 0.8]]), ref, k=2)
    np.testing.assert_allclose(out, [0.4], atol=TOL)
    out = novelsum_novelty(np.array([[0.6, 0.8]]), ref, k=2, beta=-0.5)
    np.testing.assert_allclose(out, [0.4], atol=TOL)


def test_empty_reference_or_empty_batch():
    np.testing.assert_array_equal(novelsum_novelty(np.eye(3), np.zeros((0, 3))), [1.0, 1.0, 1.0])
    assert novelsum_novelty(np.zeros((0, 3)), np.eye(3)).shape == (0,)
    assert novelsum_novelty(np.zeros((0, 3)), np.zeros((0, 3))).shape == (0,)
    np.testing.assert_array_equal(novelsum_novelty(np.eye(2), np.array([])), [1.0, 1.0])
    assert novelsum_novelty(np.array([]), np.eye(2)).shape == (0,)
    memory = ReferenceMemory(dim=2)
    memory.add(np.array([]))
    memory.add(np.eye(2))
    assert memory.novelty(np.array([])).shape == (0,)


def test_zero_rows_are_at_distance_one():
    np.testing.assert_allclose(novelsum_novelty(np.zeros((1, 2)), REF, k=2), [1.0], atol=TOL)


# --- novelsum_novelty: properties -------------------------------------------------------------------------------


def test_novelty_bounded_scale_invariant_and_chunk_invariant():
    rng = np.random.default_rng(3)
    x, ref = rng.normal(size=(37, 6)), rng.normal(size=(19, 6))
    out = novelsum_novelty(x, ref, k=4)
    assert out.shape == (37,) and out.dtype == np.float64
    assert np.all((out >= 0) & (out <= 1))
    np.testing.assert_allclose(novelsum_novelty(5 * x, 0.1 * ref, k=4), out, atol=1e-12)
    np.testing.assert_allclose(novelsum_novelty(x, ref, k=4, chunk_size=5), out, atol=1e-12)


def test_precomputed_sigma_gives_the_same_values():
    rng = np.random.default_rng(4)
    x, ref = rng.normal(size=(10, 4)), rng.normal(size=(12, 4))
    sigma = reference_sparsity(ref, k=3)
    np.testing.assert_allclose(
        novelsum_novelty(x, ref, k=3, reference_sigma=sigma), novelsum_novelty(x, ref, k=3), atol=TOL
    )


def test_float32_matches_float64():
    rng = np.random.default_rng(5)
    x, ref = rng.normal(size=(20, 8)), rng.normal(size=(30, 8))
    np.testing.assert_allclose(
        novelsum_novelty(x.astype(np.float32), ref.astype(np.float32), k=5),
        novelsum_novelty(x, ref, k=5),
        atol=1e-5,
    )


def test_novelty_grows_as_a_point_turns_away_from_the_reference():
    angles = np.linspace(0.0, np.pi / 2, 6)
    x = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    out = novelsum_novelty(x, np.array([[1.0, 0.0], [0.8, -0.6]]), k=2)
    assert out[0] < 0.2 and out[-1] == pytest.approx(1.0, abs=TOL)  # (0, 1) is >= 90 degrees from both
    assert np.all(np.diff(novelsum_novelty(x, np.array([[1.0, 0.0]]), k=1)) > 0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"k": 0}, "k must"),
        ({"k": 2.0}, "k must"),
        ({"alpha": -1.0}, "alpha"),
        ({"beta": float("nan")}, "beta"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"reference_sigma": np.ones(2)}, "reference_sigma"),
    ],
)
def test_novelty_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        novelsum_novelty(X, REF, **kwargs)


def test_novelty_rejects_bad_shapes():
    with pytest.raises(ValueError, match="columns"):
        novelsum_novelty(np.ones((1, 3)), REF)
    with pytest.raises(ValueError, match="2-D"):
        novelsum_novelty(np.ones(2), REF)
    with pytest.raises(ValueError, match="NaN"):
        novelsum_novelty(np.array([[np.nan, 1.0]]), REF)


# --- ReferenceMemory --------------------------------------------------------------------------------------------


def test_empty_memory_scores_everything_as_new():
    memory = ReferenceMemory(dim=2)
    assert len(memory) == 0
    np.testing.assert_array_equal(memory.novelty(np.eye(2)), [1.0, 1.0])


def test_memory_matches_the_pure_function():
    memory = ReferenceMemory(dim=2, k=2)
    memory.add(REF)
    assert len(memory) == 3
    np.testing.assert_allclose(memory.sigma, SIGMA_K2, atol=1e-7)
    np.testing.assert_allclose(memory.novelty(X), novelsum_novelty(X, REF, k=2), atol=1e-6)


def test_memory_normalizes_rows_on_add():
    memory = ReferenceMemory(dim=2, k=1)
    memory.add(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(memory.embeddings, [[0.6, 0.8], [0.0, 0.0]], atol=1e-7)
    assert memory.embeddings.dtype == np.float32


def test_capacity_eviction_keeps_the_most_recent_rows():
    rows = np.eye(5)
    memory = ReferenceMemory(dim=5, capacity=3, k=1)
    memory.add(rows[:2])
    memory.add(rows[2:4])
    np.testing.assert_array_equal(memory.embeddings, rows[1:4])
    memory.add(rows[4:])
    np.testing.assert_array_equal(memory.embeddings, rows[2:5])
    assert len(memory) == 3 and memory.n_added == 5
    # The evicted rows are novel again, the kept ones are not.
    np.testing.assert_allclose(memory.novelty(rows), [1.0, 1.0, 0.0, 0.0, 0.0], atol=1e-6)


def test_one_add_larger_than_capacity_keeps_its_last_rows():
    rows = np.eye(6)
    memory = ReferenceMemory(dim=6, capacity=2)
    memory.add(rows)
    np.testing.assert_array_equal(memory.embeddings, rows[4:])
    assert memory.n_added == 6


def test_sigma_is_computed_lazily_once_per_add(monkeypatch):
    calls = []
    real = novelty_module.reference_sparsity

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(novelty_module, "reference_sparsity", counting)
    memory = ReferenceMemory(dim=2, k=2)
    memory.add(REF)
    assert calls == []
    memory.novelty(X)
    memory.novelty(X)
    memory.novelty(np.eye(2))
    assert len(calls) == 1
    memory.add(np.zeros((0, 2)))  # an empty add changes nothing
    memory.novelty(X)
    assert len(calls) == 1
    memory.add(np.array([[-1.0, 0.0]]))
    memory.add(np.array([[0.0, -1.0]]))
    memory.novelty(X)
    assert len(calls) == 2


def test_memory_sigma_follows_adds():
    memory = ReferenceMemory(dim=2, k=1)
    memory.add(REF[:2])
    np.testing.assert_allclose(memory.sigma, [0.4, 0.4], atol=1e-7)
    memory.add(REF[2:])
    np.testing.assert_allclose(memory.sigma, [0.4, 0.2, 0.2], atol=1e-7)


def _restored(state) -> ReferenceMemory:
    memory = ReferenceMemory(dim=1)
    memory.load_state_dict(state)
    return memory


def test_state_dict_round_trip():
    rng = np.random.default_rng(6)
    memory = ReferenceMemory(dim=4, capacity=8, k=3, alpha=2.0, beta=0.25)
    memory.add(rng.normal(size=(10, 4)))
    state = memory.state_dict()
    assert {type(v) for v in state.values()} <= {int, float, np.ndarray}
    restored = _restored(state)
    assert (restored.dim, restored.capacity, restored.k, restored.alpha, restored.beta, restored.n_added) == (
        4,
        8,
        3,
        2.0,
        0.25,
        10,
    )
    np.testing.assert_array_equal(restored.embeddings, memory.embeddings)
    np.testing.assert_array_equal(restored.sigma, memory.sigma)
    x = rng.normal(size=(5, 4))
    np.testing.assert_array_equal(restored.novelty(x), memory.novelty(x))
    state["embeddings"][:] = 0  # the restored memory owns its arrays
    assert np.any(restored.embeddings != 0)


def test_state_dict_of_an_empty_memory_round_trips():
    restored = _restored(ReferenceMemory(dim=3).state_dict())
    assert len(restored) == 0
    np.testing.assert_array_equal(restored.novelty(np.eye(3)), [1.0, 1.0, 1.0])


def test_load_state_dict_rejects_bad_state():
    state = ReferenceMemory(dim=2).state_dict()
    with pytest.raises(ValueError, match="misses keys"):
        _restored({k: v for k, v in state.items() if k != "sigma"})
    with pytest.raises(ValueError, match="sigma"):
        _restored({**state, "embeddings": np.eye(2, dtype=np.float32)})
    with pytest.raises(ValueError, match="do not fit"):
        _restored({**state, "embeddings": np.eye(3, dtype=np.float32)})


def test_memory_pickles():
    memory = ReferenceMemory(dim=2, k=2)
    memory.add(REF)
    clone = pickle.loads(pickle.dumps(memory))
    np.testing.assert_array_equal(clone.novelty(X), memory.novelty(X))


def test_memory_rejects_bad_arguments():
    with pytest.raises(ValueError):
        ReferenceMemory(dim=0)
    with pytest.raises(ValueError):
        ReferenceMemory(dim=2, capacity=0)
    with pytest.raises(ValueError):
        ReferenceMemory(dim=2, k=0)
    memory = ReferenceMemory(dim=2)
    with pytest.raises(ValueError, match="columns"):
        memory.add(np.ones((1, 3)))
    with pytest.raises(ValueError, match="columns"):
        memory.novelty(np.ones((1, 3)))
    memory.add(np.eye(2))
    with pytest.raises(ValueError):
        memory.embeddings[:] = 1  # read-only view
