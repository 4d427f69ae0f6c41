"""The observation space of ``StreamSynth-v0`` and the function that fills it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from gymnasium import spaces

from streamsynth.envs.spaces import DatasetSpace, UnicodeText
from streamsynth.tasks.spec import Task

FEEDBACK_KEYS: tuple[str, ...] = (
    "reward",
    "score",
    "quality",
    "diversity",
    "utility",
    "completion",
    "acceptance_rate",
    "semantic",
    "lexical",
    "novelty",
    "balance",
    "utility_gold",
    "utility_relative",
    "realism",
)
"""Order of the numbers in ``observation["feedback"]`` (the last round's figures; zeros before the first step)."""

MAX_STEPS = 2**31 - 1
"""Bound of ``observation["step"]`` (env steps in the episode: rounds plus drafts-only steps)."""
MAX_NAME = 200
MAX_INSTRUCTION = 4000
MAX_DESCRIPTION = 1000


def build_observation_space(
    tasks: Sequence[Task], max_labels: int, max_rounds: int, max_target: int, n_seed: int, max_budget: int = 0
) -> spaces.Dict:
    max_chars = max(t.max_chars for t in tasks)
    name = UnicodeText(MAX_NAME)
    return spaces.Dict(
        {
            "task": UnicodeText(MAX_NAME, min_length=1),
            "task_index": spaces.Discrete(len(tasks)),
            "instruction": UnicodeText(MAX_INSTRUCTION, min_length=1),
            "fields": spaces.Sequence(name),
            "labels": spaces.Sequence(name),
            "label_descriptions": spaces.Sequence(UnicodeText(MAX_DESCRIPTION)),
            "attributes": spaces.Sequence(
                spaces.Dict({"name": name, "values": spaces.Sequence(UnicodeText(MAX_DESCRIPTION))})
            ),
            "seed_examples": DatasetSpace(max(n_seed, 1), max_chars, fields=("text",), labels=("label",)),
            "length": spaces.Box(1, np.iinfo(np.int32).max, shape=(2,), dtype=np.int64),
            "round": spaces.Discrete(max_rounds + 1),
            "max_rounds": spaces.Discrete(max_rounds + 1),
            "counts": spaces.Box(0, max_target, shape=(max_labels,), dtype=np.int64),
            "targets": spaces.Box(0, max_target, shape=(max_labels,), dtype=np.int64),
            "label_mask": spaces.MultiBinary(max_labels),
            "feedback": spaces.Box(-1.0, 2.0, shape=(len(FEEDBACK_KEYS),), dtype=np.float32),
            "feedback_left": spaces.Discrete(max_budget + 1),
            "step": spaces.Discrete(MAX_STEPS),
        }
    )


def feedback_vector(figures: Mapping[str, float] | None) -> np.ndarray:
    """The feedback numbers in :data:`FEEDBACK_KEYS` order, clipped to the space bounds [-1, 2].

    >>> feedback_vector({"reward": 0.5, "utility_relative": 3.0})[[0, 12]].tolist()
    [0.5, 2.0]
    """
    figures = figures or {}
    vec = np.array([float(figures.get(k, 0.0)) for k in FEEDBACK_KEYS], dtype=np.float32)
    return np.clip(np.nan_to_num(vec), -1.0, 2.0).astype(np.float32)


def make_observation(
    task: Task,
    task_index: int,
    seed_examples: Sequence[Mapping[str, str]],
    round_: int,
    max_rounds: int,
    counts: Mapping[str, int],
    target: int,
    max_labels: int,
    feedback: Mapping[str, float] | None,
    feedback_left: int = 0,
    step: int = 0,
) -> dict:
    labels = task.label_names
    pad = max_labels - len(labels)
    return {
        "task": task.name,
        "task_index": int(task_index),
        "instruction": task.instruction,
        "fields": tuple(task.fields),
        "labels": tuple(labels),
        "label_descriptions": tuple(task.labels[lbl] for lbl in labels),
        "attributes": tuple({"name": k, "values": tuple(v)} for k, v in task.attributes.items()),
        "seed_examples": [dict(s) for s in seed_examples],
        "length": np.array([task.min_chars, task.max_chars], dtype=np.int64),
        "round": int(round_),
        "max_rounds": int(max_rounds),
        "counts": np.array([counts.get(lbl, 0) for lbl in labels] + [0] * pad, dtype=np.int64),
        "targets": np.array([target] * len(labels) + [0] * pad, dtype=np.int64),
        "label_mask": np.array([1] * len(labels) + [0] * pad, dtype=np.int8),
        "feedback": feedback_vector(feedback),
        "feedback_left": int(feedback_left),
        "step": int(step),
    }
