"""Seeded, stratified, disjoint splits of a task's real data (``docs/tasks.md``).

Every task's real samples are cut once, by seed, into four disjoint sets:

- **seed**: ``seed_per_label`` examples of each label, the only real data an agent may see (few-shot prompts);
- **judge**: trains the label-fidelity judge and the gold student;
- **dev**: env-private, scores the utility reward;
- **test**: used only by evaluation reports, never by rewards.

Procedure of :func:`split_samples`:

1. Deduplicate by normalized content (lowercase, whitespace collapsed, every field; see :func:`sample_key`):
   the first copy of a sample is kept; a content seen with two different labels is dropped entirely
   (its label is ambiguous).
2. Shuffle each label's samples with ``numpy.random.default_rng(seed)`` (labels in task order).
3. The seed set takes the first ``seed_per_label`` of every label.
4. With ``avail_l`` samples left for label ``l``, ``A = sum_l avail_l`` and ``T = judge + dev + test``:

   - if ``A >= T`` each split ``s`` of size ``n_s`` is stratified by label proportion,
     ``c[s, l] = largest_remainder(n_s, weights=avail_l)``, each capped by what label ``l`` has left;
   - if ``A < T`` (scarce data) every remaining sample is used and each label's ``avail_l`` samples are divided
     among judge/dev/test in proportion to the requested sizes, ``c[., l] = largest_remainder(avail_l,
     weights=(judge, dev, test))``: the three splits shrink by the same factor ``A / T``.

5. A label with fewer than 2 samples in judge, dev or test is an error (:class:`~streamsynth.errors.TaskError`
   naming the task and the counts); the judge and the students need every label in every split.

The same samples in the same order and the same seed always give the same splits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from streamsynth.errors import TaskError
from streamsynth.tasks.spec import LABEL_KEY, Sample, Task

SPLIT_NAMES = ("seed", "judge", "dev", "test")
MIN_PER_LABEL = 2
"""Fewest samples of each label that judge, dev and test must each hold."""


@dataclass(frozen=True)
class SplitSizes:
    """Requested sizes of the splits of one task.

    Attributes:
        seed_per_label: seed examples per label (the few-shot pool agents may see); 0 allowed.
        judge: total size of the judge split (all labels together).
        dev: total size of the dev split.
        test: total size of the test split.
    """

    seed_per_label: int = field(default=4, metadata={"help": "seed examples per label shown to the agent"})
    judge: int = field(default=800, metadata={"help": "judge split (fidelity, realism), all labels"})
    dev: int = field(default=300, metadata={"help": "dev split (utility), all labels"})
    test: int = field(default=800, metadata={"help": "test split (reports only, never in the env), all labels"})

    def __post_init__(self) -> None:
        for name in ("seed_per_label", "judge", "dev", "test"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TaskError(f"SplitSizes.{name} must be an integer, got {value!r}")
        if self.seed_per_label < 0:
            raise TaskError(f"SplitSizes.seed_per_label must be >= 0, got {self.seed_per_label}")
        for name in ("judge", "dev", "test"):
            if getattr(self, name) < MIN_PER_LABEL:
                raise TaskError(f"SplitSizes.{name} must be >= {MIN_PER_LABEL}, got {getattr(self, name)}")

    @property
    def pooled(self) -> tuple[int, int, int]:
        """``(judge, dev, test)``."""
        return (self.judge, self.dev, self.test)


@dataclass
class TaskSplits:
    """The four disjoint splits of one task's real data, plus what deduplication removed.

    ``stats`` holds ``input`` (samples given), ``duplicates`` (extra copies dropped), ``conflicting``
    (samples dropped because the same content carries two labels) and ``unused`` (left out of every split).
    """

    seed: list[Sample]
    judge: list[Sample]
    dev: list[Sample]
    test: list[Sample]
    stats: dict[str, int] = field(default_factory=dict)

    def sizes(self) -> dict[str, int]:
        """Number of samples in each split, by split name."""
        return {name: len(getattr(self, name)) for name in SPLIT_NAMES}

    def label_counts(self) -> dict[str, dict[str, int]]:
        """Per split, the number of samples of each label."""
        return {name: dict(Counter(s[LABEL_KEY] for s in getattr(self, name))) for name in SPLIT_NAMES}


def normalize_text(text: str) -> str:
    """Lowercase and collapse every run of whitespace to one space.

    >>> normalize_text("  Great\\tFILM,\\n truly ")
    'great film, truly'
    """
    return " ".join(text.lower().split())


def sample_key(sample: Mapping[str, str]) -> tuple[str, ...]:
    """Deduplication key of a sample: its normalized fields, in field-name order, label excluded.

    >>> sample_key({"text": "Good  Movie", "label": "positive"})
    ('good movie',)
    >>> sample_key({"premise": "A b", "hypothesis": "C", "label": "x"})  # fields in name order: hypothesis, premise
    ('c', 'a b')
    """
    return tuple(normalize_text(str(sample[k])) for k in sorted(sample) if k != LABEL_KEY)


def deduplicate(samples: Sequence[Sample]) -> tuple[list[Sample], int, int]:
    """Drop repeated samples (same :func:`sample_key`); drop entirely any content seen with two labels.

    Returns ``(kept, n_duplicates, n_conflicting)``: ``n_duplicates`` counts the extra copies of
    consistently-labelled contents, ``n_conflicting`` every copy of a content whose labels disagree.

    >>> rows = [{"text": "a", "label": "x"}, {"text": "A ", "label": "x"}, {"text": "b", "label": "x"},
    ...         {"text": "b", "label": "y"}, {"text": "c", "label": "y"}]
    >>> kept, dup, conflict = deduplicate(rows)
    >>> [r["text"] for r in kept], dup, conflict
    (['a', 'c'], 1, 2)
    """
    labels_of: dict[tuple[str, ...], set[str]] = {}
    copies: Counter[tuple[str, ...]] = Counter()
    for s in samples:
        key = sample_key(s)
        labels_of.setdefault(key, set()).add(s[LABEL_KEY])
        copies[key] += 1
    kept: list[Sample] = []
    seen: set[tuple[str, ...]] = set()
    n_dup = n_conflict = 0
    for s in samples:
        key = sample_key(s)
        if len(labels_of[key]) > 1:
            n_conflict += 1
        elif key in seen:
            n_dup += 1
        else:
            seen.add(key)
            kept.append(s)
    return kept, n_dup, n_conflict


def largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """Split the integer ``total`` in proportion to integer ``weights`` (Hamilton / largest-remainder method).

    Each part gets ``floor(total * w_i / W)``; the ``total - sum(floors)`` units left go one each to the parts with
    the largest remainders ``total * w_i mod W`` (ties: the earlier part). Exact integer arithmetic; the parts sum
    to ``total`` (all zero when ``W == 0``).

    >>> largest_remainder(10, [1, 1, 1])
    [4, 3, 3]
    >>> largest_remainder(800, [7368, 5383])
    [462, 338]
    """
    if total < 0 or any(w < 0 for w in weights):
        raise ValueError(f"largest_remainder needs total >= 0 and weights >= 0, got {total}, {list(weights)}")
    wsum = sum(weights)
    if wsum == 0:
        return [0] * len(weights)
    parts = [total * w // wsum for w in weights]
    remainders = [total * w % wsum for w in weights]
    left = total - sum(parts)
    for i in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:left]:
        parts[i] += 1
    return parts


def allocate(available: Sequence[int], sizes: Sequence[int]) -> list[list[int]]:
    """Per-split, per-label counts ``c[s][l]`` for splits of ``sizes`` drawn from ``available[l]`` samples.

    Plenty (``sum(available) >= sum(sizes)``): split ``s`` gets ``largest_remainder(sizes[s], available)``, capped
    by what each label has left after the earlier splits. Scarce: every sample is used; split totals are
    ``largest_remainder(sum(available), sizes)`` (never over a requested size), each split takes its total from the
    labels in proportion to what they have left, and the last split takes the rest.

    >>> allocate([14, 42, 74, 82], [74, 39, 100])  # per-label rounding would give the last split 101
    [[5, 15, 26, 28], [2, 8, 14, 15], [7, 19, 34, 39]]

    >>> allocate([60, 40], [50, 20])
    [[30, 20], [12, 8]]
    >>> allocate([30, 10], [40, 20, 40])
    [[12, 4], [6, 2], [12, 4]]
    """
    if sum(available) >= sum(sizes):
        left = list(available)
        counts = []
        for size in sizes:
            want = largest_remainder(size, available)
            take = [min(w, r) for w, r in zip(want, left)]
            left = [r - t for r, t in zip(left, take)]
            counts.append(take)
        return counts
    # Scarce: split totals in proportion to the requested sizes (each <= its request), then each split but the last
    # takes its total from what the labels have left, in proportion; the last takes the rest. Rounding per label
    # instead could push a split one over its requested size.
    totals = largest_remainder(sum(available), sizes)
    left = list(available)
    counts = []
    for total in totals[:-1]:
        take = largest_remainder(total, left)
        left = [r - t for r, t in zip(left, take)]
        counts.append(take)
    return [*counts, left]


def split_samples(
    samples: Sequence[Mapping[str, str]],
    labels: Sequence[str] | Task,
    sizes: SplitSizes | None = None,
    seed: int = 0,
    task: str = "task",
) -> TaskSplits:
    """Deduplicate ``samples`` and cut them into disjoint, stratified seed/judge/dev/test splits.

    Args:
        samples: real samples ``{field: text, ..., "label": name}``; every label must be in ``labels``.
        labels: the task's label names, in order; or the :class:`Task` itself, in which case the raw samples first go
            through :meth:`Task.check_samples` (unknown labels and empty fields dropped, fields stripped) and the
            task's name is used in errors.
        sizes: requested sizes (default :class:`SplitSizes`).
        seed: seed of ``numpy.random.default_rng``; same input + same seed = same splits.
        task: task name, used in error messages (ignored when ``labels`` is a Task).

    Raises:
        TaskError: a sample has an unknown label, a label has too few samples for its seed examples, or a label
            would get fewer than 2 samples in judge, dev or test.

    See the module docstring for the exact procedure.
    """
    sizes = sizes or SplitSizes()
    if isinstance(labels, Task):
        samples = labels.check_samples(samples, origin=labels.source.describe())
        labels, task = list(labels.label_names), labels.name
    labels = list(labels)
    unknown = sorted({str(s.get(LABEL_KEY)) for s in samples} - set(labels))
    if unknown:
        raise TaskError(f"task {task!r}: samples carry labels {unknown[:10]} outside the label set {labels}")
    kept, n_dup, n_conflict = deduplicate(samples)
    by_label: dict[str, list[Sample]] = {label: [] for label in labels}
    for s in kept:
        by_label[s[LABEL_KEY]].append(s)
    counts = {label: len(rows) for label, rows in by_label.items()}

    short = {label: n for label, n in counts.items() if n < sizes.seed_per_label + 3 * MIN_PER_LABEL}
    if short:
        raise TaskError(
            f"task {task!r}: too few real samples after deduplication: {short} (of {counts}); each label needs at "
            f"least seed_per_label + 3 x {MIN_PER_LABEL} = {sizes.seed_per_label + 3 * MIN_PER_LABEL} "
            "(fix: add real data for these labels, or lower SplitSizes.seed_per_label)"
        )

    rng = np.random.default_rng(seed)
    shuffled = {label: [rows[i] for i in rng.permutation(len(rows))] for label, rows in by_label.items()}
    available = [counts[label] - sizes.seed_per_label for label in labels]
    alloc = allocate(available, sizes.pooled)  # [split][label], splits = judge, dev, test

    for split_name, row in zip(SPLIT_NAMES[1:], alloc):
        thin = {label: c for label, c in zip(labels, row) if c < MIN_PER_LABEL}
        if thin:
            per_split = {n: dict(zip(labels, r)) for n, r in zip(SPLIT_NAMES[1:], alloc)}
            raise TaskError(
                f"task {task!r}: the {split_name} split would hold fewer than {MIN_PER_LABEL} samples of "
                f"{sorted(thin)} "
                f"(allocation {per_split}; real samples per label after deduplication {counts}, requested "
                f"judge/dev/test {sizes.pooled}); fix: add real data for these labels or request smaller splits"
            )

    parts: dict[str, list[Sample]] = {name: [] for name in SPLIT_NAMES}
    for li, label in enumerate(labels):
        rows = shuffled[label]
        start = sizes.seed_per_label
        parts["seed"].extend(rows[:start])
        for split_name, row in zip(SPLIT_NAMES[1:], alloc):
            parts[split_name].extend(rows[start : start + row[li]])
            start += row[li]
    for name in SPLIT_NAMES:  # interleave labels inside each split, still driven by the same rng
        parts[name] = [parts[name][i] for i in rng.permutation(len(parts[name]))]

    used = sum(len(p) for p in parts.values())
    stats = {"input": len(samples), "duplicates": n_dup, "conflicting": n_conflict, "unused": len(kept) - used}
    return TaskSplits(**parts, stats=stats)


def load_splits(task: Task, sizes: SplitSizes | None = None, seed: int = 0) -> TaskSplits:
    """Load ``task``'s real data, keep the usable samples (:meth:`Task.check_samples`) and split them."""
    return split_samples(task.source.load(), task, sizes, seed=seed)
