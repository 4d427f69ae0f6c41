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


def read_samples(path: str) -> list[dict]:
    """The samples of a JSONL file; a missing, broken or empty file is a clear error (SystemExit)."""
    try:
        with open(path, encoding="utf-8") as f:
            samples = [json.loads(line) for line in f if line.strip()]
    except OSError as exc:
        sys.exit(f"cannot read {path}: {exc.strerror}; give a run folder's datasets/<task>.jsonl")
    except json.JSONDecodeError as exc:
        sys.exit(f"{path} is not JSONL (line {exc.lineno}: {exc.msg}); give a run folder's datasets/<task>.jsonl")
    if not samples or not all(isinstance(s, dict) for s in samples):
        sys.exit(f"{path} holds no samples (one JSON object per line, with the task's fields and 'label')")
    return samples


def main(path: str, task: str, embedder: str = "minilm") -> str:
    samples = read_samples(path)
    envs = [gym.make("StreamSynth-v0", stream=task, max_rounds=3, embedder=embedder).unwrapped for _ in range(2)]
    for env in envs:
        env.reset(seed=0)
    small = [row for i in range(0, len(samples), 4) for row in drafted(envs[0], samples[i:i + 4])]
    whole = drafted(envs[1], samples)
    mean = lambda rows, k: float(np.mean([r[k] for r in rows])) if rows else float("nan")  # noqa: E731
    line = (f"{envs[0].current_task.name}: {len(samples)} samples; realism 4 at a time {mean(small, 0):.3f}, "
            f"all at once {mean(whole, 0):.3f}; sample score {mean(small, 1):.3f} and {mean(whole, 1):.3f}")
    print(line)
    return line


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
