"""The generation backend interface shared by every LLM agent.

A backend turns prompts into completions. A prompt is either a list of chat messages
(``[{"role": "system" | "user" | "assistant", "content": str}, ...]``) or a plain string. Backends apply the
model's chat template when it has one and fall back to a plain-text rendering of the messages otherwise.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Sequence, Union

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


@dataclass(frozen=True)
class TokenCompletion:
    """One sampled completion: the prompt's token ids, the completion's token ids, the decoded completion text."""

    prompt_ids: list[int]
    completion_ids: list[int]
    text: str


class TokenBackend(GenerationBackend):
    """A backend over a Hugging Face tokenizer that also returns token ids (for training on completions):
    transformers and vLLM. Prompts are rendered and encoded by the same rules in both
    (:func:`~streamsynth.generation.transformers_backend.render_prompt`), so a learner trains on the ids sampled."""

    tokenizer: Any

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def render(self, prompt: Prompt) -> tuple[str, bool]:
        """``(text, add_special_tokens)`` for one prompt."""
        from streamsynth.generation.transformers_backend import render_prompt

        return render_prompt(self.tokenizer, prompt)

    def encode(self, prompts: Sequence[Prompt]) -> list[list[int]]:
        """Token ids of each rendered prompt (a chat template's BOS is never doubled)."""
        from streamsynth.generation.transformers_backend import encode_prompts

        return encode_prompts(self.tokenizer, prompts)

    def generate(
        self,
        prompts: Sequence[Prompt],
        params: SamplingParams = SamplingParams(),
        *,
        seed: int | None = None,
        progress: bool = False,
    ) -> list[str]:
        return [c.text for c in self.generate_tokens(prompts, params, seed=seed, progress=progress)]

    @abstractmethod
    def generate_tokens(
        self,
        prompts: Sequence[Prompt],
        params: SamplingParams = SamplingParams(),
        *,
        seed: int | None = None,
        progress: bool = False,
        keep_eos: bool = False,
    ) -> list[TokenCompletion]:
        """Like :meth:`generate`, with the token ids of each prompt and completion. With ``keep_eos`` a completion
        that ended with an end-of-sequence token holds it last in ``completion_ids``; without, it never does."""
