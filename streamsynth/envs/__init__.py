"""Gymnasium environments of StreamSynth."""

from __future__ import annotations

ENV_ID = "StreamSynth-v0"


def register_envs() -> None:
    """Register ``StreamSynth-v0`` (idempotent). Called on ``import streamsynth``."""
    from gymnasium.envs.registration import register, registry

    if ENV_ID not in registry:
        register(
            id=ENV_ID,
            entry_point="streamsynth.envs.streamsynth_env:StreamSynthEnv",
            kwargs={"stream": "offline", "samples_per_label": 16, "max_rounds": 4},
        )


def __getattr__(name: str):
    if name == "StreamSynthEnv":
        from streamsynth.envs.streamsynth_env import StreamSynthEnv

        return StreamSynthEnv
    raise AttributeError(name)
