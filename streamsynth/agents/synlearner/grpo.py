"""GRPO pieces on tensors: group-relative advantages, per-token log-probabilities, clipped surrogate, KL.

The loss is written out here (a few lines) instead of subclassing TRL's ``GRPOTrainer``: the env's rounds are the
GRPO steps (generate -> ``env.step`` -> update), which does not fit a trainer that owns the data loop. The formulas
follow TRL 1.x (``GRPOTrainer``): advantages ``(r - mean_g) / (std_g + 1e-4)`` with the unbiased group std,
ratio ``exp(logp - logp_old)`` clipped to ``[1 - eps, 1 + eps]``, KL to the reference by the ``k3`` estimator
``exp(ref - logp) - (ref - logp) - 1``, multiplied by the ratio as TRL does by default (``use_bias_correction_kl``);
``loss_type`` "grpo" / "dapo" normalise as TRL's (for "dapo": one micro-batch, one process).
``tests/agents/synlearner/test_grpo.py`` checks them against TRL's own code when TRL is installed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

LOSS_TYPES = ("grpo", "dapo")


def group_advantages(rewards: torch.Tensor, group_size: int, *, scale: bool = True, eps: float = 1e-4) -> torch.Tensor:
    """Group-relative advantages of a flat reward vector made of consecutive groups of ``group_size``.

    ``A_i = (r_i - mean(group)) / (std(group) + eps)`` (unbiased std; ``scale=False`` keeps only the centering;
    a group whose ``std + eps`` is 0 gets 0).

    >>> group_advantages(torch.tensor([1.0, 3.0, 5.0, 5.0]), 2, eps=0.0).tolist()
    [-0.7071067690849304, 0.7071067690849304, 0.0, 0.0]
    """
    if rewards.ndim != 1:
        raise ValueError(f"rewards must be a flat vector, got shape {tuple(rewards.shape)}")
    if group_size < 2 or rewards.numel() % group_size:
        raise ValueError(f"{rewards.numel()} rewards cannot be split into groups of {group_size} (need >= 2 per group)")
    grouped = rewards.reshape(-1, group_size).to(torch.float32)
    centered = grouped - grouped.mean(dim=1, keepdim=True)
    if scale:
        denom = grouped.std(dim=1, keepdim=True) + eps
        # a zero-std group has nothing to prefer: 0, also with eps=0 (0 / 0 would be nan)
        centered = torch.where(denom > 0, centered / denom, torch.zeros_like(centered))
    return centered.reshape(-1)


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Log-probability of each token under ``logits`` (``[B, T, V]`` predicting ``tokens`` ``[B, T]``)."""
    return torch.gather(torch.log_softmax(logits.float(), dim=-1), 2, tokens.unsqueeze(-1)).squeeze(-1)


def k3_kl(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token KL(policy || reference) estimate ``exp(ref - logp) - (ref - logp) - 1`` (>= 0, 0 when equal)."""
    delta = ref_logp - logp
    return torch.exp(delta) - delta - 1.0


@dataclass
class LossOutput:
    loss: torch.Tensor
    kl: float
    clip_fraction: float
    ratio_mean: float


def clipped_loss(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor, *,
                 clip_eps: float = 0.2, ref_logp: torch.Tensor | None = None, kl_coef: float = 0.0,
                 loss_type: str = "grpo", kl_bias_correction: bool = True) -> LossOutput:
    """The GRPO objective to minimise.

    ``logp``, ``old_logp``, ``ref_logp``, ``mask``: ``[B, T]`` over completion tokens (``mask`` 1 on real tokens);
    ``advantages``: ``[B]``. Per token ``-min(ratio * A, clip(ratio) * A) + kl_coef * KL``. ``loss_type="grpo"``
    averages tokens within each sequence, then sequences; ``"dapo"`` averages over all tokens of the batch.
    ``kl_bias_correction`` (TRL's ``use_bias_correction_kl``, default on there too) multiplies the per-token KL by the
    ratio, which leaves its value unchanged on-policy but changes its gradient; ``LossOutput.kl`` is the masked mean of
    the per-token KL as it enters the loss (what TRL logs as ``kl``). The gradient flows to ``logp`` only:
    ``old_logp``, ``ref_logp`` and ``advantages`` are detached (passing ``old_logp=logp`` on-policy is safe).
    """
    if loss_type not in LOSS_TYPES:
        raise ValueError(f"loss_type must be one of {LOSS_TYPES}, got {loss_type!r}")
    if (logp.shape != old_logp.shape or logp.shape != mask.shape or advantages.shape != logp.shape[:1]
            or (ref_logp is not None and ref_logp.shape != logp.shape)):
        raise ValueError(f"shape mismatch: logp {tuple(logp.shape)}, old {tuple(old_logp.shape)}, "
                         f"mask {tuple(mask.shape)}, advantages {tuple(advantages.shape)}"
                         + ("" if ref_logp is None else f", ref {tuple(ref_logp.shape)}"))
    mask = mask.to(logp.dtype)
    old_logp, advantages = old_logp.detach(), advantages.detach()
    ratio = torch.exp(logp - old_logp)
    adv = advantages.to(logp.dtype).unsqueeze(1)
    clipped = torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps)
    per_token = -torch.min(ratio * adv, clipped * adv)
    kl = torch.zeros_like(logp)
    if kl_coef:
        if ref_logp is None:
            raise ValueError("kl_coef > 0 needs ref_logp")
        kl = k3_kl(logp, ref_logp.detach())
        if kl_bias_correction:
            kl = kl * ratio
        per_token = per_token + kl_coef * kl
    tokens = mask.sum().clamp(min=1.0)
    if loss_type == "grpo":
        loss = ((per_token * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)).mean()
    else:
        loss = (per_token * mask).sum() / tokens
    with torch.no_grad():
        is_clipped = ((ratio < 1 - clip_eps) & (adv < 0)) | ((ratio > 1 + clip_eps) & (adv > 0))
        return LossOutput(loss, float((kl * mask).sum() / tokens),
                          float((is_clipped.to(mask.dtype) * mask).sum() / tokens),
                          float((ratio * mask).sum() / tokens))
