"""Paired differences between agents' cells taken from any compare folders: for ablations that ran in separate
folders (``compare`` pairs only the agents of one folder).

    python scripts/paired_cells.py A=FOLDER/runs/synlearner B=OTHER/runs/synlearner [C=...] [--first-task]

Each ``NAME=PATH`` names an agent folder holding ``seed-<s>/`` run folders; unfinished runs are left out (and
named). Every later agent is compared with the first (``NAME - FIRST``), paired by seed and task, on the tasks of
the first agent's runs after the first task (on the first task carry-over has nothing to carry yet;
``--first-task`` keeps it): test accuracy of both students, the jump-start, AUC and (with feedback steps)
within-task rise figures of :mod:`streamsynth.evaluation.paired`, each with its mean, 95% percentile bootstrap
interval and paired t-test over seeds. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from streamsynth.evaluation import paired
from streamsynth.evaluation.experiment import is_complete, load_results

SEED_FOLDER = re.compile(r"seed-(\d+)")


def load_agent(folder: Path) -> tuple[dict[int, list[dict]], dict[int, list[dict]], list[str]]:
    """``(rows, logs, tasks)`` of the finished ``seed-<s>`` runs of one agent folder, keyed by seed."""
    rows, logs, tasks = {}, {}, []
    for run in sorted(folder.iterdir() if folder.is_dir() else []):
        match = SEED_FOLDER.fullmatch(run.name)
        if not match:
            continue
        if not is_complete(run):
            print(f"{run}: not finished, left out", file=sys.stderr)
            continue
        _, results = load_results(run)
        rows[int(match.group(1))] = [r.row() for r in results]
        logs[int(match.group(1))] = paired.read_log(run / "learning.jsonl")
        tasks = tasks or [r.task for r in results]
    if not rows:
        raise SystemExit(f"{folder}: no finished seed-<s> run folder")
    return rows, logs, tasks


def figures(rows: dict, logs: dict, name: str, base: str, tasks: list[str]) -> dict[str, dict[str, Any]]:
    """``name - base`` on ``tasks``: every figure of :data:`paired.LABELS` that both agents' cells have."""
    values = {m: [paired.cell_values(rows, x, m, tasks) for x in (name, base)] for m in paired.ACCURACIES}
    values["jump_start_test_accuracy"] = [paired.cell_values(rows, x, "first_round_test_accuracy", tasks)
                                          for x in (name, base)]
    for figure, reduce, key in paired.CURVE_FIGURES:
        values[figure] = [paired.log_values(logs, x, reduce, key, tasks) for x in (name, base)]
    return {figure: paired.paired_figure(a, b) for figure, (a, b) in values.items() if set(a) & set(b)}


def table_row(name: str, base: str, figure: str, f: dict[str, Any]) -> str:
    per_seed = " / ".join(paired.fmt(v) for v in f["per_seed"])
    return (f"| {name} | {base} | {paired.LABELS[figure]} | {f['n']} | {paired.fmt(f['mean'])} | "
            f"[{paired.fmt(f['ci'][0])}, {paired.fmt(f['ci'][1])}] | {per_seed} | {paired.fmt(f['t'], '.2f')} | "
            f"{paired.fmt(f['p'], '.3f')} |")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("agents", nargs="+", metavar="NAME=PATH")
    ap.add_argument("--first-task", action="store_true", help="keep the stream's first task")
    args = ap.parse_args(argv)
    named = [a.split("=", 1) for a in args.agents]
    if len(named) < 2 or any(len(n) != 2 or not n[0] for n in named):
        ap.error("give at least two NAME=PATH agent folders")
    if len({n for n, _ in named}) != len(named):
        ap.error("every NAME must differ")
    rows, logs, tasks = {}, {}, []
    for name, path in named:
        r, lg, t = load_agent(Path(path))
        rows.update({(name, s): v for s, v in r.items()})
        logs.update({(name, s): v for s, v in lg.items()})
        tasks = tasks or t
    chosen = tasks if args.first_task else tasks[1:]
    base = named[0][0]
    print(f"Tasks: {', '.join(chosen)}. Differences NAME - {base}, paired by seed and task.\n")
    print("| a | b | figure | n | mean | interval | per seed | t | p |\n" + "|---" * 9 + "|")
    for name, _ in named[1:]:
        for figure, f in figures(rows, logs, name, base, chosen).items():
            print(table_row(name, base, figure, f))


if __name__ == "__main__":
    main()
