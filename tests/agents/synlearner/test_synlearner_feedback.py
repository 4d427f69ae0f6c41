"""SynLearner's feedback steps: GRPO on drafts at a task's start, paid from the env's feedback budget; the reward
they train on (the hierarchical one, or the env's per-sample score as HRO at the paper's scale); the budget check;
the run file that turns HRO on (``examples/configs/synlearner-hro.toml``)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from streamsynth.agents.synlearner.agent import FeedbackBudgetWarning, SynLearnerAgent, feedback_shortfall
from streamsynth.agents.synlearner.config import SynLearnerConfig
from streamsynth.agents.synlearner.hierarchical import completion_scores, env_reward
from streamsynth.evaluation.runner import run_stream
from streamsynth.synthesis.config import request_labels
from tests.helpers import ROOT
from tests.helpers.synlearner import tiny_agent

HRO_RUN = ROOT / "examples" / "configs" / "synlearner-hro.toml"


def test_feedback_steps_train_on_drafts_without_using_rounds(model_dir, make_env):
    """feedback_steps GRPO steps per task on drafts: the env scores them without adding them, rounds stay the
    submissions, the budget goes down by what the steps drafted, and every step is logged with its figures."""
    env = make_env(samples_per_label=4, max_rounds=2, feedback_budget=200)
    agent = tiny_agent(model_dir, env, feedback_steps=3, feedback_prompts=2, group_size=2, lr=1e-3, group_drafts=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FeedbackBudgetWarning)  # the budget holds the steps: no warning
        results = run_stream(env, agent, seed=0)
    steps = [e for e in agent.log if e["phase"] == "feedback"]
    assert [e["step"] for e in steps] == [0, 1, 2] * len(results)
    pools = {e["task"]: e["drafts"] for e in agent.log if e["phase"] == "dai-draft"}
    for r in results:  # 3 feedback steps, then the DAI pool as drafts, then the rounds
        assert r.steps == r.rounds + 3 + 1 and r.rounds <= 2
        assert r.drafts == sum(e["drafts"] for e in steps if e["task"] == r.task) + pools[r.task]
        assert r.drafts - pools[r.task] <= 3 * 2 * 2
    assert all({"mean_draft_score", "mean_fidelity", "passed", "kl", "clip_fraction"} <= set(e) for e in steps)
    assert all(e["drafts"] > 0 for e in steps) and sum(e["trained"] > 0 for e in steps) >= len(steps) // 2
    assert sum(e["passed"] for e in steps) > 0  # the env judged some drafts acceptable: there is a signal
    assert all(e["draft_reward"] == e["env_reward"] for e in steps)
    assert all(0.0 <= e["env_reward"] <= 1.0 for e in agent.log) and {e["phase"] for e in agent.log} >= {"dai"}


def test_env_reward_is_the_env_score_per_completion_with_zero_for_unparsed_and_rejected():
    env_rows = {0: {"score": 0.8}, 1: {"score": 0.6, "code": "too_short"}, 2: {"score": 0.4}}
    # four completions: two scored, one rejected by the env, one unparseable (never sent)
    assert env_reward(["a", "b", "c", "d"], [0, 1, None, 2], env_rows) == pytest.approx((0.8 + 0.4) / 4)
    assert env_reward([], [], {}) == 0.0


def test_feedback_steps_stop_when_the_budget_cannot_hold_one(model_dir, make_env):
    env = make_env(samples_per_label=4, max_rounds=1, feedback_budget=5)
    agent = tiny_agent(model_dir, env, feedback_steps=4, feedback_prompts=1, group_size=2, dai_drafts=False)
    with pytest.warns(FeedbackBudgetWarning, match=r"budget is 5 drafts: about 2 feedback steps"):
        results = run_stream(env, agent, seed=0)
    assert all(r.steps - r.rounds == 2 and r.drafts <= 4 for r in results)  # 2 steps of 2 drafts fit in 5




def _spy_feedback_rewards(agent) -> list[dict]:
    """Record, for each feedback step, the rewards its GRPO update got and what the env said of its drafts."""
    seen: list[dict] = []
    observe, update = agent.observe, agent._grpo_update

    def spy_observe(observation, reward, terminated, truncated, info):
        pending = agent._pending
        if pending["phase"] == "feedback":
            seen.append({"submitted": pending["submitted"], "rows": {int(r["index"]): r for r in info["samples"]}})
        return observe(observation, reward, terminated, truncated, info)

    def spy_update(rows, rewards, scored):
        if seen and "rewards" not in seen[-1]:  # the update observe() makes for the feedback step just seen
            seen[-1]["rewards"] = np.asarray(rewards, dtype=float).copy()
        return update(rows, rewards, scored)

    agent.observe, agent._grpo_update = spy_observe, spy_update
    return seen


@pytest.mark.parametrize("feedback_reward", ["score", "hierarchical"])
def test_feedback_steps_train_on_the_reward_asked_for(model_dir, make_env, feedback_reward):
    """feedback_reward=score: each feedback step's GRPO update gets the env's per-sample score of each draft (0
    for the unparsed and rejected), as HRO at the paper's scale trained; hierarchical: the standardised blend of
    quality, diversity and utility (mean 0 over the scored completions, not the scores)."""
    env = make_env(samples_per_label=4, max_rounds=1, feedback_budget=200)
    agent = tiny_agent(model_dir, env, feedback_steps=3, feedback_prompts=2, group_size=2, lr=1e-3,
                       dai_drafts=False, feedback_reward=feedback_reward)
    seen = _spy_feedback_rewards(agent)
    run_stream(env, agent, seed=0)
    assert len(seen) == 3 * len(env.tasks) and all("rewards" in s for s in seen)
    scores = [completion_scores(s["submitted"], s["rows"]) for s in seen]
    assert any(x.any() for x in scores)  # some draft passed: the check below is not 0 == 0 throughout
    if feedback_reward == "score":
        for s, x in zip(seen, scores):
            np.testing.assert_allclose(s["rewards"], x)
    else:
        differs = [not np.allclose(s["rewards"], x) for s, x in zip(seen, scores) if x.any()]
        assert all(differs)


def test_feedback_reward_is_validated():
    with pytest.raises(ValueError, match="feedback_reward"):
        SynLearnerConfig(feedback_reward="fidelity")


def test_completion_scores_are_the_env_scores_with_zero_for_unparsed_and_rejected():
    rows = {0: {"score": 0.8}, 1: {"score": 0.6, "code": "too_short"}, 2: {"score": 0.4}}
    assert completion_scores([0, 1, None, 2], rows).tolist() == [0.8, 0.0, 0.0, 0.4]
    assert completion_scores([], {}).tolist() == []


def test_feedback_shortfall_names_the_budget_that_holds_the_steps():
    c = SynLearnerConfig(feedback_steps=10, feedback_prompts=2, group_size=4)  # 80 drafts
    assert feedback_shortfall(c, 80 + 16, 16) == ""
    assert feedback_shortfall(c.with_(feedback_steps=0), 0, 16) == ""
    short = feedback_shortfall(c, 50, 16)  # (50 - 16) // 8 = 4 steps
    assert "80 drafts" in short and "budget is 50" in short and "about 4 feedback steps will run" in short
    assert "-E feedback_budget=96" in short
    # a pool larger than the budget is not drafted (DAI picks without the env's scores): no share is kept for it;
    # the budget named holds the pool too, so that it is not short again once the pool fits
    short = feedback_shortfall(c, 40, 64)
    assert "about 5 feedback steps will run" in short and "-E feedback_budget=144" in short
    assert feedback_shortfall(c, 144, 64) == "" and feedback_shortfall(c, 143, 64) != ""
    without = feedback_shortfall(c.with_(dai_drafts=False), 50, 16)
    assert "kept for the DAI pool" not in without and "-E feedback_budget=80" in without


def test_the_hro_run_file_turns_on_hro_with_a_budget_that_holds_it():
    """examples/configs/synlearner-hro.toml: valid options, HRO's settings (4,000 drafts per task on the env's score,
    LoRA r16 on all linear layers, no KL, dapo), and an env budget that holds them beside the DAI pool of every
    task of its stream."""
    from streamsynth.agents.registry import options_for
    from streamsynth.cli.runfile import merge_run_file
    from streamsynth.evaluation.options import RunOptions
    from streamsynth.tasks.registry import get_stream

    opts = RunOptions.from_values(merge_run_file("evaluate", HRO_RUN, {"agent": "synlearner"}))
    c = SynLearnerConfig.from_dict(dict(opts.learner))
    compare = merge_run_file("compare", HRO_RUN, {"agents": ["synlearner", "best-of-n"]})  # the same file serves both
    cell = {**compare["learner"], **options_for("synlearner", compare["agent_options"])}  # -A goes to who has it
    assert SynLearnerConfig.from_dict(cell) == c and c.top_p == 1.0 and opts.llm.temperature == 1.0
    assert options_for("best-of-n", compare["agent_options"]) == {"top_p": 1.0}
    assert opts.agent == "synlearner" and c.feedback_reward == "score" and c.lora_targets == ("all-linear",)
    assert c.feedback_steps * c.feedback_prompts * c.group_size == 4000 and c.kl_coef == 0 and c.loss_type == "dapo"
    agent = SynLearnerAgent(c)  # builds no model until it samples
    for task in get_stream(opts.stream):
        first_round = {"labels": task.labels, "counts": np.zeros(len(task.labels), int),
                       "targets": np.full(len(task.labels), opts.env.samples_per_label), "round": 0,
                       "max_rounds": opts.env.max_rounds}
        pool = len(agent._dai_pool_labels(request_labels(first_round, c)))  # what DAI drafts in the first round
        assert pool >= 2 * opts.env.samples_per_label // opts.env.max_rounds * len(task.labels)
        assert feedback_shortfall(c, opts.env.task_feedback_budget(len(task.labels)), pool) == "", task.name
