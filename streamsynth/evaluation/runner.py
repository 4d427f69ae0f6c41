"""Running an agent over a task stream: the plain Gymnasium loop, plus bookkeeping for reports.

Test-split figures come from an :class:`~streamsynth.evaluation.evaluator.Evaluator` owned by the caller (the
harness), never from the env, which does not hold the test split; without one a result's ``test`` is empty.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from streamsynth.agents.base import Agent
from streamsynth.tasks.spec import Sample

if TYPE_CHECKING:
    from streamsynth.evaluation.evaluator import Evaluator

RoundCallback = Callable[[str, int, float], None]


FINETUNE_KEYS = ("finetune_test_accuracy", "finetune_test_macro_f1", "finetune_gold_test_accuracy",
                 "finetune_gold_test_macro_f1")
"""Report figures of the fine-tuned (realistic) student, next to the linear student's ``test_accuracy``..."""


@dataclass
class TaskResult:
    """What one episode (task) produced: the final set figures, the test-split report (``{}`` when the run had no
    evaluator), the dataset."""

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
    drafts: int = 0
    """Feedback budget used: draft samples the env scored without adding them."""
    steps: int = 0
    """Env steps: the rounds plus the drafts-only steps (0 in results written before drafts existed)."""
    completions: int = 0
    """LLM completions the agent had generated for this task (its generation budget; probes not included)."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    """Tokens of those completions (0 where the backend does not count them)."""
    first_test: dict[str, float] = field(default_factory=dict)
    """Test-split report (linear student) of the dataset after the task's first round: where experience carried
    from earlier tasks shows before the agent learns anything of this one (jump-start); ``{}`` without an
    evaluator."""

    def row(self) -> dict[str, Any]:
        """One flat row for tables and CSV."""
        f, t = self.figures, self.test
        row = {
            "task": self.task,
            "n": len(self.dataset),
            "rounds": self.rounds,
            "reward": round(self.episode_return, 4),
            "quality": round(f.get("quality", 0.0), 4),
            "realism": round(f.get("realism", 0.0), 4),
            "diversity": round(f.get("diversity", 0.0), 4),
            "utility": round(f.get("utility", 0.0), 4),
            "acceptance": round(self.accepted / self.submitted, 4) if self.submitted else 0.0,
            "completions": self.completions,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "drafts": self.drafts,
            "steps": self.steps,
            "rejected": sum(self.rejected_reasons.values()),  # by reason code in metrics.json
            "test_accuracy": round(t.get("test_accuracy", 0.0), 4),
            "test_macro_f1": round(t.get("test_macro_f1", 0.0), 4),
            "gold_test_accuracy": round(t.get("gold_test_accuracy", 0.0), 4),
            "gold_test_macro_f1": round(t.get("gold_test_macro_f1", 0.0), 4),
            # None (empty in CSV) when the run had no linear student or predates the figure: never a fake 0
            "first_round_test_accuracy": round(self.first_test["test_accuracy"], 4) if self.first_test else None,
        }
        for key in FINETUNE_KEYS:  # the realistic student, when the run asked for it (--student finetune)
            if key in t:
                row[key] = round(t[key], 4)
        row["wall_s"] = round(self.wall_seconds, 1)
        return row

    def to_dict(self, with_dataset: bool = False) -> dict[str, Any]:
        d = asdict(self)
        if not with_dataset:
            d.pop("dataset")
        return d


@dataclass
class EpisodeProgress:
    """Running totals of an episode, saved in checkpoints taken between rounds (so a resumed episode reports the
    same figures as an uninterrupted one)."""

    task: str
    index: int
    rounds: int = 0
    total: float = 0.0
    submitted: int = 0
    accepted: int = 0
    drafts: int = 0
    steps: int = 0
    completions: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    components: dict[str, float] = field(default_factory=dict)
    first_test: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


StepCallback = Callable[[EpisodeProgress, bool], None]


def _first_round_student(evaluator: Evaluator | None) -> str | None:
    """The student that scores a task's dataset after its first round: the evaluator's (cheap) linear one, or
    ``None`` when it has none (a fine-tuned student per round would cost as much as the run)."""
    from streamsynth.evaluation.evaluator import UNPREFIXED_STUDENT

    return UNPREFIXED_STUDENT if evaluator is not None and UNPREFIXED_STUDENT in evaluator.students else None


def run_episode(env: Any, agent: Agent, observation: Any, on_round: RoundCallback | None = None, *,
                evaluator: Evaluator | None = None, progress: EpisodeProgress | None = None,
                on_step: StepCallback | None = None) -> TaskResult:
    """Play one task to its end, starting from ``observation`` (from ``env.reset``, or the restored env's
    ``current_observation()`` with the saved ``progress`` of a resumed episode). ``on_step(progress, done)`` runs
    after every step (checkpoints); ``on_round`` after every round (drafts-only steps are not rounds). Drafts are
    counted as feedback used (``drafts``), not as submitted samples, and their rejections not in
    ``rejected_reasons``. The final dataset is scored on the test split by ``evaluator`` (the result's
    ``test``; ``{}`` without one), and the dataset after the first round by its linear student (``first_test``,
    when it has one)."""
    start = time.perf_counter()
    p = progress or EpisodeProgress(str(observation["task"]), int(observation["task_index"]))
    offset = p.seconds
    reasons: Counter[str] = Counter(p.reasons)
    first = _first_round_student(evaluator)
    while True:
        before = agent.generation_usage()
        action = agent.act(observation)
        observation, reward, terminated, truncated, info = env.step(action)
        agent.observe(observation, reward, terminated, truncated, info)
        after = agent.generation_usage()
        p.completions += after["completions"] - before["completions"]
        p.prompt_tokens += after["prompt_tokens"] - before["prompt_tokens"]
        p.completion_tokens += after["completion_tokens"] - before["completion_tokens"]
        p.steps += 1
        p.rounds += 0 if info.get("draft_only") else 1
        p.total += float(reward)
        p.drafts += int(info.get("feedback_used", 0))
        p.submitted += sum(not r.get("draft", False) for r in info["samples"])
        p.accepted += int(info["accepted"])
        reasons.update(r["code"] for r in info["rejected"] if not r.get("draft", False))
        p.reasons = dict(reasons)
        p.components = {k: float(v) for k, v in info.get("components", {}).items()}
        p.seconds = offset + time.perf_counter() - start
        if first and p.rounds == 1 and not p.first_test and not info.get("draft_only"):
            p.first_test = evaluator.report(env.unwrapped.current_task, env.unwrapped.dataset, students=[first])
        if on_round is not None and not info.get("draft_only"):
            on_round(p.task, p.rounds, float(reward))
        done = bool(terminated or truncated)
        if on_step is not None:
            on_step(p, done)
        if done:
            break
    unwrapped = env.unwrapped
    dataset = unwrapped.dataset
    return TaskResult(
        task=p.task,
        index=p.index,
        rounds=p.rounds,
        episode_return=p.total,
        figures=dict(p.components),
        test=evaluator.report(unwrapped.current_task, dataset) if evaluator is not None else {},
        submitted=p.submitted,
        accepted=p.accepted,
        rejected_reasons=dict(reasons.most_common()),
        wall_seconds=offset + time.perf_counter() - start,
        dataset=dataset,
        drafts=p.drafts,
        steps=p.steps,
        completions=p.completions,
        prompt_tokens=p.prompt_tokens,
        completion_tokens=p.completion_tokens,
        first_test=dict(p.first_test),
    )


def run_stream(
    env: Any,
    agent: Agent,
    *,
    seed: int = 0,
    evaluator: Evaluator | None = None,
    on_task_start: Callable[[int, str], None] | None = None,
    on_task_end: Callable[[TaskResult], None] | None = None,
    on_round: RoundCallback | None = None,
    on_step: StepCallback | None = None,
    skip: int = 0,
    restored: bool = False,
    resume: EpisodeProgress | None = None,
) -> list[TaskResult]:
    """Run ``agent`` over every task of ``env``'s stream (one ``reset`` per task), in order; each task's final
    dataset is scored on the test split by ``evaluator`` (e.g. ``Evaluator.for_env(env)``; none: no test figures).

    ``skip`` tasks at the start are stepped over without playing them (``reset`` jumps), for resuming runs of
    agents that keep no state between tasks. A run whose env and agent were ``restored`` from a checkpoint passes
    ``skip`` = the task to play next: it is reached with ``reset()`` (the env knows its position) or, when the
    checkpoint was taken inside that task's episode, continued from the env's current state with ``resume`` =
    the episode's progress.
    """
    n_tasks = len(env.unwrapped.tasks)
    results: list[TaskResult] = []
    for i in range(n_tasks):
        if i < skip:
            continue
        progress = None
        if i == skip and resume is not None:
            observation, progress = env.unwrapped.current_observation(), resume
        elif i == skip and not restored:
            observation, _ = env.reset(seed=seed, options={"task": env.unwrapped.tasks[i].name} if skip else None)
        else:
            observation, _ = env.reset()
        if on_task_start is not None:
            on_task_start(i, str(observation["task"]))
        result = run_episode(env, agent, observation, on_round, evaluator=evaluator, progress=progress,
                             on_step=on_step)
        results.append(result)
        if on_task_end is not None:
            on_task_end(result)
    return results
