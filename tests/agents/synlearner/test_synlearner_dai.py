"""SynLearner's DAI round through the feedback budget (issue 12): the candidate pool goes to the env as drafts,
the pick is made from what the env passed on the env's quality, the feedback steps leave the pool its share of the
budget, and a checkpoint between the drafts and the pick resumes to the same pick."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
import torch

import streamsynth.agents.synlearner.agent as agent_module
from streamsynth.agents.llm import request_labels
from streamsynth.agents.synlearner.agent import SynLearnerAgent
from streamsynth.agents.synlearner.checkpoint import CheckpointError
from streamsynth.agents.synlearner.config import SynLearnerConfig
from streamsynth.evaluation.runner import run_stream
from streamsynth.rewards.blend import above_chance
from tests.helpers.synlearner import tiny_agent


def _step(env, agent, observation):
    action = agent.act(observation)
    observation, reward, terminated, truncated, info = env.step(action)
    agent.observe(observation, reward, terminated, truncated, info)
    return action, observation, reward, info


def _pool_size(agent, observation) -> int:
    return len(agent._dai_pool_labels(request_labels(observation, agent.config)))


@pytest.mark.parametrize("select_gate", [False, True])
def test_the_pool_is_drafted_and_the_pick_is_made_from_what_the_env_passed(model_dir, make_env, monkeypatch,
                                                                          select_gate):
    env = make_env(samples_per_label=4, max_rounds=2)
    agent = tiny_agent(model_dir, env, select_gate=select_gate, dai_select="mmr")  # the pick on the reward's quality
    qualities, gates = [], []
    real_select = agent_module.greedy_select

    def spy(quality, *args, **kwargs):
        qualities.append(np.array(quality))
        gates.append(kwargs["gate"])
        return real_select(quality, *args, **kwargs)

    monkeypatch.setattr(agent_module, "greedy_select", spy)
    obs, _ = env.reset(seed=0)
    real_sample = agent._sample

    def with_a_copy(observation, rows, seed):  # one candidate copies a seed example: the env rejects it
        rows = real_sample(observation, rows, seed)
        field = observation["fields"][0]
        rows[0]["sample"] = {**rows[0]["sample"], field: observation["seed_examples"][0][field]}
        return rows

    monkeypatch.setattr(agent, "_sample", with_a_copy)
    drafts, obs, reward, info = _step(env, agent, obs)
    assert drafts and all(s["draft"] for s in drafts) and info["draft_only"] and reward == 0.0
    assert len(env.unwrapped.dataset) == 0 and obs["round"] == 0 and not qualities  # nothing added, no pick yet
    rows = info["samples"]
    passed = [r for r in rows if r["code"] is None]
    assert passed and len(passed) < len(rows)  # the env passed some and rejected others: the pick must tell them apart
    assert agent.log[-1]["phase"] == "dai-draft" and agent.log[-1]["drafts"] == len(drafts) == len(rows)
    assert agent.log[-1]["passed"] == len(passed) and "draft_reward" not in agent.log[-1]

    submitted, obs, reward, info = _step(env, agent, obs)
    assert submitted and not any(s.get("draft") for s in submitted) and obs["round"] == 1
    field = obs["fields"][0]
    # only what the env passed, unchanged
    assert {s[field] for s in submitted} <= {drafts[r["index"]][field] for r in passed}
    n = len(obs["labels"])  # the env's quality: fidelity above chance x realism
    np.testing.assert_allclose(qualities[0], [above_chance(r["fidelity"], n) * r["realism"] for r in passed])
    assert gates == [select_gate]  # the pick counts novelty as the setting says
    assert qualities[0].max() > 0  # (not all at chance: the check compares figures, not zeros)
    entry = agent.log[-1]
    assert (entry["phase"], entry["scored_by"], entry["completions"]) == ("dai", "env", len(submitted))
    assert agent.pool is None


def test_feedback_steps_leave_the_pool_its_share_of_the_budget(model_dir, make_env):
    probe = make_env(samples_per_label=4, max_rounds=2)
    pool = _pool_size(tiny_agent(model_dir, probe), probe.reset(seed=0)[0])
    env = make_env(samples_per_label=4, max_rounds=2, feedback_budget=pool + 2 * 2 + 1)
    agent = tiny_agent(model_dir, env, feedback_steps=10, feedback_prompts=1, group_size=2)
    first = run_stream(env, agent, seed=0)[0]  # (the pool is the first task's)
    phases = [e["phase"] for e in agent.log if e["task"] == first.task]
    # two steps of 2 drafts fit beside the pool, a third would not, and none come later
    assert phases[:4] == ["feedback", "feedback", "dai-draft", "dai"] and "feedback" not in phases[4:]
    assert first.drafts == 2 * 2 + agent.log[2]["drafts"] <= pool + 2 * 2 + 1


def test_without_budget_for_the_pool_the_pick_uses_the_seed_examples(model_dir, make_env):
    for budget, changes in [(1, {}), (1000, {"dai_drafts": False})]:  # (the pool holds more than one candidate)
        env = make_env(samples_per_label=4, max_rounds=1, feedback_budget=budget)
        agent = tiny_agent(model_dir, env, **changes)
        results = run_stream(env, agent, seed=0)
        assert all(r.drafts == 0 for r in results)
        assert [e["phase"] for e in agent.log] == ["dai"] * len(results)
        assert all(e["scored_by"] == "seed examples" for e in agent.log)
    for name in ("dai_drafts", "label_gate", "select_gate", "group_drafts"):
        with pytest.raises(ValueError, match=f"{name} must be true or false"):
            SynLearnerConfig(**{name: "yes"})


def test_dai_select_score_submits_the_best_of_each_label_by_the_env_score(model_dir, make_env, monkeypatch):
    env = make_env(samples_per_label=4, max_rounds=2)
    agent = tiny_agent(model_dir, env, dai_select="score")
    monkeypatch.setattr(agent_module, "greedy_select", None)  # the score pick has no novelty term
    obs, _ = env.reset(seed=0)
    drafts, obs, _, info = _step(env, agent, obs)
    rows = info["samples"]
    want = Counter(request_labels(obs, agent.config))
    field = obs["fields"][0]
    best = {lbl: sorted((-r["score"], r["index"]) for r in rows if r["code"] is None
                        and drafts[r["index"]]["label"] == lbl)[:n] for lbl, n in want.items()}
    expected = sorted(drafts[i][field] for picks in best.values() for _, i in picks)
    assert len(set(r["score"] for r in rows if r["code"] is None)) > 1  # (scores that order the pool)
    submitted, obs, _, _ = _step(env, agent, obs)
    assert sorted(s[field] for s in submitted) == expected
    assert agent.log[-1]["scored_by"] == "env"
    with pytest.raises(ValueError, match=r"dai_select must be one of \['mmr', 'score'\]"):
        SynLearnerConfig(dai_select="best")


@pytest.mark.parametrize("dai_select", ["mmr", "score"])
def test_a_checkpoint_between_the_drafts_and_the_pick_resumes_to_the_same_pick(model_dir, make_env, tmp_path,
                                                                               dai_select):
    env = make_env(samples_per_label=4, max_rounds=2)
    agent = tiny_agent(model_dir, env, dai_select=dai_select)
    obs, _ = env.reset(seed=0)
    _, obs, _, _ = _step(env, agent, obs)
    assert agent.pool is not None
    agent.save_state(tmp_path / "agent")
    resumed = tiny_agent(model_dir, env, dai_select=dai_select)
    resumed.load_state(tmp_path / "agent")
    assert resumed.pool is not None and len(resumed.pool["rows"]) == len(agent.pool["rows"])
    assert resumed.act(obs) == agent.act(obs)
    if dai_select == "score":  # a pool saved before the env's scores were kept cannot be picked on them
        data = json.loads((tmp_path / "agent" / "agent.json").read_text())
        rows = [{k: v for k, v in r.items() if k != "score"} for r in data["pool"]["rows"]]
        (tmp_path / "agent" / "agent.json").write_text(json.dumps({**data, "pool": {**data["pool"], "rows": rows}}))
        resumed.load_state(tmp_path / "agent")
        with pytest.raises(RuntimeError, match="dai_select=score: the drafted pool holds no env scores"):
            resumed.act(obs)
        return
    # a checkpoint written before the pool existed loads without one; a damaged pool is refused as a whole
    data = json.loads((tmp_path / "agent" / "agent.json").read_text())
    (tmp_path / "agent" / "agent.json").write_text(json.dumps({k: v for k, v in data.items() if k != "pool"}))
    resumed.load_state(tmp_path / "agent")
    assert resumed.pool is None
    for broken in [[], {"size": 3, "rows": [{"prompt": []}]}]:
        (tmp_path / "agent" / "agent.json").write_text(json.dumps({**data, "pool": broken}))
        with pytest.raises(CheckpointError, match="pool"):
            resumed.load_state(tmp_path / "agent")


def test_a_checkpoint_from_before_a_setting_existed_resumes_only_with_what_its_run_did(model_dir, make_env, tmp_path):
    env = make_env(samples_per_label=4, max_rounds=2)
    legacy = dict(SynLearnerConfig.LEGACY_DEFAULTS)
    agent = tiny_agent(model_dir, env, **legacy)
    obs, _ = env.reset(seed=0)
    _step(env, agent, obs)
    agent.save_state(tmp_path / "agent")
    data = json.loads((tmp_path / "agent" / "agent.json").read_text())
    old = {k: v for k, v in data["config"].items() if k not in legacy}  # written before the settings
    (tmp_path / "agent" / "agent.json").write_text(json.dumps({**data, "config": old}))
    with pytest.raises(CheckpointError, match="label_gate"):  # today's defaults would change the run's reward
        tiny_agent(model_dir, env).load_state(tmp_path / "agent")
    resumed = tiny_agent(model_dir, env, **legacy)
    resumed.load_state(tmp_path / "agent")
    assert resumed.feedback_done == agent.feedback_done and len(resumed.memory) == len(agent.memory)


def test_feedback_steps_come_only_at_the_task_start_even_when_the_pool_does_not_fit(model_dir, make_env):
    """A budget smaller than the pool: the feedback steps use it at the start, DAI picks without drafts, and no
    feedback step comes in a later round."""
    probe = make_env(samples_per_label=4, max_rounds=2)
    pool = _pool_size(tiny_agent(model_dir, probe), probe.reset(seed=0)[0])
    env = make_env(samples_per_label=4, max_rounds=2, feedback_budget=pool - 1)
    agent = tiny_agent(model_dir, env, feedback_steps=100, feedback_prompts=1, group_size=2)
    first = run_stream(env, agent, seed=0)[0]
    log = [e for e in agent.log if e["task"] == first.task]
    phases = [e["phase"] for e in log]
    assert phases[: (pool - 1) // 2 + 1] == ["feedback"] * ((pool - 1) // 2) + ["dai"]
    assert "feedback" not in phases[(pool - 1) // 2:] and first.rounds == 2
    assert log[(pool - 1) // 2]["scored_by"] == "seed examples"


def test_when_a_feedback_step_comes():
    """Only at the task's start: round 0, before the pool is drafted, while steps are left, and with budget for a
    step beside the pool (2 labels x 3 requested x pool_factor 2 = 12 candidates; a step is 1 prompt x G 2)."""
    def wants(left, round=0, pool=None, done=0, **changes):
        agent = SynLearnerAgent(SynLearnerConfig(feedback_steps=3, feedback_prompts=1, group_size=2, **changes))
        agent.pool, agent.feedback_done = pool, done
        return agent._wants_feedback({"labels": ("a", "b"), "counts": np.array([0, 0]), "targets": np.array([4, 4]),
                                      "round": round, "max_rounds": 2, "feedback_left": left})

    assert SynLearnerAgent(SynLearnerConfig())._dai_pool_labels(["a"] * 3 + ["b"] * 2) == ["a", "b"] * 4 + ["a"] * 2
    assert wants(14) and not wants(13)  # the pool's 12 are kept back
    assert wants(11) and not wants(1)  # a budget that cannot hold the pool keeps nothing back
    assert wants(2, dai_drafts=False)
    assert not wants(100, pool={"rows": [], "size": 12})  # drafted, not yet picked
    assert not wants(100, round=1) and not wants(100, done=3)


@pytest.mark.parametrize("dai_select", ["mmr", "score"])
def test_group_drafts_draft_train_and_pick_in_later_rounds(model_dir, make_env, tmp_path, dai_select):
    env = make_env(samples_per_label=4, max_rounds=3)
    agent = tiny_agent(model_dir, env, group_drafts=True, dai_select=dai_select)
    obs, _ = env.reset(seed=0)
    for _ in range(2):  # the DAI pool, drafted, then its pick: round 0 done
        _, obs, _, _ = _step(env, agent, obs)
    assert obs["round"] == 1 and agent.pool is None
    size = len(env.unwrapped.dataset)
    before = {k: v.clone() for k, v in agent.policy.adapter_state().items()}
    drafts, obs, reward, info = _step(env, agent, obs)
    assert drafts and all(s["draft"] for s in drafts) and info["draft_only"] and reward == 0.0
    assert obs["round"] == 1 and len(env.unwrapped.dataset) == size  # no round used, nothing added
    entry = agent.log[-1]
    assert entry["phase"] == "group-draft" and entry["drafts"] == len(drafts) and entry["trained"] > 0
    assert any(not torch.equal(before[k], v) for k, v in agent.policy.adapter_state().items())  # trained on drafts
    want = sum(Counter(request_labels(obs, agent.config)).values())
    assert len(drafts) >= want * agent.config.pool_factor - agent.config.group_size  # (unparsed ones aside)
    field = obs["fields"][0]
    passed = {drafts[r["index"]][field] for r in info["samples"] if r["code"] is None}
    agent.save_state(tmp_path / "agent")  # between the drafts and their pick
    resumed = tiny_agent(model_dir, env, group_drafts=True, dai_select=dai_select)
    resumed.load_state(tmp_path / "agent")
    expected = resumed.act(obs)
    submitted, obs, _, _ = _step(env, agent, obs)
    assert submitted == expected  # the resumed agent picks the same
    assert submitted and not any(s.get("draft") for s in submitted) and {s[field] for s in submitted} <= passed
    assert len(submitted) <= want and obs["round"] == 2
    pick = agent.log[-1]
    assert (pick["phase"], pick["scored_by"]) == ("pick", "env") and "eft_sequences" not in pick
    assert "trained" not in pick  # the update came with the drafts


def test_group_drafts_without_budget_submit_the_groups_as_sampled(model_dir, make_env):
    probe = make_env(samples_per_label=4, max_rounds=2)
    pool = _pool_size(tiny_agent(model_dir, probe), probe.reset(seed=0)[0])
    env = make_env(samples_per_label=4, max_rounds=2, feedback_budget=pool)  # the DAI pool's share, no more
    agent = tiny_agent(model_dir, env, group_drafts=True)
    run_stream(env, agent, seed=0)
    first = [e["phase"] for e in agent.log if e["task"] == agent.log[0]["task"]]
    assert first == ["dai-draft", "dai", "grpo"]
