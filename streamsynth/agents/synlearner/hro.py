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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

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


# ---------------------------------------------------------------------------------------------------- the data loop


@dataclass(frozen=True)
class HROConfig:
    """The data loop of GRPO over a prompt set, as the paper's HRO (TRL's ``GRPOTrainer``) runs it: every prompt row
    ``epochs`` times, in a fresh shuffled order each epoch, ``prompts_per_step`` rows per GRPO step with
    ``group_size`` completions each (the paper: 500 prompts x 2 epochs x 4 completions per task)."""

    epochs: int = 2
    """Passes over the prompt set."""
    prompts_per_step: int = 8
    """Prompt rows per GRPO step (completions per step: prompts_per_step x group_size)."""
    group_size: int = 4
    """Completions per prompt (GRPO compares completions of one prompt)."""
    scale_rewards: bool = True
    """Advantages divided by the group's reward std (TRL's scale_rewards="group"); false: only centred."""
    seed: int = 0
    """Seeds the epochs' order and the sampling of each step."""
    checkpoint_every: int = 10
    """Steps between checkpoints (and after the last step), when the run has a folder."""

    def __post_init__(self) -> None:
        from streamsynth.config import check_bool, check_int

        for name in ("epochs", "prompts_per_step", "checkpoint_every"):
            check_int(name, getattr(self, name), 1)
        check_int("group_size", self.group_size, 2)
        check_int("seed", self.seed, 0)
        check_bool("scale_rewards", self.scale_rewards)


def epoch_batches(n_rows: int, epochs: int, per_step: int, seed: int) -> list[list[int]]:
    """Row indices of each step: every epoch is a fresh permutation of the ``n_rows`` rows (seeded by ``seed`` and
    the epoch); the epochs, one after the other, are cut into steps of ``per_step`` rows (the last may be short).

    >>> epoch_batches(3, 2, 2, seed=0)
    [[1, 2], [0, 1], [0, 2]]
    """
    order = [int(i) for e in range(epochs) for i in np.random.default_rng([seed, 17, e]).permutation(n_rows)]
    return [order[i:i + per_step] for i in range(0, len(order), per_step)]


CHECKPOINT_FORMAT = "streamsynth.hro/1"


class HRORun:
    """GRPO of ``policy`` over ``rows`` with ``reward``, resumable: with a ``folder`` it writes a checkpoint there
    every ``checkpoint_every`` steps (adapter, optimiser, the step reached and the step log, swapped in atomically),
    and a new run on the same folder with the same settings, rows and policy continues from it. The policy resumes
    exactly (each step's sampling is seeded by the step); a reward function with state of its own (the env's window
    of recent drafts, which a draft's realism is tested against) starts that state afresh.

    Args:
        policy: a :class:`~streamsynth.agents.synlearner.policy.LoRAPolicy`.
        rows: the prompt set, ``{"prompt": ..., **columns}`` each (e.g.
            :meth:`streamsynth.integrations.trl.StreamSynthReward.prompts`).
        reward: a reward function of TRL's signature.
        config: the data loop.
        folder: where checkpoints and ``steps.jsonl`` go (``None``: not resumable).
    """

    def __init__(self, policy: Any, rows: Sequence[Mapping[str, Any]], reward: RewardFunction,
                 config: HROConfig = HROConfig(), folder: Any = None) -> None:
        from pathlib import Path

        if not rows:
            raise ValueError("HRO needs at least one prompt row")
        self.policy, self.rows, self.reward, self.config = policy, list(rows), reward, config
        self.folder = None if folder is None else Path(folder)
        self.batches = epoch_batches(len(self.rows), config.epochs, config.prompts_per_step, config.seed)
        self.log: list[dict[str, Any]] = []

    @property
    def steps(self) -> int:
        return len(self.batches)

    def _header(self) -> dict[str, Any]:
        import hashlib
        import json

        rows = json.dumps(self.rows, sort_keys=True, default=str).encode()
        return {"format": CHECKPOINT_FORMAT, "config": asdict(self.config), "policy": self.policy.config.to_dict(),
                "rows": hashlib.sha256(rows).hexdigest()[:16], "n_rows": len(self.rows)}

    def run(self, on_step: Callable[[StepRecord], None] | None = None) -> list[dict[str, Any]]:
        """Take the remaining steps (all of them on a fresh folder); returns the step log."""
        start = self._resume()
        for step in range(start, self.steps):
            rows = [self.rows[i] for i in self.batches[step]]
            rec = grpo_step(self.policy, rows, self.reward, group_size=self.config.group_size,
                            seed=self.config.seed * 1_000_003 + step, step=step,
                            scale_rewards=self.config.scale_rewards)
            self.log.append(rec.to_dict())
            if self.folder is not None and ((step + 1) % self.config.checkpoint_every == 0 or step + 1 == self.steps):
                self._save(step + 1)
            if on_step is not None:
                on_step(rec)
        return self.log

    def _save(self, done: int) -> None:
        from streamsynth.agents.state import save_tensors
        from streamsynth.io import atomic_dir, write_json, write_jsonl

        with atomic_dir(self.folder / "checkpoint") as tmp:
            save_tensors(tmp / "adapter.safetensors", self.policy.adapter_state())
            meta, tensors = self.policy.optimizer_state()
            save_tensors(tmp / "optimizer.safetensors", tensors)
            write_json(tmp / "optimizer.json", meta)
            write_json(tmp / "state.json", {**self._header(), "steps_done": done, "log": self.log})
        write_jsonl(self.folder / "steps.jsonl", self.log)

    def _resume(self) -> int:
        """Load the folder's checkpoint, if any; the number of steps it had taken."""
        from streamsynth.agents.state import CheckpointError, load_tensors, read_json
        from streamsynth.io import complete_dir

        if self.folder is None:
            return 0
        found = complete_dir(self.folder / "checkpoint", "state.json")
        if found is None:
            return 0
        state = read_json(found / "state.json")
        header = self._header()
        diff = {k: (state.get(k), v) for k, v in header.items() if state.get(k) != v}
        if diff:
            raise CheckpointError(f"the HRO checkpoint in {found} was made with other settings, prompts or policy "
                                  f"({sorted(diff)} differ): resume with the run's own, or use another folder")
        try:
            done, log = int(state["steps_done"]), list(state["log"])
            self.policy.load_adapter_state(load_tensors(found / "adapter.safetensors"))
            self.policy.load_optimizer_state(read_json(found / "optimizer.json"),
                                             load_tensors(found / "optimizer.safetensors"))
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"the HRO checkpoint in {found} is broken ({exc}); delete it to start again") from exc
        if len(log) != done or done > self.steps:
            raise CheckpointError(f"the HRO checkpoint in {found} is inconsistent ({len(log)} log rows, {done} steps "
                                  f"of {self.steps}); delete it to start again")
        self.log = log
        return done
