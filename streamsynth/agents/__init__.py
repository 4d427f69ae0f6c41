"""Agents: anything that maps an observation to a dataset. See :mod:`streamsynth.agents.base`."""

from __future__ import annotations

from typing import Any

from streamsynth.agents.base import Agent, remaining_per_label
from streamsynth.agents.llm import LLMAgent, LLMConfig

AGENTS: dict[str, str] = {
    "zerogen": "label-conditioned LLM prompts (ZeroGen style): instruction + label description only",
    "oracle": "real samples from the task's judge split: the upper reference (privileged access)",
}


def build_agent(name: str, *, env: Any = None, llm: LLMConfig | None = None, seed: int = 0, backend: Any = None) -> Agent:
    """Build an agent by name. ``env`` is needed by ``oracle`` (it reads the env's real data)."""
    if name == "zerogen":
        from streamsynth.agents.zerogen import ZeroGenAgent

        return ZeroGenAgent(llm, backend=backend, seed=seed)
    if name == "oracle":
        from streamsynth.agents.oracle import OracleAgent

        if env is None:
            raise ValueError("the oracle agent needs the environment (it submits the env's real judge-split data)")
        return OracleAgent(env.unwrapped.real_pool, seed=seed)
    raise ValueError(f"unknown agent {name!r}; known agents: {', '.join(AGENTS)}")


__all__ = ["AGENTS", "Agent", "LLMAgent", "LLMConfig", "build_agent", "remaining_per_label"]
