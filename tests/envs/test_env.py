"""The StreamSynth-v0 contract: Gymnasium checks, determinism, stream order, rewards, rejections, vector envs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import streamsynth  # noqa: F401  (registers the env)
from streamsynth.envs.observation import FEEDBACK_KEYS
from streamsynth.errors import InvalidActionError, StreamExhaustedError, TaskError
from tests.helpers.data import held_out

# check_env (warnings as errors) runs on every registered id in tests/envs/test_registered.py


def test_registered_ids_make_the_env(movie_task):
    from streamsynth.envs.streamsynth_env import StreamSynthEnv
    from tests.helpers.data import SMALL_SPLITS

    assert gym.spec("StreamSynth-v0").kwargs["stream"] == "offline"
    for env_id in ("StreamSynth-v0", "streamsynth:StreamSynth-v0"):
        env = gym.make(env_id, stream=[movie_task], embedder="hashing", split_sizes=SMALL_SPLITS)
        assert isinstance(env.unwrapped, StreamSynthEnv)
        obs, _ = env.reset(seed=0)
        assert obs["task"] == "movie-mini"


def test_same_seed_same_actions_same_rewards(make_env):
    def trajectory():
        env = make_env()
        obs, _ = env.reset(seed=7)
        env.action_space.seed(7)  # Gymnasium convention: spaces are seeded on their own
        out = []
        for _ in range(2):
            action = held_out(env, 3) if not out else env.action_space.sample()
            obs, r, term, trunc, info = env.step(action)
            out.append((r, info["accepted"], obs["feedback"].tolist()))
        return out, env.action_space.sample()

    a, sample_a = trajectory()
    b, sample_b = trajectory()
    assert a == b
    assert sample_a == sample_b


def test_reset_walks_the_stream_and_raises_at_the_end(make_env):
    env = make_env()
    obs, info = env.reset(seed=0)
    assert obs["task"] == "movie-mini" and info["task_index"] == 0
    obs, _ = env.reset()
    assert obs["task"] == "question-mini" and obs["task_index"] == 1
    with pytest.raises(StreamExhaustedError, match="cycle=True"):
        env.reset()
    obs, _ = env.reset(options={"task": "movie-mini"})
    assert obs["task"] == "movie-mini"
    with pytest.raises(TaskError, match="not in this stream"):
        env.reset(options={"task": "nope"})
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"tsk": "movie-mini"})


def test_cycle_wraps_around(make_env):
    env = make_env(cycle=True)
    names = [env.reset(seed=0)[0]["task"]] + [env.reset()[0]["task"] for _ in range(2)]
    assert names == ["movie-mini", "question-mini", "movie-mini"]


def test_observation_holds_real_text(make_env):
    env = make_env()
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert obs["labels"] == ("positive", "negative")
    assert obs["label_mask"].tolist() == [1, 1, 0]  # padded to the stream's 3-label task
    assert len(obs["seed_examples"]) == 6 and all(" " in s["text"] for s in obs["seed_examples"])
    assert obs["attributes"][0] == {"name": "genre", "values": ("comedy", "drama")}
    assert obs["length"].tolist() == [10, 300]
    assert env.observation_space["instruction"].contains("Écris une critique — «très» bien ! 😊")
    assert obs["feedback"].shape == (len(FEEDBACK_KEYS),) and not obs["feedback"].any()


def test_good_data_earns_reward_and_return_equals_final_score(make_env):
    env = make_env()
    env.reset(seed=0)
    data = held_out(env, 8)
    total = 0.0
    _, r1, term, _, info = env.step(data[:4] + data[8:12])
    total += r1
    assert info["accepted"] == 8 and not term and r1 > 0
    _, r2, term, _, info = env.step(data[4:8] + data[12:16])
    total += r2
    assert term and info["target_reached"] and info["dataset_size"] == 16
    comp = info["components"]
    assert total == pytest.approx(comp["score"])
    for key in ("quality", "diversity", "utility", "completion", "semantic", "lexical", "novelty", "balance",
                "utility_gold", "utility_relative"):
        assert key in comp
    assert comp["completion"] == 1.0 and comp["balance"] == pytest.approx(1.0)
    assert 0 < comp["quality"] <= 1
    assert all(s["accepted"] and 0 <= s["fidelity"] <= 1 and 0 <= s["novelty"] <= 1 for s in info["samples"])


@pytest.mark.parametrize("embedder", ["hashing", "minilm"])
def test_judge_prefers_true_labels_to_flipped_ones(make_env, embedder):
    """Quality is the judge's probability of the intended label: real samples with their true labels must score
    higher than the same texts with flipped labels (with the real MiniLM judge, by a wide margin)."""
    env = make_env(embedder=embedder)
    env.reset(seed=0)
    data = held_out(env, 8)
    flip = {"positive": "negative", "negative": "positive"}
    _, _, _, _, true_info = env.step(data)
    env.reset(seed=0)
    _, _, _, _, flip_info = env.step([{"text": s["text"], "label": flip[s["label"]]} for s in data])
    q_true, q_flip = true_info["components"]["quality"], flip_info["components"]["quality"]
    f_true, f_flip = true_info["components"]["fidelity"], flip_info["components"]["fidelity"]
    assert q_true > q_flip and f_true > f_flip
    assert true_info["components"]["utility"] > flip_info["components"]["utility"]
    if embedder == "minilm":  # binary task: f_flip = 1 - f_true; MiniLM + 200 judge samples: ~0.55 vs ~0.45
        assert f_true > 0.52 and f_true + f_flip == pytest.approx(1.0)


def test_absolute_reward_mode_returns_the_score(make_env):
    env = make_env(reward_mode="absolute")
    env.reset(seed=0)
    _, r, *_, info = env.step(held_out(env, 2))
    assert r == pytest.approx(info["components"]["score"])


def test_each_bad_sample_is_rejected_with_its_reason(make_env):
    env = make_env(max_samples_per_step=12)
    obs, _ = env.reset(seed=0)
    good = held_out(env, 3)
    seed_copy = dict(obs["seed_examples"][0])
    action = [
        good[0],
        {"text": good[1]["text"], "label": "neutral"},
        {"text": "   ", "label": "positive"},
        {"text": "x" * 301, "label": "positive"},
        {"text": "short", "label": "positive"},
        {"label": "positive"},
        "just a string",
        {"text": seed_copy["text"].upper() + "!!", "label": seed_copy["label"]},
        dict(good[0]),
        {"text": 42, "label": "positive"},
        good[2],
        good[3],
        good[4],  # 13th item: over the per-step limit of 12
    ]
    _, _, _, _, info = env.step(action)
    codes = {r["index"]: r["code"] for r in info["rejected"]}
    assert codes == {1: "unknown_label", 2: "empty_field", 3: "too_long", 4: "too_short", 5: "missing_field",
                     6: "not_an_object", 7: "seed_copy", 8: "duplicate_in_step", 9: "not_a_string",
                     12: "over_step_limit"}
    assert {r["code"] for r in info["samples"] if r["accepted"]} == {None}
    reasons = {r["index"]: r["reason"] for r in info["rejected"]}
    assert reasons[1].startswith("unknown label 'neutral'")
    assert reasons[2] == "field 'text' is empty"
    assert reasons[3].startswith("field 'text' too long")
    assert reasons[4].startswith("field 'text' too short")
    assert reasons[5] == "missing field 'text'"
    assert reasons[6].startswith("not an object")
    assert reasons[7] == "copy of a seed example shown to the agent"
    assert reasons[8] == "duplicate of another sample of this step"
    assert reasons[9].startswith("field 'text' is not a string")
    assert reasons[12] == "over the per-step limit of 12 samples"
    assert sorted(set(range(13)) - set(reasons)) == [0, 10, 11]
    assert all(s["score"] == 0.0 for s in info["samples"] if not s["accepted"])
    # the same sample again next round is a duplicate of an accepted one
    _, r, _, _, info = env.step([good[0]])
    assert info["rejected"][0]["reason"] == "duplicate of an accepted sample"
    assert info["rejected"][0]["code"] == "duplicate"


def test_label_quota_and_near_duplicates(make_env):
    env = make_env(samples_per_label=2)
    env.reset(seed=0)
    pos = [s for s in held_out(env, 4) if s["label"] == "positive"]
    near = {"text": pos[0]["text"] + " ", "label": "positive"}  # same words: exact-key duplicate
    _, _, _, _, info = env.step(pos[:3] + [near])
    reasons = [r["reason"] for r in info["rejected"]]
    assert "label 'positive' already has its target of 2 samples" in reasons
    assert "duplicate of another sample of this step" in reasons
    assert sorted(r["code"] for r in info["rejected"]) == ["duplicate_in_step", "label_full"]


def test_jsonl_action_is_accepted(make_env):
    import json

    env = make_env()
    env.reset(seed=0)
    data = held_out(env, 2)
    text = "\n".join(json.dumps(s) for s in data) + "\n{broken"
    _, _, _, _, info = env.step(text)
    assert info["accepted"] == 4
    assert info["rejected"][0]["reason"].startswith("line 5: invalid JSON")
    assert info["rejected"][0]["code"] == "invalid_json"


@pytest.mark.parametrize("bad", [None, 3, {"text": "a", "label": "positive"}, np.zeros((2, 2)), object()])
def test_wrong_action_types_raise_and_change_nothing(make_env, bad):
    env = make_env()
    env.reset(seed=0)
    env.step(held_out(env, 1))
    before = (env.unwrapped.dataset, env.unwrapped._state.round, env.unwrapped._state.score)
    with pytest.raises(InvalidActionError):
        env.step(bad)
    assert (env.unwrapped.dataset, env.unwrapped._state.round, env.unwrapped._state.score) == before


def test_round_budget_terminates(make_env):
    env = make_env(max_rounds=2)
    env.reset(seed=0)
    assert env.step([])[2] is False
    _, r, terminated, truncated, info = env.step([])
    assert terminated and not truncated and r == 0.0 and info["dataset_size"] == 0
    with pytest.raises(RuntimeError, match="over; call reset"):
        env.step([])


def test_novelty_memory_carries_across_tasks(make_env, movie_task):
    env = make_env(tasks=[movie_task], cycle=True)
    env.reset(seed=0)
    data = held_out(env, 4)
    _, _, _, _, info = env.step(data)
    first = np.mean([s["novelty"] for s in info["samples"]])
    env.reset()  # same task again: the memory holds last episode's samples
    _, _, _, _, info = env.step(data)
    second = np.mean([s["novelty"] for s in info["samples"]])
    assert second < first - 0.2


def test_render_ansi(make_env):
    env = make_env(render_mode="ansi")
    env.reset(seed=0)
    env.step(held_out(env, 1))
    text = env.render()
    assert "movie-mini" in text and "positive" in text and "quality" in text


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_vector_envs_keep_text(movie_task, topic_task, mode):
    from tests.helpers.data import SMALL_SPLITS

    kwargs = dict(stream=[movie_task, topic_task], embedder="hashing", split_sizes=SMALL_SPLITS,
                  samples_per_label=4, max_rounds=2)
    vector_kwargs = {"shared_memory": False} if mode == "async" else {}
    envs = gym.make_vec("StreamSynth-v0", num_envs=2, vectorization_mode=mode, vector_kwargs=vector_kwargs, **kwargs)
    try:
        obs, info = envs.reset(seed=0)
        assert obs["task"] == ("movie-mini", "movie-mini")
        assert obs["instruction"][0] == "Write a one-sentence movie review snippet."
        actions = ([{"text": "A warm, funny and moving film, full of life.", "label": "positive"}],
                   [{"text": "Dull, slow, and far too long for its thin plot.", "label": "negative"}])
        obs, rewards, term, trunc, info = envs.step(actions)
        assert rewards.shape == (2,) and np.all(rewards > 0)
        assert obs["counts"].shape == (2, 3)
    finally:
        envs.close()


@pytest.mark.parametrize("bad", [0, 0.0, -0.5, 1.5, True, "0.6"])
def test_near_copy_overlap_must_be_in_0_1(make_env, bad):
    with pytest.raises(ValueError, match=r"near_copy_overlap must be a number in \(0, 1\]"):
        make_env(near_copy_overlap=bad)


def test_edited_seed_copies_are_rejected_with_their_overlap_and_realism_is_reported(make_env):
    """An edited copy of a seed example (prefix + suffix) is rejected as a near-copy, naming the overlap; accepted
    samples carry their realism in [0, 1] and their score uses it; rejected ones carry none."""
    env = make_env()
    obs, _ = env.reset(seed=0)
    seed = dict(obs["seed_examples"][0])
    edited = {**seed, "text": "Honestly, " + seed["text"] + " Really."}
    data = held_out(env, 3) + [edited]
    _, _, _, _, info = env.step(data)
    row = info["samples"][-1]
    assert not row["accepted"] and row["code"] == "seed_edited_copy"
    assert row["reason"].startswith("near-copy of a seed example shown to the agent")
    assert "word 3-gram overlap 1.00" in row["reason"] and row["realism"] is None and row["score"] == 0.0
    accepted = [r for r in info["samples"] if r["accepted"]]
    assert len(accepted) == 6
    assert all(0.0 <= r["realism"] <= 1.0 for r in accepted)
    assert info["components"]["realism"] == pytest.approx(np.mean([r["realism"] for r in accepted]))
    # the threshold decides: a half-copy is accepted just above its overlap and rejected at it
    from streamsynth.rewards.validity import max_ngram_overlap, word_shingles

    words = seed["text"].split()
    half = " ".join(words[: max(3, len(words) // 2)]) + " and then something else entirely happened to the plot"
    overlap = max_ngram_overlap(half, [word_shingles(s["text"]) for s in obs["seed_examples"]])
    assert 0 < overlap < 1
    for threshold, accepted in ((min(1.0, overlap + 0.01), True), (overlap, False)):
        other = make_env(near_copy_overlap=threshold)
        other.reset(seed=0)
        _, _, _, _, info2 = other.step([{**seed, "text": half}])
        assert info2["samples"][0]["accepted"] is accepted, (threshold, info2["samples"][0]["reason"])
