"""Run-level checkpoints: env state, agent state and run progress in ``RUN_DIR/checkpoint/``, swapped atomically.

A checkpoint is written into ``checkpoint.tmp/`` and then moved into place: the old one is renamed to
``checkpoint.old/`` first and deleted last, so a kill at any moment leaves one complete checkpoint
(:func:`checkpoint_dir` falls back to ``checkpoint.old`` when the swap was cut between its two renames).
Only agents with ``supports_checkpoints`` (:class:`~streamsynth.agents.base.Agent`; SynLearner and the sb3-* agents)
are checkpointed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from streamsynth.errors import StreamSynthError
from streamsynth.io import atomic_dir, complete_dir, write_json

CHECKPOINT = "checkpoint"


def can_checkpoint(agent: Any) -> bool:
    """Whether the agent declares checkpoint support (:attr:`~streamsynth.agents.base.Agent.supports_checkpoints`)."""
    return bool(agent.supports_checkpoints)


def save_checkpoint(run_dir: Path, env: Any, agent: Any, progress: dict[str, Any]) -> Path:
    """Write env state, agent state and ``progress`` (JSON) as the run's checkpoint."""
    final = Path(run_dir) / CHECKPOINT
    with atomic_dir(final) as tmp:
        env.unwrapped.save_state(tmp / "env")
        agent.save_state(tmp / "agent")
        write_json(tmp / "progress.json", progress)
    return final


def has_checkpoint(run_dir: Path) -> bool:
    """Whether the run folder holds a checkpoint to continue from (also one left mid-swap by a kill)."""
    return complete_dir(Path(run_dir) / CHECKPOINT, "progress.json") is not None


def checkpoint_dir(run_dir: Path) -> Path:
    """The run's checkpoint folder (``checkpoint/``, or ``checkpoint.old/`` after a kill mid-swap)."""
    folder = complete_dir(Path(run_dir) / CHECKPOINT, "progress.json")
    if folder is not None:
        return folder
    raise StreamSynthError(
        f"{run_dir} has no checkpoint to resume from (checkpoints are written after each task, and every N rounds "
        "with --checkpoint-every, by agents that support them: synlearner, sb3-ppo, sb3-a2c); start a new run instead")


def load_checkpoint(run_dir: Path, env: Any, agent: Any) -> dict[str, Any]:
    """Restore env and agent from the run's checkpoint; returns the saved progress."""
    folder = checkpoint_dir(run_dir)
    try:
        progress = json.loads((folder / "progress.json").read_text(encoding="utf-8"))
    except ValueError as exc:
        raise StreamSynthError(f"{folder / 'progress.json'} is not valid JSON ({exc}); the run cannot be resumed, "
                               "start it again") from exc
    env.unwrapped.load_state(folder / "env")
    agent.load_state(folder / "agent")
    return progress
