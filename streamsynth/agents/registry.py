"""Agents registered by spec, the way Gymnasium registers envs: a name, an entry point (``"module:callable"``,
imported only when the agent is built), the dataclass of the agent's own settings (``-A KEY=VALUE``) and a
description.

Every entry point is called as ``factory(*, env, llm, backend, seed, options)``: ``options`` is an instance of the
spec's ``options`` class (or None for agents without settings), ``llm`` the shared :class:`LLMConfig` of LLM agents.

>>> spec("fewshot").option_keys()[:2]
['k', 'dtype']
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from streamsynth.synthesis.config import GenerationSettings, LLMConfig


def _option_names(cls: type) -> tuple[str, ...]:
    from streamsynth.config import option_fields

    return tuple(o.path[-1] for o in option_fields(cls))


SHARED_LLM_SETTINGS = _option_names(GenerationSettings)
"""Settings every LLM agent takes from the run's shared options (``--model`` ...), SynLearner included: the
:class:`~streamsynth.synthesis.config.GenerationSettings` fields marked as options."""
ENDPOINT_SETTINGS = tuple(name for name in _option_names(LLMConfig) if name not in SHARED_LLM_SETTINGS)
"""``--backend openai`` settings: the run's options (``--base-url`` ...), not per-agent ``-A`` settings."""


@dataclass(frozen=True)
class AgentSpec:
    """How to build one agent.

    Attributes:
        name: what ``--agent`` and ``--agents`` take.
        entry_point: ``"module:callable"`` of the factory (see the module docstring).
        description: one line for ``synth-agent tasks``.
        options: ``"module:Class"`` of the dataclass of the agent's own settings (``-A``), or None.
        llm: the agent generates with an LLM: it also takes the :class:`LLMConfig` settings (the shared ones from
            ``--model`` ..., the others such as ``top_p`` from ``-A``).
        needs_env: the factory needs the env (privileged data or the env's embedder).
        fixed: settings the agent always has (``synlearner-isolated``: ``isolated=True``), not settable with ``-A``.
        learner: its settings are SynLearner's: ``-L`` sets them as well as ``-A``, and a run records them as its
            ``learner`` table.
    """

    name: str
    entry_point: str
    description: str
    options: str | None = None
    llm: bool = False
    needs_env: bool = False
    fixed: Mapping[str, Any] = field(default_factory=dict)
    learner: bool = False

    def factory(self) -> Callable[..., Any]:
        module, _, attr = self.entry_point.partition(":")
        return getattr(importlib.import_module(module), attr)

    def options_class(self) -> type | None:
        if self.options is None:
            return None
        module, _, attr = self.options.partition(":")
        return getattr(importlib.import_module(module), attr)

    def option_keys(self) -> list[str]:
        """Every ``-A`` key: the agent's own settings, then the LLM settings that no shared option sets."""
        cls = self.options_class()
        names = [f.name for f in dataclasses.fields(cls)] if cls else []
        own = [k for k in names if k not in self.fixed and k not in SHARED_LLM_SETTINGS and k != "embedder"]
        extra = [f.name for f in dataclasses.fields(LLMConfig)
                 if f.name not in SHARED_LLM_SETTINGS + ENDPOINT_SETTINGS] if self.llm else []
        return own + [k for k in extra if k not in names]

    def split_options(self, options: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
        """``options`` (typed or strings, flat dotted keys) as ``(agent options instance or None, LLM settings)``;
        unknown keys and bad values raise :class:`~streamsynth.config.SettingError` naming them."""
        from streamsynth.config import SettingError, apply_overrides, flatten

        flat = flatten(dict(options or {}))
        keys = self.option_keys()
        for key in flat:
            if key in SHARED_LLM_SETTINGS:
                raise SettingError(f"-A {key}: {key} is shared by every agent; use --{key.replace('_', '-')}")
            if key.split(".")[0] not in keys:
                known = ", ".join(keys) if keys else f"none: {self.name} has no settings"
                raise SettingError(f"-A {key}: unknown setting of agent {self.name!r}; known: {known}")
        cls = self.options_class()
        own_names = {f.name for f in dataclasses.fields(cls)} if cls else set()
        own = {k: v for k, v in flat.items() if k.split(".")[0] in own_names}
        llm = {k: v for k, v in flat.items() if k not in own}
        instance = apply_overrides(cls(**dict(self.fixed)), own, "-A") if cls else None
        llm_cfg = apply_overrides(LLMConfig(), llm, "-A") if llm else None
        return instance, ({k: getattr(llm_cfg, k) for k in llm} if llm_cfg else {})


REGISTRY: dict[str, AgentSpec] = {}


def register(spec: AgentSpec) -> AgentSpec:
    """Add ``spec`` (a name can be registered once)."""
    if spec.name in REGISTRY:
        raise ValueError(f"agent {spec.name!r} is already registered")
    REGISTRY[spec.name] = spec
    return spec


def spec(name: str) -> AgentSpec:
    """The spec of agent ``name``; an unknown name raises ``ValueError`` listing the known ones."""
    if name not in REGISTRY:
        raise ValueError(f"unknown agent {name!r}; known agents: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def typed_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` of agent ``name`` checked and converted to their types (flat keys), for ``RunOptions``.

    >>> typed_options("fewshot", {"k": "2", "top_p": "0.8"})
    {'k': 2, 'top_p': 0.8}
    """
    agent_spec = spec(name)
    instance, llm = agent_spec.split_options(options)
    out = {}
    for key in options:
        out[key] = llm[key] if key in llm else getattr(instance, key)
    return out


def options_for(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The part of ``options`` that agent ``name`` takes (``compare -A`` applies each setting to the agents that
    have it).

    >>> options_for("zerogen", {"k": 2, "top_p": 0.8})
    {'top_p': 0.8}
    """
    keys = set(spec(name).option_keys())
    return {k: v for k, v in options.items() if k.split(".")[0] in keys}
