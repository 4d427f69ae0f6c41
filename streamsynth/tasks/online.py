"""Task data from the Hugging Face hub (``datasets``), for machines that can reach it.

:class:`HFDataSource` loads one or more splits of a hub dataset, concatenates them, optionally keeps a seeded random
subset of ``max_rows`` rows, and maps columns to sample fields and raw labels to label names. The same code loads
local files with a ``datasets`` builder (``dataset="csv" | "json" | "parquet"`` plus ``data_files=``), which is how
the tests exercise it without network, on small files in the hub datasets' own column formats.

``datasets`` is an optional dependency (``pip install 'streamsynth[hub]'``), imported inside :meth:`HFDataSource.load`.
Offline use: with ``HF_DATASETS_OFFLINE=1`` (or ``HF_HUB_OFFLINE=1``) ``datasets`` reads its local cache only.

Built-in hub task sources (label names follow the task definitions in :mod:`streamsynth.tasks.registry`):

==========  ========================================  ====================  ===========================================
task        hub id (config)                           splits                columns
==========  ========================================  ====================  ===========================================
yelp-5      Yelp/yelp_review_full                     test (50,000)         text, label 0..4 (1..5 stars)
amazon-5    SetFit/amazon_reviews_multi_en            validation + test     text, label 0..4 (1..5 stars)
yahoo-10    community-datasets/yahoo_answers_topics   test (60,000)         question_title + question_content +
                                                                            best_answer -> text, topic 0..9
mnli        nyu-mll/glue (mnli)                       validation_matched    premise, hypothesis, label 0..2
sst2        stanfordnlp/sst2                          train + validation    sentence -> text, label 0..1
imdb        stanfordnlp/imdb                          train + test          text, label 0..1
ag-news     fancyzhx/ag_news                          test (7,600)          text, label 0..3
==========  ========================================  ====================  ===========================================

Hub test splits whose labels are hidden (``-1``: SST-2, GLUE) are not used: our own seed/judge/dev/test splits are
carved from the labelled rows by :func:`~streamsynth.tasks.splits.split_samples`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streamsynth.errors import ResourceNotFoundError, TaskError
from streamsynth.tasks.files import check_columns, map_rows, needed_columns
from streamsynth.tasks.spec import Sample

LOCAL_BUILDERS = ("csv", "json", "parquet")
HUB_INSTALL_HINT = "pip install 'streamsynth[hub]'"


def import_datasets() -> Any:
    """Import Hugging Face ``datasets``, or fail with the install command."""
    try:
        import datasets
    except ImportError as exc:
        raise ResourceNotFoundError(
            f"hub tasks need the Hugging Face 'datasets' package, which is not installed; fix: {HUB_INSTALL_HINT}"
        ) from exc
    return datasets


@dataclass(frozen=True)
class HFDataSource:
    """Real task data from a Hugging Face dataset, or from local files read by a ``datasets`` builder (picklable).

    Attributes:
        dataset: hub dataset id (``"Yelp/yelp_review_full"``); with ``data_files``, the builder ``"csv"``,
            ``"json"`` (also JSONL) or ``"parquet"``.
        columns: sample field -> column, or a tuple of columns whose non-empty texts are joined with a newline.
        label_column: the column holding the label (a class index or a string).
        label_map: raw label, compared as a string (class index ``0`` -> ``"0"``), -> label name. Every raw label
            must be mapped; ``None`` keeps raw values as label names.
        config: dataset configuration (``"mnli"`` for ``nyu-mll/glue``), or ``None``.
        splits: splits to load and concatenate, in order.
        data_files: local files for a builder: a path, a list of paths (split ``"train"``), or split -> path(s).
        max_rows: keep a random subset of this many rows (seeded by ``shuffle_seed``) after concatenation, so that
            label-sorted splits (IMDB's are) still give every label; ``None`` keeps all rows.
        min_chars: drop rows whose any field is shorter than this (SST-2's training rows include 1-word phrases).
        shuffle_seed: seed of the ``max_rows`` subset.
        cache_dir: ``datasets`` cache folder (``None``: its default, ``~/.cache/huggingface/datasets``).
        task: name of the task, used in error messages.
    """

    dataset: str
    columns: Mapping[str, str | tuple[str, ...]]
    label_column: str = "label"
    label_map: Mapping[str, str] | None = None
    config: str | None = None
    splits: tuple[str, ...] = ("train",)
    data_files: str | tuple[str, ...] | Mapping[str, str | tuple[str, ...]] | None = None
    max_rows: int | None = None
    min_chars: int = 0
    shuffle_seed: int = 0
    cache_dir: str | None = None
    task: str = "hub task"

    def __post_init__(self) -> None:
        if not self.columns:
            raise TaskError(f"task {self.task!r}: HFDataSource needs columns (sample field -> dataset column)")
        object.__setattr__(self, "columns", {f: c if isinstance(c, str) else tuple(c) for f, c in self.columns.items()})
        if self.label_map is not None:
            object.__setattr__(self, "label_map", {str(k): v for k, v in self.label_map.items()})
        splits = (self.splits,) if isinstance(self.splits, str) else tuple(self.splits)
        if not splits:
            raise TaskError(f"task {self.task!r}: HFDataSource needs at least one split")
        object.__setattr__(self, "splits", splits)
        if self.data_files is not None:
            if self.dataset not in LOCAL_BUILDERS:
                raise TaskError(f"task {self.task!r}: with data_files, dataset must be a builder {LOCAL_BUILDERS}, "
                                f"got {self.dataset!r}")
            object.__setattr__(self, "data_files", _freeze_files(self.data_files))
        if self.max_rows is not None and (not isinstance(self.max_rows, int) or self.max_rows < 1):
            raise TaskError(f"task {self.task!r}: max_rows must be a positive integer or None, got {self.max_rows!r}")

    def with_files(self, builder: str, data_files: str | list[str] | Mapping[str, Any], **changes: Any) -> HFDataSource:
        """The same column and label mapping, reading local files with ``builder`` instead of the hub.

        ``data_files`` given as a path or list go to split ``"train"``, so ``splits`` becomes ``("train",)`` unless
        ``changes`` says otherwise.
        """
        if not isinstance(data_files, Mapping):
            changes.setdefault("splits", ("train",))
        return dataclasses.replace(self, dataset=builder, config=None, data_files=data_files, **changes)

    @property
    def is_local(self) -> bool:
        return self.data_files is not None

    def _where(self) -> str:
        """What is being read, for messages: ``hub dataset 'id' (config 'c')`` or ``csv files ...``."""
        if self.is_local:
            return f"{self.dataset} files {self.data_files}"
        config = f" (config {self.config!r})" if self.config else ""
        return f"hub dataset {self.dataset!r}{config}"

    def _load_split(self, datasets: Any, split: str) -> Any:
        """One split as a ``datasets.Dataset``; hub, file and option problems become StreamSynth errors."""
        kwargs: dict[str, Any] = {"split": split, "cache_dir": self.cache_dir}
        if self.is_local:
            kwargs["data_files"] = _thaw_files(self.data_files)
        try:
            return datasets.load_dataset(self.dataset, self.config, **kwargs)
        except (ConnectionError, TimeoutError) as exc:
            raise ResourceNotFoundError(
                f"task {self.task!r}: cannot reach the Hugging Face hub for {self._where()} ({exc}). Fix: connect to "
                f"the internet; or, offline, set HF_DATASETS_OFFLINE=1 with the dataset already in the local cache; "
                f"or use an offline task or a task file (synth-agent tasks lists them)"
            ) from exc
        except FileNotFoundError as exc:
            raise ResourceNotFoundError(
                f"task {self.task!r}: {self._where()} not found ({exc}); fix the dataset id or the data file paths"
            ) from exc
        except ValueError as exc:  # unknown split or config
            raise TaskError(f"task {self.task!r}: {self._where()}, split {split!r}: {exc}") from exc

    def load(self) -> list[Sample]:
        datasets = import_datasets()
        parts = [self._load_split(datasets, split) for split in self.splits]
        for split, part in zip(self.splits, parts):
            check_columns(part.column_names, self.columns, self.label_column, f"{self._where()} split {split!r}",
                          "fix the column mapping of the task")
        needed = needed_columns(self.columns, self.label_column)
        ds = parts[0] if len(parts) == 1 else datasets.concatenate_datasets([p.select_columns(needed) for p in parts])
        if self.max_rows is not None and ds.num_rows > self.max_rows:
            ds = ds.shuffle(seed=self.shuffle_seed).select(range(self.max_rows))
        table = {c: list(ds[c]) for c in needed}
        rows = ({c: table[c][i] for c in table} for i in range(ds.num_rows))
        samples = map_rows(rows, self.columns, self.label_column, self.label_map, None, self._where(),
                           "fix: add them to the task's label mapping, or load only labelled splits (hub test splits "
                           "often hide labels as -1)")
        if self.min_chars:
            samples = [s for s in samples if all(len(s[f]) >= self.min_chars for f in self.columns)]
        return samples

    def describe(self) -> str:
        rows = f", random {self.max_rows} rows" if self.max_rows else ""
        short = f", fields >= {self.min_chars} chars" if self.min_chars else ""
        return f"{self._where()}, splits {'+'.join(self.splits)}{rows}{short}"


def _freeze_files(files: Any) -> str | tuple[str, ...] | dict[str, str | tuple[str, ...]]:
    """``data_files`` with lists made tuples and paths made strings (kept picklable and comparable)."""
    if isinstance(files, Mapping):
        return {str(k): _freeze_files(v) for k, v in files.items()}  # type: ignore[misc]
    if isinstance(files, (list, tuple)):
        return tuple(str(f) for f in files)
    return str(files)


def _thaw_files(files: Any) -> Any:
    """``data_files`` as ``datasets`` expects it (lists, not tuples)."""
    if isinstance(files, Mapping):
        return {k: _thaw_files(v) for k, v in files.items()}
    return list(files) if isinstance(files, tuple) else files


# --------------------------------------------------------------------------------------------- built-in sources

STARS_5 = ("very negative", "negative", "neutral", "positive", "very positive")
YAHOO_TOPICS = (
    "Society & Culture",
    "Science & Mathematics",
    "Health",
    "Education & Reference",
    "Computers & Internet",
    "Sports",
    "Business & Finance",
    "Entertainment & Music",
    "Family & Relationships",
    "Politics & Government",
)
NLI_LABELS = ("entailment", "neutral", "contradiction")
AG_NEWS_LABELS = ("world", "sports", "business", "science/technology")


def index_map(names: tuple[str, ...]) -> dict[str, str]:
    """Class index (as a string) -> label name.

    >>> index_map(("negative", "positive"))
    {'0': 'negative', '1': 'positive'}
    """
    return {str(i): name for i, name in enumerate(names)}


def hub_source(task: str) -> HFDataSource:
    """The :class:`HFDataSource` of a built-in hub task."""
    text = {"text": "text"}
    sources = {
        "yelp-5": HFDataSource("Yelp/yelp_review_full", text, label_map=index_map(STARS_5), splits=("test",),
                               max_rows=20_000, task=task),
        "amazon-5": HFDataSource("SetFit/amazon_reviews_multi_en", text, label_map=index_map(STARS_5),
                                 splits=("validation", "test"), task=task),
        "yahoo-10": HFDataSource("community-datasets/yahoo_answers_topics",
                                 {"text": ("question_title", "question_content", "best_answer")},
                                 label_column="topic", label_map=index_map(YAHOO_TOPICS), splits=("test",),
                                 max_rows=20_000, task=task),
        "mnli": HFDataSource("nyu-mll/glue", {"premise": "premise", "hypothesis": "hypothesis"}, config="mnli",
                             label_map=index_map(NLI_LABELS), splits=("validation_matched",), task=task),
        "sst2": HFDataSource("stanfordnlp/sst2", {"text": "sentence"}, label_map=index_map(("negative", "positive")),
                             splits=("train", "validation"), max_rows=20_000, min_chars=20, task=task),
        "imdb": HFDataSource("stanfordnlp/imdb", text, label_map=index_map(("negative", "positive")),
                             splits=("train", "test"), max_rows=20_000, task=task),
        "ag-news": HFDataSource("fancyzhx/ag_news", text, label_map=index_map(AG_NEWS_LABELS), splits=("test",),
                                task=task),
    }
    if task not in sources:
        raise TaskError(f"no built-in hub source {task!r}; known: {sorted(sources)}")
    return sources[task]


HUB_TASKS = ("yelp-5", "amazon-5", "yahoo-10", "mnli", "sst2", "imdb", "ag-news")
