"""Running an agent over a task stream: the plain Gymnasium loop, plus bookkeeping for reports."""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from streamsynth.agents.base import Agent
from streamsynth.tasks.spec import Sample

RoundCallback = Callable[[str, int, float], None]


@dataclass
class TaskResult:
    """What one episode (task) produced: the final set figures, the test-split report, the dataset."""

    task: str
    index: int
    rounds: int
    episode_return: float
    figures: dict[str, float]
    test: dict[str, float]
    submitted: int
    accepted: int
    rejected_reasons: dict[str, int]
    wall_seconds: float
    dataset: list[Sample] = field(default_factory=list, repr=False)

    def row(self) -> dict[str, Any]:
        """One flat row for tables and CSV."""
        f, t = self.figures, self.test
        return {
            "task": self.task,
            "n": len(self.dataset),
            "rounds": self.rounds,
            "reward": round(self.episode_return, 4),
            "quality": round(f.get("quality", 0.0), 4),
            "diversity": round(f.get("diversity", 0.0), 4),
            "utility": round(f.get("utility", 0.0), 4),
            "acceptance": round(self.accepted / self.submitted, 4) if self.submitted else 0.0,
            "test_accuracy": round(t.get("test_accuracy", 0.0), 4),
            "test_macro_f1": round(t.get("test_macro_f1", 0.0), 4),
            "gold_test_accuracy": round(t.get("gold_test_accuracy", 0.0), 4),
            "gold_test_macro_f1": round(t.get("gold_test_macro_f1", 0.0), 4),
            "wall_s": round(self.wall_seconds, 1),
        }

    def to_dict(self, with_dataset: bool = False) -> dict[str, Any]:
        d = asdict(self)
        if not with_dataset:
            d.pop("dataset")
        return d


def _reason_kind(reason: str) -> str:
    """The reason without its specifics (details in parentheses, label names, numbers), for counting.

    >>> _reason_kind("field 'text' too short (3 < 10 characters)")
    "field 'text' too short"
    >>> _reason_kind("label 'positive' already has its target of 8 samples")
    'label already has its target of N samples'
    """
    kind = reason.split(" (")[0]
    kind = re.sub(r"^label '[^']*'", "label", kind)
    return re.sub(r"\b\d+\b", "N", kind)


def run_episode(env: Any, agent: Agent, observation: Any, on_round: RoundCallback | None = None) -> TaskResult:
    """Play one task to its end, starting from ``observation`` (returned by ``env.reset``)."""
    start = time.perf_counter()
    task = str(observation["task"])
    index = int(observation["task_index"])
    total, submitted, accepted, rounds = 0.0, 0, 0, 0
    reasons: Counter[str] = Counter()
    info: dict[str, Any] = {}
    while True:
        action = agent.act(observation)
        observation, reward, terminated, truncated, info = env.step(action)
        agent.observe(observation, reward, terminated, truncated, info)
        rounds += 1
        total += float(reward)
        submitted += len(info["samples"])
        accepted += int(info["accepted"])
        reasons.update(_reason_kind(r["reason"]) for r in info["rejected"])
        if on_round is not None:
            on_round(task, rounds, float(reward))
        if terminated or truncated:
            break
    unwrapped = env.unwrapped
    return TaskResult(
        task=task,
        index=index,
        rounds=rounds,
        episode_return=total,
        figures=dict(info.get("components", {})),
        test=unwrapped.test_report(),
        submitted=submitted,
        accepted=accepted,
        rejected_reasons=dict(reasons.most_common()),
        wall_seconds=time.perf_counter() - start,
        dataset=unwrapped.dataset,
    )


def run_stream(
    env: Any,
    agent: Agent,
    *,
    seed: int = 0,
    on_task_start: Callable[[int, str], None] | None = None,
    on_task_end: Callable[[TaskResult], None] | None = None,
    on_round: RoundCallback | None = None,
    skip: int = 0,
) -> list[TaskResult]:
    """Run ``agent`` over every task of ``env``'s stream (one ``reset`` per task), in order.

    ``skip`` tasks at the start are stepped over without playing them (``reset`` jumps), for resuming runs of
    agents that keep no state between tasks.
    """
    n_tasks = len(env.unwrapped.tasks)
    results: list[TaskResult] = []
    for i in range(n_tasks):
        if i < skip:
            continue
        if i == skip:
            observation, _ = env.reset(seed=seed, options={"task": env.unwrapped.tasks[i].name} if skip else None)
        else:
            observation, _ = env.reset()
        if on_task_start is not None:
            on_task_start(i, str(observation["task"]))
        result = run_episode(env, agent, observation, on_round)
        results.append(result)
        if on_task_end is not None:
            on_task_end(result)
    return results
