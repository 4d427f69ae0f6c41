"""Paired differences between agents' cells taken from any compare folders: for ablations that ran in separate
folders (``compare`` pairs only the agents of one folder).

    python scripts/paired_cells.py A=FOLDER/runs/synlearner B=OTHER/runs/synlearner [C=...] [--first-task]

Each ``NAME=PATH`` names an agent folder holding ``seed-<s>/`` run folders; unfinished runs are left out (and
named). Every later agent is compared with the first (``NAME - FIRST``), paired by seed and task, on the tasks of
the first agent's runs after the first task (on the first task carry-over has nothing to carry yet;
``--first-task`` keeps it): test accuracy of both students, the jump-start, AUC and (with feedback steps)
within-task rise figures of :mod:`streamsynth.evaluation.paired`, each with its mean, 95% percentile bootstrap
interval and paired t-test over seeds. Prints a Markdown table.

Before the table it prints each agent's settings that differ from the first agent's (from the config saved with
its runs, flattened: the run options, ``env_config.*``, SynLearner's settings as ``learner.*``; the seed and what
follows from it left out, see :func:`run_settings`), so the table says what it compares. Cells of one agent
folder must share their settings, and agents that differ in a setting that decides the tasks or the budget
(:data:`MUST_MATCH`) are not paired unless ``--allow-mismatch`` is given.
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
# run options and env settings that are not compared: the seed (what pairs cells) and the env's data seed that
# follows it, the checkpoint interval and where scalars are reported; of the rest of a saved config only its tasks
# are read (its env_config and reward_weights repeat the options' env table)
NOT_SETTINGS = ("seed", "checkpoint_every", "report_to", "learner", "env.data_seed")
# settings that must be equal for a paired difference to mean anything: the tasks, the budget, the env (its judge,
# rewards and splits) and the students
MUST_MATCH = ("stream", "tasks", "student", "env")


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys (an empty one adds none).

    >>> flatten({"a": 1, "b": {"c": 2, "d": {"e": 3}}, "f": {}})
    {'a': 1, 'b.c': 2, 'b.d.e': 3}
    """
    out: dict[str, Any] = {}
    for k, v in data.items():
        out.update(flatten(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def run_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The settings of a run from its saved config (:meth:`RunOptions.from_dict`, which reads the layouts of every
    version), flattened (``env.reward_weights.utility``): the run's options without the seed, its tasks, and for
    SynLearner all of its settings as ``learner.NAME`` (one a run lacks at the value it ran with,
    :attr:`LEGACY_DEFAULTS`; other agents' own settings are their ``agent_options``).

    >>> s = run_settings({"seed": 2, "stream": "sentiment", "agent": "synlearner", "agent_config": {"lr": 0.002}})
    >>> s["stream"], s["env.max_rounds"], s["learner.lr"], s["learner.label_gate"], s["learner.group_size"], "seed" in s
    ('sentiment', 3, 0.002, False, 4, False)
    """
    from dataclasses import fields

    from streamsynth.agents.registry import REGISTRY
    from streamsynth.evaluation.options import RunOptions

    opts = RunOptions.from_dict(config)
    settings: dict[str, Any] = {**opts.flat(), **({"tasks": config["tasks"]} if "tasks" in config else {})}
    if opts.agent in REGISTRY and REGISTRY[opts.agent].learner:
        from streamsynth.agents.synlearner.config import SynLearnerConfig

        names = {f.name for f in fields(SynLearnerConfig)}
        saved = {k: v for k, v in (config.get("agent_config") or {}).items() if k in names}
        settings["learner"] = SynLearnerConfig.from_saved({**saved, **opts.learner}).to_dict()
    return {k: v for k, v in flatten(settings).items() if k not in NOT_SETTINGS}


def mismatched(diff: dict[str, Any]) -> list[str]:
    """The settings of ``diff`` that decide the tasks or the budget (:data:`MUST_MATCH`, or a part of one)."""
    return [k for k in diff if k.split(".")[0] in MUST_MATCH]


def differences(before: dict[str, Any], after: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{name: (before, after)}`` for every setting that differs (``None`` where one side lacks it).

    >>> differences({"rounds": 3, "learner.lr": 1e-7}, {"rounds": 3, "learner.lr": 0.002, "agent_options.n": 2})
    {'agent_options.n': (None, 2), 'learner.lr': (1e-07, 0.002)}
    """
    return {k: (before.get(k), after.get(k)) for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)}


def describe(diff: dict[str, tuple[Any, Any]], before: str = "before", after: str = "after") -> str:
    """One line: ``name: before -> after; ...``; a group of settings only one side has (SynLearner's ``learner.*``
    against another agent) as one item.

    >>> describe({"agent": ("zerogen", "synlearner"), "learner.lr": (None, 1e-4), "learner.group_size": (None, 4)},
    ...          "zerogen", "synlearner")
    "agent: 'zerogen' -> 'synlearner'; learner.* (2 settings): synlearner's only"
    """
    groups: dict[str, list[str]] = {}
    for k in diff:
        groups.setdefault(k.split(".")[0] if "." in k else k, []).append(k)
    items = []
    for group, keys in groups.items():
        sides = [side for side in (0, 1) if all(diff[k][side] is None for k in keys)]
        if len(keys) > 1 and sides:
            items.append(f"{group}.* ({len(keys)} settings): {after if sides == [0] else before}'s only")
        else:
            items.extend(f"{k}: {diff[k][0]!r} -> {diff[k][1]!r}" for k in keys)
    return "; ".join(items) or "none"


def load_agent(folder: Path) -> tuple[dict[int, list[dict]], dict[int, list[dict]], list[str], dict[str, Any]]:
    """``(rows, logs, tasks, settings)`` of the finished ``seed-<s>`` runs of one agent folder, keyed by seed;
    runs whose settings differ (other than by seed) are an error: they are not one agent."""
    rows, logs, tasks, settings, first = {}, {}, [], None, None
    for run in sorted(folder.iterdir() if folder.is_dir() else []):
        match = SEED_FOLDER.fullmatch(run.name)
        if not match:
            continue
        if not is_complete(run):
            print(f"{run}: not finished, left out", file=sys.stderr)
            continue
        config, results = load_results(run)
        try:
            these = run_settings(config)
        except (TypeError, ValueError) as exc:  # a setting this version does not know, or a bad value
            raise SystemExit(f"{run}: its saved settings cannot be read by this version of StreamSynth ({exc}); "
                             "pair it with the version that wrote it") from exc
        if settings is None:
            settings, first = these, run
        elif diff := differences(settings, these):
            raise SystemExit(f"{run}: its settings differ from {first.name}'s "
                             f"({describe(diff, first.name, run.name)}); "
                             "give each setting its own agent folder")
        rows[int(match.group(1))] = [r.row() for r in results]
        logs[int(match.group(1))] = paired.read_log(run / "learning.jsonl")
        tasks = tasks or [r.task for r in results]
    if not rows:
        raise SystemExit(f"{folder}: no finished seed-<s> run folder")
    return rows, logs, tasks, settings


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
    ap.add_argument("--allow-mismatch", action="store_true",
                    help=f"pair agents even when one of {', '.join(MUST_MATCH)} differs")
    args = ap.parse_args(argv)
    named = [a.split("=", 1) for a in args.agents]
    if len(named) < 2 or any(len(n) != 2 or not n[0] for n in named):
        ap.error("give at least two NAME=PATH agent folders")
    if len({n for n, _ in named}) != len(named):
        ap.error("every NAME must differ")
    rows, logs, tasks, settings = {}, {}, [], {}
    for name, path in named:
        r, lg, t, settings[name] = load_agent(Path(path))
        rows.update({(name, s): v for s, v in r.items()})
        logs.update({(name, s): v for s, v in lg.items()})
        tasks = tasks or t
    chosen = tasks if args.first_task else tasks[1:]
    base = named[0][0]
    diffs = {name: differences(settings[base], settings[name]) for name, _ in named[1:]}
    for name, diff in diffs.items():
        if (bad := mismatched(diff)) and not args.allow_mismatch:
            shown = describe({k: diff[k] for k in bad}, base, name)
            raise SystemExit(f"{name} and {base} differ in {', '.join(bad)} ({shown}):"
                             " their cells are not comparable; --allow-mismatch pairs them anyway")
    print(f"Tasks: {', '.join(chosen)}. Differences NAME - {base}, paired by seed and task.\n")
    for name, diff in diffs.items():
        print(f"- settings of {name} that differ from {base}'s: {describe(diff, base, name)}")
    print()
    print("| a | b | figure | n | mean | interval | per seed | t | p |\n" + "|---" * 9 + "|")
    for name, _ in named[1:]:
        for figure, f in figures(rows, logs, name, base, chosen).items():
            print(table_row(name, base, figure, f))


if __name__ == "__main__":
    main()
