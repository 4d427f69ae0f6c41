"""``streamsynth.integrations.trl``: a TRL reward function from a StreamSynth env's per-sample score.

The reward's figures on known samples (real text with its label above the same text mislabelled and above junk),
its exact rows against the env's own draft feedback, its errors, its prompts, and a tiny model trained two steps
through TRL's real ``GRPOTrainer`` on CPU.
"""

from __future__ import annotations

import numpy as np
import pytest

from streamsynth.integrations.trl import StreamSynthReward, completion_text
from streamsynth.tasks.splits import SplitSizes, split_samples
from tests.helpers.data import SMALL_SPLITS


@pytest.fixture(scope="module")
def reward_factory():
    made = {}

    def make(task, metric="score", embedder="hashing"):
        key = (task.name, metric, embedder)
        if key not in made:
            made[key] = StreamSynthReward(task, metric=metric, embedder=embedder, split_sizes=SMALL_SPLITS)
        return made[key]

    return make


def _held_out(task, n_per_label=20):
    """Real samples of the task that no env split holds (its test split)."""
    test = split_samples(task.source.load(), task, SplitSizes(**SMALL_SPLITS), seed=0).test
    out = []
    for label in task.label_names:
        out += [s for s in test if s["label"] == label][:n_per_label]
    return out


def test_real_text_with_its_label_scores_above_mislabelled_text_and_junk(reward_factory, movie_task):
    """With the packaged MiniLM embedder (the default): a judge on hashed words cannot read sentiment from 200
    snippets."""
    reward = reward_factory(movie_task, embedder="minilm")
    real = _held_out(movie_task)
    texts, labels = [s["text"] for s in real], [s["label"] for s in real]
    swapped = ["negative" if lbl == "positive" else "positive" for lbl in labels]
    rng = np.random.default_rng(0)
    junk = ["".join(rng.choice(list("qwxzjkvbp "), size=60)) for _ in texts]
    as_real = reward(completions=texts, label=labels)
    mislabelled = reward(completions=texts, label=swapped)
    as_junk = reward(completions=junk, label=labels)
    print(f"mean score: real {np.mean(as_real):.3f}, mislabelled {np.mean(mislabelled):.3f}, "
          f"junk {np.mean(as_junk):.3f}")
    assert np.mean(as_real) > np.mean(mislabelled) + 0.05
    assert np.mean(as_real) > np.mean(as_junk) + 0.05
    fidelity = reward_factory(movie_task, "fidelity", embedder="minilm")
    right, wrong = fidelity(completions=texts, label=labels), fidelity(completions=texts, label=swapped)
    # the judge's probabilities of the two labels of a 2-label task sum to 1, text by text
    assert np.allclose(np.add(right, wrong), 1.0)
    assert np.mean(right) > 0.55


def test_rewards_are_the_env_rows_of_the_completions_as_drafts(reward_factory, movie_task):
    reward = reward_factory(movie_task, "fidelity")
    text = "A warm, funny and beautifully acted film that earns every one of its tears."
    completions = [[{"role": "assistant", "content": text}],  # conversational, as TRL passes chat completions
                   text,                                          # the same text again: a duplicate in the call
                   "   ",                                         # does not parse into a sample
                   "Too short"]                                   # 9 characters, the task's minimum is 10
    logged = {}
    values = reward(prompts=["p"] * 4, completions=completions, label=["positive"] * 4,
                    log_metric=lambda name, value: logged.__setitem__(name, value), trainer_state=None)
    rows = reward.score_rows([text], ["positive"])
    assert values[0] == pytest.approx(rows[0]["fidelity"]) and 0 < values[0] < 1
    assert values[1:] == [0.0, 0.0, 0.0]
    assert reward.last_figures["passed"] == 0.25 and reward.last_figures["unparsed"] == 0.25
    assert reward.last_figures["rejected/duplicate_in_step"] == 0.25
    assert reward.last_figures["rejected/too_short"] == 0.25
    assert logged["streamsynth/passed"] == 0.25 and "streamsynth/score" in logged
    # drafts are never added: the same text scores the same in the next call
    assert reward(completions=[text], label=["positive"]) == [values[0]]
    assert reward.env.dataset == []


def test_score_is_the_env_score_and_zero_below_chance(reward_factory, movie_task):
    reward = reward_factory(movie_task, embedder="minilm")
    text = "A dull, clumsy and lifeless mess that wastes a fine cast."
    values = reward(completions=[text, text + " Avoid it."], label=["negative", "positive"])
    rows = reward.last_rows
    assert [r["draft"] for r in rows] == [True, True] and values == [rows[0]["score"], rows[1]["score"]]
    assert rows[0]["fidelity"] > 0.5 and values[0] > 0
    assert rows[1]["fidelity"] < 0.5 and values[1] == 0.0  # the judge reads it as the other label: no credit


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"completions": ["a text"]}, ValueError, "'label' column"),
    ({"completions": ["a text"], "label": ["positive", "negative"]}, ValueError, "1 completions but 2 labels"),
    ({"completions": ["a text"], "label": ["neutral"]}, ValueError, "not labels of task"),
    ({"completions": [42], "label": ["positive"]}, TypeError, "string or a list of chat messages"),
    ({"label": ["positive"]}, TypeError, "completions"),
])
def test_bad_calls_name_the_problem(reward_factory, movie_task, kwargs, error, match):
    with pytest.raises(error, match=match):
        reward_factory(movie_task)(**kwargs)


def test_bad_settings_name_the_problem(movie_task):
    with pytest.raises(ValueError, match="metric must be one of"):
        StreamSynthReward(movie_task, metric="accuracy", embedder="hashing")
    with pytest.raises(ValueError, match="feedback_budget"):
        StreamSynthReward(movie_task, embedder="hashing", feedback_budget=10)
    with pytest.raises(ValueError, match="unknown task|not a"):
        StreamSynthReward("no-such-task", embedder="hashing")


def test_prompts_take_turns_over_labels_and_are_seeded(reward_factory, movie_task):
    reward = reward_factory(movie_task)
    rows = reward.prompts(6, seed=3, n_examples=(2,))
    assert [r["label"] for r in rows] == ["positive", "negative"] * 3
    assert rows == reward.prompts(6, seed=3, n_examples=(2,)) and rows != reward.prompts(6, seed=4, n_examples=(2,))
    user = rows[0]["prompt"][1]["content"]
    assert rows[0]["prompt"][0]["role"] == "system" and "Examples:" in user and '"positive"' in user
    assert "genre:" in user  # one value of every attribute dimension of the task
    assert all(len(r["prompt"]) == 1 for r in reward.prompts(2, system=False))
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="n must be a positive int"):
            reward.prompts(bad)
    with pytest.raises(ValueError, match="n_examples"):
        reward.prompts(2, n_examples=())


def test_completion_text_formats():
    assert completion_text([{"role": "assistant", "content": "ok"}]) == "ok"
    with pytest.raises(TypeError):
        completion_text(None)


@pytest.mark.slow
def test_a_tiny_model_trains_two_steps_through_trl(tmp_path, one_torch_thread):
    """TRL's real GRPOTrainer, with its LoRA (peft), on the reward: two steps run, the reward's figures reach TRL's
    logs, and the adapter moves (the judge's fidelity of random text varies, so the groups carry a gradient)."""
    pytest.importorskip("trl")
    datasets = pytest.importorskip("datasets")
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from tests.helpers.tiny_model import save_tiny_model
    from tests.helpers.tiny_task import templated_task

    folder = save_tiny_model(tmp_path / "tiny", max_positions=2048)
    reward = StreamSynthReward(templated_task(), metric="fidelity", embedder="hashing",
                               split_sizes={"seed_per_label": 3, "judge": 160, "dev": 80, "test": 80})
    tokenizer = AutoTokenizer.from_pretrained(folder, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    args = GRPOConfig(output_dir=str(tmp_path / "out"), max_steps=2, per_device_train_batch_size=4,
                      num_generations=4, max_completion_length=24, learning_rate=0.05, beta=0.0, use_cpu=True,
                      bf16=False, logging_steps=1, report_to="none", save_strategy="no", disable_tqdm=True, seed=0)
    trainer = GRPOTrainer(model=model, reward_funcs=reward, args=args, processing_class=tokenizer,
                          train_dataset=datasets.Dataset.from_list(reward.prompts(8, seed=0)),
                          peft_config=LoraConfig(r=4, lora_alpha=8, target_modules="all-linear",
                                                 task_type="CAUSAL_LM"))
    before = {k: v.detach().clone() for k, v in trainer.model.named_parameters() if v.requires_grad}
    trainer.train()
    assert trainer.state.global_step == 2
    logs = [h for h in trainer.state.log_history if "reward" in h]
    assert len(logs) == 2
    assert all("rewards/streamsynth_fidelity/mean" in h and "streamsynth/passed" in h for h in logs)
    after = dict(trainer.model.named_parameters())
    assert any(not torch.equal(before[k], after[k].detach()) for k in before)
