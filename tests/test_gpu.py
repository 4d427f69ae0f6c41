"""The learner's path on a CUDA GPU: a bf16 GRPO step with LoRA, vLLM's CUDA build sampling with the adapter, and a
SynLearner task end to end. Every test here is marked ``gpu`` and skipped without CUDA
(``tests/agents/synlearner/conftest.py``), so the suite passes on CPU machines and a GPU machine has something real
to run:

    python -m pytest -m gpu tests/test_gpu.py

The packaged SmolLM2-135M-Instruct is the model (bf16 on the GPU); the vLLM test also needs vLLM's CUDA build
(``pip install 'streamsynth[vllm]'``) and is skipped without it.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

pytestmark = [pytest.mark.gpu, pytest.mark.slow]

PROMPTS = [[{"role": "user", "content": f"Write a one-sentence {kind} movie review."}]
           for kind in ("glowing", "scathing", "funny", "sad")]


def _length_reward(completions, **_):
    return [-abs(len(c[0]["content"]) - 50) / 50 for c in completions]


@pytest.fixture
def cuda_backend():
    """A fresh model per test: a policy wraps its backend's model with its adapter in place."""
    from streamsynth.generation.transformers_backend import TransformersBackend

    return TransformersBackend("smollm2-135m", device="cuda", dtype="bfloat16", batch_size=32)


def test_a_bf16_grpo_step_with_lora_on_cuda(cuda_backend):
    import torch

    from streamsynth.agents.synlearner.config import SynLearnerConfig
    from streamsynth.agents.synlearner.hro import grpo_step
    from streamsynth.agents.synlearner.policy import LoRAPolicy

    config = SynLearnerConfig(device="cuda", dtype="bfloat16", lora_rank=16, lora_alpha=32,
                              lora_targets=("all-linear",), lr=1e-4, group_size=8, kl_coef=0.0, loss_type="dapo",
                              temperature=1.0, top_p=1.0, max_new_tokens=48, train_batch_size=32)
    policy = LoRAPolicy(cuda_backend, config, seed=0)
    assert next(p for p in policy.trainable_parameters()).device.type == "cuda"
    before = policy.adapter_state()
    rows = [{"prompt": p} for p in PROMPTS]
    records = [grpo_step(policy, rows, _length_reward, group_size=8, seed=s, step=s) for s in range(3)]
    assert all(r.completions == 32 and math.isfinite(r.loss) and r.grad_norm > 0 for r in records)
    after = policy.adapter_state()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    # log-probabilities are float32 whatever the model's dtype (the loss is not computed in bf16)
    logp, mask = policy.logprobs([policy.encode_pair(PROMPTS[0], "A warm and funny film.")])
    assert logp.dtype == torch.float32 and logp.device.type == "cuda" and bool((logp[mask > 0] < 0).all())
    print(f"bf16 GRPO step on CUDA: {np.mean([r.seconds['total'] for r in records[1:]]):.2f} s for 32 completions "
          f"(sample {np.mean([r.seconds['sample'] for r in records[1:]]):.2f} s)")


@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vLLM is not installed")
def test_vllm_cuda_samples_with_the_trained_adapter(cuda_backend):
    from streamsynth.agents.synlearner.config import SynLearnerConfig
    from streamsynth.agents.synlearner.policy import LoRAPolicy
    from streamsynth.agents.synlearner.vllm_sampler import VLLMSampler
    from streamsynth.generation.vllm_backend import VLLMBackend

    config = SynLearnerConfig(backend="vllm", device="cuda", dtype="bfloat16", max_new_tokens=12, temperature=0.0,
                              lora_rank=8, lr=2e-3, vllm_gpu_memory=0.3)
    served = VLLMBackend("smollm2-135m", device="cuda", dtype="bfloat16", enable_lora=True, max_lora_rank=8,
                         max_model_len=1024, gpu_memory_utilization=0.3)
    try:
        sampler = VLLMSampler(config, backend=served)
        policy = LoRAPolicy(cuda_backend, config, seed=0, sampler=sampler)
        before = policy.sample(PROMPTS, seed=0)
        policy.sft([policy.encode_pair(p, "A tender, funny and moving film.") for p in PROMPTS], epochs=4,
                   rng=np.random.default_rng(0))
        after = policy.sample(PROMPTS, seed=0)
        assert sampler.saves == 2
        reference = cuda_backend.generate_tokens(PROMPTS, config.sampling, seed=0, keep_eos=True)
        assert [c.prompt_ids for c in after] == [c.prompt_ids for c in reference]
        assert [c.completion_ids for c in after] != [c.completion_ids for c in before]  # the served adapter moved
        # bf16 kernels differ between vLLM and transformers: greedy answers agree on their first tokens
        assert sum(a.completion_ids[:3] == r.completion_ids[:3] for a, r in zip(after, reference)) >= 3
    finally:
        served.close()


def test_a_synlearner_task_end_to_end_on_cuda(cuda_backend, make_env):
    from streamsynth.agents.synlearner.agent import SynLearnerAgent
    from streamsynth.agents.synlearner.config import SynLearnerConfig
    from streamsynth.evaluation.runner import run_stream

    env = make_env(samples_per_label=4, max_rounds=2)
    config = SynLearnerConfig(device="cuda", dtype="bfloat16", max_new_tokens=48, feedback_steps=2,
                              feedback_prompts=2, group_size=4)
    agent = SynLearnerAgent(config, backend=cuda_backend, embedder=env.embedder, seed=0)
    results = run_stream(env, agent, seed=0)
    assert len(results) == 2 and all(r.rounds >= 1 for r in results)
    steps = [e for e in agent.log if e["phase"] == "feedback"]
    assert len(steps) == 4 and all(e["loss"] is None or math.isfinite(e["loss"]) for e in steps)
    assert agent.policy.updates > 0
