"""compare's executors: settings-checked reuse, failed cells reported at the end, Ray cells equal to sequential
ones, and the model converted once per machine when parallel cells start on an empty cache."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import multiprocessing as mp
import os

import pytest

from streamsynth.errors import StreamSynthError
from streamsynth.evaluation.compare import cell_dir, run_compare, settings_diff
from streamsynth.evaluation.executors import LocalExecutor, RayExecutor
from tests.helpers.cells import BASE, TASK, cell_figures


def test_a_finished_cell_is_reused_only_with_the_same_settings_and_force_recomputes(tmp_path):
    lines: list[str] = []
    run_compare(["oracle"], [0], BASE, tmp_path, log=lines.append)
    run_compare(["oracle"], [0], BASE.with_(checkpoint_every=2), tmp_path, log=lines.append)  # no effect on results
    assert any("complete, reused" in line for line in lines)
    lines.clear()  # the oracle does not learn, so it has no probe runs and the probe size cannot change its cell
    run_compare(["oracle"], [0], BASE.with_(probe_samples_per_label=3), tmp_path, log=lines.append)
    assert any("complete, reused" in line for line in lines)
    learner = {**json.loads((cell_dir(tmp_path, "oracle", 0) / "config.json").read_text()),
               "agent_config": {"learns": True}}  # the same folder, had its agent learnt, is not reused
    assert settings_diff(learner, BASE.with_(agent="oracle", seed=0, probe_samples_per_label=3)) == [
        "probe_samples_per_label: None -> 3"]
    with pytest.raises(StreamSynthError) as exc:
        run_compare(["oracle"], [0], BASE.with_(samples_per_label=3), tmp_path, log=lines.append)
    assert "oracle seed 0" in str(exc.value) and "samples_per_label: 2 -> 3" in str(exc.value)
    assert "--force" in str(exc.value)
    with pytest.raises(StreamSynthError, match=r"env.near_copy_overlap: 0.6 -> 0.8"):
        run_compare(["oracle"], [0], BASE.with_(env={"near_copy_overlap": 0.8}), tmp_path, log=lines.append)
    result = run_compare(["oracle"], [0], BASE.with_(samples_per_label=3), tmp_path, log=lines.append, force=True)
    assert result.cells[("oracle", 0)][0].accepted == 9  # 3 labels x 3, recomputed
    # a cell saved by another package version is not reused either
    cfg_path = cell_dir(tmp_path, "oracle", 0) / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["versions"]["streamsynth"] = "0.0.1"
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(StreamSynthError, match=r"streamsynth version: 0.0.1 -> "):
        run_compare(["oracle"], [0], BASE.with_(samples_per_label=3), tmp_path, log=lines.append)


def test_a_failing_cell_does_not_stop_the_others_and_is_named_at_the_end(tmp_path):
    lines: list[str] = []
    opts = BASE.with_(model=str(tmp_path / "missing.gguf"))
    with pytest.raises(StreamSynthError) as exc:
        run_compare(["zerogen", "oracle"], [0], opts, tmp_path / "cmp", log=lines.append)
    message = str(exc.value)
    assert message.startswith("1 of 2 cell(s) failed: zerogen seed 0: ") and "missing.gguf" in message
    assert any(line.startswith("oracle seed 0: done in") for line in lines)
    assert (cell_dir(tmp_path / "cmp", "oracle", 0) / "metrics.json").exists()
    assert not (tmp_path / "cmp" / "results.md").exists()  # tables only once every cell is in


def _convert(gguf: str, cache: str, queue) -> None:
    os.environ["STREAMSYNTH_CACHE"] = cache
    from streamsynth.generation import models

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        folder = models.ensure_hf_folder(models.resolve_model(gguf))
    queue.put((folder, "converting" in err.getvalue()))


def test_two_processes_on_an_empty_cache_convert_the_model_once(tmp_path):
    from tests.helpers.tiny_model import write_tiny_gguf

    gguf = tmp_path / "tiny.gguf"
    write_tiny_gguf(gguf)
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_convert, args=(str(gguf), str(tmp_path / "cache"), queue)) for _ in range(2)]
    for p in procs:
        p.start()
    got = [queue.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert all(p.exitcode == 0 for p in procs)
    assert got[0][0] == got[1][0]  # the same folder
    assert sorted(converted for _, converted in got) == [False, True]  # one converted, the other waited and reused


needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                               reason="Ray is not installed (pip install 'streamsynth[ray]')")


@pytest.fixture(scope="module")
def ray_cache(tmp_path_factory):
    """A local Ray (2 CPUs) whose workers see an empty StreamSynth cache."""
    import ray

    cache = tmp_path_factory.mktemp("ray-cache")
    old = os.environ.get("STREAMSYNTH_CACHE")
    os.environ["STREAMSYNTH_CACHE"] = str(cache)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield cache
    ray.shutdown()
    if old is None:
        os.environ.pop("STREAMSYNTH_CACHE", None)
    else:
        os.environ["STREAMSYNTH_CACHE"] = old


@needs_ray
def test_ray_cells_equal_sequential_cells_and_share_one_model_conversion(ray_cache, tmp_path):
    from tests.helpers.tiny_model import write_tiny_gguf

    gguf = tmp_path / "tiny.gguf"
    write_tiny_gguf(gguf, max_positions=2048)  # room for task prompts (its vocabulary spells words byte by byte)
    opts = BASE.with_(model=str(gguf))
    lines: list[str] = []
    agents = ["zerogen", "oracle"]
    run_compare(agents, [0, 1], opts, tmp_path / "ray", log=lines.append, executor=RayExecutor(1))
    assert sorted(line.split(":")[0] for line in lines) == sorted(f"{a} seed {s}" for a in agents for s in (0, 1))
    assert all(" done in " in line for line in lines)
    converted = [p for p in (ray_cache / "models").iterdir()]
    assert len(converted) == 1 and not converted[0].name.startswith(".")  # both cells started on an empty cache
    run_compare(agents, [0, 1], opts, tmp_path / "local", log=lines.append, executor=LocalExecutor(threads=1))
    for agent in agents:
        for seed in (0, 1):
            assert cell_figures(tmp_path / "ray", agent, seed) == cell_figures(tmp_path / "local", agent, seed)
    assert cell_figures(tmp_path / "ray", "oracle", 1)[0][1]  # real figures: a non-empty dataset
    assert (tmp_path / "ray" / "results.md").exists()


@needs_ray
def test_ray_executor_reports_failed_cells_and_checks_its_settings(ray_cache, tmp_path):
    with pytest.raises(StreamSynthError, match=r"1 of 2 cell\(s\) failed: zerogen seed 0: .*missing.gguf"):
        run_compare(["zerogen", "oracle"], [0], BASE.with_(model=str(tmp_path / "missing.gguf")), tmp_path,
                    log=lambda line: None, executor=RayExecutor(1))
    assert (cell_dir(tmp_path, "oracle", 0) / "metrics.json").exists()
    with pytest.raises(ValueError, match="--cpus-per-cell must be an int >= 1"):
        RayExecutor(0)
    with pytest.raises(StreamSynthError, match="fewer than --cpus-per-cell 4"):
        run_compare(["oracle"], [1], BASE, tmp_path, log=lambda line: None, executor=RayExecutor(4))


def test_cli_executor_options_are_checked(tmp_path):
    from typer.testing import CliRunner

    from streamsynth.cli.main import app

    runner = CliRunner()
    common = ["compare", "--agents", "oracle", "--seeds", "1", "--stream", TASK, "--embedder", "hashing",
              "--student", "linear", "--samples-per-label", "2", "--rounds", "1", "--output", str(tmp_path)]
    res = runner.invoke(app, common + ["--executor", "spark"])
    assert res.exit_code == 2 and "--executor must be one of ['local', 'ray']" in res.output
    res = runner.invoke(app, common + ["--address", "127.0.0.1:6379"])
    assert res.exit_code == 2 and "--address and --gpus-per-cell need --executor ray" in res.output


@needs_ray
def test_cli_compare_on_ray(tmp_path):
    from typer.testing import CliRunner

    from streamsynth.cli.main import app

    runner = CliRunner()
    common = ["compare", "--agents", "oracle", "--seeds", "1", "--stream", TASK, "--embedder", "hashing",
              "--student", "linear", "--samples-per-label", "2", "--rounds", "1", "--output", str(tmp_path)]
    res = runner.invoke(app, common + ["--executor", "ray", "--cpus-per-cell", "1"])
    assert res.exit_code == 0, res.output
    assert "oracle seed 0: done in" in res.output and (tmp_path / "results.md").exists()


@needs_ray
def test_ray_rerun_after_removing_one_cell_recomputes_only_that_cell(ray_cache, tmp_path):
    lines: list[str] = []
    first = run_compare(["oracle", "copy-seed"], [0, 1], BASE, tmp_path, log=lines.append, executor=RayExecutor(1))
    local = run_compare(["oracle", "copy-seed"], [0, 1], BASE, tmp_path / "local", log=lambda line: None,
                        executor=LocalExecutor(threads=1))
    from streamsynth.evaluation.compare import aggregate

    def table(result):  # the comparison table's rows without wall times
        return [{k: v for k, v in row.items() if not k.startswith("wall_s")} for row in aggregate(result)]

    assert table(first) == table(local)
    (cell_dir(tmp_path, "oracle", 1) / "metrics.json").unlink()
    lines.clear()
    again = run_compare(["oracle", "copy-seed"], [0, 1], BASE, tmp_path, log=lines.append, executor=RayExecutor(1))
    assert [line.split(":")[0] for line in lines if " done in " in line] == ["oracle seed 1"]
    assert sorted(again.skipped) == [("copy-seed", 0), ("copy-seed", 1), ("oracle", 0)]
    assert cell_figures(tmp_path, "oracle", 1) == cell_figures(tmp_path / "local", "oracle", 1)
    assert table(again) == table(local)


@needs_ray
def test_a_cluster_that_refuses_the_driver_gets_a_message_naming_token_authentication(monkeypatch):
    import ray

    def refuse(**kwargs):
        assert kwargs["address"] == "10.0.0.1:6379"
        raise ConnectionError("Failed to connect to Ray cluster at 10.0.0.1:6379")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", refuse)
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    with pytest.raises(StreamSynthError, match=r"at '10.0.0.1:6379' \(Failed to connect.*export RAY_AUTH_MODE=token"):
        RayExecutor(1, address="10.0.0.1:6379")._init()
    started = {}
    monkeypatch.setattr(ray, "init", lambda **kwargs: started.update(kwargs))
    assert RayExecutor(1)._init() and started["address"] == "local"  # no --address: our own, beside any other
    assert started["num_cpus"] == os.cpu_count()
    monkeypatch.setattr(ray, "init", refuse)
    monkeypatch.setenv("RAY_AUTH_MODE", "token")  # already on: the hint would mislead, only the cause is named
    with pytest.raises(StreamSynthError) as info:
        RayExecutor(1, address="10.0.0.1:6379")._init()
    assert "RAY_AUTH_MODE" not in str(info.value) and "ray start --head" in str(info.value)
