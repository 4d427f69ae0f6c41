"""Exact tests of the GRPO pieces (``streamsynth.agents.synlearner.grpo``) on small hand-made tensors.

The first part checks values computed by hand. The second part (skipped without TRL) runs TRL's own code on the same
tensors: the loss through the real ``GRPOTrainer._compute_loss`` on a trainer object built with ``object.__new__``
(only the attributes that method reads are set, and ``_get_per_token_logps_and_entropies`` returns given log-probs
instead of running a model); the advantages by executing the reward-normalisation statements of
``GRPOTrainer._generate_and_score_completions`` (TRL has no standalone function for them), cut out of TRL's installed
source; the token log-probs against ``trl.trainer.utils.selective_log_softmax``.
"""

from __future__ import annotations

import inspect
import math
import textwrap
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

from streamsynth.agents.synlearner.grpo import LossOutput, clipped_loss, group_advantages, k3_kl, token_logprobs

TOL = 1e-6
LN2 = math.log(2.0)


def close(actual, expected, tol=TOL):
    actual = torch.as_tensor(actual, dtype=torch.float64)
    expected = torch.as_tensor(expected, dtype=torch.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert torch.allclose(actual, expected, rtol=0.0, atol=tol), (actual.tolist(), expected.tolist())


# --- group_advantages ---------------------------------------------------------------------------------------------


def test_advantages_hand_values_with_default_eps():
    # group [1, 2, 3]: mean 2, unbiased std 1 -> (-1, 0, 1) / (1 + 1e-4); group [5, 5, 5]: std 0 -> all 0
    adv = group_advantages(torch.tensor([1.0, 2.0, 3.0, 5.0, 5.0, 5.0]), 3)
    d = 1.0 / 1.0001
    close(adv, [-d, 0.0, d, 0.0, 0.0, 0.0])
    assert adv.dtype == torch.float32


def test_advantages_unbiased_std_not_population_std():
    # [0, 4]: mean 2, unbiased std sqrt(8) (population std would be 2 and give +-1)
    close(group_advantages(torch.tensor([0.0, 4.0]), 2, eps=0.0), [-1 / math.sqrt(2), 1 / math.sqrt(2)])


def test_advantages_zero_std_group_gives_zero():
    close(group_advantages(torch.tensor([7.0, 7.0, 7.0, 7.0]), 4), [0.0] * 4)
    close(group_advantages(torch.tensor([7.0, 7.0, 7.0, 7.0]), 2, scale=False), [0.0] * 4)
    # eps=0: 0 / 0 must still give 0, not nan, while the other group is scaled
    close(group_advantages(torch.tensor([1.0, 3.0, 5.0, 5.0]), 2, eps=0.0),
          [-1 / math.sqrt(2), 1 / math.sqrt(2), 0.0, 0.0])


def test_advantages_scale_false_only_centers():
    close(group_advantages(torch.tensor([0.0, 4.0, 10.0, 20.0]), 2, scale=False), [-2.0, 2.0, -5.0, 5.0])
    close(group_advantages(torch.tensor([1.0, 2.0, 6.0]), 3, scale=False), [-2.0, -1.0, 3.0])


def test_advantages_accept_integer_and_non_contiguous_rewards():
    close(group_advantages(torch.tensor([0, 4]), 2, eps=0.0), [-1 / math.sqrt(2), 1 / math.sqrt(2)])
    strided = torch.tensor([0.0, 99.0, 4.0, 99.0])[::2]
    assert not strided.is_contiguous()
    close(group_advantages(strided, 2, eps=0.0), [-1 / math.sqrt(2), 1 / math.sqrt(2)])


@pytest.mark.parametrize(("rewards", "group_size"), [
    (torch.zeros(2, 2), 2),   # not flat
    (torch.zeros(4), 1),      # one per group: no std
    (torch.zeros(4), 0),
    (torch.zeros(5), 2),      # does not split
    (torch.zeros(4), 8),
])
def test_advantages_bad_shapes_raise(rewards, group_size):
    with pytest.raises(ValueError):
        group_advantages(rewards, group_size)


# --- token_logprobs -----------------------------------------------------------------------------------------------


def test_token_logprobs_hand_values():
    logits = torch.tensor([
        [[0.0, 0.0, LN2], [math.log(3.0), 0.0, 0.0]],           # softmax [1/4, 1/4, 1/2], [3/5, 1/5, 1/5]
        [[5.0, 5.0, 5.0], [0.0, math.log(4.0), math.log(3.0)]],  # softmax [1/3] * 3, [1/8, 4/8, 3/8]
    ])
    tokens = torch.tensor([[2, 1], [0, 2]])
    lp = token_logprobs(logits, tokens)
    close(lp, [[math.log(0.5), math.log(0.2)], [math.log(1 / 3), math.log(3 / 8)]])
    assert lp.shape == (2, 2) and lp.dtype == torch.float32


def test_token_logprobs_half_precision_logits_give_float32():
    logits = torch.tensor([[[0.0, 0.0, LN2]]], dtype=torch.bfloat16)
    lp = token_logprobs(logits, torch.tensor([[0]]))
    assert lp.dtype == torch.float32
    close(lp, [[math.log(0.25)]], tol=1e-3)


# --- k3_kl --------------------------------------------------------------------------------------------------------


def test_k3_zero_when_equal():
    x = torch.tensor([[-0.3, -2.0, -5.0]])
    close(k3_kl(x, x.clone()), [[0.0, 0.0, 0.0]])


def test_k3_positive_otherwise():
    g = torch.Generator().manual_seed(0)
    logp, ref = -torch.rand(4, 5, generator=g) * 3, -torch.rand(4, 5, generator=g) * 3
    kl = k3_kl(logp, ref)
    assert bool((kl > 0).all())


def test_k3_hand_value_and_asymmetry():
    # ref - logp = -ln 2: exp(-ln 2) + ln 2 - 1 = ln 2 - 1/2; the other way round: 2 - ln 2 - 1 = 1 - ln 2
    close(k3_kl(torch.tensor([0.0]), torch.tensor([-LN2])), [LN2 - 0.5])
    close(k3_kl(torch.tensor([-LN2]), torch.tensor([0.0])), [1.0 - LN2])


# --- clipped_loss -------------------------------------------------------------------------------------------------


def test_loss_at_ratio_one_is_minus_mean_advantage():
    logp = torch.tensor([[-1.0, -2.0], [-0.5, -3.0]], requires_grad=True)
    out = clipped_loss(logp, logp.detach().clone(), torch.tensor([1.0, -2.0]), torch.ones(2, 2))
    assert isinstance(out, LossOutput)
    close(out.loss.detach(), 0.5)
    assert out.clip_fraction == 0.0 and out.ratio_mean == pytest.approx(1.0) and out.kl == 0.0
    out.loss.backward()
    # d/dlogp of -ratio * A / (T * B) at ratio 1: -A / 4
    close(logp.grad, [[-0.25, -0.25], [0.5, 0.5]])


def _clip_case():
    # eps 0.2. seq 0 (A=+1): ratio 1.5 is clipped to 1.2 -> -1.2; ratio 0.5 is not (min picks 0.5) -> -0.5.
    # seq 1 (A=-1): ratio 0.5 is clipped to 0.8 -> +0.8; ratio 1.5 is not (min picks -1.5) -> +1.5.
    logp = torch.log(torch.tensor([[1.5, 0.5], [0.5, 1.5]])).requires_grad_(True)
    return logp, torch.zeros(2, 2), torch.tensor([1.0, -1.0]), torch.ones(2, 2)


@pytest.mark.parametrize("loss_type", ["grpo", "dapo"])
def test_loss_with_active_clipping_exact(loss_type):
    logp, old, adv, mask = _clip_case()
    out = clipped_loss(logp, old, adv, mask, clip_eps=0.2, loss_type=loss_type)
    close(out.loss.detach(), ((-1.2 - 0.5) / 2 + (0.8 + 1.5) / 2) / 2)   # 0.15 (equal lengths: same for both)
    assert out.clip_fraction == pytest.approx(0.5)
    assert out.ratio_mean == pytest.approx(1.0)
    out.loss.backward()
    # clipped tokens get no gradient; unclipped ones -ratio * A / 4
    close(logp.grad, [[0.0, -0.125], [0.0, 0.375]])


def test_loss_clip_eps_changes_value():
    logp, old, adv, mask = _clip_case()
    out = clipped_loss(logp, old, adv, mask, clip_eps=0.1)
    close(out.loss.detach(), ((-1.1 - 0.5) / 2 + (0.9 + 1.5) / 2) / 2)


def _unequal_case(pad_logp=0.0, pad_old=0.0, pad_ref=0.0):
    # seq 0 has 3 real tokens, seq 1 has 1 (then 2 pads); ratio 1 everywhere on real tokens
    logp = torch.tensor([[-1.0, -2.0, -0.5], [-0.7, pad_logp, pad_logp]])
    old = torch.tensor([[-1.0, -2.0, -0.5], [-0.7, pad_old, pad_old]])
    ref = torch.tensor([[-1.0 - LN2, -2.0, -0.5], [-0.7 - LN2, pad_ref, pad_ref]])
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    return logp.requires_grad_(True), old, ref, torch.tensor([1.0, -2.0]), mask


@pytest.mark.parametrize("loss_type", ["grpo", "dapo"])
def test_padded_tokens_do_not_change_loss_or_get_gradient(loss_type):
    outs = []
    for pads in [(0.0, 0.0, 0.0), (3.0, -4.0, 7.0), (-9.0, 1.0, -2.0)]:
        logp, old, ref, adv, mask = _unequal_case(*pads)
        out = clipped_loss(logp, old, adv, mask, ref_logp=ref, kl_coef=0.1, loss_type=loss_type)
        out.loss.backward()
        close(logp.grad[1, 1:], [0.0, 0.0])
        outs.append(out)
    for out in outs[1:]:
        close(out.loss.detach(), outs[0].loss.detach())
        assert out.kl == pytest.approx(outs[0].kl) and out.ratio_mean == pytest.approx(outs[0].ratio_mean)
        assert out.clip_fraction == outs[0].clip_fraction


def test_grpo_and_dapo_normalise_differently():
    # per token -A (ratio 1): seq 0 three tokens of -1, seq 1 one token of +2
    logp, old, _, adv, mask = _unequal_case()
    grpo = clipped_loss(logp, old, adv, mask, loss_type="grpo")
    dapo = clipped_loss(logp, old, adv, mask, loss_type="dapo")
    close(grpo.loss.detach(), (-1.0 + 2.0) / 2)          # mean over sequences of per-sequence token means: 0.5
    close(dapo.loss.detach(), (-3.0 + 2.0) / 4)          # mean over the 4 real tokens: -0.25
    grpo.loss.backward()
    close(logp.grad, [[-1 / 6, -1 / 6, -1 / 6], [1.0, 0.0, 0.0]])  # -A / (len_i * B)
    logp.grad = None
    dapo.loss.backward()
    close(logp.grad, [[-0.25, -0.25, -0.25], [0.5, 0.0, 0.0]])     # -A / n_tokens


def test_kl_term_exact_and_bias_correction_gradient():
    # one token, on-policy, A = 0: the loss is kl_coef * k3 with k3 = ln 2 - 1/2
    for correction, grad in [(True, 0.1 * LN2), (False, 0.1 * 0.5)]:
        logp = torch.tensor([[0.0]], requires_grad=True)
        out = clipped_loss(logp, logp.detach(), torch.tensor([0.0]), torch.ones(1, 1), ref_logp=torch.tensor([[-LN2]]),
                           kl_coef=0.1, kl_bias_correction=correction)
        close(out.loss.detach(), 0.1 * (LN2 - 0.5))
        assert out.kl == pytest.approx(LN2 - 0.5)
        out.loss.backward()
        # d k3 / d logp = 1 - exp(ref - logp) = 1/2; the correction adds k3 * d ratio / d logp = ln 2 - 1/2
        close(logp.grad, [[grad]])


def test_kl_bias_correction_off_policy_value():
    # ratio 1.5, ref - logp = -ln 2: corrected KL 1.5 * (ln 2 - 1/2), uncorrected ln 2 - 1/2
    logp = torch.tensor([[math.log(1.5)]])
    ref = logp - LN2
    for correction, kl in [(True, 1.5 * (LN2 - 0.5)), (False, LN2 - 0.5)]:
        out = clipped_loss(logp, torch.zeros(1, 1), torch.tensor([0.0]), torch.ones(1, 1), ref_logp=ref, kl_coef=0.1,
                           kl_bias_correction=correction)
        close(out.loss, 0.1 * kl)
        assert out.kl == pytest.approx(kl)


def test_kl_coef_zero_ignores_ref():
    logp, old, adv, mask = _clip_case()
    a = clipped_loss(logp, old, adv, mask)
    b = clipped_loss(logp, old, adv, mask, ref_logp=torch.full((2, 2), -9.0), kl_coef=0.0)
    close(a.loss.detach(), b.loss.detach())
    assert b.kl == 0.0


def test_kl_coef_without_ref_raises():
    logp, old, adv, mask = _clip_case()
    with pytest.raises(ValueError, match="ref_logp"):
        clipped_loss(logp, old, adv, mask, kl_coef=0.1)


def test_bad_loss_type_and_shapes_raise():
    logp, old, adv, mask = _clip_case()
    with pytest.raises(ValueError, match="loss_type"):
        clipped_loss(logp, old, adv, mask, loss_type="bnpo")
    with pytest.raises(ValueError, match="shape"):
        clipped_loss(logp, old[:, :1], adv, mask)
    with pytest.raises(ValueError, match="shape"):
        clipped_loss(logp, old, adv[:1], mask)
    with pytest.raises(ValueError, match="shape"):
        clipped_loss(logp, old, adv, mask[:1])
    with pytest.raises(ValueError, match="shape"):
        clipped_loss(logp, old, adv, mask, ref_logp=torch.zeros(2, 1), kl_coef=0.1)


def test_gradient_flows_to_logp_only():
    logp, _, _, mask = _clip_case()
    old = torch.zeros(2, 2, requires_grad=True)
    adv = torch.tensor([1.0, -1.0], requires_grad=True)
    ref = torch.full((2, 2), -0.5, requires_grad=True)
    out = clipped_loss(logp, old, adv, mask, ref_logp=ref, kl_coef=0.1)
    out.loss.backward()
    assert old.grad is None and adv.grad is None and ref.grad is None
    assert logp.grad is not None and bool((logp.grad != 0).any())


def test_on_policy_with_old_logp_same_tensor_still_has_gradient():
    # passing old_logp=logp (not detached) must not cancel the gradient: the old log-probs are constants
    logp = torch.tensor([[-1.0, -2.0]], requires_grad=True)
    out = clipped_loss(logp, logp, torch.tensor([2.0]), torch.ones(1, 2))
    out.loss.backward()
    close(logp.grad, [[-1.0, -1.0]])


# --- cross-check against TRL's own code ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trl_grpo():
    pytest.importorskip("trl")
    from trl.trainer import grpo_trainer

    return grpo_trainer


def _trl_advantages(grpo_trainer, rewards: torch.Tensor, num_generations: int, scale_rewards: str) -> torch.Tensor:
    """Run TRL's own advantage statements (from ``unscorable_mask = ...`` to ``nan_to_num``) on one reward function."""
    src = inspect.getsource(grpo_trainer.GRPOTrainer._generate_and_score_completions)
    first, last = ("unscorable_mask = torch.isnan(rewards_per_func)",
                   "advantages = torch.nan_to_num(advantages, nan=0.0)")
    if first not in src or last not in src:
        pytest.fail("TRL's advantage block changed shape: update _trl_advantages to the installed TRL")
    start = src.rindex("\n", 0, src.index(first)) + 1
    end = src.index(last) + len(last)
    namespace = dict(vars(grpo_trainer))
    namespace.update(
        rewards_per_func=rewards.to(torch.float32).unsqueeze(1), num_generations=num_generations, device="cpu",
        self=SimpleNamespace(multi_objective_aggregation="sum_then_normalize", reward_weights=torch.ones(1),
                             scale_rewards=scale_rewards),
    )
    exec(textwrap.dedent(src[start:end]), namespace)  # noqa: S102 - TRL's installed source, not user input
    return namespace["advantages"]


@pytest.mark.parametrize(("rewards", "group_size"), [
    ([1.0, 2.0, 3.0, 5.0, 5.0, 5.0], 3),
    ([0.0, 4.0, 0.3, 0.1, -2.0, 7.5, 1.0, 1.0], 2),
    ([0.2, 0.9, 0.4, 0.4, 0.0, 1.0, 0.0, 1.0], 4),
])
@pytest.mark.parametrize("scale", [True, False])
def test_advantages_match_trl(trl_grpo, rewards, group_size, scale):
    rewards = torch.tensor(rewards)
    ours = group_advantages(rewards, group_size, scale=scale)
    theirs = _trl_advantages(trl_grpo, rewards, group_size, "group" if scale else "none")
    close(ours, theirs)


def test_token_logprobs_match_trl(trl_grpo):
    from trl.trainer.utils import selective_log_softmax

    g = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 5, 11, generator=g) * 4
    tokens = torch.randint(0, 11, (3, 5), generator=g)
    close(token_logprobs(logits, tokens), selective_log_softmax(logits, tokens), tol=1e-5)  # float32, |logp| ~ 20


def _trl_loss(grpo_trainer, logp, old, ref, adv, mask, *, loss_type, beta, eps, bias_correction):
    """TRL's ``GRPOTrainer._compute_loss`` on given per-token log-probs: one process, one micro-batch, no
    accumulation."""
    trainer = object.__new__(grpo_trainer.GRPOTrainer)
    batch, length = logp.shape
    trainer.__dict__.update(
        loss_type=loss_type, beta=beta, epsilon_low=eps, epsilon_high=eps, importance_sampling_level="token",
        top_entropy_quantile=1.0, off_policy_mask_threshold=None, use_vllm=False,
        vllm_importance_sampling_correction=False, aux_loss_enabled=False, _entropy_bonus_enabled=False,
        current_gradient_accumulation_steps=1, model=SimpleNamespace(training=True),
        args=SimpleNamespace(use_bias_correction_kl=bias_correction, delta=None, steps_per_generation=1),
        accelerator=SimpleNamespace(num_processes=1, reduce=lambda t, reduction="sum": t, gather=lambda t: t),
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
    )
    trainer._get_per_token_logps_and_entropies = lambda *args, **kwargs: (logp, torch.zeros_like(logp), None)
    inputs = {
        "prompt_ids": torch.zeros(batch, 1, dtype=torch.long), "prompt_mask": torch.ones(batch, 1, dtype=torch.long),
        "completion_ids": torch.zeros(batch, length, dtype=torch.long), "completion_mask": mask,
        "advantages": adv, "old_per_token_logps": old, "ref_per_token_logps": ref,
        "num_items_in_batch": mask.sum(),
    }
    loss = trainer._compute_loss(None, inputs)
    return loss, trainer._metrics["train"]


def _random_case(seed):
    g = torch.Generator().manual_seed(seed)
    batch, length = 6, 7
    old = -torch.rand(batch, length, generator=g) * 3
    logp = (old + torch.randn(batch, length, generator=g) * 0.4).requires_grad_(True)   # ratios ~ e^{+-0.4}
    ref = old + torch.randn(batch, length, generator=g) * 0.3
    adv = group_advantages(torch.rand(batch, generator=g), 3)
    lengths = torch.tensor([7, 2, 5, 1, 4, 6])
    mask = (torch.arange(length).unsqueeze(0) < lengths.unsqueeze(1)).long()
    return logp, old, ref, adv, mask


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("bias_correction", [True, False])
@pytest.mark.parametrize("beta", [0.0, 0.04])
@pytest.mark.parametrize(("ours_type", "trl_type"), [("grpo", "grpo"), ("dapo", "dapo"), ("dapo", "bnpo")])
def test_loss_matches_trl(trl_grpo, seed, bias_correction, beta, ours_type, trl_type):
    eps = 0.2
    logp, old, ref, adv, mask = _random_case(seed)
    ours = clipped_loss(logp, old, adv, mask, clip_eps=eps, ref_logp=ref, kl_coef=beta, loss_type=ours_type,
                        kl_bias_correction=bias_correction)
    # the case must exercise both clipping directions on real tokens
    ratio, a = torch.exp(logp.detach() - old), adv.unsqueeze(1)
    real = mask.bool()
    assert bool((((ratio > 1 + eps) & (a > 0)) & real).any()) and bool((((ratio < 1 - eps) & (a < 0)) & real).any())

    (our_grad,) = torch.autograd.grad(ours.loss, logp)
    theirs, metrics = _trl_loss(trl_grpo, logp, old, ref, adv, mask, loss_type=trl_type, beta=beta, eps=eps,
                                bias_correction=bias_correction)
    (their_grad,) = torch.autograd.grad(theirs, logp)
    close(ours.loss.detach(), theirs.detach())
    close(our_grad, their_grad)
    assert ours.clip_fraction == pytest.approx(metrics["clip_ratio/region_mean"][0], abs=TOL)
    if beta:
        assert ours.kl == pytest.approx(metrics["kl"][0], abs=TOL)
    if ours_type != trl_type or ours_type == "grpo":
        return
    # TRL's "dapo" and ours must differ from "grpo" on these unequal lengths (the test would not tell them apart else)
    grpo = clipped_loss(logp, old, adv, mask, clip_eps=eps, ref_logp=ref, kl_coef=beta, loss_type="grpo",
                        kl_bias_correction=bias_correction)
    assert abs(grpo.loss.item() - theirs.item()) > 1e-3
