"""``attrprompt``: attribute-randomised label prompts (AttrPrompt, Yu et al. 2023, *Large Language Model as
Attributed Training Data Generator: A Tale of Diversity and Bias*, NeurIPS 2023 Datasets and Benchmarks).

AttrPrompt makes synthetic data diverse by conditioning every request on randomly drawn attribute values (length,
style, subtopic...) instead of repeating one class-conditional prompt. Here, for each requested sample, one value
of every attribute dimension of the task (``observation["attributes"]``) is drawn with a seeded
``numpy.random.Generator`` and put into the prompt (:func:`~streamsynth.synthesis.prompting.label_prompt` with
``attributes=``)::

    <instruction>

    Write one new example with the label "<label>" (<description>). It should have these properties:
    genre: comedy; length: short.

    Write only the text, nothing else.

When a task has no attribute dimensions, the agent first asks the LLM to propose them, as AttrPrompt does (its
step 1 asks ChatGPT for the attribute dimensions and values of a task): one generation call
(:func:`proposal_prompt`) asks for ``n_dimensions`` dimensions with ``n_values`` values each, one
``dimension: value1; value2; ...`` line per dimension, parsed by :func:`parse_attribute_proposal`. The result is
cached per task name (a task seen again makes no new call) and shown by :meth:`AttrPromptAgent.describe`. When the
completion yields no usable dimension, the agent uses :data:`GENERIC_ATTRIBUTES` and says so: an
:class:`AttributeFallbackWarning` and ``describe()["attribute_fallback"]``.

Simplifications against the paper: the values are shared by all labels (the paper also has class-specific
subtopics), and no example is shown (SynLearner's DAI stage adds real examples; this baseline does not).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from streamsynth.agents.llm import LLMAgent, LLMConfig
from streamsynth.config import check_int
from streamsynth.generation.base import GenerationBackend, SamplingParams
from streamsynth.generation.prompts import Message
from streamsynth.synthesis.prompting import label_prompt, task_brief
from streamsynth.tasks.spec import Sample

GENERIC_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "length": ("a few words", "one short sentence", "one long sentence", "two sentences"),
    "style": ("formal", "casual", "enthusiastic", "matter-of-fact", "humorous"),
    "perspective": ("first person", "second person", "third person"),
}
"""Task-independent dimensions, used only when the LLM's proposal for a task without attributes is unusable."""

PROPOSAL_SYSTEM_PROMPT = (
    "You help design diverse datasets for training text classifiers. Answer in the requested format only."
)

_BULLET = re.compile(r"^\s*(?:[-*•+>]+|\d+\s*[.):]|#+)\s*")
_NAME = re.compile(r"^[a-z][a-z0-9 _/-]*$")
_PLACEHOLDER = re.compile(
    r"^(?:(?:attribute|dimension) names?|values?|dimensions?|attributes?|names?|labels?|examples?)\s*\d*$"
    r"|^(?:\.\.\.|…|etc\.?)$",
    re.IGNORECASE,
)
_MARKUP = re.compile(r"[:\[\]{}<>=]")
_SCAFFOLDING = frozenset({"answer", "reply", "response", "explanation", "note", "output", "task", "sentence", "text",
                          "input", "instruction", "format", "result", "summary"})
"""Line heads that small models write around an answer; never dimension names."""
_QUOTES = "\"'“”‘’«»`"
MAX_NAME_CHARS = 40
MAX_VALUE_CHARS = 60
MAX_WORDS = 6


class AttributeFallbackWarning(UserWarning):
    """The LLM's attribute proposal for a task gave nothing usable; :data:`GENERIC_ATTRIBUTES` are used instead."""


def attribute_dimensions(observation: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """The task's attribute dimensions from the observation (``[{"name", "values"}, ...]``), empty ones dropped.

    >>> attribute_dimensions({"attributes": ({"name": "genre", "values": ("comedy", "drama")},
    ...                                      {"name": "empty", "values": ()})})
    {'genre': ('comedy', 'drama')}
    """
    dims: dict[str, tuple[str, ...]] = {}
    for dim in observation["attributes"]:
        values = tuple(str(v) for v in dim["values"] if str(v).strip())
        if values:
            dims[str(dim["name"])] = values
    return dims


def draw_attributes(dimensions: Mapping[str, tuple[str, ...]], rng: np.random.Generator) -> dict[str, str]:
    """One value of every dimension, drawn uniformly.

    >>> draw_attributes({"length": ("short", "long"), "tone": ("dry",)}, np.random.default_rng(0))
    {'length': 'long', 'tone': 'dry'}
    """
    return {name: values[int(rng.integers(len(values)))] for name, values in dimensions.items()}


def proposal_prompt(observation: Mapping[str, Any], n_dimensions: int = 3, n_values: int = 5) -> list[Message]:
    """The chat prompt asking the LLM for attribute dimensions of the task (AttrPrompt's attribute proposal)."""
    example = "; ".join(f"value{i + 1}" for i in range(n_values))
    user = (
        f"{task_brief(observation)}\n\n"
        f"List {n_dimensions} attributes along which examples for this task can differ (for example length, "
        f"style, topic or tone), with {n_values} short values each. The attributes must not be the labels. "
        f"Write one line per attribute, in exactly this format:\n"
        f"attribute name: {example}"
    )
    return [{"role": "system", "content": PROPOSAL_SYSTEM_PROMPT}, {"role": "user", "content": user}]


def _clean_value(value: str) -> str:
    value = value.replace("**", "").replace("__", "")
    value = _BULLET.sub("", value).strip().strip(_QUOTES).strip().rstrip(".,;").strip().strip(_QUOTES).strip()
    return re.sub(r"\s+", " ", value)


def _split_values(rest: str) -> list[str]:
    """Values of one line: split on ``;``, else on ``,``, else on ``|`` or ``/``."""
    for sep in (";", ",", "|", "/"):
        if sep in rest:
            return rest.split(sep)
    return [rest]


def parse_attribute_proposal(
    text: str, *, max_dimensions: int = 3, max_values: int = 5, exclude: Iterable[str] = ()
) -> dict[str, tuple[str, ...]]:
    """Parse ``dimension: value1; value2; ...`` lines into dimensions, keeping only well-formed parts.

    Tolerated: bullets and numbering, markdown bold, quotes, ``,`` or ``|`` instead of ``;``, chatty lines (skipped).
    A dimension name is lowercased and must be 1-4 words of letters, digits, ``_ / -`` (at most 40 characters),
    not a placeholder of the format (``attribute name``) nor chat scaffolding (``answer``, ``explanation``...); a
    value must hold a letter, be at most 6 words and 60 characters, hold none of ``: [ ] { } < > =`` (signs of a
    template or an example text rather than a value), and differ from the placeholders of the format (``value1``,
    ``...``), from the dimension name and from ``exclude``. Names and values equal to an ``exclude`` entry are
    dropped (the agent passes the task's labels and fields: a "sentiment: positive; negative" dimension would
    contradict the requested label, a "text: ..." line is an example, not a dimension). Values are de-duplicated
    case-insensitively; a dimension keeps at most ``max_values`` and needs at least 2; repeated names keep their
    first line; at most ``max_dimensions`` dimensions are returned. An empty result means nothing was usable.

    >>> parse_attribute_proposal('''Sure! Here are the attributes:
    ... 1. **Tone**: formal; casual; Casual; sarcastic.
    ... - length: short, medium, long
    ... sentiment: positive; negative
    ... attribute name: value1; value2''', exclude=["positive", "negative"])
    {'tone': ('formal', 'casual', 'sarcastic'), 'length': ('short', 'medium', 'long')}
    >>> parse_attribute_proposal("I cannot help with that.")
    {}
    """
    excluded = {e.strip().lower() for e in exclude}
    dims: dict[str, tuple[str, ...]] = {}
    for line in text.splitlines():
        if len(dims) >= max_dimensions:
            break
        line = _BULLET.sub("", line.replace("**", "").replace("__", "")).strip()
        if ":" not in line:
            continue
        head, rest = line.split(":", 1)
        name = re.sub(r"\s+", " ", head.strip().strip(_QUOTES).strip().lower())
        if (not name or len(name) > MAX_NAME_CHARS or len(name.split()) > 4 or not _NAME.match(name)
                or _PLACEHOLDER.match(name) or name in _SCAFFOLDING or name in dims or name in excluded):
            continue
        values: list[str] = []
        seen: set[str] = set()
        for raw in _split_values(rest):
            value = _clean_value(raw)
            low = value.lower()
            if (not value or len(value) > MAX_VALUE_CHARS or len(value.split()) > MAX_WORDS
                    or not re.search(r"[^\W\d_]", value) or _MARKUP.search(value) or _PLACEHOLDER.match(value)
                    or low == name or low in excluded or low in seen):
                continue
            seen.add(low)
            values.append(value)
        if len(values) >= 2:
            dims[name] = tuple(values[:max_values])
    return dims


def propose_dimensions(backend: GenerationBackend, observation: Mapping[str, Any], params: SamplingParams, seed: int,
                       n_dimensions: int = 3, n_values: int = 5, *, agent: str = "attrprompt"
                       ) -> tuple[dict[str, tuple[str, ...]], bool]:
    """Ask the LLM for a task's attribute dimensions (one call): ``(dimensions, used_fallback)``; the generic
    :data:`GENERIC_ATTRIBUTES`, with a warning, when the answer holds none that :func:`parse_attribute_proposal`
    accepts."""
    text = backend.generate([proposal_prompt(observation, n_dimensions, n_values)], params, seed=seed)[0]
    dims = parse_attribute_proposal(text, max_dimensions=n_dimensions, max_values=n_values,
                                    exclude=[*observation["labels"], *observation["fields"]])
    if dims:
        return dims, False
    warnings.warn(
        f"{agent}: the LLM's attribute proposal for task {observation['task']!r} held no usable "
        f"'dimension: value1; value2' line (answer: {text[:200]!r}); using the generic dimensions "
        f"{sorted(GENERIC_ATTRIBUTES)}",
        AttributeFallbackWarning,
        stacklevel=3,
    )
    return dict(GENERIC_ATTRIBUTES), True


class AttrPromptAgent(LLMAgent):
    """Label prompts with one randomly drawn value of every attribute dimension per sample (AttrPrompt).

    Args:
        config: model and sampling settings (shared by all LLM agents).
        backend: a ready generation backend (default: built from ``config`` on first use).
        seed: seeds the attribute draws (one ``numpy`` Generator per task) and the proposal call.
        n_dimensions, n_values: what the proposal call asks for (tasks without attributes only).
        proposal_tokens: token budget of the proposal call (at least the config's ``max_new_tokens``).
    """

    name = "attrprompt"

    def __init__(self, config: LLMConfig | None = None, *, backend: GenerationBackend | None = None, seed: int = 0,
                 n_dimensions: int = 3, n_values: int = 5, proposal_tokens: int = 160) -> None:
        super().__init__(config, backend=backend, seed=seed)
        check_int("n_dimensions", n_dimensions)
        check_int("n_values", n_values, 2)  # a dimension needs 2 values
        check_int("proposal_tokens", proposal_tokens)
        self.n_dimensions = n_dimensions
        self.n_values = n_values
        self.proposal_tokens = proposal_tokens
        self.proposed: dict[str, dict[str, tuple[str, ...]]] = {}
        """Attribute dimensions proposed by the LLM (or the generic fallback), per task name."""
        self.fallback_tasks: list[str] = []
        """Tasks whose proposal was unusable and that use :data:`GENERIC_ATTRIBUTES`."""
        self.proposal_calls = 0
        self._dimensions: dict[str, tuple[str, ...]] = {}
        self._rng = np.random.default_rng([self.seed, 0])

    def begin_task(self, observation: Mapping[str, Any]) -> None:
        self._rng = np.random.default_rng([self.seed, self._episodes])
        dims = attribute_dimensions(observation)
        if not dims:
            task = str(observation["task"])
            if task not in self.proposed:
                self.proposed[task] = self.propose_attributes(observation)
            dims = self.proposed[task]
        self._dimensions = dims

    def propose_attributes(self, observation: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
        """Ask the LLM for the task's attribute dimensions (one call); the generic set, with a warning, when the
        answer holds none that :func:`parse_attribute_proposal` accepts."""
        c = self.config
        params = SamplingParams(max(c.max_new_tokens, self.proposal_tokens), c.temperature, c.top_p)
        seed = int(np.random.default_rng([self.seed, self._episodes, 1]).integers(2**31))
        self.proposal_calls += 1
        dims, fallback = propose_dimensions(self.backend, observation, params, seed, self.n_dimensions, self.n_values,
                                            agent=self.name)
        if fallback:
            self.fallback_tasks.append(str(observation["task"]))
        return dims

    def propose(self, observation: Mapping[str, Any]) -> list[Sample]:
        labels = self.requests(observation)
        prompts = [label_prompt(observation, lbl, attributes=draw_attributes(self._dimensions, self._rng))
                   for lbl in labels]
        return self.generate_samples(observation, prompts, labels)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "n_dimensions": self.n_dimensions,
            "n_values": self.n_values,
            "proposed_attributes": {t: {k: list(v) for k, v in d.items()} for t, d in self.proposed.items()},
            "attribute_proposal_calls": self.proposal_calls,
            "attribute_fallback": bool(self.fallback_tasks),
            "attribute_fallback_tasks": list(self.fallback_tasks),
        }
