"""The experience memory synlearner carries from task to task.

Three parts, all small and deterministic:

* **replay**: per task, the best accepted samples (the exact chat prompt and the completion), replayed as
  supervised fine-tuning data on later tasks so that the generator does not forget what worked;
* **statistics**: running (count, mean) of the reward per ``(kind, key)`` (e.g. ``("attribute", "tone=formal")``,
  ``("pattern", "examples=2")``), turned into sampling preferences by :meth:`ExperienceMemory.preference`;
* **reference**: embeddings of accepted data (FIFO), what new data should be novel against.

``save``/``load`` write ``memory.json`` and ``memory.safetensors`` (never pickle), each atomically.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from streamsynth.config import check_int
from streamsynth.errors import StreamSynthError
from streamsynth.generation.prompts import Message
from streamsynth.io import atomic_open, write_json

META_FILE = "memory.json"
ARRAYS_FILE = "memory.safetensors"
FORMAT_VERSION = 1


class MemoryFormatError(StreamSynthError, ValueError):
    """A saved memory is missing or cannot be read; the message names the file."""


@dataclass
class ReplayItem:
    """One accepted sample: the task, the exact chat prompt it was generated from, the completion, its score."""

    task: str
    prompt: list[Message]
    completion: str
    score: float


def _is_finite_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, np.number)) and math.isfinite(value)


def _checked_item(item: ReplayItem) -> ReplayItem:
    """Validate ``item`` and return a copy that shares no mutable state with it."""
    if not isinstance(item, ReplayItem):
        raise ValueError(f"items must be ReplayItem, got {type(item).__name__}")
    if not isinstance(item.task, str) or not item.task:
        raise ValueError(f"ReplayItem.task must be a non-empty str, got {item.task!r}")
    if not isinstance(item.prompt, (list, tuple)) or not all(
        isinstance(m, Mapping) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
        for m in item.prompt
    ):
        raise ValueError(f"ReplayItem.prompt must be a list of {{'role': str, 'content': str}} messages, "
                         f"got {item.prompt!r}")
    if not isinstance(item.completion, str):
        raise ValueError(f"ReplayItem.completion must be a str, got {type(item.completion).__name__}")
    if not _is_finite_number(item.score):
        raise ValueError(f"ReplayItem.score must be a finite number, got {item.score!r}")
    return ReplayItem(item.task, [dict(m) for m in item.prompt], item.completion, float(item.score))


def _sample_key(item: ReplayItem) -> str:
    return json.dumps([item.prompt, item.completion], sort_keys=True, ensure_ascii=False)


def _positive_int(name: str, value: Any) -> int:
    return check_int(name, value)


class ExperienceMemory:
    """Replay buffer, reward statistics and reference embeddings carried across the tasks of a stream.

    >>> memory = ExperienceMemory(replay_per_task=2)
    >>> memory.add_replay([ReplayItem("a", [{"role": "user", "content": "p"}], c, s)
    ...                    for c, s in [("x", 0.2), ("y", 0.9), ("z", 0.5)]])
    >>> [item.completion for item in memory.replay(5)]
    ['y', 'z']
    >>> memory.record("pattern", "examples=2", 0.2)
    >>> memory.record("pattern", "examples=1", 0.1)
    >>> memory.preference("pattern", ["examples=2", "examples=1", "examples=0"], temperature=1.0).round(4).tolist()
    [0.3389, 0.3278, 0.3333]
    >>> memory.preference("pattern", ["examples=2", "examples=0"], prior=0.5, temperature=1.0).round(4).tolist()
    [0.475, 0.525]
    """

    def __init__(self, replay_per_task: int = 32, reference_capacity: int = 4096) -> None:
        self.replay_per_task = _positive_int("replay_per_task", replay_per_task)
        self.reference_capacity = _positive_int("reference_capacity", reference_capacity)
        self._replay: dict[str, list[ReplayItem]] = {}
        self._stats: dict[str, dict[str, tuple[int, float]]] = {}
        self._reference: np.ndarray | None = None  # (m, d) float32, None until a dimension is known

    # --- replay -----------------------------------------------------------------------------------------------

    def add_replay(self, items: Sequence[ReplayItem]) -> None:
        """Keep, per task, the ``replay_per_task`` best items by score.

        Ties keep the earlier item first; a (prompt, completion) already kept for its task is kept once, with the
        larger score, at its first position among equals. All items are validated before anything changes.
        """
        checked = [_checked_item(item) for item in items]
        positions: dict[str, dict[str, int]] = {}  # per touched task: sample key -> index in its kept list
        for item in checked:
            kept = self._replay.setdefault(item.task, [])
            if item.task not in positions:
                positions[item.task] = {_sample_key(old): i for i, old in enumerate(kept)}
            index = positions[item.task]
            key = _sample_key(item)
            if key in index:
                old = kept[index[key]]
                if item.score > old.score:
                    kept[index[key]] = replace(old, score=item.score)
            else:
                index[key] = len(kept)
                kept.append(item)
        for task in positions:
            kept = sorted(self._replay[task], key=lambda it: -it.score)  # stable: ties keep the earlier first
            self._replay[task] = kept[: self.replay_per_task]

    def replay(self, n: int, *, exclude_task: str | None = None) -> list[ReplayItem]:
        """Up to ``n`` items from tasks other than ``exclude_task``, balanced across tasks.

        Round-robin over tasks in the order they were first added, best-first within each task.
        """
        check_int("n", n, 0)
        pools = [items for task, items in self._replay.items() if task != exclude_task]
        out: list[ReplayItem] = []
        depth = 0
        while len(out) < n and any(depth < len(pool) for pool in pools):
            for pool in pools:
                if depth < len(pool) and len(out) < n:
                    out.append(pool[depth])
            depth += 1
        return out

    @property
    def tasks(self) -> list[str]:
        """Tasks with replay items, in the order they were first added."""
        return list(self._replay)

    def __len__(self) -> int:
        return sum(len(items) for items in self._replay.values())

    # --- reward statistics ------------------------------------------------------------------------------------

    def record(self, kind: str, key: str, reward: float) -> None:
        """Add ``reward`` to the running (count, mean) of ``(kind, key)``."""
        if not isinstance(kind, str) or not kind:
            raise ValueError(f"kind must be a non-empty str, got {kind!r}")
        if not isinstance(key, str):
            raise ValueError(f"key must be a str, got {key!r}")
        if not _is_finite_number(reward):
            raise ValueError(f"reward must be a finite number, got {reward!r}")
        table = self._stats.setdefault(kind, {})
        count, mean = table.get(key, (0, 0.0))
        count += 1
        table[key] = (count, mean + (float(reward) - mean) / count)

    def stats(self, kind: str) -> dict[str, tuple[int, float]]:
        """``{key: (count, mean reward)}`` of ``kind`` (a copy; empty for an unknown kind)."""
        return dict(self._stats.get(kind, {}))

    def kind_mean(self, kind: str, default: float = 0.5) -> float:
        """The mean of every reward recorded for ``kind`` (all its keys, weighted by their counts); ``default``
        before the first."""
        table = self._stats.get(kind, {})
        total = sum(count for count, _ in table.values())
        return default if total == 0 else sum(count * mean for count, mean in table.values()) / total

    def preference(self, kind: str, keys: Sequence[str], *, prior: float | None = None, prior_count: float = 2.0,
                   temperature: float = 0.1) -> np.ndarray:
        """Probability vector over ``keys``: ``softmax(shrunk_mean / temperature)``.

        ``shrunk_mean = (count * mean + prior_count * prior) / (count + prior_count)``; an unseen key gets ``prior``.
        ``prior`` None (default) is :meth:`kind_mean`, an empirical-Bayes prior on the scale of the rewards
        recorded: an unseen key is as good as the kind's average, neither favoured (as a fixed 0.5 favours it
        when rewards run near 0.15) nor avoided.
        """
        if isinstance(keys, str) or len(keys) == 0:
            raise ValueError(f"keys must be a non-empty sequence of str, got {keys!r}")
        if not temperature > 0 or not math.isfinite(temperature):
            raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
        if not prior_count >= 0 or not math.isfinite(prior_count):
            raise ValueError(f"prior_count must be a finite number >= 0, got {prior_count!r}")
        if prior is None:
            prior = self.kind_mean(kind)
        if not _is_finite_number(prior):
            raise ValueError(f"prior must be a finite number or None, got {prior!r}")
        table = self._stats.get(kind, {})
        values = np.empty(len(keys), dtype=np.float64)
        for i, key in enumerate(keys):
            count, mean = table.get(key, (0, 0.0))
            values[i] = prior if count == 0 else (count * mean + prior_count * prior) / (count + prior_count)
        logits = values / temperature
        weights = np.exp(logits - logits.max())
        return weights / weights.sum()

    # --- reference embeddings ---------------------------------------------------------------------------------

    def add_reference(self, vectors: np.ndarray) -> None:
        """Append embedding rows (FIFO: beyond ``reference_capacity`` rows the oldest are dropped).

        The first call fixes the dimension; later calls must match it.
        """
        arr = np.array(vectors, dtype=np.float32)  # a copy: the caller's array is never frozen or shared
        if arr.ndim != 2 or arr.shape[1] < 1:
            raise ValueError(f"vectors must be a 2-D array (rows, dim >= 1), got shape {arr.shape}")
        if not np.isfinite(arr).all():
            raise ValueError("vectors must be finite (found NaN or inf)")
        if self._reference is not None and arr.shape[1] != self._reference.shape[1]:
            raise ValueError(f"vectors have dimension {arr.shape[1]}, but the reference has dimension "
                             f"{self._reference.shape[1]}")
        merged = arr if self._reference is None else np.concatenate([self._reference, arr])
        self._reference = np.ascontiguousarray(merged[max(0, len(merged) - self.reference_capacity):])
        self._reference.setflags(write=False)  # new arrays are built on every add: views handed out stay valid

    @property
    def reference(self) -> np.ndarray:
        """Reference embeddings, ``(m, d)`` float32, oldest first (read-only; ``(0, 0)`` before any add)."""
        return np.zeros((0, 0), dtype=np.float32) if self._reference is None else self._reference

    def clear(self, *, replay: bool = True, stats: bool = True, reference: bool = True) -> None:
        """Forget the replay items, the reward statistics and the reference embeddings (with its dimension), or
        only the parts asked for."""
        if replay:
            self._replay.clear()
        if stats:
            self._stats.clear()
        if reference:
            self._reference = None

    # --- persistence ------------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """``{"meta": a JSON-compatible dict, "arrays": {"reference": (m, d) float32}}``, which rebuild this memory
        (:meth:`load_state_dict`)."""
        meta = {
            "version": FORMAT_VERSION,
            "replay_per_task": self.replay_per_task,
            "reference_capacity": self.reference_capacity,
            "replay": [{"task": task, "items": [
                {"prompt": [dict(m) for m in it.prompt], "completion": it.completion, "score": it.score} for it in items
            ]} for task, items in self._replay.items()],
            "stats": {kind: [[key, count, mean] for key, (count, mean) in table.items()]
                      for kind, table in self._stats.items()},
            "reference_shape": None if self._reference is None else list(self._reference.shape),
        }
        arrays = {} if self._reference is None else {"reference": np.array(self._reference)}
        return {"meta": meta, "arrays": arrays}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned; a malformed state raises ``ValueError`` and leaves the memory as
        it was."""
        if not isinstance(state, Mapping) or not {"meta", "arrays"} <= set(state):
            raise ValueError("expected a dict with 'meta' and 'arrays' (ExperienceMemory.state_dict() output)")
        self.__dict__.update(self._from_state(state["meta"], state["arrays"]).__dict__)

    @classmethod
    def _from_state(cls, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> ExperienceMemory:
        """A new memory from :meth:`state_dict`'s two parts; ValueError on anything malformed."""
        if not isinstance(meta, Mapping) or meta.get("version") != FORMAT_VERSION:
            version = meta.get("version") if isinstance(meta, Mapping) else None
            raise ValueError(f"meta: expected a dict with version {FORMAT_VERSION}, got version {version!r}")
        try:
            memory = cls(meta["replay_per_task"], meta["reference_capacity"])
            for entry in meta["replay"]:
                memory.add_replay([ReplayItem(entry["task"], it["prompt"], it["completion"], it["score"])
                                   for it in entry["items"]])
            for kind, rows in meta["stats"].items():
                for key, count, mean in rows:
                    if isinstance(count, bool) or not isinstance(count, int) or count < 1 or not isinstance(key, str):
                        raise ValueError(f"stats[{kind!r}]: bad entry {[key, count, mean]!r}")
                    if not _is_finite_number(mean):
                        raise ValueError(f"stats[{kind!r}][{key!r}]: mean must be finite, got {mean!r}")
                    memory._stats.setdefault(kind, {})[key] = (count, float(mean))
            shape = meta["reference_shape"]
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"meta: malformed memory state ({type(exc).__name__}: {exc})") from exc
        ref = arrays.get("reference")
        if shape is None:
            if ref is not None:
                raise ValueError("arrays: unexpected 'reference' array (meta says reference_shape is null)")
            return memory
        if (not isinstance(shape, list) or len(shape) != 2 or not all(type(v) is int for v in shape)
                or shape[0] < 0 or shape[1] < 1):
            raise ValueError(f"meta: reference_shape must be null or [rows, dim >= 1], got {shape!r}")
        if ref is None or list(np.shape(ref)) != shape or np.asarray(ref).dtype != np.float32:
            got = None if ref is None else (list(np.shape(ref)), str(np.asarray(ref).dtype))
            raise ValueError(f"arrays: expected 'reference' float32 of shape {shape}, got {got}")
        memory._reference = np.zeros((0, shape[1]), dtype=np.float32)
        memory.add_reference(ref)
        return memory

    def save_state(self, directory: str | os.PathLike[str]) -> None:
        """Write ``memory.safetensors`` then ``memory.json`` into ``directory``, each atomically."""
        from safetensors.numpy import save as st_save

        directory = Path(directory)
        state = self.state_dict()
        meta, arrays = state["meta"], state["arrays"]
        with atomic_open(directory / ARRAYS_FILE, "wb") as fh:  # temp file in the same dir, then os.replace
            fh.write(st_save(arrays))
        write_json(directory / META_FILE, meta)

    def load_state(self, directory: str | os.PathLike[str]) -> None:
        """Read a memory written by :meth:`save_state` into this one; MemoryFormatError (a ValueError) names a
        missing or bad file, and the memory stays as it was."""
        from safetensors.numpy import load_file

        directory = Path(directory)
        meta_path, arrays_path = directory / META_FILE, directory / ARRAYS_FILE
        for path in (meta_path, arrays_path):
            if not path.is_file():
                raise MemoryFormatError(f"{path}: file not found; a saved memory needs {META_FILE} and {ARRAYS_FILE}")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise MemoryFormatError(f"{meta_path}: not valid JSON ({exc})") from exc
        try:
            arrays = load_file(str(arrays_path))
        except Exception as exc:  # safetensors raises its own SafetensorError for a bad header
            raise MemoryFormatError(f"{arrays_path}: not a readable safetensors file ({exc})") from exc
        try:
            self.load_state_dict({"meta": meta, "arrays": arrays})
        except ValueError as exc:
            raise MemoryFormatError(f"{meta_path} / {arrays_path}: {exc}") from exc

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ExperienceMemory):
            return NotImplemented
        (meta_a, arr_a), (meta_b, arr_b) = self.state_dict().values(), other.state_dict().values()
        return meta_a == meta_b and arr_a.keys() == arr_b.keys() and all(
            np.array_equal(arr_a[k], arr_b[k]) for k in arr_a)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"ExperienceMemory(tasks={len(self._replay)}, replay_items={len(self)}, "
                f"reference={tuple(self.reference.shape)})")
