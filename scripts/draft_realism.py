"""How a draft's realism depends on how many drafts share its step.

    python scripts/draft_realism.py SAMPLES.jsonl TASK

Drafts the samples of ``SAMPLES.jsonl`` (e.g. a run folder's ``datasets/<task>.jsonl``) into a ``StreamSynth-v0``
env on ``TASK``: 4 at a time, one step after another, and then all at once into a fresh env; prints the mean
realism and per-sample score of each way. Before ``74e96cf`` each 4-draft step was tested alone (3 synthetic
training rows), which made its drafts look far more real than the same samples tested together.
"""

from __future__ import annotations

import json
import sys

import gymnasium as gym
import numpy as np

import streamsynth  # noqa: F401  (registers the env)


def drafted(env, batch):
    """The realism and score rows of one drafts-only step."""
    info = env.step([{**s, "draft": True} for s in batch])[4]
    return [(r["realism"], r["score"]) for r in info["samples"] if r.get("code") is None]


def main(path: str, task: str) -> None:
    samples = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    envs = [gym.make("StreamSynth-v0", stream=task, max_rounds=3).unwrapped for _ in range(2)]
    for env in envs:
        env.reset(seed=0)
    small = [row for i in range(0, len(samples), 4) for row in drafted(envs[0], samples[i:i + 4])]
    whole = drafted(envs[1], samples)
    mean = lambda rows, k: float(np.mean([r[k] for r in rows])) if rows else float("nan")  # noqa: E731
    print(f"{task}: {len(samples)} samples; realism 4 at a time {mean(small, 0):.3f}, all at once "
          f"{mean(whole, 0):.3f}; sample score {mean(small, 1):.3f} and {mean(whole, 1):.3f}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
