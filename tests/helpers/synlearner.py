"""SynLearner on the tiny Llama: small settings, its backend, an agent, a copy of its adapter."""

from __future__ import annotations

from pathlib import Path

import torch

from streamsynth.agents.synlearner.agent import SynLearnerAgent
from streamsynth.agents.synlearner.config import SynLearnerConfig

SMALL = {"max_new_tokens": 16, "train_batch_size": 8, "eft_top": 8, "replay": 4, "feedback_steps": 0}
"""Small and fast; the rounds alone (feedback steps are turned on where a test is about them)."""


def tiny_backend(model_dir: Path):
    from streamsynth.generation.transformers_backend import TransformersBackend

    return TransformersBackend(str(model_dir), device="cpu", batch_size=32)


def tiny_agent(model_dir, env, seed=0, **changes) -> SynLearnerAgent:
    return SynLearnerAgent(SynLearnerConfig(**{**SMALL, **changes}), backend=tiny_backend(model_dir),
                           embedder=env.embedder, seed=seed)


def lora_weights(agent) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in agent.policy.adapter_state().items()}
