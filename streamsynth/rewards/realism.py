"""Realism: can a classifier tell the set from the task's real data? A classifier two-sample test (C2ST).

Lopez-Paz & Oquab (ICLR 2017): train a classifier to separate two samples; if it does no better than chance on
held-out points, the samples come from the same distribution. Here the two samples are the task's real judge
split (``m`` rows, label "real") and the submitted set (``n`` rows, label "synthetic"); each row is described by
its sentence embedding **and** a few style features (:func:`style_features`: length, word length, repeated
words, stop-word share, punctuation, case, digits, non-ASCII letters), because templates, repetitions and word
bags hide from sentence embeddings but not from these.

The classifier is an L2-regularised logistic regression (C = 0.1) on standardised features with balanced class
weights (so the real split's larger size sets no prior). Every synthetic row is scored by a model that did not
see it (``k``-fold, ``k = min(5, n)``, folds drawn from ``seed``; each fold trains on at most ``max_train`` = 2,000
synthetic rows, so the cost stays linear in n), giving ``p_i = P(real | x_i)``; then

    realism_i = min(1, 2 p_i)

is 1 when the row is as likely real as synthetic (the test cannot tell) and falls to 0 as the row becomes
recognisable. The set's realism is the mean. Measured on the reward validity battery (16 per label, MiniLM):
real held-out data 0.86-0.99, keyword bags, templates, repetitions, random strings, edited seed examples and
other-language text 0.01-0.10 (``docs/results/reward-validity.md``).

A set of fewer than 2 rows cannot be tested (no synthetic row is left to train on): each row gets realism 1.

**Context rows.** ``context`` (synthetic rows the env has already seen in the task: the accepted set and recent
drafts) joins every fold's training set and is never scored. This is how drafts are scored: without it a draft's
realism depends on how many drafts share its step, since a classifier trained on the 3 other rows of a 4-draft
step cannot tell synthetic from real. Measured on 32 samples SynLearner wrote for movie-sentiment (MiniLM): mean
realism 0.62 drafted 4 at a time, 0.20 drafted all at once; product-sentiment 0.17 against 0.02.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from streamsynth.config import check_int

STYLE_FEATURES = ("log_chars", "log_words", "mean_word_length", "distinct_word_share", "stop_word_share",
                  "punctuation_share", "uppercase_share", "digit_share", "non_ascii_share")
_STOP = frozenset(
    "the a an and or but of to in on at for with by from as is are was were be it its this that i you he she we "
    "they not no so if than very can will just what which who how when where why all any some do does did has have "
    "had there here about".split()
)
_EDGE = re.compile(r"^\W+|\W+$")
DEFAULT_C = 0.1
DEFAULT_FOLDS = 5
MAX_TRAIN = 2000
"""Most synthetic rows each fold's classifier trains on (a seeded random subset beyond that): the cost of a test
stays linear in the set size (every row is still scored), measured 16k/1k = 28.9 without the cap."""


def style_features(texts: Sequence[str]) -> np.ndarray:
    """(n, 9) style features of each text, in :data:`STYLE_FEATURES` order: log(1 + characters),
    log(1 + words), mean word length, distinct words / words, stop words / words, punctuation / characters,
    uppercase / characters, digits / characters, non-ASCII characters / characters (0 for an empty text).

    >>> style_features(["The cat sat."]).round(3).tolist()
    [[2.565, 1.386, 3.0, 1.0, 0.333, 0.083, 0.083, 0.0, 0.0]]
    """
    rows = []
    for text in texts:
        words = text.split()
        bare = [_EDGE.sub("", w.lower()) for w in words]
        nw, nc = max(len(words), 1), max(len(text), 1)
        rows.append([
            np.log1p(len(text)),
            np.log1p(len(words)),
            float(np.mean([len(w) for w in bare])) if words else 0.0,
            len(set(bare)) / nw if words else 0.0,
            sum(w in _STOP for w in bare) / nw if words else 0.0,
            sum(not c.isalnum() and not c.isspace() for c in text) / nc,
            sum(c.isupper() for c in text) / nc,
            sum(c.isdigit() for c in text) / nc,
            sum(ord(c) > 127 for c in text) / nc,
        ])
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(STYLE_FEATURES))


def realism_features(vectors: np.ndarray, texts: Sequence[str]) -> np.ndarray:
    """The C2ST's description of each row: its embedding next to its :func:`style_features`."""
    if len(vectors) != len(texts):
        raise ValueError(f"{len(vectors)} vectors but {len(texts)} texts")
    return np.hstack([np.asarray(vectors, dtype=np.float64), style_features(texts)])


def two_sample_realism(real: np.ndarray, synthetic: np.ndarray, *, context: np.ndarray | None = None,
                       folds: int = DEFAULT_FOLDS, C: float = DEFAULT_C, seed: int = 0,
                       max_train: int = MAX_TRAIN) -> np.ndarray:
    """Per-row realism of ``synthetic`` against ``real`` (both (rows, features)): ``min(1, 2 P(real | x_i))``
    from an out-of-fold logistic regression (see the module docstring); ``context`` rows are synthetic training
    rows of every fold, never scored (None or empty: exactly the test without them). Deterministic for a given
    ``seed``.

    >>> rng = np.random.default_rng(0)
    >>> real = rng.normal(size=(200, 5))
    >>> same = two_sample_realism(real, rng.normal(size=(40, 5)))
    >>> shifted = two_sample_realism(real, rng.normal(loc=3.0, size=(40, 5)))
    >>> bool(same.mean() > 0.8), bool(shifted.mean() < 0.2)
    (True, True)
    >>> few = rng.normal(loc=1.0, size=(4, 5))  # 4 rows alone: too few to learn from; with 60 seen before: found
    >>> bool(two_sample_realism(real, few).mean() > 0.5)
    True
    >>> bool(two_sample_realism(real, few, context=rng.normal(loc=1.0, size=(60, 5))).mean() < 0.5)
    True
    """
    from sklearn.linear_model import LogisticRegression

    real = np.asarray(real, dtype=np.float64)
    synthetic = np.asarray(synthetic, dtype=np.float64)
    if real.ndim != 2 or synthetic.ndim != 2 or real.shape[1] != synthetic.shape[1]:
        raise ValueError(f"real and synthetic must be 2-D with the same columns, got {real.shape} and "
                         f"{synthetic.shape}")
    if len(real) < 2:
        raise ValueError(f"the real reference needs at least 2 rows, got {len(real)}")
    check_int("folds", folds, 2)
    check_int("max_train", max_train, 2)
    ctx = np.zeros((0, real.shape[1])) if context is None else np.asarray(context, dtype=np.float64)
    if ctx.ndim != 2 or ctx.shape[1] != real.shape[1]:
        raise ValueError(f"context must be 2-D with the columns of real ({real.shape[1]}), got {ctx.shape}")
    n, m, c = len(synthetic), len(real), len(ctx)
    if n == 0 or (n < 2 and c == 0):
        return np.ones(n)
    X = np.vstack([real, ctx, synthetic])
    X = (X - X.mean(axis=0)) / (X.std(axis=0) + 1e-6)
    y = np.r_[np.ones(m), np.zeros(c + n)]
    k = min(folds, n) if n >= 2 else 1  # one row with context: one model trained on the real rows and the context
    rng = np.random.default_rng(seed)
    real_fold = rng.permutation(m) % k if k > 1 else np.full(m, -1)
    fold = np.r_[real_fold, np.full(c, -1), rng.permutation(n) % k]  # -1: in every fold's training set
    first = m + c  # index of the first scored row
    p_real = np.empty(n)
    for f in range(k):
        train = fold != f
        syn_train = np.flatnonzero(train[m:]) + m
        if len(syn_train) > max_train:
            train[rng.choice(syn_train, size=len(syn_train) - max_train, replace=False)] = False
        held = np.flatnonzero(fold[first:] == f) + first
        model = LogisticRegression(C=C, class_weight="balanced", max_iter=500).fit(X[train], y[train])
        p_real[held - first] = model.predict_proba(X[held])[:, 1]
    return np.minimum(1.0, 2.0 * p_real)
