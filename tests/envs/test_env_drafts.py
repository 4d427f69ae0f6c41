"""Drafts and the per-task feedback budget of StreamSynth-v0 (issue 12, part 1)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import streamsynth  # noqa: F401  (registers the env)
from streamsynth.envs.feedback import SampleFeedback
from tests.helpers.data import held_out


def drafts(samples):
    return [{**s, "draft": True} for s in samples]


def without_drafts(info):
    """A step's info without the keys that differ only because the items were drafts."""
    skip = {"drafts", "feedback_used", "feedback_left", "draft_only"}
    out = {k: v for k, v in info.items() if k not in skip}
    out["samples"] = [{k: v for k, v in r.items() if k not in ("draft", "accepted")} for r in info["samples"]]
    out["rejected"] = [{k: v for k, v in r.items() if k != "draft"} for r in info["rejected"]]
    return out


def test_drafts_are_scored_like_submissions_and_not_added(make_env):
    env, twin = make_env(), make_env()
    obs, _ = env.reset(seed=0)
    twin.reset(seed=0)
    data = held_out(env, 3)
    memory_before = env.unwrapped._memory.state_dict()
    assert env.action_space.contains(drafts(data))  # a draft action is an action of the space
    obs, reward, term, trunc, info = env.step(drafts(data))
    assert (reward, term, trunc, info["draft_only"]) == (0.0, False, False, True)
    assert obs["round"] == 0 and env.unwrapped.dataset == [] and obs["counts"].sum() == 0
    assert info["drafts"] == info["feedback_used"] == len(data)
    assert obs["feedback_left"] == info["feedback_left"] == 8 * 8 * 2 - len(data)  # default: 8 x target size
    assert all(r["draft"] and not r["accepted"] for r in info["samples"])
    assert all(set(r) == set(SampleFeedback.__annotations__) for r in info["samples"])  # figures only, no test data
    mem = env.unwrapped._memory.state_dict()
    assert all(np.array_equal(np.asarray(mem[k]), np.asarray(memory_before[k])) for k in mem)
    # the same samples submitted for real get exactly the figures their drafts got
    _, real_reward, _, _, real_info = twin.step(data)
    assert real_reward > 0 and real_info["accepted"] == len(data)
    assert [r["score"] for r in info["samples"]] == [r["score"] for r in real_info["samples"]]
    keys = ("fidelity", "novelty", "realism", "utility_gain", "code")
    figures = [[tuple(r[k] for k in keys) for r in i["samples"]] for i in (info, real_info)]
    assert figures[0] == figures[1]


def test_every_passed_sample_gets_its_own_utility_credit(make_env):
    """``utility_gain`` (issue 12, 2b): each passed sample's own credit, measured with the student trained on the
    set as it was before the step (drafts and submissions alike); rejected samples get none."""
    env = make_env(samples_per_label=16)
    env.reset(seed=0)
    real = held_out(env, 12)
    pos, neg = real[:12], real[12:]
    env.step(pos[:4] + neg[:4])
    u = env.unwrapped
    scorer, before = u._context(0).scorer, u._state.parts[0]
    rest = pos[4:] + neg[4:]
    _, _, _, _, info = env.step(drafts(rest) + [{"text": "x", "label": "positive", "draft": True}])
    rows = info["samples"]
    assert rows[-1]["code"] == "too_short" and rows[-1]["utility_gain"] is None
    gains = [r["utility_gain"] for r in rows[:-1]]
    np.testing.assert_allclose(gains, scorer.utility_gains(before, scorer.encode(rest)), rtol=1e-12)
    assert len(set(np.round(gains, 12))) == len(gains)  # it varies with the sample, unlike the set utility
    _, _, _, _, info = env.step(rest[:2])  # submitted: the same credit as their drafts got
    assert [r["utility_gain"] for r in info["samples"]] == gains[:2]


def test_a_mixed_step_uses_a_round_and_only_adds_the_submissions(make_env):
    env, twin = make_env(), make_env()
    env.reset(seed=0)
    twin.reset(seed=0)
    data = held_out(env, 6)
    submit, draft = data[::2], data[1::2]
    _, reward, _, _, info = env.step(submit + drafts(draft))
    _, twin_reward, _, _, twin_info = twin.step(submit)
    assert reward == twin_reward and info["round"] == 1 and not info["draft_only"]
    assert env.unwrapped.dataset == twin.unwrapped.dataset and info["components"] == twin_info["components"]
    assert info["accepted"] == len(submit) and info["drafts"] == len(draft)
    assert [r["draft"] for r in info["samples"]] == [False] * len(submit) + [True] * len(draft)


def test_draft_screening_duplicates_labels_and_flags(make_env):
    env = make_env(samples_per_label=2)
    env.reset(seed=0)
    real = held_out(env, 4)
    pos = [s for s in real if s["label"] == "positive"]
    env.step(pos[:2])  # positive is full
    neg = [s for s in real if s["label"] == "negative"]
    action = drafts([pos[0], pos[2], neg[0], neg[0], neg[1], neg[2]]) + [{**neg[3], "draft": "yes"}]
    _, _, _, _, info = env.step(action)
    codes = [r["code"] for r in info["samples"]]
    # a draft of an accepted sample is a duplicate, of a full label label_full, a repeated draft a duplicate in
    # the step; three different negative drafts all pass although the label's target is 2 (drafts fill nothing)
    assert codes == ["duplicate", "label_full", None, "duplicate_in_step", None, None, "invalid_draft"]
    assert not info["draft_only"] and info["round"] == 2  # the invalid flag made that item a submission
    assert info["rejected"][-1]["draft"] is False and info["drafts"] == 6


def test_feedback_budget_is_enforced_and_rejection_changes_nothing(make_env):
    env = make_env(feedback_budget=3)
    obs, _ = env.reset(seed=0)
    assert obs["feedback_left"] == 3 and env.observation_space.contains(obs)
    data = held_out(env, 3)
    obs, reward, _, _, info = env.step(drafts(data[:5]))
    assert info["feedback_used"] == 3 and obs["feedback_left"] == 0 and reward == 0.0
    assert [r["code"] for r in info["samples"]][3:] == ["over_feedback_budget"] * 2
    state = env.unwrapped.state_dict()
    obs, reward, term, _, info = env.step(drafts(data[:1]))
    assert info["rejected"][0]["code"] == "over_feedback_budget" and info["feedback_used"] == 0
    assert (reward, term, obs["round"]) == (0.0, False, 0)
    after = env.unwrapped.state_dict()
    assert after["task"]["drafts_used"] == state["task"]["drafts_used"] == 3 and after["task"]["samples"] == []
    env.reset()  # the next task has its own budget
    assert env.unwrapped.current_observation()["feedback_left"] == 3
    none = make_env(feedback_budget=0)
    none.reset(seed=0)
    _, _, _, _, info = none.step(drafts(data[:2]))
    assert [r["code"] for r in info["samples"]] == ["over_feedback_budget"] * 2
    with pytest.raises(ValueError, match="feedback_budget must be an int >= 0"):
        make_env(feedback_budget=-1)


def test_drafts_beyond_the_step_limit_use_no_budget(make_env):
    env = make_env(max_samples_per_step=2)
    env.reset(seed=0)
    _, _, _, _, info = env.step(drafts(held_out(env, 2)))
    assert [r["code"] for r in info["samples"]] == [None, None, "over_step_limit", "over_step_limit"]
    assert info["feedback_used"] == 2


def test_resume_with_drafts_is_exact(make_env, tmp_path):
    env = make_env()
    env.reset(seed=0)
    data = held_out(env, 5)
    env.step(drafts(data[:4]))
    env.step(data[:4])
    env.unwrapped.save_state(tmp_path / "env")
    other = make_env()
    other.unwrapped.load_state(tmp_path / "env")
    assert (other.unwrapped.current_observation()["feedback_left"]
            == env.unwrapped.current_observation()["feedback_left"])
    for action in (drafts(data[4:8]), data[4:8] + drafts(data[8:])):
        a, b = env.step(action), other.step(action)
        assert (a[1:4] == b[1:4] and a[4]["samples"] == b[4]["samples"]
                and a[4]["feedback_left"] == b[4]["feedback_left"])


def test_check_env_and_determinism_with_drafts(make_env):
    import warnings

    from gymnasium.utils.env_checker import check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(make_env(cycle=True), skip_render_check=True)

    def run():
        env = make_env()
        env.reset(seed=3)
        data = held_out(env, 4)
        return [without_drafts(env.step(a)[4]) for a in (drafts(data[:4]), data[4:], drafts(data[:4]))]

    assert run() == run()


def test_vector_env_steps_drafts(movie_task):
    from tests.helpers.data import SMALL_SPLITS

    envs = gym.make_vec("StreamSynth-v0", num_envs=2, vectorization_mode="sync", stream=[movie_task],
                        embedder="hashing", split_sizes=SMALL_SPLITS, samples_per_label=4, max_rounds=2)
    try:
        obs, _ = envs.reset(seed=0)
        good = {"text": "A warm, funny and moving film, full of life.", "label": "positive"}
        obs, rewards, term, _, info = envs.step(([{**good, "draft": True}], [good]))
        assert rewards[0] == 0.0 and rewards[1] > 0 and obs["round"].tolist() == [0, 1]
        assert obs["feedback_left"].tolist() == [63, 64]
    finally:
        envs.close()


def test_runner_reports_budgets_and_keeps_drafts_out_of_submissions(make_env):
    """A drafts-only step is not a round; drafts count as feedback used, not as submitted samples, and their
    rejections stay out of ``rejected_reasons``; completions are counted from the agent's backend per task."""
    from streamsynth.agents.base import Agent
    from streamsynth.evaluation.runner import run_stream

    class DraftThenSubmit(Agent):
        name = "draft-then-submit"

        def __init__(self, env):
            super().__init__()
            self.env, self.calls = env, 0

        def generation_usage(self) -> dict[str, int]:  # as if every act had 5 completions generated
            return {"completions": 5 * self.calls, "prompt_tokens": 0, "completion_tokens": 0}

        def propose(self, observation):
            self.calls += 1
            data = held_out(self.env, 8)
            if observation["feedback_left"] == self.env.unwrapped._budget(self.env.unwrapped._state):
                return drafts(data[:6]) + drafts(data[:1])  # one draft repeated: duplicate_in_step
            return data[:4] + data[:1]  # one submission repeated: duplicate_in_step

    env = make_env(max_rounds=1)
    results = run_stream(env, DraftThenSubmit(env), seed=0)
    for r in results:
        assert (r.steps, r.rounds, r.drafts, r.submitted, r.accepted) == (2, 1, 7, 5, 4)
        assert r.rejected_reasons == {"duplicate_in_step": 1} and r.completions == 10
        assert r.row()["drafts"] == 7 and r.row()["completions"] == 10
        assert (r.row()["steps"], r.row()["rejected"]) == (2, 1)


def _bags(labels, n, seed=0):
    """Recognisably synthetic samples: keyword bags (no stop words, no punctuation), all different."""
    rng = np.random.default_rng(seed)
    words = "stellar dreadful plot actor score visuals pacing script ending cast scene sequel villain".split()
    return [{"text": " ".join(rng.choice(words, size=6, replace=False)) + f" {i}", "label": labels[i % len(labels)]}
            for i in range(n)]


def test_draft_realism_counts_what_the_task_has_seen(make_env, tmp_path):
    """A draft's realism does not hinge on how many drafts share its step: the task's accepted samples and most
    recent drafts (16 here, the target size) train the two-sample classifier too (4 bags alone cannot teach it
    what synthetic text looks like)."""
    env, fresh = make_env(), make_env()
    obs, _ = env.reset(seed=0)
    fresh.reset(seed=0)
    bags = _bags(list(obs["labels"]), 40)
    first = env.step(drafts(bags[:24]))[4]
    assert all(r["code"] is None for r in first["samples"])
    env.unwrapped.save_state(tmp_path / "env")
    seen = [r["realism"] for r in env.step(drafts(bags[24:28]))[4]["samples"]]
    alone = [r["realism"] for r in fresh.step(drafts(bags[24:28]))[4]["samples"]]
    # measured: 0.06 with the last 16 of the 24 bags seen before, 0.79 alone, 0.12 for the 24 themselves
    assert np.mean(seen) < np.mean(alone) - 0.2
    assert np.mean(seen) <= np.mean([r["realism"] for r in first["samples"]]) + 0.1
    resumed = make_env()
    resumed.unwrapped.load_state(tmp_path / "env")  # the drafted context is part of the state
    assert [r["realism"] for r in resumed.step(drafts(bags[24:28]))[4]["samples"]] == seen
    # submitted samples keep the set's own test: their figures do not depend on the drafts before them
    submitted = env.step(bags[28:32])[4]["samples"]
    twin = make_env()
    twin.reset(seed=0)
    assert [r["realism"] for r in twin.step(bags[28:32])[4]["samples"]] == [r["realism"] for r in submitted]


def test_the_realism_window_keeps_the_most_recent_drafts_and_no_copy_of_what_is_scored(make_env):
    from streamsynth.envs.state import EnvStateError
    from streamsynth.envs.streamsynth_env import realism_context

    env = make_env()  # target size 16 (8 per label, 2 labels)
    obs, _ = env.reset(seed=0)
    bags = _bags(list(obs["labels"]), 40, seed=1)
    env.step(drafts(bags[:12]))
    env.step(bags[30:34] + drafts(bags[12:22]))  # a mixed step: its drafts join the window, its submissions do not
    st = env.unwrapped._state
    assert [t for p in st.drafted for t in p.texts] == [b["text"] for b in bags[6:22]]  # the last 16 drafts
    assert len(st.parts[0]) == 4
    context = realism_context([*st.parts, *st.drafted, *st.drafted], [bags[20]["text"], "not seen"])
    assert context.texts == [b["text"] for b in bags[30:34] + bags[6:20] + bags[21:22]]  # each once, none scored
    assert realism_context([], ["x"]) is None
    again = make_env()  # the same drafts drafted twice: the second time they are not tested against themselves
    again.reset(seed=0)
    twice = [[r["realism"] for r in again.step(drafts(bags[:4]))[4]["samples"]] for _ in range(2)]
    assert twice[0] == twice[1]
    state = env.unwrapped.state_dict()
    for broken in (np.array(["a"] * 16), np.full(16, 0.5), np.full(16, 7)):
        bad = {**state, "task": {**state["task"], "drafted": {**state["task"]["drafted"], "labels": broken}}}
        with pytest.raises(EnvStateError, match="task.drafted does not fit its labels"):
            make_env().unwrapped.load_state_dict(bad)


def test_drafts_in_jsonl_text_are_drafts(make_env):
    """``"draft": true`` works in a JSONL action as in a list (the env docstring says so)."""
    import json

    env = make_env()
    env.reset(seed=0)
    data = held_out(env, 2)
    text = "\n".join(json.dumps({**s, "draft": i % 2 == 0}) for i, s in enumerate(data))
    _, reward, _, _, info = env.step(text)
    n_drafts = sum(i % 2 == 0 for i in range(len(data)))
    assert info["drafts"] == n_drafts and info["accepted"] == len(data) - n_drafts
    assert [r["draft"] for r in info["samples"]] == [i % 2 == 0 for i in range(len(data))]
    assert len(env.unwrapped.dataset) == len(data) - n_drafts and reward > 0
