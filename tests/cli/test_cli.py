"""The synth-agent CLI: evaluate writes a complete run folder; tasks and info list what exists; errors are clear."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

import streamsynth
from streamsynth.cli.main import app
from tests.helpers import ROOT

runner = CliRunner()


def test_evaluate_oracle_on_a_task_file_writes_the_run_folder(tmp_path):
    out = tmp_path / "run"
    task = ROOT / "examples" / "tasks" / "customer-intent.toml"
    result = runner.invoke(app, ["evaluate", "--agent", "oracle", "--stream", str(task), "--embedder", "hashing",
                                 "--samples-per-label", "3", "--rounds", "2", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "customer-intent" in result.output and "linear acc" in result.output and "fine-tuned acc" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["agent"] == "oracle" and metrics["summary"]["tasks"] == 1
    row = metrics["tasks"][0]
    assert row["task"] == "customer-intent" and row["accepted"] == 9
    with open(out / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["task"] == "customer-intent" and float(rows[0]["test_accuracy"]) > 0
    # the default --student finetune reports the fine-tuned student next to the linear one, with its gold student
    assert 0 < float(rows[0]["finetune_test_accuracy"]) <= 1 and 0 < float(rows[0]["finetune_gold_test_accuracy"]) <= 1
    assert metrics["config"]["student"] == "finetune"
    lines = (out / "datasets" / "customer-intent.jsonl").read_text().splitlines()
    assert len(lines) == 9 and {json.loads(x)["label"] for x in lines} == {"refund", "order-status", "product-question"}
    assert (out / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    versions = json.loads((out / "config.json").read_text())["versions"]
    assert versions["gymnasium"] and versions["streamsynth"] == streamsynth.__version__  # the code that ran
    # the same output folder again is refused instead of overwritten
    again = runner.invoke(app, ["evaluate", "--agent", "oracle", "--stream", str(task), "--embedder", "hashing",
                                "--output", str(out)])
    assert again.exit_code == 2 and "already holds" in again.output


def test_evaluate_unknown_stream_and_agent_fail_clearly(tmp_path):
    result = runner.invoke(app, ["evaluate", "--stream", "no-such-stream", "--output", str(tmp_path / "a")])
    assert result.exit_code == 2 and "no-such-stream" in result.output
    task = ROOT / "examples" / "tasks" / "customer-intent.toml"
    result = runner.invoke(app, ["evaluate", "--agent", "nobody", "--stream", str(task), "--embedder", "hashing",
                                 "--student", "linear",
                                 "--output", str(tmp_path / "b")])
    assert result.exit_code == 2 and "unknown agent 'nobody'" in result.output


def test_tasks_lists_tasks_streams_and_agents():
    result = runner.invoke(app, ["tasks"])
    assert result.exit_code == 0, result.output
    for name in ("movie-sentiment", "news-topic", "question-type", "yelp-5", "mnli", "offline", "paper", "zerogen"):
        assert name in result.output


@pytest.mark.parametrize("chosen", [None, "ACTIVE"])
def test_every_command_lets_openmp_threads_sleep_unless_the_user_chose(monkeypatch, chosen):
    monkeypatch.setenv("OMP_WAIT_POLICY", "restored afterwards")  # so monkeypatch restores the variable at the end
    if chosen is None:
        monkeypatch.delenv("OMP_WAIT_POLICY")
    else:
        monkeypatch.setenv("OMP_WAIT_POLICY", chosen)
    assert runner.invoke(app, ["tasks"]).exit_code == 0
    assert os.environ["OMP_WAIT_POLICY"] == (chosen or "PASSIVE")


def test_the_cli_module_does_not_load_torch_before_its_commands_run():
    """OpenMP reads OMP_WAIT_POLICY when torch loads: importing the CLI must not load it."""
    code = "import sys, streamsynth.cli.main; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_info_reports_offline_resources():
    result = runner.invoke(app, ["info"])
    assert result.exit_code == 0, result.output
    assert "smollm2-135m" in result.output and "minilm" in result.output and "gymnasium" in result.output


def test_unknown_student_is_a_clear_error(tmp_path):
    from streamsynth.evaluation.options import RunOptions

    task = ROOT / "examples" / "tasks" / "customer-intent.toml"
    result = runner.invoke(app, ["evaluate", "--agent", "oracle", "--stream", str(task), "--embedder", "hashing",
                                 "--student", "bert", "--output", str(tmp_path / "x")])
    assert result.exit_code == 2 and "student must be one of ('linear', 'finetune'), got 'bert'" in result.output
    assert not (tmp_path / "x").exists()
    with pytest.raises(ValueError, match="student must be one of"):
        RunOptions.of(student="Linear")
