"""One run = one agent over one stream with one seed, written to a run folder.

Shared by ``synth-agent evaluate`` (one run) and ``synth-agent compare`` (a grid of runs). A run folder is
*complete* when its ``metrics.json`` says ``"complete": true``; it is written last, atomically, so a killed run
is never mistaken for a finished one.
"""

from __future__ import annotations

import platform
import shutil
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from streamsynth.config import check_int
from streamsynth.errors import StreamSynthError
from streamsynth.evaluation.runner import TaskResult, run_stream
from streamsynth.io import write_json

if TYPE_CHECKING:
    from streamsynth.envs.config import EnvConfig
    from streamsynth.synthesis.config import LLMConfig


STUDENT_CHOICES = ("linear", "finetune")


@dataclass(frozen=True)
class RunOptions:
    """Everything that defines a run (the CLI options of ``evaluate``)."""

    agent: str = "zerogen"
    stream: str = "offline"
    samples_per_label: int = 16
    rounds: int = 3
    model: str = "smollm2-135m"
    backend: str = "transformers"
    device: str = "auto"
    batch_size: int = 32
    temperature: float = 0.9
    max_new_tokens: int = 64
    base_url: str | None = None
    """``--backend openai``: the endpoint (``--base-url``)."""
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 8
    completion_cache: bool = True
    embedder: str = "minilm"
    reward_mode: str = "delta"
    seed: int = 0
    probe_samples_per_label: int | None = None
    """Budget of each probe round of agents that learn (transfer matrix R); None: ``samples_per_label``."""
    learner: dict[str, Any] = field(default_factory=dict)
    """SynLearner settings (fields of ``SynLearnerConfig``; the shared model/sampling settings and the embedder come
    from the options above), e.g. ``{"lr": 1e-4}``."""
    student: str = "finetune"
    """Students of the test reports: ``"linear"`` (logistic regression on frozen embeddings, cheap) or
    ``"finetune"`` (also MiniLM fine-tuned end to end, the realistic student; both are reported)."""
    checkpoint_every: int = 0
    """Checkpoint every N env steps inside a task (rounds and drafts-only steps; 0: only after each task); agents
    that support checkpoints only."""
    env: dict[str, Any] = field(default_factory=dict)
    """Env settings beyond the options above (``-E KEY=VALUE``): dotted keys of
    :class:`~streamsynth.envs.config.EnvConfig`, e.g. ``{"reward_weights.utility": 0.5}``; stored typed."""
    agent_options: dict[str, Any] = field(default_factory=dict)
    """The agent's own settings (``-A KEY=VALUE``; see ``synth-agent info --agent NAME``), e.g. ``{"k": 2}`` for
    ``fewshot``; stored typed. For SynLearner they go to ``learner`` (``-A`` and ``-L`` are the same there)."""
    report_to: tuple[str, ...] = ()
    """Where the run's scalars also go: ``tensorboard`` (event files in ``RUN_DIR/tensorboard``) and/or ``wandb``
    (:mod:`streamsynth.evaluation.reporting`); they change no result."""

    def __post_init__(self) -> None:
        from streamsynth.evaluation.reporting import parse_report_to

        object.__setattr__(self, "report_to", parse_report_to(self.report_to))
        object.__setattr__(self, "env", _typed_env_overrides(self.env))
        if self.agent_options:
            from streamsynth.agents.registry import typed_options

            typed = typed_options(self.agent, self.agent_options)
            if self.agent.startswith("synlearner"):
                object.__setattr__(self, "learner", {**dict(self.learner), **typed})
                typed = {}
            object.__setattr__(self, "agent_options", typed)
        p = self.probe_samples_per_label
        if p is not None:
            check_int("probe_samples_per_label", p)
        if self.student not in STUDENT_CHOICES:
            raise ValueError(f"student must be one of {STUDENT_CHOICES}, got {self.student!r}")
        check_int("checkpoint_every", self.checkpoint_every, 0)
        self.llm_config()  # the model and sampling options are checked where they are declared, before any run
        if self.learner:
            from streamsynth.agents.synlearner.config import SynLearnerConfig

            cfg = SynLearnerConfig.from_dict(dict(self.learner))  # validates names and values now, not mid-run
            # typed as the config holds them (a tuple saved as a JSON list is a tuple again), so the options read
            # back from a run's config.json equal the requested ones
            object.__setattr__(self, "learner", {k: getattr(cfg, k) for k in self.learner})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunOptions":
        """The options saved in a run folder's ``config.json`` (other keys there are ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def with_(self, **changes: Any) -> "RunOptions":
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def llm_config(self) -> "LLMConfig":
        """The model, sampling and endpoint settings that every LLM agent of the run shares."""
        from streamsynth.agents.registry import ENDPOINT_SETTINGS, SHARED_LLM_SETTINGS
        from streamsynth.synthesis.config import LLMConfig

        return LLMConfig(**{name: getattr(self, name) for name in SHARED_LLM_SETTINGS + ENDPOINT_SETTINGS})

    def env_config(self, **changes: Any) -> "EnvConfig":
        """The env's settings: the dedicated options, then the ``env`` overrides, then ``changes`` (probe envs)."""
        from streamsynth.config import apply_overrides
        from streamsynth.envs.config import EnvConfig

        base = EnvConfig(samples_per_label=self.samples_per_label, max_rounds=self.rounds, embedder=self.embedder,
                         reward_mode=self.reward_mode, data_seed=self.seed)
        return replace(apply_overrides(base, self.env, "-E"), **changes)


ENV_OPTIONS = {"samples_per_label": "--samples-per-label", "max_rounds": "--rounds", "embedder": "--embedder",
               "reward_mode": "--reward-mode", "data_seed": "--seed"}
"""Env settings that have their own option (so ``-E`` refuses them: one way to set each)."""


def _typed_env_overrides(overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` checked against :class:`EnvConfig` and converted to their types (flat dotted keys).

    >>> _typed_env_overrides({"reward_weights": {"utility": "0.5"}, "cycle": "yes"})
    {'reward_weights.utility': 0.5, 'cycle': True}
    """
    from streamsynth.config import SettingError, apply_overrides, flatten
    from streamsynth.envs.config import EnvConfig

    flat = flatten(dict(overrides or {}))
    for key in flat:
        if key.split(".")[0] in ENV_OPTIONS:
            raise SettingError(f"-E {key}: use {ENV_OPTIONS[key.split('.')[0]]} (one way to set each setting)")
    cfg = apply_overrides(EnvConfig(), flat, "-E")
    out = {}
    for key in flat:
        value: Any = cfg
        for part in key.split("."):
            value = getattr(value, part)
        out[key] = value
    return out


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
    transfer matrix, the results writer, checkpoints, progress hooks, then the caller's ``callbacks``
    (:class:`~streamsynth.evaluation.callbacks.RunCallback` objects).
    """
    from streamsynth.agents import build_agent
    from streamsynth.envs.streamsynth_env import StreamSynthEnv
    from streamsynth.evaluation.callbacks import (CallbackList, CheckpointCallback, HookCallback, LearningCurves,
                                                  ProbeCallback, ResultsWriter, RunCallback, RunContext)
    from streamsynth.evaluation.checkpoint import can_checkpoint, load_checkpoint
    from streamsynth.evaluation.evaluator import Evaluator
    from streamsynth.evaluation.runner import EpisodeProgress

    hooks = hooks or RunHooks()
    run_dir = Path(run_dir)
    if is_complete(run_dir):
        raise StreamSynthError(f"{run_dir} already holds a finished run; choose another --output folder")
    if resume:
        import json

        if not (run_dir / "config.json").exists():
            raise StreamSynthError(f"{run_dir} holds no run to resume (no config.json); check the folder")
        opts = RunOptions.from_dict(json.loads((run_dir / "config.json").read_text()))
    elif (run_dir / "config.json").exists():
        if not overwrite_partial:
            raise StreamSynthError(f"{run_dir} already holds a partial run; choose another --output folder, or "
                                   "continue it with --resume (agents with checkpoints)")
        shutil.rmtree(run_dir)
    llm = opts.llm_config()
    env = StreamSynthEnv(opts.stream, **opts.env_config().kwargs())
    # the harness's test-split reports (the env holds no test split); the linear student is always reported
    students = ("linear", "finetune") if opts.student == "finetune" else ("linear",)
    evaluator = Evaluator.for_env(env, students=students)
    learner = None
    if opts.agent.startswith("synlearner"):
        from streamsynth.agents.synlearner.config import SynLearnerConfig

        learner = SynLearnerConfig.from_dict({**dict(opts.learner), "embedder": opts.embedder})
    agent = build_agent(opts.agent, env=env, llm=llm, seed=opts.seed, learner=learner,
                        options=dict(opts.agent_options) or None)
    checkpoints = can_checkpoint(agent)
    if resume and not checkpoints:
        raise StreamSynthError(f"agent {opts.agent!r} keeps no checkpoints, so its run cannot be resumed; start it "
                               "again in a new folder")
    config = {**opts.to_dict(), "tasks": [t.name for t in env.tasks], "agent_config": agent.describe(),
              "env_config": env.config.to_dict(), "reward_weights": env.weights.to_dict(), "versions": versions()}
    ctx = RunContext(run_dir, env, agent, config, resumed=resume)
    progress: dict[str, Any] = {"next_task": 0, "episode": None, "seconds": 0.0}
    if resume:
        progress = load_checkpoint(run_dir, env, agent)
        _, done = load_results(run_dir) if (run_dir / "metrics.json").exists() else ({}, [])
        ctx.results = done[: progress["next_task"]]
        ctx.transfer = progress.get("transfer") or {}
        ctx.start -= float(progress.get("seconds", 0.0))
    else:
        write_json(run_dir / "config.json", config)
    steps: list[RunCallback] = []
    if agent.learns:  # the transfer matrix needs probe runs: b before the first task, row i after task i
        from streamsynth.evaluation.probes import probe_row

        probe_n = opts.probe_samples_per_label or opts.samples_per_label
        probe_env = StreamSynthEnv(opts.stream, **opts.env_config(samples_per_label=probe_n, max_rounds=1,
                                                                  embedder=env.embedder).kwargs())
        steps.append(ProbeCallback(lambda: probe_row(agent, probe_env, config["tasks"], opts.seed, evaluator)))
    title = f"{opts.agent} on {opts.stream} (seed {opts.seed}, {opts.samples_per_label}/label, {opts.rounds} rounds)"
    steps.append(ResultsWriter(title))
    steps.append(LearningCurves())
    if opts.report_to:
        from streamsynth.evaluation.reporting import ScalarReporter

        steps.append(ScalarReporter(opts.report_to))
    if checkpoints:
        steps.append(CheckpointCallback(opts.checkpoint_every))
    run = CallbackList([*steps, HookCallback(hooks), *callbacks])
    run.on_run_start(ctx)
    episode = EpisodeProgress(**{"steps": progress["episode"].get("rounds", 0), **progress["episode"]}) \
        if progress.get("episode") else None
    try:
        run_stream(env, agent, seed=opts.seed, evaluator=evaluator, on_task_start=hooks.on_task_start,
                   on_task_end=lambda result: run.on_task_end(ctx, result), on_round=hooks.on_round,
                   on_step=lambda ep, done: run.on_step(ctx, ep, done), skip=len(ctx.results),
                   restored=resume and (bool(ctx.results) or episode is not None), resume=episode)
    finally:
        agent.close()
    run.on_run_end(ctx)
    results = ctx.results
    return results
