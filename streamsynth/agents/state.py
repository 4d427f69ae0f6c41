"""What every agent checkpoint needs: one error type, a checked JSON reader, and the settings/format check.

Agents with ``supports_checkpoints`` (SynLearner, the SB3 agents) write a folder with an ``agent.json`` that holds a
format tag, the agent's settings and seed, counters and RNG states, next to their own binary files. Loading reads and
checks everything before it changes the agent, so a broken or foreign checkpoint raises :class:`CheckpointError`
and leaves the agent as it was.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from streamsynth.errors import StreamSynthError
from streamsynth.io import atomic_open

if TYPE_CHECKING:
    import torch


class CheckpointError(StreamSynthError, ValueError):
    """A checkpoint folder is missing, broken, or from another configuration."""


def read_json(path: Path) -> dict[str, Any]:
    """A checkpoint's JSON file, or a :class:`CheckpointError` that says it is missing or broken."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint file {path} is missing; start the run again") from None
    except ValueError as exc:
        raise CheckpointError(f"checkpoint file {path} is not valid JSON ({exc}); start the run again") from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"checkpoint file {path} holds {type(data).__name__}, not an object; start the run again")
    return data


def check_header(data: Mapping[str, Any], path: Path, fmt: str, settings: Mapping[str, Any], seed: int) -> None:
    """Refuse a checkpoint of another format, other settings or another seed, naming what differs."""
    if data.get("format") != fmt:
        raise CheckpointError(f"{path} is not a {fmt.split('/')[0]} checkpoint (format {data.get('format')!r}, "
                              f"expected {fmt!r})")
    saved = data.get("config")
    saved = saved if isinstance(saved, dict) else {}
    diff = {k: (saved.get(k), v) for k, v in settings.items() if saved.get(k) != v}
    if data.get("seed") != seed:
        diff["seed"] = (data.get("seed"), seed)
    if diff:
        raise CheckpointError(f"the checkpoint in {path.parent} was made with other settings ({diff}: saved vs now); "
                              "resume with the run's own settings")


def generator_from_state(state: Any) -> np.random.Generator:
    """A NumPy generator restored from ``Generator.bit_generator.state`` (as saved in JSON)."""
    rng = np.random.default_rng()
    rng.bit_generator.state = state
    return rng


def save_tensors(path: Path, tensors: Mapping[str, torch.Tensor]) -> None:
    """Write named tensors as one safetensors file, atomically."""
    from safetensors.torch import save

    with atomic_open(path, "wb") as fh:
        fh.write(save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}))


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Named tensors from a safetensors file (no pickle), or a :class:`CheckpointError` naming the file."""
    from safetensors.torch import load

    try:
        return load(Path(path).read_bytes())
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint file {path} is missing; the checkpoint is incomplete: start the run "
                              "again or resume from an intact run folder") from None
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise CheckpointError(f"checkpoint file {path} is unreadable ({exc}); start the run again") from exc


def split_optimizer_state(state_dict: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """A torch optimizer's ``state_dict()`` as JSON metadata plus named tensors (for :func:`save_tensors`).

    >>> import torch
    >>> meta, tensors = split_optimizer_state({"state": {0: {"step": 3, "exp_avg": torch.ones(2)}},
    ...                                        "param_groups": [{"lr": 0.1, "params": [0]}]})
    >>> meta["state"], list(tensors)
    ({'0': {'step': 3, 'exp_avg': {'tensor': 'state.0.exp_avg'}}}, ['state.0.exp_avg'])
    """
    import torch

    tensors: dict[str, torch.Tensor] = {}
    meta_state: dict[str, dict[str, Any]] = {}
    for idx, st in state_dict["state"].items():
        entry: dict[str, Any] = {}
        for key, value in st.items():
            if isinstance(value, torch.Tensor):
                name = f"state.{idx}.{key}"
                tensors[name] = value.detach().cpu().contiguous()
                entry[key] = {"tensor": name}
            else:
                entry[key] = value
        meta_state[str(idx)] = entry
    return {"state": meta_state, "param_groups": state_dict["param_groups"]}, tensors


def join_optimizer_state(meta: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """The ``state_dict`` that :func:`split_optimizer_state` split (for ``optimizer.load_state_dict``)."""
    state = {int(idx): {k: tensors[v["tensor"]] if isinstance(v, dict) and "tensor" in v else v
                        for k, v in entry.items()}
             for idx, entry in meta["state"].items()}
    return {"state": state, "param_groups": meta["param_groups"]}
