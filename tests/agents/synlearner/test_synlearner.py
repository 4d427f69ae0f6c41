"""SynLearner on CPU with a tiny random Llama: learning through the real loop, carry-over, probes, resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from streamsynth.agents.synlearner.checkpoint import CheckpointError
from streamsynth.agents.synlearner.config import SynLearnerConfig
from streamsynth.agents.synlearner.hierarchical import (
    completion_components,
    hierarchical_rewards,
    masked_group_advantages,
)
from streamsynth.errors import StreamSynthError
from streamsynth.evaluation.experiment import RunHooks, load_transfer, run_experiment
from streamsynth.evaluation.options import RunOptions
from streamsynth.evaluation.runner import run_stream
from tests.helpers import ROOT
from tests.helpers.run_kill import Kill, assert_same_results, kill_and_resume
from tests.helpers.synlearner import SMALL, lora_weights, tiny_agent, tiny_backend

TASK = str(ROOT / "examples" / "tasks" / "customer-intent.toml")
def _base(agent) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in agent.policy.model.named_parameters() if "lora_" not in k}


# ----------------------------------------------------------------------------------------------- config and rewards


def test_config_validates_and_round_trips():
    c = SynLearnerConfig(lora_rank=4, lr=5e-5, n_examples=(0, 3))
    assert SynLearnerConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    for bad, match in [({"group_size": 1}, "group_size"), ({"lr": 0}, "lr"), ({"loss_type": "ppo"}, "loss_type"),
                       ({"reward_weights": (1, 1)}, "reward_weights"), ({"select_weight": 2}, "select_weight"),
                       ({"select_gate": 1}, "select_gate"), ({"lora_rank": 0}, "lora_rank"),
                       ({"temperature": -1}, "temperature")]:
        with pytest.raises(ValueError, match=match):
            SynLearnerConfig(**bad)
    with pytest.raises(ValueError, match="unknown SynLearner setting"):
        SynLearnerConfig.from_dict({"lora_rnk": 4})


def test_completion_components_reject_feedback_that_does_not_match():
    with pytest.raises(ValueError, match="does not hold"):
        completion_components([3], {"components": {}, "samples": [{"index": 0, "accepted": True}]}, 2)


def test_groups_with_one_scored_member_do_not_train():
    adv, ok = masked_group_advantages(np.array([1.0, 5.0, 2.0, 2.0]), np.array([True, False, True, True]), 2)
    assert adv.tolist() == [0.0, 0.0, 0.0, 0.0] and not ok.any()  # one scored / no spread: no signal


# ----------------------------------------------------------------------------------------------------- the policy


def test_policy_learns_an_easy_reward_and_only_lora_changes(model_dir):
    """GRPO through the real pieces (sampling, group advantages, clipped loss, optimiser): the reward is the share
    of one token in the completion; it must rise, LoRA weights must move and base weights must not."""
    from streamsynth.agents.synlearner.policy import LoRAPolicy

    backend = tiny_backend(model_dir)
    base = {k: v.clone() for k, v in backend.model.state_dict().items()}
    policy = LoRAPolicy(backend, SynLearnerConfig(max_new_tokens=8, lr=0.05, train_batch_size=64, kl_coef=0.0,
                                                  group_size=8, lora_rank=4), seed=0)
    lora_before = {k: v.clone() for k, v in policy.adapter_state().items()}
    prompts = [[{"role": "user", "content": f"Write sentence {i}."}] for i in range(4) for _ in range(8)]
    first = policy.sample(prompts, seed=0)
    target = int(np.bincount([t for c in first for t in c.completion_ids]).argmax())  # a token it already emits
    means = []
    for step in range(30):
        comps = first if step == 0 else policy.sample(prompts, seed=step)
        r = np.array([np.mean([t == target for t in c.completion_ids]) if c.completion_ids else 0.0 for c in comps])
        adv, ok = masked_group_advantages(r, np.ones(len(r), bool), 8)
        idx = [i for i in range(len(comps)) if ok[i] and comps[i].completion_ids]
        policy.grpo([(comps[i].prompt_ids, comps[i].completion_ids) for i in idx], adv[idx].tolist())
        means.append(float(r.mean()))
    assert np.mean(means[-5:]) > np.mean(means[:5]) + 0.3, means
    after = policy.adapter_state()
    assert any(not torch.equal(lora_before[k], after[k]) for k in after)
    for name, value in policy.model.get_base_model().state_dict().items():
        if "lora_" in name:
            continue
        key = name.replace(".base_layer", "")
        assert torch.equal(value, base[key]), name


def test_grpo_passes_after_the_first_clip_against_the_old_policy(model_dir):
    """With ``grpo_epochs`` > 1 the old log-probabilities are those before the first pass: the first pass has ratio
    1 (nothing clipped), later passes move away from it and, at a large learning rate, the clip acts and is
    logged; one pass per step never clips (the issue's defect: the ratio was always 1)."""
    from streamsynth.agents.synlearner.policy import LoRAPolicy

    prompts = [[{"role": "user", "content": f"Write sentence {i}."}] for i in range(2) for _ in range(4)]
    adv = [1.0, -1.0, 0.5, -0.5] * 2
    figures = {}
    for epochs in (1, 3):
        policy = LoRAPolicy(tiny_backend(model_dir), SynLearnerConfig(max_new_tokens=8, lr=0.05, kl_coef=0.0,
                                                                  group_size=4, lora_rank=4, grpo_epochs=epochs,
                                                                  clip_eps=0.05), seed=0)
        comps = policy.sample(prompts, seed=0)
        figures[epochs] = [s.clip_fraction for s in policy.grpo([(c.prompt_ids, c.completion_ids) for c in comps],
                                                                adv)]
    assert figures[1] == [0.0]
    assert len(figures[3]) == 3 and figures[3][0] == 0.0
    assert max(figures[3][1:]) > 0.0, figures


def test_policy_starts_at_the_base_model_and_sft_lowers_the_loss(model_dir):
    from streamsynth.agents.synlearner.policy import LoRAPolicy

    policy = LoRAPolicy(tiny_backend(model_dir), SynLearnerConfig(lr=0.02, train_batch_size=4), seed=0)
    pairs = [policy.encode_pair([{"role": "user", "content": "Say it."}], f"the film was fine {i}") for i in range(4)]
    with torch.no_grad():
        with_adapter, mask = policy.logprobs(pairs)
        base, _ = policy.logprobs(pairs, adapter=False)
    assert torch.equal(with_adapter, base)  # LoRA B starts at 0
    assert pairs[0][1][-1] == policy.tokenizer.eos_token_id  # SFT teaches the model to stop
    losses = [s.loss for s in policy.sft(pairs, epochs=8, rng=np.random.default_rng(0))]
    assert losses[-1] < losses[0] - 0.5
    meta, tensors = policy.optimizer_state()
    json.dumps(meta)  # JSON-compatible, tensors separate (safetensors, never pickle)
    assert meta["updates"] == 8 and all(isinstance(t, torch.Tensor) for t in tensors.values())


def test_logprobs_match_full_logits_and_project_only_completion_positions(model_dir):
    """Log-probabilities equal those read from the full logits of each whole sequence, for prompts and completions
    of different lengths, on both paths (prompts prefilled, and one batch of whole sequences); the vocabulary
    projection sees the completions' positions (and each prompt's last one), not the prompts."""
    from streamsynth.agents.synlearner.grpo import token_logprobs
    from streamsynth.agents.synlearner.policy import LoRAPolicy

    policy = LoRAPolicy(tiny_backend(model_dir), SynLearnerConfig(temperature=0.7), seed=0)
    pairs = [([5, 6, 7, 8, 9, 10], [11, 12, 13]), ([20, 21, 22], [23, 24, 25, 26, 27]), ([30, 31, 32, 33], [34])]
    hidden = policy.model.config.hidden_size
    seen = []
    hook = policy.model.get_base_model().get_output_embeddings().register_forward_hook(
        lambda module, args, output: seen.append(tuple(args[0].shape)))
    with torch.no_grad():
        logp, mask = policy.logprobs(pairs)
        assert seen == [(3, 1, hidden), (3, 5, hidden)]
        batch = torch.nn.utils.rnn.pad_sequence(policy._batch_logprobs(pairs), batch_first=True)
    hook.remove()
    width, first = max(len(p) + len(c) for p, c in pairs), min(len(p) for p, _ in pairs) - 1
    assert seen[2:] == [(3, width - first, hidden)]
    for i, (p, c) in enumerate(pairs):
        with torch.no_grad():
            full = policy.model(input_ids=torch.tensor([p + c])).logits[0]
        want = token_logprobs(full[len(p) - 1: len(p) - 1 + len(c)][None] / 0.7, torch.tensor([c]))[0]
        assert mask[i].tolist() == [1.0] * len(c) + [0.0] * (5 - len(c))
        assert torch.allclose(logp[i, : len(c)], want, atol=1e-5), (i, logp[i], want)
        assert torch.allclose(batch[i, : len(c)], want, atol=1e-5), (i, batch[i], want)
    with pytest.raises(ValueError, match="empty prompt"):
        policy.logprobs([([], [1, 2])])


def test_prompts_are_prefilled_once_and_give_the_same_values_and_gradients(model_dir):
    """Prompts run once each (a GRPO group's for all its completions) before one pass over the completions:
    log-probabilities and LoRA gradients equal those of one padded batch of whole sequences, in the pairs' order,
    in training mode, with a group of one-token completions, a lone pair, a one-token prompt and the adapter off."""
    from streamsynth.agents.synlearner.policy import LoRAPolicy

    policy = LoRAPolicy(tiny_backend(model_dir), SynLearnerConfig(temperature=0.8, lora_dropout=0.0), seed=0)
    with torch.no_grad():  # a non-zero adapter, so that it matters whether it is on
        for name, param in policy.model.named_parameters():
            if "lora_B" in name:
                param.normal_(0.0, 0.05, generator=torch.Generator().manual_seed(len(name)))
    a, b, c = [5, 6, 7, 8, 9, 10, 11], [20, 21, 22, 23], [80, 81, 82]
    pairs = [(a, [30, 31, 32]), (b, [40, 41]), (a, [33]), (c, [70]), (a, [34, 35, 36, 37, 38]),
             ([50, 51, 52], [53, 54]), ([60], [61, 62]), (b, [42, 43, 44]), (c, [71])]
    lengths = [len(c) for _, c in pairs]
    weights = torch.linspace(-1.0, 1.0, 5)
    policy.model.train()

    def run(fn):
        policy.optimizer.zero_grad(set_to_none=True)
        logp, mask = fn()
        (logp * mask * weights).sum().backward()
        grads = {n: p.grad.clone() for n, p in policy.model.named_parameters() if p.grad is not None}
        return logp.detach(), mask, grads

    calls = []
    hook = policy.model.get_base_model().get_output_embeddings().register_forward_hook(
        lambda module, args, output: calls.append(tuple(args[0].shape[:2])))
    cached = run(lambda: policy.logprobs(pairs))
    hook.remove()
    # the 4 distinct prompts of 8 pairs (their last logits only), then their completions, then the one-token prompt
    assert calls == [(4, 1), (8, 5), (1, 3)]
    plain = run(lambda: (torch.nn.utils.rnn.pad_sequence(policy._batch_logprobs(pairs), batch_first=True),
                         cached[1]))
    assert cached[1].sum(1).tolist() == lengths
    assert torch.allclose(cached[0], plain[0], atol=1e-5)
    assert cached[2].keys() == plain[2].keys() and len(cached[2]) > 0
    for name, grad in cached[2].items():
        assert torch.allclose(grad, plain[2][name], atol=1e-5, rtol=1e-4), name
    with torch.no_grad():
        off, _ = policy.logprobs(pairs, adapter=False)
        with policy.model.disable_adapter():
            base = torch.nn.utils.rnn.pad_sequence(policy._batch_logprobs(pairs), batch_first=True)
    assert torch.allclose(off, base, atol=1e-5) and not torch.allclose(off, cached[0], atol=1e-3)


# -------------------------------------------------------------------------------------------------- the agent


def test_agent_in_the_gym_loop_carries_adapter_and_memory_to_the_next_task(model_dir, make_env):
    env = make_env(samples_per_label=4, max_rounds=3)
    agent = tiny_agent(model_dir, env)
    seen = {}
    original = agent.begin_task

    def begin_task(observation):
        original(observation)
        seen[str(observation["task"])] = (lora_weights(agent), list(agent.memory.tasks), len(agent.memory))

    agent.begin_task = begin_task
    ends = {}
    results = run_stream(env, agent, seed=0, on_task_end=lambda r: ends.setdefault(r.task, lora_weights(agent)))
    first, second = [r.task for r in results]
    phases = [(e["task"], e["phase"]) for e in agent.log]
    assert phases[:2] == [(first, "dai-draft"), (first, "dai")]
    assert phases[2:4] == [(first, "group-draft"), (first, "pick")]  # later rounds draft, train, pick
    assert (second, "dai") in phases
    assert any(e.get("eft_sequences") for e in agent.log if e["phase"] == "dai")
    start_second, memory_tasks, _ = seen[second]
    assert all(torch.equal(start_second[k], ends[first][k]) for k in start_second)  # carried over
    assert any(not torch.equal(start_second[k], seen[first][0][k]) for k in start_second)  # ... and trained
    assert memory_tasks == [first]
    assert [e for e in agent.log if e["task"] == second and e["phase"] == "dai"][0]["eft_replay"] > 0


def test_synthesize_changes_nothing(model_dir, make_env):
    env = make_env(samples_per_label=4, max_rounds=2)
    agent = tiny_agent(model_dir, env)
    run_stream(env, agent, seed=0)
    before = (lora_weights(agent), agent.memory.state_dict()["meta"], agent.rng.bit_generator.state, agent.calls,
              len(agent.log))
    obs, _ = env.reset(seed=0)
    data = agent.synthesize(obs)
    assert data and all(s["label"] in obs["labels"] for s in data)
    after = (lora_weights(agent), agent.memory.state_dict()["meta"], agent.rng.bit_generator.state, agent.calls,
             len(agent.log))
    assert all(torch.equal(before[0][k], after[0][k]) for k in before[0]) and before[1:] == after[1:]
    assert agent.synthesize(obs) == data  # deterministic for the agent as it is


def test_probes_use_common_random_numbers_across_rows(model_dir, make_env, monkeypatch):
    """The b row (before learning) and every R row (after a task) of a task draw the same random numbers: the
    same sampling seed, and the same uniforms behind the prompt choices, so that rows differ only by what the agent
    learned (its adapter, and its memory's preferences over prompt patterns and attributes)."""
    from streamsynth.agents.synlearner.memory import ExperienceMemory

    env = make_env(samples_per_label=4, max_rounds=2)
    agent = tiny_agent(model_dir, env)
    obs, _ = env.reset(seed=0)
    calls = []
    real_sample = agent._sample

    def spy(o, rows, seed):
        calls.append((seed, [r["prompt"] for r in rows]))
        return real_sample(o, rows, seed)

    monkeypatch.setattr(agent, "_sample", spy)
    agent.synthesize(obs)
    fresh = ExperienceMemory()
    fresh.load_state_dict(agent.memory.state_dict())
    monkeypatch.setattr(agent, "_sample", real_sample)
    run_stream(env, agent, seed=0)
    assert agent.policy.updates > 0 and agent.memory != fresh
    monkeypatch.setattr(agent, "_sample", spy)
    agent.synthesize(obs)
    learned = agent.memory
    agent.memory = fresh  # the preferences as they were: the same prompts too
    agent.synthesize(obs)
    agent.memory = learned
    assert calls[0][0] == calls[1][0] == calls[2][0]
    assert calls[2] == calls[0]


# ------------------------------------------------------------------------------------------ checkpoints and resume


def _opts(model_dir, **changes) -> RunOptions:
    return RunOptions.of(agent="synlearner", stream=f"{TASK},movie-sentiment", samples_per_label=4, rounds=3,
                      model=str(model_dir), device="cpu", batch_size=16, max_new_tokens=16, embedder="hashing",
                      probe_samples_per_label=1, learner=dict(SMALL), student="linear", **changes)


@pytest.mark.parametrize("where", ["inside the first task", "first round of the second task"])
def test_resume_after_kill_gives_identical_results(model_dir, tmp_path, where):
    opts = _opts(model_dir, checkpoint_every=1)
    full = run_experiment(opts, tmp_path / "full")
    assert full[0].rounds >= 2  # requests spread over the rounds: the first task has an inside
    # killed during round k, the run resumes from the checkpoint of round k - 1 (or of the task before)
    kill_at = 2 if where == "inside the first task" else full[0].rounds + 1
    resumed = kill_and_resume(opts, tmp_path / "killed", kill_at)
    assert_same_results(resumed, full)
    assert load_transfer(tmp_path / "killed") == load_transfer(tmp_path / "full")


def test_compare_continues_a_killed_synlearner_cell_from_its_checkpoint(model_dir, tmp_path):
    from streamsynth.evaluation.compare import cell_dir, run_compare

    opts = _opts(model_dir, checkpoint_every=1)
    full = run_experiment(opts, tmp_path / "full")

    def on_round(task, r, reward):
        if r == 2:
            raise Kill

    with pytest.raises(Kill):
        run_experiment(opts, cell_dir(tmp_path / "cmp", "synlearner", 0), RunHooks(on_round=on_round))
    logs: list[str] = []
    result = run_compare(["synlearner"], [0], opts, tmp_path / "cmp", log=logs.append)
    assert any("resuming from its checkpoint" in m for m in logs)
    cell = result.cells[("synlearner", 0)]
    assert [r.test for r in cell] == [r.test for r in full] and [r.dataset for r in cell] == [r.dataset for r in full]


def test_resume_refuses_other_settings_and_agents_without_checkpoints(model_dir, tmp_path, make_env):
    env = make_env(samples_per_label=2, max_rounds=1)
    agent = tiny_agent(model_dir, env)
    run_stream(env, agent, seed=0)
    agent.save_state(tmp_path / "agent")
    other = tiny_agent(model_dir, env, lora_rank=4)
    with pytest.raises(CheckpointError, match="lora_rank"):
        other.load_state(tmp_path / "agent")
    (tmp_path / "agent" / "agent.json").write_text("{broken")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        tiny_agent(model_dir, env).load_state(tmp_path / "agent")
    opts = RunOptions.of(agent="oracle", stream=TASK, samples_per_label=2, rounds=1, embedder="hashing",
                         student="linear")
    run_dir = tmp_path / "oracle"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps(opts.to_dict()))
    with pytest.raises(StreamSynthError, match="cannot be resumed"):
        run_experiment(opts, run_dir, resume=True)


def test_cli_learner_options_and_resume_errors(tmp_path):
    from typer.testing import CliRunner

    from streamsynth.cli.main import app, parse_learner_options

    assert parse_learner_options(["lr=5e-5", "group_size=8", "isolated=true"]) == \
        {"lr": 5e-5, "group_size": 8, "isolated": True}
    for bad, match in [(["lora_rnk=4"], "lora_rnk: unknown setting; known: dtype, top_p, oversample, "
                                        "max_prompts_per_round, vllm_gpu_memory, lora_rank, "), (["lr"], "KEY=VALUE"),
                       (["model=x"], "--model"), (["group_size=many"], "group_size='many': expected int"),
                       (["isolated=maybe"], "true or false"),
                       (["embedder=hashing"], "--embedder")]:
        with pytest.raises(ValueError, match=match):
            parse_learner_options(bad)
    runner = CliRunner()
    res = runner.invoke(app, ["evaluate", "--resume", str(tmp_path / "nowhere")])
    assert res.exit_code == 2 and "no config.json" in res.output
    res = runner.invoke(app, ["evaluate", "--agent", "synlearner", "-L", "group_size=1",
                              "--output", str(tmp_path / "x")])
    assert res.exit_code == 2 and "group_size must be an int >= 2" in res.output
    res = runner.invoke(app, ["evaluate", "--agent", "synlearner", "--backend", "openai", "--base-url",
                              "http://127.0.0.1:9/v1", "--stream", TASK, "--embedder", "hashing",
                              "--output", str(tmp_path / "v")])
    assert res.exit_code == 2 and "cannot be trained from here" in res.output, res.output
    res = runner.invoke(app, ["info", "--learner"])
    assert res.exit_code == 0 and "lora_rank = 8" in res.output and "kl_coef = 0.02" in res.output


def test_rewording_every_rejection_message_leaves_training_unchanged(model_dir, make_env, monkeypatch,
                                                                    one_torch_thread):
    """Agents key on reason codes: the same run with every message reworded trains to the same adapter (bit for
    bit, so on one torch thread: see the fixture)."""
    from streamsynth.rewards import reasons

    def run():
        env = make_env(samples_per_label=8, max_rounds=3)
        # (a run with the unjudged completions asserted below: groups submitted as sampled, so some find labels full)
        agent = tiny_agent(model_dir, env, dai_drafts=False, group_drafts=False)
        results = run_stream(env, agent, seed=0)
        return lora_weights(agent), agent.log, [r.rejected_reasons for r in results], env

    lora, log, rejected, _ = run()
    monkeypatch.setattr(reasons, "MESSAGES", {code: "rejected, for reasons" for code in reasons.Reason})
    lora2, log2, rejected2, env = run()
    env.reset(seed=0)
    _, _, _, _, info = env.step([{"text": "?", "label": "nope"}])
    assert info["rejected"][0]["reason"] == "rejected, for reasons"  # the rewording took effect
    # a GRPO step trained while some completions were unjudged (left out of the groups by their code): with the
    # decision keyed on message wording, the rewording would have scored them 0 and changed the adapter
    assert any(e["phase"] == "grpo" and e["trained"] and e["unjudged"] for e in log)
    assert log2 == log and rejected2 == rejected
    assert all(torch.equal(lora[k], lora2[k]) for k in lora)


# ------------------------------------------------------------------------------------------ feedback steps (drafts)


def test_runs_write_learning_curves(model_dir, tmp_path):
    opts = _opts(model_dir).with_(stream=TASK, rounds=2, learner={**SMALL, "feedback_steps": 2,
                                                                   "feedback_prompts": 1, "group_size": 2})
    run_experiment(opts, tmp_path / "run")
    rows = [json.loads(line) for line in (tmp_path / "run" / "learning.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in rows][:4] == ["feedback", "feedback", "dai-draft", "dai"]
    assert all(r["task"] for r in rows) and "draft_reward" not in rows[2]  # the curve is the feedback steps'

    assert (tmp_path / "run" / "learning.png").stat().st_size > 1000


def test_drafts_and_in_step_duplicates_in_the_hierarchical_reward():
    info = {"components": {"utility": 0.7}, "samples": [
        {"index": 0, "draft": True, "accepted": False, "code": None, "fidelity": 0.8, "novelty": 0.5, "realism": 1.0,
         "utility_gain": -0.03},
        {"index": 1, "draft": True, "accepted": False, "code": "duplicate_in_step"},
        {"index": 2, "draft": True, "accepted": False, "code": "over_feedback_budget"},
        {"index": 3, "draft": True, "accepted": False, "code": "too_short"}]}
    q, d, u, scored = completion_components([0, 1, 2, 3], info, n_labels=2, label_gate=False)
    assert q.tolist() == [0.8, 0, 0, 0] and d.tolist() == [0.5, 0, 0, 0]
    assert u.tolist() == [-0.03, 0, 0, 0]  # the draft's own utility credit, not the set's utility
    assert scored.tolist() == [True, True, False, True]  # a duplicate within the step is penalised, not skipped


def test_label_gate_novelty_counts_only_with_the_label():
    """Novel text the judge reads as another label earned diversity credit, and SynLearner raised its drafts'
    novelty while their fidelity stayed near chance (docs/results/archive/smol-feedback-3seeds.md): with the gate,
    quality is fidelity above chance (the env's quality) and novelty counts in proportion to it."""
    rows = [{"index": i, "draft": True, "accepted": False, "code": None, "fidelity": f, "novelty": nov,
             "realism": 0.5, "utility_gain": 0.0}
            for i, (f, nov) in enumerate([(0.9, 0.2), (0.45, 0.95), (0.6, 0.1)])]
    q, d, _, _ = completion_components([0, 1, 2], {"samples": rows}, n_labels=2)
    np.testing.assert_allclose(q, [0.8 * 0.5, 0.0, 0.2 * 0.5])  # below chance: no quality
    np.testing.assert_allclose(d, [0.2 * 0.4, 0.0, 0.1 * 0.1])  # the most novel draft, below chance: no diversity
    q4, _, _, _ = completion_components([0], {"samples": rows}, n_labels=4)
    np.testing.assert_allclose(q4, [(0.9 - 0.25) / 0.75 * 0.5])  # chance is 1/K
    q0, d0, _, _ = completion_components([0, 1, 2], {"samples": rows}, n_labels=2, label_gate=False)
    np.testing.assert_allclose(q0, [0.45, 0.225, 0.3])
    np.testing.assert_allclose(d0, [0.1, 0.475, 0.05])
    # in a GRPO group the novel draft below chance ranks last; without the gate its novelty lifted it to second
    ones = np.ones(3, bool)
    assert np.argsort(hierarchical_rewards(q, d, np.zeros(3), ones)).tolist() == [1, 2, 0]
    assert np.argsort(hierarchical_rewards(q0, d0, np.zeros(3), ones)).tolist() == [2, 1, 0]


def test_utility_credit_depends_on_the_completion():
    """Issue 12, 2b: the set utility credited to every accepted completion became an "accepted" indicator after
    standardisation; the per-sample gain must move the advantages, and the set utility must not."""

    def advantages(gains, set_utility):
        info = {"components": {"utility": set_utility}, "samples": [
            {"index": i, "accepted": True, "code": None, "fidelity": 0.8, "novelty": 0.5, "realism": 1.0,
             "utility_gain": g} for i, g in enumerate(gains)]}
        q, d, u, scored = completion_components(list(range(len(gains))), info, n_labels=2)
        return masked_group_advantages(hierarchical_rewards(q, d, u, scored, (0.4, 0.3, 0.3)), scored, 4)[0]

    base = advantages([0.01, 0.02, 0.03, 0.04], 0.45)
    assert np.all(np.diff(base) > 0)  # equal quality and novelty: the completion with more credit leads
    assert not np.allclose(base, advantages([0.04, 0.03, 0.02, 0.01], 0.45))
    np.testing.assert_array_equal(base, advantages([0.01, 0.02, 0.03, 0.04], 0.95))  # the set figure is not used


@pytest.mark.parametrize("prior, share_of_seen", [("mean", (0.25, 0.42)), ("fixed", (0.0, 0.05))])
def test_prompt_patterns_follow_the_memory_prior(model_dir, make_env, prior, share_of_seen):
    """Rewards near 0.15 (the gated reward's scale): with the kind's mean as prior an unseen pattern is worth the
    same as the seen one (each drawn about a third of the time); a fixed 0.5 prior makes the seen one rare."""
    env = make_env()
    obs, _ = env.reset(seed=0)
    agent = tiny_agent(model_dir, env, preference_prior=prior, n_examples=(0, 1, 2))
    for _ in range(20):
        agent.memory.record("pattern", "examples=0", 0.15)
    dims = agent._dimensions(obs, propose=False)
    rng = np.random.default_rng(0)
    patterns = [agent._prompt(obs, obs["labels"][0], dims, rng)[1] for _ in range(300)]
    low, high = share_of_seen
    assert low <= patterns.count("examples=0") / 300 <= high
    with pytest.raises(ValueError, match="preference_prior must be 'mean' or 'fixed'"):
        SynLearnerConfig(preference_prior="0.5")
