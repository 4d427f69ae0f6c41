"""The options of one run, each declared once: :class:`RunOptions` composes the env's settings
(:class:`~streamsynth.envs.config.EnvConfig`), the LLM settings every LLM agent shares
(:class:`~streamsynth.synthesis.config.LLMConfig`), the agent's own (``-A``) and SynLearner's (``-L``) settings, and
the run's own fields.

Every setting is declared in one dataclass field, with its default and its help (the field's docstring or
``metadata["help"]``). A field marked with :func:`streamsynth.config.option` is also a first-class command-line
option (``--rounds``): the CLI's options, the keys of run files and the layout of ``config.json`` are derived from
the dataclasses (:func:`streamsynth.config.option_fields`), so adding a setting is one edit.

An options mapping (the command line's given options, a run file, a run folder's ``config.json``) holds the run's
fields, the first-class options by their key (``rounds = 2``, ``model = "..."``), and tables: ``env`` (EnvConfig
settings, dotted or nested), ``llm`` (LLMConfig settings), ``agent_options`` and ``learner``. A ``config.json``
written before 0.4 (first-class keys at the top, ``env`` holding only the ``-E`` overrides) reads the same way.

>>> opts = RunOptions.from_values({"agent": "fewshot", "rounds": 2, "env": {"reward_weights.utility": 0.5}})
>>> opts.env.max_rounds, opts.env.reward_weights.utility, opts.llm.model
(2, 0.5, 'smollm2-135m')
>>> opts.with_(model="qwen2.5-0.5b").llm.model
'qwen2.5-0.5b'
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from streamsynth.config import OptionField, SettingError, apply_overrides, check_int, flatten, option, option_fields
from streamsynth.envs.config import EnvConfig
from streamsynth.synthesis.config import LLMConfig

STUDENT_CHOICES = ("linear", "finetune")
TABLES = ("env", "llm", "agent_options", "learner")
"""Options whose values are tables of settings."""
BOUND = {("env", "data_seed"): "seed"}
"""Settings a run derives from one of its own fields: the env's real-data splits follow the run's seed."""


@dataclass(frozen=True)
class RunOptions:
    """Everything that defines a run (see the module docstring); ``config.json`` records it, a run file fills it."""

    agent: str = field(default="zerogen", metadata=option())
    """Agent to run (see `synth-agent tasks`)."""
    stream: str = field(default="offline", metadata=option())
    """Built-in stream or task name, a stream/task TOML file, or a comma-separated list."""
    seed: int = field(default=0, metadata=option())
    """Seed of the agent and of the real-data splits."""
    env: EnvConfig = field(default_factory=EnvConfig)
    """The env's settings (-E KEY=VALUE for those without an option of their own)."""
    llm: LLMConfig = field(default_factory=LLMConfig)
    """The model, sampling and endpoint settings every LLM agent of the run shares."""
    agent_options: dict[str, Any] = field(default_factory=dict)
    """The agent's own settings (-A KEY=VALUE; see `synth-agent info --agent NAME`), e.g. {"k": 2} for fewshot;
    stored typed. For SynLearner they go to learner (-A and -L are the same there)."""
    learner: dict[str, Any] = field(default_factory=dict)
    """SynLearner settings (-L KEY=VALUE: fields of SynLearnerConfig; the shared model and sampling settings and the
    embedder come from the run's), e.g. {"lr": 1e-4}."""
    student: str = field(default="finetune", metadata=option())
    """Students of the test reports: linear (logistic regression on frozen embeddings) or finetune (also MiniLM
    fine-tuned end to end: the realistic student)."""
    probe_samples_per_label: int | None = field(default=None, metadata=option())
    """Per-label budget of the probe rounds that fill the transfer matrix R of agents that learn (default:
    --samples-per-label; smaller is cheaper and noisier)."""
    checkpoint_every: int = field(default=0, metadata=option())
    """Also checkpoint every N env steps inside a task (rounds and drafts-only steps; agents with checkpoints:
    synlearner, sb3-*; they always checkpoint after each task)."""
    report_to: tuple[str, ...] = field(default=(), metadata=option())
    """Also write the run's scalars (env reward components per step, test figures per task, the learner's steps)
    to tensorboard (RUN_DIR/tensorboard) and/or wandb: a comma-separated list, or none."""

    def __post_init__(self) -> None:
        from streamsynth.evaluation.reporting import parse_report_to

        if not isinstance(self.env, EnvConfig) or not isinstance(self.llm, LLMConfig):
            raise TypeError("RunOptions.env must be an EnvConfig and llm an LLMConfig (RunOptions.from_values builds "
                            "them from a mapping of settings)")
        check_int("seed", self.seed, 0)
        if self.env.data_seed != self.seed:  # the real-data splits follow the run's seed
            object.__setattr__(self, "env", dataclasses.replace(self.env, data_seed=self.seed))
        object.__setattr__(self, "report_to", parse_report_to(self.report_to))
        if self.agent_options:
            from streamsynth.agents.registry import spec, typed_options

            typed = typed_options(self.agent, self.agent_options)
            if spec(self.agent).learner:
                object.__setattr__(self, "learner", {**dict(self.learner), **typed})
                typed = {}
            object.__setattr__(self, "agent_options", typed)
        if self.probe_samples_per_label is not None:
            check_int("probe_samples_per_label", self.probe_samples_per_label)
        if self.student not in STUDENT_CHOICES:
            raise ValueError(f"student must be one of {STUDENT_CHOICES}, got {self.student!r}")
        check_int("checkpoint_every", self.checkpoint_every, 0)
        if self.learner:
            from streamsynth.agents.synlearner.config import SynLearnerConfig

            cfg = SynLearnerConfig.from_dict(dict(self.learner))  # validates names and values now, not mid-run
            # typed as the config holds them (a tuple saved as a JSON list is a tuple again), so the options read
            # back from a run's config.json equal the requested ones
            object.__setattr__(self, "learner", {k: getattr(cfg, k) for k in self.learner})

    # ------------------------------------------------------------------ building
    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> RunOptions:
        """The options of an options mapping (see the module docstring): settings it leaves out take their
        defaults; keys of a run folder's record (``tasks``, ``versions``...) are ignored; an unknown key or a bad
        value raises :class:`~streamsynth.config.SettingError` naming it."""
        tables = normalize(values)
        env = apply_overrides(EnvConfig(), tables.pop("env"), "env")
        llm = apply_overrides(LLMConfig(), tables.pop("llm"), "llm")
        return cls(env=env, llm=llm, **tables)

    @classmethod
    def of(cls, **values: Any) -> RunOptions:
        """:meth:`from_values` of keyword values: ``RunOptions.of(agent="oracle", rounds=2, model="...")``."""
        return cls.from_values(values)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunOptions:
        """The options saved in a run folder's ``config.json`` (:meth:`to_dict`, or the flat layout before 0.4)."""
        return cls.from_values(data)

    def with_(self, **changes: Any) -> RunOptions:
        """A copy with ``changes``: run fields, first-class options by key (``rounds=2``), or tables (merged)."""
        merged = self.to_dict()
        merged["env"].pop("data_seed")  # follows the seed, changed or not
        for key, value in normalize(changes).items():
            if key in ("env", "llm"):
                merged[key] = {**flatten(merged[key]), **value}
            else:  # a run field, or the agent's or the learner's table: replaced
                merged[key] = value
        return RunOptions.from_values(merged)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the run's fields, and ``env`` and ``llm`` as tables of every setting."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "env":
                value = value.to_dict()
            elif f.name == "llm":
                value = dataclasses.asdict(value)
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, dict):
                value = {k: list(v) if isinstance(v, tuple) else v for k, v in value.items()}
            out[f.name] = value
        return out

    def flat(self) -> dict[str, Any]:
        """Every setting as one dotted key (``env.max_rounds``), for comparing two runs setting by setting."""
        return flatten({k: v for k, v in self.to_dict().items() if k not in ("agent_options", "learner")}) | {
            "agent_options": self.agent_options, "learner": self.learner}


# ---------------------------------------------------------------------------------------------------- mappings


@functools.cache
def first_class() -> dict[str, OptionField]:
    """The first-class options of a run, by key (``rounds`` -> ``("env", "max_rounds")``)."""
    return {o.key: o for o in option_fields(RunOptions)}


RUN_FOLDER_KEYS = frozenset({"tasks", "agent_config", "env_config", "reward_weights", "versions", "wall_seconds"})
"""Keys a run folder's ``config.json`` holds besides the options: a record of the run, ignored when read back."""


def normalize(values: Mapping[str, Any]) -> dict[str, Any]:
    """An options mapping as ``{run field: value, ..., "env": {dotted: value}, "llm": {...}, "agent_options":
    {...}, "learner": {...}}``: first-class keys moved into their table, tables flattened, record keys dropped.
    A setting given twice in one mapping with two values (``rounds`` and ``env.max_rounds``) is an error.

    >>> normalize({"rounds": 2, "model": "m", "seed": 1})["env"], normalize({"model": "m"})["llm"]
    ({'max_rounds': 2}, {'model': 'm'})
    """
    options = first_class()
    run_fields = {f.name for f in dataclasses.fields(RunOptions)}
    out: dict[str, Any] = {"env": {}, "llm": {}}
    for key, value in values.items():
        if key in RUN_FOLDER_KEYS:
            continue
        if key in TABLES:
            if value is None:
                continue
            if not isinstance(value, Mapping):
                raise SettingError(f"{key} must be a table of settings, got {value!r}")
            table = flatten(value) if key in ("env", "llm") else dict(value)
            out[key] = {**out.get(key, {}), **table}
        elif key in options and len(options[key].path) == 2:
            table, name = options[key].path
            out[table][name] = value
        elif key in run_fields:
            out[key] = value
        else:
            known = sorted(run_fields - set(TABLES)) + sorted(k for k, o in options.items() if len(o.path) == 2)
            raise SettingError(f"unknown option {key!r}; known: {', '.join(known)}, and the tables "
                               f"{', '.join(TABLES)}")
    for key, value in values.items():  # a first-class key and its table entry must agree
        if key in options and len(options[key].path) == 2 and key not in RUN_FOLDER_KEYS:
            table, name = options[key].path
            given = flatten(values.get(table) or {}).get(name, value)
            if given != value:
                raise SettingError(f"{key}={value!r} and {table}.{name}={given!r}: set it once")
    for (table, name), run_field in BOUND.items():  # derived from a run field; a config.json records the same
        if name in out[table]:
            bound = out[table].pop(name)
            if bound != out.get(run_field, getattr(RunOptions, run_field, None)):
                raise SettingError(f"{table}.{name}={bound!r}: it follows {run_field} "
                                   f"(--{run_field.replace('_', '-')}); set that instead")
    return out
