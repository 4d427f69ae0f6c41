"""Paired differences between agents' cells taken from any compare folders: for ablations that ran in separate
folders (``compare`` pairs only the agents of one folder).

    python scripts/paired_cells.py A=FOLDER/runs/synlearner B=OTHER/runs/synlearner [C=...] [--first-task]

Each ``NAME=PATH`` names an agent folder holding ``seed-<s>/`` run folders. Every later one is compared with the
first (``NAME - FIRST``), paired by seed and task, on the tasks after the first (on the first task carry-over has
nothing to carry yet; ``--first-task`` keeps it): test accuracy of both students, the jump-start figures and the AUC
of ``streamsynth.evaluation.paired``, each with its mean, 95% percentile bootstrap interval and paired t-test over
seeds. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from streamsynth.evaluation import paired
from streamsynth.evaluation.experiment import load_results


def load_agent(folder: Path) -> tuple[dict, dict, list[str]]:
    """``(rows, logs, tasks)`` of the complete seed folders of one agent folder, keyed ``(name, seed)`` later."""
    rows, logs, tasks = {}, {}, []
    for run in sorted(folder.glob("seed-*")):
        seed = int(run.name.split("-", 1)[1])
        summary, results = load_results(run)
        if not results:
            continue
        rows[seed] = [r.row() for r in results]
        logs[seed] = paired.read_log(run / "learning.jsonl")
        tasks = tasks or [r.task for r in results]
    if not rows:
        raise SystemExit(f"{folder}: no seed-<s> run folder with results")
    return rows, logs, tasks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("agents", nargs="+", metavar="NAME=PATH")
    ap.add_argument("--first-task", action="store_true", help="keep the stream's first task")
    args = ap.parse_args()
    named = [a.split("=", 1) for a in args.agents]
    if len(named) < 2 or any(len(n) != 2 for n in named):
        ap.error("give at least two NAME=PATH agent folders")
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
        values = {m: [paired.cell_values(rows, x, m, chosen) for x in (name, base)] for m in paired.ACCURACIES}
        values["jump_start_test_accuracy"] = [paired.cell_values(rows, x, "first_round_test_accuracy", chosen)
                                              for x in (name, base)]
        for figure, reduce in (("jump_start_env_reward", paired.first_of_task), ("auc_env_reward", paired.curve_area)):
            values[figure] = [paired.log_values(logs, x, reduce, "env_reward", chosen) for x in (name, base)]
        for figure, (a, b) in values.items():
            if not set(a) & set(b):  # a figure the cells do not have (e.g. no learning log)
                continue
            f = paired.paired_figure(a, b)
            lo, hi = f["ci"]
            interval = "n/a" if lo is None else f"[{lo:+.3f}, {hi:+.3f}]"
            t = "n/a" if f["t"] is None else f"{f['t']:.2f}"
            p = "n/a" if f["p"] is None else f"{f['p']:.3f}"
            print(f"| {name} | {base} | {paired.LABELS[figure]} | {f['n']} | {f['mean']:+.3f} | {interval} | "
                  + " / ".join(f"{v:+.3f}" for v in f["per_seed"]) + f" | {t} | {p} |")


if __name__ == "__main__":
    main()
