"""Reward scoring cost vs dataset size, with embeddings cached; and the embedding throughput.

Scores real tweets (the packaged ``tweet-sentiment`` task, 3 labels) as if an agent had submitted them: judge
fidelity, NovelSum-style novelty against a 4,096-sample reference memory, and every set-level component
(Vendi, distinct-n, balance, student utility on dev, gold student). Prints seconds per size and the 16k/1k ratio.

    python benchmarks/bench_rewards.py [--sizes 250 1000 4000 16000] [--embedder minilm]

Targets (issue 2): 1,000 samples under 0.5 s; 16k/1k time ratio at most 20 (close to linear).

Last, a whole ``StreamSynth-v0`` step of ``--drafts`` draft samples (issue 12: feedback without submitting) after a
first round of 48 accepted tweets, with embeddings cached, next to a submission step of 48 samples.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[250, 1000, 4000, 16000])
    ap.add_argument("--embedder", default="minilm")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--drafts", type=int, default=256, help="draft samples of the env step timed at the end")
    args = ap.parse_args()

    from streamsynth.rewards import single_threaded_blas
    from streamsynth.rewards.blend import RewardWeights
    from streamsynth.rewards.embeddings import CachedEmbedder, get_embedder
    from streamsynth.rewards.novelty import ReferenceMemory
    from streamsynth.rewards.scorer import TaskScorer
    from streamsynth.rewards.setscore import set_figures
    from streamsynth.rewards.validity import sample_key
    from streamsynth.tasks import get_task
    from streamsynth.tasks.splits import SplitSizes, split_samples

    task = get_task("tweet-sentiment")
    rows = task.source.load()
    splits = split_samples(rows, task, SplitSizes(), seed=0)
    used = {sample_key(s, task.fields) for part in (splits.seed, splits.judge, splits.dev, splits.test) for s in part}
    pool = [s for s in rows if sample_key(s, task.fields) not in used]
    rng = np.random.default_rng(0)
    pool = [pool[i] for i in rng.permutation(len(pool))[: max(args.sizes)]]
    print(f"task {task.name}: {len(rows)} real tweets, scoring pools of up to {len(pool)} unseen ones")

    embedder = get_embedder(args.embedder)
    # embedding throughput on texts never seen before (no cache)
    fresh = CachedEmbedder(embedder.inner, disk=False)
    probe = [s["text"] for s in pool[:1000]]
    t0 = time.perf_counter()
    fresh.encode(probe)
    dt = time.perf_counter() - t0
    print(f"embedding throughput ({embedder.name}, uncached): {len(probe) / dt:.0f} texts/s ({len(probe)} texts, "
          f"{dt:.1f} s)")

    t0 = time.perf_counter()
    scorer = TaskScorer(task, splits.judge, splits.dev, embedder)
    print(f"task scorer (embed + fit judge on {len(splits.judge)}, embed dev {len(splits.dev)}): "
          f"{time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    scorer.encode(pool)  # fill the cache: what follows is scoring with embeddings cached
    print(f"embedding the {len(pool)} samples once (cache fill): {time.perf_counter() - t0:.1f} s")

    memory = ReferenceMemory(embedder.dim, capacity=4096)
    memory.add(scorer.encode([s for s in rows[:4096]]).vectors)
    memory.novelty(memory.embeddings[:1])  # compute the memory's local densities once
    weights = RewardWeights()

    def score(samples):
        with single_threaded_blas():  # as the env does in step()
            enc = scorer.encode(samples)
            fid = scorer.fidelity(enc)
            nov = memory.novelty(enc.vectors)
            return set_figures(scorer, enc, fid, nov, len(samples), weights)

    print(f"\n{'n':>7} {'first (s)':>10} {f'best of {args.repeats} (s)':>14} {'utility':>8} {'quality':>8} "
          f"{'semantic':>9}")
    best = {}
    for n in args.sizes:
        data = pool[:n]
        t0 = time.perf_counter()
        figs = score(data)
        first = time.perf_counter() - t0
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            score(data)
            times.append(time.perf_counter() - t0)
        best[n] = min(times)
        print(f"{n:>7} {first:>10.3f} {best[n]:>14.3f} {figs['utility']:>8.3f} {figs['quality']:>8.3f} "
              f"{figs['semantic']:>9.3f}")
    if 1000 in best and max(args.sizes) > 1000:
        top = max(args.sizes)
        print(f"\nratio {top}/1000 (best times): {best[top] / best[1000]:.1f}  (linear would be {top / 1000:.0f})")
    bench_draft_step(task, pool, args.embedder, args.drafts, args.repeats)


def bench_draft_step(task, pool, embedder: str, n_drafts: int, repeats: int) -> None:
    """Seconds of one env step of ``n_drafts`` drafts (cached embeddings) and of a 48-sample submission step."""
    from streamsynth.envs.streamsynth_env import StreamSynthEnv

    def fresh_env():
        env = StreamSynthEnv([task], samples_per_label=32, max_rounds=4, embedder=embedder, feedback_budget=10**6)
        env.reset(seed=0)
        return env

    first, drafts = pool[:48], [{**s, "draft": True} for s in pool[48:48 + n_drafts]]
    env = fresh_env()
    env.step(drafts)  # fills the embedding cache (and the judge/realism models of the task)
    submit_times, draft_times = [], []
    for _ in range(repeats):
        env = fresh_env()
        t0 = time.perf_counter()
        env.step(first)
        submit_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        _, _, _, _, info = env.step(drafts)
        draft_times.append(time.perf_counter() - t0)
    scored = sum(r["code"] is None for r in info["samples"])
    print(f"\nenv step, {len(drafts)} drafts after a round of {len(first)} accepted samples (cached embeddings): "
          f"{min(draft_times):.3f} s best of {repeats} ({scored} passed screening); a submission step of "
          f"{len(first)} samples: {min(submit_times):.3f} s; ratio {min(draft_times) / min(submit_times):.1f}")


if __name__ == "__main__":
    main()
