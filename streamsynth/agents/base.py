"""The agent interface: observation in, dataset out, feedback observed.

Any agent works in a plain Gymnasium loop::

    obs, info = env.reset(seed=0)
    while True:
        action = agent.act(obs)                  # a list of {field: text, ..., "label": name}
        obs, reward, terminated, truncated, info = env.step(action)
        agent.observe(obs, reward, terminated, truncated, info)
        if terminated or truncated:
            break                                # next task: obs, info = env.reset()

``act`` notices a new task by itself (a new task name, or round 0) and calls :meth:`Agent.begin_task`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from streamsynth.synthesis.config import remaining_per_label  # noqa: F401 (re-exported: agents use it)
from streamsynth.tasks.spec import Sample


class Agent(ABC):
    """Base class of all agents. Subclasses implement :meth:`propose`; the rest is optional."""

    name: str = "agent"
    learns: bool = False
    """True for agents whose data for a task depends on the tasks they have seen (they adapt across the stream)."""
    supports_checkpoints: bool = False
    """True for agents that implement :meth:`save_state` and :meth:`load_state`: runs checkpoint them and resume
    after a kill (``synth-agent evaluate --resume``, a re-run of ``compare``). Agents that do not learn need none:
    their runs restart a task from its beginning with the same result."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)
        self._task_key: tuple[str, int] | None = None
        self._episodes = 0

    # ---- the loop API
    def act(self, observation: Mapping[str, Any]) -> list[Sample]:
        """The dataset to submit this round."""
        key = (str(observation["task"]), int(observation["round"]))
        # A new episode starts at step 0 (the env counts the episode's steps, rounds and drafts-only steps, from 0),
        # so every act at step 0 begins a task, even the same task again after a one-round episode. Observations
        # without "step" (hand-made ones) use the round: a drafts-only step does not advance it.
        first = int(observation["step"]) == 0 if "step" in observation else key[1] == 0
        if self._task_key is None or key[0] != self._task_key[0] or first:
            self._episodes += 1
            self.begin_task(observation)
        self._task_key = key
        return self.propose(observation)

    @abstractmethod
    def propose(self, observation: Mapping[str, Any]) -> list[Sample]:
        """Build this round's dataset from the observation."""

    def synthesize(self, observation: Mapping[str, Any]) -> list[Sample]:
        """Data for the observed task without learning from it or changing the agent's state: the probe runs that
        fill the transfer matrix R of agents that learn (``learns = True``) call it after each task."""
        raise NotImplementedError(
            f"agent {self.name!r} learns across tasks but does not implement synthesize(), which the transfer "
            "matrix R needs (data for any task from the agent as it is, without learning)"
        )

    def begin_task(self, observation: Mapping[str, Any]) -> None:  # noqa: B027 (optional hook: a no-op by default)
        """Called on the first round of each task (before :meth:`propose`)."""

    def observe(self, observation: Mapping[str, Any], reward: float, terminated: bool,  # noqa: B027 (optional hook)
                truncated: bool, info: Mapping[str, Any]) -> None:
        """Feedback of the last round: the reward and the env's ``info`` (components, per-sample scores)."""

    def close(self) -> None:  # noqa: B027 (optional hook: a no-op by default)
        """Free resources (models, files)."""

    def learning_log(self) -> list[dict[str, Any]]:
        """One row per learner step (task, phase, rewards, update figures) for agents that train; runs write it to
        ``learning.jsonl`` and plot it (``learning.png``). A row that reports a pick from candidates already scored
        (not what the policy wrote) carries ``scored_by``: learning curves and their figures leave it out. Empty for
        agents that do not keep one."""
        return []

    def generation_usage(self) -> dict[str, int]:
        """The generation budget so far: LLM ``completions`` this agent has had generated, their ``prompt_tokens``
        and ``completion_tokens`` (0 where unknown; all 0 for agents without an LLM). Runs report the per-task
        differences next to the feedback budget used."""
        return {"completions": 0, "prompt_tokens": 0, "completion_tokens": 0}

    # ---- optional: checkpoints (agents with ``supports_checkpoints = True``)
    def save_state(self, directory: Any) -> Any:
        """Write everything the agent has learned and its RNG state to ``directory``, so that :meth:`load_state` on
        an agent built with the same settings and seed continues exactly."""
        raise NotImplementedError(f"agent {self.name!r} keeps no checkpoints (supports_checkpoints is False)")

    def load_state(self, directory: Any) -> None:
        """Restore what :meth:`save_state` wrote."""
        raise NotImplementedError(f"agent {self.name!r} keeps no checkpoints (supports_checkpoints is False)")

    def describe(self) -> dict[str, Any]:
        """Settings of the agent, written to the run folder's config."""
        return {"agent": self.name, "seed": self.seed, "learns": self.learns}
