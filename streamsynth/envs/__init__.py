"""Gymnasium environments of StreamSynth."""

from __future__ import annotations

ENV_ID = "StreamSynth-v0"
STRATEGY_ENV_ID = "StreamSynthStrategy-v0"


def register_envs() -> None:
    """Register ``StreamSynth-v0`` and ``StreamSynthStrategy-v0`` (idempotent). Called on ``import streamsynth``.

    ``StreamSynthStrategy-v0`` takes the keyword arguments of ``StreamSynth-v0`` (or ``env=``) plus ``backend=`` and
    ``llm=``; see :class:`streamsynth.envs.strategy.StrategyEnv`.
    """
    from gymnasium.envs.registration import register, registry

    if ENV_ID not in registry:
        register(
            id=ENV_ID,
            entry_point="streamsynth.envs.streamsynth_env:StreamSynthEnv",
            kwargs={"stream": "offline"},  # every other default is EnvConfig's
        )
    if STRATEGY_ENV_ID not in registry:
        # no default kwargs: they would clash with ``env=``; StreamSynthEnv's own defaults apply
        register(id=STRATEGY_ENV_ID, entry_point="streamsynth.envs.strategy:StrategyEnv")


def __getattr__(name: str):
    if name == "StreamSynthEnv":
        from streamsynth.envs.streamsynth_env import StreamSynthEnv

        return StreamSynthEnv
    if name == "StrategyEnv":
        from streamsynth.envs.strategy import StrategyEnv

        return StrategyEnv
    raise AttributeError(name)
