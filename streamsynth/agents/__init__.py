"""Agents: anything that maps an observation to a dataset. See :mod:`streamsynth.agents.base`."""

from __future__ import annotations

from typing import Any

from streamsynth.agents.base import Agent, remaining_per_label
from streamsynth.agents.llm import LLMAgent, LLMConfig

AGENTS: dict[str, str] = {
    "zerogen": "label-conditioned LLM prompts (ZeroGen style): instruction + label description only",
    "oracle": "real samples from the task's judge split: the upper reference (privileged access)",
    "fewshot": "label prompts with k = 4 real seed examples each, balanced over labels, reshuffled per prompt",
    "attrprompt": "attribute-randomised label prompts (AttrPrompt, Yu et al. 2023); LLM-proposed attributes when a "
    "task has none",
    "progen": "in-context feedback (ProGen, Ye et al. 2022): zero-shot first, then the best-scoring accepted samples "
    "of each label as examples",
    "copy-seed": "submits the seed examples it was shown (no LLM): shows that copying earns a reward of 0",
    "sb3-ppo": "stable-baselines3 PPO policy over generation strategies (prompt style, temperature, examples, "
    "attribute variation); learns across the stream",
    "sb3-a2c": "the same strategy policy trained with A2C",
    "synlearner": "SynLearner: diversity-aware prompting and selection, LoRA fine-tuning, GRPO on the env's "
    "hierarchical feedback; adapter and experience memory carried across the stream",
    "synlearner-isolated": "SynLearner reset (adapter, optimizer, memory) at every task: the carry-over ablation",
}


SHARED_LLM_SETTINGS = ("model", "backend", "device", "batch_size", "temperature", "max_new_tokens")
"""Settings every LLM agent takes from the shared CLI options (``--model`` ...), SynLearner included."""


def build_agent(name: str, *, env: Any = None, llm: LLMConfig | None = None, seed: int = 0, backend: Any = None,
                learner: Any = None) -> Agent:
    """Build an agent by name. ``env`` is needed by ``oracle`` (a privileged reference: it gets a
    :class:`~streamsynth.tasks.real.RealData` provider of the judge split built from the env's ``tasks``,
    ``split_sizes`` and ``data_seed``) and by ``sb3-*``; ``llm`` and
    ``backend`` are used by the LLM agents (``zerogen``, ``fewshot``, ``attrprompt``, ``progen``, ``sb3-*``,
    ``synlearner``); ``learner`` (a :class:`~streamsynth.agents.synlearner.config.SynLearnerConfig`) holds the
    SynLearner settings, whose :data:`SHARED_LLM_SETTINGS` are taken from ``llm`` so every agent shares them."""
    if name in ("synlearner", "synlearner-isolated"):
        from streamsynth.agents.synlearner.agent import SynLearnerAgent
        from streamsynth.agents.synlearner.config import SynLearnerConfig

        cfg = learner or SynLearnerConfig()
        if llm is not None:
            cfg = cfg.with_(**{k: getattr(llm, k) for k in SHARED_LLM_SETTINGS})
        if name == "synlearner-isolated":
            cfg = cfg.with_(isolated=True)
        return SynLearnerAgent(cfg, backend=backend, seed=seed)
    if name == "zerogen":
        from streamsynth.agents.zerogen import ZeroGenAgent

        return ZeroGenAgent(llm, backend=backend, seed=seed)
    if name == "fewshot":
        from streamsynth.agents.fewshot import FewShotAgent

        return FewShotAgent(llm, backend=backend, seed=seed)
    if name == "attrprompt":
        from streamsynth.agents.attrprompt import AttrPromptAgent

        return AttrPromptAgent(llm, backend=backend, seed=seed)
    if name == "progen":
        from streamsynth.agents.progen import ProGenAgent

        return ProGenAgent(llm, backend=backend, seed=seed)
    if name == "oracle":
        from streamsynth.agents.oracle import OracleAgent
        from streamsynth.tasks.real import RealData

        if env is None:
            raise ValueError("the oracle agent needs the environment (it submits real judge-split data cut with the "
                             "env's tasks, split sizes and data seed)")
        return OracleAgent(RealData.for_env(env, split="judge"), seed=seed)
    if name == "copy-seed":
        from streamsynth.agents.copy_seed import CopySeedAgent

        return CopySeedAgent(seed=seed)
    if name in ("sb3-ppo", "sb3-a2c"):
        from streamsynth.agents.sb3 import SB3Agent

        if env is None:
            raise ValueError(f"the {name} agent needs the environment (its features use the env's embedder, "
                             "round budget and label count)")
        return SB3Agent.for_env(env, name.removeprefix("sb3-"), llm, backend=backend, seed=seed)
    raise ValueError(f"unknown agent {name!r}; known agents: {', '.join(AGENTS)}")


__all__ = ["AGENTS", "Agent", "LLMAgent", "LLMConfig", "build_agent", "remaining_per_label"]
