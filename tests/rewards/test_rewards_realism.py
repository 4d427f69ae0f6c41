"""Exact-value and behaviour tests of the realism component (classifier two-sample test) and its features."""

from __future__ import annotations

import math

import numpy as np
import pytest

from streamsynth.rewards.realism import STYLE_FEATURES, realism_features, style_features, two_sample_realism


def test_style_features_exact_values():
    text = "Wow, the the FILM 2!"
    (row,) = style_features([text]).tolist()
    assert len(row) == len(STYLE_FEATURES)
    # 20 characters, 5 words: "wow", "the", "the", "film", "2" after stripping edge punctuation
    assert row[0] == pytest.approx(math.log(21))
    assert row[1] == pytest.approx(math.log(6))
    assert row[2] == pytest.approx((3 + 3 + 3 + 4 + 1) / 5)
    assert row[3] == pytest.approx(4 / 5)  # distinct words
    assert row[4] == pytest.approx(2 / 5)  # "the" twice
    assert row[5] == pytest.approx(2 / 20)  # "," and "!"
    assert row[6] == pytest.approx(5 / 20)  # W, F, I, L, M
    assert row[7] == pytest.approx(1 / 20)
    assert row[8] == 0.0


def test_style_features_repetition_and_foreign_text():
    rep, foreign = style_features(["great fun great fun great fun", "¿Cómo estás? Muy bien."])
    assert rep[3] == pytest.approx(2 / 6)
    assert foreign[8] == pytest.approx(3 / 22)  # ¿, ó, á


def test_style_features_empty_text_and_empty_list():
    assert style_features([""]).tolist() == [[0.0] * len(STYLE_FEATURES)]
    assert style_features([]).shape == (0, len(STYLE_FEATURES))


def test_realism_features_concatenates_and_checks_lengths():
    feats = realism_features(np.ones((2, 3)), ["a b", "c"])
    assert feats.shape == (2, 3 + len(STYLE_FEATURES))
    np.testing.assert_array_equal(feats[:, :3], np.ones((2, 3)))
    with pytest.raises(ValueError, match="2 vectors but 1 texts"):
        realism_features(np.ones((2, 3)), ["a"])


def test_same_distribution_scores_high_shifted_scores_low():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(300, 8))
    same = two_sample_realism(real, rng.normal(size=(60, 8)))
    shifted = two_sample_realism(real, rng.normal(loc=2.0, size=(60, 8)))
    assert same.shape == (60,) and same.mean() > 0.8
    assert shifted.mean() < 0.1
    assert ((0 <= shifted) & (shifted <= 1)).all() and ((0 <= same) & (same <= 1)).all()


def test_realism_falls_continuously_with_the_shift():
    rng = np.random.default_rng(2)
    real = rng.normal(size=(300, 4))
    noise = rng.normal(size=(40, 4))
    means = [two_sample_realism(real, noise + shift).mean() for shift in (0.0, 0.5, 1.0, 2.0)]
    assert means == sorted(means, reverse=True)
    assert means[0] - means[-1] > 0.5


def test_deterministic_for_a_seed_and_different_across_seeds():
    rng = np.random.default_rng(3)
    real, syn = rng.normal(size=(100, 4)), rng.normal(loc=0.3, size=(20, 4))
    np.testing.assert_array_equal(two_sample_realism(real, syn, seed=5), two_sample_realism(real, syn, seed=5))
    assert not np.array_equal(two_sample_realism(real, syn, seed=5), two_sample_realism(real, syn, seed=6))


def test_fewer_than_two_rows_get_one():
    real = np.random.default_rng(4).normal(size=(50, 3))
    assert two_sample_realism(real, np.full((1, 3), 100.0)).tolist() == [1.0]
    assert two_sample_realism(real, np.zeros((0, 3))).shape == (0,)


def test_duplicates_of_the_real_rows_are_not_recognisable():
    real = np.random.default_rng(5).normal(size=(200, 6))
    assert two_sample_realism(real, real[:40]).mean() > 0.8


@pytest.mark.parametrize(("real", "syn", "kwargs", "match"), [
    (np.ones((5, 3)), np.ones((5, 2)), {}, "same columns"),
    (np.ones(5), np.ones((5, 1)), {}, "2-D"),
    (np.ones((1, 3)), np.ones((5, 3)), {}, "at least 2 rows"),
    (np.ones((5, 3)), np.ones((5, 3)), {"folds": 1}, "folds must be an int >= 2"),
    (np.ones((5, 3)), np.ones((5, 3)), {"folds": True}, "folds must be an int >= 2"),
])
def test_bad_input_is_named(real, syn, kwargs, match):
    with pytest.raises(ValueError, match=match):
        two_sample_realism(real, syn, **kwargs)


def test_max_train_caps_the_training_rows_but_scores_every_row():
    rng = np.random.default_rng(6)
    real, syn = rng.normal(size=(100, 4)), rng.normal(loc=2.0, size=(300, 4))
    capped = two_sample_realism(real, syn, max_train=50)
    same = two_sample_realism(real, rng.normal(size=(300, 4)), max_train=50)
    assert capped.shape == (300,) and capped.mean() < 0.5 < same.mean()
    np.testing.assert_array_equal(two_sample_realism(real, syn[:40], max_train=50),
                                  two_sample_realism(real, syn[:40]))  # under the cap: unchanged
    with pytest.raises(ValueError, match="max_train must be an int >= 2"):
        two_sample_realism(real, syn, max_train=1)


def test_context_rows_train_every_fold_and_make_small_batches_comparable():
    rng = np.random.default_rng(3)
    real, synthetic = rng.normal(size=(150, 6)), rng.normal(loc=1.2, size=(32, 6))
    whole = two_sample_realism(real, synthetic)
    assert np.array_equal(two_sample_realism(real, synthetic, context=np.zeros((0, 6))), whole)  # empty: as before
    alone = np.concatenate([two_sample_realism(real, synthetic[i:i + 4]) for i in range(0, 32, 4)])
    in_context = np.concatenate([two_sample_realism(real, synthetic[i:i + 4], context=synthetic[:i])
                                 if i else two_sample_realism(real, synthetic[:4]) for i in range(0, 32, 4)])
    # 4 rows at a time, each batch alone, look far more real than the same rows tested together; with the rows
    # seen before as context the later batches come out as the whole set does (measured: 0.51 alone, 0.34
    # together; batches 3-8 with context 0.38, the same rows tested together 0.33)
    assert alone.mean() > whole.mean() + 0.12
    assert abs(in_context[8:].mean() - whole[8:].mean()) < 0.1
    one = two_sample_realism(real, synthetic[:1], context=synthetic[1:])  # one row: one model on the context
    assert one.shape == (1,) and one[0] < 0.5
    assert two_sample_realism(real, synthetic[:1]).tolist() == [1.0]  # one row, nothing seen: cannot be tested
    with pytest.raises(ValueError, match="context must be 2-D with the columns of real"):
        two_sample_realism(real, synthetic, context=np.zeros((3, 5)))
