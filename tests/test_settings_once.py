"""Each setting is declared once: a copy of the package with one new field added to a config dataclass (one edit)
has that setting on the command line, in run files and in the run folder's ``config.json``.

The copy lives in a temporary folder and runs in a subprocess, so the real package is never changed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.helpers import ROOT

TASK = str(ROOT / "examples" / "tasks" / "customer-intent.toml")
EDITS = {  # file -> (the line a new field goes after, the field): one edit each
    "envs/config.py": (
        '    cycle: bool = field(default=False, metadata=_help("start the stream again after its last task"))',
        '    new_knob: int = field(default=5, metadata=_help("a setting added by a test", True))'),
    "synthesis/config.py": ('    """Most prompts of one round."""',
                            '    new_llm: int = 3\n    """An LLM setting added by a test."""'),
    "agents/synlearner/config.py": ('    """Gradient clipping norm."""',
                                    '    new_learner: int = 1\n    """A SynLearner setting added by a test."""'),
}


@pytest.fixture(scope="module")
def patched(tmp_path_factory):
    """A copy of the package with the three new fields; returns a function that runs Python code in it."""
    root = tmp_path_factory.mktemp("patched")
    shutil.copytree(ROOT / "streamsynth", root / "streamsynth", ignore=shutil.ignore_patterns("__pycache__"))
    for rel, (after, new) in EDITS.items():
        path = root / "streamsynth" / rel
        text = path.read_text(encoding="utf-8")
        assert text.count(after) == 1, (rel, after)
        path.write_text(text.replace(after, f"{after}\n{new}"), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}

    def run(*args: str) -> subprocess.CompletedProcess:
        out = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=root)
        assert out.returncode == 0, out.stdout + out.stderr
        return out

    return root, run


def test_a_new_env_setting_is_an_option_a_run_file_key_and_recorded(patched, tmp_path):
    root, run = patched
    cli = ["-m", "streamsynth.cli.main"]
    assert run("-c", "import streamsynth; print(streamsynth.__file__)").stdout.startswith(str(root))  # the copy
    assert "--new-knob" in run(*cli, "evaluate", "--help").stdout
    common = [*cli, "evaluate", "--agent", "oracle", "--stream", TASK, "--embedder", "hashing", "--student", "linear",
              "--samples-per-label", "2", "--rounds", "1"]
    run(*common, "--new-knob", "7", "--output", str(tmp_path / "a"))
    assert json.loads((tmp_path / "a" / "config.json").read_text())["env"]["new_knob"] == 7
    (tmp_path / "run.toml").write_text("new_knob = 9\n")
    run(*common, "--config", str(tmp_path / "run.toml"), "--output", str(tmp_path / "b"))
    assert json.loads((tmp_path / "b" / "config.json").read_text())["env"]["new_knob"] == 9
    listing = run(*cli, "info", "--settings").stdout
    assert "new_knob = 5  (set with --new-knob)" in listing and "a setting added by a test" in listing


def test_a_new_llm_and_a_new_learner_setting_reach_run_files_and_config_json(patched, tmp_path):
    _, run = patched
    cli = ["-m", "streamsynth.cli.main"]
    assert "new_llm = 3" in run(*cli, "info", "--agent", "zerogen").stdout
    assert "new_learner = 1" in run(*cli, "info", "--learner").stdout
    (tmp_path / "run.toml").write_text('agent = "synlearner"\n[learner]\nnew_learner = 4\n')
    code = (
        "import json, sys\n"
        "from streamsynth.cli.main import parse_learner_options\n"
        "from streamsynth.cli.runfile import merge_run_file\n"
        "from streamsynth.evaluation.options import RunOptions\n"
        f"opts = RunOptions.from_values(merge_run_file('evaluate', {str(tmp_path / 'run.toml')!r}, {{}}))\n"
        "again = RunOptions.from_dict(json.loads(json.dumps(opts.to_dict())))\n"
        "zero = RunOptions.of(agent='zerogen', agent_options={'new_llm': '6'})\n"
        "print(json.dumps([opts.learner, again.learner, parse_learner_options(['new_learner=2']),"
        " zero.to_dict()['agent_options']]))\n"
    )
    assert json.loads(run("-c", code).stdout) == [{"new_learner": 4}, {"new_learner": 4}, {"new_learner": 2},
                                                  {"new_llm": 6}]
