"""Agents registered by spec: -A settings for every agent, typed and checked; compare gives each agent its own."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from streamsynth.agents import AGENTS, AgentSpec, build_agent, register, spec
from streamsynth.agents.registry import REGISTRY, options_for, typed_options
from streamsynth.config import SettingError
from streamsynth.evaluation.options import RunOptions
from tests.helpers import ROOT

TASK = str(ROOT / "examples" / "tasks" / "customer-intent.toml")


def test_every_registered_agent_has_a_spec_and_the_description_table_follows_the_registry():
    assert list(AGENTS) == list(REGISTRY)
    for name, agent_spec in REGISTRY.items():
        assert agent_spec.name == name and agent_spec.description == AGENTS[name]
        assert callable(agent_spec.factory())
        cls = agent_spec.options_class()
        if cls is not None:
            cls(**dict(agent_spec.fixed))  # the defaults are valid
    with pytest.raises(ValueError, match="already registered"):
        register(AgentSpec("oracle", "x:y", "again"))
    with pytest.raises(ValueError, match="unknown agent 'nobody'; known agents: zerogen, oracle"):
        spec("nobody")


def test_option_keys_hold_the_agents_own_settings_and_the_unshared_llm_settings():
    assert spec("zerogen").option_keys() == ["dtype", "top_p", "oversample", "max_prompts_per_round"]
    assert spec("fewshot").option_keys()[0] == "k"
    assert spec("progen").option_keys()[:2] == ["k", "candidates"]
    assert spec("oracle").option_keys() == [] and spec("copy-seed").option_keys() == []
    assert "algorithm" not in spec("sb3-a2c").option_keys() and "n_steps" in spec("sb3-a2c").option_keys()
    syn = spec("synlearner-isolated").option_keys()
    assert "isolated" not in syn and "lr" in syn and "model" not in syn and "embedder" not in syn


def test_typed_options_convert_and_name_bad_keys_and_values():
    assert typed_options("progen", {"k": "2", "candidates": "3", "top_p": "0.5"}) == {"k": 2, "candidates": 3,
                                                                                     "top_p": 0.5}
    assert typed_options("sb3-ppo", {"net_arch": "16,16"}) == {"net_arch": (16, 16)}
    for name, options, message in [
        ("fewshot", {"kk": 1}, "-A kk: unknown setting of agent 'fewshot'; known: k, dtype, top_p"),
        ("fewshot", {"model": "x"}, "-A model: model is shared by every agent; use --model"),
        ("fewshot", {"k": "0"}, "-A k: k must be an int >= 1, got 0"),
        ("progen", {"k": 4, "candidates": 2}, "candidates must be an int >= 4, got 2"),
        ("sb3-ppo", {"n_steps": 1}, "n_steps must be >= 2"),
        ("zerogen", {"top_p": "2"}, "top_p"),
        ("synlearner-isolated", {"isolated": "false"}, "-A isolated: unknown setting"),
    ]:
        with pytest.raises((SettingError, ValueError), match=message.replace("(", r"\(").replace(")", r"\)")):
            typed_options(name, options)


def test_build_agent_applies_the_options():
    fewshot = build_agent("fewshot", options={"k": 2, "top_p": 0.5})
    assert fewshot.k == 2 and fewshot.config.top_p == 0.5
    progen = build_agent("progen", options={"candidates": 5})
    assert (progen.k, progen.candidates) == (4, 5)
    from streamsynth.agents.synlearner.config import SynLearnerConfig

    isolated = spec("synlearner-isolated").split_options({"lr": "5e-5"})[0]
    assert isinstance(isolated, SynLearnerConfig) and isolated.isolated and isolated.lr == 5e-5


def test_run_options_keep_agent_options_typed_and_synlearner_takes_them_as_learner_settings():
    opts = RunOptions.of(agent="fewshot", agent_options={"k": "3"})
    assert opts.agent_options == {"k": 3}
    assert RunOptions.from_dict(json.loads(json.dumps(opts.to_dict()))) == opts
    syn = RunOptions.of(agent="synlearner", agent_options={"lr": "1e-4"}, learner={"group_size": 8})
    assert syn.agent_options == {} and syn.learner == {"group_size": 8, "lr": 1e-4}
    with pytest.raises(SettingError, match="unknown setting of agent 'zerogen'"):
        RunOptions.of(agent="zerogen", agent_options={"k": 2})
    assert options_for("zerogen", {"k": 2, "top_p": 0.8}) == {"top_p": 0.8}


def test_cli_agent_options_reach_the_agent_and_compare_routes_them(tmp_path):
    runner = CliRunner()
    common = ["--stream", TASK, "--embedder", "hashing", "--student", "linear", "--samples-per-label", "2",
              "--rounds", "1"]
    bad = runner.invoke(app_(), ["evaluate", "--agent", "oracle", "-A", "k=2", *common,
                                 "--output", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "oracle has no settings" in bad.output
    res = runner.invoke(app_(), ["compare", "--agents", "oracle,copy-seed", "--seeds", "1", "-A", "k=2", *common,
                                 "--output", str(tmp_path / "cmp")])
    assert res.exit_code == 2 and "-A k: no agent of ['oracle', 'copy-seed'] has this setting" in res.output
    listing = runner.invoke(app_(), ["info", "--agent", "progen"])
    assert listing.exit_code == 0 and "candidates = 8" in listing.output and "top_p = 0.95" in listing.output


@pytest.mark.parametrize("name", sorted(AGENTS) + ["--learner"])
def test_every_agent_setting_is_listed_with_its_default_and_help(name):
    args = ["info", "--learner"] if name == "--learner" else ["info", "--agent", name]
    listing = CliRunner().invoke(app_(), args)
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    rows = [line for line in (lines if name == "--learner" else lines[1:]) if " = " in line]  # after the title
    keys = [] if name == "--learner" else spec(name).option_keys()
    assert [r.split(" = ")[0] for r in rows][: len(keys)] == keys
    undocumented = [r for r in rows if "  # " not in r or r.endswith("# ")]
    assert not undocumented, f"settings without help (add a docstring after the field): {undocumented}"


def test_field_docs_read_the_string_after_each_field_of_a_dataclass_and_its_bases():
    from dataclasses import dataclass

    from streamsynth.config import field_docs

    @dataclass
    class Base:
        a: int = 1
        """The first
        setting."""
        b: int = 2

    @dataclass
    class Child(Base):
        c: str = "x"
        """Third."""

    assert field_docs(Child) == {"a": "The first setting.", "c": "Third."}


def app_():
    from streamsynth.cli.main import app

    return app


def test_compare_gives_each_agent_the_settings_it_has(tmp_path):
    from streamsynth.evaluation.compare import plan_cells

    to_run, reused = plan_cells(["oracle", "fewshot", "zerogen"], [0], RunOptions.of(stream=TASK), tmp_path,
                                agent_options={"k": "2", "top_p": "0.8"}, log=lambda line: None)
    assert reused == []
    assert [c.opts.agent_options for c in to_run] == [{}, {"k": 2, "top_p": 0.8}, {"top_p": 0.8}]


def test_checkpoint_support_is_declared_by_the_agent_interface(tmp_path):
    from streamsynth.agents.base import Agent
    from streamsynth.agents.synlearner.agent import SynLearnerAgent
    from streamsynth.evaluation.checkpoint import can_checkpoint

    oracle = build_agent("copy-seed")
    assert Agent.supports_checkpoints is False and not can_checkpoint(oracle)
    assert SynLearnerAgent.supports_checkpoints is True
    with pytest.raises(NotImplementedError, match="agent 'copy-seed' keeps no checkpoints"):
        oracle.save_state(tmp_path)
    with pytest.raises(NotImplementedError, match="keeps no checkpoints"):
        oracle.load_state(tmp_path)
