"""``oracle``: submits real samples from the task's judge split — the upper reference of every comparison.

It is privileged: it reads real data that no other agent gets, through a
:class:`~streamsynth.tasks.real.RealData` provider of the judge split (the env itself hands out no real data
beyond the seed examples of its observations). :func:`~streamsynth.agents.build_agent` builds the provider from
the env's public settings (``tasks``, ``split_sizes``, ``data_seed``), so the oracle sees the very judge split the
env's judge is trained on. Its quality figure is optimistic by construction: the judge was trained on the same split.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from streamsynth.agents.base import Agent, remaining_per_label
from streamsynth.tasks.spec import LABEL_KEY, Sample


class OracleAgent(Agent):
    """Real data: each round, the next unused judge-split samples of every label still below its target.

    ``real_data(task_name)`` returns the task's real pool, in practice a
    :class:`~streamsynth.tasks.real.RealData` provider of the judge split (privileged access, see the module
    docstring); each task's pool is shuffled per label with a generator seeded by ``(seed, episode)``.
    """

    name = "oracle"

    def __init__(self, real_data: Callable[[str], list[Sample]], seed: int = 0) -> None:
        super().__init__(seed)
        self._real_data = real_data
        self._queues: dict[str, list[Sample]] = {}

    def begin_task(self, observation: Mapping[str, Any]) -> None:
        rng = np.random.default_rng([self.seed, self._episodes])
        pool = self._real_data(str(observation["task"]))
        self._queues = {}
        for lbl in observation["labels"]:
            rows = [s for s in pool if s[LABEL_KEY] == lbl]
            self._queues[lbl] = [rows[i] for i in rng.permutation(len(rows))]

    def propose(self, observation: Mapping[str, Any]) -> list[Sample]:
        out: list[Sample] = []
        for lbl, need in remaining_per_label(observation).items():
            queue = self._queues.get(lbl, [])
            out.extend(dict(s) for s in queue[:need])
            del queue[:need]
        return out
