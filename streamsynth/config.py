"""Settings: one set of validation helpers, and ``KEY=VALUE`` overrides of (nested) dataclass configs.

The CLI's ``-E KEY=VALUE`` (env settings) and ``-L KEY=VALUE`` (SynLearner settings) go through
:func:`apply_overrides`: keys are field names of the config dataclass, dotted for nested dataclasses
(``reward_weights.utility``); string values are converted by the field's type; the dataclass validates itself.
Every error names the key, the value and what is allowed.

>>> from dataclasses import dataclass, field
>>> @dataclass(frozen=True)
... class Inner:
...     a: float = 0.5
>>> @dataclass(frozen=True)
... class Outer:
...     n: int = 1
...     inner: Inner = field(default_factory=Inner)
>>> apply_overrides(Outer(), parse_overrides(["n=3", "inner.a=0.25"]))
Outer(n=3, inner=Inner(a=0.25))
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import typing
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

_TRUE = ("true", "yes", "1", "on")
_FALSE = ("false", "no", "0", "off")


class SettingError(ValueError):
    """A setting's key or value is not allowed (a ``ValueError``: the CLI reports it and exits 2)."""


# ------------------------------------------------------------------------------------------------- validation


def check_int(name: str, value: Any, low: int = 1, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]`` (bools refused); raises ``ValueError`` naming ``name``.

    >>> check_int("rounds", 3)
    3
    >>> check_int("rounds", 0)
    Traceback (most recent call last):
    ...
    ValueError: rounds must be an int >= 1, got 0
    """
    bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low or \
            (high is not None and value > high):  # numbers.Integral: Python and NumPy integers
        raise ValueError(f"{name} must be an int {bounds}, got {value!r}")
    return int(value)


def check_number(name: str, value: Any, low: float = 0.0, high: float = math.inf, *, low_open: bool = False,
                 high_open: bool = False) -> float:
    """``value`` as a finite float in the interval from ``low`` to ``high`` (closed unless ``low_open`` /
    ``high_open``; ``high=inf`` means no upper bound); bools and NaN refused.

    >>> check_number("near_duplicate", 0.97, 0, 1, low_open=True)
    0.97
    >>> check_number("top_p", 0.0, 0, 1, low_open=True)
    Traceback (most recent call last):
    ...
    ValueError: top_p must be a number in (0, 1], got 0.0
    """
    if math.isinf(high):
        bounds = f"{'>' if low_open else '>='} {low:g}"
    else:
        bounds = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        raise ValueError(f"{name} must be a number {bounds}, got {value!r}")
    return float(value)


def check_bool(name: str, value: Any) -> bool:
    """``value`` if it is a bool (not 0/1 or a string).

    >>> check_bool("cycle", "yes")
    Traceback (most recent call last):
    ...
    ValueError: cycle must be true or false, got 'yes'
    """
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """``value`` if it is one of ``choices``.

    >>> check_choice("reward_mode", "delta", ("delta", "absolute"))
    'delta'
    """
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


# ------------------------------------------------------------------------------------------------- overrides


def parse_overrides(items: Iterable[str], option: str = "-E") -> dict[str, str]:
    """``["a=1", "b.c = x"]`` -> ``{"a": "1", "b.c": "x"}`` (later items win; dashes in keys become underscores).

    >>> parse_overrides(["reward-weights.utility=0.5"])
    {'reward_weights.utility': '0.5'}
    """
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise SettingError(f"{option} {item!r}: expected KEY=VALUE")
        out[key] = value.strip()
    return out


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings (a TOML table, a saved config) as dotted keys.

    >>> flatten({"a": 1, "w": {"utility": 0.5}})
    {'a': 1, 'w.utility': 0.5}
    """
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _hints(config: Any) -> dict[str, Any]:
    """Field types of the dataclass instance ``config``; where an annotation cannot be resolved, the type of the
    field's current value."""
    try:
        return typing.get_type_hints(type(config))
    except NameError:
        return {f.name: type(getattr(config, f.name)) for f in dataclasses.fields(config)}


def _is_nested(config: Any, name: str) -> bool:
    value = getattr(config, name)
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def setting_keys(config: Any) -> list[str]:
    """Every (dotted) key of the dataclass instance ``config``."""
    out: list[str] = []
    for f in dataclasses.fields(config):
        if _is_nested(config, f.name):
            out += [f"{f.name}.{k}" for k in setting_keys(getattr(config, f.name))]
        else:
            out.append(f.name)
    return out


def apply_overrides(config: Any, overrides: Mapping[str, Any], option: str = "-E", prefix: str = "") -> Any:
    """A copy of the dataclass ``config`` with ``overrides`` (dotted keys; values as strings from the command
    line, or typed from a run file) applied and validated by the dataclass itself. Errors name
    ``option`` and the full key (``prefix``: the dotted path of ``config`` inside its parent)."""
    hints = _hints(config)
    names = {f.name for f in dataclasses.fields(config)}
    changes: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in flatten(overrides).items():
        head, _, rest = key.partition(".")
        if head not in names or bool(rest) != _is_nested(config, head):
            known = ", ".join(prefix + k for k in setting_keys(config))
            raise SettingError(f"{option} {prefix}{key}: unknown setting; known: {known}")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            changes[head] = convert(value, hints[head], getattr(config, head), f"{option} {prefix}{key}")
    for head, sub in nested.items():
        changes[head] = apply_overrides(getattr(config, head), sub, option, f"{prefix}{head}.")
    try:
        return dataclasses.replace(config, **changes)
    except (ValueError, TypeError) as exc:
        if isinstance(exc, SettingError):
            raise
        keys = ", ".join(f"{option} {prefix}{k}" for k in flatten(overrides))
        raise SettingError(f"{keys}: {exc}") from None


def convert(value: Any, kind: Any, default: Any, where: str) -> Any:
    """``value`` as the type ``kind`` (a field annotation; ``default`` helps when it is a union)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        options = [a for a in args if a is not type(None)]
        if type(None) in args and isinstance(value, str) and value.lower() in ("none", "null", ""):
            return None
        if value is None and type(None) in args:
            return None
        kind = type(default) if default is not None and type(default) in options else options[0]
        origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any:
        return value
    if origin is tuple or kind is tuple:
        item = args[0] if args else str
        parts = value.split(",") if isinstance(value, str) else list(value)
        return tuple(convert(p.strip() if isinstance(p, str) else p, item, None, where)
                     for p in parts if not (isinstance(p, str) and not p.strip()))
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            if str(value).strip().lower() in _TRUE + _FALSE:
                return str(value).strip().lower() in _TRUE
            raise ValueError("expected true or false")
        if kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError("expected an integer")
            return int(value) if not isinstance(value, str) else int(value.strip())
        if kind is float:
            if isinstance(value, bool):
                raise ValueError("expected a number")
            return float(value)
        if kind is str:
            if not isinstance(value, str):
                raise ValueError("expected text")
            return value
    except ValueError as exc:
        msg = str(exc) if str(exc).startswith("expected") else f"expected {kind.__name__}"
        raise SettingError(f"{where}={value!r}: {msg}") from None
    return value


class Setting(NamedTuple):
    """One row of :func:`describe_settings`."""

    key: str
    default: Any
    help: str


def describe_settings(config: Any, prefix: str = "") -> list[Setting]:
    """Every setting of the dataclass instance ``config`` with its value and help (``field(metadata={"help": ...})``,
    else the field's docstring, see :func:`field_docs`; nested dataclasses are expanded with dotted keys)."""
    out: list[Setting] = []
    docs = field_docs(type(config))
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if _is_nested(config, f.name):
            out += describe_settings(value, f"{prefix}{f.name}.")
        else:
            out.append(Setting(f"{prefix}{f.name}", value, f.metadata.get("help", "") or docs.get(f.name, "")))
    return out


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """The docstrings of a dataclass's fields, its bases' included: the string written right after a field, as
    Python's own tools read attribute docstrings, flattened to one line.

    >>> from streamsynth.synthesis.config import GenerationSettings
    >>> field_docs(GenerationSettings)["top_p"]
    'Nucleus sampling: the smallest set of tokens whose probabilities sum to top_p.'
    """
    import ast
    import inspect
    import textwrap

    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):  # no source (e.g. built in a REPL): no docs, not an error
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, after in zip(body, body[1:]):
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) \
                    and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) \
                    and isinstance(after.value.value, str):
                out[node.target.id] = " ".join(inspect.cleandoc(after.value.value).split())
    return out


# ------------------------------------------------------------------------------------------------- options

OPTION = "option"
"""The field-metadata key that makes a setting a first-class command-line option (see :func:`option`)."""


def option(flag: str | None = None, **metadata: Any) -> dict[str, Any]:
    """Field metadata that makes a dataclass setting a first-class option of ``synth-agent evaluate`` and
    ``compare``: ``--flag`` (default: the field's name with dashes), its default and help taken from the field
    (``metadata["help"]``, else the field's docstring). A bool field's flag may be a pair, ``"--cache/--no-cache"``.
    Everything else about the option (the CLI parameter, the run-file key, its place in ``config.json``) is derived.

    >>> option("--rounds")
    {'option': '--rounds'}
    """
    return {OPTION: flag or True, **metadata}


class OptionField(NamedTuple):
    """A first-class option, derived from a dataclass field marked with :func:`option`."""

    key: str
    """Its key in run files and option mappings: the flag without dashes (``rounds``), or the field's name for a
    ``--x/--no-x`` pair."""
    path: tuple[str, ...]
    """Where it lives: the field's path from the root dataclass, e.g. ``("env", "max_rounds")``."""
    flag: str
    default: Any
    help: str
    kind: Any
    """The field's type annotation."""


def option_fields(cls: type, path: tuple[str, ...] = ()) -> list[OptionField]:
    """The first-class options of dataclass ``cls`` and of its nested dataclass fields (one level of nesting per
    field whose default is a dataclass), in field order.

    >>> from dataclasses import dataclass, field
    >>> @dataclass(frozen=True)
    ... class Env:
    ...     max_rounds: int = field(default=3, metadata=option("--rounds", help="round budget"))
    ...     hidden: int = 0
    >>> @dataclass(frozen=True)
    ... class Run:
    ...     seed: int = field(default=0, metadata=option())
    ...     '''Seed of everything.'''
    ...     env: Env = field(default_factory=Env)
    >>> [(o.key, o.path, o.flag, o.default, o.help) for o in option_fields(Run)]
    [('seed', ('seed',), '--seed', 0, ''), ('rounds', ('env', 'max_rounds'), '--rounds', 3, 'round budget')]
    """
    instance = cls()
    hints = _hints(instance)
    docs = field_docs(cls)
    out: list[OptionField] = []
    for f in dataclasses.fields(cls):
        value = getattr(instance, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            out += option_fields(type(value), (*path, f.name))
            continue
        flag = f.metadata.get(OPTION)
        if not flag:
            continue
        flag = f"--{f.name.replace('_', '-')}" if flag is True else str(flag)
        key = f.name if "/" in flag else flag.split("/")[0].lstrip("-").replace("-", "_")
        out.append(OptionField(key, (*path, f.name), flag, value, f.metadata.get("help") or docs.get(f.name, ""),
                               hints[f.name]))
    return out
