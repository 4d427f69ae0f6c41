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


def characters(completions, **_):
    """The completion's length in characters (the random tiny model runs to its token budget, with varied text)."""
    return [float(len(c[0]["content"])) for c in completions]


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


# --- the data loop and its checkpoints -----------------------------------------------------------------------------


def test_epoch_batches_visit_every_row_once_per_epoch():
    from streamsynth.agents.synlearner.hro import epoch_batches

    batches = epoch_batches(10, 3, 4, seed=5)
    flat = [i for b in batches for i in b]
    assert [len(b) for b in batches] == [4] * 7 + [2]
    assert all(sorted(flat[e * 10:(e + 1) * 10]) == list(range(10)) for e in range(3))
    assert flat[:10] != flat[10:20] and batches == epoch_batches(10, 3, 4, seed=5) != epoch_batches(10, 3, 4, seed=6)


def _run(model_dir, folder, stop_after=None, **changes):
    from streamsynth.agents.synlearner.hro import HROConfig, HRORun

    config = HROConfig(**{"epochs": 2, "prompts_per_step": 2, "group_size": 4, "checkpoint_every": 2, **changes})
    run = HRORun(_policy(model_dir), ROWS, characters, config, folder)

    def stop(rec):
        if stop_after is not None and rec.step + 1 == stop_after:
            raise KeyboardInterrupt

    try:
        run.run(on_step=stop)
    except KeyboardInterrupt:
        pass
    return run


def test_an_interrupted_run_resumes_exactly(tiny_model_dir, tmp_path, one_torch_thread):
    from streamsynth.io import read_jsonl

    whole = _run(tiny_model_dir, tmp_path / "whole")
    assert whole.steps == 4 and len(whole.log) == 4
    _run(tiny_model_dir, tmp_path / "cut", stop_after=3)  # killed after step 3: the checkpoint holds 2
    assert len(read_jsonl(tmp_path / "cut" / "steps.jsonl")) == 2
    resumed = _run(tiny_model_dir, tmp_path / "cut")
    assert [r["reward_mean"] for r in resumed.log] == [r["reward_mean"] for r in whole.log]
    assert whole.log[-1]["reward_mean"] != whole.log[0]["reward_mean"] and whole.log[0]["grad_norm"] > 0
    a, b = whole.policy.adapter_state(), resumed.policy.adapter_state()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.policy.updates == whole.policy.updates == 4  # the optimiser's step count went on

    def figures(rows):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]

    assert (figures(read_jsonl(tmp_path / "cut" / "steps.jsonl"))
            == figures(read_jsonl(tmp_path / "whole" / "steps.jsonl")))
    again = _run(tiny_model_dir, tmp_path / "whole")  # nothing left to do
    assert again.log == whole.log and again.policy.updates == 4  # restored, no step taken


def test_a_checkpoint_of_other_settings_is_refused(tiny_model_dir, tmp_path, one_torch_thread):
    from streamsynth.agents.state import CheckpointError

    _run(tiny_model_dir, tmp_path / "run", stop_after=2)
    with pytest.raises(CheckpointError, match="other settings.*prompts_per_step|config"):
        _run(tiny_model_dir, tmp_path / "run", prompts_per_step=1)
    (tmp_path / "run" / "checkpoint" / "state.json").write_text("{broken")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        _run(tiny_model_dir, tmp_path / "run")


@pytest.mark.parametrize(("changes", "match"), [({"epochs": 0}, "epochs"), ({"group_size": 1}, "group_size"),
                                                ({"prompts_per_step": 1.5}, "prompts_per_step")])
def test_bad_hro_settings_name_the_problem(changes, match):
    from streamsynth.agents.synlearner.hro import HROConfig

    with pytest.raises(ValueError, match=match):
        HROConfig(**changes)
