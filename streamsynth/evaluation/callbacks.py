"""Callbacks of one run (``run_experiment``), the way stable-baselines3 structures ``CheckpointCallback`` and
``EvalCallback``: each concern of a run folder is one object with hooks at the start, after every round, after
every task and at the end. They share one :class:`RunContext`.

Order matters and is the list order: the probe row of a task is computed before the results are written (they
carry the transfer matrix), and the checkpoint is written after the results (a checkpoint never points past what
``metrics.json`` holds).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamsynth.evaluation.runner import EpisodeProgress, TaskResult


@dataclass
class RunContext:
    """What the callbacks of one run share: its folder, env, agent, config, results so far, transfer matrix and
    start time (``time.perf_counter()`` minus the seconds a resumed run had already spent)."""

    run_dir: Path
    env: Any
    agent: Any
    config: dict[str, Any]
    results: list[TaskResult] = field(default_factory=list)
    transfer: dict[str, Any] = field(default_factory=dict)
    start: float = field(default_factory=time.perf_counter)
    resumed: bool = False

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start


class RunCallback:
    """Base class: every hook does nothing."""

    def on_run_start(self, ctx: RunContext) -> None:
        """Before the first task (after a resume: before the next one)."""

    def on_step(self, ctx: RunContext, episode: EpisodeProgress, done: bool) -> None:
        """After every round."""

    def on_task_end(self, ctx: RunContext, result: TaskResult) -> None:
        """After every task (``result`` is already in ``ctx.results``)."""

    def on_run_end(self, ctx: RunContext) -> None:
        """After the last task."""


class ProbeCallback(RunCallback):
    """The transfer matrix of an agent that learns: ``probe()`` (a row of test accuracies, one per task) before the
    first task (``b``) and after every task (row i of ``R``)."""

    def __init__(self, probe: Callable[[], list[float]]) -> None:
        self.probe = probe

    def on_run_start(self, ctx: RunContext) -> None:
        if not ctx.resumed:
            ctx.transfer.update(b=self.probe(), R=[])

    def on_task_end(self, ctx: RunContext, result: TaskResult) -> None:
        ctx.transfer["R"].append(self.probe())


class LearningCurves(RunCallback):
    """``learning.jsonl`` (the agent's :meth:`~streamsynth.agents.base.Agent.learning_log`, one row per learner
    step) and ``learning.png`` after every task, for agents that keep such a log (SynLearner)."""

    def on_task_end(self, ctx: RunContext, result: TaskResult) -> None:
        from streamsynth.evaluation.report import plot_learning
        from streamsynth.io import write_jsonl

        log = ctx.agent.learning_log()
        if log:
            write_jsonl(ctx.run_dir / "learning.jsonl", log)
            plot_learning(ctx.run_dir / "learning.png", log)


class ResultsWriter(RunCallback):
    """``metrics.json``/``.csv`` and datasets after every task (a killed run keeps what it finished); at the end
    the agent's final description in ``config.json``, the plot and the results marked complete."""

    def __init__(self, title: str) -> None:
        self.title = title

    def on_task_end(self, ctx: RunContext, result: TaskResult) -> None:
        from streamsynth.evaluation.report import write_results

        write_results(ctx.run_dir, ctx.results, ctx.config, transfer=ctx.transfer)

    def on_run_end(self, ctx: RunContext) -> None:
        from streamsynth.evaluation.report import plot_results, write_results
        from streamsynth.io import write_json

        ctx.config["agent_config"] = ctx.agent.describe()  # again: agents record what they decided during the run
        write_json(ctx.run_dir / "config.json", ctx.config)
        plot_results(ctx.run_dir / "plot.png", ctx.results, self.title)
        write_results(ctx.run_dir, ctx.results, {**ctx.config, "wall_seconds": round(ctx.seconds, 1)},
                      complete=True, transfer=ctx.transfer)


class CheckpointCallback(RunCallback):
    """Env and agent state with the run's progress (:mod:`streamsynth.evaluation.checkpoint`): at the start of a
    fresh run, after every task, and every ``every`` steps inside a task (rounds and drafts-only steps; 0: never
    inside)."""

    def __init__(self, every: int = 0) -> None:
        self.every = every

    def save(self, ctx: RunContext, next_task: int, episode: EpisodeProgress | None) -> None:
        from streamsynth.evaluation.checkpoint import save_checkpoint

        save_checkpoint(ctx.run_dir, ctx.env, ctx.agent, {"next_task": next_task, "transfer": ctx.transfer,
                                                          "episode": episode.to_dict() if episode else None,
                                                          "seconds": ctx.seconds})

    def on_run_start(self, ctx: RunContext) -> None:
        if not ctx.resumed:
            self.save(ctx, 0, None)

    def on_step(self, ctx: RunContext, episode: EpisodeProgress, done: bool) -> None:
        if not done and self.every and episode.steps % self.every == 0:
            self.save(ctx, episode.index, episode)

    def on_task_end(self, ctx: RunContext, result: TaskResult) -> None:
        self.save(ctx, len(ctx.results), None)


class HookCallback(RunCallback):
    """Forwards to the progress hooks of :class:`~streamsynth.evaluation.experiment.RunHooks` (the CLI's bars)."""

    def __init__(self, hooks: Any) -> None:
        self.hooks = hooks

    def on_run_start(self, ctx: RunContext) -> None:
        if self.hooks.on_start:
            self.hooks.on_start(ctx.config["tasks"])

    def on_task_end(self, ctx: RunContext, result: TaskResult) -> None:
        if self.hooks.on_task_end:
            self.hooks.on_task_end(result)


class CallbackList(RunCallback):
    """Several callbacks, called in order."""

    def __init__(self, callbacks: Sequence[RunCallback]) -> None:
        self.callbacks = list(callbacks)

    def on_run_start(self, ctx: RunContext) -> None:
        for cb in self.callbacks:
            cb.on_run_start(ctx)

    def on_step(self, ctx: RunContext, episode: EpisodeProgress, done: bool) -> None:
        for cb in self.callbacks:
            cb.on_step(ctx, episode, done)

    def on_task_end(self, ctx: RunContext, result: TaskResult) -> None:
        ctx.results.append(result)
        for cb in self.callbacks:
            cb.on_task_end(ctx, result)

    def on_run_end(self, ctx: RunContext) -> None:
        for cb in self.callbacks:
            cb.on_run_end(ctx)
