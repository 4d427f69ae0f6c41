"""How much a busy machine slows a run: ``synth-agent evaluate --stream news-topic`` quiet, next to a busy loop, and
next to a second identical evaluate (issue 10, part 3).

Each condition runs the same command (zerogen, one task, the linear student, a fresh output folder, warm caches) as
a subprocess and times it; the busy loop is one pure-Python process spinning on one core. Prints the seconds of
each condition and the ratios busy / quiet (target: at most 2.5 in both busy cases).

    python benchmarks/bench_threads.py [--repeats 1] [--env OMP_WAIT_POLICY=PASSIVE ...]

``--env`` sets environment variables of the timed runs (to compare thread settings in one session). Run it on an
otherwise quiet machine: it measures contention, so anything else running skews every figure.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMAND = ["evaluate", "--agent", "zerogen", "--stream", "news-topic", "--student", "linear"]


def synth_agent() -> list[str]:
    """The CLI of this interpreter's environment."""
    exe = Path(sys.executable).with_name("synth-agent")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "streamsynth.cli.main"]


def start(env: dict[str, str], out: Path) -> subprocess.Popen:
    return subprocess.Popen([*synth_agent(), *COMMAND, "--output", str(out)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def timed(env: dict[str, str], tmp: Path, name: str, *, second: bool = False) -> float:
    """Seconds of one evaluate; with ``second``, an identical evaluate runs alongside (started at the same time)."""
    other = start(env, tmp / f"{name}-other") if second else None
    t0 = time.perf_counter()
    proc = start(env, tmp / name)
    _, err = proc.communicate()
    seconds = time.perf_counter() - t0
    if other is not None:
        other.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"evaluate failed ({name}):\n{err[-2000:]}")
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    env = dict(os.environ)
    env.update(kv.split("=", 1) for kv in args.env)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        timed(env, tmp, "warm-up")  # model conversion, embedding and student caches
        results: dict[str, list[float]] = {"quiet": [], "busy loop": [], "second evaluate": []}
        for r in range(args.repeats):
            results["quiet"].append(timed(env, tmp, f"quiet-{r}"))
            loop = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            try:
                results["busy loop"].append(timed(env, tmp, f"busy-{r}"))
            finally:
                loop.kill()
                loop.wait()
            results["second evaluate"].append(timed(env, tmp, f"pair-{r}", second=True))
    quiet = min(results["quiet"])
    print(f"settings: {' '.join(args.env) or '(defaults)'}; cores: {os.cpu_count()}")
    for name, values in results.items():
        best = min(values)
        print(f"{name:>16}: {best:7.1f} s (best of {len(values)})  ratio to quiet {best / quiet:.2f}")


if __name__ == "__main__":
    main()
