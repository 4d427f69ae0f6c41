"""Resolving tasks and streams by name or path, for the CLI and the environment: built-in names (the catalogue,
:mod:`streamsynth.tasks.catalog`), task and stream TOML files, comma-separated lists; listings of what exists and
whether its data is installed."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from streamsynth.errors import ResourceNotFoundError, TaskError
from streamsynth.tasks.catalog import DEFAULT_STREAM, STREAM_NOTES, STREAMS, TASKS
from streamsynth.tasks.files import (
    is_path_like,
    is_stream_table,
    parse_stream_table,
    parse_task_table,
    read_toml,
)
from streamsynth.tasks.online import HFDataSource
from streamsynth.tasks.spec import Task

__all__ = ["DEFAULT_STREAM", "STREAMS", "STREAM_NOTES", "TASKS", "check_stream", "data_status", "get_stream",
           "get_task", "is_offline", "list_streams", "list_tasks", "resolve_stream", "stream_is_offline"]


# --------------------------------------------------------------------------------------------- resolution


def _unknown(kind: str, name: str, known: list[str]) -> TaskError:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return TaskError(
        f"unknown {kind} {name!r}{hint}; known {kind}s: {', '.join(known)}; or give a path to a .toml file"
    )


def get_task(name_or_path: str) -> Task:
    """A built-in task by name, or a task defined in a TOML file (a path ending in ``.toml`` or containing ``/``)."""
    if not isinstance(name_or_path, str) or not name_or_path.strip():
        raise TaskError(f"a task is named by a non-empty string, got {name_or_path!r}")
    name_or_path = name_or_path.strip()
    if name_or_path in TASKS:
        return TASKS[name_or_path]()
    if is_path_like(name_or_path) or Path(name_or_path).is_file():
        path = Path(name_or_path).expanduser()
        doc = read_toml(path)
        if is_stream_table(doc):
            raise TaskError(f"{path} is a stream file (it has 'tasks'); pass it where a stream is expected")
        return parse_task_table(doc, path.resolve())
    raise _unknown("task", name_or_path, list(TASKS))


def resolve_stream(name_or_path: str) -> tuple[str, list[Task]]:
    """``(stream name, tasks)`` for a built-in stream name, a stream or task TOML file, or ``"a,b,c"``.

    A single task name or task file is a stream of one task. Streams must hold distinct task names and no two
    tasks drawing on the same real-data pool (Rotten Tomatoes and the VADER movie snippets).
    """
    if not isinstance(name_or_path, str) or not name_or_path.strip():
        raise TaskError(f"a stream is named by a non-empty string, got {name_or_path!r}")
    spec = name_or_path.strip()
    if spec in STREAMS:
        name, tasks = spec, [get_task(t) for t in STREAMS[spec]]
    elif "," in spec:
        entries = [e.strip() for e in spec.split(",")]
        if not all(entries):
            raise TaskError(f"empty entry in the task list {spec!r}; separate task names or files with single commas")
        name, tasks = spec, [get_task(e) for e in entries]
    elif spec in TASKS:
        name, tasks = spec, [get_task(spec)]
    elif is_path_like(spec) or Path(spec).is_file():
        path = Path(spec).expanduser()
        doc = read_toml(path)
        if is_stream_table(doc):
            stream = parse_stream_table(doc, path.resolve())
            name, tasks = stream.name, [get_task(e) for e in stream.entries]
        else:
            task = parse_task_table(doc, path.resolve())
            name, tasks = task.name, [task]
    else:
        raise _unknown("stream", spec, [*STREAMS, *TASKS])
    check_stream(tasks, name)
    return name, tasks


def get_stream(name_or_path: str = DEFAULT_STREAM) -> list[Task]:
    """The tasks of a stream, in order (see :func:`resolve_stream` for what ``name_or_path`` may be)."""
    return resolve_stream(name_or_path)[1]


def check_stream(tasks: list[Task], name: str) -> None:
    """Error when a stream is empty, repeats a task name, or holds two tasks over the same real-data pool."""
    if not tasks:
        raise TaskError(f"stream {name!r} holds no task")
    seen: dict[str, int] = {}
    pools: dict[str, str] = {}
    for task in tasks:
        if task.name in seen:
            raise TaskError(f"stream {name!r} lists task {task.name!r} twice; each task of a stream needs its own name")
        seen[task.name] = 1
        pool = getattr(task.source, "data_pool", None)
        if pool is not None:
            if pool in pools:
                raise TaskError(
                    f"stream {name!r}: tasks {pools[pool]!r} and {task.name!r} draw on the same real data "
                    f"({pool}); a judge trained on one would be scored on copies of the other; drop one of them"
                )
            pools[pool] = task.name


def is_offline(task: Task) -> bool:
    """Whether a task's data works without network (anything but a hub dataset)."""
    return not (isinstance(task.source, HFDataSource) and not task.source.is_local)


def data_status(task: Task) -> tuple[bool | None, str]:
    """``(found, text)``: whether the task's data can be read here, without reading it.

    ``found`` is ``None`` for hub datasets (only a download or the local cache can tell).
    """
    if not is_offline(task):
        return None, "Hugging Face hub (needs network or a local datasets cache)"
    locate = getattr(task.source, "locate", None)
    if locate is None:
        return None, "unknown (the source cannot be checked without loading it)"
    try:
        return True, str(locate())
    except (ResourceNotFoundError, TaskError) as exc:
        return False, str(exc)


def list_tasks(check_data: bool = True) -> dict[str, dict[str, Any]]:
    """Built-in task name -> ``{domain, labels, fields, offline, data_found, data, source}`` (for listings).

    ``data_found`` / ``data``: see :func:`data_status`; with ``check_data=False`` nothing is looked up on disk
    (``data_found`` is ``None``, ``data`` says "not checked").
    """
    rows: dict[str, dict[str, Any]] = {}
    for name, factory in TASKS.items():
        task = factory()
        found, where = data_status(task) if check_data else (None, "not checked")
        rows[name] = {
            "domain": task.domain,
            "labels": list(task.labels),
            "fields": list(task.fields),
            "offline": is_offline(task),
            "data_found": found,
            "data": where,
            "source": task.source.describe(),
        }
    return rows


def list_streams() -> dict[str, list[str]]:
    """Built-in stream name -> its task names, in stream order (:data:`STREAM_NOTES` says what each is for)."""
    return {name: list(tasks) for name, tasks in STREAMS.items()}


def stream_is_offline(name: str) -> bool:
    """Whether every task of a built-in stream works without network."""
    if name not in STREAMS:
        raise _unknown("stream", name, list(STREAMS))
    return all(is_offline(TASKS[t]()) for t in STREAMS[name])
