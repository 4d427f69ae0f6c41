"""Paired comparisons of a compare folder: exact differences, intervals, tests, jump-start and AUC."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from streamsynth.evaluation import paired


def test_bootstrap_interval_brackets_the_mean_and_narrows_with_less_spread():
    rng = np.random.default_rng(0)
    wide, narrow = rng.normal(0.1, 0.2, 40), rng.normal(0.1, 0.02, 40)
    lo, hi = paired.bootstrap_interval(wide)
    assert lo < wide.mean() < hi
    nlo, nhi = paired.bootstrap_interval(narrow)
    assert nhi - nlo < (hi - lo) / 5
    assert paired.bootstrap_interval([0.2, 0.2]) == (0.2, 0.2)
    assert all(math.isnan(v) for v in paired.bootstrap_interval([0.3]))
    # deterministic for a given seed
    assert paired.bootstrap_interval(wide) == (lo, hi)


def test_bootstrap_interval_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    hits = sum(lo <= 0.0 <= hi for lo, hi in (paired.bootstrap_interval(rng.normal(0, 1, 30), resamples=2000, seed=i)
                                              for i in range(200)))
    assert 0.88 <= hits / 200 <= 0.99


def test_paired_t_is_the_one_sample_t_of_the_differences():
    d = [0.073, 0.067, 0.006]  # per-seed gaps quoted in issue 12: t = 2.27, p ~ 0.15 with df = 2
    t, p = paired.paired_t(d)
    assert t == pytest.approx(2.27, abs=0.01) and p == pytest.approx(0.15, abs=0.01)
    assert t == pytest.approx(stats.ttest_1samp(d, 0.0).statistic)
    assert all(math.isnan(v) for v in paired.paired_t([0.1]))
    assert all(math.isnan(v) for v in paired.paired_t([0.1, 0.1]))


def test_paired_figure_pairs_by_seed_and_task_only():
    a = {(0, "x"): 0.6, (0, "y"): 0.8, (1, "x"): 0.7, (1, "y"): 0.5, (2, "x"): 0.9}
    b = {(0, "x"): 0.5, (0, "y"): 0.6, (1, "x"): 0.6, (1, "y"): 0.6, (3, "x"): 0.1}
    f = paired.paired_figure(a, b)
    assert f["n"] == 4 and f["seeds"] == [0, 1]
    assert f["mean"] == pytest.approx((0.1 + 0.2 + 0.1 - 0.1) / 4)
    assert f["per_seed"] == pytest.approx([0.15, 0.0])
    assert f["t"] == pytest.approx(stats.ttest_1samp([0.15, 0.0], 0.0).statistic)
    assert f["ci"][0] <= f["mean"] <= f["ci"][1]
    with pytest.raises(ValueError, match="no \\(seed, task\\) pair in common"):
        paired.paired_figure({(0, "x"): 1.0}, {(1, "x"): 1.0})
    one = paired.paired_figure({(0, "x"): 1.0}, {(0, "x"): 0.5})
    assert one["ci"] == [None, None] and one["t"] is None and one["p"] is None


def test_first_of_task_and_curve_area_read_a_learning_log():
    log = [{"task": "a", "phase": "dai", "env_reward": 0.2}, {"task": "a", "phase": "grpo", "env_reward": 0.4},
           {"task": "b", "phase": "dai"}, {"task": "b", "phase": "grpo", "env_reward": 0.9},
           {"task": "b", "phase": "grpo", "env_reward": 0.5}]
    assert paired.first_of_task(log, "env_reward") == {"a": 0.2, "b": 0.9}
    assert paired.curve_area(log, "env_reward") == pytest.approx({"a": 0.3, "b": 0.7})
    assert paired.first_of_task([], "env_reward") == {} == paired.curve_area([], "env_reward")


def test_learning_agents():
    assert paired.learning_agents(["synlearner", "synlearner-isolated", "best-of-n", "zerogen"]) == ["synlearner"]
    assert paired.learning_agents(["custom", "custom-isolated", "synlearner-fast"]) == ["custom", "synlearner-fast"]
    assert paired.learning_agents(["zerogen", "oracle"]) == []


def _cells(agent, accs, first, seeds=(0, 1, 2), tasks=("t1", "t2", "t3")):
    return {(agent, s): [{"task": t, "test_accuracy": accs[s][i], "first_round_test_accuracy": first[s][i]}
                         for i, t in enumerate(tasks)] for s in seeds}


def test_analyse_forms_the_issue_pairs_and_leaves_out_the_first_task_for_transfer():
    tasks = ["t1", "t2", "t3"]
    carry = _cells("synlearner", {s: [0.5, 0.6 + 0.01 * s, 0.7] for s in range(3)},
                   {s: [0.4, 0.55, 0.65] for s in range(3)})
    iso = _cells("synlearner-isolated", {s: [0.5, 0.6, 0.6] for s in range(3)}, {s: [0.4, 0.5, 0.6] for s in range(3)})
    bon = _cells("best-of-n", {s: [0.6, 0.6, 0.6] for s in range(3)}, {s: [0.0] * 3 for s in range(3)})
    logs = {("synlearner", s): [{"task": t, "env_reward": r} for t, r in
                                (("t1", 0.1), ("t2", 0.3), ("t2", 0.5), ("t3", 0.4))] for s in range(3)}
    logs.update({("synlearner-isolated", s): [{"task": t, "env_reward": r} for t, r in
                                              (("t1", 0.1), ("t2", 0.2), ("t2", 0.2), ("t3", 0.4))] for s in range(3)})
    stream = {"synlearner": {str(s): {"b": [0.5, 0.5 + 0.01 * s]} for s in range(3)},
              "synlearner-isolated": {str(s): {"b": [0.5, 0.5]} for s in range(3)}}
    out = paired.analyse(["synlearner", "synlearner-isolated", "best-of-n"], tasks, {**carry, **iso, **bon}, logs,
                         stream, 4)
    (vs_bon, vs_iso) = out["pairs"]
    assert (vs_bon["a"], vs_bon["b"], vs_bon["tasks"]) == ("synlearner", "best-of-n", tasks)
    assert vs_bon["figures"]["test_accuracy"]["n"] == 9
    assert vs_bon["figures"]["test_accuracy"]["mean"] == pytest.approx(np.mean([-0.1, 0.0, 0.1, -0.1, 0.01, 0.1,
                                                                                -0.1, 0.02, 0.1]))
    f = vs_iso["figures"]
    assert vs_iso["tasks"] == ["t2", "t3"] and f["test_accuracy"]["n"] == 6
    assert f["test_accuracy"]["per_seed"] == pytest.approx([0.05, 0.055, 0.06])
    assert f["jump_start_test_accuracy"]["mean"] == pytest.approx(0.05)
    assert f["jump_start_env_reward"]["mean"] == pytest.approx((0.1 + 0.0) / 2)
    assert f["auc_env_reward"]["mean"] == pytest.approx((0.2 + 0.0) / 2)
    probes = out["probes"]
    assert probes["samples_per_label"] == 4
    assert probes["agents"]["synlearner"]["b_seed_std"] == pytest.approx(np.std([0.5, 0.505, 0.51], ddof=1))
    assert probes["agents"]["synlearner-isolated"]["b_seed_std"] == 0.0
    md = paired.markdown(out)
    assert "| synlearner | best-of-n | test accuracy, linear student | 3 | 9 |" in md
    assert "jump-start: first-round test accuracy (linear student) | 2 | 6 | +0.050 |" in md
    assert "fine-tuned" not in md  # the cells have no fine-tuned student figures
    assert "Probe rows at 4 samples per label" in md


def test_analyse_without_pairs_writes_nothing():
    out = paired.analyse(["zerogen", "oracle"], ["t1"], {}, {}, {}, 16)
    assert out["pairs"] == [] and paired.markdown(out) == ""
    # a learning agent without logs (no env_reward) still gets its accuracy figures
    cells = {**_cells("synlearner", {s: [0.5, 0.6, 0.7] for s in range(3)}, {s: [0.4] * 3 for s in range(3)}),
             **_cells("synlearner-isolated", {s: [0.5, 0.6, 0.6] for s in range(3)}, {s: [0.4] * 3 for s in range(3)})}
    out = paired.analyse(["synlearner", "synlearner-isolated"], ["t1", "t2", "t3"], cells, {}, {}, 16)
    assert set(out["pairs"][0]["figures"]) == {"test_accuracy", "jump_start_test_accuracy"}


def test_the_fine_tuned_student_is_compared_when_every_cell_has_it():
    cells = {**_cells("synlearner", {s: [0.5, 0.6, 0.7] for s in range(2)}, {s: [0.4] * 3 for s in range(2)},
                      seeds=(0, 1)),
             **_cells("best-of-n", {s: [0.5, 0.5, 0.5] for s in range(2)}, {s: [0.4] * 3 for s in range(2)},
                      seeds=(0, 1))}
    for i, cell in enumerate(cells.values()):
        for r in cell:
            r["finetune_test_accuracy"] = r["test_accuracy"] + 0.1 * (i < 2)  # synlearner's cells come first
    figures = paired.analyse(["synlearner", "best-of-n"], ["t1", "t2", "t3"], cells, {}, {}, 4)["pairs"][0]["figures"]
    assert list(figures) == ["finetune_test_accuracy", "test_accuracy"]
    assert figures["finetune_test_accuracy"]["mean"] == pytest.approx(figures["test_accuracy"]["mean"] + 0.1)
    del cells[("best-of-n", 1)][0]["finetune_test_accuracy"]  # one row without it: linear only
    assert list(paired.analyse(["synlearner", "best-of-n"], ["t1", "t2", "t3"], cells, {}, {}, 4)["pairs"][0][
        "figures"]) == ["test_accuracy"]


def test_rows_without_a_figure_are_left_out_not_counted_as_zero():
    rows = {("a", 0): [{"task": "t1", "first_round_test_accuracy": None},
                       {"task": "t2", "first_round_test_accuracy": 0.6}],
            ("a", 1): [{"task": "t1"}, {"task": "t2", "first_round_test_accuracy": 0.7}]}
    assert paired.cell_values(rows, "a", "first_round_test_accuracy") == {(0, "t2"): 0.6, (1, "t2"): 0.7}


def test_curve_figures_leave_out_picks():
    """A pick's env reward is that of the selection: jump-start and AUC read what the policy wrote."""
    steps = (("dai-draft", 0.1, False), ("dai", 0.9, True), ("group-draft", 0.3, False), ("pick", 0.8, True))
    log = [{"task": "t2", "phase": ph, "env_reward": r, **({"scored_by": "env"} if pick else {})}
           for ph, r, pick in steps]
    logs = {("synlearner", 0): log}
    assert paired.log_values(logs, "synlearner", paired.curve_area, "env_reward", ["t2"]) == {
        (0, "t2"): pytest.approx(0.2)}
    assert paired.log_values(logs, "synlearner", paired.first_of_task, "env_reward", ["t2"]) == {(0, "t2"): 0.1}
