"""Checkpoints of a :class:`~streamsynth.envs.streamsynth_env.StreamSynthEnv`: an interrupted run resumes exactly.

:func:`env_state_dict` snapshots everything ``step`` and ``reset`` depend on that is not rebuilt from the
constructor arguments (the per-task contexts are: they are deterministic in the task, ``data_seed`` and the
embedder):

- ``config``: the constructor arguments results depend on (task names, ``samples_per_label``, ``max_rounds``,
  ``max_samples_per_step``, reward weights and mode, ``cycle``, split sizes, ``data_seed``, ``near_duplicate``,
  ``novelty_capacity``, ``feedback_budget``, embedder name and dim). Loading checks them against the env, so a state
  only loads into an env built with the same arguments.
- ``position``: the stream position (index of the current task, -1 before the first ``reset``).
- ``task``: the current episode (``None`` before the first ``reset``): task index, round, done, drafts used of the
  feedback budget (0 when a state from before drafts lacks it), score, last
  figures, accepted samples, their keys and per-sample fidelity / novelty lists, ``encoded``: the accepted
  samples' vectors, classifier features, label indices and texts as they were computed at step time, and
  ``drafted``: the same for the task's most recent scored drafts (as many as its target size), the context of the
  next drafts' realism (empty when a state from before it lacks it).
- ``memory``: the novelty reference memory (:meth:`~streamsynth.rewards.novelty.ReferenceMemory.state_dict`).
- ``rng``: the env's ``np_random`` (state and seed) and the action space's generator (``action_space.sample()``).

The encodings are stored, not recomputed on load, because re-encoding is not bit-exact in general: a
sentence-transformers embedding of a text depends slightly (~1e-7) on the batch it was computed in (padding),
and a sample submitted with surrounding white space is scored on the raw text but stored stripped, so without
the embedding cache of the interrupted process the recomputed vectors differ in the last bits and so would
near-duplicate checks, set scores and rewards. (With the ``hashing`` embedder the recomputation would be exact.)

Values are JSON-compatible (str, int, float, bool, None, lists, dicts) except numpy arrays. :func:`save_env_state`
writes ``env_state.json`` and ``env_state.safetensors`` (the arrays; no pickle) atomically; the JSON records the
SHA-256 of the tensors file, so a pair from two different saves, or a damaged file, is refused on load.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from streamsynth.envs.config import EnvConfig
from streamsynth.errors import StreamSynthError
from streamsynth.io import atomic_open
from streamsynth.rewards import single_threaded_blas
from streamsynth.rewards.novelty import ReferenceMemory
from streamsynth.rewards.scorer import EncodedSet
from streamsynth.rewards.validity import sample_key
from streamsynth.tasks.spec import LABEL_KEY

if TYPE_CHECKING:
    from streamsynth.envs.streamsynth_env import StreamSynthEnv

__all__ = ["EnvStateError", "EnvStateNotFoundError", "STATE_JSON", "STATE_TENSORS", "env_state_dict",
           "load_env_state_dict", "save_env_state", "load_env_state"]

STATE_FORMAT = "streamsynth.env_state"
STATE_VERSION = 1
STATE_JSON = "env_state.json"
STATE_TENSORS = "env_state.safetensors"
_ARRAY_REF = "__ndarray__"  # JSON placeholder of an array stored in the tensors file


class EnvStateError(StreamSynthError, ValueError):
    """A saved env state is broken, incomplete or belongs to an env built with other arguments."""


class EnvStateNotFoundError(EnvStateError, FileNotFoundError):
    """No saved env state where one was expected."""


# ---------------------------------------------------------------------------------------------- state dicts
def env_config(env: StreamSynthEnv) -> dict[str, Any]:
    """The constructor arguments that results depend on, as plain data (``render_mode`` is not one)."""
    settings = {k: v for k, v in env.config.to_dict().items() if k != "embedder"}  # every EnvConfig setting
    return {"tasks": [t.name for t in env.tasks], **settings,
            "embedder": {"name": str(env.embedder.name), "dim": int(env.embedder.dim)}}


def env_state_dict(env: StreamSynthEnv) -> dict[str, Any]:
    """See the module docstring. The arrays are copies: later steps never change a snapshot."""
    st = env._state
    task = None
    if st is not None:
        empty = env._context(st.index).scorer.encode([])
        enc = EncodedSet.concat(st.parts) if st.parts else empty
        drafted = EncodedSet.concat(st.drafted) if st.drafted else empty
        task = {
            "index": st.index,
            "round": st.round,
            "done": bool(st.done),
            "drafts_used": int(st.drafts_used),
            "steps": int(st.steps),
            "score": float(st.score),
            "figures": {str(k): float(v) for k, v in st.figures.items()},
            "samples": [dict(s) for s in st.samples],
            "keys": sorted(st.keys),
            "fidelity": [float(x) for x in st.fidelity],
            "novelty": [float(x) for x in st.novelty],
            "encoded": _encoding_dict(enc),
            "drafted": _encoding_dict(drafted),
        }
    memory = None
    if env._memory is not None:
        with single_threaded_blas():  # sigma computed exactly as step() would compute it
            memory = env._memory.state_dict()
        memory["embeddings"] = np.array(memory["embeddings"], dtype=np.float32)
    return {
        "format": STATE_FORMAT,
        "version": STATE_VERSION,
        "config": env_config(env),
        "position": env._position,
        "task": task,
        "memory": memory,
        "rng": {
            "env": _rng_state(env._np_random),
            "env_seed": env._np_random_seed,
            "action_space": _rng_state(env.action_space._np_random),
        },
    }


def load_env_state_dict(env: StreamSynthEnv, state: Mapping[str, Any]) -> None:
    """Restore :func:`env_state_dict` output. Everything is checked first: on an error the env is unchanged."""
    from streamsynth.envs.streamsynth_env import _TaskState

    if not isinstance(state, Mapping):
        raise EnvStateError(
            f"an env state must be a mapping (StreamSynthEnv.state_dict() output), got {type(state).__name__}"
        )
    if state.get("format") != STATE_FORMAT or state.get("version") != STATE_VERSION:
        raise EnvStateError(
            f"not a StreamSynth env state of version {STATE_VERSION} (format={state.get('format')!r}, "
            f"version={state.get('version')!r}); pass StreamSynthEnv.state_dict() output"
        )
    missing = {"config", "position", "task", "memory", "rng"} - set(state)
    if missing:
        raise EnvStateError(f"the env state misses {sorted(missing)}; pass StreamSynthEnv.state_dict() output")
    _check_config(env, state["config"])
    position = _int(state["position"], "position", -1, len(env.tasks) - 1)

    task_state, mem = None, None
    if state["task"] is not None:
        task_state = _task_state(env, state["task"], _TaskState)
    if state["memory"] is not None:
        try:
            mem = ReferenceMemory(env.embedder.dim, capacity=env.config.novelty_capacity)
            mem.load_state_dict(state["memory"])
        except (ValueError, TypeError, KeyError) as exc:
            raise EnvStateError(f"the env state's novelty memory is broken: {exc}") from exc
        if mem.dim != env.embedder.dim or mem.capacity != env.config.novelty_capacity:
            raise EnvStateError(
                f"the env state's novelty memory has dim={mem.dim}, capacity={mem.capacity}; this env needs "
                f"dim={env.embedder.dim}, capacity={env.config.novelty_capacity}"
            )
    if task_state is not None and mem is None:
        raise EnvStateError("the env state has a current task but no novelty memory; it is incomplete")
    rng = state["rng"]
    if not isinstance(rng, Mapping):
        raise EnvStateError("the env state's 'rng' must be a mapping")
    env_rng = _make_rng(rng.get("env"), "rng.env")
    space_rng = _make_rng(rng.get("action_space"), "rng.action_space")
    env_seed = rng.get("env_seed")
    if env_seed is not None and (isinstance(env_seed, bool) or not isinstance(env_seed, int)):
        raise EnvStateError(f"the env state's rng.env_seed must be an int or null, got {env_seed!r}")

    # commit
    env._position = position
    env._state = task_state
    env._memory = mem
    env._np_random, env._np_random_seed = env_rng, env_seed
    task = env.tasks[task_state.index] if task_state is not None else env.tasks[0]
    env.action_space.set_format(task.fields, task.label_names)
    env.action_space._np_random = space_rng


def _check_config(env: StreamSynthEnv, saved: Any) -> None:
    if not isinstance(saved, Mapping):
        raise EnvStateError("the env state's 'config' must be a mapping")
    current = env_config(env)
    defaults = EnvConfig().to_dict()  # a setting added since the state was saved: the state ran at its default
    diffs = [f"{k}: saved {saved.get(k, defaults.get(k))!r}, this env {v!r}" for k, v in current.items()
             if saved.get(k, defaults.get(k)) != v]
    if diffs:
        raise EnvStateError(
            "the env state was saved from an env built with other arguments (" + "; ".join(diffs) + "); build the "
            "env with the same stream, samples_per_label, embedder and other arguments as the run that saved it"
        )


def _task_state(env: StreamSynthEnv, raw: Any, cls: type) -> Any:
    if not isinstance(raw, Mapping):
        raise EnvStateError("the env state's 'task' must be a mapping or null")
    missing = {"index", "round", "done", "score", "figures", "samples", "keys", "fidelity", "novelty",
               "encoded"} - set(raw)
    if missing:
        raise EnvStateError(f"the env state's task misses {sorted(missing)}")
    index = _int(raw["index"], "task.index", 0, len(env.tasks) - 1)
    ctx = env._context(index)
    task = ctx.task
    samples = raw["samples"]
    if not isinstance(samples, list):
        raise EnvStateError("the env state's task.samples must be a list")
    want = set(task.fields) | {LABEL_KEY}
    for i, s in enumerate(samples):
        if not (isinstance(s, Mapping) and set(s) == want and all(isinstance(v, str) for v in s.values())
                and s[LABEL_KEY] in task.labels):
            raise EnvStateError(f"the env state's task.samples[{i}] is not a sample of task {task.name!r}: {s!r}")
    n = len(samples)
    fidelity, novelty = _floats(raw["fidelity"], "task.fidelity", n), _floats(raw["novelty"], "task.novelty", n)
    keys = raw["keys"]
    if not isinstance(keys, list) or set(keys) != {sample_key(s, task.fields) for s in samples}:
        raise EnvStateError("the env state's task.keys do not match its samples; the state is broken")
    figures = raw["figures"]
    if not isinstance(figures, Mapping) or not all(_is_number(v) for v in figures.values()):
        raise EnvStateError("the env state's task.figures must map names to numbers")
    if not isinstance(raw["done"], bool) or not _is_number(raw["score"]):
        raise EnvStateError("the env state's task.done must be a bool and task.score a number")
    expected = [ctx.task.label_names.index(s[LABEL_KEY]) for s in samples]
    parts = _encoded(raw["encoded"], "encoded", ctx, expected)
    drafted = _encoded(raw["drafted"], "drafted", ctx) if "drafted" in raw else []
    return cls(
        index=index,
        round=_int(raw["round"], "task.round", 0, env.config.max_rounds),
        samples=[dict(s) for s in samples],
        keys=set(keys),
        parts=parts,
        fidelity=fidelity,
        novelty=novelty,
        score=float(raw["score"]),
        figures={str(k): float(v) for k, v in figures.items()},
        done=raw["done"],
        drafts_used=_int(raw.get("drafts_used", 0), "task.drafts_used", 0, env._budget_of(index)),
        steps=_int(raw.get("steps", raw["round"]), "task.steps", 0, 2**31 - 1),
        drafted=drafted,
    )


def _encoding_dict(enc: EncodedSet) -> dict[str, Any]:
    return {"vectors": np.array(enc.vectors, dtype=np.float32), "features": np.array(enc.features, dtype=np.float32),
            "labels": np.array(enc.labels, dtype=np.int64), "texts": list(enc.texts)}


def _encoded(raw: Any, name: str, ctx: Any, expected: list[int] | None = None) -> list[EncodedSet]:
    """The encodings stored under ``task.<name>``; ``expected``: the label index of each row (the accepted
    samples'), else any of the task's labels and as many rows as stored."""
    if not isinstance(raw, Mapping) or {"vectors", "features", "labels", "texts"} - set(raw):
        raise EnvStateError(f"the env state's task.{name} must hold vectors, features, labels and texts")
    empty = ctx.scorer.encode([])
    try:
        vectors, features, labels = (np.asarray(raw[k]) for k in ("vectors", "features", "labels"))
    except (ValueError, TypeError) as exc:
        raise EnvStateError(f"the env state's task.{name} holds arrays that cannot be read ({exc}); the state is "
                            "broken") from None
    texts = raw["texts"]
    n = len(expected) if expected is not None else (labels.shape[0] if labels.ndim == 1 else -1)
    labels_ok = (labels.tolist() == expected if expected is not None
                 else labels.shape == (n,) and labels.dtype.kind in "iu"
                 and all(0 <= int(x) < len(ctx.task.labels) for x in labels.tolist()))
    if (vectors.shape != (n, empty.vectors.shape[1]) or features.shape != (n, empty.features.shape[1])
            or labels.shape != (n,) or not labels_ok
            or not isinstance(texts, list) or len(texts) != n or not all(isinstance(t, str) for t in texts)):
        what = f"its {n} samples" if expected is not None else "its labels"
        raise EnvStateError(
            f"the env state's task.{name} does not fit {what} and this env's embedder "
            f"(vectors {vectors.shape}, features {features.shape}, labels {labels.shape}); the state is broken"
        )
    if n == 0:
        return []
    return [EncodedSet(vectors.astype(np.float32, copy=True), features.astype(np.float32, copy=True),
                       labels.astype(int, copy=True), list(texts))]


def _int(value: Any, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise EnvStateError(f"the env state's {name} must be an int in [{lo}, {hi}], got {value!r}")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _floats(values: Any, name: str, n: int) -> list[float]:
    if not isinstance(values, list) or len(values) != n or not all(_is_number(v) for v in values):
        raise EnvStateError(f"the env state's {name} must be a list of {n} numbers (one per accepted sample)")
    return [float(v) for v in values]


def _rng_state(gen: np.random.Generator | None) -> dict[str, Any] | None:
    return None if gen is None else gen.bit_generator.state


def _make_rng(state: Any, name: str) -> np.random.Generator | None:
    if state is None:
        return None
    try:
        bit_generator = getattr(np.random, state["bit_generator"])()
        bit_generator.state = state
    except (TypeError, KeyError, AttributeError, ValueError) as exc:
        raise EnvStateError(f"the env state's {name} is not a numpy generator state: {exc}") from exc
    return np.random.Generator(bit_generator)


# ---------------------------------------------------------------------------------------------- files
def save_env_state(env: StreamSynthEnv, path_dir: str | Path) -> Path:
    """Write ``env_state.json`` and ``env_state.safetensors`` into ``path_dir`` (created if needed), each
    atomically; returns the directory."""
    from safetensors.numpy import save as safetensors_bytes

    directory = Path(path_dir)
    doc, arrays = _split_arrays(env_state_dict(env))
    data = safetensors_bytes({k: np.ascontiguousarray(v) for k, v in arrays.items()},
                             metadata={"format": STATE_FORMAT, "version": str(STATE_VERSION)})
    doc["tensors"] = {"file": STATE_TENSORS, "sha256": hashlib.sha256(data).hexdigest()}
    text = json.dumps(doc, indent=1, ensure_ascii=True) + "\n"  # ASCII: any Unicode (lone surrogates too) round-trips
    with atomic_open(directory / STATE_TENSORS, "wb") as fh:
        fh.write(data)
    with atomic_open(directory / STATE_JSON, "w") as fh:
        fh.write(text)
    return directory


def load_env_state(env: StreamSynthEnv, path_dir: str | Path) -> None:
    """Read what :func:`save_env_state` wrote and restore it into ``env`` (unchanged on any error)."""
    from safetensors.numpy import load as safetensors_load

    directory = Path(path_dir)
    json_path, tensors_path = directory / STATE_JSON, directory / STATE_TENSORS
    for path in (json_path, tensors_path):
        if not path.is_file():
            raise EnvStateNotFoundError(
                f"{path}: no such file; a saved env state is the pair {STATE_JSON} + {STATE_TENSORS} written by "
                "StreamSynthEnv.save_state(dir): pass that directory, or start the run fresh"
            )
    fix = "resume from an older checkpoint or start the run fresh"
    try:
        doc = json.loads(json_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EnvStateError(f"{json_path}: not valid JSON ({exc}), the file is damaged; {fix}") from exc
    if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT or not isinstance(doc.get("tensors"), dict):
        raise EnvStateError(f"{json_path}: not a StreamSynth env state (written by StreamSynthEnv.save_state); {fix}")
    data = tensors_path.read_bytes()
    if hashlib.sha256(data).hexdigest() != doc["tensors"].get("sha256"):
        raise EnvStateError(
            f"{tensors_path} does not match {json_path} (SHA-256 differs): the two files come from different saves "
            f"(an interrupted save?) or one is damaged; {fix}"
        )
    try:
        arrays = safetensors_load(data)
    except Exception as exc:  # safetensors raises its own SafetensorError
        raise EnvStateError(
            f"{tensors_path}: not a valid safetensors file ({exc}), the file is damaged; {fix}"
        ) from exc
    del doc["tensors"]
    try:
        env.load_state_dict(_join_arrays(doc, arrays))
    except EnvStateError as exc:
        raise EnvStateError(f"{json_path}: {exc}") from exc


def _split_arrays(obj: Any, path: str = "") -> tuple[Any, dict[str, np.ndarray]]:
    """Replace each numpy array in a nest of dicts and lists by ``{"__ndarray__": name}``; returns the arrays."""
    arrays: dict[str, np.ndarray] = {}

    def walk(x: Any, where: str) -> Any:
        if isinstance(x, np.ndarray):
            arrays[where] = x
            return {_ARRAY_REF: where}
        if isinstance(x, Mapping):
            return {str(k): walk(v, f"{where}.{k}" if where else str(k)) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [walk(v, f"{where}.{i}") for i, v in enumerate(x)]
        if isinstance(x, np.generic):
            return x.item()
        return x

    return walk(obj, path), arrays


def _join_arrays(obj: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {_ARRAY_REF} and isinstance(obj[_ARRAY_REF], str):
            if obj[_ARRAY_REF] not in arrays:
                raise EnvStateError(
                    f"array {obj[_ARRAY_REF]!r} is missing from {STATE_TENSORS}; the checkpoint is damaged"
                )
            return arrays[obj[_ARRAY_REF]]
        return {k: _join_arrays(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_join_arrays(v, arrays) for v in obj]
    return obj
