"""Synthesis tasks: the :class:`Task` spec, real-data sources, splits, built-in tasks and streams, task files."""

from streamsynth.tasks.files import FileDataSource, load_task_file
from streamsynth.tasks.offline import (
    BBCNewsSource,
    EmpythyTweetsSource,
    RottenTomatoesSource,
    TrecSource,
    VaderSource,
)
from streamsynth.tasks.online import HFDataSource
from streamsynth.tasks.real import RealData, real_split
from streamsynth.tasks.registry import (
    DEFAULT_STREAM,
    get_stream,
    get_task,
    list_streams,
    list_tasks,
    resolve_stream,
)
from streamsynth.tasks.spec import LABEL_KEY, DataSource, Sample, Task
from streamsynth.tasks.splits import SplitSizes, TaskSplits, load_splits, split_samples

__all__ = [
    "BBCNewsSource",
    "DEFAULT_STREAM",
    "DataSource",
    "EmpythyTweetsSource",
    "FileDataSource",
    "HFDataSource",
    "LABEL_KEY",
    "RealData",
    "RottenTomatoesSource",
    "Sample",
    "SplitSizes",
    "Task",
    "TaskSplits",
    "TrecSource",
    "VaderSource",
    "get_stream",
    "get_task",
    "list_streams",
    "list_tasks",
    "load_splits",
    "load_task_file",
    "real_split",
    "resolve_stream",
    "split_samples",
]
