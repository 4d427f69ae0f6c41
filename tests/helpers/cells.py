"""Comparison cells for the executor tests: fast options on the customer-intent example task, and a cell's
figures without its wall time."""

from __future__ import annotations

from pathlib import Path

from streamsynth.evaluation.compare import cell_dir
from streamsynth.evaluation.experiment import load_results
from streamsynth.evaluation.options import RunOptions
from tests.helpers import ROOT

TASK = str(ROOT / "examples" / "tasks" / "customer-intent.toml")
BASE = RunOptions.of(stream=TASK, samples_per_label=2, rounds=1, embedder="hashing", student="linear", device="cpu",
                  max_new_tokens=8, batch_size=8)


def cell_figures(out: Path, agent: str, seed: int) -> list[dict]:
    """A cell's per-task figures without its wall time, and its dataset."""
    _, results = load_results(cell_dir(out, agent, seed))
    return [({k: v for k, v in r.row().items() if k != "wall_s"}, r.dataset) for r in results]
