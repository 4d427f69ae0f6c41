"""Settings: the validation helpers, KEY=VALUE overrides of nested dataclasses, EnvConfig and -E on the CLI."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from typer.testing import CliRunner

from streamsynth.cli.main import app
from streamsynth.config import (
    SettingError,
    apply_overrides,
    check_choice,
    check_int,
    check_number,
    describe_settings,
    flatten,
    parse_overrides,
    setting_keys,
)
from streamsynth.envs.config import EnvConfig
from streamsynth.evaluation.options import RunOptions
from tests.helpers import ROOT


@dataclass(frozen=True)
class Inner:
    a: float = field(default=0.5, metadata={"help": "a number"})
    names: tuple[str, ...] = ("x",)

    def __post_init__(self):
        check_number("a", self.a, 0, 1)


@dataclass(frozen=True)
class Outer:
    n: int = 1
    flag: bool = False
    label: str | None = None
    inner: Inner = field(default_factory=Inner)


# --- validation helpers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "low", "high", "ok"), [
    (1, 1, None, True), (0, 1, None, False), (0, 0, None, True), (5, 1, 4, False), (4, 1, 4, True),
    (True, 0, None, False), (1.0, 1, None, False), ("1", 1, None, False)])
def test_check_int(value, low, high, ok):
    if ok:
        assert check_int("n", value, low, high) == value
    else:
        with pytest.raises(ValueError, match=r"^n must be an int (>= \d|in \[\d, \d\]), got"):
            check_int("n", value, low, high)


@pytest.mark.parametrize(("value", "kwargs", "ok"), [
    (0.0, {}, True), (-0.1, {}, False), (0.0, {"low_open": True}, False), (1.0, {"high": 1}, True),
    (1.0, {"high": 1, "high_open": True}, False), (float("nan"), {}, False), (float("inf"), {}, False),
    (True, {}, False), ("0.5", {}, False), (3, {}, True)])
def test_check_number(value, kwargs, ok):
    if ok:
        assert check_number("x", value, **kwargs) == float(value)
    else:
        with pytest.raises(ValueError, match="^x must be a number"):
            check_number("x", value, **kwargs)


def test_check_number_and_choice_messages_name_the_interval_and_choices():
    with pytest.raises(ValueError, match=r"^x must be a number in \(0, 1\], got 0$"):
        check_number("x", 0, 0, 1, low_open=True)
    with pytest.raises(ValueError, match=r"^x must be a number >= 2, got 1$"):
        check_number("x", 1, 2)
    with pytest.raises(ValueError, match=r"^mode must be one of \['a', 'b'\], got 'c'$"):
        check_choice("mode", "c", ("a", "b"))


# --- overrides ---------------------------------------------------------------------------------------------------


def test_parse_overrides_later_wins_dashes_become_underscores_and_bad_items_fail():
    assert parse_overrides(["a=1", "b-c = x y ", "a=2"]) == {"a": "2", "b_c": "x y"}
    assert parse_overrides(["empty="]) == {"empty": ""}
    for bad in ("novalue", "=3"):
        with pytest.raises(SettingError, match=rf"^-E '{bad}': expected KEY=VALUE$"):
            parse_overrides([bad])


def test_apply_overrides_converts_strings_by_field_type_and_keeps_the_rest():
    cfg = apply_overrides(Outer(), {"n": "3", "flag": "yes", "label": "hi", "inner.names": "p, q,", "inner.a": "1"})
    assert cfg == Outer(n=3, flag=True, label="hi", inner=Inner(a=1.0, names=("p", "q")))
    assert apply_overrides(cfg, {"label": "none"}).label is None
    # typed values (a run file) and nested mappings work the same
    assert apply_overrides(Outer(), {"inner": {"a": 0.25}, "n": 2, "flag": False}) == Outer(n=2, inner=Inner(a=0.25))
    assert apply_overrides(Outer(), {}) == Outer()


@pytest.mark.parametrize(("overrides", "message"), [
    ({"m": "1"}, "-E m: unknown setting; known: n, flag, label, inner.a, inner.names"),
    ({"inner.b": "1"}, "-E inner.b: unknown setting; known: inner.a, inner.names"),
    ({"inner": "1"}, "-E inner: unknown setting; known: n, flag, label, inner.a, inner.names"),
    ({"n.x": "1"}, "-E n.x: unknown setting; known: n, flag, label, inner.a, inner.names"),
    ({"n": "1.5"}, "-E n='1.5': expected int"),
    ({"n": 1.5}, "-E n=1.5: expected an integer"),
    ({"flag": "maybe"}, "-E flag='maybe': expected true or false"),
    ({"inner.a": "2"}, "-E inner.a: a must be a number in [0, 1], got 2.0"),
    ({"label": 3}, "-E label=3: expected text"),
])
def test_apply_overrides_errors_name_the_key_and_what_is_allowed(overrides, message):
    with pytest.raises(SettingError) as exc:
        apply_overrides(Outer(), overrides)
    assert str(exc.value) == message


def test_flatten_setting_keys_and_describe_settings():
    assert flatten({"a": {"b": {"c": 1}}, "d": 2}) == {"a.b.c": 1, "d": 2}
    assert setting_keys(Outer()) == ["n", "flag", "label", "inner.a", "inner.names"]
    rows = describe_settings(Outer(n=4))
    assert [(r.key, r.default) for r in rows][:1] == [("n", 4)]
    assert rows[3].key == "inner.a" and rows[3].help == "a number"


# --- EnvConfig and RunOptions.env --------------------------------------------------------------------------------


def test_the_env_takes_every_setting_from_its_config_and_nothing_else(make_env, movie_task):
    import gymnasium as gym

    env = make_env([movie_task])
    assert env.config == EnvConfig(embedder="hashing", split_sizes=env.config.split_sizes, samples_per_label=8,
                                   max_rounds=3)
    assert env.config.max_rounds == EnvConfig().max_rounds == 3  # one default: the env's and the CLI's
    assert gym.spec("StreamSynth-v0").kwargs == {"stream": "offline"}  # the registry repeats no default
    with pytest.raises(TypeError, match="unexpected keyword argument 'rounds'.*its settings are samples_per_label"):
        make_env([movie_task], rounds=2)
    base = EnvConfig(samples_per_label=5, embedder="hashing", split_sizes=env.config.split_sizes)
    other = type(env)([movie_task], config=base, max_rounds=2)  # keywords replace values of the config
    assert (other.config.samples_per_label, other.config.max_rounds) == (5, 2)


def test_env_is_built_from_its_config_and_validates_through_it(make_env):
    env = make_env(near_copy_overlap=0.8, reward_weights={"utility": 0.5})
    assert env.config.near_copy_overlap == 0.8 and env.config.reward_weights.utility == 0.5
    assert env.config.to_dict()["reward_weights"]["utility"] == 0.5
    with pytest.raises(ValueError, match=r"max_samples_per_step must be an int >= 1, got 0"):
        make_env(max_samples_per_step=0)
    with pytest.raises(ValueError, match=r"reward_mode must be one of \['delta', 'absolute'\]"):
        make_env(reward_mode="sum")


def test_run_options_env_settings_are_typed_checked_and_reach_the_env_config():
    opts = RunOptions.of(samples_per_label=8, rounds=2, env={"reward_weights.utility": "0.5", "cycle": "true"})
    cfg = opts.env
    assert (cfg.samples_per_label, cfg.max_rounds, cfg.reward_weights.utility, cfg.cycle) == (8, 2, 0.5, True)
    assert opts.with_(rounds=1).env.max_rounds == 1 and opts.with_(rounds=1).env.cycle is True
    # the saved options are a valid input again (config.json round trip)
    again = RunOptions.from_dict(json.loads(json.dumps(opts.to_dict())))
    assert again == opts and again.env == cfg
    with pytest.raises(SettingError, match=r"env reward_weights.utility: reward weight 'utility' must be"):
        RunOptions.of(env={"reward_weights.utility": -1})
    with pytest.raises(SettingError, match=r"rounds=2 and env.max_rounds=3: set it once"):
        RunOptions.of(rounds=2, env={"max_rounds": 3})
    with pytest.raises(SettingError, match=r"env.data_seed=4: it follows seed"):
        RunOptions.of(seed=1, env={"data_seed": 4})
    assert RunOptions.of(seed=4).env.data_seed == 4


def test_env_items_refuse_settings_that_have_their_own_option():
    from streamsynth.cli.options import env_overrides

    assert env_overrides(["cycle=true"]) == {"cycle": "true"}
    for item, flag in (("max_rounds=2", "--rounds"), ("samples_per_label=3", "--samples-per-label"),
                       ("data_seed=1", "--seed"), ("embedder=hashing", "--embedder")):
        with pytest.raises(SettingError, match=f"-E {item.split('=')[0]}: use {flag}"):
            env_overrides([item])


@pytest.mark.parametrize("bad, message", [({"temperature": -1}, "temperature must be >= 0"),
                                          ({"batch_size": 0}, "batch_size must be an int >= 1"),
                                          ({"max_new_tokens": 0}, "max_new_tokens must be an int >= 1"),
                                          ({"concurrency": 0}, "concurrency must be an int >= 1")])
def test_run_options_check_model_and_sampling_settings_where_they_are_declared(bad, message):
    with pytest.raises(ValueError, match=message):
        RunOptions.of(**bad)  # before any cell or agent starts


def test_cli_env_options_reach_the_run_and_bad_ones_exit_2(tmp_path):
    runner = CliRunner()
    task = ROOT / "examples" / "tasks" / "customer-intent.toml"
    common = ["evaluate", "--agent", "oracle", "--stream", str(task), "--embedder", "hashing", "--student", "linear",
              "--samples-per-label", "3", "--rounds", "1"]
    out = tmp_path / "run"
    result = runner.invoke(app, common + ["-E", "reward_weights.utility=0.9", "--env", "max_samples_per_step=4",
                                          "--output", str(out)])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["env"]["reward_weights"]["utility"] == 0.9 and config["env"]["max_samples_per_step"] == 4
    assert (config["env"]["max_rounds"], config["env"]["samples_per_label"]) == (1, 3)  # every setting, recorded
    assert config["env_config"]["max_samples_per_step"] == 4 and config["reward_weights"]["utility"] == 0.9
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["tasks"][0]["submitted"] == 9 and metrics["tasks"][0]["accepted"] == 4  # the step limit bites
    assert metrics["tasks"][0]["rejected_reasons"] == {"over_step_limit": 5}
    bad = runner.invoke(app, common + ["-E", "reward_weights.utilty=0.5", "--output", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "unknown setting" in bad.output and "reward_weights.utility" in bad.output
    assert not (tmp_path / "bad").exists()
    listing = runner.invoke(app, ["info", "--settings"])
    assert listing.exit_code == 0 and "reward_weights.utility = 0.4" in listing.output
    assert "max_rounds = 3  (set with --rounds)" in listing.output


def test_generation_settings_are_declared_once_for_every_llm_agent():
    from dataclasses import fields

    from streamsynth.agents.synlearner.config import SynLearnerConfig
    from streamsynth.synthesis.config import GenerationSettings, LLMConfig

    shared = [f.name for f in fields(GenerationSettings)]
    for cls in (LLMConfig, SynLearnerConfig):
        assert issubclass(cls, GenerationSettings) and [f.name for f in fields(cls)][:len(shared)] == shared
        assert cls().sampling == GenerationSettings().sampling
        for bad, match in ((dict(oversample=0.5), "oversample must be a number >= 1"),
                           (dict(max_prompts_per_round=0), "max_prompts_per_round must be an int >= 1"),
                           (dict(top_p=0.0), "top_p")):
            with pytest.raises(ValueError, match=match):
                cls(**bad)
