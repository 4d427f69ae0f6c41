"""Run folders and reports: config, per-task metrics (JSON, CSV), synthetic datasets (JSONL), a PNG plot.

Layout of a run folder::

    RUN/
      config.json         what was run (agent, stream, budget, model, seed, versions)
      metrics.json        per-task results and the stream summary (rewritten after every task)
      metrics.csv         one row per task
      datasets/<task>.jsonl   the accepted synthetic samples
      plot.png            student test accuracy vs the gold student, and reward components, per task
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from streamsynth.evaluation.paired import policy_steps
from streamsynth.evaluation.runner import FINETUNE_KEYS, TaskResult
from streamsynth.io import atomic_open, write_json, write_jsonl, write_text

SUMMARY_KEYS = ("reward", "quality", "realism", "diversity", "utility", "test_accuracy", "test_macro_f1",
                "gold_test_accuracy", "gold_test_macro_f1")


def summarize(results: Sequence[TaskResult]) -> dict[str, float]:
    """Mean of the main figures over tasks.

    >>> summarize([])
    {}
    """
    rows = [r.row() for r in results]
    if not rows:
        return {}
    keys = [k for k in (*SUMMARY_KEYS, *FINETUNE_KEYS) if all(k in r for r in rows)]
    out = {k: round(sum(r[k] for r in rows) / len(rows), 4) for k in keys}
    out["tasks"] = len(rows)
    out["wall_s"] = round(sum(r["wall_s"] for r in rows), 1)
    return out


def write_results(run_dir: Path, results: Sequence[TaskResult], config: dict[str, Any], *, complete: bool = False,
                  transfer: dict[str, Any] | None = None) -> None:
    """Write metrics (JSON, CSV) and datasets atomically; safe to call after every task. ``metrics.json`` is
    written last, so ``"complete": true`` implies every other file is in place."""
    run_dir.mkdir(parents=True, exist_ok=True)
    for r in results:
        write_jsonl(run_dir / "datasets" / f"{r.task}.jsonl", r.dataset)
    rows = [r.row() for r in results]
    if rows:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        write_text(run_dir / "metrics.csv", buf.getvalue())
    write_json(run_dir / "metrics.json", {
        "complete": complete,
        "config": config,
        "summary": summarize(results),
        "tasks": [r.to_dict() for r in results],
        "transfer": transfer or {},
    })


def plot_results(path: Path, results: Sequence[TaskResult], title: str) -> None:
    """Two panels: student vs gold test accuracy per task; reward components per task."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = [r.row() for r in results]
    names = [r["task"] for r in rows]
    x = np.arange(len(rows))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(max(8, 2.2 * len(rows) * 2), 4.2))
    w = 0.38
    student = "finetune_" if rows and all("finetune_test_accuracy" in r for r in rows) else ""
    kind = "fine-tuned" if student else "linear"
    ax1.bar(x - w / 2, [r[f"{student}test_accuracy"] for r in rows], w, label=f"{kind} student, synthetic data")
    ax1.bar(x + w / 2, [r[f"{student}gold_test_accuracy"] for r in rows], w, label=f"{kind} student, same N real")
    ax1.set_ylabel("test accuracy")
    ax1.set_ylim(0, 1)
    ax1.set_xticks(x, names, rotation=20, ha="right")
    ax1.legend(loc="lower left", fontsize=8)
    ax1.set_title("downstream student on the real test split")
    keys = ("quality", "realism", "diversity", "utility", "reward")
    w2 = 0.8 / len(keys)
    for k_i, k in enumerate(keys):
        ax2.bar(x + (k_i - (len(keys) - 1) / 2) * w2, [r[k] for r in rows], w2, label=k)
    ax2.set_ylim(0, 1)
    ax2.set_xticks(x, names, rotation=20, ha="right")
    ax2.legend(loc="lower left", fontsize=8, ncol=2)
    ax2.set_title("reward components of the final set")
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110)
    plt.close(fig)


def results_table(results: Sequence[TaskResult], title: str):
    """A rich Table of the per-task rows plus a mean row."""
    from rich.table import Table

    table = Table(title=title)
    rows = [r.row() for r in results]
    cols = [("task", "task"), ("n", "N"), ("reward", "reward"), ("quality", "quality"), ("realism", "realism"),
            ("diversity", "diversity"), ("utility", "utility (dev F1)"), ("test_accuracy", "linear acc"),
            ("gold_test_accuracy", "gold linear")]
    if rows and all("finetune_test_accuracy" in r for r in rows):
        cols += [("finetune_test_accuracy", "fine-tuned acc"), ("finetune_gold_test_accuracy", "gold fine-tuned")]
    cols += [("acceptance", "accepted"), ("wall_s", "time (s)")]
    for _, head in cols:
        table.add_column(head, justify="left" if head == "task" else "right")
    for row in rows:
        table.add_row(*[f"{row[k]:.1f}" if k == "wall_s" else _fmt(row[k]) for k, _ in cols])
    s = summarize(results)
    if s:
        table.add_section()
        table.add_row("mean", "", *[_fmt(s[k]) for k, _ in cols[2:-2]], "", f"{s['wall_s']:.1f}")
    return table


def _fmt(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


LEARNING_KEYS = (("env_reward", "env score per completion (0 if rejected)"),
                 ("mean_raw_reward", "learner's reward of the step's completions"),
                 ("mean_fidelity", "drafts' label fidelity (passed drafts)"),
                 ("mean_novelty", "drafts' novelty (passed drafts)"), ("kl", "KL to the base model"),
                 ("clip_fraction", "clipped ratio fraction"))
"""Panels of ``learning.png``: per learner step (feedback steps, drafted pools and groups, submitted groups; picks
left out, :func:`~streamsynth.evaluation.paired.policy_steps`), one line per task."""


def learning_curves(log: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """The points of ``learning.png``: per :data:`LEARNING_KEYS` figure and task, ``(step within the task, value)``
    over the log's :func:`~streamsynth.evaluation.paired.policy_steps` (picks, entries with ``scored_by``, are left
    out: their figures show the selection, not what the policy writes); steps without the figure are skipped.

    >>> log = [{"task": "a", "env_reward": 0.1}, {"task": "a", "env_reward": 0.5, "scored_by": "env"},
    ...        {"task": "a", "env_reward": 0.2, "kl": 0.01}]
    >>> curves = learning_curves(log)
    >>> curves["env_reward"], curves["kl"], curves["mean_novelty"]
    ({'a': [(0, 0.1), (1, 0.2)]}, {'a': [(1, 0.01)]}, {})
    """
    steps = policy_steps(log)
    tasks = list(dict.fromkeys(str(e["task"]) for e in steps))
    out: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for key, _ in LEARNING_KEYS:
        out[key] = {}
        for task in tasks:
            points = [(i, float(e[key])) for i, e in enumerate(e for e in steps if str(e["task"]) == task)
                      if isinstance(e.get(key), (int, float))]
            if points:
                out[key][task] = points
    return out


def plot_learning(path: Path, log: Sequence[Mapping[str, Any]]) -> None:
    """``learning.png``: one panel per :data:`LEARNING_KEYS` figure, one line per task (:func:`learning_curves`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    curves = learning_curves(log)
    cols = 3
    rows = math.ceil(len(LEARNING_KEYS) / cols)
    fig, grid = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    axes = list(grid.flat)
    for ax, (key, label) in zip(axes, LEARNING_KEYS):
        for task, points in curves[key].items():
            ax.plot([p[0] for p in points], [p[1] for p in points], marker=".", label=task)
        ax.set_xlabel("learner step within the task")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(label, fontsize=10)
    drawn = [ax for ax in axes if ax.get_legend_handles_labels()[0]]
    if drawn:  # one legend (tasks have the same colour in every panel), on the first panel with lines
        drawn[0].legend(fontsize=7)
    fig.tight_layout()
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110)
    plt.close(fig)
