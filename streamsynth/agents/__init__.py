"""Agents: anything that maps an observation to a dataset. See :mod:`streamsynth.agents.base`."""

from __future__ import annotations

from typing import Any

from streamsynth.agents.base import Agent, remaining_per_label
from streamsynth.agents.llm import LLMAgent, LLMConfig
from streamsynth.agents.registry import (  # noqa: F401 (SHARED_LLM_SETTINGS re-exported: the CLI imports it here)
    REGISTRY,
    SHARED_LLM_SETTINGS,
    AgentSpec,
    register,
    spec,
)

_F = "streamsynth.agents.factories"
for _spec in (
    AgentSpec("zerogen", f"{_F}:zerogen", "label-conditioned LLM prompts (ZeroGen style): instruction + label "
              "description only", llm=True),
    AgentSpec("oracle", f"{_F}:oracle", "real samples from the task's judge split: the upper reference (privileged "
              "access)", needs_env=True),
    AgentSpec("fewshot", f"{_F}:fewshot", "label prompts with k = 4 real seed examples each, balanced over labels, "
              "reshuffled per prompt", options="streamsynth.agents.factories:FewShotOptions", llm=True),
    AgentSpec("attrprompt", f"{_F}:attrprompt", "attribute-randomised label prompts (AttrPrompt, Yu et al. 2023); "
              "LLM-proposed attributes when a task has none", options="streamsynth.agents.factories:AttrPromptOptions",
              llm=True),
    AgentSpec("progen", f"{_F}:progen", "in-context feedback (ProGen, Ye et al. 2022): zero-shot first, then the "
              "best-scoring accepted samples of each label as examples",
              options="streamsynth.agents.factories:ProGenOptions", llm=True),
    AgentSpec("best-of-n", f"{_F}:best_of_n", "diversity-aware prompts (attributes + seed examples), n candidates "
              "per wanted sample scored as drafts, the best submitted: the equal-budget baseline of learning",
              options="streamsynth.agents.factories:BestOfNOptions", llm=True),
    AgentSpec("copy-seed", f"{_F}:copy_seed", "submits the seed examples it was shown (no LLM): shows that copying "
              "earns a reward of 0"),
    AgentSpec("sb3-ppo", f"{_F}:sb3", "stable-baselines3 PPO policy over generation strategies (prompt style, "
              "temperature, examples, attribute variation); learns across the stream",
              options="streamsynth.agents.sb3:SB3Config", llm=True, needs_env=True, fixed={"algorithm": "ppo"}),
    AgentSpec("sb3-a2c", f"{_F}:sb3", "the same strategy policy trained with A2C",
              options="streamsynth.agents.sb3:SB3Config", llm=True, needs_env=True, fixed={"algorithm": "a2c"}),
    AgentSpec("synlearner", f"{_F}:synlearner", "SynLearner: diversity-aware prompting and selection, LoRA "
              "fine-tuning, GRPO on the env's hierarchical feedback; adapter and experience memory carried across "
              "the stream", options="streamsynth.agents.synlearner.config:SynLearnerConfig", llm=True, learner=True),
    AgentSpec("synlearner-isolated", f"{_F}:synlearner", "SynLearner reset (adapter, optimizer, memory) at every "
              "task: the carry-over ablation", options="streamsynth.agents.synlearner.config:SynLearnerConfig",
              llm=True, fixed={"isolated": True, "carry": ()}, learner=True),
):
    register(_spec)

AGENTS: dict[str, str] = {name: s.description for name, s in REGISTRY.items()}
"""Registered agents and their descriptions (``synth-agent tasks``)."""


def build_agent(name: str, *, env: Any = None, llm: LLMConfig | None = None, seed: int = 0, backend: Any = None,
                learner: Any = None, options: Any = None) -> Agent:
    """Build a registered agent (:mod:`streamsynth.agents.registry`).

    ``env`` is needed by ``oracle`` (a privileged reference: it gets a :class:`~streamsynth.tasks.real.RealData`
    provider of the judge split built from the env's ``tasks``, ``split_sizes`` and ``data_seed``) and by ``sb3-*``;
    ``llm`` and ``backend`` are used by the LLM agents. ``options`` are the agent's own settings (``-A``): a mapping
    of keys (the agent's options class, plus LLM settings such as ``top_p``) or an instance of its options class.
    ``learner`` (a :class:`~streamsynth.agents.synlearner.config.SynLearnerConfig`) is SynLearner's options, whose
    :data:`SHARED_LLM_SETTINGS` are taken from ``llm`` so every agent shares them."""
    from dataclasses import replace

    agent_spec = spec(name)
    if learner is not None:
        options = learner
    if options is None or isinstance(options, dict):
        instance, llm_extra = agent_spec.split_options(options or {})
    else:
        instance, llm_extra = replace(options, **dict(agent_spec.fixed)), {}
    if agent_spec.llm and (llm is not None or llm_extra):
        llm = replace(llm or LLMConfig(), **llm_extra)
    return agent_spec.factory()(env=env, llm=llm if agent_spec.llm else None, backend=backend, seed=seed,
                                options=instance)


__all__ = ["AGENTS", "Agent", "AgentSpec", "LLMAgent", "LLMConfig", "build_agent", "register", "remaining_per_label",
           "spec"]
