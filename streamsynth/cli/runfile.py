"""Run files (``synth-agent evaluate/compare --config FILE``): the command's options as TOML or JSON, with options
given on the command line taking precedence. A run folder's ``config.json`` is a valid run file for ``evaluate``
and reproduces that run.

A TOML run file for ``evaluate``::

    agent = "attrprompt"
    stream = "movie-sentiment,news-topic"
    samples_per_label = 32
    seed = 1

    [env]                      # -E: env settings (streamsynth.envs.config.EnvConfig)
    max_samples_per_step = 128
    reward_weights = { utility = 0.5, quality = 0.2 }

    [agent_options]            # -A: the agent's own settings
    n_values = 4

    [learner]                  # -L: SynLearner settings
    lr = 5e-5

For ``compare``, ``agents`` (a list or comma-separated text) and ``seeds`` (a number) replace ``agent`` and ``seed``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from streamsynth.config import SettingError

MAPPING_KEYS = ("env", "learner", "agent_options")
"""Options whose values are tables: the file's table and the command line's ``-E``/``-L`` items are merged, the
command line winning key by key."""


def read_run_file(path: str | Path) -> dict[str, Any]:
    """The table of a ``.toml`` or ``.json`` run file; a missing or broken file raises :class:`SettingError`
    naming it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingError(f"--config {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingError(f"--config {path}: cannot read it ({exc})") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            if sys.version_info >= (3, 11):
                import tomllib
            else:  # pragma: no cover
                import tomli as tomllib
            data = tomllib.loads(text)
    except ValueError as exc:  # json.JSONDecodeError and tomllib.TOMLDecodeError are ValueErrors
        kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
        raise SettingError(f"--config {path}: not valid {kind} ({exc})") from None
    if not isinstance(data, dict):
        raise SettingError(f"--config {path}: expected a table of options, got {type(data).__name__}")
    return data


def option_names(command: str) -> list[str]:
    """The keys a run file of ``command`` (``evaluate`` or ``compare``) may hold: the run's fields, its first-class
    options (``rounds``...), the tables, and for ``compare`` ``agents`` and ``seeds`` instead of ``agent`` and
    ``seed``."""
    from streamsynth.cli.options import COMMAND_EXCLUDES
    from streamsynth.evaluation.options import RunOptions, first_class

    names = [f.name for f in fields(RunOptions)] + [k for k in first_class() if k not in {f.name for f in
                                                                                        fields(RunOptions)}]
    names = [n for n in names if n not in COMMAND_EXCLUDES[command]]
    return names + (["agents", "seeds"] if command == "compare" else [])


def merge_run_file(command: str, path: str | Path, cli: Mapping[str, Any]) -> dict[str, Any]:
    """The options of ``command``: the run file's, with the command line's ``cli`` (the options and ``-E``/``-A``
    /``-L`` items typed there; not the defaults) on top, setting by setting (a table's keys merge). Unknown keys and
    bad values in the file raise :class:`SettingError` naming the file and them."""
    from streamsynth.evaluation.options import RUN_FOLDER_KEYS, RunOptions, normalize

    data = read_run_file(path)
    allowed = option_names(command)
    extra = set(RUN_FOLDER_KEYS) if command == "evaluate" else set()
    unknown = sorted(k for k in data if k not in allowed and k not in extra)
    if unknown:
        hint = ""
        if command == "compare" and set(unknown) & {"agent", "seed"}:
            hint = " (a compare file names agents = [...] and seeds = N)"
        raise SettingError(f"--config {path}: unknown option(s) {unknown}{hint}; allowed: {', '.join(allowed)}")
    grid = {k: data.pop(k) for k in ("agents", "seeds") if k in data}
    if "agents" in grid:
        grid["agents"] = _agents(grid["agents"], f"--config {path}: agents")
    try:
        from_file = normalize(data)
        RunOptions.from_values(from_file)  # checks the file's values here, where the error can name the file
    except (ValueError, TypeError) as exc:
        raise SettingError(f"--config {path}: {exc}") from None
    from_cli = normalize({k: v for k, v in cli.items() if k not in ("agents", "seeds")})
    out = dict(from_file)
    for key, value in from_cli.items():
        out[key] = {**(from_file.get(key) or {}), **value} if key in MAPPING_KEYS + ("llm",) else value
    out.update(grid)
    out.update({k: cli[k] for k in ("agents", "seeds") if k in cli})
    return out


def _agents(value: Any, where: str) -> str:
    """``agents`` of a compare file: a list of names or comma-separated text."""
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    if isinstance(value, str):
        return value
    raise SettingError(f"{where}={value!r}: expected a list of agent names")
