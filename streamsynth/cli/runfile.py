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
from dataclasses import fields
from pathlib import Path
from typing import Any, Mapping

from streamsynth.config import SettingError

RUN_FOLDER_KEYS = frozenset({"tasks", "agent_config", "env_config", "reward_weights", "versions", "wall_seconds"})
"""Keys a run folder's ``config.json`` holds besides the options: a record of the run, ignored when it is read back
as a run file."""

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
    """The keys a run file of ``command`` (``evaluate`` or ``compare``) may hold."""
    from streamsynth.evaluation.experiment import RunOptions

    names = [f.name for f in fields(RunOptions)]
    if command == "compare":
        names = [n for n in names if n not in ("agent", "seed", "checkpoint_every")] + ["agents", "seeds"]
    return names


def _typed(key: str, value: Any, where: str) -> Any:
    """``value`` converted to the type of the option ``key`` (``agents``: a list or comma-separated text)."""
    import typing

    from streamsynth.config import convert
    from streamsynth.evaluation.experiment import RunOptions

    if key == "agents":
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return ",".join(value)
        if isinstance(value, str):
            return value
        raise SettingError(f"{where}={value!r}: expected a list of agent names")
    hints = typing.get_type_hints(RunOptions)
    kind = int if key == "seeds" else hints[key]
    default = 3 if key == "seeds" else getattr(RunOptions(), key)
    return convert(value, kind, default, where)


def merge_run_file(command: str, path: str | Path, cli: Mapping[str, Any], given: set[str]) -> dict[str, Any]:
    """The options of ``command``: the run file's, overridden by the command line's ``cli`` values whose names are
    in ``given`` (those typed on the command line); the other ``cli`` values are the command's defaults and fill
    what the file leaves out. Unknown keys in the file raise :class:`SettingError` naming them and the allowed ones.
    Scalar values are checked against the option's type.
    """
    data = read_run_file(path)
    allowed = option_names(command)
    extra = set(RUN_FOLDER_KEYS) if command == "evaluate" else set()
    unknown = sorted(k for k in data if k not in allowed and k not in extra)
    if unknown:
        hint = ""
        if command == "compare" and set(unknown) & {"agent", "seed"}:
            hint = " (a compare file names agents = [...] and seeds = N)"
        raise SettingError(f"--config {path}: unknown option(s) {unknown}{hint}; allowed: {', '.join(allowed)}")
    out = dict(cli)
    for key in allowed:
        if key not in data:
            continue
        if key in MAPPING_KEYS:
            from streamsynth.config import flatten

            table = data[key]
            if not isinstance(table, Mapping):
                raise SettingError(f"--config {path}: {key} must be a table of settings, got {table!r}")
            out[key] = {**flatten(table), **(cli.get(key) or {})}
        elif key not in given:
            out[key] = _typed(key, data[key], f"--config {path}: {key}")
    return out
