"""Generation strategies: a small discrete choice of how to prompt (style, temperature, in-context examples,
attribute variation) and the code that turns one into a dataset with the shared prompting code.

Used by ``StreamSynthStrategy-v0`` (:mod:`streamsynth.envs.strategy`, for RL libraries that cannot write text) and
by :class:`streamsynth.agents.sb3.SB3Agent`, which runs the same policy inside the ordinary agent loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from streamsynth.config import check_int
from streamsynth.generation.base import GenerationBackend, Prompt, SamplingParams
from streamsynth.synthesis.config import LLMConfig, request_labels
from streamsynth.synthesis.prompting import label_prompt, parse_completion
from streamsynth.tasks.spec import Sample

PROMPT_STYLES: tuple[str, ...] = ("zero-shot", "few-shot", "attribute")
"""``zero-shot``: instruction + label (ZeroGen style); ``few-shot``: plus seed examples; ``attribute``: plus seed
examples and attribute values drawn from ``observation["attributes"]`` (AttrPrompt style)."""
TEMPERATURES: tuple[float, ...] = (0.7, 0.9, 1.1)
N_EXAMPLES: tuple[int, ...] = (2, 4)
VARY_MODES: tuple[str, ...] = ("all", "one", "none")
"""How attribute values change across one round's prompts (``attribute`` style only): ``all`` dimensions drawn
anew for every prompt; ``one`` random dimension drawn anew per prompt, the others fixed for the round; ``none``: one
combination drawn for the whole round."""

STRATEGY_NVEC: tuple[int, ...] = (len(PROMPT_STYLES), len(TEMPERATURES), len(N_EXAMPLES), len(VARY_MODES))
"""Sizes of the action components: ``MultiDiscrete(STRATEGY_NVEC)``."""

@dataclass(frozen=True)
class Strategy:
    """How to generate one round's data.

    Attributes:
        style: one of :data:`PROMPT_STYLES`.
        temperature: sampling temperature of this round (replaces ``LLMConfig.temperature``).
        n_examples: seed examples shown per prompt (``few-shot`` and ``attribute`` styles; unused by ``zero-shot``).
        vary: one of :data:`VARY_MODES` (``attribute`` style only; unused by the others).
    """

    style: str
    temperature: float
    n_examples: int
    vary: str

    def __post_init__(self) -> None:
        if self.style not in PROMPT_STYLES:
            raise ValueError(f"style must be one of {PROMPT_STYLES}, got {self.style!r}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature!r}")
        check_int("n_examples", self.n_examples, 0)
        if self.vary not in VARY_MODES:
            raise ValueError(f"vary must be one of {VARY_MODES}, got {self.vary!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def strategy_action_space(seed: int | None = None) -> spaces.MultiDiscrete:
    """The action space of strategies: ``MultiDiscrete([3, 3, 2, 3])`` (style, temperature, examples, vary)."""
    return spaces.MultiDiscrete(np.array(STRATEGY_NVEC, dtype=np.int64), seed=seed)


def strategy_from_action(action: Sequence[int] | np.ndarray) -> Strategy:
    """The strategy an action of :func:`strategy_action_space` stands for; each component indexes its table.

    >>> strategy_from_action([2, 0, 1, 1])
    Strategy(style='attribute', temperature=0.7, n_examples=4, vary='one')
    >>> strategy_from_action([3, 0, 0, 0])
    Traceback (most recent call last):
    ...
    ValueError: action component 0 (style) must be in [0, 3), got 3
    """
    a = np.asarray(action)
    if a.shape != (len(STRATEGY_NVEC),) or not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"a strategy action is {len(STRATEGY_NVEC)} integers, got {action!r}")
    names = ("style", "temperature", "n_examples", "vary")
    for i, (value, n) in enumerate(zip(a.tolist(), STRATEGY_NVEC)):
        if not 0 <= value < n:
            raise ValueError(f"action component {i} ({names[i]}) must be in [0, {n}), got {value}")
    return Strategy(PROMPT_STYLES[a[0]], TEMPERATURES[a[1]], N_EXAMPLES[a[2]], VARY_MODES[a[3]])


# ---------------------------------------------------------------------------------------------- features


def attribute_values(attributes: Sequence[Mapping[str, Any]], n: int, vary: str,
                     rng: np.random.Generator) -> list[dict[str, str]]:
    """``n`` attribute assignments (one per prompt) drawn from the observation's attribute dimensions.

    ``vary="all"``: every dimension drawn anew per prompt; ``"one"``: one combination for the round, then per prompt
    one random dimension redrawn; ``"none"``: the same combination for every prompt. Dimensions without values are
    skipped; no dimensions give empty assignments.

    >>> rng = np.random.default_rng(0)
    >>> dims = [{"name": "tone", "values": ("calm", "angry")}, {"name": "length", "values": ("short", "long")}]
    >>> rows = attribute_values(dims, 3, "none", rng)
    >>> len(rows), rows[0] == rows[1] == rows[2], sorted(rows[0])
    (3, True, ['length', 'tone'])
    """
    if vary not in VARY_MODES:
        raise ValueError(f"vary must be one of {VARY_MODES}, got {vary!r}")
    dims = [(str(d["name"]), [str(v) for v in d["values"]]) for d in attributes if len(d["values"])]
    if not dims:
        return [{} for _ in range(n)]

    def draw() -> dict[str, str]:
        return {name: values[rng.integers(len(values))] for name, values in dims}

    if vary == "all":
        return [draw() for _ in range(n)]
    base = draw()
    if vary == "none":
        return [dict(base) for _ in range(n)]
    out = []
    for _ in range(n):
        name, values = dims[rng.integers(len(dims))]
        out.append({**base, name: values[rng.integers(len(values))]})
    return out


def strategy_prompts(observation: Mapping[str, Any], strategy: Strategy, labels: Sequence[str],
                     rng: np.random.Generator) -> list[Prompt]:
    """One :func:`~streamsynth.synthesis.prompting.label_prompt` per requested label, built as ``strategy`` says.

    Examples (``few-shot`` and ``attribute``) are ``min(n_examples, available)`` seed examples drawn without
    replacement per prompt, of any label (shown with their labels).
    """
    seeds = list(observation["seed_examples"])
    k = min(strategy.n_examples, len(seeds)) if strategy.style != "zero-shot" else 0
    attrs = (attribute_values(observation["attributes"], len(labels), strategy.vary, rng)
             if strategy.style == "attribute" else [None] * len(labels))
    prompts: list[Prompt] = []
    for lbl, attr in zip(labels, attrs):
        examples = [seeds[i] for i in rng.choice(len(seeds), size=k, replace=False)] if k else []
        prompts.append(label_prompt(observation, lbl, examples=examples, attributes=attr or None))
    return prompts


def synthesize(observation: Mapping[str, Any], strategy: Strategy, backend: GenerationBackend,
               rng: np.random.Generator, llm_config: LLMConfig) -> list[Sample]:
    """Execute ``strategy`` for one round: prompts for each label's missing samples times ``oversample``
    (:func:`~streamsynth.agents.llm.request_labels`), one completion each at ``strategy.temperature``, parsed with
    :func:`~streamsynth.synthesis.prompting.parse_completion` (unparseable completions dropped). Every random choice
    (examples, attribute values, the generation seed) comes from ``rng``."""
    labels = request_labels(observation, llm_config)
    if not labels:
        return []
    prompts = strategy_prompts(observation, strategy, labels, rng)
    params = SamplingParams(llm_config.max_new_tokens, strategy.temperature, llm_config.top_p)
    completions = backend.generate(prompts, params, seed=int(rng.integers(2**31)))
    if len(completions) != len(prompts):
        raise RuntimeError(f"backend {backend.name!r} returned {len(completions)} completions for "
                           f"{len(prompts)} prompts")
    fields = list(observation["fields"])
    max_chars = int(observation["length"][1])
    samples = [parse_completion(c, fields, lbl, max_chars) for c, lbl in zip(completions, labels)]
    return [s for s in samples if s is not None]


# ---------------------------------------------------------------------------------------------- the env
