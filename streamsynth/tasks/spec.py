"""What a synthesis task is: the :class:`Task` dataclass and the :class:`DataSource` protocol.

A task says what to synthesize (instruction, sample fields, labels with descriptions, attribute dimensions
for diverse prompting, length bounds) and where its real data comes from. The real data is only used by
the environment (judge, utility reward, evaluation) and to show agents a few seed examples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from streamsynth.errors import TaskError

Sample = dict[str, str]
"""One labelled sample: ``{field: text, ..., "label": label_name}``."""

LABEL_KEY = "label"


@runtime_checkable
class DataSource(Protocol):
    """Where a task's real labelled data comes from.

    ``load()`` returns every available real sample as ``{field: text, ..., "label": name}`` dicts whose labels
    are names from the task's label set. Implementations must be picklable (no lambdas) so envs can run in
    subprocesses, and must raise :class:`~streamsynth.errors.ResourceNotFoundError` or
    :class:`~streamsynth.errors.TaskError` with a fix when the data is missing or malformed.
    """

    def load(self) -> list[Sample]: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class Task:
    """A synthesis task of the stream.

    Attributes:
        name: short unique id, e.g. ``"movie-sentiment"``.
        instruction: what the synthesizer must write, in plain words.
        labels: ordered mapping label name -> short description.
        source: where the task's real data comes from.
        fields: names of the text fields of one sample (``("text",)``, or ``("premise", "hypothesis")`` for NLI).
        attributes: attribute dimensions for diverse prompting, name -> example values (may be empty).
        min_chars: shortest accepted length of each field, in characters.
        max_chars: longest accepted length of each field, in characters.
        domain: free-form family, e.g. ``"sentiment"`` or ``"topic"``; used in listings only.
    """

    name: str
    instruction: str
    labels: Mapping[str, str]
    source: DataSource
    fields: tuple[str, ...] = ("text",)
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    min_chars: int = 10
    max_chars: int = 600
    domain: str = "custom"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise TaskError("a task needs a non-empty string 'name'")
        if not isinstance(self.instruction, str) or not self.instruction.strip():
            raise TaskError(f"task {self.name!r}: 'instruction' must be a non-empty string")
        if not isinstance(self.labels, Mapping) or len(self.labels) < 2:
            raise TaskError(
                f"task {self.name!r}: needs at least two labels (label -> description), got {self.labels!r}"
            )
        for label, desc in self.labels.items():
            if not isinstance(label, str) or not label.strip() or not isinstance(desc, str):
                raise TaskError(f"task {self.name!r}: label {label!r} must be a non-empty string with a string "
                                "description")
        fields = (self.fields,) if isinstance(self.fields, str) else tuple(self.fields)
        if not fields or any(not isinstance(f, str) or not f or f == LABEL_KEY for f in fields):
            raise TaskError(f"task {self.name!r}: 'fields' must be non-empty field names other than 'label', "
                            f"got {fields!r}")
        if len(set(fields)) != len(fields):
            raise TaskError(f"task {self.name!r}: duplicate field names in {fields!r}")
        object.__setattr__(self, "fields", fields)
        object.__setattr__(self, "labels", dict(self.labels))
        attrs: dict[str, tuple[str, ...]] = {}
        for dim, values in dict(self.attributes).items():
            vals = tuple(values) if not isinstance(values, str) else (values,)
            if not vals or any(not isinstance(v, str) or not v.strip() for v in vals):
                raise TaskError(f"task {self.name!r}: attribute {dim!r} needs a list of non-empty strings")
            attrs[str(dim)] = vals
        object.__setattr__(self, "attributes", attrs)
        if not (isinstance(self.min_chars, int) and isinstance(self.max_chars, int)) or not (
            1 <= self.min_chars < self.max_chars
        ):
            raise TaskError(
                f"task {self.name!r}: length bounds must satisfy 1 <= min_chars < max_chars, "
                f"got {self.min_chars!r}, {self.max_chars!r}"
            )
        if not isinstance(self.source, DataSource):
            raise TaskError(f"task {self.name!r}: 'source' must have load() and describe(), "
                            f"got {type(self.source).__name__}")

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(self.labels)

    def check_samples(self, samples: Sequence[Mapping[str, str]], origin: str) -> list[Sample]:
        """Keep the real samples that fit this task (all fields non-empty, known label); error when none do."""
        kept: list[Sample] = []
        unknown: set[str] = set()
        known_seen = False
        for s in samples:
            label = s.get(LABEL_KEY)
            if label not in self.labels:
                unknown.add(str(label))
                continue
            known_seen = True
            if all(isinstance(s.get(f), str) and s[f].strip() for f in self.fields):
                kept.append({**{f: s[f].strip() for f in self.fields}, LABEL_KEY: label})
        if unknown and not known_seen:
            raise TaskError(
                f"task {self.name!r}: no sample of {origin} has a known label; found labels {sorted(unknown)[:10]}, "
                f"expected {list(self.labels)} (fix the label mapping of the task)"
            )
        if not kept:
            raise TaskError(f"task {self.name!r}: {origin} holds no usable sample with non-empty fields "
                            f"{list(self.fields)}")
        return kept


@dataclass(frozen=True)
class InMemorySource:
    """Real data already in memory (a list of samples), e.g. for tasks built in Python code.

    >>> InMemorySource((({"text": "fine", "label": "pos"}),)).load()
    [{'text': 'fine', 'label': 'pos'}]
    """

    samples: tuple[Mapping[str, str], ...]
    name: str = "in-memory data"

    def load(self) -> list[Sample]:
        return [dict(s) for s in self.samples]

    def describe(self) -> str:
        return f"{self.name} ({len(self.samples)} samples)"
