"""A stand-in for the parts of vLLM that StreamSynth calls, backed by transformers + peft on CPU.

Fast and runnable where vLLM is not installed (real vLLM on CPU: ``tests/agents/synlearner/test_vllm_cpu.py``). This
fake keeps vLLM's interface (``LLM(...)``, ``LLM.generate(texts, sampling_params, use_tqdm=, lora_request=)``,
``SamplingParams``, ``vllm.lora.request.LoRARequest``, outputs with ``prompt_token_ids`` and
``outputs[0].token_ids / text / finish_reason / stop_reason``, the end-of-sequence token kept in ``token_ids``) and
really loads each requested adapter folder as vLLM would: a PEFT folder read from disk. So a test can check that
the adapter vLLM would serve is the one the learner trained, and that completions and token ids flow back.
:func:`install` puts it in ``sys.modules`` through pytest's ``monkeypatch``.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from typing import Any


@dataclass
class SamplingParams:
    max_tokens: int = 16
    temperature: float = 1.0
    top_p: float = 1.0
    stop: list[str] | None = None
    seed: int | None = None


@dataclass
class LoRARequest:
    lora_name: str
    lora_int_id: int
    lora_path: str


@dataclass
class CompletionOutput:
    text: str
    token_ids: list[int]
    finish_reason: str
    stop_reason: Any = None


@dataclass
class RequestOutput:
    prompt_token_ids: list[int]
    outputs: list[CompletionOutput]


class LLM:
    """Loads ``model`` (a local folder) with transformers; every LoRA request loads its folder with peft."""

    def __init__(self, model: str, **kwargs: Any) -> None:
        from transformers import AutoTokenizer

        self.model = model
        self.kwargs = kwargs
        self.enable_lora = bool(kwargs.get("enable_lora"))
        self.max_lora_rank = int(kwargs.get("max_lora_rank", 16))
        self.tokenizer = AutoTokenizer.from_pretrained(model)
        self.requests: list[LoRARequest | None] = []
        """The LoRA request of every ``generate`` call, in order."""
        self.served: list[dict[str, Any]] = []
        """The adapter weights each LoRA request loaded (peft state dict), in order."""

    def get_tokenizer(self) -> Any:
        return self.tokenizer

    def _model(self, lora_request: LoRARequest | None) -> Any:
        from peft import PeftModel, get_peft_model_state_dict
        from transformers import AutoModelForCausalLM

        base = AutoModelForCausalLM.from_pretrained(self.model)
        if lora_request is None:
            return base.eval()
        if not self.enable_lora:
            raise ValueError("LoRA is not enabled (vLLM: pass enable_lora=True)")
        peft_model = PeftModel.from_pretrained(base, lora_request.lora_path)
        if peft_model.peft_config["default"].r > self.max_lora_rank:
            raise ValueError("adapter rank above max_lora_rank")
        self.served.append({k: v.detach().clone() for k, v in get_peft_model_state_dict(peft_model).items()})
        return peft_model.eval()

    def generate(self, prompts: list[Any], sampling_params: list[SamplingParams], use_tqdm: bool = True,
                 lora_request: LoRARequest | None = None) -> list[RequestOutput]:
        import torch

        from streamsynth.generation.decoding import decode, eos_token_ids

        self.requests.append(lora_request)
        model = self._model(lora_request)
        eos = eos_token_ids(model, self.tokenizer)
        outputs = []
        with torch.inference_mode():
            for item, sp in zip(prompts, sampling_params, strict=True):
                # vLLM takes text (tokenized with special tokens) or {"prompt_token_ids": [...]} (used as given)
                prompt = list(item["prompt_token_ids"]) if isinstance(item, dict) else self.tokenizer(item)["input_ids"]
                generator = None if sp.seed is None else torch.Generator().manual_seed(sp.seed)
                tokens, _ = decode(model, [prompt], pad_token_id=self.tokenizer.pad_token_id or 0,
                                   max_new_tokens=sp.max_tokens, temperature=sp.temperature, top_p=sp.top_p,
                                   eos_token_ids=eos, generator=generator, keep_eos=True)
                ids = tokens[0]
                ended = bool(ids) and ids[-1] in eos
                outputs.append(RequestOutput(prompt, [CompletionOutput(
                    self.tokenizer.decode(ids, skip_special_tokens=True), ids, "stop" if ended else "length")]))
        return outputs


def install(monkeypatch: Any, *, cpu_build: bool = False) -> types.ModuleType:
    """Make ``import vllm`` and ``from vllm.lora.request import LoRARequest`` give this fake (for one test);
    ``vllm.platforms.current_platform`` says it is the CUDA build, or with ``cpu_build`` the CPU build."""
    vllm = types.ModuleType("vllm")
    platforms = types.ModuleType("vllm.platforms")
    platforms.current_platform = types.SimpleNamespace(is_cpu=lambda: cpu_build)
    vllm.platforms = platforms
    monkeypatch.setitem(sys.modules, "vllm.platforms", platforms)
    vllm.LLM = LLM
    vllm.SamplingParams = SamplingParams
    lora = types.ModuleType("vllm.lora")
    request = types.ModuleType("vllm.lora.request")
    request.LoRARequest = LoRARequest
    vllm.lora = lora
    lora.request = request
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setitem(sys.modules, "vllm.lora", lora)
    monkeypatch.setitem(sys.modules, "vllm.lora.request", request)
    return vllm
