"""Privileged access to a task's real data splits, outside the environment.

The environment keeps the real data it scores with (seed, judge and dev splits) to itself and never holds the test
split; agents see only the seed examples in their observations. Two parties need real data anyway, and get it
here, explicitly:

- reference agents: the ``oracle`` submits judge-split samples (the upper bound of every comparison), through a
  :class:`RealData` provider that :func:`streamsynth.agents.build_agent` creates from the env's public settings;
- the evaluation harness: :class:`streamsynth.evaluation.evaluator.Evaluator` re-derives the test split itself.

Both cut the data exactly as the env does (:func:`~streamsynth.tasks.splits.load_splits` with the same split sizes
and ``data_seed``; the split is deterministic), so they see the same samples in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from streamsynth.tasks.spec import Sample, Task
from streamsynth.tasks.splits import SPLIT_NAMES, SplitSizes, load_splits

AGENT_SPLITS = ("seed", "judge", "dev")
"""Splits a :class:`RealData` provider hands out; the test split is for evaluation reports only."""


def real_split(task: Task, split: str, split_sizes: SplitSizes | None = None, data_seed: int = 0) -> list[Sample]:
    """The ``split`` (``"seed"``, ``"judge"``, ``"dev"`` or ``"test"``) of ``task``'s real data, cut as an env
    built with ``split_sizes`` and ``data_seed`` cuts it: the same samples in the same order (fresh copies)."""
    if split not in SPLIT_NAMES:
        raise ValueError(f"unknown split {split!r}; splits: {list(SPLIT_NAMES)}")
    return [dict(s) for s in getattr(load_splits(task, split_sizes or SplitSizes(), seed=data_seed), split)]


class RealData:
    """One split of real data per task of a stream, for privileged reference agents (the ``oracle``).

    Called with a task name, it returns that task's ``split`` (default the judge split, which also trains the
    env's judge: data submitted from it is the reference upper bound, and its quality figure is optimistic by
    construction). Loaded once per task, and a fresh copy on every call. The test split is not available here: it
    belongs to the evaluation harness (:class:`~streamsynth.evaluation.evaluator.Evaluator`).

    Args:
        tasks: the stream's tasks (an env's ``tasks``).
        split_sizes: the env's :class:`SplitSizes`.
        data_seed: the env's ``data_seed``.
        split: ``"judge"`` (default), ``"dev"`` or ``"seed"``.
    """

    def __init__(self, tasks: Sequence[Task], split_sizes: SplitSizes | None = None, data_seed: int = 0,
                 split: str = "judge") -> None:
        if split not in AGENT_SPLITS:
            raise ValueError(f"RealData hands out the {'/'.join(AGENT_SPLITS)} splits, not {split!r}; the test split "
                             "is for evaluation only (streamsynth.evaluation.evaluator.Evaluator)")
        self.tasks = {t.name: t for t in tasks}
        self.split_sizes = split_sizes or SplitSizes()
        self.data_seed = int(data_seed)
        self.split = split
        self._cache: dict[str, list[Sample]] = {}

    @classmethod
    def for_env(cls, env: Any, split: str = "judge") -> RealData:
        """A provider cut like the data of ``env`` (a ``StreamSynthEnv`` or a wrapper of one): its public
        ``tasks``, ``split_sizes`` and ``data_seed``."""
        env = env.unwrapped
        return cls(env.tasks, env.config.split_sizes, env.config.data_seed, split=split)

    def __call__(self, task: str) -> list[Sample]:
        if task not in self.tasks:
            raise KeyError(f"task {task!r} is not in this stream; tasks: {list(self.tasks)}")
        if task not in self._cache:
            self._cache[task] = real_split(self.tasks[task], self.split, self.split_sizes, self.data_seed)
        return [dict(s) for s in self._cache[task]]
