"""A run's scalars for TensorBoard and Weights & Biases (``--report-to tensorboard,wandb``), as SB3 and TRL report.

:class:`ScalarReporter` is a :class:`~streamsynth.evaluation.callbacks.RunCallback`; it writes three families of
scalars, each on its own x-axis:

- ``env/<component>`` after every env step, x = the run's env step counted over the stream: the components of the
  task's set score (``score``, ``quality``, ``realism``, ``diversity``, ``utility``, the step's ``reward``...) and
  ``env/feedback_used``, the drafts used so far in the task;
- ``task/<key>`` after every task, x = the task's position in the stream: its test figures (``test_accuracy``,
  ``finetune_test_accuracy``, the gold students'...), its first round's test accuracy, its final set figures
  and both budgets (``completions``, ``drafts``);
- ``learner/<key>`` for every step of an agent that keeps a learning log (SynLearner), x = the step's row in the
  log: ``loss``, ``kl``, ``clip_fraction``, ``env_reward``, ``mean_draft_score``, ``mean_fidelity``...

TensorBoard's event files go to ``RUN_DIR/tensorboard/`` (``tensorboard --logdir runs/``); W&B runs are created in
``RUN_DIR`` with the run's config (set ``WANDB_MODE=offline`` without a network). Both packages are optional and
imported only when chosen.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from streamsynth.errors import StreamSynthError
from streamsynth.evaluation.callbacks import RunCallback, RunContext
from streamsynth.evaluation.runner import EpisodeProgress, TaskResult

REPORT_TO = ("tensorboard", "wandb")
"""The scalar sinks ``--report-to`` accepts."""
LEARNER_SKIP = ("round", "step")
"""Learning-log fields that are positions, not figures."""


def parse_report_to(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """``--report-to`` as a tuple of sinks: a comma-separated string or a sequence; ``none`` or empty: none.

    >>> parse_report_to("tensorboard, wandb"), parse_report_to("none"), parse_report_to(["tensorboard"])
    (('tensorboard', 'wandb'), (), ('tensorboard',))
    """
    items = value.split(",") if isinstance(value, str) else list(value or ())
    out = tuple(dict.fromkeys(str(v).strip().lower() for v in items if str(v).strip()))
    if out == ("none",):
        return ()
    unknown = [v for v in out if v not in REPORT_TO]
    if unknown:
        raise ValueError(f"--report-to takes none or a comma-separated list of {list(REPORT_TO)}, got {unknown}")
    return out


def scalars(row: Mapping[str, Any], skip: Sequence[str] = ()) -> dict[str, float]:
    """The finite numbers of a row (bools and text left out).

    >>> scalars({"loss": 0.5, "kl": None, "phase": "grpo", "accepted": 3, "ok": True, "step": 2}, skip=("step",))
    {'loss': 0.5, 'accepted': 3.0}
    """
    return {k: float(v) for k, v in row.items() if k not in skip and isinstance(v, (int, float))
            and not isinstance(v, bool) and math.isfinite(float(v))}


class TensorBoardWriter:
    """Scalars into TensorBoard event files (``torch.utils.tensorboard``; needs the ``tensorboard`` package)."""

    def __init__(self, log_dir: Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise StreamSynthError("--report-to tensorboard needs TensorBoard: pip install tensorboard (or "
                                   "'streamsynth[tensorboard]')") from exc
        self.writer = SummaryWriter(log_dir=str(log_dir))

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.writer.add_scalar(tag, value, step)

    def close(self) -> None:
        self.writer.close()


class WandbWriter:
    """Scalars into a Weights & Biases run; each family (the tag's first part) has its own x-axis metric."""

    def __init__(self, run_dir: Path, config: Mapping[str, Any]) -> None:
        try:
            import wandb
        except ImportError as exc:
            raise StreamSynthError("--report-to wandb needs Weights & Biases: pip install wandb (and wandb login, "
                                   "or WANDB_MODE=offline)") from exc
        self.wandb = wandb
        self.run = wandb.init(project="streamsynth", dir=str(run_dir), name=Path(run_dir).name,
                              config=dict(config), reinit="create_new")
        self.axes: set[str] = set()

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        family = tag.split("/", 1)[0]
        if family not in self.axes:
            self.run.define_metric(f"{family}/step")
            self.run.define_metric(f"{family}/*", step_metric=f"{family}/step")
            self.axes.add(family)
        self.run.log({tag: value, f"{family}/step": step})

    def close(self) -> None:
        self.run.finish()


class ScalarReporter(RunCallback):
    """Writes the run's scalars to the chosen sinks (see the module docstring)."""

    def __init__(self, report_to: Sequence[str]) -> None:
        self.report_to = parse_report_to(report_to)
        self.writers: list[Any] = []
        self.logged = 0

    def on_run_start(self, ctx: RunContext) -> None:
        for sink in self.report_to:
            self.writers.append(TensorBoardWriter(ctx.run_dir / "tensorboard") if sink == "tensorboard"
                                else WandbWriter(ctx.run_dir, ctx.config))
        if ctx.resumed:  # what the killed run logged before its checkpoint
            self.logged = len(ctx.agent.learning_log())

    def _write(self, values: Mapping[str, float], prefix: str, step: int) -> None:
        for key, value in values.items():
            for writer in self.writers:
                writer.add_scalar(f"{prefix}/{key}", value, step)

    def on_step(self, ctx: RunContext, episode: EpisodeProgress, done: bool) -> None:
        step = sum(r.steps for r in ctx.results) + episode.steps
        self._write({**scalars(episode.components), "feedback_used": float(episode.drafts)}, "env", step)
        log = ctx.agent.learning_log()
        for i, row in enumerate(log[self.logged:], self.logged):
            self._write(scalars(row, LEARNER_SKIP), "learner", i)
        self.logged = len(log)

    def on_task_end(self, ctx: RunContext, result: TaskResult) -> None:
        first = {f"first_round_{k}": v for k, v in result.first_test.items() if k == "test_accuracy"}
        values = {**scalars(result.test), **first, **scalars(result.figures),
                  "completions": float(result.completions), "drafts": float(result.drafts)}
        self._write(values, "task", result.index)

    def on_run_end(self, ctx: RunContext) -> None:
        for writer in self.writers:
            writer.close()
        self.writers = []
