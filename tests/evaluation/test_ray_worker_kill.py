"""A Ray worker killed in the middle of a cell: Ray runs the cell again on a new worker, which continues from the
cell's checkpoint, and the cell's figures equal an uninterrupted sequential run's (issue 11)."""

from __future__ import annotations

import importlib.util
import os

import pytest

from streamsynth.evaluation.compare import cell_dir, run_compare
from streamsynth.evaluation.executors import LocalExecutor, RayExecutor
from tests.helpers import ROOT, kill_agent
from tests.helpers.cells import BASE, cell_figures

pytestmark = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                                reason="Ray is not installed (pip install 'streamsynth[ray]')")


def test_a_killed_worker_is_replaced_and_its_cell_resumes_from_the_checkpoint(tmp_path, monkeypatch):
    import ray

    kill_agent.register()
    marker = tmp_path / "killed.pid"
    monkeypatch.setenv("STREAMSYNTH_KILL_MARKER", str(marker))
    monkeypatch.setenv("STREAMSYNTH_CACHE", str(tmp_path / "cache"))
    opts = BASE.with_(agent="kill-once", samples_per_label=3, rounds=4, checkpoint_every=1)
    if ray.is_initialized():
        ray.shutdown()
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={
        "worker_process_setup_hook": "tests.helpers.kill_agent.register",
        "env_vars": {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
                     "STREAMSYNTH_KILL_MARKER": str(marker), "STREAMSYNTH_CACHE": str(tmp_path / "cache")}})
    try:
        lines: list[str] = []
        run_compare(["kill-once"], [0], opts, tmp_path / "ray", log=lines.append, executor=RayExecutor(1))
    finally:
        ray.shutdown()
    assert marker.exists() and int(marker.read_text()) != os.getpid()  # a worker process died mid-cell
    assert [line.split(":")[0] for line in lines if " done in " in line] == ["kill-once seed 0"]
    # the retry continued from the checkpoint written before the kill: the acts before it were not redone
    progress = (cell_dir(tmp_path / "ray", "kill-once", 0) / "checkpoint" / "agent" / "state.json").read_text()
    monkeypatch.delenv("STREAMSYNTH_KILL_MARKER")
    run_compare(["kill-once"], [0], opts, tmp_path / "local", log=lambda line: None,
                executor=LocalExecutor(threads=1))
    local = (cell_dir(tmp_path / "local", "kill-once", 0) / "checkpoint" / "agent" / "state.json").read_text()
    assert progress == local  # the same acts in all: 2 before the kill + the rest after it, as without a kill
    assert cell_figures(tmp_path / "ray", "kill-once", 0) == cell_figures(tmp_path / "local", "kill-once", 0)
