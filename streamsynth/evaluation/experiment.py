"""One run = one agent over one stream with one seed, written to a run folder.

Shared by ``synth-agent evaluate`` (one run) and ``synth-agent compare`` (a grid of runs). A run folder is
*complete* when its ``metrics.json`` says ``"complete": true``; it is written last, atomically, so a killed run
is never mistaken for a finished one.
"""

from __future__ import annotations

import platform
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from streamsynth.errors import StreamSynthError
from streamsynth.evaluation.options import RunOptions
from streamsynth.evaluation.runner import TaskResult, run_stream
from streamsynth.io import write_json


@dataclass
class RunHooks:
    """Progress callbacks (all optional)."""

    on_start: Callable[[list[str]], None] | None = None
    on_task_start: Callable[[int, str], None] | None = None
    on_round: Callable[[str, int, float], None] | None = None
    on_task_end: Callable[[TaskResult], None] | None = None


def versions() -> dict[str, str]:
    """Versions of Python and the main libraries (recorded in every run's config). StreamSynth's is that of the
    code running (``streamsynth.__version__``), not the installed metadata, which an editable install leaves at
    the version it was installed with."""
    from importlib.metadata import PackageNotFoundError, version

    from streamsynth import __version__

    out = {"python": platform.python_version(), "streamsynth": __version__}
    for pkg in ("gymnasium", "torch", "transformers", "sentence-transformers", "scikit-learn", "peft"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def is_complete(run_dir: Path) -> bool:
    """True when ``run_dir`` holds a finished run."""
    import json

    path = Path(run_dir) / "metrics.json"
    if not path.exists():
        return False
    try:
        return bool(json.loads(path.read_text()).get("complete"))
    except ValueError:
        return False


def load_transfer(run_dir: Path) -> dict[str, Any]:
    """The probe-run transfer matrix ``{"R": [[...]], "b": [...]}`` of a run of a learning agent, else ``{}``."""
    import json

    return json.loads((Path(run_dir) / "metrics.json").read_text()).get("transfer") or {}


def load_results(run_dir: Path) -> tuple[dict[str, Any], list[TaskResult]]:
    """The config and task results of a complete run folder (datasets read back from JSONL)."""
    import json

    from streamsynth.io import read_jsonl

    data = json.loads((Path(run_dir) / "metrics.json").read_text())
    results = []
    for t in data["tasks"]:
        ds_path = Path(run_dir) / "datasets" / f"{t['task']}.jsonl"
        results.append(TaskResult(**t, dataset=read_jsonl(ds_path) if ds_path.exists() else []))
    return data["config"], results


def run_experiment(opts: RunOptions, run_dir: Path, hooks: RunHooks | None = None, *, overwrite_partial: bool = False,
                   resume: bool = False, callbacks: Sequence[Any] = ()) -> list[TaskResult]:
    """Run ``opts.agent`` over ``opts.stream``; write config, per-task metrics, datasets and plot to ``run_dir``.

    A folder holding a complete run is refused. A folder holding a partial (killed) run is refused too, unless
    ``resume`` (continue from its last checkpoint with the options saved in the folder; agents that support
    checkpoints only) or ``overwrite_partial`` (it is cleared and the run starts over).

    The run is a loop over the stream plus callbacks (:mod:`streamsynth.evaluation.callbacks`): probe rows of the
    transfer matrix, the results writer, learning curves, scalars for TensorBoard / W&B, checkpoints, progress
    hooks, then the caller's ``callbacks`` (:class:`~streamsynth.evaluation.callbacks.RunCallback` objects).
    """
    from streamsynth.evaluation.callbacks import CallbackList, HookCallback, RunContext

    hooks = hooks or RunHooks()
    run_dir = Path(run_dir)
    opts = prepare_run_dir(opts, run_dir, resume=resume, overwrite_partial=overwrite_partial)
    env, evaluator, agent = build_run(opts)
    if resume and not agent.supports_checkpoints:
        raise StreamSynthError(f"agent {opts.agent!r} keeps no checkpoints, so its run cannot be resumed; start it "
                               "again in a new folder")
    config = {**opts.to_dict(), "tasks": [t.name for t in env.tasks], "agent_config": agent.describe(),
              "env_config": env.config.to_dict(), "reward_weights": env.config.reward_weights.to_dict(),
              "versions": versions()}
    ctx = RunContext(run_dir, env, agent, config, resumed=resume)
    episode = restore_run(ctx) if resume else None
    if not resume:
        write_json(run_dir / "config.json", config)
    run = CallbackList([*run_callbacks(opts, ctx, evaluator), HookCallback(hooks), *callbacks])
    run.on_run_start(ctx)
    try:
        run_stream(env, agent, seed=opts.seed, evaluator=evaluator, on_task_start=hooks.on_task_start,
                   on_task_end=lambda result: run.on_task_end(ctx, result), on_round=hooks.on_round,
                   on_step=lambda ep, done: run.on_step(ctx, ep, done), skip=len(ctx.results),
                   restored=resume and (bool(ctx.results) or episode is not None), resume=episode)
    finally:
        agent.close()
    run.on_run_end(ctx)
    return ctx.results


def prepare_run_dir(opts: RunOptions, run_dir: Path, *, resume: bool, overwrite_partial: bool) -> RunOptions:
    """Check ``run_dir`` for what the run is asked to do; returns the options to run (with ``resume``, those
    saved in the folder). A complete run is refused; a partial one too, unless it is resumed or overwritten."""
    import json

    if is_complete(run_dir):
        raise StreamSynthError(f"{run_dir} already holds a finished run; choose another --output folder")
    if resume:
        if not (run_dir / "config.json").exists():
            raise StreamSynthError(f"{run_dir} holds no run to resume (no config.json); check the folder")
        return RunOptions.from_dict(json.loads((run_dir / "config.json").read_text()))
    if (run_dir / "config.json").exists():
        if not overwrite_partial:
            raise StreamSynthError(f"{run_dir} already holds a partial run; choose another --output folder, or "
                                   "continue it with --resume (agents with checkpoints)")
        shutil.rmtree(run_dir)
    return opts


def build_run(opts: RunOptions) -> tuple[Any, Any, Any]:
    """The run's env, its evaluator (the harness's test-split reports; the env holds no test split; the linear
    student is always reported) and its agent."""
    from streamsynth.agents import build_agent, spec
    from streamsynth.envs.streamsynth_env import StreamSynthEnv
    from streamsynth.evaluation.evaluator import Evaluator

    env = StreamSynthEnv(opts.stream, config=opts.env)
    evaluator = Evaluator.for_env(env, students=("linear", "finetune") if opts.student == "finetune" else ("linear",))
    learner = None
    if spec(opts.agent).learner:  # SynLearner shares the run's embedder
        from streamsynth.agents.synlearner.config import SynLearnerConfig

        learner = SynLearnerConfig.from_dict({**dict(opts.learner), "embedder": opts.env.embedder})
    agent = build_agent(opts.agent, env=env, llm=opts.llm, seed=opts.seed, learner=learner,
                        options=dict(opts.agent_options) or None)
    return env, evaluator, agent


def restore_run(ctx: Any) -> Any:
    """Load the env and agent of a resumed run from its checkpoint, with the tasks it finished and the time it
    spent; returns the progress of the episode it was in (None at a task boundary)."""
    from streamsynth.evaluation.checkpoint import load_checkpoint
    from streamsynth.evaluation.runner import EpisodeProgress

    progress = load_checkpoint(ctx.run_dir, ctx.env, ctx.agent)
    _, done = load_results(ctx.run_dir) if (ctx.run_dir / "metrics.json").exists() else ({}, [])
    ctx.results = done[: progress["next_task"]]
    ctx.transfer = progress.get("transfer") or {}
    ctx.start -= float(progress.get("seconds", 0.0))
    saved = progress.get("episode")
    return EpisodeProgress(**{"steps": saved.get("rounds", 0), **saved}) if saved else None


def run_callbacks(opts: RunOptions, ctx: Any, evaluator: Any) -> list[Any]:
    """The callbacks of a run, in order: probe rows of the transfer matrix (agents that learn), the results writer,
    learning curves, scalars (``report_to``), checkpoints (agents that keep them)."""
    from streamsynth.envs.streamsynth_env import StreamSynthEnv
    from streamsynth.evaluation.callbacks import CheckpointCallback, LearningCurves, ProbeCallback, ResultsWriter

    out: list[Any] = []
    if ctx.agent.learns:  # the transfer matrix needs probe runs: b before the first task, row i after task i
        from streamsynth.evaluation.probes import probe_row

        probe_n = opts.probe_samples_per_label or opts.env.samples_per_label
        probe_env = StreamSynthEnv(opts.stream, config=replace(opts.env, samples_per_label=probe_n, max_rounds=1,
                                                               embedder=ctx.env.embedder))
        out.append(ProbeCallback(lambda: probe_row(ctx.agent, probe_env, ctx.config["tasks"], opts.seed, evaluator)))
    out += [ResultsWriter(run_title(opts)), LearningCurves()]
    if opts.report_to:
        from streamsynth.evaluation.reporting import ScalarReporter

        out.append(ScalarReporter(opts.report_to))
    if ctx.agent.supports_checkpoints:
        out.append(CheckpointCallback(opts.checkpoint_every))
    return out


def run_title(opts: RunOptions) -> str:
    """One line naming a run, for plots and tables."""
    return (f"{opts.agent} on {opts.stream} (seed {opts.seed}, {opts.env.samples_per_label}/label, "
            f"{opts.env.max_rounds} rounds)")
