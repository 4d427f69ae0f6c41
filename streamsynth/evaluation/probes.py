"""Probe runs for the transfer matrix R of agents that learn across the stream (see stream_metrics).

After each task i (and once before the first task, for ``b``), the agent synthesizes data for every task j of the
stream *as it is* (``agent.synthesize``: no learning, no state change) in a separate probe environment; the score
is the real-test-split accuracy of the linear student (cheap: a run has (T + 1) x T probe sets) trained on the
accepted samples of that one round, from the
harness's :class:`~streamsynth.evaluation.evaluator.Evaluator` (the probe env, like every env, holds no test split).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from streamsynth.agents.base import Agent
from streamsynth.evaluation.evaluator import Evaluator


def probe_row(agent: Agent, probe_env: Any, tasks: Sequence[str], seed: int, evaluator: Evaluator) -> list[float]:
    """``[score of the agent's data for task j for j in tasks]``, each from one probe round in ``probe_env``,
    scored by ``evaluator`` (built with the same tasks, split sizes and data seed as ``probe_env``)."""
    row = []
    for name in tasks:
        observation, _ = probe_env.reset(seed=seed, options={"task": name})
        data = agent.synthesize(observation)
        probe_env.step(data)
        row.append(float(evaluator.report(name, probe_env.unwrapped.dataset, students=("linear",))["test_accuracy"]))
    return row
