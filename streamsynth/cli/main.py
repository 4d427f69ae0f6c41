"""``synth-agent``: evaluate agents on task streams, list tasks, show what is installed.

Commands are thin: parse options, build configs, call library functions. Heavy imports happen inside the
commands so ``synth-agent --help`` stays instant.
"""

from __future__ import annotations

import datetime as _dt
import os
import sys
from pathlib import Path
from typing import Optional

import typer

from streamsynth.cli.options import with_run_options
from streamsynth.cli.threads import default_thread_environment

app = typer.Typer(
    name="synth-agent",
    help="StreamSynth: agents that synthesize training data over a stream of tasks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def _before_every_command() -> None:
    default_thread_environment(os.environ)  # before any command loads torch


def _setting_line(key: str, default: object, help: str, note: str = "") -> str:
    """One row of the ``info`` settings listings: ``key = default``, a note, then ``  # help``."""
    return f"{key} = {default!r}{note}" + (f"  # {help}" if help else "")


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


# Options of `evaluate` and `compare` beyond the settings' own (derived from the dataclasses: cli/options.py)
LEARNER = typer.Option(
    [], "--learner", "-L", metavar="KEY=VALUE",
    help="SynLearner setting (repeatable), e.g. -L lora_rank=16 -L lr=5e-5 -L group_size=8 -L kl_coef=0.02 "
    "-L eft_epochs=2 -L isolated=true; see `synth-agent info --learner` for every key and its default.")
ENV = typer.Option(
    [], "--env", "-E", metavar="KEY=VALUE",
    help="Env setting (repeatable), e.g. -E reward_weights.utility=0.5 -E max_samples_per_step=64 "
    "-E near_copy_overlap=0.8; see `synth-agent info --settings` for every key and its default.")
AGENT_OPTION = typer.Option(
    [], "--agent-option", "-A", metavar="KEY=VALUE",
    help="Setting of the agent (repeatable), e.g. -A k=2 (fewshot) -A top_p=0.8 -A n_steps=8 (sb3-*); for "
    "synlearner the same as -L. In compare each setting goes to the agents that have it. See "
    "`synth-agent info --agent NAME`.")
CONFIG = typer.Option(None, "--config", help="Run file (TOML, or a run folder's config.json) with this "
                      "command's options; options given on the command line override it.")


def _option_tables(env_options: list[str], agent_option: list[str], learner: list[str]) -> dict:
    """The ``-E`` / ``-A`` / ``-L`` items as the tables of an options mapping (only those given)."""
    from streamsynth.cli.options import env_overrides
    from streamsynth.config import parse_overrides

    tables = {"env": env_overrides(env_options), "agent_options": parse_overrides(agent_option, "-A"),
              "learner": parse_learner_options(learner)}
    return {k: v for k, v in tables.items() if v}


@app.command()
@with_run_options("evaluate")
def evaluate(
    ctx: typer.Context,
    given: dict,
    learner: list[str] = LEARNER,
    agent_option: list[str] = AGENT_OPTION,
    env_options: list[str] = ENV,
    output: Optional[Path] = typer.Option(None, help="Run folder (default: runs/<agent>-<stream>-<time>)."),
    resume: Optional[Path] = typer.Option(
        None, help="Continue the interrupted run in this folder from its last checkpoint, with the options saved "
        "there (the other options are ignored); agents with checkpoints (synlearner, sb3-*)."),
    config: Optional[Path] = CONFIG,
) -> None:
    """Run one agent over a stream of tasks; print a per-task table and write a run folder."""
    from streamsynth.cli.progress import run_progress
    from streamsynth.errors import StreamSynthError
    from streamsynth.evaluation.experiment import run_experiment
    from streamsynth.evaluation.options import RunOptions
    from streamsynth.evaluation.report import results_table, summarize

    console = _console()
    try:
        if resume is not None:
            output = resume
            opts = RunOptions.from_dict(_saved_options(resume))
            console.print(f"[bold]StreamSynth[/bold] evaluate: resuming {resume} (agent={opts.agent} "
                          f"stream={opts.stream} seed={opts.seed})")
        else:
            values = {**given, **_option_tables(env_options, agent_option, learner)}
            if config is not None:
                from streamsynth.cli.runfile import merge_run_file

                values = merge_run_file("evaluate", config, values)
            opts = RunOptions.from_values(values)
            if output is None:
                output = Path("runs") / f"{opts.agent}-{_safe(opts.stream)}-" \
                    f"{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"
            console.print(f"[bold]StreamSynth[/bold] evaluate agent={opts.agent} stream={opts.stream} seed={opts.seed} "
                          f"-> {output}")
        with run_progress(console, opts.env.max_rounds) as hooks:
            results = run_experiment(opts, output, hooks, resume=resume is not None)
    except (StreamSynthError, ValueError) as exc:
        _fail(str(exc))
    from streamsynth.evaluation.experiment import run_title

    console.print(results_table(results, run_title(opts)))
    s = summarize(results)
    realistic = ""
    if "finetune_test_accuracy" in s:
        realistic = (f"; fine-tuned student {s['finetune_test_accuracy']:.3f} (gold "
                     f"{s['finetune_gold_test_accuracy']:.3f})")
    console.print(f"total {s['wall_s']:.0f} s over tasks; mean test accuracy: linear student "
                  f"{s['test_accuracy']:.3f} (gold student at the same N {s['gold_test_accuracy']:.3f}){realistic}; "
                  f"run folder: {output}")
    console.print(f"budgets: {sum(r.completions for r in results)} LLM completions generated, "
                  f"{sum(r.drafts for r in results)} drafts scored (feedback), "
                  f"{sum(r.rounds for r in results)} rounds over {len(results)} tasks")


def _saved_options(run_dir: Path) -> dict:
    import json

    from streamsynth.errors import StreamSynthError

    path = Path(run_dir) / "config.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise StreamSynthError(f"{run_dir} holds no run to resume (no config.json); check the folder") from None
    except ValueError as exc:
        raise StreamSynthError(f"{path} is not valid JSON ({exc}); the run cannot be resumed") from exc


def parse_learner_options(items: list[str]) -> dict:
    """``["lr=5e-5", "isolated=true"]`` -> ``{"lr": 5e-05, "isolated": True}``, typed by the SynLearner config's
    fields (tuples as comma-separated values); unknown keys and bad values raise ``ValueError``.

    >>> parse_learner_options(["lr=5e-5", "isolated=yes", "lora_targets=q_proj,v_proj"])
    {'lr': 5e-05, 'isolated': True, 'lora_targets': ('q_proj', 'v_proj')}
    """
    from streamsynth.agents import SHARED_LLM_SETTINGS
    from streamsynth.agents.synlearner.config import SynLearnerConfig
    from streamsynth.config import apply_overrides, parse_overrides, setting_keys

    raw = parse_overrides(items, "--learner")
    known = [k for k in setting_keys(SynLearnerConfig()) if k not in SHARED_LLM_SETTINGS and k != "embedder"]
    for key in raw:
        if key in SHARED_LLM_SETTINGS:
            raise ValueError(f"--learner {key}: {key} is shared by every agent; use --{key.replace('_', '-')}")
        if key == "embedder":
            raise ValueError(f"--learner {key}: use --embedder (the env and SynLearner share it)")
        if key not in known:
            raise ValueError(f"--learner {key}: unknown setting; known: {', '.join(known)}")
    cfg = apply_overrides(SynLearnerConfig(), raw, "--learner")
    return {key: getattr(cfg, key) for key in raw}


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(text).stem)[:40]


def _console():
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 160)


@app.command()
@with_run_options("compare")
def compare(
    ctx: typer.Context,
    given: dict,
    agents: str = typer.Option("zerogen,oracle", help="Comma-separated agents (see `synth-agent tasks`)."),
    seeds: int = typer.Option(3, min=1, help="Number of seeds (0..N-1): each agent runs once per seed."),
    learner: list[str] = LEARNER,
    agent_option: list[str] = AGENT_OPTION,
    env_options: list[str] = ENV,
    output: Path = typer.Option(Path("runs/compare"), help="Comparison folder; re-running skips finished cells."),
    executor: str = typer.Option("local", help="local (cells one after another in this process) or ray (cells as "
                                 "Ray tasks; pip install 'streamsynth\\[ray]')."),
    cpus_per_cell: Optional[int] = typer.Option(
        None, min=1, help="CPUs of each cell, which also sets its torch/BLAS threads (ray: default 1; local: "
        "default all cores)."),
    gpus_per_cell: float = typer.Option(0.0, min=0.0, help="GPUs of each Ray cell (with --device cuda)."),
    address: Optional[str] = typer.Option(None, help="Ray cluster to join: HOST:PORT (from `ray start --head`), or "
                                          "auto for the one running on this machine; default: a local Ray of its "
                                          "own on this machine's cores."),
    force: bool = typer.Option(False, help="Recompute finished cells whose saved settings differ from these."),
    config: Optional[Path] = CONFIG,
) -> None:
    """Run several agents on the same stream, seeds and budget; write Markdown/CSV tables, plots and stream metrics."""
    from streamsynth.config import check_int
    from streamsynth.errors import StreamSynthError
    from streamsynth.evaluation.compare import run_compare
    from streamsynth.evaluation.options import RunOptions

    try:
        values = {**given, **_option_tables(env_options, agent_option, learner)}
        source = ctx.get_parameter_source
        values.update({k: v for k, v in (("agents", agents), ("seeds", seeds))
                       if getattr(source(k), "name", "DEFAULT") not in ("DEFAULT", "DEFAULT_MAP")})
        if config is not None:
            from streamsynth.cli.runfile import merge_run_file

            values = merge_run_file("compare", config, values)
        agents, seeds = values.pop("agents", agents), values.pop("seeds", seeds)
        agent_options = values.pop("agent_options", {})
        check_int("seeds", seeds)
        base = RunOptions.from_values(values)
    except ValueError as exc:
        _fail(str(exc))
    names = [a.strip() for a in agents.split(",") if a.strip()]
    console = _console()
    console.print(f"[bold]StreamSynth[/bold] compare agents={names} stream={base.stream} seeds=0..{seeds - 1} "
                  f"executor={executor} -> {output}")
    try:
        run = _executor(executor, cpus_per_cell, gpus_per_cell, address, console, base.env.max_rounds)
        run_compare(names, list(range(seeds)), base, output, log=console.print, executor=run, force=force,
                    agent_options=agent_options)
    except (StreamSynthError, ValueError) as exc:
        _fail(str(exc))
    from rich.markdown import Markdown

    console.print(Markdown((output / "results.md").read_text()))
    console.print(f"comparison folder: {output}")


def _executor(name: str, cpus_per_cell: int | None, gpus_per_cell: float, address: str | None, console, rounds: int):
    """The executor of ``compare --executor``: local with per-round progress bars, or Ray with an overall one."""
    from streamsynth.cli.progress import CellsProgress, run_progress
    from streamsynth.evaluation.executors import EXECUTORS, LocalExecutor, RayExecutor

    if name not in EXECUTORS:
        raise ValueError(f"--executor must be one of {list(EXECUTORS)}, got {name!r}")
    if name == "local":
        if address or gpus_per_cell:
            raise ValueError("--address and --gpus-per-cell need --executor ray")
        return LocalExecutor(lambda a, s: run_progress(console, rounds, label=f"{a} seed {s}: "), cpus_per_cell)
    return CellsProgress(RayExecutor(cpus_per_cell or 1, gpus_per_cell, address), console)


@app.command()
def tasks(
    check_data: bool = typer.Option(True, help="Check whether each offline task's data package is installed."),
) -> None:
    """List built-in tasks, streams and agents."""
    from rich.console import Console
    from rich.table import Table

    from streamsynth.agents import REGISTRY
    from streamsynth.tasks import list_streams, list_tasks

    console = Console()
    t = Table(title="tasks")
    for col in ("name", "domain", "labels", "fields", "offline", "data"):
        t.add_column(col)
    for name, meta in list_tasks(check_data=check_data).items():
        t.add_row(name, str(meta.get("domain", "")), str(meta.get("labels", "")), str(meta.get("fields", "")),
                  "yes" if meta.get("offline") else "no (hub)", str(meta.get("data", "")))
    console.print(t)
    s = Table(title="streams")
    s.add_column("name")
    s.add_column("tasks")
    for name, names in list_streams().items():
        s.add_row(name, " -> ".join(names))
    console.print(s)
    a = Table(title="agents")
    a.add_column("name")
    a.add_column("what it does")
    for name, desc in ((n, s.description) for n, s in REGISTRY.items()):
        a.add_row(name, desc)
    console.print(a)


@app.command()
def info(
    learner: bool = typer.Option(False, "--learner", help="List the SynLearner settings (for -L KEY=VALUE) instead."),
    settings: bool = typer.Option(False, "--settings", help="List the env settings (for -E KEY=VALUE) instead."),
    agent: Optional[str] = typer.Option(None, "--agent", help="List this agent's settings (for -A KEY=VALUE) instead."),
) -> None:
    """Versions, compute device and which offline models and datasets were found."""
    if learner:
        from streamsynth.agents.synlearner.config import SynLearnerConfig
        from streamsynth.config import describe_settings

        for row in describe_settings(SynLearnerConfig()):
            typer.echo(_setting_line(row.key, row.default, row.help))
        typer.echo("(model, device, batch_size, temperature, max_new_tokens and embedder come from the shared "
                   "--model/--device/--batch-size/--temperature/--max-new-tokens/--embedder options)")
        return
    if agent is not None:
        from streamsynth.agents.llm import LLMConfig
        from streamsynth.agents.registry import spec
        from streamsynth.config import describe_settings

        try:
            agent_spec = spec(agent)
        except ValueError as exc:
            _fail(str(exc))
        cls = agent_spec.options_class()
        rows = {row.key: row for row in [*(describe_settings(LLMConfig()) if agent_spec.llm else []),
                                         *(describe_settings(cls(**dict(agent_spec.fixed))) if cls else [])]}
        keys = agent_spec.option_keys()
        typer.echo(f"{agent}: {agent_spec.description}")
        for key in keys:
            typer.echo(_setting_line(key, rows[key].default, rows[key].help))
        if not keys:
            typer.echo("(no settings)")
        return
    if settings:
        from streamsynth.config import describe_settings
        from streamsynth.envs.config import EnvConfig
        from streamsynth.evaluation.options import BOUND, first_class

        own = {f.path[1]: f.flag for f in first_class().values() if f.path[0] == "env" and len(f.path) == 2}
        own.update({name: f"--{field}" for (table, name), field in BOUND.items() if table == "env"})
        for row in describe_settings(EnvConfig()):
            flag = own.get(row.key)
            typer.echo(_setting_line(row.key, row.default, row.help, f"  (set with {flag})" if flag else ""))
        return
    from streamsynth.cli.info import print_info

    print_info()


def main() -> None:  # pragma: no cover - entry point
    app(prog_name="synth-agent")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
