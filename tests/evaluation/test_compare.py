"""The comparison harness: stream metrics arithmetic, aggregation over seeds, resume after an interruption."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from streamsynth.cli.main import app
from streamsynth.evaluation import compare as compare_mod
from streamsynth.evaluation.compare import mean_std, run_compare, stream_scores
from streamsynth.evaluation.experiment import is_complete
from streamsynth.evaluation.options import RunOptions
from streamsynth.evaluation.runner import TaskResult
from streamsynth.evaluation.stream_metrics import acc, bwt, constant_rows, fwt
from tests.helpers import ROOT

TASK = str(ROOT / "examples" / "tasks" / "customer-intent.toml")


def test_acc_bwt_fwt_on_a_hand_made_matrix():
    R = np.array([[0.6, 0.2, 0.1],
                  [0.5, 0.7, 0.3],
                  [0.4, 0.6, 0.8]])
    b = np.array([0.5, 0.25, 0.2])
    assert acc(R) == pytest.approx((0.4 + 0.6 + 0.8) / 3)
    assert bwt(R) == pytest.approx(((0.4 - 0.6) + (0.6 - 0.7)) / 2)
    assert fwt(R, b) == pytest.approx(((0.2 - 0.25) + (0.3 - 0.2)) / 2)


def test_single_task_and_bad_shapes():
    assert bwt([[0.7]]) == 0.0 and fwt([[0.7]], [0.1]) == 0.0 and acc([[0.7]]) == 0.7
    with pytest.raises(ValueError, match="square"):
        acc(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="one score per task"):
        fwt(np.zeros((2, 2)), [0.1])
    with pytest.raises(ValueError, match="NaN"):
        bwt([[np.nan]])


def test_agents_that_do_not_learn_have_equal_rows_and_zero_transfer():
    def result(task, a):
        return TaskResult(task, 0, 1, 0.5, {}, {"test_accuracy": a}, 1, 1, {}, 1.0)

    s = stream_scores([result("a", 0.6), result("b", 0.9), result("c", 0.3)])
    R = np.array(s["R"])
    assert (R == R[0]).all() and R[0].tolist() == [0.6, 0.9, 0.3]
    assert s["BWT"] == 0.0 and s["FWT"] == 0.0 and s["ACC"] == pytest.approx(0.6)
    assert constant_rows([1.0]).tolist() == [[1.0]]


def test_mean_std_uses_the_sample_deviation():
    assert mean_std([0.5]) == (0.5, 0.0)
    assert mean_std([1.0, 3.0]) == (2.0, pytest.approx(np.sqrt(2.0)))


def test_compare_writes_tables_and_resumes_without_redoing_cells(tmp_path, monkeypatch):
    base = RunOptions.of(stream=TASK, samples_per_label=3, rounds=1, embedder="hashing", student="linear")
    out = tmp_path / "cmp"
    first = run_compare(["oracle"], [0, 1], base, out, log=lambda m: None)
    assert first.skipped == []
    assert is_complete(out / "runs" / "oracle" / "seed-1")
    md = (out / "results.md").read_text()
    assert "customer-intent" in md and "**overall**" in md and "ACC" in md and " ± " in md
    metrics = json.loads((out / "stream_metrics.json").read_text())
    assert metrics["agents"]["oracle"]["0"]["BWT"] == 0.0
    for name in ("per_task.png", "along_stream.png", "R_oracle.png", "results.csv"):
        assert (out / name).stat().st_size > 0

    # simulate a run killed half-way: one cell loses its completion mark
    killed = out / "runs" / "oracle" / "seed-1" / "metrics.json"
    data = json.loads(killed.read_text())
    data["complete"] = False
    killed.write_text(json.dumps(data))
    calls = []
    import streamsynth.evaluation.experiment as experiment_mod

    real = experiment_mod.run_experiment

    def counting(opts, run_dir, hooks=None, **kw):
        calls.append((opts.agent, opts.seed))
        return real(opts, run_dir, hooks, **kw)

    monkeypatch.setattr(experiment_mod, "run_experiment", counting)  # what every executor's run_cell calls
    second = run_compare(["oracle"], [0, 1], base, out, log=lambda m: None)
    assert calls == [("oracle", 1)]  # only the unfinished cell ran again
    assert second.skipped == [("oracle", 0)]
    assert is_complete(out / "runs" / "oracle" / "seed-1")
    # the rerun cell is deterministic (same seed, same data): same figures as before the "kill"
    for key in ("test_accuracy_mean", "test_accuracy_std", "quality_mean", "utility_mean"):
        assert [r[key] for r in compare_mod.aggregate(second)] == [r[key] for r in compare_mod.aggregate(first)]


def test_compare_cli_and_unknown_agent(tmp_path):
    runner = CliRunner()
    out = tmp_path / "c"
    res = runner.invoke(app, ["compare", "--agents", "oracle", "--stream", TASK, "--student", "linear", "--seeds", "1",
                              "--samples-per-label",
                              "2", "--rounds", "1", "--embedder", "hashing", "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert "customer-intent" in res.output and (out / "results.md").exists()
    res = runner.invoke(app, ["compare", "--agents", "oracle,nobody", "--stream", TASK, "--output", str(out / "x")])
    assert res.exit_code == 2 and "unknown agent(s) ['nobody']" in res.output



class Memorizer:
    """Test double of a learning agent: after finishing a task it "knows" it and writes real data for it; for tasks
    it has not finished it writes data of a single label (a student trained on it predicts one class)."""

    def __new__(cls, env):
        from streamsynth.agents.base import Agent
        from streamsynth.tasks.real import RealData

        class _Memorizer(Agent):
            name = "memorizer"
            learns = True

            def __init__(self):
                super().__init__(0)
                self.known: dict[str, list] = {}
                self.real = RealData.for_env(env)  # the judge split, as the oracle gets it
                self.probe_targets: list[int] = []

            def propose(self, observation):
                return self.real(str(observation["task"]))[: int(observation["targets"].sum())]

            def observe(self, observation, reward, terminated, truncated, info):
                if terminated:
                    self.known[info["task"]] = self.real(info["task"])

            def synthesize(self, observation):
                self.probe_targets.append(int(observation["targets"][0]))
                pool = self.known.get(str(observation["task"]))
                if pool is None:  # unknown task: a few samples of one label only
                    return [{"text": f"{observation['labels'][0]} example number {i} here",
                             "label": observation["labels"][0]}
                            for i in range(3)]
                return [dict(s) for s in pool[:12]]

        return _Memorizer()


def test_learning_agents_get_probe_runs_and_a_real_transfer_matrix(tmp_path, monkeypatch):
    import streamsynth.agents as agents_mod

    monkeypatch.setattr(agents_mod, "build_agent", lambda name, env=None, **kw: Memorizer(env))
    stream = f"{TASK},question-type"
    base = RunOptions.of(stream=stream, samples_per_label=2, rounds=1, embedder="hashing", student="linear")
    out = tmp_path / "cmp"
    result = run_compare(["oracle"], [0], base, out, log=lambda m: None)  # "oracle" is replaced by the double
    s = result.stream["oracle"]["0"]
    R, b = np.array(s["R"]), np.array(s["b"])
    assert R.shape == (2, 2) and b.shape == (2,)
    assert R[0, 0] > b[0]          # after task 0 the agent writes real data for it
    assert R[0, 1] == b[1]         # ... but nothing changed for task 1 yet
    assert R[1, 1] > b[1] and R[1, 0] == R[0, 0]
    assert s["FWT"] == pytest.approx(R[0, 1] - b[1]) == 0.0
    assert s["BWT"] == pytest.approx(R[1, 0] - R[0, 0]) == 0.0
    assert s["ACC"] == pytest.approx(R[1].mean())
    saved = json.loads((out / "runs" / "oracle" / "seed-0" / "metrics.json").read_text())["transfer"]
    assert saved["R"] == s["R"] and saved["b"] == s["b"]


def test_probe_rounds_use_their_own_budget(tmp_path, monkeypatch):
    import streamsynth.agents as agents_mod

    made = []
    monkeypatch.setattr(agents_mod, "build_agent", lambda name, env=None, **kw: made.append(Memorizer(env)) or made[-1])
    base = RunOptions.of(stream=f"{TASK},question-type", samples_per_label=3, rounds=1, embedder="hashing",
                         student="linear", probe_samples_per_label=1)
    run_compare(["oracle"], [0], base, tmp_path / "cmp", log=lambda m: None)
    assert made[0].probe_targets == [1] * 6  # b and two rows of R, two tasks each, at 1 per label (not 3)
    with pytest.raises(ValueError, match="probe_samples_per_label"):
        RunOptions.of(probe_samples_per_label=0)


def test_base_agent_synthesize_explains_what_is_missing():
    from streamsynth.agents.copy_seed import CopySeedAgent

    with pytest.raises(NotImplementedError, match="transfer matrix R needs"):
        CopySeedAgent().synthesize({"task": "t"})


def test_run_experiment_calls_its_callbacks_in_order(tmp_path):
    from streamsynth.evaluation.callbacks import RunCallback
    from streamsynth.evaluation.experiment import run_experiment

    events = []

    class Recorder(RunCallback):
        def on_run_start(self, ctx):
            events.append(("start", len(ctx.results)))

        def on_step(self, ctx, episode, done):
            events.append(("step", episode.task, episode.rounds, done))

        def on_task_end(self, ctx, result):
            # the results writer ran before this callback: metrics.json already holds the task
            written = json.loads((ctx.run_dir / "metrics.json").read_text())["tasks"]
            events.append(("task", result.task, len(ctx.results), len(written)))

        def on_run_end(self, ctx):
            events.append(("end", json.loads((ctx.run_dir / "metrics.json").read_text())["complete"]))

    task = ROOT / "examples" / "tasks" / "customer-intent.toml"
    opts = RunOptions.of(agent="oracle", stream=str(task), samples_per_label=2, rounds=2, embedder="hashing",
                      student="linear")
    run_experiment(opts, tmp_path / "run", callbacks=[Recorder()])
    assert events[0] == ("start", 0) and events[-1] == ("end", True)
    assert ("task", "customer-intent", 1, 1) in events
    assert [e for e in events if e[0] == "step"] == [("step", "customer-intent", 1, True)]  # filled in round 1


def test_compare_tables_end_with_the_paired_comparisons(tmp_path):
    """write_compare reads each learning cell's learning.jsonl and writes paired.json and a section of results.md."""
    from streamsynth.evaluation.compare import CompareResult, cell_dir, write_compare
    from streamsynth.io import write_jsonl

    agents, seeds, tasks = ["synlearner", "synlearner-isolated", "best-of-n"], [0, 1], ["a", "b"]
    gain = {"synlearner": 0.1, "synlearner-isolated": 0.0, "best-of-n": 0.05}
    cells, stream = {}, {}
    for agent in agents:
        for s in seeds:
            cells[(agent, s)] = [TaskResult(t, i, 1, 0.5, {}, {"test_accuracy": 0.5 + gain[agent] * i + 0.01 * s},
                                            1, 1, {}, 1.0, first_test={"test_accuracy": 0.4 + gain[agent] * i})
                                 for i, t in enumerate(tasks)]
            stream.setdefault(agent, {})[str(s)] = stream_scores(cells[(agent, s)])
            if agent != "best-of-n":
                cell_dir(tmp_path, agent, s).mkdir(parents=True)
                write_jsonl(cell_dir(tmp_path, agent, s) / "learning.jsonl",
                            [{"task": t, "env_reward": 0.3 + gain[agent] * i} for i, t in enumerate(tasks)])
    result = CompareResult(agents, seeds, tasks, cells, stream=stream)
    write_compare(tmp_path, result, RunOptions.of(stream="offline-small", samples_per_label=4))
    analysis = json.loads((tmp_path / "paired.json").read_text())
    vs_bon, vs_iso = analysis["pairs"]
    assert vs_bon["b"] == "best-of-n" and vs_bon["figures"]["test_accuracy"]["mean"] == pytest.approx(0.025)
    assert vs_iso["tasks"] == ["b"] and set(vs_iso["figures"]) == {
        "test_accuracy", "jump_start_test_accuracy", "jump_start_env_reward", "auc_env_reward"}
    assert all(f["mean"] == pytest.approx(0.1) for f in vs_iso["figures"].values())
    assert analysis["probes"]["samples_per_label"] == 4
    md = (tmp_path / "results.md").read_text()
    assert "## Paired comparisons" in md and "| synlearner | synlearner-isolated | jump-start" in md


def test_compare_tables_state_both_budgets_summed_over_the_stream():
    """Every comparison states the generation budget (completions) and the feedback budget (drafts) per agent:
    per task as a mean over seeds, summed over the tasks in the overall row."""
    from streamsynth.evaluation.compare import CompareResult, aggregate, markdown_table

    cells, stream = {}, {}
    for s in (0, 1):
        cells[("best-of-n", s)] = [TaskResult(t, i, 1, 0.5, {}, {"test_accuracy": 0.5}, 1, 1, {}, 1.0,
                                              completions=10 * (i + 1) + s, drafts=4 * (i + 1))
                                   for i, t in enumerate(("a", "b"))]
        stream.setdefault("best-of-n", {})[str(s)] = stream_scores(cells[("best-of-n", s)])
    result = CompareResult(["best-of-n"], [0, 1], ["a", "b"], cells, stream=stream)
    rows = {r["task"]: r for r in aggregate(result)}
    assert rows["a"]["completions_mean"] == 10.5 and rows["b"]["drafts_mean"] == 8
    overall = rows["overall"]
    assert (overall["completions_mean"], overall["drafts_mean"]) == (31, 12)  # mean of 10 + 20, 11 + 21; 4 + 8
    md = markdown_table(list(rows.values()), result)
    assert "completions generated" in md and "feedback used (drafts)" in md
    assert "| best-of-n | **overall** |" in md and "| 31 ± 1 | 12 ± 0 |" in md
