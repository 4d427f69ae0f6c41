"""The ``synth-agent evaluate`` command's library side: build env and agent, run the stream, report."""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from streamsynth.errors import StreamSynthError


@dataclass(frozen=True)
class EvaluateOptions:
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
    output: Path = Path("runs/evaluate")


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


def run_evaluate(opts: EvaluateOptions, console: Any) -> list:
    """Run ``opts.agent`` over ``opts.stream``; print a table; write the run folder. Returns the task results."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from streamsynth.agents import LLMConfig, build_agent
    from streamsynth.envs.streamsynth_env import StreamSynthEnv
    from streamsynth.evaluation.report import plot_results, results_table, summarize, write_results
    from streamsynth.evaluation.runner import run_stream
    from streamsynth.io import write_json

    run_dir = Path(opts.output)
    if (run_dir / "metrics.json").exists():
        raise StreamSynthError(f"{run_dir} already holds a finished or partial run; choose another --output folder")
    llm = LLMConfig(model=opts.model, backend=opts.backend, device=opts.device, batch_size=opts.batch_size,
                    temperature=opts.temperature, max_new_tokens=opts.max_new_tokens)
    env = StreamSynthEnv(opts.stream, samples_per_label=opts.samples_per_label, max_rounds=opts.rounds,
                         embedder=opts.embedder, reward_mode=opts.reward_mode, data_seed=opts.seed)
    agent = build_agent(opts.agent, env=env, llm=llm, seed=opts.seed)
    config = {"command": "evaluate", **{k: str(v) if isinstance(v, Path) else v for k, v in asdict(opts).items()},
              "tasks": [t.name for t in env.tasks], "agent_config": agent.describe(),
              "reward_weights": env.weights.to_dict(), "versions": versions()}
    write_json(run_dir / "config.json", config)
    console.print(f"[bold]StreamSynth[/bold] agent={opts.agent} stream={opts.stream} tasks={config['tasks']} -> {run_dir}")

    results: list = []
    start = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=False) as progress:
        stream_bar = progress.add_task("tasks", total=len(env.tasks))
        round_bar = progress.add_task("rounds", total=opts.rounds)

        def on_task_start(i: int, name: str) -> None:
            progress.update(stream_bar, description=f"task {i + 1}/{len(env.tasks)}")
            progress.update(round_bar, completed=0, description=f"{name}: rounds")

        def on_round(task: str, r: int, reward: float) -> None:
            progress.update(round_bar, completed=r, description=f"{task}: round {r} reward {reward:+.3f}")

        def on_task_end(result) -> None:
            results.append(result)
            write_results(run_dir, results, config)  # after every task: an interrupted run keeps what it finished
            progress.advance(stream_bar)

        progress.update(stream_bar, description="loading data and models")
        run_stream(env, agent, seed=opts.seed, on_task_start=on_task_start, on_task_end=on_task_end, on_round=on_round)
    agent.close()
    title = f"{opts.agent} on {opts.stream} (seed {opts.seed}, {opts.samples_per_label}/label, {opts.rounds} rounds)"
    plot_results(run_dir / "plot.png", results, title)
    console.print(results_table(results, title))
    summary = summarize(results)
    console.print(f"total {time.perf_counter() - start:.0f} s; mean test accuracy {summary['test_accuracy']:.3f} "
                  f"(gold {summary['gold_test_accuracy']:.3f}); run folder: {run_dir}")
    return results
