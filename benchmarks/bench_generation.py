"""Generation throughput of the transformers backend: new tokens per second at several batch sizes.

    python benchmarks/bench_generation.py                      # smollm2-135m, batch 8 and 32, 64 prompts
    python benchmarks/bench_generation.py --batch-sizes 8 32 64 --dtype bfloat16

The prompts are short chat requests of a few kinds (reviews, tweets, questions, headlines) like the ones a synthesis
agent sends. Every batch size generates the same prompts with the same seed; "new tokens" counts the tokens sampled
up to and including each completion's end-of-sequence token. Each configuration runs ``--repeats`` times and the
fastest run is reported (the machine may be shared).
"""

from __future__ import annotations

import argparse
import os
import time

KINDS = [
    "Write a one-sentence movie review that is {}.",
    "Write a short tweet about {} weather.",
    "Ask one question a student might have about {} history.",
    "Write a one-line news headline about a {} sports result.",
]
ATTRIBUTES = ["positive", "negative", "surprising", "funny", "local", "ancient", "boring", "exciting"]


def benchmark_prompts(n: int) -> list[list[dict[str, str]]]:
    """``n`` chat prompts cycling through kinds and attributes."""
    texts = [kind.format(attr) for attr in ATTRIBUTES for kind in KINDS]
    return [[{"role": "user", "content": texts[i % len(texts)]}] for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m", help="packaged name, local folder/.gguf, or hub id")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--n-prompts", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--temperature", type=float, default=0.9)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--repeats", type=int, default=2, help="runs per batch size; the fastest is reported")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch

    from streamsynth.generation import SamplingParams
    from streamsynth.generation.transformers_backend import TransformersBackend

    started = time.perf_counter()
    backend = TransformersBackend(args.model, device=args.device, dtype=args.dtype, batch_size=args.batch_sizes[0])
    load_seconds = time.perf_counter() - started
    print(
        f"model {args.model} on {backend.device} ({str(backend.dtype).removeprefix('torch.')}), "
        f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs; loaded in {load_seconds:.1f} s"
    )
    prompts = benchmark_prompts(args.n_prompts)
    params = SamplingParams(max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=args.top_p)
    backend.generate(prompts[:2], SamplingParams(max_new_tokens=4), seed=args.seed)  # warm-up

    rates: dict[int, float] = {}
    print(f"{'batch':>5} {'prompts':>7} {'new tokens':>10} {'seconds':>8} {'tokens/s':>9}   (all runs, tokens/s)")
    for batch_size in args.batch_sizes:
        backend.batch_size = batch_size
        runs = []
        for _ in range(args.repeats):
            completions = backend.generate(prompts, params, seed=args.seed)
            runs.append(backend.last_stats)
        best = max(runs, key=lambda s: s.tokens_per_second)
        rates[batch_size] = best.tokens_per_second
        all_runs = ", ".join(f"{s.tokens_per_second:.1f}" for s in runs)
        print(
            f"{batch_size:>5} {best.prompts:>7} {best.new_tokens:>10} {best.seconds:>8.2f} "
            f"{best.tokens_per_second:>9.1f}   ({all_runs})"
        )
    first, last = args.batch_sizes[0], args.batch_sizes[-1]
    if first != last:
        print(f"ratio batch {last} / batch {first}: {rates[last] / rates[first]:.2f}x")
    print("sample completions:")
    for prompt, completion in list(zip(prompts, completions, strict=True))[:3]:
        print(f"  {prompt[0]['content']!r} -> {completion!r}")


if __name__ == "__main__":
    main()
