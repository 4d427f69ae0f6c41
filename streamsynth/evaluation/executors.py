"""Where the cells of a comparison run: one after another in this process (``local``) or as Ray tasks (``ray``).

A cell is one (agent, seed) run of ``synth-agent compare``. :func:`run_cell` runs one to completion in the
current process and is what both executors call; it decides for itself whether to resume (from the checkpoint in
its folder), so a Ray task retried after its worker died continues where it stopped. Cells write their run folders
(atomically, see ``experiment.py``); the driver only collects them afterwards.

Ray (optional extra ``streamsynth[ray]``): each cell is a Ray task with ``num_cpus=cpus_per_cell`` (which also
sets the cell's torch and BLAS threads) and ``num_gpus=gpus_per_cell``. Without ``address`` a local Ray uses this
machine's cores; with one (``ray start --head`` elsewhere) the cells spread over the cluster, whose nodes must
all see the comparison folder (shared storage, as for Ray Train's ``storage_path``).
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamsynth.config import check_int, check_number
from streamsynth.errors import StreamSynthError
from streamsynth.evaluation.experiment import RunHooks
from streamsynth.evaluation.options import RunOptions

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class Cell:
    """One (agent, seed) run of a comparison, with its options and run folder."""

    opts: RunOptions
    run_dir: Path

    @property
    def name(self) -> str:
        return f"{self.opts.agent} seed {self.opts.seed}"


@dataclass
class CellOutcome:
    """How a cell ended: its wall time, and the error (a one-line summary and the traceback) when it failed."""

    cell: Cell
    seconds: float
    error: str | None = None
    details: str = field(default="", repr=False)


def run_cell(options: dict[str, Any], run_dir: str, threads: int | None = None, hooks: RunHooks | None = None
             ) -> float:
    """Run the cell of ``options`` (``RunOptions.to_dict()``) into ``run_dir`` in this process; returns its wall
    seconds. It resumes from the folder's checkpoint when there is one (SynLearner, sb3-*) and otherwise starts the cell
    over. ``threads`` limits torch and the BLAS libraries to that many threads (None: leave them as they are)."""
    from threadpoolctl import threadpool_limits

    from streamsynth.evaluation.checkpoint import has_checkpoint
    from streamsynth.evaluation.experiment import run_experiment

    start = time.perf_counter()
    opts = RunOptions.from_dict(options)
    limits = threadpool_limits(threads) if threads else nullcontext()
    previous = None
    if threads:
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
    try:
        with limits:
            run_experiment(opts, Path(run_dir), hooks or RunHooks(), overwrite_partial=True,
                           resume=has_checkpoint(Path(run_dir)))
    finally:
        if previous is not None:
            import torch

            torch.set_num_threads(previous)
    return time.perf_counter() - start


def _summary(exc: BaseException) -> str:
    """The last line of an error (Ray wraps the worker's exception; its own last line is the original one)."""
    text = str(exc).strip().splitlines()
    return (text[-1] if text else type(exc).__name__)[:300]


class LocalExecutor:
    """Cells one after another in this process, with per-round progress (``hooks_for(agent, seed)`` returns a
    context manager yielding :class:`RunHooks`, or None)."""

    def __init__(self, hooks_for: Callable[[str, int], Any] | None = None, threads: int | None = None) -> None:
        self.hooks_for = hooks_for
        self.threads = threads

    def run(self, cells: Sequence[Cell], log: Callable[[str], None]) -> list[CellOutcome]:
        out = []
        for i, cell in enumerate(cells, 1):
            start = time.perf_counter()
            cm = self.hooks_for(cell.opts.agent, cell.opts.seed) if self.hooks_for else None
            try:
                with cm if cm is not None else nullcontext(RunHooks()) as hooks:
                    seconds = run_cell(cell.opts.to_dict(), str(cell.run_dir), self.threads, hooks)
                out.append(CellOutcome(cell, seconds))
                log(f"{cell.name}: done in {seconds:.0f} s ({i}/{len(cells)})")
            except Exception as exc:  # one failed cell does not stop the others; reported at the end
                out.append(CellOutcome(cell, time.perf_counter() - start, _summary(exc), traceback.format_exc()))
                log(f"{cell.name}: FAILED ({_summary(exc)}) ({i}/{len(cells)})")
        return out


def connect_error(address: str | None, exc: Exception, auth_mode: str | None) -> str:
    """The message for a Ray cluster this driver cannot join; names token authentication when this shell has not
    turned it on: from Ray 2.59 ``ray start --head`` checks a token whenever ``~/.ray/auth_token`` exists (any
    local ``ray.init()`` writes one), and a driver without ``RAY_AUTH_MODE=token`` is then refused with the same
    ConnectionError as when nothing listens.

    >>> connect_error("10.0.0.1:6379", ConnectionError("refused"), "token")[:63]
    "cannot connect to the Ray cluster at '10.0.0.1:6379' (refused);"
    >>> "export RAY_AUTH_MODE=token" in connect_error("10.0.0.1:6379", ConnectionError("refused"), None)
    True
    """
    message = (f"cannot connect to the Ray cluster at {address!r} ({exc}); start it with `ray start --head` on the "
               "head node, or drop --address for a local Ray")
    if auth_mode != "token":
        message += ("; if the cluster checks a token (`ray start --head` does from Ray 2.59 whenever "
                    "~/.ray/auth_token exists), run `export RAY_AUTH_MODE=token` in this shell first (the token is "
                    "read from ~/.ray/auth_token on the head node, elsewhere from RAY_AUTH_TOKEN: see "
                    "`ray get-auth-token`)")
    return message


class RayExecutor:
    """Cells as Ray tasks: ``cpus_per_cell`` CPUs (and torch/BLAS threads) and ``gpus_per_cell`` GPUs each; on the
    cluster at ``address``, or on a local Ray started here with this machine's cores."""

    def __init__(self, cpus_per_cell: int = 1, gpus_per_cell: float = 0, address: str | None = None,
                 max_retries: int = 1) -> None:
        check_int("--cpus-per-cell", cpus_per_cell)
        check_number("--gpus-per-cell", gpus_per_cell)
        self.cpus_per_cell = cpus_per_cell
        self.gpus_per_cell = gpus_per_cell
        self.address = address
        self.max_retries = max_retries

    def _init(self) -> bool:
        """Start or join Ray; True when this call started it (and so shuts it down after)."""
        try:
            import ray
        except ImportError:
            raise StreamSynthError("--executor ray needs Ray: pip install 'streamsynth[ray]' (or pip install ray)") \
                from None
        if ray.is_initialized():
            return False
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if self.address:
            kwargs["address"] = self.address
        else:  # a Ray of our own, even beside one that `ray start` runs here (that one: --address auto)
            kwargs.update(address="local", num_cpus=os.cpu_count() or 1)
        try:
            ray.init(**kwargs)
        except ConnectionError as exc:
            raise StreamSynthError(connect_error(self.address, exc, os.environ.get("RAY_AUTH_MODE"))) from exc
        return True

    def run(self, cells: Sequence[Cell], log: Callable[[str], None],
            progress: Callable[[int, int], None] | None = None) -> list[CellOutcome]:
        import ray

        started = self._init()
        try:
            total = float(ray.cluster_resources().get("CPU", 0))
            if total < self.cpus_per_cell:
                raise StreamSynthError(f"the Ray cluster has {total:g} CPUs, fewer than --cpus-per-cell "
                                       f"{self.cpus_per_cell}")
            remote = ray.remote(num_cpus=self.cpus_per_cell, num_gpus=self.gpus_per_cell,
                                max_retries=self.max_retries)(run_cell)
            submitted = {remote.remote(c.opts.to_dict(), str(Path(c.run_dir).resolve()), self.cpus_per_cell): c
                         for c in cells}
            starts = {ref: time.perf_counter() for ref in submitted}
            out: list[CellOutcome] = []
            pending = list(submitted)
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                ref = done[0]
                cell = submitted[ref]
                try:
                    seconds = float(ray.get(ref))
                    out.append(CellOutcome(cell, seconds))
                    log(f"{cell.name}: done in {seconds:.0f} s ({len(out)}/{len(cells)})")
                except Exception as exc:
                    out.append(CellOutcome(cell, time.perf_counter() - starts[ref], _summary(exc), str(exc)))
                    log(f"{cell.name}: FAILED ({_summary(exc)}) ({len(out)}/{len(cells)})")
                if progress is not None:
                    progress(len(out), len(cells))
            return out
        finally:
            if started:
                ray.shutdown()
