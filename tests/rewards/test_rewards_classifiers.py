"""Exact-value tests of the linear judge/student classifier and of accuracy / macro-F1."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from streamsynth.rewards.classifiers import DEFAULT_C, LinearClassifier, accuracy_and_macro_f1

# 1-D, symmetric around 0: "a" on the positive side, "c" on the negative side.
X_SYM = np.array([[1.0], [2.0], [-1.0], [-2.0]])
Y_SYM = ["a", "a", "c", "c"]


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def reference_weight(C: float) -> float:
    """Weight ``w`` of P(a | x) = sigmoid(w x) for X_SYM / Y_SYM, by hand.

    sklearn minimises ``0.5 w^2 + C * sum_i log(1 + exp(-m_i))`` (intercept unpenalised, 0 here by symmetry), with
    margins ``m = w |x|`` for x in {1, 2, 1, 2}. Setting the gradient to 0 gives
    ``w = 2 C (sigmoid(-w) + 2 sigmoid(-2 w))``, solved here by bisection.
    """
    lo, hi = 0.0, 10.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if mid - 2 * C * (sigmoid(-mid) + 2 * sigmoid(-2 * mid)) < 0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


# --- LinearClassifier ----------------------------------------------------------------------------------------------


def test_proba_matches_hand_solved_logistic_regression():
    clf = LinearClassifier(("a", "c")).fit(X_SYM, Y_SYM)
    w = reference_weight(DEFAULT_C)
    assert w == pytest.approx(1.7173525, abs=1e-6)
    xs = np.array([[0.0], [1.0], [3.0], [-3.0]])
    expected = np.array([[sigmoid(w * x), 1 - sigmoid(w * x)] for x in xs[:, 0]])
    np.testing.assert_allclose(clf.predict_proba(xs), expected, atol=1e-4)
    assert clf.predict_proba(np.array([[0.0]]))[0] == pytest.approx([0.5, 0.5], abs=1e-9)


def test_C_changes_the_fit_as_the_formula_says():
    clf = LinearClassifier(("a", "c"), C=0.5).fit(X_SYM, Y_SYM)
    w = reference_weight(0.5)
    assert clf.predict_proba(np.array([[1.0]]))[0, 0] == pytest.approx(sigmoid(w), abs=1e-4)


def test_proba_columns_follow_label_set_order_with_unseen_label():
    # label_set (c, b, a): "b" is never seen in training and gets a column of exact zeros in its position
    clf = LinearClassifier(("c", "b", "a")).fit(X_SYM, Y_SYM)
    w = reference_weight(DEFAULT_C)
    proba = clf.predict_proba(np.array([[3.0], [-3.0]]))
    assert proba.shape == (2, 3)
    np.testing.assert_array_equal(proba[:, 1], [0.0, 0.0])
    np.testing.assert_allclose(proba[:, 2], [sigmoid(3 * w), sigmoid(-3 * w)], atol=1e-4)  # "a"
    np.testing.assert_allclose(proba[:, 0], [sigmoid(-3 * w), sigmoid(3 * w)], atol=1e-4)  # "c"
    np.testing.assert_allclose(proba.sum(axis=1), [1.0, 1.0], atol=1e-12)
    assert clf.predict(np.array([[3.0], [-3.0]])).tolist() == [2, 0]


def test_unseen_label_in_the_middle_of_a_three_class_fit():
    X = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 2.0], [-1.0, -1.0], [-2.0, -2.0]])
    y = ["a", "a", "b", "b", "d", "d"]
    clf = LinearClassifier(("a", "b", "c", "d")).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (6, 4)
    np.testing.assert_array_equal(proba[:, 2], np.zeros(6))
    np.testing.assert_allclose(proba.sum(axis=1), np.ones(6), atol=1e-12)
    assert clf.predict(X).tolist() == [0, 0, 1, 1, 3, 3]
    assert clf.classes_.tolist() == [0, 1, 3]


def test_single_class_training_predicts_that_class_with_probability_one():
    clf = LinearClassifier(("x", "y", "z")).fit(np.array([[1.0], [5.0]]), ["y", "y"])
    proba = clf.predict_proba(np.array([[0.0], [-100.0], [100.0]]))
    np.testing.assert_array_equal(proba, [[0.0, 1.0, 0.0]] * 3)
    assert clf.predict(np.array([[7.0]])).tolist() == [1]


def test_one_training_row():
    clf = LinearClassifier(("x", "y")).fit(np.array([[1.0, 2.0]]), ["x"])
    np.testing.assert_array_equal(clf.predict_proba(np.array([[9.0, 9.0]])), [[1.0, 0.0]])


def test_identical_rows_with_two_labels_give_equal_probabilities():
    X = np.ones((4, 2))
    clf = LinearClassifier(("a", "b")).fit(X, ["a", "b", "a", "b"])
    np.testing.assert_allclose(clf.predict_proba(np.ones((1, 2))), [[0.5, 0.5]], atol=1e-6)


def test_predict_proba_of_zero_rows_single_class():
    single = LinearClassifier(("a", "c")).fit(X_SYM[:2], Y_SYM[:2])
    assert single.predict_proba(np.zeros((0, 1))).shape == (0, 2)


def test_fit_is_deterministic_and_picklable():
    a = LinearClassifier(("a", "c")).fit(X_SYM, Y_SYM)
    b = LinearClassifier(("a", "c")).fit(X_SYM, Y_SYM)
    xs = np.array([[0.3], [-1.7]])
    np.testing.assert_array_equal(a.predict_proba(xs), b.predict_proba(xs))
    c = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(a.predict_proba(xs), c.predict_proba(xs))


@pytest.mark.parametrize(
    ("X", "y"),
    [
        (np.zeros((0, 2)), []),
        (np.zeros((3, 2)), ["a", "a"]),
        (np.zeros((1, 2)), ["a", "a"]),
    ],
)
def test_fit_errors_on_row_label_mismatch_or_empty(X, y):
    with pytest.raises(ValueError, match=rf"at least one row, got {len(X)} rows and {len(y)} labels"):
        LinearClassifier(("a", "b")).fit(X, y)


def test_fit_unknown_label_error_names_the_label():
    with pytest.raises(ValueError, match="'zzz'"):
        LinearClassifier(("a", "b")).fit(np.zeros((2, 1)), ["a", "zzz"])


def test_fit_unknown_label_raises_value_error():
    with pytest.raises(ValueError):
        LinearClassifier(("a", "b")).fit(np.zeros((2, 1)), ["a", "zzz"])


# --- accuracy_and_macro_f1 ------------------------------------------------------------------------------------------


def test_metrics_docstring_example():
    # label 0: P = 2/3, R = 1 -> F1 = 0.8; label 1: P = 1, R = 1/2 -> F1 = 2/3; macro = 11/15
    acc, f1 = accuracy_and_macro_f1(np.array([0, 0, 1, 1]), np.array([0, 0, 0, 1]), 2)
    assert acc == pytest.approx(0.75, abs=1e-12)
    assert f1 == pytest.approx(11 / 15, abs=1e-12)


def test_metrics_perfect():
    assert accuracy_and_macro_f1(np.array([0, 1, 2]), np.array([0, 1, 2]), 3) == (1.0, 1.0)


def test_metrics_all_wrong():
    assert accuracy_and_macro_f1(np.array([0, 0, 1]), np.array([1, 1, 0]), 2) == (0.0, 0.0)


def test_metrics_true_label_never_predicted_counts_as_zero():
    # label 0: P = 2/4, R = 1 -> F1 = 2/3; label 1 (never predicted): F1 = 0; macro = 1/3
    acc, f1 = accuracy_and_macro_f1(np.array([0, 0, 1, 1]), np.array([0, 0, 0, 0]), 2)
    assert acc == pytest.approx(0.5, abs=1e-12)
    assert f1 == pytest.approx(1 / 3, abs=1e-12)


def test_metrics_predicted_label_absent_from_truth_counts_as_zero():
    # label 0: P = 1, R = 1/2 -> F1 = 2/3; label 2 (predicted, never true): F1 = 0; macro = 1/3
    acc, f1 = accuracy_and_macro_f1(np.array([0, 0]), np.array([0, 2]), 3)
    assert acc == pytest.approx(0.5, abs=1e-12)
    assert f1 == pytest.approx(1 / 3, abs=1e-12)


def test_metrics_labels_absent_and_unpredicted_are_skipped():
    # n_labels = 5 but only labels 0 and 1 occur: the same score as with n_labels = 2
    yt, yp = np.array([0, 0, 1, 1]), np.array([0, 0, 0, 1])
    assert accuracy_and_macro_f1(yt, yp, 5) == accuracy_and_macro_f1(yt, yp, 2)


def test_metrics_one_label_only():
    assert accuracy_and_macro_f1(np.array([1, 1, 1]), np.array([1, 1, 1]), 3) == (1.0, 1.0)


def test_metrics_one_sample():
    assert accuracy_and_macro_f1(np.array([2]), np.array([2]), 3) == (1.0, 1.0)
    assert accuracy_and_macro_f1(np.array([2]), np.array([0]), 3) == (0.0, 0.0)


def test_metrics_three_labels_exact():
    # y_true 0 0 1 1 2 2, y_pred 0 1 1 1 2 0
    # label 0: TP1 FP1 FN1 -> 1/2; label 1: TP2 FP1 FN0 -> 4/5; label 2: TP1 FP0 FN1 -> 2/3
    acc, f1 = accuracy_and_macro_f1(np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1, 1, 1, 2, 0]), 3)
    assert acc == pytest.approx(4 / 6, abs=1e-12)
    assert f1 == pytest.approx((1 / 2 + 4 / 5 + 2 / 3) / 3, abs=1e-12)


def test_metrics_return_python_floats():
    acc, f1 = accuracy_and_macro_f1(np.array([0, 1]), np.array([0, 1]), 2)
    assert type(acc) is float and type(f1) is float


def test_metrics_empty_split_error():
    with pytest.raises(ValueError, match="cannot score on an empty split"):
        accuracy_and_macro_f1(np.array([], dtype=int), np.array([], dtype=int), 2)
