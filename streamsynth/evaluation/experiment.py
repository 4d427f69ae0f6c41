"""One run = one agent over one stream with one seed, written to a run folder.

Shared by ``synth-agent evaluate`` (one run) and ``synth-agent compare`` (a grid of runs). A run folder is
*complete* when its ``metrics.json`` says ``"complete": true``; it is written last, atomically, so a killed run
is never mistaken for a finished one.
"""

from __future__ import annotations

import platform
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable

from streamsynth.errors import StreamSynthError
from streamsynth.evaluation.runner import TaskResult, run_stream
from streamsynth.io import write_json


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
    embedder: str = "minilm"
    reward_mode: str = "delta"
    seed: int = 0
    probe_samples_per_label: int | None = None
    """Budget of each probe round of agents that learn (transfer matrix R); None: ``samples_per_label``."""

    def __post_init__(self) -> None:
        p = self.probe_samples_per_label
        if p is not None and (isinstance(p, bool) or not isinstance(p, int) or p < 1):
            raise ValueError(f"probe_samples_per_label must be a positive int or None, got {p!r}")

    def with_(self, **changes: Any) -> "RunOptions":
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunHooks:
    """Progress callbacks (all optional)."""

    on_start: Callable[[list[str]], None] | None = None
    on_task_start: Callable[[int, str], None] | None = None
    on_round: Callable[[str, int, float], None] | None = None
    on_task_end: Callable[[TaskResult], None] | None = None


def versions() -> dict[str, str]:
    """Versions of Python and the main libraries (recorded in every run's config)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("streamsynth", "gymnasium", "torch", "transformers", "sentence-transformers", "scikit-learn", "peft"):
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


def run_experiment(opts: RunOptions, run_dir: Path, hooks: RunHooks | None = None, *, overwrite_partial: bool = False
                   ) -> list[TaskResult]:
    """Run ``opts.agent`` over ``opts.stream``; write config, per-task metrics, datasets and plot to ``run_dir``.

    A folder holding a complete run is refused; a folder holding a partial (killed) run is refused too unless
    ``overwrite_partial`` (then it is cleared and the run starts over: the env's novelty memory and the agent's
    state make a mid-stream restart differ from an uninterrupted run).
    """
    from streamsynth.agents import LLMConfig, build_agent
    from streamsynth.envs.streamsynth_env import StreamSynthEnv
    from streamsynth.evaluation.report import plot_results, write_results

    hooks = hooks or RunHooks()
    run_dir = Path(run_dir)
    if is_complete(run_dir):
        raise StreamSynthError(f"{run_dir} already holds a finished run; choose another --output folder")
    if (run_dir / "config.json").exists():
        if not overwrite_partial:
            raise StreamSynthError(f"{run_dir} already holds a partial run; choose another --output folder")
        shutil.rmtree(run_dir)
    llm = LLMConfig(model=opts.model, backend=opts.backend, device=opts.device, batch_size=opts.batch_size,
                    temperature=opts.temperature, max_new_tokens=opts.max_new_tokens)
    env = StreamSynthEnv(opts.stream, samples_per_label=opts.samples_per_label, max_rounds=opts.rounds,
                         embedder=opts.embedder, reward_mode=opts.reward_mode, data_seed=opts.seed)
    agent = build_agent(opts.agent, env=env, llm=llm, seed=opts.seed)
    config = {**opts.to_dict(), "tasks": [t.name for t in env.tasks], "agent_config": agent.describe(),
              "reward_weights": env.weights.to_dict(), "versions": versions()}
    write_json(run_dir / "config.json", config)
    if hooks.on_start:
        hooks.on_start(config["tasks"])
    results: list[TaskResult] = []
    start = time.perf_counter()
    transfer: dict[str, Any] = {}
    probe: Callable[[], list[float]] | None = None
    if agent.learns:  # the transfer matrix needs probe runs: b before the first task, row i after task i
        from streamsynth.envs.streamsynth_env import StreamSynthEnv as _Env
        from streamsynth.evaluation.probes import probe_row

        probe_n = opts.probe_samples_per_label or opts.samples_per_label
        probe_env = _Env(opts.stream, samples_per_label=probe_n, max_rounds=1, embedder=env.embedder,
                         reward_mode=opts.reward_mode, data_seed=opts.seed)

        def probe_all() -> list[float]:
            return probe_row(agent, probe_env, config["tasks"], opts.seed)

        probe = probe_all
        transfer = {"b": probe(), "R": []}

    def on_task_end(result: TaskResult) -> None:
        results.append(result)
        if probe is not None:
            transfer["R"].append(probe())
        write_results(run_dir, results, config, transfer=transfer)  # after every task: a killed run keeps it
        if hooks.on_task_end:
            hooks.on_task_end(result)

    try:
        run_stream(env, agent, seed=opts.seed, on_task_start=hooks.on_task_start, on_task_end=on_task_end,
                   on_round=hooks.on_round)
    finally:
        agent.close()
    config["agent_config"] = agent.describe()  # again: agents record what they decided during the run
    write_json(run_dir / "config.json", config)
    title = f"{opts.agent} on {opts.stream} (seed {opts.seed}, {opts.samples_per_label}/label, {opts.rounds} rounds)"
    plot_results(run_dir / "plot.png", results, title)
    write_results(run_dir, results, {**config, "wall_seconds": round(time.perf_counter() - start, 1)},
                  complete=True, transfer=transfer)
    return results
