"""The linear classifier behind the judge (label fidelity) and the student (utility).

A multinomial logistic regression on sentence embeddings: cheap (well under a second for thousands of samples on
2 cores), deterministic, and its probabilities are fitted by log-loss, so they are reasonably calibrated.
When the training set holds a single label the classifier predicts that label for everything (what any
classifier trained on one class does); it never fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_C = 4.0


@dataclass
class LinearClassifier:
    """Logistic regression over a fixed, ordered label set.

    ``predict_proba`` always returns one column per label of ``label_set`` (labels unseen in training get 0).
    The judge's label fidelity of a sample ``x`` written for label ``y`` is ``predict_proba(x)[y]``.

    >>> X = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> judge = LinearClassifier(("pos", "neg", "neutral")).fit(X, ["pos", "pos", "neg", "neg"])
    >>> p = judge.predict_proba(np.array([[1.0, 0.0]]))
    >>> p.shape, bool(p[0, 0] > 0.5), float(p[0, 2])
    ((1, 3), True, 0.0)
    """

    label_set: tuple[str, ...]
    C: float = DEFAULT_C
    max_iter: int = 1000

    def fit(self, X: np.ndarray, y: Sequence[str]) -> LinearClassifier:
        from sklearn.linear_model import LogisticRegression

        if len(X) != len(y) or len(y) == 0:
            raise ValueError(f"need as many labels as rows and at least one row, got {len(X)} rows and {len(y)} labels")
        unknown = sorted({str(lbl) for lbl in y} - set(self.label_set))
        if unknown:
            raise ValueError(f"labels {unknown} are not in the label set {list(self.label_set)}")
        idx = np.array([self.label_set.index(lbl) for lbl in y])
        self.classes_ = np.unique(idx)
        if len(self.classes_) == 1:
            self._model = None
        else:
            self._model = LogisticRegression(C=self.C, max_iter=self.max_iter)
            self._model.fit(X, idx)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        out = np.zeros((len(X), len(self.label_set)), dtype=np.float64)
        if self._model is None:
            out[:, self.classes_[0]] = 1.0
        else:
            out[:, self._model.classes_] = self._model.predict_proba(X)
        return out

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Indices into ``label_set``."""
        return self.predict_proba(X).argmax(axis=1)


def accuracy_and_macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_labels: int) -> tuple[float, float]:
    """Accuracy and macro-F1 over all ``n_labels`` labels (a label never predicted nor present counts F1 = 0
    only if it is present in ``y_true``; absent-and-unpredicted labels are skipped).

    >>> accuracy_and_macro_f1(np.array([0, 0, 1, 1]), np.array([0, 0, 0, 1]), 2)
    (0.75, 0.7333333333333334)
    """
    from sklearn.metrics import f1_score

    if len(y_true) == 0:
        raise ValueError("cannot score on an empty split")
    acc = float(np.mean(y_true == y_pred))
    present = np.union1d(np.unique(y_true), np.unique(y_pred))
    f1 = float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0))
    return acc, f1
