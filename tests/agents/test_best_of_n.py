"""The best-of-n baseline: candidates drafted, scored by the env, the best submitted; budgets respected."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from streamsynth.agents import build_agent
from streamsynth.agents.best_of_n import BestOfNAgent, best_per_label, dai_pick, spread_cut
from streamsynth.agents.llm import LLMConfig
from streamsynth.evaluation.runner import run_stream
from tests.helpers.scripted import ScriptedBackend


class CountingBackend(ScriptedBackend):
    """Scripted completions that count toward ``completions``; answers attribute-proposal prompts too."""

    def generate(self, prompts, params=None, *, seed=None, progress=False):
        self.completions += len(prompts)
        if len(prompts) == 1 and 'label "' not in prompts[0][-1]["content"]:
            return ["tone: dry; warm; angry\nsetting: city; sea; space"]
        return super().generate(prompts, params, seed=seed, progress=progress)


class Recorder:
    """Wraps an env and records every action and info (the agent must see nothing else)."""

    def __init__(self, env):
        self.env, self.steps = env, []

    def __getattr__(self, name):
        return getattr(self.env, name)

    def step(self, action):
        out = self.env.step(action)
        self.steps.append((action, out[4]))
        return out


def test_best_of_n_submits_only_drafted_and_best_samples_within_budget(make_env):
    env = Recorder(make_env(samples_per_label=4, max_rounds=2, feedback_budget=40))
    backend = CountingBackend()
    agent = build_agent("best-of-n", llm=LLMConfig(oversample=1.5), backend=backend, seed=0,
                        options={"n": 3, "n_examples": 1})
    assert isinstance(agent, BestOfNAgent) and agent.n == 3
    results = run_stream(env, agent, seed=0)
    assert [r.rounds for r in results] == [2, 2]
    drafted: dict[str, float] = {}
    for i, (action, info) in enumerate(env.steps):
        if info["draft_only"]:
            assert all(s["draft"] for s in action)
            drafted.update({s["text"]: r["score"] for s, r in zip(action, info["samples"]) if r["code"] is None})
        else:
            prev_action, prev_info = env.steps[i - 1]
            assert prev_info["draft_only"]  # every submission follows its draft step
            scores = {s["text"]: r["score"] for s, r in zip(prev_action, prev_info["samples"]) if r["code"] is None}
            assert action and all(s["text"] in scores for s in action)  # only drafted samples that passed
            for lbl in {s["label"] for s in action}:  # and for each label the best of them
                picked = [scores[s["text"]] for s in action if s["label"] == lbl]
                others = [v for t, v in scores.items() if t not in {a["text"] for a in action}
                          and next(s for s in prev_action if s["text"] == t)["label"] == lbl]
                assert not others or min(picked) >= max(others)
    for r in results:
        assert 0 < r.drafts <= 40 and r.steps == 4 and r.completions >= r.drafts
    assert sum(r.completions for r in results) == backend.completions
    assert sum(r.submitted for r in results) < sum(r.drafts for r in results)  # n x candidates, the best kept


def test_best_of_n_never_exceeds_the_feedback_budget(make_env):
    env = make_env(samples_per_label=6, max_rounds=3, feedback_budget=10)
    agent = build_agent("best-of-n", backend=CountingBackend(), seed=0, options={"n": 4})
    results = run_stream(env, agent, seed=0)
    assert all(r.drafts == 10 for r in results)  # budget used up in the first round
    assert all(r.rejected_reasons.get("over_feedback_budget", 0) == 0 for r in results)
    assert agent.unranked_rounds == sum(r.rounds - 1 for r in results) > 0  # later rounds: submitted unranked
    none = build_agent("best-of-n", backend=CountingBackend(), seed=0)
    results = run_stream(make_env(feedback_budget=0, max_rounds=1), none, seed=0)
    assert all(r.drafts == 0 and r.steps == 1 and r.accepted > 0 for r in results)


def test_best_of_n_drafts_past_the_envs_step_limit_in_more_steps_and_scores_every_candidate(make_env):
    # one request per label and round x n=4: 8 or 12 candidates a round against a limit of 5 items a step; the env
    # answers "over_step_limit" past 5, and those are drafted again until each one has its score
    env = Recorder(make_env(samples_per_label=2, max_rounds=2, max_samples_per_step=5, feedback_budget=1000))
    agent = build_agent("best-of-n", llm=LLMConfig(oversample=1.0), backend=CountingBackend(), seed=0,
                        options={"n": 4, "n_examples": 0})
    results = run_stream(env, agent, seed=0)
    drafted, rounds = [], 0
    for action, info in env.steps:
        if info["draft_only"]:
            drafted.append({s["text"]: r for s, r in zip(action, info["samples"])})
            continue
        rounds += 1
        scored = {t: r for step in drafted for t, r in step.items() if r["code"] != "over_step_limit"}
        texts = {t for step in drafted for t in step}
        assert len(drafted) > 1 and set(scored) == texts  # more than one draft step; every candidate scored
        assert action and all(scored[s["text"]]["code"] is None for s in action)  # submitted: scored and passed
        drafted = []
    assert rounds == sum(r.rounds for r in results) == 4
    assert all(r.rejected_reasons.get("over_step_limit", 0) == 0 for r in results)
    assert agent.drafted == sum(r.drafts for r in results)  # the env's count of charged drafts


def test_best_of_n_shares_a_short_feedback_budget_over_the_labels(make_env):
    env = Recorder(make_env(samples_per_label=4, max_rounds=1, feedback_budget=6))
    agent = build_agent("best-of-n", backend=CountingBackend(), seed=0, options={"n": 4, "n_examples": 0})
    run_stream(env, agent, seed=0)
    for action, info in env.steps:
        if info["draft_only"]:  # 6 drafts shared evenly by the task's labels, not the first label's 6
            counts = Counter(s["label"] for s in action)
            assert len(counts) in (2, 3) and set(counts.values()) == {6 // len(counts)}  # movie: 2 labels, TREC: 3


def test_best_of_n_refuses_to_act_before_the_envs_answer_and_a_mismatched_answer(make_env):
    env = make_env(samples_per_label=2, max_rounds=1)
    agent = build_agent("best-of-n", backend=CountingBackend(), seed=0, options={"n": 2, "n_examples": 0})
    obs, _ = env.reset(seed=0)
    drafts = agent.act(obs)
    with pytest.raises(RuntimeError, match="without observe"):  # the same task's next proposal, unanswered
        agent.propose(obs)
    obs, reward, term, trunc, info = env.step(drafts)
    with pytest.raises(ValueError, match="feedback rows for"):
        agent.observe(obs, reward, term, trunc, {**info, "samples": info["samples"][:-1]})


def test_spread_cut_takes_labels_in_turn():
    assert spread_cut(["a"] * 5 + ["b"] * 2, 6) == [0, 1, 2, 3, 5, 6]
    assert spread_cut(["a", "b", "a", "b"], 3) == [0, 1, 2]
    assert spread_cut(["a", "b"], 0) == [] and spread_cut([], 3) == []


def test_best_per_label_checks_alignment_and_options():
    with pytest.raises(ValueError, match="does not match the drafts"):
        best_per_label([{"text": "a", "label": "x"}], [], {"x": 1})
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        build_agent("best-of-n", options={"n": 0})


class TableEmbedder:
    """Fixed vectors per text (the novelty term of the DAI pick, exactly)."""

    def __init__(self, table):
        self.table = table

    def encode(self, texts):
        return np.array([self.table[t] for t in texts], dtype=float)


def test_dai_pick_gates_quality_by_the_label_and_spreads_the_pick():
    obs = {"labels": ["pos", "neg"], "fields": ["text"]}
    cands = [{"text": t, "label": lbl} for t, lbl in [("a", "pos"), ("a2", "pos"), ("b", "pos"), ("w", "pos"),
                                                      ("n", "neg"), ("dup", "neg")]]
    emb = TableEmbedder({"a": [1, 0, 0], "a2": [0.99, 0.14, 0], "b": [0, 1, 0], "w": [0, 0, 1], "n": [1, 1, 1],
                         "dup": [1, 1, 0]})

    def row(fid, code=None, score=0.5):
        return {"code": code, "fidelity": fid, "realism": 1.0, "score": score}

    rows = [row(0.95), row(0.97), row(0.8), row(0.3, score=0.99), row(0.9), row(0.99, code="duplicate")]
    # score: the env's sample score picks the mislabelled "w" (judge fidelity 0.3 < chance) first
    assert [c["text"] for c in best_per_label(cands, rows, {"pos": 2, "neg": 1})] == ["a", "w", "n"]
    # dai: "w" has quality 0 (0.5 * 0 + 0.5 * novelty = 0.5 < 0.73 for "b"); after "a2" (best quality), "a" next
    # to it is worth 0.455 and "b" 0.73
    picked = dai_pick(emb, obs, cands, rows, {"pos": 2, "neg": 1})
    assert [c["text"] for c in picked] == ["a2", "b", "n"]
    # quality only: the two best-judged, however alike; a reference near "a2"/"a" makes "b" first among pos
    assert [c["text"] for c in dai_pick(emb, obs, cands, rows, {"pos": 2}, weight=1.0)] == ["a", "a2"]
    near_a = np.array([[1.0, 0.05, 0.0]])
    assert [c["text"] for c in dai_pick(emb, obs, cands, rows, {"pos": 1}, near_a)] == ["b"]
    # the gate: fidelity 0.55 on real-looking text (quality 0.1) loses to 0.9 on half-real text (0.4); ungated
    # (fidelity x realism: 0.55 against 0.45) the order would be the other way round
    gate = [{**row(0.55), "realism": 1.0}, {**row(0.9), "realism": 0.5}] + [row(0.9, code="invalid")] * 4
    assert [c["text"] for c in dai_pick(emb, obs, cands, gate, {"pos": 1}, weight=1.0)] == ["a2"]
    assert dai_pick(emb, obs, cands, [row(0.9, code="invalid")] * 6, {"pos": 2}) == []
    # a third pos: "w" (quality 0, orthogonal to "a2" and "b": 0.5) beats "a" (0.45 + 0.5 x 0.01) unless novelty
    # counts in proportion to quality (gate: "w" 0, "a" 0.45 + 0.5 x 0.9 x 0.01)
    assert [c["text"] for c in dai_pick(emb, obs, cands, rows, {"pos": 3})] == ["a2", "b", "w"]
    assert [c["text"] for c in dai_pick(emb, obs, cands, rows, {"pos": 3}, gate=True)] == ["a", "a2", "b"]
    with pytest.raises(ValueError, match="does not match the drafts"):
        dai_pick(emb, obs, cands, rows[:2], {"pos": 1})


def test_best_of_n_dai_pick_submits_drafted_samples_and_remembers_what_was_accepted(make_env):
    env = Recorder(make_env(samples_per_label=4, max_rounds=2, feedback_budget=40))
    agent = build_agent("best-of-n", backend=CountingBackend(), seed=0, env=env,
                        options={"n": 3, "pick": "dai", "select_weight": 0.7})
    assert agent.pick == "dai" and agent.embedder is env.unwrapped.embedder  # the env's embedding
    results = run_stream(env, agent, seed=0)
    assert [r.rounds for r in results] == [2, 2] and agent.describe()["pick"] == "dai"
    for i, (action, info) in enumerate(env.steps):
        if not info["draft_only"]:
            prev_action, prev_info = env.steps[i - 1]
            passed = {s["text"] for s, r in zip(prev_action, prev_info["samples"]) if r["code"] is None}
            assert action and {s["text"] for s in action} <= passed  # only drafted samples that passed
    accepted = sum(r.accepted for r in results[-1:])
    assert accepted > 0 and sum(len(v) for v in agent._reference) == accepted  # the last task's accepted set
    with pytest.raises(ValueError, match=r"pick must be one of \['score', 'dai'\], got 'best'"):
        build_agent("best-of-n", options={"pick": "best"})
    with pytest.raises(ValueError, match="select_weight"):
        build_agent("best-of-n", options={"select_weight": 1.5})
    with pytest.raises(ValueError, match="select_gate='maybe': expected true or false"):
        build_agent("best-of-n", options={"select_gate": "maybe"})
    with pytest.raises(ValueError, match="select_gate must be true or false, got 1"):
        BestOfNAgent(select_gate=1)
    assert build_agent("best-of-n", options={"pick": "dai", "select_gate": True}).describe()["select_gate"] is True
