"""Every registered StreamSynth env id passes Gymnasium's ``check_env`` with its warnings raised as errors."""

from __future__ import annotations

import warnings

import gymnasium as gym
import pytest

import streamsynth  # noqa: F401  (registers the envs)
from tests.helpers.data import SMALL_SPLITS
from tests.helpers.scripted import ScriptedBackend

ENV_IDS = sorted(env_id for env_id in gym.registry if env_id.startswith("StreamSynth"))


def _kwargs(env_id, make_env, movie_task):
    """Small, fast settings for each registered id (a new id without an entry here fails the test)."""
    small = {"embedder": "hashing", "split_sizes": SMALL_SPLITS, "samples_per_label": 4, "cycle": True}
    return {
        "StreamSynth-v0": {"stream": [movie_task], **small},
        "StreamSynthStrategy-v0": {"env": make_env(cycle=True), "backend": ScriptedBackend()},
    }[env_id]


def test_both_envs_are_registered():
    assert ENV_IDS == ["StreamSynth-v0", "StreamSynthStrategy-v0"]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_check_env_passes_without_a_warning(env_id, make_env, movie_task):
    from gymnasium.utils.env_checker import check_env

    env = gym.make(env_id, **_kwargs(env_id, make_env, movie_task))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=True)
