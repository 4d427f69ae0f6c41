"""``oracle``: submits real samples from the task's judge split — the upper reference of every comparison.

It needs privileged access to the environment's data (``env.unwrapped.real_pool()``), which no other agent uses.
Its quality figure is optimistic by construction: the judge was trained on the same split.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from streamsynth.agents.base import Agent, remaining_per_label
from streamsynth.tasks.spec import LABEL_KEY, Sample


class OracleAgent(Agent):
    """Real data: each round, the next unused judge-split samples of every label still below its target."""

    name = "oracle"

    def __init__(self, pool: Callable[[], list[Sample]], seed: int = 0) -> None:
        super().__init__(seed)
        self._pool_fn = pool
        self._queues: dict[str, list[Sample]] = {}

    def begin_task(self, observation: Mapping[str, Any]) -> None:
        rng = np.random.default_rng([self.seed, self._episodes])
        pool = self._pool_fn()
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
