"""scripts/paired_cells.py: paired differences between agent folders of separate compare folders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from streamsynth.evaluation import paired
from streamsynth.evaluation.options import RunOptions
from streamsynth.evaluation.report import write_results
from streamsynth.evaluation.runner import TaskResult
from streamsynth.io import write_jsonl
from tests.helpers import ROOT, load_script

SCRIPT = ROOT / "scripts" / "paired_cells.py"
paired_cells = load_script("paired_cells")


def _agent_folder(folder: Path, gain: float, seeds=(0, 1, 2), complete: bool = True, agent_config=None,
                  **options) -> Path:
    """Cells on tasks a, b, c: on task i, accuracy 0.5 + gain * i * (1 + seed), first-round accuracy
    0.4 + gain * i, and a learning log of two steps with env reward 0.1 + gain * i then 0.3 + gain * i. Each run
    saves its config as a real run does, with what depends on the seed (the env's data seed, the agent's log)."""
    for s in seeds:
        run = folder / f"seed-{s}"
        results = [TaskResult(t, i, 1, 0.5, {}, {"test_accuracy": 0.5 + gain * i * (1 + s)}, 1, 1, {}, 1.0,
                              first_test={"test_accuracy": 0.4 + gain * i}) for i, t in enumerate("abc")]
        opts = RunOptions.of(**{"agent": folder.name, **options}, seed=s)
        config = {**opts.to_dict(), "tasks": list("abc"), "env_config": opts.env.to_dict(),
                  "agent_config": {**(agent_config or {}), "seed": s, "learning_log": [s], "proposed_attributes": {
                      "a": [str(s)]}}, "versions": {"torch": f"2.{s}"}, "wall_seconds": 10.0 + s}
        write_results(run, results, config, complete=complete)
        write_jsonl(run / "learning.jsonl", [{"task": t, "env_reward": r + gain * i} for i, t in enumerate("abc")
                                             for r in (0.1, 0.3)])
    return folder


def _load(**folders: Path) -> tuple[dict, dict, list[str]]:
    rows, logs, tasks = {}, {}, []
    for name, folder in folders.items():
        r, lg, tasks, _ = paired_cells.load_agent(folder)
        rows.update({(name, s): v for s, v in r.items()})
        logs.update({(name, s): v for s, v in lg.items()})
    return rows, logs, tasks


def test_figures_are_paired_by_seed_and_task_on_the_tasks_after_the_first(tmp_path):
    base = _agent_folder(tmp_path / "one" / "iso", 0.0)
    other = _agent_folder(tmp_path / "two" / "carry", 0.1, seeds=(0, 1, 2, 3))  # seed 3 has no partner
    rows, logs, tasks = _load(iso=base, carry=other)
    out = paired_cells.figures(rows, logs, "carry", "iso", tasks[1:])
    assert set(out) == {"test_accuracy", "jump_start_test_accuracy", "jump_start_env_reward", "auc_env_reward"}
    acc = out["test_accuracy"]  # seed s: 0.1 * (1 + s) on b, 0.2 * (1 + s) on c
    assert acc["n"] == 6 and acc["seeds"] == [0, 1, 2]
    assert acc["per_seed"] == pytest.approx([0.15, 0.30, 0.45]) and acc["mean"] == pytest.approx(0.30)
    assert acc["ci"][0] < 0.30 < acc["ci"][1] and acc["p"] is not None and acc["t"] > 0
    assert out["jump_start_test_accuracy"]["mean"] == pytest.approx(0.15)
    # the first step's reward and the mean over the task's steps differ in the base's own values, the same gap
    assert out["jump_start_env_reward"]["mean"] == pytest.approx(0.15) == out["auc_env_reward"]["mean"]
    rows_one = paired_cells.figures(rows, logs, "carry", "iso", tasks)  # --first-task: task a adds 0 gaps
    assert rows_one["test_accuracy"]["n"] == 9 and rows_one["test_accuracy"]["mean"] == pytest.approx(0.20)


def test_the_first_step_and_the_curve_are_different_figures(tmp_path):
    base = _agent_folder(tmp_path / "iso", 0.0)
    other = _agent_folder(tmp_path / "carry", 0.0)
    log = other / "seed-0" / "learning.jsonl"
    write_jsonl(log, [{"task": t, "env_reward": r} for t in "abc" for r in (0.1, 0.9)])  # later steps higher
    rows, logs, tasks = _load(iso=base, carry=other)
    out = paired_cells.figures(rows, logs, "carry", "iso", tasks[1:])
    assert out["jump_start_env_reward"]["mean"] == pytest.approx(0.0)
    assert out["auc_env_reward"]["per_seed"] == pytest.approx([0.3, 0.0, 0.0])  # (0.1 + 0.9) / 2 - (0.1 + 0.3) / 2


def test_feedback_steps_add_the_draft_reward_curve_and_its_rise_within_the_task(tmp_path):
    """A learning rate against its control: six feedback steps per task, the learned run rising by 0.1 a step and the
    control flat at its first value; the rise is last third minus first third, paired by seed and task."""
    runs = {}
    for name, slope in (("control", 0.0), ("learned", 0.1)):
        runs[name] = _agent_folder(tmp_path / name / "synlearner", 0.0)
        for s in (0, 1, 2):
            write_jsonl(runs[name] / f"seed-{s}" / "learning.jsonl",
                        [{"task": t, "phase": "feedback", "draft_reward": 0.2 + slope * (1 + s) * k, "env_reward": 0.2}
                         for t in "abc" for k in range(6)]
                        + [{"task": t, "phase": "grpo", "env_reward": 0.1} for t in "abc"])
    rows, logs, tasks = _load(control=runs["control"], learned=runs["learned"])
    out = paired_cells.figures(rows, logs, "learned", "control", tasks)
    rise = out["rise_draft_reward"]  # seed s: (k 4, 5) - (k 0, 1) = 4 steps of 0.1 * (1 + s)
    assert rise["n"] == 9 and rise["per_seed"] == pytest.approx([0.4, 0.8, 1.2])
    assert out["auc_draft_reward"]["per_seed"] == pytest.approx([0.25, 0.5, 0.75])  # mean of k = 2.5 steps
    assert out["auc_env_reward"]["mean"] == pytest.approx(0.0)  # the env_reward curve is the same in both
    assert paired.curve_rise([{"task": "a", "draft_reward": 0.5}] * 2, "draft_reward") == {}  # under 3 steps
    _, plain_logs, _ = _load(control=_agent_folder(tmp_path / "plain" / "a", 0.0),
                             learned=_agent_folder(tmp_path / "plain" / "b", 0.0))
    assert "rise_draft_reward" not in paired_cells.figures(rows, plain_logs, "learned", "control", tasks)


def test_the_command_prints_the_table_and_leaves_out_unfinished_runs(tmp_path):
    base = _agent_folder(tmp_path / "iso", 0.0)
    other = _agent_folder(tmp_path / "carry", 0.1)
    _agent_folder(tmp_path / "carry", 0.1, seeds=(5,), complete=False)
    (tmp_path / "carry" / "seed-0.bak").mkdir()  # not a seed folder
    out = subprocess.run([sys.executable, str(SCRIPT), f"iso={base}", f"carry={other}"], capture_output=True,
                         text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "seed-5: not finished, left out" in out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "Tasks: b, c. Differences NAME - iso, paired by seed and task."
    assert lines[2] == "- settings of carry that differ from iso's: agent: 'iso' -> 'carry'"
    assert lines[6].startswith("| carry | iso | test accuracy, linear student | 6 | +0.300 | [")
    assert lines[6].endswith("+0.150 / +0.300 / +0.450 | 3.46 | 0.074 |")  # t = 0.3 / (0.15 / sqrt 3), df 2


@pytest.mark.parametrize("args, message", [(["x=."], "at least two"), (["a=.", "a=."], "every NAME must differ")])
def test_bad_arguments_and_folders_without_runs_are_errors(tmp_path, args, message):
    out = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode != 0 and message in out.stderr
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="no finished seed-<s> run folder"):
        paired_cells.load_agent(tmp_path / "empty")
    future = _agent_folder(tmp_path / "future" / "synlearner", 0.0, agent_config={"lr": 1e-4},
                           learner={"lr": 1e-4})
    metrics = future / "seed-1" / "metrics.json"  # written by a version with a setting this one lacks
    saved = json.loads(metrics.read_text())
    saved["config"]["learner"]["warp"] = 9
    metrics.write_text(json.dumps(saved))
    with pytest.raises(SystemExit, match=r"seed-1: its saved settings cannot be read .*unknown SynLearner setting"):
        paired_cells.load_agent(future)


def test_settings_are_compared_and_cells_of_other_tasks_or_budgets_are_not_paired(tmp_path):
    common = {"stream": "sentiment", "env": {"cycle": False}}
    control = _agent_folder(tmp_path / "c" / "synlearner", 0.0, agent_config={"lr": 1e-7, "label_gate": True},
                            learner={"lr": 1e-7}, **common)
    learned = _agent_folder(tmp_path / "l" / "synlearner", 0.1, agent_config={"lr": 2e-3}, learner={"lr": 2e-3},
                            stream="sentiment")  # no -E: the same env settings
    _, _, _, settings = paired_cells.load_agent(learned)  # seeds differ in seed, data seed, log, versions, time
    assert settings["learner.lr"] == 2e-3 and settings["env.samples_per_label"] == 16
    left_out = ("seed", "env.data_seed", "learner", "env")
    assert not [k for k in settings
                if k in left_out or k.startswith(("versions", "wall", "env_config", "agent_config"))]
    run = [sys.executable, str(SCRIPT), f"control={control}", f"learned={learned}"]
    out = subprocess.run(run, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    # a run from before the settings existed ran without them: both lack dai_drafts, only the control set the gate
    assert ("- settings of learned that differ from control's: learner.label_gate: True -> False; learner.lr: 1e-07"
            " -> 0.002") in out.stdout.splitlines()
    other = _agent_folder(tmp_path / "o" / "synlearner", 0.1, stream="offline", samples_per_label=8,
                          env={"reward_weights.utility": 0.5})
    out = subprocess.run(run[:2] + [f"control={control}", f"other={other}"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode != 0 and out.stdout == ""
    assert out.stderr.startswith("other and control differ in env.reward_weights.utility, "
                                 "env.samples_per_label, stream (env.reward_weights.utility: 0.4 -> 0.5; ")
    # (the tasks are a, b, c in both)
    assert out.stderr.rstrip().endswith("--allow-mismatch pairs them anyway")
    out = subprocess.run(run[:2] + [f"control={control}", f"other={other}", "--allow-mismatch"], capture_output=True,
                         text=True, cwd=ROOT)
    assert out.returncode == 0 and "| other | control | test accuracy" in out.stdout
    _agent_folder(tmp_path / "l" / "synlearner", 0.1, seeds=(3,), agent_config={"lr": 1e-3}, learner={"lr": 1e-3},
                  stream="sentiment")  # a folder that mixes two settings
    with pytest.raises(SystemExit, match=r"seed-3: its settings differ from seed-0's \(learner.lr: 0.002 -> 0.001\)"):
        paired_cells.load_agent(learned)


def test_the_scripts_doctests_pass():  # pytest collects doctests under streamsynth/ only
    import doctest

    result = doctest.testmod(paired_cells, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 4 and result.failed == 0
