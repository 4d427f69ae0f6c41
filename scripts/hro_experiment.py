"""HRO at the paper's scale on one task, judged on the policy's own unselected data.

For each seed: GRPO (:class:`streamsynth.agents.synlearner.hro.HRORun`) trains a LoRA adapter of the generator on
the env's per-sample score of drafts (:class:`streamsynth.integrations.trl.StreamSynthReward`) over a fixed set of
the task's prompts (default: 500 prompts x 2 epochs x 4 completions, 8 prompts per step: 4,000 completions). Then
the trained policy and the base policy (the same model with the adapter off) each write the same number of samples
from the same **held-out** prompts with the same sampling seed, **no picking**, and both sets are

* scored by the env: a fresh env per set, all its samples drafted in one step (mean per-sample score, judge
  fidelity, realism, novelty, pass rate), and
* used to train the fine-tuned student (and the linear one), scored on the task's real test split, at 16 and at
  128 samples per label (the first ones of each label, in prompt order);

with a few sample features beside them (length, distinct bigrams, truncation), to see what moved. With
``--transfer TASK`` the same adapter and the base model also write TASK's held-out prompts (jump-start). A
control (``--controls 128``, the default): the base model writes the held-out prompts again with a larger token
budget, so that what the trained policy gains by finishing its samples within ``max_new_tokens`` is told apart from
what a longer budget alone gives the base model (added to a finished seed's ``eval.json`` when it lacks it).

    python scripts/hro_experiment.py --task movie-sentiment --seeds 0 1 2 --transfer product-sentiment
    python scripts/hro_experiment.py --task product-sentiment --seeds 0
    python scripts/hro_experiment.py --task movie-sentiment --seeds 0 1 2 --summary-only   # the table so far

Everything lands in ``--out`` (default ``runs/hro``), one folder per task and seed: ``train/`` (the HRO
checkpoint and ``steps.jsonl``; an interrupted training resumes from it), ``eval.json`` (written once the
evaluation is done; a seed with one is not run again) and ``samples/*.jsonl`` (what each policy wrote). The summary
pairs trained and base by seed (t-interval over seeds). Settings that differ from a saved seed's are an error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

SETTINGS = {
    "model": "smollm2-135m", "prompts": 500, "epochs": 2, "group_size": 4, "prompts_per_step": 8, "lr": 1e-4,
    "lora_rank": 16, "lora_alpha": 32, "max_new_tokens": 64, "temperature": 1.0, "top_p": 1.0,
    "n_examples": [0, 1, 2], "eval_per_label": 128, "small_per_label": 16, "transfer_per_label": 16,
    "students": ["finetune", "linear"], "embedder": "minilm",
}
"""Defaults: the paper's HRO data loop (500 x 2 x 4), the probe ladder's LoRA and learning rate."""


# ---------------------------------------------------------------------------------------------------- pure helpers


def first_per_label(samples: Sequence[Mapping[str, str]], n: int) -> list[dict[str, str]]:
    """The first ``n`` samples of each label, in order (no picking).

    >>> first_per_label([{"label": "a", "t": 1}, {"label": "b", "t": 2}, {"label": "a", "t": 3}], 1)
    [{'label': 'a', 't': 1}, {'label': 'b', 't': 2}]
    """
    seen: dict[str, int] = {}
    out = []
    for s in samples:
        if seen.get(s["label"], 0) < n:
            seen[s["label"]] = seen.get(s["label"], 0) + 1
            out.append(dict(s))
    return out


def text_features(texts: Sequence[str], tokens: Sequence[int], max_new_tokens: int) -> dict[str, float]:
    """What a set of completions looks like: mean characters and words, distinct bigrams over all bigrams, and the
    share that ran to the token budget.

    >>> text_features(["a b c", "a b d"], [3, 8], 8)
    {'chars': 5.0, 'words': 3.0, 'distinct_2': 0.75, 'truncated': 0.5}
    """
    words = [t.lower().split() for t in texts]
    bigrams = [tuple(w[i:i + 2]) for w in words for i in range(len(w) - 1)]
    return {"chars": float(np.mean([len(t) for t in texts])) if texts else 0.0,
            "words": float(np.mean([len(w) for w in words])) if texts else 0.0,
            "distinct_2": len(set(bigrams)) / len(bigrams) if bigrams else 0.0,
            "truncated": float(np.mean([n >= max_new_tokens for n in tokens])) if tokens else 0.0}


def sample_scores(rows: Sequence[Mapping[str, Any] | None]) -> list[float]:
    """Each text's per-sample score, 0 for a rejected or unparsed one (what :func:`env_figures` averages)."""
    from streamsynth.envs.feedback import passed_figure

    return [passed_figure(r) for r in rows]


def paired_by_prompt(result: Mapping[str, Any], a: str = "trained", b: str = "base") -> str:
    """One seed's ``a - b`` env score paired by held-out prompt (both policies wrote each prompt once, with the same
    sampling seed), with its 95% t-interval over the prompts; "-" when the scores were not kept.

    >>> paired_by_prompt({"seed": 3, "trained": {"scores": [0.5, 0.4, 0.3]}, "base": {"scores": [0.2, 0.2, 0.2]}})
    'seed 3: +0.200 [-0.048, +0.448] (n=3 prompts)'
    """
    from streamsynth.evaluation.paired import t_interval

    x, y = (result.get(a) or {}).get("scores"), (result.get(b) or {}).get("scores")
    if not x or not y or len(x) != len(y):
        return "-"
    diff = [u - v for u, v in zip(x, y)]
    lo, hi = t_interval(diff)
    return f"seed {result['seed']}: {np.mean(diff):+.3f} [{lo:+.3f}, {hi:+.3f}] (n={len(diff)} prompts)"


def env_figures(rows: Sequence[Mapping[str, Any] | None]) -> dict[str, float]:
    """Mean per-sample env figures of one set: score (0 for rejected and unparsed), and the passed samples' judge
    fidelity, realism and novelty; pass rate."""
    passed = [r for r in rows if r is not None and r.get("code") is None]
    out = {"score": float(np.mean(sample_scores(rows))), "passed": len(passed) / len(rows) if rows else 0.0}
    for key in ("fidelity", "realism", "novelty"):
        out[key] = float(np.mean([r[key] for r in passed])) if passed else 0.0
    return out


# ---------------------------------------------------------------------------------------------------- one seed


def build_policy(s: Mapping[str, Any], seed: int, backend: Any = None) -> Any:
    from streamsynth.agents.synlearner.config import SynLearnerConfig
    from streamsynth.agents.synlearner.policy import LoRAPolicy
    from streamsynth.generation.transformers_backend import TransformersBackend

    backend = backend or TransformersBackend(s["model"], device="cpu", dtype="float32", batch_size=32)
    config = SynLearnerConfig(model=s["model"], lora_rank=s["lora_rank"], lora_alpha=s["lora_alpha"],
                              lora_targets=("all-linear",), lr=s["lr"], group_size=s["group_size"], kl_coef=0.0,
                              loss_type="dapo", grpo_epochs=1, max_grad_norm=1.0, train_batch_size=8,
                              temperature=s["temperature"], top_p=s["top_p"], max_new_tokens=s["max_new_tokens"])
    return LoRAPolicy(backend, config, seed=seed)


def held_out(reward: Any, per_label: int, seed: int, n_examples: Sequence[int],
             training: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """``per_label`` prompt rows per label drawn apart from the training prompts (another seed, and none equal to a
    training prompt), labels in turn."""
    train = {json.dumps(r["prompt"], sort_keys=True) for r in training}
    n = per_label * len(reward.task.labels)
    rows = [r for r in reward.prompts(3 * n, seed=10_000 + seed, n_examples=tuple(n_examples))
            if json.dumps(r["prompt"], sort_keys=True) not in train]
    rows = first_per_label(rows, per_label)
    if len(rows) < n:
        raise RuntimeError(f"could not draw {n} held-out prompts of {reward.task.name!r} apart from the training ones")
    return rows


def write(policy: Any, task: Any, rows: Sequence[Mapping[str, Any]], seed: int, *, adapter: bool,
          max_new_tokens: int | None = None) -> dict[str, Any]:
    """One sample per prompt row, by the policy with or without its adapter, with the same sampling seed either
    way (what each wrote differs only by the adapter); ``max_new_tokens`` overrides the policy's budget."""
    from contextlib import nullcontext

    from streamsynth.synthesis.prompting import parse_completion

    with nullcontext() if adapter else policy.model.disable_adapter():
        completions = policy.sample([r["prompt"] for r in rows], seed=20_000 + seed, max_new_tokens=max_new_tokens)
    texts = [c.text for c in completions]
    samples = [parse_completion(t, list(task.fields), r["label"], int(task.max_chars)) for t, r in zip(texts, rows)]
    return {"texts": texts, "labels": [r["label"] for r in rows], "samples": [s for s in samples if s is not None],
            "tokens": [len(c.completion_ids) for c in completions]}


def judge(task: Any, written: Mapping[str, Any], s: Mapping[str, Any], sizes: Sequence[int], evaluator: Any,
          env_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The env's figures (a fresh env, one step of drafts) and the students' test figures of a written set."""
    from streamsynth.integrations.trl import StreamSynthReward

    fresh = StreamSynthReward(task, embedder=evaluator.embedder, **env_kwargs)
    rows = fresh.score_rows(written["texts"], written["labels"])
    out: dict[str, Any] = {"env": env_figures(rows), "scores": sample_scores(rows),
                           "features": text_features(written["texts"], written["tokens"], s["max_new_tokens"]),
                           "parsed": len(written["samples"]), "students": {}}
    for n in sizes:
        out["students"][str(n)] = evaluator.report(task, first_per_label(written["samples"], n))
    return out


def run_seed(task: Any, seed: int, s: Mapping[str, Any], folder: Path, *, transfer: Any = None,
             backend: Any = None, env_kwargs: Mapping[str, Any] | None = None, log: Any = print) -> dict[str, Any]:
    """Train (or resume), then evaluate one seed; returns and writes ``eval.json``. ``env_kwargs``: more env
    settings (``split_sizes``...) for every env and the evaluator."""
    from streamsynth.agents.synlearner.hro import HROConfig, HRORun
    from streamsynth.evaluation.evaluator import Evaluator
    from streamsynth.integrations.trl import StreamSynthReward
    from streamsynth.io import write_json, write_jsonl

    env_kwargs = dict(env_kwargs or {})
    started = time.perf_counter()
    reward = StreamSynthReward(task, metric="score", embedder=s["embedder"], **env_kwargs)
    rows = reward.prompts(s["prompts"], seed=seed, n_examples=tuple(s["n_examples"]))
    policy = build_policy(s, seed, backend)
    config = HROConfig(epochs=s["epochs"], prompts_per_step=s["prompts_per_step"], group_size=s["group_size"],
                       seed=seed)
    run = HRORun(policy, rows, reward, config, folder / "train")

    def progress(rec: Any) -> None:
        if (rec.step + 1) % 10 == 0 or rec.step + 1 == run.steps:
            recent = run.log[-10:]
            log(f"[{reward.task.name} seed {seed}] step {rec.step + 1}/{run.steps}: reward (last 10) "
                f"{np.mean([r['reward_mean'] for r in recent]):.3f}, "
                f"{np.mean([r['seconds']['total'] for r in recent]):.1f} s/step")

    steps = run.run(on_step=progress)
    trained_s = time.perf_counter() - started
    other = None if transfer is None else StreamSynthReward(transfer, embedder=reward.env.embedder, **env_kwargs)
    evaluator = Evaluator([reward.task] + ([other.task] if other is not None else []), embedder=reward.env.embedder,
                          students=tuple(s["students"]), split_sizes=env_kwargs.get("split_sizes"))
    result: dict[str, Any] = {"task": reward.task.name, "seed": seed, "settings": dict(s),
                              "train": {"steps": len(steps), "completions": sum(r["completions"] for r in steps),
                                        "seconds": sum(r["seconds"]["total"] for r in steps),
                                        "first_10": float(np.mean([r["reward_mean"] for r in steps[:10]])),
                                        "last_10": float(np.mean([r["reward_mean"] for r in steps[-10:]]))}}
    sizes = sorted({s["small_per_label"], s["eval_per_label"]})
    prompts = held_out(reward, s["eval_per_label"], seed, s["n_examples"], rows)
    for name, adapter in (("base", False), ("trained", True)):
        written = write(policy, reward.task, prompts, seed, adapter=adapter)
        write_jsonl(folder / "samples" / f"{name}.jsonl", written["samples"])
        result[name] = judge(reward.task, written, s, sizes, evaluator, env_kwargs)
        log(f"[{reward.task.name} seed {seed}] {name}: env score {result[name]['env']['score']:.3f}")
    if other is not None:
        prompts = held_out(other, s["transfer_per_label"], seed, s["n_examples"])
        for name, adapter in (("base", False), ("trained", True)):
            written = write(policy, other.task, prompts, seed, adapter=adapter)
            write_jsonl(folder / "samples" / f"transfer-{name}.jsonl", written["samples"])
            result[f"transfer_{name}"] = {**judge(other.task, written, s, [s["transfer_per_label"]], evaluator,
                                                  env_kwargs), "task": other.task.name}
    result["seconds"] = {"train": trained_s, "total": time.perf_counter() - started,
                         "train_steps": result["train"]["seconds"]}
    write_json(folder / "eval.json", result)
    return result


def add_controls(task: Any, result: dict[str, Any], s: Mapping[str, Any], folder: Path, budgets: Sequence[int], *,
                 backend: Any = None, env_kwargs: Mapping[str, Any] | None = None, log: Any = print) -> dict[str, Any]:
    """The base policy again on the same held-out prompts, with the same sampling seed, at each larger token budget
    of ``budgets`` (``result["base_<N>"]``): how much of the trained policy's lead the base model gets from room to
    finish its samples alone (at ``max_new_tokens`` many are cut). Adds the ones ``result`` lacks and rewrites
    ``eval.json``; a seed needs no training for it."""
    from streamsynth.evaluation.evaluator import Evaluator
    from streamsynth.integrations.trl import StreamSynthReward
    from streamsynth.io import write_json, write_jsonl

    missing = [int(n) for n in budgets if f"base_{int(n)}" not in result]
    if not missing:
        return result
    env_kwargs, seed = dict(env_kwargs or {}), int(result["seed"])
    reward = StreamSynthReward(task, metric="score", embedder=s["embedder"], **env_kwargs)
    rows = reward.prompts(s["prompts"], seed=seed, n_examples=tuple(s["n_examples"]))
    policy = build_policy(s, seed, backend)
    evaluator = Evaluator([reward.task], embedder=reward.env.embedder, students=tuple(s["students"]),
                          split_sizes=env_kwargs.get("split_sizes"))
    prompts = held_out(reward, s["eval_per_label"], seed, s["n_examples"], rows)
    sizes = sorted({s["small_per_label"], s["eval_per_label"]})
    for n in missing:
        written = write(policy, reward.task, prompts, seed, adapter=False, max_new_tokens=n)
        write_jsonl(folder / "samples" / f"base-{n}.jsonl", written["samples"])
        result[f"base_{n}"] = judge(reward.task, written, {**s, "max_new_tokens": n}, sizes, evaluator, env_kwargs)
        log(f"[{reward.task.name} seed {seed}] base at {n} tokens: env score {result[f'base_{n}']['env']['score']:.3f}")
    write_json(folder / "eval.json", result)
    return result


# ---------------------------------------------------------------------------------------------------- summary


def summarise(results: Sequence[Mapping[str, Any]]) -> str:
    from streamsynth.evaluation.paired import t_interval

    def paired(key_path: Sequence[str], a: str = "trained", b: str = "base") -> str:
        def get(r: Mapping[str, Any], which: str) -> float | None:
            node: Any = r.get(which)
            for k in key_path:
                node = node.get(k) if isinstance(node, Mapping) else None
            return node

        pairs = [(get(r, a), get(r, b)) for r in results if get(r, a) is not None and get(r, b) is not None]
        if not pairs:
            return "-"
        diff = [x - y for x, y in pairs]
        lo, hi = t_interval(diff)
        spread = f" [{lo:+.3f}, {hi:+.3f}]" if len(diff) > 1 else ""
        return (f"{np.mean([y for _, y in pairs]):.3f} -> {np.mean([x for x, _ in pairs]):.3f}: "
                f"{np.mean(diff):+.3f}{spread} (n={len(diff)})")

    lines = [f"seeds: {[r['seed'] for r in results]}; task {results[0]['task']}; training reward first 10 -> last 10 "
             f"steps: " + ", ".join(f"{r['train']['first_10']:.3f} -> {r['train']['last_10']:.3f}" for r in results),
             f"training: {np.mean([r['train']['completions'] for r in results]):.0f} completions, "
             f"{np.mean([r['seconds']['train_steps'] for r in results]) / 60:.1f} min of steps per seed",
             "", "| figure | base -> trained: trained - base [95% t-interval over seeds] |", "|---|---|"]
    rows = [(f"env {k}", ("env", k)) for k in ("score", "fidelity", "realism", "novelty", "passed")]
    sizes = sorted(results[0]["base"]["students"], key=int)
    for n in sizes:
        for key in ("finetune_test_accuracy", "test_accuracy"):
            if key in results[0]["base"]["students"][n]:
                rows.append((f"{key} at {n}/label", ("students", n, key)))
    rows += [(f"feature {k}", ("features", k)) for k in ("chars", "words", "distinct_2", "truncated")]
    lines += [f"| {name} | {paired(path)} |" for name, path in rows]
    controls = sorted({k for r in results for k in r if k.startswith("base_")}, key=lambda k: int(k[5:]))
    for name in [c for c in controls if all(c in r for r in results)]:
        lines += ["", f"trained (at {results[0]['settings']['max_new_tokens']} tokens) against the base model at "
                  f"{name[5:]} tokens, the same prompts and sampling seed:", "",
                  f"| figure | {name} -> trained: trained - {name} |", "|---|---|"]
        lines += [f"| {label} | {paired(path, 'trained', name)} |" for label, path in rows
                  if not label.startswith("feature") or label.split()[-1] in ("chars", "truncated")]
    by_prompt = [paired_by_prompt(r) for r in results]
    lines += ["", "env score, trained - base paired by held-out prompt, per seed: "
              + "; ".join(line for line in by_prompt if line != "-")] if any(b != "-" for b in by_prompt) else []
    if any("transfer_base" in r for r in results):
        other = next(r["transfer_base"]["task"] for r in results if "transfer_base" in r)
        n = str(results[0]["settings"]["transfer_per_label"])
        lines += ["", f"transfer to {other} (the adapter of {results[0]['task']} against the base model):", "",
                  "| figure | base -> trained |", "|---|---|"]
        for name, path in [("env score", ("env", "score")), ("env fidelity", ("env", "fidelity")),
                           (f"finetune_test_accuracy at {n}/label", ("students", n, "finetune_test_accuracy")),
                           (f"test_accuracy at {n}/label", ("students", n, "test_accuracy"))]:
            lines.append(f"| {name} | {paired(path, 'transfer_trained', 'transfer_base')} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="movie-sentiment")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--transfer", default=None, help="a second task the trained adapter writes (jump-start)")
    parser.add_argument("--out", default="runs/hro")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--summary-only", action="store_true")
    parser.add_argument("--controls", nargs="*", type=int, default=[128], metavar="TOKENS",
                        help="token budgets at which the base model writes the held-out prompts again (default 128)")
    for key, value in SETTINGS.items():
        kind = type(value[0]) if isinstance(value, list) else type(value)
        parser.add_argument(f"--{key.replace('_', '-')}", type=kind, default=value,
                            nargs="+" if isinstance(value, list) else None)
    args = parser.parse_args(argv)
    s = {k: getattr(args, k) for k in SETTINGS}
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    results = []
    for seed in args.seeds:
        folder = Path(args.out) / args.task.replace("/", "_") / f"seed-{seed}"
        saved = folder / "eval.json"
        if saved.exists():
            data = json.loads(saved.read_text())
            diff = {k: (data["settings"].get(k), v) for k, v in s.items() if data["settings"].get(k) != v}
            if diff:
                raise SystemExit(f"{saved} was run with other settings {diff}: use another --out or delete it")
            results.append(data)
        elif not args.summary_only:
            results.append(run_seed(args.task, seed, s, folder, transfer=args.transfer,
                                    log=lambda line: print(line, flush=True)))
        if results and results[-1]["seed"] == seed and args.controls and not args.summary_only:
            results[-1] = add_controls(args.task, results[-1], s, folder, args.controls,
                                       log=lambda line: print(line, flush=True))
    if not results:
        raise SystemExit(f"no finished seeds under {args.out}/")
    print(summarise(results))


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
