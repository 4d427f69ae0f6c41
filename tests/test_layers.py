"""The layers stay in order: envs/ and synthesis/ never import agents/ (the strategy env uses the shared
synthesis layer, not the agents), at import time or lazily inside functions."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGE = ROOT / "streamsynth"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", ["envs", "synthesis"])
def test_no_module_of_the_layer_imports_agents_anywhere_in_its_code(layer):
    files = sorted((PACKAGE / layer).glob("*.py"))
    assert files
    offending = {f.name: sorted(n for n in _imports(f) if n.startswith("streamsynth.agents")) for f in files}
    assert {k: v for k, v in offending.items() if v} == {}


def test_importing_every_env_module_loads_no_agent_module():
    modules = [f"streamsynth.envs.{p.stem}" for p in sorted((PACKAGE / "envs").glob("*.py")) if p.stem != "__init__"]
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "print(sorted(m for m in sys.modules if m.startswith('streamsynth.agents')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
    assert "streamsynth.envs.strategy" in modules  # the module that used to import agents is among them


def test_the_strategy_env_is_a_wrapper_whose_unwrapped_is_the_streamsynth_env(make_env):
    import gymnasium as gym

    from streamsynth.envs.strategy import StrategyEnv

    inner = make_env()
    env = StrategyEnv(inner)
    assert isinstance(env, gym.Wrapper) and env.env is inner and env.unwrapped is inner
    env.reset(seed=0)
    assert env.unwrapped.dataset == [] and env.unwrapped.current_task.name == inner.current_task.name


def test_the_generation_interface_imports_no_concrete_backend():
    concrete = {"streamsynth.generation.transformers_backend", "streamsynth.generation.vllm_backend",
                "streamsynth.generation.openai_backend"}
    for module in ("base", "prompts", "decoding", "devices"):
        assert not _imports(PACKAGE / "generation" / f"{module}.py") & concrete, module


def test_synlearner_uses_the_decoding_engine_through_its_public_functions():
    used = set()
    for path in (PACKAGE / "agents" / "synlearner").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "streamsynth.generation.decoding":
                used |= {a.name for a in node.names}
    assert used and not any(name.startswith("_") for name in used)
    assert used <= {"prefill", "forward_with_cache", "decode"}


def test_library_code_cites_no_tracker_issue_or_commit():
    """Help text and docstrings say what the code does, not which issue or commit asked for it (the changelog and
    the results pages keep that history)."""
    import re

    pattern = re.compile(r"\bissues? #?\d+|`[0-9a-f]{7,40}`|\b(?:at|since|commit) [0-9a-f]{7,40}\b", re.IGNORECASE)
    hits = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}" for path in sorted(PACKAGE.rglob("*.py"))
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert not hits, "\n".join(hits)
    assert pattern.search("see issue 12") and pattern.search("measured at `e7e866b`")  # the check can fail
