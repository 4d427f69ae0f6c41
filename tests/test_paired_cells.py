"""scripts/paired_cells.py: paired differences between agent folders of separate compare folders."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from streamsynth.evaluation.report import write_results
from streamsynth.evaluation.runner import TaskResult
from streamsynth.io import write_jsonl

ROOT = Path(__file__).resolve().parents[1]


def _agent_folder(folder: Path, gain: float, seeds=(0, 1, 2)) -> Path:
    """Cells on tasks a, b, c whose accuracy on task i is 0.5 + gain * i + 0.01 * seed; env reward 0.3 + gain * i."""
    for s in seeds:
        run = folder / f"seed-{s}"
        results = [TaskResult(t, i, 1, 0.5, {}, {"test_accuracy": 0.5 + gain * i + 0.01 * s}, 1, 1, {}, 1.0,
                              first_test={"test_accuracy": 0.4 + gain * i}) for i, t in enumerate("abc")]
        write_results(run, results, {"agent": folder.name}, complete=True)
        write_jsonl(run / "learning.jsonl", [{"task": t, "env_reward": 0.3 + gain * i} for i, t in enumerate("abc")])
    return folder


def _table(*args: str) -> list[str]:
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "paired_cells.py"), *args], capture_output=True,
                         text=True, check=True, cwd=ROOT)
    return out.stdout.splitlines()


def test_differences_are_paired_by_seed_and_task_on_the_tasks_after_the_first(tmp_path):
    base = _agent_folder(tmp_path / "one" / "iso", 0.0)
    other = _agent_folder(tmp_path / "two" / "carry", 0.1, seeds=(0, 1, 2, 3))  # seed 3 has no partner
    lines = _table(f"iso={base}", f"carry={other}")
    assert lines[0].startswith("Tasks: b, c. Differences NAME - iso")
    rows = {line.split(" | ")[2]: line.split(" | ") for line in lines if line.startswith("| carry")}
    assert set(rows) == {"test accuracy, linear student", "jump-start: first-round test accuracy (linear student)",
                         "jump-start: first learner step's env reward per completion",
                         "AUC: mean env reward per completion over the task's learner steps"}
    n, mean, _, per_seed = rows["test accuracy, linear student"][3:7]
    assert (n, mean, per_seed) == ("6", "+0.150", "+0.150 / +0.150 / +0.150")  # gains 0.1 and 0.2 on b and c
    first = {line.split(" | ")[2]: line.split(" | ")[3:5] for line in _table(f"iso={base}", f"carry={other}",
                                                                               "--first-task")[4:]}
    assert first["test accuracy, linear student"] == ["9", "+0.100"]


def test_a_folder_without_runs_is_an_error(tmp_path):
    base = _agent_folder(tmp_path / "iso", 0.0)
    (tmp_path / "empty").mkdir()
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "paired_cells.py"), f"iso={base}",
                          f"x={tmp_path / 'empty'}"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode != 0 and "no seed-<s> run folder with results" in out.stderr
