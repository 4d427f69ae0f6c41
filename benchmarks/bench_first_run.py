"""Where the first `synth-agent evaluate` spends its time: the default run, from empty caches, split into its parts.

    python benchmarks/bench_first_run.py                 # empty caches (a new STREAMSYNTH_CACHE), the default run
    python benchmarks/bench_first_run.py --warm          # the same again with the caches the first run filled
    python benchmarks/bench_first_run.py -- --student linear     # extra options for `synth-agent evaluate`

It runs the real command in this process (``synth-agent evaluate`` with the README's defaults and an output folder
in a temporary directory) with timers around the functions each part runs in; a part's time excludes the timed
parts nested in it, so the parts add up to no more than the wall time ("other": imports, the env's set figures,
writing files, plots):

* model conversion: the packaged GGUF to a Hugging Face folder (cached);
* model load: the converted model and tokenizer into memory;
* embedder load: the MiniLM sentence-transformers model;
* real data: each task's splits, their embeddings (cached on disk) and the judge;
* generation: the LLM's completions;
* env scoring: the env's steps on the agent's samples (their embeddings, realism, utility, set figures);
* gold students: the fine-tuned student on the real judge split at each N (cached on disk);
* students on the agent's data: the fine-tuned and the linear students trained on the agent's samples, scored on
  the test split.

Time it on a quiet machine (nothing else heavy running); the figure to compare with the target is ``wall``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

PARTS: list[tuple[str, str, str]] = [
    ("model conversion", "streamsynth.generation.models", "_convert_into"),
    ("model load", "streamsynth.generation.models", "load_model_and_tokenizer"),
    ("embedder load", "streamsynth.rewards.embeddings", "SentenceTransformerEmbedder.__init__"),
    ("real data: splits, embeddings, judge", "streamsynth.envs.streamsynth_env", "StreamSynthEnv._build_context"),
    ("generation", "streamsynth.generation.transformers_backend", "TransformersBackend.generate_tokens"),
    ("env scoring", "streamsynth.envs.streamsynth_env", "StreamSynthEnv._step"),
    ("gold students (fine-tuned)", "streamsynth.evaluation.evaluator", "FineTuneStudent._gold_scores"),
    ("students on the agent's data", "streamsynth.evaluation.evaluator", "FineTuneStudent.__call__"),
    ("students on the agent's data", "streamsynth.evaluation.evaluator", "LinearStudent.__call__"),
]


class Timers:
    """Exclusive wall time per part: a timed call's time minus the timed calls nested in it."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._stack: list[list[float]] = []  # per active call: [start, time of nested timed calls]

    def wrap(self, part: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._stack.append([time.perf_counter(), 0.0])
            try:
                return fn(*args, **kwargs)
            finally:
                start, nested = self._stack.pop()
                total = time.perf_counter() - start
                self.seconds[part] = self.seconds.get(part, 0.0) + total - nested
                self.calls[part] = self.calls.get(part, 0) + 1
                if self._stack:
                    self._stack[-1][1] += total

        return timed


@contextlib.contextmanager
def timed_parts(timers: Timers) -> Iterator[None]:
    """Wrap every function of :data:`PARTS` for the duration of the block."""
    patched = []
    for part, module, name in PARTS:
        owner: Any = importlib.import_module(module)
        *path, attr = name.split(".")
        for p in path:
            owner = getattr(owner, p)
        original = getattr(owner, attr)
        patched.append((owner, attr, original))
        setattr(owner, attr, timers.wrap(part, original))
    try:
        yield
    finally:
        for owner, attr, original in reversed(patched):
            setattr(owner, attr, original)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warm", action="store_true", help="keep the caches of the cache folder (default: empty)")
    parser.add_argument("--cache", default=None, help="cache folder (default: a new empty one; with --warm, "
                        "$STREAMSYNTH_CACHE or the usual one)")
    parser.add_argument("evaluate_args", nargs="*", help="options for synth-agent evaluate, after --")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="streamsynth-first-run-")
    if args.cache:
        os.environ["STREAMSYNTH_CACHE"] = args.cache
    elif not args.warm:
        os.environ["STREAMSYNTH_CACHE"] = str(Path(tmp.name) / "cache")
    from streamsynth.cli.main import app
    from streamsynth.paths import cache_dir

    print(f"cache: {cache_dir()} ({'warm' if args.warm else 'empty'}); evaluate {' '.join(args.evaluate_args)}",
          flush=True)
    timers = Timers()
    start = time.perf_counter()
    with timed_parts(timers):
        try:
            app(["evaluate", "--output", str(Path(tmp.name) / "run"), *args.evaluate_args], standalone_mode=False)
        except SystemExit as exc:  # typer's exit on an error
            if exc.code:
                raise
    wall = time.perf_counter() - start
    print("\n| part | seconds | share | calls |\n|---|---|---|---|")
    for part, seconds in sorted(timers.seconds.items(), key=lambda kv: -kv[1]):
        print(f"| {part} | {seconds:.1f} | {seconds / wall:.0%} | {timers.calls[part]} |")
    other = wall - sum(timers.seconds.values())
    print(f"| other (imports, set figures, files, plots) | {other:.1f} | {other / wall:.0%} | |")
    print(f"| **wall** | **{wall:.1f}** ({wall / 60:.1f} min) | | |")
    tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
