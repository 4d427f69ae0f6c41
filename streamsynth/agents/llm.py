"""Shared machinery of LLM agents: one generation backend, one sampling setup, one completion parser."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from streamsynth.agents.base import Agent
from streamsynth.generation.base import GenerationBackend, Prompt
from streamsynth.synthesis.config import LLMConfig, remaining_per_label, request_labels  # noqa: F401 (re-exported)
from streamsynth.synthesis.prompting import parse_completion
from streamsynth.tasks.spec import Sample


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
            if c.backend == "openai":
                self._backend = load_backend("openai", c.model, base_url=c.base_url, api_key_env=c.api_key_env,
                                             concurrency=c.concurrency, cache=c.completion_cache)
            else:
                self._backend = load_backend(c.backend, c.model, device=c.device, dtype=c.dtype,
                                             batch_size=c.batch_size)
        return self._backend

    def generation_usage(self) -> dict[str, int]:
        if self._backend is None:
            return super().generation_usage()
        return self._backend.usage()

    def requests(self, observation: Mapping[str, Any]) -> list[str]:
        """One label per sample to ask for this round (:func:`request_labels`)."""
        return request_labels(observation, self.config)

    def generate_samples(self, observation: Mapping[str, Any], prompts: Sequence[Prompt],
                         labels: Sequence[str]) -> list[Sample]:
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
