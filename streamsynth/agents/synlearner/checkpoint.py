"""Saving and restoring a SynLearner agent (adapter, optimiser, memory, RNG and counters) without pickle.

Layout of an agent folder: ``agent.json`` (settings, counters, RNG state, proposed attributes, round log),
``adapter.safetensors``, ``optimizer.json`` + ``optimizer.safetensors``, ``rng.safetensors`` (torch's global
CPU generator) and ``memory/`` (:class:`~streamsynth.agents.synlearner.memory.ExperienceMemory`). Every file is
written atomically; the run-level checkpoint (``evaluation/checkpoint.py``) swaps whole folders.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from streamsynth.agents.state import (
    CheckpointError,
    check_header,
    generator_from_state,
    load_tensors,
    read_json,
    save_tensors,
)
from streamsynth.agents.synlearner.config import SynLearnerConfig
from streamsynth.io import write_json

if TYPE_CHECKING:
    from streamsynth.agents.synlearner.agent import SynLearnerAgent

FORMAT = "streamsynth.synlearner/1"


def save_agent(agent: SynLearnerAgent, directory: str | Path) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    policy = agent.policy
    save_tensors(directory / "adapter.safetensors", policy.adapter_state())
    meta, tensors = policy.optimizer_state()
    save_tensors(directory / "optimizer.safetensors", tensors)
    write_json(directory / "optimizer.json", meta)
    save_tensors(directory / "rng.safetensors", {"torch_cpu": torch.get_rng_state()})
    agent.memory.save_state(directory / "memory")
    write_json(directory / "agent.json", {
        "format": FORMAT,
        "config": agent.config.to_dict(),
        "seed": agent.seed,
        "episodes": agent._episodes,
        "task_key": list(agent._task_key) if agent._task_key else None,
        "calls": agent.calls,
        "feedback_done": agent.feedback_done,
        "pool": _pool_to_json(agent.pool),
        "rng": agent.rng.bit_generator.state,
        "proposed": {t: {k: list(v) for k, v in d.items()} for t, d in agent.proposed.items()},
        "dims": {k: list(v) for k, v in agent.dims.items()},
        "log": agent.log,
    })
    return directory


def load_agent(agent: SynLearnerAgent, directory: str | Path) -> None:
    """Restore ``agent`` (built with the same settings) from ``directory``: every file is read and checked first,
    so a broken checkpoint raises :class:`CheckpointError` and leaves the agent as it was."""
    from streamsynth.agents.synlearner.memory import ExperienceMemory

    directory = Path(directory)
    data = read_json(directory / "agent.json")
    if isinstance(data.get("config"), dict):  # settings added since the checkpoint was written: what its run did
        try:
            data = {**data, "config": SynLearnerConfig.from_saved(data["config"]).to_dict()}
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"the checkpoint in {directory} holds settings this version cannot read ({exc}); "
                                  "resume with the version that wrote it, or start the run again") from exc
    check_header(data, directory / "agent.json", FORMAT, agent.config.to_dict(), agent.seed)
    adapter = load_tensors(directory / "adapter.safetensors")
    optimizer = (read_json(directory / "optimizer.json"), load_tensors(directory / "optimizer.safetensors"))
    torch_rng = load_tensors(directory / "rng.safetensors").get("torch_cpu")
    memory = ExperienceMemory()
    memory.load_state(directory / "memory")
    try:
        rng = generator_from_state(data["rng"])
        counters = (int(data["episodes"]), tuple(data["task_key"]) if data["task_key"] else None, int(data["calls"]),
                    int(data.get("feedback_done", 0)))
        proposed = {t: {k: tuple(v) for k, v in d.items()} for t, d in data["proposed"].items()}
        dims = {k: tuple(v) for k, v in data["dims"].items()}
        pool = _pool_from_json(data.get("pool"))  # absent in checkpoints written before DAI drafted its pool
        log = list(data["log"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{directory / 'agent.json'} is incomplete or malformed ({exc!r}); start the run "
                              "again") from exc
    if torch_rng is None:
        raise CheckpointError(f"{directory / 'rng.safetensors'} holds no 'torch_cpu' state; start the run again")
    policy = agent.policy
    try:
        policy.load_adapter_state(adapter)
        policy.load_optimizer_state(*optimizer)
    except (KeyError, ValueError) as exc:
        raise CheckpointError(f"the adapter or optimizer state in {directory} does not fit this model ({exc}); "
                              "resume with the run's own settings") from exc
    torch.set_rng_state(torch_rng)
    agent.memory = memory
    agent._episodes, agent._task_key, agent.calls, agent.feedback_done = counters
    agent.rng = rng
    agent.proposed, agent.dims, agent.log = proposed, dims, log
    agent.pool = pool
    agent._pending = None


POOL_ROW_KEYS = ("prompt", "pattern", "attrs", "label", "sample", "quality")
"""What a drafted DAI candidate needs for its pick and for EFT (its token ids are not needed after drafting)."""


def _pool_to_json(pool: dict | None) -> dict | None:
    if pool is None:
        return None
    # "score" (the env's per-sample score, for dai_select=score) is absent from checkpoints written before it
    return {"size": pool["size"], "rows": [{k: row[k] for k in (*POOL_ROW_KEYS, "score") if k in row}
                                           for row in pool["rows"]]}


def _pool_from_json(pool: object) -> dict | None:
    if pool is None:
        return None
    if not (isinstance(pool, dict) and isinstance(pool.get("rows"), list) and isinstance(pool.get("size"), int)
            and all(isinstance(r, dict) and set(POOL_ROW_KEYS) <= set(r) for r in pool["rows"])):
        raise ValueError(f"the drafted DAI pool must hold 'size' and 'rows' with {POOL_ROW_KEYS}")
    return pool
