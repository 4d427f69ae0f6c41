"""Shared machinery of LLM agents: one generation backend, one sampling setup, one completion parser."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

from streamsynth.agents.base import Agent, remaining_per_label
from streamsynth.agents.prompting import parse_completion
from streamsynth.generation.base import GenerationBackend, Prompt, SamplingParams
from streamsynth.tasks.spec import Sample


@dataclass(frozen=True)
class LLMConfig:
    """Model and sampling settings shared by every LLM agent (so comparisons are at equal model and budget).

    ``oversample``: prompts per missing sample (generations that fail parsing or validity are lost, so asking
    for a bit more fills the target in fewer rounds).
    """

    model: str = "smollm2-135m"
    backend: str = "transformers"
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = 32
    temperature: float = 0.9
    top_p: float = 0.95
    max_new_tokens: int = 64
    oversample: float = 1.5
    max_prompts_per_round: int = 256

    def __post_init__(self) -> None:
        if not self.oversample >= 1.0:
            raise ValueError(f"oversample must be >= 1, got {self.oversample!r}")
        for name in ("batch_size", "max_new_tokens", "max_prompts_per_round"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        SamplingParams(self.max_new_tokens, self.temperature, self.top_p)  # validates

    @property
    def sampling(self) -> SamplingParams:
        return SamplingParams(self.max_new_tokens, self.temperature, self.top_p)


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


class LLMAgent(Agent):
    """Base of the LLM agents: builds the backend lazily, generates, parses completions into samples."""

    def __init__(self, config: LLMConfig | None = None, *, backend: GenerationBackend | None = None, seed: int = 0):
        super().__init__(seed)
        self.config = config or LLMConfig()
        self._backend = backend
        self._round_calls = 0

    @property
    def backend(self) -> GenerationBackend:
        if self._backend is None:
            from streamsynth.generation import load_backend

            c = self.config
            self._backend = load_backend(c.backend, c.model, device=c.device, dtype=c.dtype, batch_size=c.batch_size)
        return self._backend

    def requests(self, observation: Mapping[str, Any]) -> list[str]:
        """One label per sample to ask for this round (:func:`request_labels`)."""
        return request_labels(observation, self.config)

    def generate_samples(self, observation: Mapping[str, Any], prompts: Sequence[Prompt], labels: Sequence[str]) -> list[Sample]:
        """Generate one completion per prompt and parse each into a sample of its label (unparseable ones dropped)."""
        if not prompts:
            return []
        self._round_calls += 1
        seed = hash((self.seed, self._episodes, self._round_calls)) % (2**31)
        completions = self.backend.generate(list(prompts), self.config.sampling, seed=seed)
        fields = list(observation["fields"])
        max_chars = self.max_chars(observation)
        samples = [parse_completion(c, fields, lbl, max_chars) for c, lbl in zip(completions, labels)]
        return [s for s in samples if s is not None]

    @staticmethod
    def max_chars(observation: Mapping[str, Any]) -> int:
        """The task's longest accepted field length (``observation["length"] = [min_chars, max_chars]``)."""
        return int(observation["length"][1])

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **asdict(self.config)}
