"""Rich progress bars for runs (tasks of the stream, rounds of the task)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from streamsynth.evaluation.experiment import RunHooks


@contextmanager
def run_progress(console: Any, rounds: int, label: str = "") -> Iterator[RunHooks]:
    """Progress bars for one run; yields the hooks to pass to ``run_experiment``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=False) as progress:
        stream_bar = progress.add_task(f"{label}loading data and models", total=None)
        round_bar = progress.add_task("rounds", total=rounds)
        n_tasks = [0]

        def on_start(tasks: list[str]) -> None:
            n_tasks[0] = len(tasks)
            progress.update(stream_bar, total=len(tasks))

        def on_task_start(i: int, name: str) -> None:
            progress.update(stream_bar, description=f"{label}task {i + 1}/{n_tasks[0]}")
            progress.update(round_bar, completed=0, description=f"{name}: rounds")

        def on_round(task: str, r: int, reward: float) -> None:
            progress.update(round_bar, completed=r, description=f"{task}: round {r} reward {reward:+.3f}")

        def on_task_end(result: Any) -> None:
            progress.advance(stream_bar)

        yield RunHooks(on_start=on_start, on_task_start=on_task_start, on_round=on_round, on_task_end=on_task_end)


class CellsProgress:
    """Wraps an executor with ``run(cells, log, progress)`` (Ray): an overall progress bar over the cells, the
    executor's one line per finished cell printed above it."""

    def __init__(self, executor: Any, console: Any) -> None:
        self.executor, self.console = executor, console

    def run(self, cells: Any, log: Any) -> Any:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=self.console) as progress:
            bar = progress.add_task("cells", total=len(cells))
            return self.executor.run(cells, lambda line: progress.console.print(line),
                                     lambda done, total: progress.update(bar, completed=done))
