"""Paired comparisons in a compare folder: is one agent ahead of another by more than the noise, and does
experience carried across tasks show?

Every figure is a difference between two agents **paired by seed and task** (the same env seed, the same task, the
same real data), so the noise the two cells share cancels. For each pair this gives

- the mean difference with a 95% percentile **bootstrap interval** over the (seed, task) differences
  (``scipy.stats.bootstrap``), and
- a **paired t-test over seeds** (each seed's mean difference over the tasks; df = seeds - 1), the stricter test
  when seeds are few.

Two kinds of pairs are formed from the agents present:

- ``A`` against ``best-of-n`` for each learning agent ``A`` (an agent with an ``A-isolated`` twin, or any
  ``synlearner*``): test accuracy on every task (the fine-tuned student's, when the cells have it, and the linear
  student's). This is the question of whether training beats spending the same
  budget on selection.
- ``A`` against ``A-isolated``: carry-over minus starting each task fresh, on the tasks after the first (on the
  first task both start from the same base policy with the same seed, so nothing can be carried yet). The figures
  are test accuracy (as above), **jump-start**, and **AUC**:
  - Jump-start is measured before the agent learns anything of the task. It is the test accuracy of the dataset
    after the task's first round (``first_round_test_accuracy``) and the env's score per completion of the task's
    first learner step (``env_reward`` of its first ``learning.jsonl`` entry that is not a pick).
  - AUC is the area under the learning curve: the mean ``env_reward`` over the task's learner steps, picks left
    out (:func:`policy_steps`: a pick's figure says how well the agent selected, not what its policy writes).
  - With feedback steps, the same of ``draft_reward`` over the task's feedback steps, and the **rise** within the
    task: its mean over the last third of those steps minus the first third (learning that shows). Runs
    of one agent at two settings (a learning rate against a control) are paired the same way by
    ``scripts/paired_cells.py``.

The probe transfer matrices (R, ACC/BWT/FWT) stay in ``stream_metrics.json``. Their size and seed-to-seed noise
(the standard deviation over seeds of the mean of the before-the-stream row ``b``, which no learning touches) are
reported next to these figures.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from streamsynth.io import read_jsonl

ACCURACIES = ("finetune_test_accuracy", "test_accuracy")
"""Student test accuracies compared, each when every cell reports it (the fine-tuned student with ``--student
finetune``, the default)."""
LEVEL = 0.95
RESAMPLES = 10_000
BASELINE = "best-of-n"
ISOLATED_SUFFIX = "-isolated"

Key = tuple[int, str]
"""(seed, task): the unit two cells are paired on."""


def bootstrap_interval(values: Sequence[float], *, level: float = LEVEL, resamples: int = RESAMPLES,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (``scipy.stats.bootstrap``); ``(nan, nan)`` for
    fewer than 2 values, ``(v, v)`` when all are equal (no spread to resample).

    >>> bootstrap_interval([0.5, 0.5, 0.5])
    (0.5, 0.5)
    """
    from scipy import stats

    arr = np.asarray(values, dtype=float)
    if len(arr) < 2:
        return math.nan, math.nan
    if np.all(arr == arr[0]):
        return float(arr[0]), float(arr[0])
    res = stats.bootstrap((arr,), np.mean, confidence_level=level, n_resamples=resamples, method="percentile",
                          rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def paired_t(per_seed: Sequence[float]) -> tuple[float, float]:
    """t statistic and two-sided p-value of "the mean per-seed difference is 0" (``scipy.stats.ttest_1samp``, the
    paired t-test on differences); ``(nan, nan)`` for fewer than 2 seeds or no spread."""
    from scipy import stats

    arr = np.asarray(per_seed, dtype=float)
    if len(arr) < 2 or np.all(arr == arr[0]):
        return math.nan, math.nan
    res = stats.ttest_1samp(arr, 0.0)
    return float(res.statistic), float(res.pvalue)


def t_interval(values: Sequence[float], *, level: float = LEVEL) -> tuple[float, float]:
    """Student-t interval of the mean of ``values`` (one value per seed; df = n - 1), the honest interval for a
    handful of seeds, where a bootstrap cannot reach beyond the values seen; ``(nan, nan)`` for fewer than 2 values.

    >>> [round(x, 3) for x in t_interval([1.0, 2.0, 3.0])]
    [-0.484, 4.484]
    """
    from scipy import stats

    arr = np.asarray(values, dtype=float)
    if len(arr) < 2:
        return math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, len(arr) - 1) * arr.std(ddof=1) / math.sqrt(len(arr)))
    return float(arr.mean() - half), float(arr.mean() + half)


def paired_figure(a: Mapping[Key, float], b: Mapping[Key, float]) -> dict[str, Any]:
    """``a - b`` over the (seed, task) keys both have: mean, bootstrap interval, per-seed means, paired t.

    >>> f = paired_figure({(0, "x"): 0.6, (1, "x"): 0.7}, {(0, "x"): 0.5, (1, "x"): 0.5, (2, "x"): 0.9})
    >>> f["n"], round(f["mean"], 3), [round(v, 3) for v in f["per_seed"]]
    (2, 0.15, [0.1, 0.2])
    """
    keys = sorted(set(a) & set(b))
    if not keys:
        raise ValueError("no (seed, task) pair in common: the two agents ran on different seeds or tasks")
    diffs = [a[k] - b[k] for k in keys]
    seeds = sorted({s for s, _ in keys})
    per_seed = [float(np.mean([a[k] - b[k] for k in keys if k[0] == s])) for s in seeds]
    lo, hi = bootstrap_interval(diffs)
    t, p = paired_t(per_seed)
    return {"n": len(diffs), "mean": float(np.mean(diffs)), "ci": [_num(lo), _num(hi)], "seeds": seeds,
            "per_seed": per_seed, "t": _num(t), "p": _num(p)}


def _num(v: float) -> float | None:
    """``None`` for NaN (JSON has no NaN): an interval or test that could not be computed."""
    return None if math.isnan(v) else v


def policy_steps(log: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The entries of a learning log that show what the policy wrote: all but the picks, the entries that report
    a selection from already-scored candidates (they carry ``scored_by``, see
    :meth:`~streamsynth.agents.base.Agent.learning_log`). Learning curves and their figures read these.

    >>> policy_steps([{"phase": "dai-draft"}, {"phase": "dai", "scored_by": "env"}, {"phase": "grpo"}])
    [{'phase': 'dai-draft'}, {'phase': 'grpo'}]
    """
    return [e for e in log if "scored_by" not in e]


def first_of_task(log: Sequence[Mapping[str, Any]], key: str) -> dict[str, float]:
    """``key`` of each task's first learner step (the log's first entry for that task that has it)."""
    out: dict[str, float] = {}
    for entry in log:
        if key in entry and entry.get("task") not in out:
            out[str(entry["task"])] = float(entry[key])
    return out


def _per_task(log: Sequence[Mapping[str, Any]], key: str) -> dict[str, list[float]]:
    """The values of ``key`` in a learning log, per task, in step order."""
    per: dict[str, list[float]] = {}
    for entry in log:
        if key in entry:
            per.setdefault(str(entry["task"]), []).append(float(entry[key]))
    return per


def curve_area(log: Sequence[Mapping[str, Any]], key: str) -> dict[str, float]:
    """Area under each task's learning curve of ``key``, per step: the mean of ``key`` over the task's entries.

    >>> curve_area([{"task": "a", "r": 0.2}, {"task": "a", "r": 0.4}, {"task": "b", "r": 1.0}], "r")
    {'a': 0.30000000000000004, 'b': 1.0}
    """
    return {task: float(np.mean(v)) for task, v in _per_task(log, key).items()}


def curve_rise(log: Sequence[Mapping[str, Any]], key: str) -> dict[str, float]:
    """How far each task's learning curve of ``key`` rose within the task: the mean over the last third of its
    entries minus the mean over the first third (tasks with fewer than 3 entries are left out).

    >>> curve_rise([{"task": "a", "r": r} for r in (0.1, 0.2, 0.2, 0.3, 0.4, 0.5)], "r")
    {'a': 0.3}
    """
    return {task: float(np.mean(v[-(len(v) // 3):]) - np.mean(v[: len(v) // 3]))
            for task, v in _per_task(log, key).items() if len(v) >= 3}


CURVE_FIGURES = (("jump_start_env_reward", first_of_task, "env_reward"), ("auc_env_reward", curve_area, "env_reward"),
                 ("auc_draft_reward", curve_area, "draft_reward"), ("rise_draft_reward", curve_rise, "draft_reward"))
"""Figures read from learning logs: (name, reduce, log key); the draft-reward ones exist with feedback steps."""


def learning_agents(agents: Sequence[str]) -> list[str]:
    """Agents that learn across tasks: those with an ``-isolated`` twin in ``agents``, and ``synlearner*``."""
    return [a for a in agents if not a.endswith(ISOLATED_SUFFIX)
            and (a + ISOLATED_SUFFIX in agents or a.startswith("synlearner"))]


def read_log(path: Path) -> list[dict[str, Any]]:
    """A run folder's ``learning.jsonl`` (``[]`` when the agent keeps no log)."""
    return read_jsonl(path) if Path(path).exists() else []


def cell_values(rows: Mapping[tuple[str, int], Sequence[Mapping[str, Any]]], agent: str, metric: str,
                tasks: Sequence[str] | None = None) -> dict[Key, float]:
    """``{(seed, task): row[metric]}`` of one agent's cells (``rows[(agent, seed)]``: its task rows), on
    ``tasks`` only when given; rows without the figure (missing or ``None``) are left out."""
    return {(seed, str(r["task"])): float(r[metric]) for (a, seed), cell in rows.items() if a == agent
            for r in cell if r.get(metric) is not None and (tasks is None or r["task"] in tasks)}


def log_values(logs: Mapping[tuple[str, int], Sequence[Mapping[str, Any]]], agent: str, reduce: Any, key: str,
               tasks: Sequence[str]) -> dict[Key, float]:
    """``{(seed, task): reduce(log, key)[task]}`` of one agent's learning logs (their :func:`policy_steps`), on
    ``tasks`` only."""
    return {(seed, task): v for (a, seed), log in logs.items() if a == agent
            for task, v in reduce(policy_steps(log), key).items() if task in tasks}


def analyse(agents: Sequence[str], tasks: Sequence[str], rows: Mapping[tuple[str, int], Sequence[Mapping[str, Any]]],
            logs: Mapping[tuple[str, int], Sequence[Mapping[str, Any]]],
            stream: Mapping[str, Mapping[Any, Mapping[str, Any]]], probe_samples_per_label: int | None
            ) -> dict[str, Any]:
    """Every pair of :func:`learning_agents` with ``best-of-n`` and with its ``-isolated`` twin, when present (see the
    module docstring). ``rows``/``logs``: task rows (``TaskResult.row()``) and learning logs per (agent, seed);
    ``stream``: per agent and seed its R/b figures."""
    out: dict[str, Any] = {"level": LEVEL, "resamples": RESAMPLES, "pairs": []}
    later = list(tasks[1:])
    every_row = [r for cell in rows.values() for r in cell]
    accuracies = [m for m in ACCURACIES if every_row and all(m in r for r in every_row)]
    for agent in learning_agents(agents):
        if BASELINE in agents:
            out["pairs"].append({"a": agent, "b": BASELINE, "tasks": list(tasks), "figures": {
                m: paired_figure(cell_values(rows, agent, m), cell_values(rows, BASELINE, m))
                for m in accuracies}})
        twin = agent + ISOLATED_SUFFIX
        if twin in agents and later:
            figures = {m: paired_figure(cell_values(rows, agent, m, later), cell_values(rows, twin, m, later))
                       for m in accuracies}
            figures.update({"jump_start_test_accuracy": paired_figure(
                           cell_values(rows, agent, "first_round_test_accuracy", later),
                           cell_values(rows, twin, "first_round_test_accuracy", later))})
            for name, reduce, key in CURVE_FIGURES:
                a, b = (log_values(logs, x, reduce, key, later) for x in (agent, twin))
                if set(a) & set(b):
                    figures[name] = paired_figure(a, b)
            out["pairs"].append({"a": agent, "b": twin, "tasks": later, "figures": figures})
    out["probes"] = {"samples_per_label": probe_samples_per_label, "agents": {}}
    for agent in learning_agents(agents) + [a + ISOLATED_SUFFIX for a in learning_agents(agents)]:
        b_means = [float(np.mean(v["b"])) for v in stream.get(agent, {}).values() if v.get("b")]
        if len(b_means) > 1:
            out["probes"]["agents"][agent] = {"b_mean": float(np.mean(b_means)),
                                              "b_seed_std": float(np.std(b_means, ddof=1))}
    return out


LABELS = {"finetune_test_accuracy": "test accuracy, fine-tuned student",
          "test_accuracy": "test accuracy, linear student",
          "jump_start_test_accuracy": "jump-start: first-round test accuracy (linear student)",
          "jump_start_env_reward": "jump-start: first learner step's env reward per completion",
          "auc_env_reward": "AUC: mean env reward per completion over the task's learner steps",
          "auc_draft_reward": "AUC: mean draft reward over the task's feedback steps",
          "rise_draft_reward": "rise: draft reward, last third of the task's feedback steps minus the first third"}


def fmt(v: float | None, spec: str = "+.3f") -> str:
    """A figure of the analysis as text; ``n/a`` for one that could not be computed (``None``)."""
    return "n/a" if v is None else format(v, spec)


def markdown(analysis: Mapping[str, Any]) -> str:
    """The analysis as a Markdown section (empty when no pair could be formed)."""
    if not analysis["pairs"]:
        return ""
    pct = round(100 * analysis["level"])
    lines = ["## Paired comparisons", "",
             f"Differences a - b paired by seed and task: mean, {pct}% percentile bootstrap interval over the (seed, "
             f"task) differences ({analysis['resamples']} resamples), per-seed mean differences and a paired t-test "
             "over seeds.", "",
             "| a | b | figure | tasks | n | mean | interval | per seed | t | p |", "|" + "---|" * 10]
    for pair in analysis["pairs"]:
        for name, f in pair["figures"].items():
            per_seed = " / ".join(fmt(v) for v in f["per_seed"])
            lines.append(f"| {pair['a']} | {pair['b']} | {LABELS[name]} | {len(pair['tasks'])} | {f['n']} | "
                         f"{fmt(f['mean'])} | [{fmt(f['ci'][0])}, {fmt(f['ci'][1])}] | {per_seed} | "
                         f"{fmt(f['t'], '.2f')} | {fmt(f['p'], '.3f')} |")
    probes = analysis["probes"]
    if probes["agents"]:
        lines += ["", f"Probe rows at {probes['samples_per_label']} samples per label: mean test accuracy of the "
                      "before-the-stream row b and its standard deviation over seeds (the noise of one probe figure): "
                  + "; ".join(f"{a} {v['b_mean']:.3f} ± {v['b_seed_std']:.3f}"
                              for a, v in probes["agents"].items()) + "."]
    return "\n".join(lines) + "\n"
