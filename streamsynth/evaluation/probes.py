"""Probe runs for the transfer matrix R of agents that learn across the stream (DESIGN.md §4).

After each task i (and once before the first task, for ``b``), the agent synthesizes data for every task j of the
stream *as it is* (``agent.synthesize``: no learning, no state change) in a separate probe environment; the score
is the real-test-split accuracy of the student trained on the accepted samples of that one round.
"""

from __future__ import annotations

from typing import Any, Sequence

from streamsynth.agents.base import Agent


def probe_row(agent: Agent, probe_env: Any, tasks: Sequence[str], seed: int) -> list[float]:
    """``[score of the agent's data for task j for j in tasks]``, each from one probe round in ``probe_env``."""
    row = []
    for name in tasks:
        observation, _ = probe_env.reset(seed=seed, options={"task": name})
        data = agent.synthesize(observation)
        probe_env.step(data)
        row.append(float(probe_env.unwrapped.test_report()["test_accuracy"]))
    return row
