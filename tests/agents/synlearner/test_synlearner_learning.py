"""SynLearner learns from the env's feedback alone (issue 12): GRPO on drafts, through the real env loop.

The test suite's tiny Llama is random, so everything it writes is rejected or scores 0 and there is nothing to
learn from. Here it is first fine-tuned (all weights, a few seconds) to write the task's sentences under the
agent's own prompts, without regard to the label; then SynLearner takes 24 feedback steps on drafts in one task
and must raise the env's draft reward (its score per completion, 0 when rejected), against a control that runs
the same steps with a learning rate of ~0. The task asks for at least MIN_CHARS characters, more than most of
the sentences the model learned, so many drafts are rejected ``too_short`` at first: a signal a model this small
can act on (it cannot learn the label: 2 layers of width 32 do not read the label out of a 300-token prompt).
"""

from __future__ import annotations

import numpy as np
import pytest

from streamsynth.agents.synlearner.agent import SynLearnerAgent
from streamsynth.agents.synlearner.config import SynLearnerConfig
from streamsynth.envs.streamsynth_env import StreamSynthEnv
from streamsynth.evaluation.runner import run_stream
from streamsynth.generation.transformers_backend import TransformersBackend
from tests.helpers.tiny_model import save_tiny_model, warm_start
from tests.helpers.tiny_task import templated_task

SPLITS = {"seed_per_label": 3, "judge": 160, "dev": 80, "test": 80}
STEPS = 24
MIN_CHARS = 32
# the tiny model needs a far larger step than SmolLM2 (lr 1e-4): its weights are few and start random
# (DAI's pick is not what this test measures: its pool is not drafted, and the budget holds exactly the steps)
# (preference_prior="mean": the prompt patterns of the run the figures in docs/results/feedback-steps.md were
# measured on)
LEARNER = dict(max_new_tokens=32, feedback_steps=STEPS, feedback_prompts=4, group_size=4, eft_epochs=0,
               train_batch_size=16, dai_drafts=False, preference_prior="mean")


def _env() -> StreamSynthEnv:
    return StreamSynthEnv([templated_task(MIN_CHARS)], embedder="hashing", split_sizes=SPLITS, samples_per_label=8,
                          max_rounds=1, feedback_budget=STEPS * 16)


def _agent(model_dir, env, lr: float) -> SynLearnerAgent:
    return SynLearnerAgent(SynLearnerConfig(**LEARNER, lr=lr),
                           backend=TransformersBackend(str(model_dir), device="cpu", batch_size=32),
                           embedder=env.embedder, seed=0)


@pytest.fixture(scope="module")
def writer(tmp_path_factory):
    """The tiny model, fine-tuned on the task's sentences (either label) under the prompts SynLearner writes."""
    folder = save_tiny_model(tmp_path_factory.mktemp("tiny-writer"), max_positions=2048)
    env = _env()
    obs, _ = env.reset(seed=0)
    agent = _agent(folder, env, 1e-3)
    dims = agent._dimensions(obs, propose=False)
    rng = np.random.default_rng(0)
    texts = [s["text"] for s in templated_task(MIN_CHARS).source.load()]
    pairs = [agent.policy.encode_pair(agent._prompt(obs, obs["labels"][i % 2], dims, rng)[0],
                                      texts[int(rng.integers(len(texts)))]) for i in range(400)]
    return warm_start(folder, pairs, steps=120)


def _feedback_steps(model_dir, lr: float) -> tuple[np.ndarray, np.ndarray]:
    """The draft reward and the share of drafts the env accepted, per feedback step."""
    env = _env()
    agent = _agent(model_dir, env, lr)
    run_stream(env, agent, seed=0)
    steps = [e for e in agent.log if e["phase"] == "feedback"]
    assert [e["step"] for e in steps] == list(range(STEPS)) and all(e["completions"] == 16 for e in steps)
    return np.array([e["draft_reward"] for e in steps]), np.array([e["passed"] / 16 for e in steps])


def test_feedback_steps_raise_the_draft_reward_within_a_task(writer, one_torch_thread):
    """On one torch thread (the path is chaotic: two threads moved the learned run's last third from 0.065 to
    0.093, measured 2026-12-03): learned 0.026 -> 0.065 (passed 0.44 -> 0.98), control 0.024 -> 0.036 (0.38 ->
    0.35). A learner that does not learn stays at the control's figures and fails every threshold."""
    (learned, passed), (control, control_passed) = _feedback_steps(writer, 1e-2), _feedback_steps(writer, 1e-7)
    assert learned[0] == control[0]  # the same first step: same prompts and draws, no update yet
    first, last = slice(0, STEPS // 3), slice(2 * STEPS // 3, STEPS)
    print(f"draft reward, first -> last third: learned {learned[first].mean():.3f} -> {learned[last].mean():.3f} "
          f"(passed {passed[first].mean():.2f} -> {passed[last].mean():.2f}), control {control[first].mean():.3f} "
          f"-> {control[last].mean():.3f} (passed {control_passed[first].mean():.2f} -> "
          f"{control_passed[last].mean():.2f})")
    assert learned[last].mean() > learned[first].mean() + 0.03, learned.round(3)
    assert learned[last].mean() > control[last].mean() + 0.02, (learned.round(3), control.round(3))
    assert passed[last].mean() > control_passed[last].mean() + 0.4
