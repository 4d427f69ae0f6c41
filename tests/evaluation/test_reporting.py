"""``--report-to tensorboard``: a run's scalars land in TensorBoard event files (read back with TensorBoard's own
reader), with the figures metrics.json holds; the learner's steps as ``learner/*``; progress as lines when the
output is not a terminal."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from streamsynth.cli.main import app
from tests.helpers import ROOT

TASK = str(ROOT / "examples" / "tasks" / "customer-intent.toml")
runner = CliRunner()


def _events(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar series under ``folder``, read by TensorBoard's EventAccumulator: tag -> [(step, value)]."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_evaluate_writes_tensorboard_scalars_that_match_the_metrics(tmp_path):
    pytest.importorskip("tensorboard")
    out = tmp_path / "run"
    result = runner.invoke(app, ["evaluate", "--agent", "oracle", "--stream", TASK, "--embedder", "hashing",
                                 "--student", "linear", "--samples-per-label", "3", "--rounds", "2",
                                 "--report-to", "tensorboard", "--output", str(out)])
    assert result.exit_code == 0, result.output
    events = _events(out / "tensorboard")
    metrics = json.loads((out / "metrics.json").read_text())
    row = metrics["tasks"][0]
    steps = row["steps"]
    assert [s for s, _ in events["env/score"]] == list(range(1, steps + 1))  # one point per env step
    assert events["env/score"][-1][1] == pytest.approx(row["figures"]["score"], abs=1e-6)
    assert events["task/test_accuracy"] == [(0, pytest.approx(row["test"]["test_accuracy"], abs=1e-6))]
    assert events["task/completions"] == [(0, 0.0)]  # the oracle generates nothing
    assert not any(tag.startswith("learner/") for tag in events)  # the oracle keeps no learning log
    assert json.loads((out / "config.json").read_text())["report_to"] == ["tensorboard"]


def test_report_to_is_checked_and_changes_no_result():
    from streamsynth.evaluation.compare import IGNORED_SETTINGS
    from streamsynth.evaluation.options import RunOptions

    assert RunOptions.of(report_to="none").report_to == () and "report_to" in IGNORED_SETTINGS
    assert RunOptions.of(report_to=["tensorboard", "wandb"]).report_to == ("tensorboard", "wandb")
    with pytest.raises(ValueError, match="--report-to"):
        RunOptions.of(report_to="mlflow")
    bad = runner.invoke(app, ["evaluate", "--stream", TASK, "--report-to", "csv", "--output", "unused"])
    assert bad.exit_code == 2 and "--report-to takes none or" in bad.output


def test_learner_steps_and_tasks_reach_the_writers(tmp_path):
    from streamsynth.evaluation.callbacks import RunContext
    from streamsynth.evaluation.reporting import ScalarReporter
    from streamsynth.evaluation.runner import EpisodeProgress, TaskResult

    log = [{"task": "t", "round": 0, "phase": "feedback", "loss": 0.5, "kl": 0.01, "env_reward": 0.2},
           {"task": "t", "round": 0, "phase": "dai", "eft_loss": None, "env_reward": 0.3, "accepted": 4}]
    agent = SimpleNamespace(learning_log=lambda: list(log))
    ctx = RunContext(tmp_path, env=None, agent=agent, config={})
    reporter = ScalarReporter(["tensorboard"])
    reporter.on_run_start(ctx)
    reporter.on_step(ctx, EpisodeProgress("t", 0, steps=1, drafts=8, components={"score": 0.4}), False)
    log.append({"task": "t", "round": 1, "phase": "grpo", "loss": 0.1, "clip_fraction": 0.0, "env_reward": 0.35})
    reporter.on_step(ctx, EpisodeProgress("t", 0, steps=2, drafts=8, components={"score": 0.5}), True)
    result = TaskResult("t", 0, 2, 0.5, {"score": 0.5}, {"test_accuracy": 0.7}, 8, 8, {}, 1.0, steps=2,
                        completions=12, drafts=8, first_test={"test_accuracy": 0.6})
    ctx.results.append(result)
    reporter.on_task_end(ctx, result)
    reporter.on_run_end(ctx)
    events = _events(tmp_path / "tensorboard")
    assert events["learner/env_reward"] == [(0, pytest.approx(0.2)), (1, pytest.approx(0.3)), (2, pytest.approx(0.35))]
    assert events["learner/loss"] == [(0, 0.5), (2, pytest.approx(0.1))] and "learner/round" not in events
    assert events["env/score"] == [(1, pytest.approx(0.4)), (2, 0.5)] and events["env/feedback_used"][0] == (1, 8.0)
    assert events["task/first_round_test_accuracy"] == [(0, pytest.approx(0.6))]
    assert events["task/drafts"] == [(0, 8.0)] and events["task/test_accuracy"] == [(0, pytest.approx(0.7))]


def test_progress_is_printed_as_lines_without_a_terminal(tmp_path):
    result = runner.invoke(app, ["evaluate", "--agent", "oracle", "--stream", TASK, "--embedder", "hashing",
                                 "--student", "linear", "--samples-per-label", "3", "--rounds", "2",
                                 "--output", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("[0:")]
    assert lines[0].endswith("loading data and models") and "1 tasks: customer-intent" in lines[1]
    assert any("task 1/1 customer-intent: started" in line for line in lines)
    assert any("task customer-intent: round 1 reward +" in line for line in lines)
    assert any("task customer-intent: done, 9 samples in 1 rounds, test accuracy" in line for line in lines)
