"""Per-task scoring resources: the judge (label fidelity), the student (utility) and the gold student.

A :class:`TaskScorer` is built once per task from the task's real splits (DESIGN §3):

- **judge** split trains the judge: ``fidelity_i = P_judge(label_i | x_i)``, a logistic regression on embeddings;
- **dev** split (env-private) scores the student trained on the synthetic set: ``utility = macro-F1_dev``, and
  credits each sample with its own share (``utility_gains``: the first-order dev log-loss decrease of a gradient
  step on it, :mod:`streamsynth.rewards.influence`);
- **realism** (:mod:`streamsynth.rewards.realism`): a classifier two-sample test of the set against the judge
  split (sentence embeddings + style features), ``realism_i = min(1, 2 P(real | x_i))`` out of fold;
- the **gold student** is the same student trained on the same number of real judge-split samples
  (stratified, seeded), so ``utility_relative = utility / gold``.

The **test** split never reaches a scorer: it is evaluation-only and lives with the evaluation harness
(:class:`streamsynth.evaluation.evaluator.Evaluator`), out of the environment's (and so the agent's) reach.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from streamsynth.rewards.classifiers import DEFAULT_C, LinearClassifier, accuracy_and_macro_f1
from streamsynth.rewards.embeddings import Embedder
from streamsynth.rewards.features import classifier_features, field_embeddings, sample_vectors
from streamsynth.rewards.influence import influence_gains
from streamsynth.rewards.realism import realism_features, two_sample_realism
from streamsynth.tasks.spec import LABEL_KEY, Task


@dataclass
class EncodedSet:
    """Vectors of a list of samples: ``vectors`` (n, D) for diversity, ``features`` (n, F) for classifiers,
    ``labels`` (n,) label indices, ``texts`` the fields joined by a space (lexical diversity)."""

    vectors: np.ndarray
    features: np.ndarray
    labels: np.ndarray
    texts: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, idx: Sequence[int] | np.ndarray) -> EncodedSet:
        idx = np.asarray(idx, dtype=int)
        return EncodedSet(self.vectors[idx], self.features[idx], self.labels[idx], [self.texts[i] for i in idx])

    @staticmethod
    def concat(parts: Sequence[EncodedSet]) -> EncodedSet:
        parts = [p for p in parts if len(p)]
        if not parts:
            raise ValueError("nothing to concatenate")
        return EncodedSet(
            np.concatenate([p.vectors for p in parts]),
            np.concatenate([p.features for p in parts]),
            np.concatenate([p.labels for p in parts]),
            [t for p in parts for t in p.texts],
        )


def stratified_subset(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of ``n`` rows drawn per label in proportion to the label counts (largest remainder), seeded.

    >>> stratified_subset(np.array([0, 0, 0, 1, 1, 1]), 4, seed=0).size
    4
    """
    n = min(int(n), len(labels))
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts / counts.sum() * n
    take = np.floor(quota).astype(int)
    for i in np.argsort(-(quota - take), kind="stable")[: n - take.sum()]:
        take[i] += 1
    picked = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, take)]
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=int)


class TaskScorer:
    """Judge, student and gold student of one task (see the module docstring)."""

    def __init__(
        self,
        task: Task,
        judge: Sequence[Mapping[str, str]],
        dev: Sequence[Mapping[str, str]],
        embedder: Embedder,
        *,
        C: float = DEFAULT_C,
        seed: int = 0,
    ) -> None:
        self.task = task
        self.label_set = task.label_names
        self.embedder = embedder
        self.C = C
        self.seed = seed
        self._judge_set = self.encode(judge)
        self._dev_set = self.encode(dev)
        self.judge = LinearClassifier(self.label_set, C=C).fit(self._judge_set.features, self._names(self._judge_set))
        self._gold_dev: dict[int, tuple[float, float]] = {}
        self._real_features: np.ndarray | None = None

    def _names(self, enc: EncodedSet) -> list[str]:
        return [self.label_set[i] for i in enc.labels]

    def encode(self, samples: Sequence[Mapping[str, str]]) -> EncodedSet:
        """Embed samples that already passed validity checks (fields present, known labels)."""
        fields = self.task.fields
        if not samples:
            dim = self.embedder.dim
            nf = len(fields)
            fdim = dim * (4 if nf == 2 else nf)
            return EncodedSet(np.zeros((0, dim), np.float32), np.zeros((0, fdim), np.float32), np.zeros(0, int), [])
        per_field = field_embeddings(samples, fields, self.embedder)
        labels = np.array([self.label_set.index(s[LABEL_KEY]) for s in samples], dtype=int)
        texts = [" ".join(s[f] for f in fields) for s in samples]
        return EncodedSet(sample_vectors(per_field), classifier_features(per_field), labels, texts)

    def fidelity(self, enc: EncodedSet) -> np.ndarray:
        """``P_judge(label_i | x_i)`` for each sample, in [0, 1]."""
        if len(enc) == 0:
            return np.zeros(0)
        proba = self.judge.predict_proba(enc.features)
        return proba[np.arange(len(enc)), enc.labels]

    def realism(self, enc: EncodedSet, context: EncodedSet | None = None) -> np.ndarray:
        """Per-sample realism of the set ``enc`` against the judge split (classifier two-sample test, seeded by
        the scorer's seed; see :mod:`streamsynth.rewards.realism`): in [0, 1], 1 = indistinguishable from real.
        ``context``: synthetic samples seen before, training rows of the test that are not scored."""
        if len(enc) == 0:
            return np.zeros(0)
        if self._real_features is None:
            self._real_features = realism_features(self._judge_set.vectors, self._judge_set.texts)
        seen = realism_features(context.vectors, context.texts) if context is not None and len(context) else None
        return two_sample_realism(self._real_features, realism_features(enc.vectors, enc.texts), context=seen,
                                  seed=self.seed)

    def _student_scores(self, train: EncodedSet, evalset: EncodedSet) -> tuple[float, float]:
        student = LinearClassifier(self.label_set, C=self.C).fit(train.features, self._names(train))
        return accuracy_and_macro_f1(evalset.labels, student.predict(evalset.features), len(self.label_set))

    def utility(self, enc: EncodedSet) -> tuple[float, float]:
        """(accuracy, macro-F1) on the dev split of a student trained on ``enc``; (0, 0) for an empty set."""
        if len(enc) == 0:
            return 0.0, 0.0
        return self._student_scores(enc, self._dev_set)

    def utility_gains(self, base: EncodedSet, candidates: EncodedSet) -> np.ndarray:
        """Per-candidate utility credit against the set ``base``: the first-order decrease of the dev log-loss of
        the student trained on ``base`` when it takes a gradient step on the candidate
        (:func:`~streamsynth.rewards.influence.influence_gains`). An empty ``base`` is the untrained student
        (uniform probabilities). One student fit per call, whatever the number of candidates."""
        if len(candidates) == 0:
            return np.zeros(0)
        n_labels = len(self.label_set)
        dev = self._dev_set
        if len(base):
            student = LinearClassifier(self.label_set, C=self.C).fit(base.features, self._names(base))
            dev_proba, proba = student.predict_proba(dev.features), student.predict_proba(candidates.features)
        else:
            dev_proba = np.full((len(dev), n_labels), 1.0 / n_labels)
            proba = np.full((len(candidates), n_labels), 1.0 / n_labels)
        return influence_gains(dev_proba, dev.features, dev.labels, proba, candidates.features, candidates.labels)

    def _gold(self, n: int, evalset: EncodedSet, cache: dict[int, tuple[float, float]]) -> tuple[float, float]:
        n = min(n, len(self._judge_set))
        if n <= 0:
            return 0.0, 0.0
        if n not in cache:
            idx = stratified_subset(self._judge_set.labels, n, seed=self.seed + n)
            cache[n] = self._student_scores(self._judge_set.take(idx), evalset)
        return cache[n]

    def gold_utility(self, n: int) -> tuple[float, float]:
        """(accuracy, macro-F1) on dev of the student trained on ``n`` real judge-split samples (cached by n)."""
        return self._gold(n, self._dev_set, self._gold_dev)
