"""scripts/hro_experiment.py on the tiny model: a seed trains, resumes, is judged against the base policy on held-out
prompts (env figures, students, features, transfer), and the summary pairs them; its pure helpers exactly."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from tests.helpers import load_script

SPLITS = {"seed_per_label": 3, "judge": 160, "dev": 80, "test": 80}


def _script():
    return load_script("hro_experiment")


def test_a_seed_trains_and_is_judged_against_the_base_policy(tmp_path, one_torch_thread):
    from streamsynth.generation.transformers_backend import TransformersBackend
    from tests.helpers.tiny_model import save_tiny_model
    from tests.helpers.tiny_task import templated_task

    script = _script()
    folder = save_tiny_model(tmp_path / "tiny", max_positions=2048)
    task = templated_task()
    other = dataclasses.replace(templated_task(), name="sport-or-food-again")
    s = {**script.SETTINGS, "model": str(folder), "prompts": 4, "epochs": 2, "group_size": 2, "prompts_per_step": 2,
         "max_new_tokens": 12, "eval_per_label": 6, "small_per_label": 3, "transfer_per_label": 3,
         "students": ["linear"], "embedder": "hashing", "lr": 0.05}
    logs = []
    result = script.run_seed(task, 0, s, tmp_path / "seed-0", transfer=other, env_kwargs={"split_sizes": SPLITS},
                             backend=TransformersBackend(str(folder), device="cpu", batch_size=16), log=logs.append)
    assert result["train"]["steps"] == 4 and result["train"]["completions"] == 16
    assert (tmp_path / "seed-0" / "train" / "steps.jsonl").exists()
    for name in ("base", "trained"):
        assert set(result[name]["env"]) == {"score", "passed", "fidelity", "realism", "novelty"}
        assert set(result[name]["students"]) == {"3", "6"} and result[name]["features"]["truncated"] >= 0
        assert result[f"transfer_{name}"]["task"] == "sport-or-food-again"
    saved = json.loads((tmp_path / "seed-0" / "eval.json").read_text())
    assert saved["seed"] == 0 and saved["base"]["env"] == result["base"]["env"]
    assert len(saved["base"]["scores"]) == len(saved["trained"]["scores"]) == 12  # 6 held-out prompts x 2 labels
    assert np.mean(saved["base"]["scores"]) == pytest.approx(saved["base"]["env"]["score"])
    assert any("trained: env score" in line for line in logs)
    with_control = script.add_controls(task, saved, s, tmp_path / "seed-0", [20], env_kwargs={"split_sizes": SPLITS},
                                       backend=TransformersBackend(str(folder), device="cpu", batch_size=16),
                                       log=logs.append)
    saved = json.loads((tmp_path / "seed-0" / "eval.json").read_text())
    assert saved == with_control and set(saved["base_20"]["students"]) == {"3", "6"}
    assert any("base at 20 tokens" in line for line in logs)
    assert script.add_controls(task, saved, s, tmp_path / "seed-0", [20]) is saved  # nothing missing: no work
    table = script.summarise([saved])
    assert ("| env score |" in table and "test_accuracy at 3/label" in table
            and "transfer to sport-or-food-again" in table and "paired by held-out prompt, per seed: seed 0:" in table
            and "against the base model at 20 tokens" in table and "| env score | " in table.split("20 tokens")[1])


def test_held_out_prompts_avoid_the_training_prompts():
    from streamsynth.integrations.trl import StreamSynthReward
    from tests.helpers.tiny_task import templated_task

    script = _script()
    reward = StreamSynthReward(templated_task(), embedder="hashing", split_sizes=SPLITS)
    training = reward.prompts(20, seed=0, n_examples=(0, 1, 2))
    rows = script.held_out(reward, 5, seed=0, n_examples=[0, 1, 2], training=training)
    seen = {json.dumps(r["prompt"], sort_keys=True) for r in training}
    assert len(rows) == 10 and not any(json.dumps(r["prompt"], sort_keys=True) in seen for r in rows)
    assert sorted(r["label"] for r in rows) == ["food"] * 5 + ["sport"] * 5
    with pytest.raises(RuntimeError, match="held-out prompts"):  # 2 tones x 2 labels: nothing is left
        script.held_out(reward, 5, seed=0, n_examples=[0], training=reward.prompts(200, seed=1, n_examples=(0,)))


def test_env_figures_count_rejections_as_zero():
    script = _script()
    rows = [{"code": None, "score": 0.5, "fidelity": 0.9, "realism": 1.0, "novelty": 0.4},
            {"code": "too_short", "score": 0.0}, None]
    assert script.env_figures(rows) == {"score": 0.5 / 3, "passed": 1 / 3, "fidelity": 0.9, "realism": 1.0,
                                        "novelty": 0.4}


def test_the_scripts_doctests_pass():
    """``scripts/`` is outside pytest's doctest collection: the pure helpers' examples run here."""
    import doctest

    outcome = doctest.testmod(_script(), optionflags=doctest.NORMALIZE_WHITESPACE)
    # first_per_label, text_features, paired_by_prompt
    assert outcome.attempted >= 3 and outcome.failed == 0
