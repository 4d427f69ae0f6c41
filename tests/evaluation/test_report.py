"""Run-folder reports: the learning curves of ``learning.png``."""

from __future__ import annotations

import warnings

from streamsynth.evaluation.report import LEARNING_KEYS, learning_curves, plot_learning


def test_learning_curves_plot_the_env_reward_of_every_step_without_feedback_steps(tmp_path):
    """A run without feedback steps has no draft figures: the env reward of its rounds is still drawn, and
    matplotlib has a labelled line for the legend (it warns otherwise)."""
    log = [{"task": t, "phase": p, "env_reward": r, "mean_raw_reward": r / 2, "kl": 0.001 * i}
           for t in ("a", "b") for i, (p, r) in enumerate((("dai", 0.3), ("grpo", 0.4), ("grpo", 0.5)))]
    assert LEARNING_KEYS[0][0] == "env_reward"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_learning(tmp_path / "learning.png", log)
        plot_learning(tmp_path / "empty.png", [{"task": "a", "phase": "dai"}])  # nothing to draw: no legend
    assert (tmp_path / "learning.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_learning_curves_leave_out_picks_and_draw_the_draft_figures():
    """At SynLearner's defaults a task's log alternates drafted candidates and the pick from them; the pick's env
    reward is the selection's, so the curves read only the drafted steps (and submitted groups)."""
    log = [{"task": "a", "phase": "dai-draft", "env_reward": 0.12, "mean_fidelity": 0.5, "mean_novelty": 0.3},
           {"task": "a", "phase": "dai", "env_reward": 0.31, "scored_by": "env"},
           {"task": "a", "phase": "group-draft", "env_reward": 0.15, "mean_fidelity": 0.6, "mean_novelty": 0.2,
            "kl": 0.002, "clip_fraction": 0.0},
           {"task": "a", "phase": "pick", "env_reward": 0.41, "scored_by": "env"},
           {"task": "b", "phase": "grpo", "env_reward": 0.2, "kl": 0.004}]
    curves = learning_curves(log)
    assert set(curves) == {k for k, _ in LEARNING_KEYS}
    assert curves["env_reward"] == {"a": [(0, 0.12), (1, 0.15)], "b": [(0, 0.2)]}
    assert curves["mean_fidelity"] == {"a": [(0, 0.5), (1, 0.6)]}
    assert curves["mean_novelty"] == {"a": [(0, 0.3), (1, 0.2)]}
    assert curves["kl"] == {"a": [(1, 0.002)], "b": [(0, 0.004)]}
    assert curves["mean_raw_reward"] == {}
