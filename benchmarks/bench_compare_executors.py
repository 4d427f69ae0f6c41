"""``synth-agent compare`` with ``--executor local`` and ``--executor ray`` back to back on the same grid.

Each run is its own process into its own fresh folder (nothing reused). Prints the wall time of each, the speed-up
(local / ray), and how far the two runs' figures are apart: identical at equal thread counts (``--local-cpus 1``),
within torch's thread-count noise otherwise (the default local run uses every core).

    python benchmarks/bench_compare_executors.py --agents oracle,zerogen,fewshot --seeds 2 \\
        --stream movie-sentiment,news-topic --student linear [--local-cpus 1] [--out runs/bench-executors]

Run it on a quiet machine: anything else heavy distorts both times.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path


def run(label: str, args: list[str], out: Path) -> float:
    if out.exists():
        shutil.rmtree(out)
    cmd = [sys.executable, "-m", "streamsynth.cli.main", "compare", *args, "--output", str(out)]
    print(f"[{label}] {' '.join(cmd[2:])}", flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"[{label}] failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    for line in proc.stdout.splitlines():
        if " done in " in line:
            print(f"[{label}] {line.strip()}", flush=True)
    return seconds


def figures(out: Path) -> dict[tuple[str, str, str], dict[str, float]]:
    """Per (agent, seed, task): the figures of metrics.json without wall times."""
    rows = {}
    for path in sorted((out / "runs").glob("*/seed-*/metrics.json")):
        data = json.loads(path.read_text())
        for t in data["tasks"]:
            flat = {**{k: v for k, v in t.items() if isinstance(v, (int, float))},
                    **{f"test.{k}": v for k, v in t.get("test", {}).items()}}
            rows[(path.parts[-3], path.parts[-2], t["task"])] = {k: v for k, v in flat.items() if "second" not in k}
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--agents", default="oracle,zerogen,fewshot")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--stream", default="movie-sentiment,news-topic")
    ap.add_argument("--student", default="linear")
    ap.add_argument("--local-cpus", type=int, help="--cpus-per-cell of the local run (default: every core)")
    ap.add_argument("--out", default="runs/bench-executors")
    ap.add_argument("extra", nargs="*", help="more compare options, after --")
    a = ap.parse_args()
    common = ["--agents", a.agents, "--seeds", str(a.seeds), "--stream", a.stream, "--student", a.student, *a.extra]
    out = Path(a.out)
    local_args = common + (["--cpus-per-cell", str(a.local_cpus)] if a.local_cpus else [])
    t_local = run("local", local_args + ["--executor", "local"], out / "local")
    t_ray = run("ray", common + ["--executor", "ray", "--cpus-per-cell", "1"], out / "ray")
    f_local, f_ray = figures(out / "local"), figures(out / "ray")
    assert f_local.keys() == f_ray.keys(), "the two runs hold different cells"
    diffs = [abs(f_local[k][m] - f_ray[k][m]) for k in f_local for m in f_local[k] if m in f_ray[k]]
    n = len(f_local)
    print(f"grid: {a.agents} x {a.seeds} seeds on {a.stream} ({n} cell-tasks), student {a.student}")
    print(f"local: {t_local:.0f} s; ray (--cpus-per-cell 1): {t_ray:.0f} s; speed-up local/ray = {t_local / t_ray:.2f}")
    print(f"figures: {sum(d == 0 for d in diffs)}/{len(diffs)} identical, largest difference {max(diffs):.4f} "
          f"(local at {a.local_cpus or 'every'} thread(s) per cell, ray at 1)")


if __name__ == "__main__":
    main()
