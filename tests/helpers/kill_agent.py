"""A test-only agent that kills its own process once, mid-task: for the Ray worker-kill test.

``register()`` adds ``kill-once`` to the agent registry (Ray workers run it through ``worker_process_setup_hook``).
The agent submits real judge-split samples, one per label per round (like a slow oracle), keeps a checkpoint
(its act count), and at its third act calls ``os._exit(1)`` if the marker file named by ``$STREAMSYNTH_KILL_MARKER``
does not exist yet (creating it first), so exactly one process dies, as a killed Ray worker would.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from streamsynth.agents.oracle import OracleAgent


class KillOnceAgent(OracleAgent):
    name = "kill-once"
    supports_checkpoints = True

    def __init__(self, real_data, seed: int = 0) -> None:
        super().__init__(real_data, seed)
        self.acts = 0

    def propose(self, observation: Mapping[str, Any]):
        self.acts += 1
        marker = os.environ.get("STREAMSYNTH_KILL_MARKER")
        if self.acts == 3 and marker and not Path(marker).exists():
            Path(marker).write_text(str(os.getpid()))
            os._exit(1)
        out, seen = [], set()
        for sample in super().propose(observation):  # one per label and round: a task takes several rounds
            if sample["label"] not in seen:
                seen.add(sample["label"])
                out.append(sample)
        return out

    def save_state(self, directory: Any) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        queues = {k: [dict(s) for s in v] for k, v in self._queues.items()}
        state = {"acts": self.acts, "episodes": self._episodes, "task_key": self._task_key, "queues": queues}
        (Path(directory) / "state.json").write_text(json.dumps(state))

    def load_state(self, directory: Any) -> None:
        state = json.loads((Path(directory) / "state.json").read_text())
        self.acts, self._episodes, self._queues = state["acts"], state["episodes"], state["queues"]
        self._task_key = tuple(state["task_key"]) if state["task_key"] else None


def factory(*, env: Any, llm: Any, backend: Any, seed: int, options: Any) -> KillOnceAgent:
    from streamsynth.tasks.real import RealData

    return KillOnceAgent(RealData.for_env(env, split="judge"), seed=seed)


def register() -> None:
    from streamsynth.agents import AgentSpec
    from streamsynth.agents import register as add
    from streamsynth.agents.registry import REGISTRY

    if "kill-once" not in REGISTRY:
        add(AgentSpec("kill-once", "tests.helpers.kill_agent:factory", "test only: dies once at its third act",
                      needs_env=True))
