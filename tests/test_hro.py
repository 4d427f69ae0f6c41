"""``streamsynth.agents.synlearner.hro.grpo_step``: GRPO on a prompt set with a TRL-style reward function.

On the tiny Llama: the step's figures, the columns a reward receives, what a step without signal does (nothing),
errors, and the probe of known learnability in small: a reward for short completions rises within 30 steps,
against a control at a learning rate of ~0.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from streamsynth.agents.synlearner.config import SynLearnerConfig
from streamsynth.agents.synlearner.hro import StepRecord, grpo_step
from streamsynth.agents.synlearner.policy import LoRAPolicy
from streamsynth.generation.transformers_backend import TransformersBackend

ROWS = [{"prompt": [{"role": "user", "content": f"Write sentence {i}."}], "label": f"l{i}"} for i in range(4)]


def _policy(model_dir, lr=0.05, **changes):
    config = SynLearnerConfig(**{"max_new_tokens": 12, "temperature": 1.0, "top_p": 1.0, "lr": lr, "lora_rank": 4,
                                 "lora_targets": ("all-linear",), "kl_coef": 0.0, "loss_type": "dapo",
                                 "group_size": 4, "train_batch_size": 16, **changes})
    return LoRAPolicy(TransformersBackend(str(model_dir), device="cpu", batch_size=16), config, seed=0)


def shortness(completion_ids, **_):
    """1 for a completion that ends at once, 0 for one that runs to the 12-token budget."""
    return [1.0 - (len(ids) - 1) / 11 for ids in completion_ids]


def test_a_step_passes_trl_style_arguments_and_reports_its_figures(tiny_model_dir, one_torch_thread):
    policy = _policy(tiny_model_dir)
    seen = {}

    def reward(prompts, completions, completion_ids, label, **kwargs):
        seen.update(prompts=prompts, completions=completions, completion_ids=completion_ids, label=label,
                    extra=kwargs)
        return [float(len(c[0]["content"])) for c in completions]

    rec = grpo_step(policy, ROWS[:2], reward, group_size=4, seed=0, step=7)
    assert isinstance(rec, StepRecord) and rec.step == 7 and rec.prompts == 2 and rec.completions == 8
    assert seen["prompts"] == [ROWS[0]["prompt"]] * 4 + [ROWS[1]["prompt"]] * 4
    assert seen["label"] == ["l0"] * 4 + ["l1"] * 4 and seen["extra"] == {}
    assert all(c[0]["role"] == "assistant" for c in seen["completions"])  # chat prompts: chat completions
    lengths = [float(len(c[0]["content"])) for c in seen["completions"]]
    assert rec.reward_mean == pytest.approx(np.mean(lengths), rel=1e-6)
    assert rec.completion_tokens == pytest.approx(np.mean([len(i) for i in seen["completion_ids"]]))
    assert rec.loss is not None and np.isfinite(rec.loss) and rec.kl == 0.0 and rec.clip_fraction == 0.0
    assert set(rec.seconds) == {"sample", "score", "update", "total"}
    assert rec.seconds["total"] >= rec.seconds["sample"] + rec.seconds["update"]
    assert policy.updates == 1 and rec.to_dict()["prompts"] == 2


def test_groups_without_spread_carry_no_gradient_and_leave_the_adapter(tiny_model_dir, one_torch_thread):
    policy = _policy(tiny_model_dir)
    before = policy.adapter_state()
    rec = grpo_step(policy, ROWS, lambda completions, **_: [0.5] * len(completions), group_size=4, seed=0)
    assert rec.frac_reward_zero_std == 1.0 and rec.reward_std == 0.0
    after = policy.adapter_state()
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize(("values", "match"), [([1.0] * 3, "returned 3 values for 4"),
                                               ([1.0, float("nan"), 0.0, 0.0], "finite")])
def test_a_reward_of_the_wrong_shape_is_an_error(tiny_model_dir, values, match):
    policy = _policy(tiny_model_dir)
    with pytest.raises(ValueError, match=match):
        grpo_step(policy, ROWS[:1], lambda **_: values, group_size=4, seed=0)
    with pytest.raises(ValueError, match="at least one prompt row"):
        grpo_step(policy, [], lambda **_: [], group_size=4, seed=0)


def _curve(model_dir, lr: float, steps: int = 30) -> np.ndarray:
    policy = _policy(model_dir, lr=lr)
    return np.array([grpo_step(policy, [ROWS[s % len(ROWS)]], shortness, group_size=8, seed=s, step=s).reward_mean
                     for s in range(steps)])


def test_an_easy_reward_rises_against_a_control(tiny_model_dir, one_torch_thread):
    """The probe ladder in small (``benchmarks/bench_grpo_probe.py`` runs it on SmolLM2 beside TRL)."""
    learned, control = _curve(tiny_model_dir, 0.05), _curve(tiny_model_dir, 1e-7)
    assert learned[0] == control[0]  # the same first step: same prompts and draws, no update yet
    print(f"shortness, first -> last 10 steps: learned {learned[:10].mean():.3f} -> {learned[-10:].mean():.3f}, "
          f"control {control[:10].mean():.3f} -> {control[-10:].mean():.3f}")
    assert learned[-10:].mean() > learned[:10].mean() + 0.15
    assert learned[-10:].mean() > control[-10:].mean() + 0.15
