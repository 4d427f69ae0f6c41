"""Small real-data settings and held-out real samples for env tests."""

from __future__ import annotations

SMALL_SPLITS = {"seed_per_label": 3, "judge": 200, "dev": 100, "test": 100}
"""Split sizes of the fast test envs (``make_env`` in ``tests/agents/synlearner/conftest.py``)."""


def held_out(env, n_per_label):
    """Real samples of the current task that are not seed examples (taken from the test split, which the env
    neither holds nor uses) — a stand-in for a perfect generator."""
    from streamsynth.tasks.real import real_split

    u = env.unwrapped
    test = real_split(u.current_task, "test", u.config.split_sizes, u.config.data_seed)
    out = []
    for lbl in u.current_task.labels:
        out += [s for s in test if s["label"] == lbl][:n_per_label]
    return out
