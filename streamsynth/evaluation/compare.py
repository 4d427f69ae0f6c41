"""``synth-agent compare``: every agent on the same stream, seeds and budget; tables, plots, stream metrics.

Layout of a comparison folder::

    OUT/
      runs/<agent>/seed-<s>/   one complete run folder per cell (see experiment.py)
      results.md, results.csv  per task and overall: mean ± std over seeds
      stream_metrics.json      R matrices and ACC / BWT / FWT per agent and seed
      paired.json              paired differences (learning agent vs best-of-n, carry-over vs isolated), also in
                               results.md (``paired.py``)
      per_task.png, along_stream.png, R_<agent>.png

Re-running the same command skips complete cells, continues unfinished cells that left a checkpoint (SynLearner, sb3-*)
from it, and restarts the other unfinished ones from their beginning. A finished cell is reused only when its saved
settings (every option, the package version) equal the requested ones; otherwise the command stops and names the
differences (``force`` recomputes). Cells run one after another here or as Ray tasks (``executors.py``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from streamsynth.errors import StreamSynthError
from streamsynth.evaluation import paired
from streamsynth.evaluation.checkpoint import has_checkpoint
from streamsynth.evaluation.executors import Cell, LocalExecutor
from streamsynth.evaluation.experiment import is_complete, load_results, load_transfer
from streamsynth.evaluation.options import RunOptions
from streamsynth.evaluation.runner import TaskResult
from streamsynth.evaluation.stream_metrics import acc, bwt, constant_rows, fwt
from streamsynth.io import atomic_open, write_json, write_text

METRICS = ("test_accuracy", "test_macro_f1", "gold_test_accuracy", "quality", "realism", "diversity", "acceptance",
           "utility", "reward", "completions", "drafts", "wall_s")
BUDGETS = ("completions", "drafts", "wall_s")
"""Metrics that are budgets: summed over tasks in the overall row, shown without decimals."""
FINETUNE_METRICS = ("finetune_test_accuracy", "finetune_gold_test_accuracy")
"""Added in front of :data:`METRICS` when every cell reports the fine-tuned student (``--student finetune``)."""
HEADERS = {"test_accuracy": "linear acc", "test_macro_f1": "linear F1", "gold_test_accuracy": "gold linear (same N)",
           "finetune_test_accuracy": "fine-tuned acc", "finetune_gold_test_accuracy": "gold fine-tuned (same N)",
           "quality": "quality", "realism": "realism", "diversity": "diversity", "acceptance": "validity",
           "utility": "utility", "reward": "reward", "completions": "completions generated",
           "drafts": "feedback used (drafts)", "wall_s": "time (s)"}


def metrics_of(result: CompareResult) -> tuple[str, ...]:
    """The table's metrics: :data:`METRICS`, after the fine-tuned student's when every cell has them."""
    rows = [r.row() for cell in result.cells.values() for r in cell]
    has_ft = bool(rows) and all(m in r for r in rows for m in FINETUNE_METRICS)
    return (FINETUNE_METRICS + METRICS) if has_ft else METRICS


@dataclass
class CompareResult:
    agents: list[str]
    seeds: list[int]
    tasks: list[str]
    cells: dict[tuple[str, int], list[TaskResult]]
    skipped: list[tuple[str, int]] = field(default_factory=list)
    stream: dict[str, Any] = field(default_factory=dict)


def cell_dir(out: Path, agent: str, seed: int) -> Path:
    return Path(out) / "runs" / agent / f"seed-{seed}"


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value).

    >>> mean_std([1.0, 2.0, 3.0])
    (2.0, 1.0)
    """
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


def stream_scores(results: Sequence[TaskResult], transfer: dict[str, Any] | None = None) -> dict[str, Any]:
    """R matrix and ACC/BWT/FWT of one run.

    With ``transfer`` (probe runs of an agent that learns: ``R[i][j]`` after task i, ``b`` before the first task)
    those are used. Without, the agent does not learn across tasks: the data it writes for task j does not depend
    on which tasks it has seen, so every row of R is its per-task test accuracy and ``b = R[0]`` (BWT = FWT = 0 by
    construction)."""
    if transfer and transfer.get("R"):
        R, b = np.array(transfer["R"], dtype=float), np.array(transfer["b"], dtype=float)
    else:
        b = np.array([r.test["test_accuracy"] for r in results])
        R = constant_rows(b)
    return {"R": R.tolist(), "b": b.tolist(), "ACC": acc(R), "BWT": bwt(R), "FWT": fwt(R, b)}


IGNORED_SETTINGS = ("checkpoint_every", "report_to")
"""Options that do not change a cell's results, so a finished cell is reused whatever they were."""
PROBE_SETTINGS = ("probe_samples_per_label",)
"""Options used only by the probe runs of agents that learn: a cell of an agent that does not learn is reused
whatever they were (its ``config.json`` says ``learns: false`` in ``agent_config``)."""


def settings_diff(saved: dict[str, Any], requested: RunOptions) -> list[str]:
    """What differs between a cell folder's saved ``config.json`` and the requested options (with the package
    version), one ``"name: saved -> requested"`` line each; empty when the cell can be reused.

    >>> from streamsynth import __version__
    >>> eight = RunOptions.from_values({"samples_per_label": 8})
    >>> settings_diff({**eight.to_dict(), "versions": {"streamsynth": __version__}}, eight.with_(samples_per_label=16))
    ['env.samples_per_label: 8 -> 16']
    >>> zerogen = {**RunOptions(agent="zerogen").to_dict(), "agent_config": {"learns": False},
    ...            "versions": {"streamsynth": __version__}}
    >>> settings_diff(zerogen, RunOptions(agent="zerogen", probe_samples_per_label=4))  # no probe runs to differ
    []
    """
    from streamsynth import __version__
    from streamsynth.agents.registry import spec

    try:
        before = RunOptions.from_dict(saved)
    except (TypeError, ValueError) as exc:
        return [f"saved options are not valid now ({exc})"]
    agent_config = saved.get("agent_config")
    learns = not isinstance(agent_config, dict) or agent_config.get("learns", True) is not False
    ignored = IGNORED_SETTINGS if learns else IGNORED_SETTINGS + PROBE_SETTINGS
    synlearner = spec(requested.agent).learner and isinstance(agent_config, dict)
    if synlearner:  # compared setting by setting, with what a run from before a setting existed did
        ignored += ("learner",)
    old, new = before.flat(), requested.flat()
    keys = list(new) + [k for k in old if k not in new]
    out = [f"{key}: {old.get(key)!r} -> {new.get(key)!r}" for key in keys
           if key.split(".")[0] not in ignored and old.get(key) != new.get(key)]
    if synlearner:
        from streamsynth.agents.synlearner.config import SynLearnerConfig

        out += SynLearnerConfig.learner_diff(agent_config, before.learner, requested.learner)
    version = (saved.get("versions") or {}).get("streamsynth")
    if version != __version__:
        out.append(f"streamsynth version: {version} -> {__version__}")
    return out


def plan_cells(agents: Sequence[str], seeds: Sequence[int], base: RunOptions, out: Path, *, force: bool = False,
               log: Callable[[str], None] = print, agent_options: dict[str, Any] | None = None
               ) -> tuple[list[Cell], list[Cell]]:
    """``(to_run, reused)``: a complete cell is reused, a killed one with a checkpoint continues, others start
    over. A cell folder whose saved settings differ from the requested ones (:func:`settings_diff`) stops the
    command with the differences, or is cleared with ``force``."""
    import json
    import shutil

    from streamsynth.agents.registry import options_for

    to_run, reused, clashes = [], [], []
    for agent in agents:
        for seed in seeds:
            own = options_for(agent, agent_options or {})  # each -A setting goes to the agents that have it
            cell = Cell(base.with_(agent=agent, seed=seed, agent_options=own), cell_dir(out, agent, seed))
            config_path = cell.run_dir / "config.json"
            complete, resumable = is_complete(cell.run_dir), has_checkpoint(cell.run_dir)
            if (complete or resumable) and config_path.exists():
                try:
                    diff = settings_diff(json.loads(config_path.read_text()), cell.opts)
                except ValueError as exc:
                    diff = [f"config.json unreadable ({exc})"]
                if diff and force:
                    log(f"{cell.name}: settings differ ({'; '.join(diff)}); --force: recomputing")
                    shutil.rmtree(cell.run_dir)
                    complete = resumable = False
                elif diff:
                    clashes.append(f"{cell.name} ({cell.run_dir}): {'; '.join(diff)}")
                    continue
            if complete:
                reused.append(cell)
                log(f"{cell.name}: complete, reused ({cell.run_dir})")
                continue
            if resumable:
                log(f"{cell.name}: resuming from its checkpoint ({cell.run_dir})")
            to_run.append(cell)
    if clashes:
        raise StreamSynthError("finished cells in " + str(out) + " were run with other settings than requested:\n  "
                               + "\n  ".join(clashes) + "\nuse another --output folder, or --force to recompute them")
    return to_run, reused


def run_compare(agents: Sequence[str], seeds: Sequence[int], base: RunOptions, out: Path,
                hooks_for: Callable[[str, int], Any] | None = None, log: Callable[[str], None] = print, *,
                executor: Any = None, force: bool = False, agent_options: dict[str, Any] | None = None
                ) -> CompareResult:
    """Run (or reuse) every (agent, seed) cell with ``executor`` (default: :class:`LocalExecutor` with
    ``hooks_for``), then aggregate and write the comparison files. A failed cell does not stop the others; when
    any failed, nothing is aggregated and :class:`StreamSynthError` names them (finished cells stay, so running
    the command again retries only the rest)."""
    from streamsynth.agents import REGISTRY
    from streamsynth.agents.registry import options_for

    if not agents or not seeds:
        raise StreamSynthError("compare needs at least one agent and one seed")
    unknown = [a for a in agents if a not in REGISTRY]  # the registry, so agents registered later count too
    if unknown:
        raise StreamSynthError(f"unknown agent(s) {unknown}; known agents: {', '.join(REGISTRY)}")
    out = Path(out)
    unused = [k for k in (agent_options or {}) if not any(options_for(a, {k: None}) for a in agents)]
    if unused:
        raise StreamSynthError(f"-A {', '.join(unused)}: no agent of {list(agents)} has this setting; see "
                               "`synth-agent info --agent NAME`")
    to_run, reused = plan_cells(agents, seeds, base, out, force=force, log=log, agent_options=agent_options)
    if to_run:
        outcomes = (executor or LocalExecutor(hooks_for)).run(to_run, log)
        failed = [o for o in outcomes if o.error]
        if failed:
            raise StreamSynthError(f"{len(failed)} of {len(to_run)} cell(s) failed: "
                                   + "; ".join(f"{o.cell.name}: {o.error}" for o in failed)
                                   + f". Finished cells are kept in {out}; run the command again to retry the rest")
    cells = {(a, s): load_results(cell_dir(out, a, s))[1] for a in agents for s in seeds}
    tasks = [r.task for r in cells[(agents[0], seeds[0])]]
    result = CompareResult(list(agents), list(seeds), tasks, cells,
                           [(c.opts.agent, c.opts.seed) for c in reused])
    result.stream = {a: {str(s): stream_scores(cells[(a, s)], load_transfer(cell_dir(out, a, s))) for s in seeds}
                     for a in agents}
    write_compare(out, result, base)
    return result


def aggregate(result: CompareResult) -> list[dict[str, Any]]:
    """Rows (agent, task or "overall") with ``<metric>_mean`` and ``<metric>_std`` over seeds."""
    rows = []
    metrics = metrics_of(result)
    for agent in result.agents:
        per_seed_rows = {s: {r.task: r.row() for r in result.cells[(agent, s)]} for s in result.seeds}
        for task in result.tasks + ["overall"]:
            row: dict[str, Any] = {"agent": agent, "task": task, "seeds": len(result.seeds)}
            for m in metrics:
                if task == "overall":
                    agg = np.sum if m in BUDGETS else np.mean
                    vals = [float(agg([per_seed_rows[s][t].get(m, 0) for t in result.tasks])) for s in result.seeds]
                else:
                    vals = [float(per_seed_rows[s][task].get(m, 0)) for s in result.seeds]
                row[f"{m}_mean"], row[f"{m}_std"] = mean_std(vals)
            rows.append(row)
    return rows


def markdown_table(rows: list[dict[str, Any]], result: CompareResult) -> str:
    def cell(row: dict[str, Any], m: str) -> str:
        mean, std = row[f"{m}_mean"], row[f"{m}_std"]
        if m == "wall_s":
            return f"{mean:.1f} ± {std:.1f}"
        return f"{mean:.0f} ± {std:.0f}" if m in BUDGETS else f"{mean:.3f} ± {std:.3f}"

    metrics = metrics_of(result)
    head = ["agent", "task"] + [HEADERS[m] for m in metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        name = f"**{row['task']}**" if row["task"] == "overall" else row["task"]
        lines.append("| " + " | ".join([row["agent"], name] + [cell(row, m) for m in metrics]) + " |")
    lines += ["", "| agent | ACC | BWT | FWT |", "|---|---|---|---|"]
    for agent in result.agents:
        per = result.stream[agent].values()
        fmt = [f"{m:.3f} ± {s:.3f}" for m, s in (mean_std([p[k] for p in per]) for k in ("ACC", "BWT", "FWT"))]
        lines.append(f"| {agent} | " + " | ".join(fmt) + " |")
    return "\n".join(lines) + "\n"


def write_compare(out: Path, result: CompareResult, base: RunOptions) -> None:
    rows = aggregate(result)
    seeds = ", ".join(map(str, result.seeds))
    header = (f"# StreamSynth comparison\n\nStream `{base.stream}` ({' -> '.join(result.tasks)}), seeds {seeds}, "
              f"{base.env.samples_per_label} samples per label, {base.env.max_rounds} rounds, model "
              f"`{base.llm.model}`, embedder `{base.env.embedder}`. Mean ± std over seeds; student accuracy and "
              "macro-F1 on each task's real test split (never used by rewards); gold = the same student on the same "
              "number of real samples.\n\n")
    analysis = paired.analyse(result.agents, result.tasks,
                              {k: [r.row() for r in cell] for k, cell in result.cells.items()},
                              {k: paired.read_log(cell_dir(out, *k) / "learning.jsonl") for k in result.cells},
                              result.stream, base.probe_samples_per_label or base.env.samples_per_label)
    section = paired.markdown(analysis)
    write_text(out / "results.md", header + markdown_table(rows, result) + ("\n" + section if section else ""))
    write_json(out / "paired.json", analysis)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_text(out / "results.csv", buf.getvalue())
    write_json(out / "stream_metrics.json", {"tasks": result.tasks, "agents": result.stream,
                                             "options": base.to_dict(), "seeds": result.seeds})
    plot_compare(out, rows, result)


def plot_compare(out: Path, rows: list[dict[str, Any]], result: CompareResult) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    agents, tasks = result.agents, result.tasks
    x = np.arange(len(tasks))
    w = 0.8 / len(agents)
    fig, ax = plt.subplots(figsize=(max(7, 1.6 * len(tasks) * max(1, len(agents)) / 2), 4.2))
    for i, agent in enumerate(agents):
        sel = [r for r in rows if r["agent"] == agent and r["task"] != "overall"]
        ax.bar(x + (i - (len(agents) - 1) / 2) * w, [r["test_accuracy_mean"] for r in sel], w,
               yerr=[r["test_accuracy_std"] for r in sel], capsize=2, label=agent)
    ax.set_xticks(x, tasks, rotation=20, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("student test accuracy")
    ax.legend(fontsize=8, ncol=min(4, len(agents)))
    ax.set_title("per task (mean ± std over seeds)")
    fig.tight_layout()
    _save(fig, out / "per_task.png")

    fig, ax = plt.subplots(figsize=(7, 4))
    for agent in agents:
        sel = [r for r in rows if r["agent"] == agent and r["task"] != "overall"]
        ax.errorbar(np.arange(1, len(tasks) + 1), [r["reward_mean"] for r in sel], yerr=[r["reward_std"] for r in sel],
                    marker="o", capsize=2, label=agent)
    ax.set_xticks(np.arange(1, len(tasks) + 1), [f"{i}. {t}" for i, t in enumerate(tasks, 1)], rotation=20, ha="right")
    ax.set_ylabel("episode return (final set score)")
    ax.set_title("score along the stream")
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, out / "along_stream.png")

    for agent in agents:
        R = np.mean([np.array(v["R"]) for v in result.stream[agent].values()], axis=0)
        fig, ax = plt.subplots(figsize=(1.2 * len(tasks) + 2, 1.0 * len(tasks) + 1.5))
        im = ax.imshow(R, vmin=0, vmax=1, cmap="viridis")
        for i in range(len(tasks)):
            for j in range(len(tasks)):
                ax.text(j, i, f"{R[i, j]:.2f}", ha="center", va="center", color="w", fontsize=8)
        ax.set_xticks(range(len(tasks)), tasks, rotation=30, ha="right")
        ax.set_yticks(range(len(tasks)), [f"after {t}" for t in tasks])
        ax.set_title(f"R[i, j] for {agent} (test accuracy)")
        fig.colorbar(im, ax=ax)
        fig.tight_layout()
        _save(fig, out / f"R_{agent}.png")


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110)
    plt.close(fig)


