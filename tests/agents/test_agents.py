"""Agents in the plain Gymnasium loop: oracle and zerogen (with a scripted backend and with the real model)."""

from __future__ import annotations

import pytest

from streamsynth.agents import LLMConfig, build_agent
from streamsynth.evaluation.evaluator import Evaluator
from streamsynth.evaluation.runner import run_stream
from streamsynth.synthesis.prompting import label_prompt
from tests.helpers.scripted import ScriptedBackend


def test_oracle_fills_every_label_in_one_round(make_env):
    env = make_env(samples_per_label=5)
    agent = build_agent("oracle", env=env)
    results = run_stream(env, agent, seed=0, evaluator=Evaluator.for_env(env))
    assert [r.task for r in results] == ["movie-mini", "question-mini"]
    for r in results:
        assert r.rounds == 1 and r.accepted == r.submitted == len(r.dataset)
        assert r.figures["completion"] == 1.0
        assert 0 < r.test["test_accuracy"] <= 1 and r.test["n"] == len(r.dataset)


def test_oracle_needs_the_env():
    with pytest.raises(ValueError, match="needs the environment"):
        build_agent("oracle")


def test_unknown_agent_lists_known_ones():
    with pytest.raises(ValueError, match="known agents: zerogen, oracle"):
        build_agent("gpt-99")


def test_zerogen_spreads_requests_over_the_round_budget_and_parses_completions(make_env):
    env = make_env(samples_per_label=4, max_rounds=2)
    backend = ScriptedBackend()
    agent = build_agent("zerogen", llm=LLMConfig(oversample=1.5), backend=backend)
    obs, _ = env.reset(seed=0)
    assert obs["max_rounds"] == 2
    action = agent.act(obs)
    assert len(backend.calls[0]) == 6  # 2 labels x ceil(ceil(4 / 2 rounds left) * 1.5)
    assert sum(s["label"] == "positive" for s in action) == 3
    assert action[0]["text"].startswith("Sample 1-") and not action[0]["text"].startswith('"')
    obs, reward, terminated, _, info = env.step(action)
    assert info["accepted"] == 6 and not terminated
    action = agent.act(obs)  # last round: everything still missing (1 per label) x 1.5, rounded up
    assert len(backend.calls[1]) == 4
    obs, reward, terminated, _, info = env.step(action)
    assert info["accepted"] == 2 and terminated  # quota of 4 per label, the rest rejected as over target
    assert [r["code"] for r in info["rejected"]] == ["label_full", "label_full"]


def test_label_prompt_carries_instruction_label_and_attributes(make_env):
    env = make_env()
    obs, _ = env.reset(seed=0)
    msgs = label_prompt(obs, "negative", examples=obs["seed_examples"][:2], attributes={"genre": "comedy"})
    user = msgs[-1]["content"]
    assert obs["instruction"] in user and 'label "negative" (the critic disliked the film)' in user
    assert "genre: comedy" in user and obs["seed_examples"][0]["text"] in user


@pytest.mark.slow
def test_zerogen_with_the_packaged_model_produces_accepted_samples(make_env):
    """The real default generator (SmolLM2-135M-Instruct, CPU) in the real loop, tiny budget."""
    env = make_env(samples_per_label=3, max_rounds=1)
    agent = build_agent("zerogen", llm=LLMConfig(max_new_tokens=40, batch_size=8), seed=0)
    obs, _ = env.reset(seed=0)
    assert agent.generation_usage()["completions"] == 0
    action = agent.act(obs)
    assert agent.generation_usage()["completions"] == 2 * 5  # 2 labels x ceil(3 x 1.5) prompts, one completion each
    assert len(action) >= 4 and all(s["text"].strip() for s in action)
    _, _, _, _, info = env.step(action)
    assert info["accepted"] >= 1


def test_act_begins_a_new_episode_of_the_same_task_after_a_one_round_episode(make_env, movie_task):
    from streamsynth.agents.base import Agent

    class Counting(Agent):
        begun = 0

        def begin_task(self, observation):
            self.begun += 1

        def propose(self, observation):
            return []

    env = make_env(tasks=[movie_task], cycle=True, max_rounds=1)
    agent = Counting()
    obs, _ = env.reset(seed=0)
    agent.act(obs)
    env.step([])  # one-round episode: terminated
    obs, _ = env.reset()  # the same task again (cycle)
    agent.act(obs)
    assert agent.begun == 2
