"""Tests of the per-task scorer: stratified subsets, EncodedSet, and TaskScorer on a tiny hand-made task."""

from __future__ import annotations

import numpy as np
import pytest

from streamsynth.rewards.embeddings import HashingEmbedder
from streamsynth.rewards.scorer import EncodedSet, TaskScorer, stratified_subset
from streamsynth.tasks.spec import InMemorySource, Task
from tests.helpers.tiny_task import DEV, JUDGE, TEST, tiny_scorer

DIM = 256


# --- stratified_subset ----------------------------------------------------------------------------------------------


def counts(labels: np.ndarray, idx: np.ndarray) -> dict[int, int]:
    values, n = np.unique(labels[idx], return_counts=True)
    return dict(zip(values.tolist(), n.tolist()))


@pytest.mark.parametrize(
    ("labels", "n", "expected"),
    [
        ([0, 0, 0, 1, 1, 1], 4, {0: 2, 1: 2}),
        ([0, 0, 0, 0, 1, 1], 3, {0: 2, 1: 1}),
        # quotas 2.5, 1.5, 1.0 -> floors 2, 1, 1; the one left goes to the first largest remainder (label 0)
        ([0] * 5 + [1] * 3 + [2] * 2, 5, {0: 3, 1: 1, 2: 1}),
        # quotas 0.5, 0.5 -> tie broken by label order
        ([0, 0, 1, 1], 1, {0: 1}),
        # quotas 6 * 7/10 = 4.2, 6 * 3/10 = 1.8 -> 4 + 0, 1 + 1
        ([0] * 7 + [1] * 3, 6, {0: 4, 1: 2}),
        # quotas 3 * 1/6 = 0.5, 3 * 5/6 = 2.5 -> tie on the remainder: label 7 (first) gets it
        ([7, 9, 9, 9, 9, 9], 3, {7: 1, 9: 2}),
        ([1, 1, 1], 2, {1: 2}),  # one label only
    ],
)
def test_stratified_subset_exact_counts(labels, n, expected):
    labels = np.array(labels)
    idx = stratified_subset(labels, n, seed=0)
    assert idx.size == n
    assert counts(labels, idx) == expected


def test_stratified_subset_indices_are_sorted_unique_and_in_range():
    labels = np.array([0, 1, 2] * 10)
    idx = stratified_subset(labels, 13, seed=3)
    assert idx.tolist() == sorted(set(idx.tolist()))
    assert idx.min() >= 0 and idx.max() < 30
    assert np.issubdtype(idx.dtype, np.integer)


def test_stratified_subset_n_at_least_len_takes_everything():
    labels = np.array([1, 0, 1, 0, 0])
    assert stratified_subset(labels, 5, seed=0).tolist() == [0, 1, 2, 3, 4]
    assert stratified_subset(labels, 99, seed=1).tolist() == [0, 1, 2, 3, 4]


def test_stratified_subset_zero_and_empty():
    assert stratified_subset(np.array([0, 1, 1]), 0, seed=0).size == 0
    out = stratified_subset(np.array([], dtype=int), 3, seed=0)
    assert out.size == 0 and np.issubdtype(out.dtype, np.integer)


def test_stratified_subset_one_sample():
    assert stratified_subset(np.array([4]), 1, seed=0).tolist() == [0]


def test_stratified_subset_accepts_float_n():
    assert stratified_subset(np.array([0, 0, 1, 1]), 2.0, seed=0).size == 2


def test_stratified_subset_is_deterministic_per_seed_and_varies_across_seeds():
    labels = np.array([0] * 20 + [1] * 20)
    a = stratified_subset(labels, 10, seed=5)
    b = stratified_subset(labels, 10, seed=5)
    np.testing.assert_array_equal(a, b)
    others = {tuple(stratified_subset(labels, 10, seed=s).tolist()) for s in range(6)}
    assert len(others) > 1


# --- EncodedSet -----------------------------------------------------------------------------------------------------


def make_set(n: int, offset: int = 0) -> EncodedSet:
    rows = np.arange(offset, offset + n, dtype=np.float32)
    return EncodedSet(
        vectors=np.stack([rows, -rows], axis=1),
        features=np.stack([rows, rows * 10, rows * 100], axis=1),
        labels=np.arange(offset, offset + n) % 2,
        texts=[f"t{i}" for i in range(offset, offset + n)],
    )


def test_encoded_set_len_and_take():
    enc = make_set(4)
    assert len(enc) == 4
    sub = enc.take([3, 1])
    assert len(sub) == 2
    np.testing.assert_array_equal(sub.vectors, [[3, -3], [1, -1]])
    np.testing.assert_array_equal(sub.features, [[3, 30, 300], [1, 10, 100]])
    assert sub.labels.tolist() == [1, 1]
    assert sub.texts == ["t3", "t1"]


def test_encoded_set_take_numpy_index_repeat_and_empty():
    enc = make_set(3)
    assert enc.take(np.array([0, 0])).texts == ["t0", "t0"]
    empty = enc.take([])
    assert len(empty) == 0 and empty.vectors.shape == (0, 2) and empty.features.shape == (0, 3) and empty.texts == []


def test_encoded_set_concat_in_order_and_skips_empty_parts():
    a, b = make_set(2), make_set(3, offset=2)
    out = EncodedSet.concat([a, make_set(0), b])
    assert len(out) == 5
    assert out.texts == ["t0", "t1", "t2", "t3", "t4"]
    np.testing.assert_array_equal(out.vectors[:, 0], [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(out.features[:, 2], [0, 100, 200, 300, 400])
    assert out.labels.tolist() == [0, 1, 0, 1, 0]


def test_encoded_set_concat_one_part():
    a = make_set(2)
    out = EncodedSet.concat([a])
    np.testing.assert_array_equal(out.features, a.features)
    assert out.texts == a.texts


@pytest.mark.parametrize("parts", [[], [make_set(0)], [make_set(0), make_set(0)]])
def test_encoded_set_concat_nothing_error(parts):
    with pytest.raises(ValueError, match="nothing to concatenate"):
        EncodedSet.concat(parts)


# --- TaskScorer -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scorer() -> TaskScorer:
    return tiny_scorer(DIM)


def swap(samples):
    other = {"sport": "food", "food": "sport"}
    return [{**s, "label": other[s["label"]]} for s in samples]


def test_scorer_label_set_follows_task_order(scorer):
    assert scorer.label_set == ("sport", "food")


def test_encode_shapes_labels_and_texts(scorer):
    enc = scorer.encode(DEV[:2] + DEV[-1:])
    assert enc.vectors.shape == (3, DIM) and enc.features.shape == (3, DIM)
    assert enc.labels.tolist() == [0, 0, 1]
    assert enc.texts == [DEV[0]["text"], DEV[1]["text"], DEV[-1]["text"]]
    np.testing.assert_allclose(np.linalg.norm(enc.vectors, axis=1), np.ones(3), atol=1e-6)


def test_encode_empty(scorer):
    enc = scorer.encode([])
    assert len(enc) == 0
    assert enc.vectors.shape == (0, DIM) and enc.features.shape == (0, DIM)
    assert enc.labels.shape == (0,) and enc.texts == []


def test_encode_two_field_task_has_pair_features():
    rows = [
        {"premise": "a dog runs in the park", "hypothesis": "an animal moves", "label": "yes"},
        {"premise": "a cat sleeps on the sofa", "hypothesis": "an animal rests", "label": "yes"},
        {"premise": "a man reads a book", "hypothesis": "a woman swims", "label": "no"},
        {"premise": "the sun is shining", "hypothesis": "it is raining", "label": "no"},
    ]
    task = Task("pairs", "Write a premise and a hypothesis.", {"yes": "entailed", "no": "not entailed"},
                InMemorySource(tuple(rows)), fields=("premise", "hypothesis"), min_chars=3)
    sc = TaskScorer(task, rows, rows, HashingEmbedder(32))
    enc = sc.encode(rows[:3])
    assert enc.vectors.shape == (3, 32) and enc.features.shape == (3, 128)
    assert enc.texts[0] == "a dog runs in the park an animal moves"
    empty = sc.encode([])
    assert empty.vectors.shape == (0, 32) and empty.features.shape == (0, 128)


def test_encode_three_field_task_concatenates_features():
    rows = [{"a": f"word{i} alpha", "b": f"word{i} beta", "c": f"word{i} gamma", "label": ["x", "y"][i % 2]}
            for i in range(4)]
    task = Task("triples", "Write three texts.", {"x": "x", "y": "y"}, InMemorySource(tuple(rows)),
                fields=("a", "b", "c"), min_chars=3)
    sc = TaskScorer(task, rows, rows, HashingEmbedder(16))
    assert sc.encode(rows).features.shape == (4, 48)
    assert sc.encode([]).features.shape == (0, 48)


def test_fidelity_in_unit_interval_and_higher_for_true_labels(scorer):
    for split in (DEV, TEST):
        true = scorer.fidelity(scorer.encode(split))
        wrong = scorer.fidelity(scorer.encode(swap(split)))
        assert true.shape == (len(split),)
        assert ((true >= 0) & (true <= 1)).all() and ((wrong >= 0) & (wrong <= 1)).all()
        assert (true > 0.5).all()
        assert (true > wrong).all()
        # two labels: P(label) + P(other label) = 1
        np.testing.assert_allclose(true + wrong, np.ones(len(split)), atol=1e-9)


def test_fidelity_of_empty_set(scorer):
    out = scorer.fidelity(scorer.encode([]))
    assert out.shape == (0,)


def test_fidelity_with_single_label_judge_is_one_for_that_label_and_zero_otherwise():
    judge = [s for s in JUDGE if s["label"] == "food"]
    sc = TaskScorer(tiny_scorer().task, judge, DEV, HashingEmbedder(DIM))
    enc = sc.encode(DEV)
    np.testing.assert_array_equal(sc.fidelity(enc), [0.0, 0.0, 0.0, 1.0, 1.0, 1.0])


def test_utility_of_empty_set_is_zero(scorer):
    assert scorer.utility(scorer.encode([])) == (0.0, 0.0)


def test_utility_separable_and_single_label_sets(scorer):
    assert scorer.utility(scorer.encode(JUDGE)) == (1.0, 1.0)
    # a student trained on one label predicts it for all 6 dev rows: acc 1/2, F1 (2/3 + 0) / 2
    acc, f1 = scorer.utility(scorer.encode([s for s in JUDGE if s["label"] == "sport"]))
    assert acc == pytest.approx(0.5, abs=1e-12)
    assert f1 == pytest.approx(1 / 3, abs=1e-12)


def test_gold_utility_is_cached_by_n(monkeypatch):
    sc = tiny_scorer(DIM)
    calls = []
    real = sc._student_scores
    monkeypatch.setattr(sc, "_student_scores", lambda train, ev: calls.append(len(train)) or real(train, ev))
    first = sc.gold_utility(4)
    assert calls == [4]
    assert sc.gold_utility(4) == first
    assert calls == [4]
    sc.gold_utility(6)
    assert calls == [4, 6]
    # n above the judge size is capped to it and shares its cache entry
    assert sc.gold_utility(100) == sc.gold_utility(12)
    assert calls == [4, 6, 12]
    assert sorted(sc._gold_dev) == [4, 6, 12]


def test_gold_utility_zero_or_negative_n(scorer):
    assert scorer.gold_utility(0) == (0.0, 0.0)
    assert scorer.gold_utility(-3) == (0.0, 0.0)


def test_gold_utility_is_deterministic_across_scorers():
    a, b = tiny_scorer(DIM, seed=7), tiny_scorer(DIM, seed=7)
    assert [a.gold_utility(n) for n in (2, 3, 5)] == [b.gold_utility(n) for n in (2, 3, 5)]


def test_gold_utility_on_the_full_separable_judge_split(scorer):
    assert scorer.gold_utility(12) == (1.0, 1.0)
