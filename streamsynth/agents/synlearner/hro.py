"""GRPO over a prompt set with a per-completion reward function: the learner's step outside the env's rounds.

A step takes a few prompt rows (``{"prompt": chat messages, **columns}``), samples ``group_size`` completions of
each with the LoRA policy, scores them with a reward function of TRL's signature (``reward(prompts=...,
completions=..., completion_ids=..., **columns) -> list[float]``, e.g.
:class:`~streamsynth.integrations.trl.StreamSynthReward`), turns the rewards into group-relative advantages and
takes one :meth:`~streamsynth.agents.synlearner.policy.LoRAPolicy.grpo` update on every completion, as TRL's
``GRPOTrainer`` does (a group whose rewards are all equal has advantage 0: it adds tokens to the ``dapo``
normaliser and no gradient). ``benchmarks/bench_grpo_probe.py`` runs it beside TRL's trainer on probe rewards.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from streamsynth.agents.synlearner.grpo import group_advantages

RewardFunction = Callable[..., Sequence[float]]
"""``reward(prompts=[...], completions=[...], completion_ids=[...], **columns) -> one float per completion``."""


@dataclass
class StepRecord:
    """What one GRPO step did: its rewards, completions, update figures and where its time went."""

    step: int
    prompts: int
    completions: int
    reward_mean: float
    reward_std: float
    frac_reward_zero_std: float
    """Share of groups whose rewards are all equal (no gradient; TRL logs the same figure)."""
    completion_tokens: float
    """Mean tokens per completion (an end-of-sequence token counts)."""
    loss: float | None
    kl: float | None
    clip_fraction: float | None
    grad_norm: float | None
    seconds: dict[str, float] = field(default_factory=dict)
    """``sample``, ``score``, ``update`` and ``total``."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def group_columns(rows: Sequence[Mapping[str, Any]], group_size: int) -> dict[str, list[Any]]:
    """Every column of the rows but ``prompt``, each value repeated for its group (what TRL passes a reward).

    >>> group_columns([{"prompt": "a", "label": "x"}, {"prompt": "b", "label": "y"}], 2)
    {'label': ['x', 'x', 'y', 'y']}
    """
    keys = [k for k in rows[0] if k != "prompt"] if rows else []
    return {k: [r[k] for r in rows for _ in range(group_size)] for k in keys}


def as_completion(prompt: Any, text: str) -> Any:
    """A completion in the prompt's format, as TRL passes it to rewards: a list with one assistant message for a
    chat prompt, the text for a plain one.

    >>> as_completion([{"role": "user", "content": "hi"}], "hello"), as_completion("hi", "hello")
    ([{'role': 'assistant', 'content': 'hello'}], 'hello')
    """
    return text if isinstance(prompt, str) else [{"role": "assistant", "content": text}]


def grpo_step(policy: Any, rows: Sequence[Mapping[str, Any]], reward: RewardFunction, *, group_size: int, seed: int,
              step: int = 0, scale_rewards: bool = True) -> StepRecord:
    """One GRPO step of ``policy`` (a :class:`~streamsynth.agents.synlearner.policy.LoRAPolicy`) on ``rows``."""
    if not rows:
        raise ValueError("a GRPO step needs at least one prompt row")
    started = time.perf_counter()
    prompts = [r["prompt"] for r in rows for _ in range(group_size)]
    completions = policy.sample(prompts, seed=seed)
    sampled = time.perf_counter()
    rewards = [float(x) for x in reward(prompts=prompts, completions=[as_completion(p, c.text) for p, c in
                                                                     zip(prompts, completions)],
                                        completion_ids=[list(c.completion_ids) for c in completions],
                                        **group_columns(rows, group_size))]
    if len(rewards) != len(completions) or not all(np.isfinite(rewards)):
        raise ValueError(f"the reward function returned {len(rewards)} values for {len(completions)} completions "
                         "(one finite float each is needed)")
    scored = time.perf_counter()
    r = torch.tensor(rewards, dtype=torch.float32)
    advantages = group_advantages(r, group_size, scale=scale_rewards)
    trainable = [i for i, c in enumerate(completions) if c.completion_ids]  # an empty completion has no token
    stats = policy.grpo([(completions[i].prompt_ids, completions[i].completion_ids) for i in trainable],
                        [float(advantages[i]) for i in trainable])
    done = time.perf_counter()
    grouped = r.reshape(-1, group_size)  # [prompts, G]
    last = stats[-1] if stats else None
    return StepRecord(
        step=step, prompts=len(rows), completions=len(completions), reward_mean=float(r.mean()),
        reward_std=float(r.std()) if len(r) > 1 else 0.0,
        frac_reward_zero_std=float((grouped.std(dim=1) == 0).float().mean()),
        completion_tokens=float(np.mean([len(c.completion_ids) for c in completions])),
        loss=None if last is None else last.loss, kl=None if last is None else last.kl,
        clip_fraction=None if last is None else last.clip_fraction,
        grad_norm=None if last is None else last.grad_norm,
        seconds={"sample": sampled - started, "score": scored - sampled, "update": done - scored,
                 "total": done - started})
