"""Progress of runs: rich bars on a terminal (tasks of the stream, rounds of the task), one line per event with
the elapsed time otherwise (output to a log file or a CI job, where bars would draw nothing until the end)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from streamsynth.evaluation.experiment import RunHooks


def elapsed(seconds: float) -> str:
    """``[H:MM:SS]`` of a duration.

    >>> elapsed(3725.4)
    '[1:02:05]'
    """
    s = int(seconds)
    return f"[{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}]"


def line_hooks(write: Callable[[str], None], label: str = "", clock: Callable[[], float] = time.perf_counter
               ) -> RunHooks:
    """Progress as lines (``write`` one at a time): the stream's tasks, each task's start, each round with its
    reward, each task's end with its test accuracy, all with the time since the run started.

    >>> t = iter(range(0, 100, 5))
    >>> hooks = line_hooks(print, "zerogen seed 0: ", clock=lambda: float(next(t)))
    >>> hooks.on_start(["a", "b"]); hooks.on_task_start(0, "a"); hooks.on_round("a", 1, 0.25)
    [0:00:05] zerogen seed 0: 2 tasks: a, b
    [0:00:10] zerogen seed 0: task 1/2 a: started
    [0:00:15] zerogen seed 0: task a: round 1 reward +0.250
    """
    start = clock()
    n_tasks = [0]

    def say(text: str) -> None:
        write(f"{elapsed(clock() - start)} {label}{text}")

    def on_start(tasks: list[str]) -> None:
        n_tasks[0] = len(tasks)
        say(f"{len(tasks)} tasks: {', '.join(tasks)}")

    def on_task_start(i: int, name: str) -> None:
        say(f"task {i + 1}/{n_tasks[0]} {name}: started")

    def on_round(task: str, r: int, reward: float) -> None:
        say(f"task {task}: round {r} reward {reward:+.3f}")

    def on_task_end(result: Any) -> None:
        accuracy = result.test.get("test_accuracy")
        say(f"task {result.task}: done, {len(result.dataset)} samples in {result.rounds} rounds"
            + ("" if accuracy is None else f", test accuracy {accuracy:.3f}"))

    return RunHooks(on_start=on_start, on_task_start=on_task_start, on_round=on_round, on_task_end=on_task_end)


@contextmanager
def run_progress(console: Any, rounds: int, label: str = "") -> Iterator[RunHooks]:
    """Progress for one run: bars on a terminal, lines otherwise; yields the hooks to pass to ``run_experiment``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if not console.is_terminal:
        console.print(f"{elapsed(0)} {label}loading data and models")
        yield line_hooks(lambda text: console.print(text, highlight=False, soft_wrap=True), label)
        return

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
