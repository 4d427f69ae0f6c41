"""StreamSynthStrategy-v0 and the stable-baselines3 agents (scripted backend, hashing embedder, CPU)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_checker import check_env

import streamsynth  # noqa: F401  (registers the envs)
from streamsynth.agents.llm import LLMConfig
from streamsynth.agents.sb3 import SB3Agent, SB3Config
from streamsynth.envs.observation import FEEDBACK_KEYS
from streamsynth.envs.strategy import (
    N_EXAMPLES,
    PROMPT_STYLES,
    STRATEGY_NVEC,
    TEMPERATURES,
    VARY_MODES,
    Strategy,
    StrategyEnv,
    StrategyFeaturizer,
    attribute_values,
    strategy_from_action,
    synthesize,
)
from streamsynth.evaluation.runner import run_stream
from tests.helpers.scripted import WORDS, ScriptedBackend


class HalfBackend(ScriptedBackend):
    """Scripted completions, every other one blank (unparseable): an episode needs two rounds to fill its target."""

    def __init__(self):
        super().__init__()
        self.params = []

    def generate(self, prompts, params=None, *, seed=None, progress=False):
        self.params.append(params)
        out = super().generate(prompts, params, seed=seed, progress=progress)
        return [c if i % 2 == 0 else "   " for i, c in enumerate(out)]


@pytest.fixture
def strategy_env(make_env):
    return StrategyEnv(make_env(cycle=True), backend=ScriptedBackend(), llm=LLMConfig(max_new_tokens=16))


def test_check_env_passes(strategy_env):
    check_env(strategy_env)


def test_registered_id_builds_the_env(make_env):
    env = gym.make("StreamSynthStrategy-v0", env=make_env(cycle=True), backend=ScriptedBackend())
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs) and env.action_space == gym.spaces.MultiDiscrete(STRATEGY_NVEC)
    _, reward, _, _, info = env.step(np.array([1, 2, 1, 0]))
    assert info["strategy"] == Strategy("few-shot", 1.1, 4, "all") and info["submitted"] > 0 and reward > 0
    with pytest.raises(ValueError, match="either an env or"):
        StrategyEnv(make_env(), samples_per_label=4)


@pytest.mark.parametrize("component,table,field", [
    (0, PROMPT_STYLES, "style"), (1, TEMPERATURES, "temperature"), (2, N_EXAMPLES, "n_examples"),
    (3, VARY_MODES, "vary"),
])
def test_strategy_from_action_maps_every_component(component, table, field):
    for i, expected in enumerate(table):
        action = [0, 0, 0, 0]
        action[component] = i
        assert getattr(strategy_from_action(np.array(action)), field) == expected
    assert strategy_from_action([0, 0, 0, 0]) == Strategy("zero-shot", 0.7, 2, "all")
    assert strategy_from_action([2, 2, 1, 2]) == Strategy("attribute", 1.1, 4, "none")
    bad = [0, 0, 0, 0]
    bad[component] = len(table)
    with pytest.raises(ValueError, match=f"component {component}"):
        strategy_from_action(bad)
    with pytest.raises(ValueError, match="4 integers"):
        strategy_from_action([0.5, 0, 0, 0])


def test_featurizer_shape_feedback_and_progress(make_env):
    env = make_env(samples_per_label=4)
    featurizer = StrategyFeaturizer.for_env(env)
    obs, _ = env.reset(seed=0)
    dim = env.embedder.dim
    assert featurizer(obs).shape == (dim + len(FEEDBACK_KEYS) + 3,) == featurizer.observation_space.shape
    obs = {**obs, "feedback": np.arange(len(FEEDBACK_KEYS), dtype=np.float32) / 10, "round": 2,
           "counts": np.array([4, 2, 0]), "targets": np.array([4, 4, 0])}
    vec = featurizer(obs)
    assert featurizer.observation_space.contains(vec)
    np.testing.assert_allclose(vec[dim:dim + len(FEEDBACK_KEYS)], obs["feedback"])
    np.testing.assert_allclose(vec[-3:], [2 / 3, 6 / 8, 2 / 3], rtol=1e-6)  # round/3, completion, 2 of 3 labels
    task_vec = vec[:dim]
    emb = env.embedder.encode([obs["instruction"], *obs["label_descriptions"]])
    np.testing.assert_allclose(task_vec, 0.5 * emb[0] + 0.5 * emb[1:].mean(axis=0), atol=1e-6)


def test_synthesize_follows_the_strategy(make_env):
    env = make_env(samples_per_label=4)
    obs, _ = env.reset(seed=0)
    backend = HalfBackend()
    rng = np.random.default_rng(0)
    samples = synthesize(obs, Strategy("attribute", 1.1, 2, "none"), backend, rng, LLMConfig(oversample=1.5))
    prompts = backend.calls[0]
    assert obs["max_rounds"] == 3
    # 2 labels x ceil(ceil(4 / 3 rounds left) * 1.5); every other completion blank
    assert len(prompts) == 6 and len(samples) == 3
    assert backend.params[0].temperature == 1.1
    users = [p[-1]["content"] for p in prompts]
    assert all(u.count("\n[") == 2 and "genre: " in u for u in users)  # 2 examples, attribute values
    assert len({u.split("properties: ")[1] for u in users}) == 1  # vary="none": one combination per round
    synthesize(obs, Strategy("zero-shot", 0.7, 4, "all"), backend, rng, LLMConfig())
    assert all("Examples:" not in p[-1]["content"] and "properties" not in p[-1]["content"] for p in backend.calls[1])


def test_attribute_values_vary_one_dimension_at_a_time():
    dims = [{"name": n, "values": tuple(f"{n}{i}" for i in range(6))} for n in ("a", "b", "c")]
    rows = attribute_values(dims, 60, "one", np.random.default_rng(1))
    base = {n: max((r[n] for r in rows), key=[r[n] for r in rows].count) for n in "abc"}
    assert all(sum(r[n] != base[n] for n in "abc") <= 1 for r in rows)  # one dimension redrawn per prompt
    assert len({tuple(r.values()) for r in rows}) > 5
    rows = attribute_values(dims, 60, "all", np.random.default_rng(1))
    assert any(sum(r[n] != rows[0][n] for n in "abc") == 3 for r in rows)
    assert attribute_values([], 3, "all", np.random.default_rng(0)) == [{}, {}, {}]


def test_ppo_learn_runs_on_the_strategy_env(strategy_env):
    model = PPO("MlpPolicy", strategy_env, n_steps=4, batch_size=4, n_epochs=1, seed=0, device="cpu",
                policy_kwargs={"net_arch": [16]})
    model.learn(8)
    assert model.num_timesteps == 8


def _agent(env, algorithm="ppo", seed=0, backend=None, **opts):
    return SB3Agent.for_env(env, algorithm, LLMConfig(max_new_tokens=16), backend=backend or HalfBackend(),
                            seed=seed, **opts)


@pytest.mark.parametrize("algorithm", ["ppo", "a2c"])
def test_sb3_agent_trains_in_the_agent_loop(make_env, algorithm):
    env = make_env(samples_per_label=4)
    agent = _agent(env, algorithm, n_steps=6)
    assert agent.learns and agent.name == f"sb3-{algorithm}"
    before = [p.detach().clone() for p in agent.model.policy.parameters()]
    results = run_stream(env, agent, seed=0)
    assert [r.rounds for r in results] == [3, 3]  # requests spread over 3 rounds; 6 rounds in all: one full buffer
    assert agent.updates == 1 and agent.model.rollout_buffer.pos == 0
    after = list(agent.model.policy.parameters())
    assert any(not torch.equal(b, a) for b, a in zip(before, after))
    # HalfBackend blanks every other completion: 6 of the 8 samples per task after 3 spread-out rounds
    assert [r.figures["completion"] for r in results] == [0.75, 0.75]


def test_sb3_agent_actions_are_seeded(make_env):
    env = make_env()
    obs, _ = env.reset(seed=0)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a, b = _agent(env, seed=7), _agent(env, seed=7)
    seq_a = [a.choose(obs).action[0].tolist() for _ in range(6)]
    seq_b = [b.choose(obs).action[0].tolist() for _ in range(6)]
    assert seq_a == seq_b  # same seed, same actions (before any training)
    assert [_agent(env, seed=8).choose(obs).action[0].tolist() for _ in range(6)] != seq_a
    assert len({tuple(x) for x in seq_a}) > 1  # it samples, it does not repeat one action
    assert torch.equal(torch.get_rng_state(), state)  # the global torch RNG is left alone


def test_sb3_agent_checks_the_loop_order_and_saves(make_env, tmp_path):
    env = make_env(samples_per_label=4)
    agent = _agent(env)
    obs, _ = env.reset(seed=0)
    with pytest.raises(RuntimeError, match="without a preceding act"):
        agent.observe(obs, 0.0, False, False, {})
    agent.act(obs)
    with pytest.raises(RuntimeError, match="twice without observe"):
        agent.act(obs)
    path = agent.save_policy(tmp_path / "policy")
    other = _agent(env, seed=5)
    other.load_policy(path)
    for p, q in zip(agent.model.policy.parameters(), other.model.policy.parameters()):
        assert torch.equal(p, q)
    with pytest.raises(ValueError, match="n_steps must be >= 2"):
        SB3Config(n_steps=1)
    with pytest.raises(ValueError, match="algorithm must be one of"):
        SB3Config(algorithm="dqn")


def test_sb3_probe_synthesize_changes_nothing(make_env):
    """Probe runs for the transfer matrix: data from the most likely strategy, no transition stored, no update."""
    env = make_env(samples_per_label=4)
    agent = _agent(env)
    obs, _ = env.reset(seed=0)
    before = [p.detach().clone() for p in agent.model.policy.parameters()]
    data = agent.synthesize(obs)
    again = agent.synthesize(obs)
    assert data and all(s["label"] in obs["labels"] for s in data)
    assert agent.model.rollout_buffer.pos == 0 and agent._pending is None and agent.updates == 0
    assert all(torch.equal(b, a) for b, a in zip(before, agent.model.policy.parameters()))
    assert len(data) == len(again)  # the same deterministic strategy asks for the same number of samples


# ------------------------------------------------------------------------------------------ checkpoints and resume


def test_sb3_state_round_trip_and_errors(make_env, tmp_path):
    """save_state mid-buffer, load into a fresh agent of the same settings: policy, optimizer, buffer, counters and
    RNG streams continue exactly; other settings, broken files and a save between act and observe are refused."""
    from streamsynth.agents.state import CheckpointError

    env = make_env(samples_per_label=4)
    agent = _agent(env, n_steps=4)
    obs, _ = env.reset(seed=0)
    for _ in range(2):  # two transitions in the buffer of 4
        action = agent.act(obs)
        obs, reward, term, trunc, info = env.step(action)
        agent.observe(obs, reward, term, trunc, info)
    assert agent.model.rollout_buffer.pos == 2
    agent.save_state(tmp_path / "a")
    other = _agent(env, n_steps=4)
    other.load_state(tmp_path / "a")
    assert other.model.rollout_buffer.pos == 2 and other._episodes == agent._episodes
    assert other._round_calls == agent._round_calls and other.last_strategy == agent.last_strategy
    assert np.array_equal(other.model.rollout_buffer.observations, agent.model.rollout_buffer.observations)
    for p, q in zip(agent.model.policy.parameters(), other.model.policy.parameters()):
        assert torch.equal(p, q)
    # the two agents now draw the same actions and execute them with the same random stream
    assert ([agent.choose(obs).action.tolist() for _ in range(3)]
            == [other.choose(obs).action.tolist() for _ in range(3)])
    assert agent._rng.bit_generator.state == other._rng.bit_generator.state

    with pytest.raises(CheckpointError, match="n_steps"):
        _agent(env, n_steps=6).load_state(tmp_path / "a")
    with pytest.raises(CheckpointError, match="seed"):
        _agent(env, n_steps=4, seed=3).load_state(tmp_path / "a")
    (tmp_path / "a" / "buffer.npz").write_bytes(b"not a zip")
    fresh = _agent(env, n_steps=4)
    with pytest.raises(CheckpointError, match="buffer.npz"):
        fresh.load_state(tmp_path / "a")
    assert fresh.model.rollout_buffer.pos == 0 and fresh._episodes == 0  # a refused checkpoint changes nothing
    agent.act(obs)
    with pytest.raises(RuntimeError, match="between act\\(\\) and observe\\(\\)"):
        agent.save_state(tmp_path / "b")


class SeededBackend(ScriptedBackend):
    """Completions that depend only on the prompt and the call's seed (not on how many calls came before), as a real
    model's would: a resumed run in a new process writes what the unbroken run wrote only if the agent restored
    the counters and random streams that make its prompts and seeds."""

    def generate(self, prompts, params=None, *, seed=None, progress=False):
        import zlib

        out = []
        for i, p in enumerate(prompts):
            user = p[-1]["content"]
            label = user.split('label "')[1].split('"')[0]
            h = zlib.crc32(f"{seed}/{i}/{user}".encode())
            out.append(f'"{WORDS[h % len(WORDS)]} and {WORDS[(h >> 8) % len(WORDS)]} felt {label} ({h % 997})."')
        return out


def test_sb3_run_resumes_after_a_kill_with_identical_results(tmp_path, monkeypatch):
    """An sb3-ppo run killed inside the stream resumes from its last checkpoint and ends exactly where an unbroken
    run ends (datasets, rewards, test figures)."""
    import streamsynth.generation
    from streamsynth.evaluation.experiment import run_experiment
    from streamsynth.evaluation.options import RunOptions
    from tests.helpers.run_kill import assert_same_results, kill_and_resume

    monkeypatch.setattr(streamsynth.generation, "load_backend", lambda *a, **k: SeededBackend())
    opts = RunOptions.of(agent="sb3-ppo", stream="movie-sentiment,news-topic", samples_per_label=3, rounds=3,
                      embedder="hashing", probe_samples_per_label=1, student="linear", checkpoint_every=1,
                      agent_options={"n_steps": 2})
    full = run_experiment(opts, tmp_path / "full")
    assert [r.rounds for r in full] == [2, 2]  # updates after rounds 2 and 4

    # killed in the last round: the checkpoint of round 3 holds one update and a half-full buffer
    resumed = kill_and_resume(opts, tmp_path / "killed", kill_at=4)
    assert_same_results(resumed, full)
    assert all(r.accepted > 0 for r in full) and full[0].rounds >= 2  # the runs have something to differ in
    # the agents end in the same state: counters, RNG states, rollout buffer, policy and optimizer
    import json

    from streamsynth.agents.sb3 import BUFFER_ARRAYS

    ends = [tmp_path / run / "checkpoint" / "agent" for run in ("full", "killed")]
    assert json.loads((ends[0] / "agent.json").read_text()) == json.loads((ends[1] / "agent.json").read_text())
    buffers = [np.load(end / "buffer.npz") for end in ends]
    assert all(np.array_equal(buffers[0][k], buffers[1][k]) for k in BUFFER_ARRAYS)
    from safetensors.torch import load_file

    assert json.loads((ends[0] / "agent.json").read_text())["n_updates"] > 0  # at least one PPO update
    for name in ("policy.safetensors", "optimizer.safetensors"):
        tensors = [load_file(end / name) for end in ends]
        assert tensors[0].keys() == tensors[1].keys() and all(torch.equal(tensors[0][k], tensors[1][k])
                                                              for k in tensors[0])
