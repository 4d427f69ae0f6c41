"""Generation with Hugging Face transformers, on CPU or one GPU: :class:`TransformersBackend`.

The backend renders prompts (:mod:`~streamsynth.generation.prompts`), sorts them by length into left-padded batches
and samples each batch with the decoding engine of :mod:`~streamsynth.generation.decoding` on the device and dtype
:mod:`~streamsynth.generation.devices` resolves. Everything heavy (torch, transformers) is imported inside functions;
nothing touches a GPU at import time.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from streamsynth.generation.base import GenerationStats, Prompt, SamplingParams, TokenBackend, TokenCompletion
from streamsynth.generation.decoding import StopChecker, decode, eos_token_ids, length_sorted_batches, truncate_at_stop
from streamsynth.generation.devices import resolve_device, resolve_dtype


class TransformersBackend(TokenBackend):
    """Batched sampling from a causal LM with transformers.

    Args:
        model: a packaged model name (``smollm2-135m``, the default), a local folder or ``.gguf`` file, or a hub id;
            see :func:`streamsynth.generation.models.resolve_model`.
        device: ``auto`` (CUDA if available, else CPU), ``cpu`` or ``cuda[:N]``.
        dtype: ``auto`` (bfloat16 on CUDA, float32 on CPU), ``float32``, ``bfloat16`` or ``float16``.
        batch_size: prompts per forward batch.
        trust_remote_code: allow model code from the hub (off unless asked).
    """

    name = "transformers"

    def __init__(
        self,
        model: str = "smollm2-135m",
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 32,
        trust_remote_code: bool = False,
    ) -> None:
        from streamsynth.generation.models import load_model_and_tokenizer

        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.batch_size = batch_size
        self.model_name = model
        self.model, self.tokenizer = load_model_and_tokenizer(
            model, dtype=self.dtype, trust_remote_code=trust_remote_code
        )
        self.model.to(self.device)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            if self.tokenizer.eos_token_id is None:
                raise ValueError(f"the tokenizer of {model!r} has neither a pad nor an eos token; cannot pad batches")
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.eos_token_ids = eos_token_ids(self.model, self.tokenizer)
        self.last_stats = GenerationStats()

    def generate_tokens(
        self,
        prompts: Sequence[Prompt],
        params: SamplingParams = SamplingParams(),
        *,
        seed: int | None = None,
        progress: bool = False,
        keep_eos: bool = False,
    ) -> list[TokenCompletion]:
        import torch
        from tqdm.auto import tqdm

        if isinstance(prompts, str):
            raise TypeError("prompts must be a list of prompts; wrap a single prompt in a list")
        started = time.perf_counter()
        encoded = self.encode(prompts)
        self._check_lengths(encoded, params.max_new_tokens)
        generator = torch.Generator(device=self.device)
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(seed)
        is_done = self._stop_checker(params.stop)
        out: list[TokenCompletion | None] = [None] * len(encoded)
        sampled = 0
        batches = length_sorted_batches([len(ids) for ids in encoded], self.batch_size)
        with torch.inference_mode():
            for batch in tqdm(batches, desc="generating", unit="batch", disable=not progress):
                tokens, n = decode(
                    self.model,
                    [encoded[i] for i in batch],
                    pad_token_id=self.tokenizer.pad_token_id,
                    device=self.device,
                    max_new_tokens=params.max_new_tokens,
                    temperature=params.temperature,
                    top_p=params.top_p,
                    eos_token_ids=self.eos_token_ids,
                    generator=generator,
                    is_done=is_done,
                    keep_eos=keep_eos,
                )
                sampled += n
                for i, row in zip(batch, tokens, strict=True):
                    text = self.tokenizer.decode(row, skip_special_tokens=True)
                    out[i] = TokenCompletion(encoded[i], row, truncate_at_stop(text, params.stop))
        self.last_stats = GenerationStats(len(encoded), sampled, time.perf_counter() - started)
        self.completions += len(encoded)
        self.prompt_tokens += sum(len(ids) for ids in encoded)
        self.completion_tokens += sampled
        return [c for c in out if c is not None]

    def _stop_checker(self, stop: Sequence[str]) -> StopChecker | None:
        """The ``is_done`` predicate for :func:`decode` (``None`` without stop strings)."""
        stop = tuple(s for s in stop if s)
        return StopChecker(self.tokenizer, stop) if stop else None

    def _check_lengths(self, encoded: list[list[int]], max_new_tokens: int) -> None:
        """Reject empty prompts and prompts the model cannot continue for ``max_new_tokens`` tokens."""
        limit = getattr(self.model.config, "max_position_embeddings", None)
        for i, ids in enumerate(encoded):
            if not ids:
                raise ValueError(f"prompt {i} is empty (no tokens); give every prompt some text")
            if limit is not None and len(ids) + max_new_tokens > limit:
                raise ValueError(
                    f"prompt {i} has {len(ids)} tokens; with max_new_tokens={max_new_tokens} it exceeds the "
                    f"{limit} positions of {self.model_name!r}: shorten the prompt or lower max_new_tokens"
                )
