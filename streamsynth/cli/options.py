"""The options of ``evaluate`` and ``compare``, derived from the settings' dataclasses, as TRL derives its CLI from
its trainer configs.

:func:`with_run_options` adds one Typer option per first-class setting of
:class:`~streamsynth.evaluation.options.RunOptions` (its own fields, and the :class:`EnvConfig` and
:class:`LLMConfig` fields marked with :func:`streamsynth.config.option`), with the field's default and help, to a
command function; the command receives the options typed on the command line (not the defaults, which belong to
the dataclasses) as one mapping, ``given``, keyed as run files are (``rounds``, ``model``...). The ``-E`` / ``-A`` /
``-L`` items are parsed here too: :func:`env_overrides` refuses an env setting that has an option of its own.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable
from typing import Any, Optional

import typer

from streamsynth.config import OptionField, SettingError, parse_overrides
from streamsynth.evaluation.options import BOUND, first_class

COMMAND_EXCLUDES = {"evaluate": (), "compare": ("agent", "seed")}
"""First-class options a command does not take (``compare`` has ``--agents`` and ``--seeds`` instead)."""


def _cli_type(kind: Any) -> Any:
    """The Typer type of a field's annotation: Optional scalars stay optional, tuples and ``Any`` become text."""
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) in (typing.Union, types.UnionType) and len(args) == 1:
        return Optional[_cli_type(args[0])]
    if kind in (int, float, bool, str):
        return kind
    return str


def _default(field: OptionField) -> Any:
    if isinstance(field.default, tuple):
        return ",".join(field.default) or "none"
    return field.default


def option_parameters(command: str) -> list[tuple[OptionField, inspect.Parameter]]:
    """The command's first-class options as parameters of a Typer command (Typer passes them by keyword)."""
    out = []
    for field in first_class().values():
        if field.key in COMMAND_EXCLUDES[command]:
            continue
        info = typer.Option(_default(field), field.flag, help=field.help, show_default=True)
        out.append((field, inspect.Parameter(field.key, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=info,
                                             annotation=_cli_type(field.kind))))
    return out


def with_run_options(command: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a Typer command function that takes ``ctx: typer.Context`` and ``given: dict``: Typer sees the
    function's own parameters plus the derived options, and the function gets the typed ones in ``given``."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(func)
        own = [p for p in signature.parameters.values() if p.name != "given"]
        derived = option_parameters(command)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            ctx = kwargs.get("ctx")
            given = {}
            for field, _ in derived:
                value = kwargs.pop(field.key)
                source = getattr(ctx.get_parameter_source(field.key), "name", "DEFAULT") if ctx else "COMMANDLINE"
                if source not in ("DEFAULT", "DEFAULT_MAP"):
                    given[field.key] = value
            return func(*args, given=given, **kwargs)

        first = [p for p in own if p.name == "ctx"]  # the context, then the settings' options, then the command's
        rest = [p for p in own if p.name != "ctx"]
        wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=first + [p for _, p in derived] + rest)
        hints = typing.get_type_hints(func)
        wrapper.__annotations__ = {**{k: v for k, v in hints.items() if k != "given"},
                                   **{p.name: p.annotation for _, p in derived}}
        del wrapper.__wrapped__  # Typer must read the signature above, not the function's own
        return wrapper

    return decorate


def env_overrides(items: list[str]) -> dict[str, str]:
    """``-E KEY=VALUE`` items; a setting with an option of its own (``--rounds``) or bound to one (``--seed``) is
    refused with the option to use instead (one way to set each)."""
    raw = parse_overrides(items, "-E")
    own = {field.path[1]: field.flag.split("/")[0] for field in first_class().values()
           if len(field.path) == 2 and field.path[0] == "env"}
    own.update({name: f"--{run_field.replace('_', '-')}" for (table, name), run_field in BOUND.items()
                if table == "env"})
    for key in raw:
        head = key.split(".")[0]
        if head in own:
            raise SettingError(f"-E {key}: use {own[head]} (one way to set each setting)")
    return raw
