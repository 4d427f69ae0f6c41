"""Run files: evaluate/compare --config FILE, command-line options over the file, config.json reproduces a run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streamsynth.cli.main import app
from streamsynth.cli.runfile import merge_run_file, read_run_file
from streamsynth.config import SettingError
from tests.helpers import ROOT

TASK = str(ROOT / "examples" / "tasks" / "customer-intent.toml")
runner = CliRunner()
RUN_TOML = f"""
agent = "oracle"
stream = "{TASK}"
samples_per_label = 3
rounds = 1
embedder = "hashing"
student = "linear"

[env]
max_samples_per_step = 5
reward_weights = {{ utility = 0.5 }}
"""


def _tasks(run_dir: Path) -> list[dict]:
    return [{k: v for k, v in t.items() if k != "wall_seconds"}
            for t in json.loads((run_dir / "metrics.json").read_text())["tasks"]]


def test_a_run_file_sets_the_options_and_config_json_reproduces_the_run(tmp_path):
    run_file = tmp_path / "run.toml"
    run_file.write_text(RUN_TOML)
    first = runner.invoke(app, ["evaluate", "--config", str(run_file), "--output", str(tmp_path / "a")])
    assert first.exit_code == 0, first.output
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    env = config["env"]
    assert (config["agent"], env["samples_per_label"], env["max_rounds"], config["student"]) == ("oracle", 3, 1,
                                                                                                "linear")
    assert env["max_samples_per_step"] == 5 and env["reward_weights"]["utility"] == 0.5
    # the run folder's config.json is a run file: the same run again
    again = runner.invoke(app, ["evaluate", "--config", str(tmp_path / "a" / "config.json"),
                                "--output", str(tmp_path / "b")])
    assert again.exit_code == 0, again.output
    assert _tasks(tmp_path / "a") == _tasks(tmp_path / "b")
    saved = {k: v for k, v in json.loads((tmp_path / "b" / "config.json").read_text()).items() if k != "versions"}
    assert saved == {k: v for k, v in config.items() if k != "versions"}
    # the same options typed on the command line make the same run
    typed = runner.invoke(app, ["evaluate", "--agent", "oracle", "--stream", TASK, "--samples-per-label", "3",
                                "--rounds", "1", "--embedder", "hashing", "--student", "linear",
                                "-E", "max_samples_per_step=5", "-E", "reward_weights.utility=0.5",
                                "--output", str(tmp_path / "c")])
    assert typed.exit_code == 0, typed.output
    assert _tasks(tmp_path / "c") == _tasks(tmp_path / "a")


def test_command_line_options_override_the_file_and_env_tables_merge(tmp_path):
    run_file = tmp_path / "run.toml"
    run_file.write_text(RUN_TOML)
    res = runner.invoke(app, ["evaluate", "--config", str(run_file), "--samples-per-label", "2",
                              "-E", "reward_weights.utility=0.7", "--output", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["env"]["samples_per_label"] == 2 and config["agent"] == "oracle"
    assert config["env"]["max_samples_per_step"] == 5 and config["env"]["reward_weights"]["utility"] == 0.7


@pytest.mark.parametrize(("text", "suffix", "message"), [
    ('agnet = "oracle"', ".toml", "unknown option(s) ['agnet']; allowed: agent, stream"),
    ("samples_per_label = 'many'", ".toml", "env samples_per_label='many': expected int"),
    ("agent = [", ".toml", "not valid TOML"),
    ("{", ".json", "not valid JSON"),
    ("[1, 2]", ".json", "expected a table of options, got list"),
    ("env = 3", ".toml", "env must be a table of settings"),
    ("[env]\nreward_weights = { utilty = 1 }", ".toml", "env reward_weights.utilty: unknown setting"),
    ("rounds = 2\n[env]\nmax_rounds = 3", ".toml", "rounds=2 and env.max_rounds=3: set it once"),
])
def test_broken_run_files_exit_2_naming_the_problem(tmp_path, text, suffix, message):
    path = tmp_path / f"run{suffix}"
    path.write_text(text)
    res = runner.invoke(app, ["evaluate", "--config", str(path), "--output", str(tmp_path / "out")])
    assert res.exit_code == 2 and message in " ".join(res.output.split()), res.output
    assert not (tmp_path / "out").exists()


def test_missing_run_file_and_compare_files(tmp_path):
    with pytest.raises(SettingError, match="no such file"):
        read_run_file(tmp_path / "nope.toml")
    path = tmp_path / "cmp.toml"
    path.write_text('agents = ["oracle", "copy-seed"]\nseeds = 2\nsamples_per_label = 4\n')
    merged = merge_run_file("compare", path, {"seeds": 3})  # what the command line gave: it wins
    assert merged == {"agents": "oracle,copy-seed", "seeds": 3, "env": {"samples_per_label": 4}, "llm": {}}
    assert merge_run_file("compare", path, {"samples_per_label": 8})["env"] == {"samples_per_label": 8}
    path.write_text('agent = "oracle"\n')
    with pytest.raises(SettingError, match=r"a compare file names agents = \[\.\.\.\] and seeds = N"):
        merge_run_file("compare", path, {})
    path.write_text(f'agents = ["oracle"]\nseeds = 1\nstream = "{TASK}"\nembedder = "hashing"\nstudent = "linear"\n'
                    'samples_per_label = 2\nrounds = 1\n')
    res = runner.invoke(app, ["compare", "--config", str(path), "--output", str(tmp_path / "cmp")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "cmp" / "runs" / "oracle" / "seed-0" / "metrics.json").exists()
    assert not (tmp_path / "cmp" / "runs" / "oracle" / "seed-1").exists()


def test_the_docs_example_run_file_is_valid(tmp_path):
    from streamsynth.evaluation.options import RunOptions

    readme = (ROOT / "docs" / "cli.md").read_text()
    block = readme.split("**Run files**", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "run.toml"
    path.write_text(block)
    opts = RunOptions.from_values(merge_run_file("evaluate", path, {}))
    assert (opts.agent, opts.seed, opts.learner) == ("attrprompt", 1, {"lr": 5e-5})
    assert opts.env.max_samples_per_step == 128 and opts.agent_options == {"n_values": 4, "top_p": 0.9}
