"""Time the set-level diversity rewards against the set size n; their costs must grow linearly with n.

Times ``semantic_diversity`` (per-label Vendi from d x d Gram matrices), ``lexical_diversity`` (distinct-1/2) and
``ReferenceMemory.novelty`` (NovelSum-style, against a full memory of 4096 rows) on n random L2-normalized
384-d embeddings with 4 labels and n random word strings, then prints a table of seconds (best of
``--repeats`` runs) and the 16k/1k ratio (about 16 for linear cost).

Run: ``python benchmarks/bench_diversity.py [--sizes 250 1000 4000 16000] [--repeats 5] [--seed 0]``
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable

import numpy as np

from streamsynth.rewards.diversity import l2_normalize, semantic_diversity
from streamsynth.rewards.lexical import lexical_diversity
from streamsynth.rewards.novelty import ReferenceMemory

DIM = 384
MEMORY_ROWS = 4096
LABELS = ("negative", "positive", "neutral", "mixed")


def random_texts(rng: np.random.Generator, n: int, vocab_size: int = 5000) -> list[str]:
    """n strings of 8 to 40 words drawn from a synthetic vocabulary of ``vocab_size`` words."""
    vocab = np.array([f"w{i}" for i in range(vocab_size)])
    lengths = rng.integers(8, 41, size=n)
    words = vocab[rng.zipf(1.3, size=int(lengths.sum())) % vocab_size]
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    return [" ".join(words[bounds[i] : bounds[i + 1]]) for i in range(n)]


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Smallest wall-clock time of ``repeats`` calls of ``fn``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[250, 1000, 4000, 16000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    memory = ReferenceMemory(dim=DIM, capacity=MEMORY_ROWS)
    memory.add(rng.normal(size=(MEMORY_ROWS, DIM)).astype(np.float32))
    start = time.perf_counter()
    _ = memory.sigma  # the O(m^2 d) sparsity pass, paid once per add, not per novelty call
    sigma_seconds = time.perf_counter() - start

    names = ("semantic_diversity", "lexical_diversity", "ReferenceMemory.novelty")
    seconds: dict[str, dict[int, float]] = {name: {} for name in names}
    for n in args.sizes:
        emb = l2_normalize(rng.normal(size=(n, DIM))).astype(np.float32)
        labels = [LABELS[i] for i in rng.integers(0, len(LABELS), size=n)]
        texts = random_texts(rng, n)
        # each lambda is timed right here: bind this iteration's arrays (B023)
        seconds["semantic_diversity"][n] = best_time(lambda emb=emb, labels=labels: semantic_diversity(emb, labels),
                                                     args.repeats)
        seconds["lexical_diversity"][n] = best_time(lambda texts=texts: lexical_diversity(texts), args.repeats)
        seconds["ReferenceMemory.novelty"][n] = best_time(lambda emb=emb: memory.novelty(emb), args.repeats)

    print(f"numpy {np.__version__}, {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}")
    print(f"d = {DIM}, memory = {MEMORY_ROWS} rows (k = {memory.k}), best of {args.repeats} runs")
    print(f"ReferenceMemory sparsity pass (once per add): {sigma_seconds:.3f} s")
    has_ratio = 1000 in args.sizes and 16000 in args.sizes
    header = f"{'component':<26}" + "".join(f"{f'n={n}':>12}" for n in args.sizes)
    print(header + (f"{'16k/1k':>10}" if has_ratio else ""))
    for name in names:
        row = f"{name:<26}" + "".join(f"{seconds[name][n]:>11.4f}s" for n in args.sizes)
        if has_ratio:
            row += f"{seconds[name][16000] / seconds[name][1000]:>10.1f}"
        print(row)


if __name__ == "__main__":
    main()
