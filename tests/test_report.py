"""Run-folder reports: the learning curves of ``learning.png``."""

from __future__ import annotations

import warnings

from streamsynth.evaluation.report import LEARNING_KEYS, plot_learning


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
