"""What SynLearner carries from task to task: full carry-over, ``isolated`` and the ``carry`` ablations in between;
their settings compare equal when saved and read back (cell reuse, checkpoints)."""

from __future__ import annotations

import json

import pytest
import torch

from streamsynth.agents import build_agent
from streamsynth.agents.synlearner.config import CARRY_PARTS, SynLearnerConfig
from streamsynth.evaluation.compare import settings_diff
from streamsynth.evaluation.options import RunOptions
from streamsynth.evaluation.runner import run_stream
from tests.helpers.synlearner import SMALL, lora_weights, tiny_agent, tiny_backend


def test_carry_is_checked_and_has_one_spelling_per_behaviour():
    assert SynLearnerConfig.from_dict({"carry": ["adapter"]}).carry == ("adapter",)
    assert SynLearnerConfig(carry=("reference", "adapter")).carry == ("adapter", "reference")  # CARRY_PARTS order
    assert SynLearnerConfig().carry == CARRY_PARTS and SynLearnerConfig(isolated=True).carry == ()
    for carry in [("adapter", "memory"), ("replay", "replay"), ["adapter"]]:
        with pytest.raises(ValueError, match=r"carry must be a tuple of distinct parts from \('adapter'"):
            SynLearnerConfig(carry=carry)


def test_carry_options_read_back_from_config_json_equal_the_requested_ones():
    """A tuple setting is saved as a JSON list: read back, the cell must still count as run with these settings."""
    from streamsynth import __version__

    opts = RunOptions.of(agent="synlearner", agent_options={"carry": "reference,adapter"})
    assert opts.learner == {"carry": ("adapter", "reference")}
    saved = {**json.loads(json.dumps(opts.to_dict())), "versions": {"streamsynth": __version__}}
    assert RunOptions.from_dict(saved) == opts and settings_diff(saved, opts) == []


def test_a_cell_from_before_a_setting_existed_compares_with_what_it_ran():
    """A cell saved before ``dai_drafts``, ``label_gate``, ``dai_select`` and ``group_drafts`` existed ran without
    them: reused for a request at today's defaults it would mix two learners in one table; its faithful
    continuation asks for the legacy values. A cell that records one (0.3.2 saved ``dai_select="mmr"``) ran with
    what it records, whatever today's default."""
    from streamsynth import __version__

    def saved(opts, agent_config):
        return {**json.loads(json.dumps(opts.to_dict())), "versions": {"streamsynth": __version__},
                "agent_config": agent_config}

    old = {"agent": "synlearner", "learns": True, "lr": 1e-4}  # describe() of a run from before the settings
    now = RunOptions.of(agent="synlearner", agent_options={"lr": 1e-4})
    assert settings_diff(saved(now, old), now) == ["learner.dai_drafts: False -> True",
                                                   "learner.dai_select: 'mmr' -> 'score'",
                                                   "learner.group_drafts: False -> True",
                                                   "learner.label_gate: False -> True"]
    legacy = {"dai_drafts": "false", "label_gate": "false", "dai_select": "mmr", "group_drafts": "false"}
    faithful = RunOptions.of(agent="synlearner", agent_options={"lr": 1e-4, **legacy})
    assert settings_diff(saved(now, old), faithful) == []
    current = {**old, "dai_drafts": True, "label_gate": True, "dai_select": "score", "group_drafts": True}
    assert settings_diff(saved(now, current), now) == []  # a cell of today: its defaults are today's
    assert settings_diff(saved(now, current), faithful) == ["learner.dai_drafts: True -> False",
                                                            "learner.dai_select: 'score' -> 'mmr'",
                                                            "learner.group_drafts: True -> False",
                                                            "learner.label_gate: True -> False"]
    v032 = {**current, "dai_select": "mmr", "group_drafts": False}  # recorded, as 0.3.2 wrote them
    assert settings_diff(saved(now, v032), now) == ["learner.dai_select: 'mmr' -> 'score'",
                                                    "learner.group_drafts: False -> True"]
    at_032 = RunOptions.of(agent="synlearner", agent_options={"lr": 1e-4, "dai_select": "mmr", "group_drafts": "false"})
    assert settings_diff(saved(at_032, v032), at_032) == []


def test_isolated_agent_starts_every_task_fresh(model_dir, make_env):
    env = make_env(samples_per_label=4, max_rounds=2)
    agent = build_agent("synlearner-isolated", backend=tiny_backend(model_dir), learner=SynLearnerConfig(**SMALL))
    agent._embedder = env.embedder
    assert agent.config.isolated and agent.name == "synlearner-isolated"
    initial = lora_weights(agent)
    seen = {}
    original = agent.begin_task

    def begin_task(observation):
        original(observation)
        seen[str(observation["task"])] = (lora_weights(agent), len(agent.memory), agent.policy.updates)

    agent.begin_task = begin_task
    results = run_stream(env, agent, seed=0)
    lora, memory_size, updates = seen[results[1].task]
    assert all(torch.equal(lora[k], initial[k]) for k in initial) and memory_size == 0 and updates == 0
    assert agent.policy.updates > 0


@pytest.mark.parametrize("carry", [("preferences", "reference"), ("adapter", "replay")])
def test_carry_keeps_only_the_parts_it_names(model_dir, make_env, carry):
    """At the second task's start, each part is as the first task left it when carried, and empty when not."""
    env = make_env(samples_per_label=4, max_rounds=2)
    agent = tiny_agent(model_dir, env, carry=carry)
    initial = lora_weights(agent)
    before, after = {}, {}
    original = agent.begin_task

    def state():
        return (lora_weights(agent), agent.policy.updates, agent.memory.tasks, agent.memory.stats("pattern"),
                len(agent.memory.reference))

    def begin_task(observation):
        before[str(observation["task"])] = state()  # as the previous task left it
        original(observation)
        after[str(observation["task"])] = state()

    agent.begin_task = begin_task
    results = run_stream(env, agent, seed=0)
    end_lora, end_updates, end_replay, end_patterns, end_reference = before[results[1].task]
    lora, updates, replay_tasks, patterns, reference = after[results[1].task]
    assert end_updates > 0 and end_replay and end_patterns and end_reference > 0  # the first task left each part
    if "adapter" in carry:
        assert all(torch.equal(lora[k], end_lora[k]) for k in lora) and updates == end_updates
    else:
        assert all(torch.equal(lora[k], initial[k]) for k in initial) and updates == 0
    assert replay_tasks == (end_replay if "replay" in carry else [])
    assert patterns == (end_patterns if "preferences" in carry else {})
    assert reference == (end_reference if "reference" in carry else 0)
    second_dai = [e for e in agent.log if e["task"] == results[1].task and e["phase"] == "dai"][0]
    assert (second_dai["eft_replay"] > 0) == ("replay" in carry)


def test_a_checkpoint_written_before_a_setting_existed_loads_with_its_default(model_dir, make_env, tmp_path):
    from streamsynth.agents.synlearner.checkpoint import CheckpointError

    env = make_env(samples_per_label=2, max_rounds=1)
    for isolated in (False, True):
        agent = tiny_agent(model_dir, env, isolated=isolated)
        run_stream(env, agent, seed=0)
        folder = tmp_path / f"isolated-{isolated}"
        agent.save_state(folder)
        data = json.loads((folder / "agent.json").read_text())
        del data["config"]["carry"]  # as written before `carry` existed
        (folder / "agent.json").write_text(json.dumps(data))
        again = tiny_agent(model_dir, env, isolated=isolated)
        again.load_state(folder)  # carry-over carried everything then, and isolated nothing
        assert lora_weights(again).keys() == lora_weights(agent).keys()
        assert all(torch.equal(lora_weights(again)[k], lora_weights(agent)[k]) for k in lora_weights(agent))
    with pytest.raises(CheckpointError, match="carry"):  # a real difference is still refused
        tiny_agent(model_dir, env, carry=("adapter",)).load_state(tmp_path / "isolated-False")
    data["config"]["lora_rnk"] = 4
    (folder / "agent.json").write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="cannot read.*lora_rnk"):
        tiny_agent(model_dir, env, isolated=True).load_state(folder)
