"""Test-split reports, owned by the evaluation harness: the only place the real test split lives.

The environment an agent holds never sees a task's test split (it keeps seed, judge and dev only), so an agent
cannot score its data on the test split nor read it. The harness (``run_experiment``, probes, your own loop) owns
an :class:`Evaluator` instead, built from the same settings as the env (the stream's tasks, :class:`SplitSizes`,
``data_seed``, and the env's embedder object, so the embedding model is loaded once). For each task it re-derives
the splits itself (:func:`~streamsynth.tasks.splits.load_splits` is deterministic: the same judge and test
samples as the env's), lazily, once.

``Evaluator.report(task, samples)`` trains each **student** on ``samples`` and, as a reference, the same student
on the same number N of real judge-split samples (the **gold** student: stratified by label, seed
``data_seed + N``, as the env's gold utility), and scores both on the test split:

- ``n`` (N, the number of samples) and ``test_size``;
- per student: ``test_accuracy``, ``test_macro_f1``, ``gold_test_accuracy``, ``gold_test_macro_f1``. The
  ``linear`` student's figures carry these names as they are (the names reports have always used); any other
  student's carry its name as a prefix, e.g. ``finetune_test_accuracy``.

Students are a plain dict, :data:`STUDENTS`, name -> factory: ``factory(data)`` gets one task's
:class:`TaskEvalData` and returns a scorer ``scorer(samples) -> {key: value}`` with the four keys above, kept for
the task's later reports (so it can cache what it computed, e.g. its gold figures by N). ``linear``
(:class:`LinearStudent`, the env's utility student: logistic regression, C = 4, on frozen embeddings) and
``finetune`` (:class:`FineTuneStudent`: MiniLM fine-tuned end to end, the realistic student; its gold figures are
cached on disk) are built in. Choose with ``Evaluator(..., students=("linear",))`` or pass a mapping name -> factory.

Usage, on the harness side of a Gymnasium loop::

    evaluator = Evaluator.for_env(env)                    # the env's tasks, split sizes, data seed, embedder
    ...                                                   # play a task to its end
    evaluator.report(info["task"], env.unwrapped.dataset)  # {"n": 32, "test_accuracy": 0.81, ...}
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from streamsynth.errors import TaskError
from streamsynth.io import write_json
from streamsynth.paths import cache_dir
from streamsynth.rewards import single_threaded_blas
from streamsynth.rewards.classifiers import DEFAULT_C, LinearClassifier, accuracy_and_macro_f1
from streamsynth.rewards.embeddings import CachedEmbedder, Embedder, get_embedder
from streamsynth.rewards.features import classifier_features, field_embeddings
from streamsynth.rewards.scorer import stratified_subset
from streamsynth.tasks.spec import LABEL_KEY, Sample, Task
from streamsynth.tasks.splits import SplitSizes, load_splits

STUDENT_KEYS = ("test_accuracy", "test_macro_f1", "gold_test_accuracy", "gold_test_macro_f1")
"""The figures every student returns (unprefixed)."""

UNPREFIXED_STUDENT = "linear"
"""The student whose figures keep the plain :data:`STUDENT_KEYS` names in reports."""


@dataclass
class TaskEvalData:
    """What evaluating one task needs, cut exactly as the env cuts the task's real data.

    Attributes:
        task: the task.
        judge: the judge split (the gold students train on stratified subsets of it, :meth:`gold_indices`).
        test: the test split, which scores every student.
        embedder: the shared embedder (the env's): the agent's samples and the judge split, already embedded there.
        test_embedder: the same model behind an in-memory cache of its own, for the test split, so that test texts
            never enter the cache of the env's embedder (where an agent could read them).
        seed: ``data_seed``; the gold subset of N samples is drawn with seed ``seed + N``.
    """

    task: Task
    judge: list[Sample]
    test: list[Sample]
    embedder: Embedder
    test_embedder: Embedder
    seed: int

    def gold_indices(self, n: int) -> np.ndarray:
        """Indices into :attr:`judge` of the gold training set of size ``n`` (capped at the judge size): stratified
        by label, seeded by ``seed + n``, as the env's gold utility draws it. Empty for ``n <= 0``."""
        n = min(int(n), len(self.judge))
        if n <= 0:
            return np.zeros(0, dtype=int)
        labels = np.array([self.task.label_names.index(s[LABEL_KEY]) for s in self.judge], dtype=int)
        return stratified_subset(labels, n, seed=self.seed + n)


StudentScorer = Callable[[Sequence[Mapping[str, str]]], Mapping[str, float]]
StudentFactory = Callable[[TaskEvalData], StudentScorer]


class LinearStudent:
    """The linear student of one task: logistic regression (``C``) on frozen embedding features, the student of
    the env's utility reward, trained on the given samples and on the gold subset of the judge split of the same
    size, both scored on the test split. Encodings and gold figures (by N) are computed once."""

    def __init__(self, data: TaskEvalData, C: float = DEFAULT_C) -> None:
        self.data = data
        self.C = C
        self.label_set = data.task.label_names
        self._test: tuple[np.ndarray, np.ndarray] | None = None
        self._judge: tuple[np.ndarray, np.ndarray] | None = None
        self._gold: dict[int, tuple[float, float]] = {}

    def _encode(self, samples: Sequence[Mapping[str, str]], embedder: Embedder) -> tuple[np.ndarray, np.ndarray]:
        """(features (n, F), label indices (n,)), the features of the env's judge and student."""
        features = classifier_features(field_embeddings(samples, self.data.task.fields, embedder))
        return features, np.array([self.label_set.index(s[LABEL_KEY]) for s in samples], dtype=int)

    def _scores(self, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """(accuracy, macro-F1) on the test split of the student trained on ``X``, ``y`` (label indices)."""
        if self._test is None:
            self._test = self._encode(self.data.test, self.data.test_embedder)
        student = LinearClassifier(self.label_set, C=self.C).fit(X, [self.label_set[i] for i in y])
        X_test, y_test = self._test
        return accuracy_and_macro_f1(y_test, student.predict(X_test), len(self.label_set))

    def _gold_scores(self, n: int) -> tuple[float, float]:
        n = min(n, len(self.data.judge))
        if n <= 0:
            return 0.0, 0.0
        if n not in self._gold:
            if self._judge is None:
                self._judge = self._encode(self.data.judge, self.data.embedder)
            idx = self.data.gold_indices(n)
            self._gold[n] = self._scores(self._judge[0][idx], self._judge[1][idx])
        return self._gold[n]

    def __call__(self, samples: Sequence[Mapping[str, str]]) -> dict[str, float]:
        acc, f1 = (0.0, 0.0) if not samples else self._scores(*self._encode(samples, self.data.embedder))
        gacc, gf1 = self._gold_scores(len(samples))
        return {"test_accuracy": acc, "test_macro_f1": f1, "gold_test_accuracy": gacc, "gold_test_macro_f1": gf1}


class FineTuneStudent:
    """The realistic student of one task: MiniLM fine-tuned end to end on the given samples
    (:class:`~streamsynth.evaluation.finetune.FineTunedStudent`, seeded by ``data_seed``), and the same on the gold
    subset of the judge split of the same size, both scored on the test split.

    The gold figures depend only on the task's real data, N, the seed and the student's settings, and cost as much
    as the student itself, so they are cached on disk (``<cache>/students/finetune-gold-<key>.json``, one file per
    key, written atomically: parallel runs never clobber each other), keyed by a hash of the gold training texts,
    the test texts and the settings.
    """

    def __init__(self, data: TaskEvalData, config: Any = None, device: str = "cpu") -> None:
        from streamsynth.evaluation.finetune import FineTuneConfig

        self.data = data
        self.config = config or FineTuneConfig(seed=data.seed)
        self.device = device
        self._gold: dict[int, tuple[float, float]] = {}

    def _scores(self, samples: Sequence[Mapping[str, str]]) -> tuple[float, float]:
        from streamsynth.evaluation.finetune import finetune_scores

        task = self.data.task
        return finetune_scores(samples, self.data.test, task.label_names, task.fields, self.config, self.device)

    def _gold_path(self, gold: Sequence[Mapping[str, str]]) -> Path:
        digest = hashlib.sha256()
        for part in (json.dumps(self.config.to_dict(), sort_keys=True), json.dumps(list(gold), sort_keys=True),
                     json.dumps(list(self.data.test), sort_keys=True)):
            digest.update(part.encode("utf-8"))
        return cache_dir() / "students" / f"finetune-gold-{digest.hexdigest()[:24]}.json"

    def _gold_scores(self, n: int) -> tuple[float, float]:
        idx = self.data.gold_indices(n)
        if len(idx) == 0:
            return 0.0, 0.0
        if len(idx) not in self._gold:
            gold = [self.data.judge[i] for i in idx]
            path = self._gold_path(gold)
            scores = _read_gold(path)
            if scores is None:  # absent or damaged: compute it, once per machine (parallel cells wait and reuse it)
                path.parent.mkdir(parents=True, exist_ok=True)
                with FileLock(f"{path}.lock"):
                    scores = _read_gold(path)
                    if scores is None:
                        scores = self._scores(gold)
                        write_json(path, {"task": self.data.task.name, "n": len(idx), "accuracy": scores[0],
                                          "macro_f1": scores[1]})
            self._gold[len(idx)] = scores
        return self._gold[len(idx)]

    def __call__(self, samples: Sequence[Mapping[str, str]]) -> dict[str, float]:
        acc, f1 = (0.0, 0.0) if not samples else self._scores(samples)
        gacc, gf1 = self._gold_scores(len(samples))
        return {"test_accuracy": acc, "test_macro_f1": f1, "gold_test_accuracy": gacc, "gold_test_macro_f1": gf1}


def _read_gold(path: Path) -> tuple[float, float] | None:
    """The cached gold ``(accuracy, macro_f1)`` at ``path``, or None when absent or damaged."""
    try:
        cached = json.loads(path.read_text())
        return float(cached["accuracy"]), float(cached["macro_f1"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


STUDENTS: dict[str, StudentFactory] = {"linear": LinearStudent, "finetune": FineTuneStudent}
"""Built-in students by name (see the module docstring)."""


def report_key(student: str, key: str) -> str:
    """The name of a student's figure in reports.

    >>> report_key("linear", "test_accuracy"), report_key("finetune", "gold_test_accuracy")
    ('test_accuracy', 'finetune_gold_test_accuracy')
    """
    return key if student == UNPREFIXED_STUDENT else f"{student}_{key}"


class Evaluator:
    """Test-split reports of synthetic datasets (see the module docstring); owned by the harness, never the agent.

    Args:
        tasks: the stream's tasks: a built-in stream or task name, or a list of tasks or task names (an env's
            ``tasks``). :meth:`report` also accepts a :class:`Task` outside this list.
        split_sizes: the env's :class:`SplitSizes` (or a mapping of its fields); default ``SplitSizes()``.
        data_seed: the env's ``data_seed``.
        embedder: an :class:`Embedder` (share the env's: ``env.unwrapped.embedder``) or a spec (``"minilm"``,
            ``"hashing"``...) built on first use.
        students: student names from :data:`STUDENTS`, in report order, or a mapping name -> factory.
    """

    def __init__(
        self,
        tasks: str | Task | Sequence[Task | str],
        *,
        split_sizes: SplitSizes | Mapping[str, int] | None = None,
        data_seed: int = 0,
        embedder: str | Embedder = "minilm",
        students: Sequence[str] | Mapping[str, StudentFactory] = (UNPREFIXED_STUDENT,),
    ) -> None:
        from streamsynth.tasks import get_stream, get_task

        if isinstance(tasks, str):
            tasks = get_stream(tasks)
        elif isinstance(tasks, Task):
            tasks = [tasks]
        self.tasks: dict[str, Task] = {}
        for t in tasks:
            t = t if isinstance(t, Task) else get_task(t)
            self.tasks[t.name] = t
        self.split_sizes = split_sizes if isinstance(split_sizes, SplitSizes) else SplitSizes(**dict(split_sizes or {}))
        self.data_seed = int(data_seed)
        self._embedder_spec = embedder
        self._embedder: Embedder | None = embedder if isinstance(embedder, Embedder) else None
        if isinstance(students, str):
            students = (students,)
        if isinstance(students, Mapping):
            self.students: dict[str, StudentFactory] = dict(students)
        else:
            unknown = [s for s in students if s not in STUDENTS]
            if unknown:
                raise ValueError(f"unknown student(s) {unknown}; known: {list(STUDENTS)}")
            self.students = {s: STUDENTS[s] for s in students}
        if not self.students:
            raise ValueError("an Evaluator needs at least one student")
        self._data: dict[str, TaskEvalData] = {}
        self._scorers: dict[tuple[str, str], StudentScorer] = {}

    @classmethod
    def for_env(cls, env: Any, *, students: Sequence[str] | Mapping[str, StudentFactory] = (UNPREFIXED_STUDENT,)
                ) -> Evaluator:
        """An evaluator of ``env``'s stream (a ``StreamSynthEnv`` or a wrapper of one): its ``tasks``,
        ``split_sizes``, ``data_seed`` and embedder object (the embedding model is shared, not loaded again)."""
        env = env.unwrapped
        return cls(env.tasks, split_sizes=env.config.split_sizes, data_seed=env.config.data_seed, embedder=env.embedder,
                   students=students)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder(str(self._embedder_spec))
        return self._embedder

    def _task(self, task: str | Task) -> Task:
        if isinstance(task, Task):
            return self.tasks.setdefault(task.name, task)
        if task not in self.tasks:
            raise TaskError(f"task {task!r} is not one of this evaluator's tasks: {list(self.tasks)}")
        return self.tasks[task]

    def task_data(self, task: str | Task) -> TaskEvalData:
        """The evaluation data of ``task`` (a name or a :class:`Task`), cut on first use and kept."""
        task = self._task(task)
        if task.name not in self._data:
            splits = load_splits(task, self.split_sizes, seed=self.data_seed)
            self._data[task.name] = TaskEvalData(task, splits.judge, splits.test, self.embedder,
                                                 _own_cache(self.embedder), self.data_seed)
        return self._data[task.name]

    def report(self, task: str | Task, samples: Sequence[Mapping[str, str]],
               students: Sequence[str] | None = None) -> dict[str, float]:
        """Test-split figures of ``samples`` (``{field: text, ..., "label": name}``, e.g. an env's ``dataset``)
        for ``task``: ``n``, each student's four figures (:func:`report_key` names), ``test_size``. ``students``
        picks some of the evaluator's students (default: all)."""
        unknown = sorted(set(students or ()) - set(self.students))
        if unknown:
            raise ValueError(f"unknown student(s) {unknown}; this evaluator has {list(self.students)}")
        task = self._task(task)
        samples = list(samples)
        _check_samples(task, samples)
        with single_threaded_blas():
            data = self.task_data(task)
            out: dict[str, float] = {"n": len(samples)}
            for name, factory in self.students.items():
                if students is not None and name not in students:
                    continue
                key = (task.name, name)
                if key not in self._scorers:
                    self._scorers[key] = factory(data)
                figures = self._scorers[key](samples)
                out.update({report_key(name, k): figures[k] for k in STUDENT_KEYS})
            out["test_size"] = len(data.test)
        return out


def _own_cache(embedder: Embedder) -> Embedder:
    """The model of ``embedder`` behind a fresh in-memory cache (same on-disk cache, if any): test texts must not
    land in the in-memory cache of an embedder the env (and so the agent) holds."""
    if isinstance(embedder, CachedEmbedder):
        return CachedEmbedder(embedder.inner, disk=embedder.disk_path or False)
    return embedder


def _check_samples(task: Task, samples: Sequence[Mapping[str, str]]) -> None:
    """Raise ``ValueError`` naming the first sample that is not ``{field: str, ..., "label": known label}``."""
    labels = set(task.label_names)
    for i, s in enumerate(samples):
        if not isinstance(s, Mapping):
            raise ValueError(f"task {task.name!r}: sample {i} is a {type(s).__name__}, not a mapping")
        missing = [f for f in task.fields if not isinstance(s.get(f), str)]
        if missing:
            raise ValueError(f"task {task.name!r}: sample {i} lacks text field(s) {missing}")
        if s.get(LABEL_KEY) not in labels:
            raise ValueError(f"task {task.name!r}: sample {i} has label {s.get(LABEL_KEY)!r}, not one of "
                             f"{sorted(labels)}")
