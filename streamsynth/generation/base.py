"""The generation backend interface shared by every LLM agent.

A backend turns prompts into completions. A prompt is either a list of chat messages
(``[{"role": "system" | "user" | "assistant", "content": str}, ...]``) or a plain string. Backends apply the
model's chat template when it has one and fall back to a plain-text rendering of the messages otherwise.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Sequence, Union

Message = dict[str, str]
Prompt = Union[str, Sequence[Message]]


@dataclass(frozen=True)
class SamplingParams:
    """How to sample completions.

    Attributes:
        max_new_tokens: upper bound on generated tokens per completion.
        temperature: sampling temperature; 0 means greedy decoding.
        top_p: nucleus sampling mass.
        stop: strings that end a completion (the completion is cut before the first one).
    """

    max_new_tokens: int = 96
    temperature: float = 0.9
    top_p: float = 0.95
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be a positive int, got {self.max_new_tokens!r}")
        if not self.temperature >= 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature!r}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p!r}")


@dataclass(frozen=True)
class GenerationStats:
    """Counters of the last :meth:`GenerationBackend.generate` call."""

    prompts: int = 0
    new_tokens: int = 0
    seconds: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds if self.seconds > 0 else 0.0


class GenerationBackend(ABC):
    """Turns prompts into completions. Subclasses: transformers (CPU/GPU) and vLLM (optional, GPU)."""

    name: str = "base"
    model_name: str = ""
    last_stats: GenerationStats = GenerationStats()

    @abstractmethod
    def generate(
        self,
        prompts: Sequence[Prompt],
        params: SamplingParams = SamplingParams(),
        *,
        seed: int | None = None,
        progress: bool = False,
    ) -> list[str]:
        """Return one completion (the new text only) per prompt, in order.

        ``seed`` makes sampling reproducible on CPU; ``progress`` shows a progress bar over batches.
        """

    @property
    def has_chat_template(self) -> bool:
        return False
