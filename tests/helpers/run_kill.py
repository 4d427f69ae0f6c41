"""Shared by the resume tests: kill a run at its k-th round, check that a plain re-run refuses the partial folder,
resume it, and compare with an uninterrupted run."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamsynth.errors import StreamSynthError
from streamsynth.evaluation.experiment import RunHooks, run_experiment
from streamsynth.evaluation.options import RunOptions


class Kill(Exception):
    """Raised from a round hook: the run dies there as if killed."""


def kill_and_resume(opts: RunOptions, run_dir: Path, kill_at: int) -> list:
    """Run ``opts`` into ``run_dir``, killed during its ``kill_at``-th round; then resume it; returns the results."""
    rounds = {"n": 0}

    def on_round(task, r, reward):
        rounds["n"] += 1
        if rounds["n"] == kill_at:
            raise Kill

    with pytest.raises(Kill):
        run_experiment(opts, run_dir, RunHooks(on_round=on_round))
    with pytest.raises(StreamSynthError, match="--resume"):
        run_experiment(opts, run_dir)
    return run_experiment(opts, run_dir, resume=True)


def assert_same_results(resumed: list, full: list) -> None:
    """Test figures, datasets, returns and counts equal, task by task."""
    assert [r.test for r in resumed] == [r.test for r in full]
    assert [r.dataset for r in resumed] == [r.dataset for r in full]
    assert [(r.episode_return, r.rounds, r.submitted, r.accepted) for r in resumed] == \
        [(r.episode_return, r.rounds, r.submitted, r.accepted) for r in full]
