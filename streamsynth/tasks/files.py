"""User-defined tasks and streams written as TOML files.

Task file (every key but ``name``, ``instruction``, ``[labels]`` and ``[data]`` is optional)::

    name = "customer-intent"
    instruction = "Write a message a customer sends to an online shop's support team."
    domain = "intent"                     # free-form family, listings only
    fields = ["text"]                     # default ["text"], or the keys of [data.columns]
    min_chars = 15                        # accepted length of each generated field
    max_chars = 400

    [labels]                              # label -> description, in order (at least two)
    refund = "asks for money back"
    shipping = "asks where an order is or when it arrives"

    [attributes]                          # dimensions for diverse prompting: name -> list of values
    channel = ["email", "live chat"]

    [data]
    path = "customer-intent.csv"          # CSV, TSV or JSONL; relative to this file's folder
    text_column = "message"               # or a [data.columns] table: field -> column (multi-field tasks)
    label_column = "intent"
    # format = "csv"                      # csv | tsv | jsonl; default from the file suffix
    # encoding = "utf-8"

    [data.label_map]                      # optional: raw value (compared as a string) -> label name
    "1" = "refund"

Stream file: ``tasks = ["movie-sentiment", "my/task.toml"]`` (built-in names or task files, relative paths
against the stream file's folder) and an optional ``name``.

Every problem (broken TOML, missing or unknown key, wrong type, missing file or column, unknown label value) is a
:class:`~streamsynth.errors.TaskError` naming the file and the fix.
"""

from __future__ import annotations

import csv
import difflib
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamsynth.errors import TaskError
from streamsynth.io import read_jsonl
from streamsynth.tasks.spec import LABEL_KEY, Sample, Task

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

Columns = Mapping[str, str | tuple[str, ...]]
"""Sample field -> source column, or a tuple of columns joined with a newline."""

TASK_KEYS = ("name", "instruction", "labels", "data", "fields", "attributes", "min_chars", "max_chars", "domain")
DATA_KEYS = ("path", "format", "encoding", "text_column", "columns", "label_column", "label_map")
STREAM_KEYS = ("name", "tasks")
FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


# --------------------------------------------------------------------------------------------- rows -> samples


def cell_text(value: Any) -> str:
    """A cell as stripped text (``None`` -> ``""``).

    >>> cell_text("  hi "), cell_text(None), cell_text(3)
    ('hi', '', '3')
    """
    return "" if value is None else str(value).strip()


def join_columns(row: Mapping[str, Any], columns: str | Sequence[str]) -> str:
    """The text of one field: one column, or several columns' non-empty texts joined with a newline.

    >>> join_columns({"title": "Why?", "body": "", "answer": "Because."}, ("title", "body", "answer"))
    'Why?\\nBecause.'
    """
    if isinstance(columns, str):
        return cell_text(row.get(columns))
    return "\n".join(t for t in (cell_text(row.get(c)) for c in columns) if t)


def needed_columns(columns: Columns, label_column: str) -> list[str]:
    """Every source column a mapping reads, in order, without repeats."""
    names: list[str] = []
    for spec in columns.values():
        names.extend([spec] if isinstance(spec, str) else spec)
    names.append(label_column)
    return list(dict.fromkeys(names))


def check_columns(present: Sequence[str], columns: Columns, label_column: str, origin: str, fix: str) -> None:
    """Error naming the missing columns and the columns present."""
    missing = [c for c in needed_columns(columns, label_column) if c not in present]
    if missing:
        raise TaskError(f"{origin}: no column(s) {missing}; columns present: {list(present)} ({fix})")


def map_rows(
    rows: Iterable[Mapping[str, Any]],
    columns: Columns,
    label_column: str,
    label_map: Mapping[str, str] | None,
    labels: Sequence[str] | None,
    origin: str,
    fix: str,
) -> list[Sample]:
    """Turn raw rows into samples ``{field: text, ..., "label": name}``.

    A raw label is compared as a string (``1`` and ``"1"`` are the same). With ``label_map`` every raw label must be
    one of its keys; without it every raw label must be in ``labels`` (when given). Any other value is an error
    listing the unknown values and their row counts, pointing at ``fix``; nothing is dropped silently (rows with
    empty fields are dropped later by :meth:`Task.check_samples`).

    >>> map_rows([{"t": "great", "y": 1}, {"t": "awful", "y": "0"}], {"text": "t"}, "y", {"0": "neg", "1": "pos"},
    ...          None, "demo", "fix the map")
    [{'text': 'great', 'label': 'pos'}, {'text': 'awful', 'label': 'neg'}]
    """
    samples: list[Sample] = []
    unknown: Counter[str] = Counter()
    for row in rows:
        raw = cell_text(row.get(label_column))
        label = label_map.get(raw) if label_map is not None else raw
        if label is None or (labels is not None and label not in labels):
            unknown[raw] += 1
            continue
        samples.append({**{f: join_columns(row, spec) for f, spec in columns.items()}, LABEL_KEY: label})
    if unknown:
        shown = dict(sorted(unknown.items())[:10])
        expected = sorted(label_map) if label_map is not None else list(labels or [])
        raise TaskError(
            f"{origin}: label column {label_column!r} holds values {shown} (value: rows) that are not "
            f"{'keys of the label map' if label_map is not None else 'labels of the task'} {expected}; {fix}"
        )
    return samples


# --------------------------------------------------------------------------------------------- reading files


def read_csv_rows(path: Path, delimiter: str = ",", encoding: str = "utf-8") -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a CSV/TSV file; a row with more or fewer cells than the header is an error."""
    try:
        with open(path, encoding=encoding, newline="") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            header = next(reader, None)
            if not header:
                raise TaskError(f"{path}: the file is empty; the first line must name the columns")
            header = [h.strip() for h in header]
            rows = []
            for cells in reader:
                if not cells or not any(c.strip() for c in cells):
                    continue
                if len(cells) != len(header):
                    raise TaskError(
                        f"{path}:{reader.line_num}: {len(cells)} cells but the header has {len(header)} "
                        "(quote cells that contain the delimiter or line breaks)"
                    )
                rows.append(dict(zip(header, cells)))
    except UnicodeDecodeError as exc:
        raise TaskError(f"{path}: not readable as {encoding} ({exc.reason}); set encoding = \"latin-1\" (or the "
                        "file's encoding) in [data]") from exc
    return header, rows


def read_jsonl_rows(path: Path, encoding: str = "utf-8") -> tuple[list[str], list[dict[str, Any]]]:
    """Keys seen and rows of a JSONL file (one JSON object per line)."""
    if encoding.lower().replace("-", "") != "utf8":
        raise TaskError(f"{path}: JSONL files are read as UTF-8; remove encoding = {encoding!r} from [data]")
    try:
        rows = read_jsonl(path)
    except UnicodeDecodeError as exc:
        raise TaskError(f"{path}: not UTF-8 ({exc.reason}); JSONL files must be UTF-8") from exc
    except ValueError as exc:  # read_jsonl names the file and line
        raise TaskError(str(exc)) from exc
    keys = list(dict.fromkeys(k for row in rows for k in row))
    return keys, rows


@dataclass(frozen=True)
class FileDataSource:
    """Real data of a user task, from a local CSV, TSV or JSONL file (picklable).

    Attributes:
        path: the data file (absolute, or relative to the working directory).
        columns: sample field -> column, or a tuple of columns joined with a newline.
        label_column: the column holding the label.
        labels: the task's label names (raw values must be among them when there is no ``label_map``).
        label_map: raw value (as a string) -> label name, or ``None``.
        format: ``"csv"``, ``"tsv"`` or ``"jsonl"``.
        encoding: text encoding of CSV/TSV files.
        origin: where the definition came from (the task file), named in errors.
    """

    path: str
    columns: Mapping[str, str | tuple[str, ...]]
    label_column: str
    labels: tuple[str, ...]
    label_map: Mapping[str, str] | None = None
    format: str = "csv"
    encoding: str = "utf-8"
    origin: str = ""

    def __post_init__(self) -> None:
        if self.format not in ("csv", "tsv", "jsonl"):
            raise TaskError(f"{self.origin or self.path}: format must be 'csv', 'tsv' or 'jsonl', got {self.format!r}")
        object.__setattr__(self, "columns", {f: c if isinstance(c, str) else tuple(c) for f, c in self.columns.items()})
        object.__setattr__(self, "labels", tuple(self.labels))
        if self.label_map is not None:
            object.__setattr__(self, "label_map", {str(k): v for k, v in self.label_map.items()})

    @property
    def _fix(self) -> str:
        where = f" in {self.origin}" if self.origin else ""
        return f"fix: map them to label names with a [data.label_map] table{where}, or correct the data"

    def locate(self) -> Path:
        path = Path(self.path)
        if not path.is_file():
            where = f" (named by {self.origin})" if self.origin else ""
            raise TaskError(f"data file {path} not found{where}; fix the [data] path (relative paths start at the "
                            "task file's folder)")
        return path

    def load(self) -> list[Sample]:
        path = self.locate()
        if self.format == "jsonl":
            present, rows = read_jsonl_rows(path, self.encoding)
        else:
            present, rows = read_csv_rows(path, "\t" if self.format == "tsv" else ",", self.encoding)
        fix_columns = f"fix text_column / [data.columns] / label_column in {self.origin or 'the task file'}"
        check_columns(present, self.columns, self.label_column, str(path), fix_columns)
        return map_rows(rows, self.columns, self.label_column, self.label_map, self.labels, str(path), self._fix)

    def describe(self) -> str:
        return f"{self.format.upper()} file {self.path}"


# --------------------------------------------------------------------------------------------- TOML parsing


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; a missing file or a syntax error is a TaskError with the file and line."""
    path = Path(path)
    if not path.is_file():
        raise TaskError(f"task or stream file {path} not found; fix the path")
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise TaskError(f"{path}: not valid TOML: {exc}; fix the syntax there") from exc
    except UnicodeDecodeError as exc:
        raise TaskError(f"{path}: TOML files must be UTF-8 ({exc.reason})") from exc


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or ``""``.

    >>> _did_you_mean("lables", ["labels", "data"])
    " (did you mean 'labels'?)"
    """
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_keys(table: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise TaskError(f"{where}: unknown key {key!r}{_did_you_mean(key, allowed)}; allowed keys: {list(allowed)}")


def _get(table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str, required: bool = False) -> Any:
    """``table[key]`` checked against ``kind``; ``None`` when absent and optional."""
    if key not in table:
        if required:
            raise TaskError(f"{where}: missing required key {key!r}; add it (see examples/tasks/ for a full file)")
        return None
    value = table[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = " or ".join([{str: "a string", int: "an integer", dict: "a table", list: "a list"}[k] for k in kinds])
        raise TaskError(f"{where}: {key!r} must be {names}, got {type(value).__name__} {value!r}")
    return value


def _str_table(table: Mapping[str, Any], where: str) -> dict[str, str]:
    for k, v in table.items():
        if not isinstance(v, str):
            raise TaskError(f"{where}: value of {k!r} must be a string, got {type(v).__name__} {v!r}")
    return dict(table)


def _str_list(value: list[Any], where: str) -> list[str]:
    if not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise TaskError(f"{where}: must be a non-empty list of non-empty strings, got {value!r}")
    return list(value)


def parse_task_table(doc: Mapping[str, Any], path: Path) -> Task:
    """Build a :class:`Task` from a parsed task file (``path`` resolves relative data paths and names errors)."""
    where = str(path)
    _check_keys(doc, TASK_KEYS, where)
    name = _get(doc, "name", str, where, required=True)
    instruction = _get(doc, "instruction", str, where, required=True)
    labels = _str_table(_get(doc, "labels", dict, where, required=True), f"{where} [labels]")
    data = _get(doc, "data", dict, where, required=True)
    attributes = _get(doc, "attributes", dict, where) or {}
    attributes = {k: tuple(_str_list(_get(attributes, k, list, f"{where} [attributes]"), f"{where} [attributes] {k!r}"))
                  for k in attributes}
    fields = _get(doc, "fields", list, where)
    fields = _str_list(fields, f"{where} 'fields'") if fields is not None else None

    dwhere = f"{where} [data]"
    _check_keys(data, DATA_KEYS, dwhere)
    raw_path = _get(data, "path", str, dwhere, required=True)
    data_path = Path(raw_path).expanduser()
    if not data_path.is_absolute():
        data_path = path.parent / data_path
    fmt = _get(data, "format", str, dwhere) or FORMATS.get(data_path.suffix.lower())
    if fmt is None:
        raise TaskError(f"{dwhere}: cannot tell the format of {raw_path!r} from its suffix; add format = \"csv\", "
                        "\"tsv\" or \"jsonl\"")
    columns = _data_columns(data, fields, dwhere)
    if fields is None:
        fields = list(columns)
    label_map = _get(data, "label_map", dict, dwhere)
    if label_map is not None:
        label_map = _str_table(label_map, f"{dwhere} [data.label_map]")
        stray = sorted(set(label_map.values()) - set(labels))
        if stray:
            raise TaskError(f"{dwhere} [data.label_map]: maps to {stray}, which are not in [labels] {list(labels)}")
    source = FileDataSource(
        path=str(data_path),
        columns=columns,
        label_column=_get(data, "label_column", str, dwhere, required=True),
        labels=tuple(labels),
        label_map=label_map,
        format=fmt,
        encoding=_get(data, "encoding", str, dwhere) or "utf-8",
        origin=where,
    )
    optional: dict[str, Any] = {}
    for key in ("min_chars", "max_chars"):
        if key in doc:
            optional[key] = _get(doc, key, int, where)
    if "domain" in doc:
        optional["domain"] = _get(doc, "domain", str, where)
    try:
        return Task(name=name, instruction=instruction, labels=labels, source=source, fields=tuple(fields),
                    attributes=attributes, **optional)
    except TaskError as exc:
        raise TaskError(f"{where}: {exc}") from exc


def _data_columns(data: Mapping[str, Any], fields: list[str] | None, where: str) -> dict[str, str | tuple[str, ...]]:
    """Field -> column mapping from ``text_column`` or ``[data.columns]`` (exactly one of them)."""
    has_text, has_columns = "text_column" in data, "columns" in data
    if has_text == has_columns:
        raise TaskError(f"{where}: give exactly one of text_column = \"...\" (one text field) or a [data.columns] "
                        "table (field -> column)")
    if has_text:
        column = _get(data, "text_column", str, where)
        if fields is not None and len(fields) != 1:
            raise TaskError(f"{where}: 'fields' lists {fields} but text_column maps one field; use [data.columns]")
        return {(fields or ["text"])[0]: column}
    table = _get(data, "columns", dict, where)
    columns: dict[str, str | tuple[str, ...]] = {}
    for f, spec in table.items():
        if isinstance(spec, str):
            columns[f] = spec
        elif isinstance(spec, list):
            columns[f] = tuple(_str_list(spec, f"{where} [data.columns] {f!r}"))
        else:
            raise TaskError(f"{where} [data.columns]: {f!r} must be a column name or a list of columns, got {spec!r}")
    if not columns:
        raise TaskError(f"{where} [data.columns]: empty; map each field to a column, e.g. text = \"review\"")
    if fields is not None and set(fields) != set(columns):
        raise TaskError(f"{where}: 'fields' {fields} and [data.columns] {list(columns)} must name the same fields")
    return columns


def load_task_file(path: str | Path) -> Task:
    """Read a task TOML file (see the module docstring for the format)."""
    path = Path(path).expanduser()
    return parse_task_table(read_toml(path), path.resolve())


@dataclass(frozen=True)
class StreamFile:
    """A parsed stream file: its name and its task entries (built-in names, or task-file paths made absolute)."""

    name: str
    entries: tuple[str, ...] = field(default_factory=tuple)


def is_path_like(entry: str) -> bool:
    """Whether a task entry is a file path rather than a built-in name.

    >>> is_path_like("movie-sentiment"), is_path_like("tasks/intent.toml"), is_path_like("intent.toml")
    (False, True, True)
    """
    return entry.endswith(".toml") or "/" in entry or "\\" in entry


def parse_stream_table(doc: Mapping[str, Any], path: Path) -> StreamFile:
    """Build a :class:`StreamFile` from a parsed stream file; relative task paths resolve against its folder."""
    where = str(path)
    _check_keys(doc, STREAM_KEYS, where)
    tasks = _str_list(_get(doc, "tasks", list, where, required=True), f"{where} 'tasks'")
    name = _get(doc, "name", str, where) or path.stem
    entries = []
    for entry in tasks:
        if is_path_like(entry):
            p = Path(entry).expanduser()
            entry = str(p if p.is_absolute() else (path.parent / p).resolve())
        entries.append(entry)
    return StreamFile(name=name, entries=tuple(entries))


def is_stream_table(doc: Mapping[str, Any]) -> bool:
    """A TOML document is a stream file when it has ``tasks`` and no task keys (``instruction``, ``labels``)."""
    return "tasks" in doc and "instruction" not in doc and "labels" not in doc
