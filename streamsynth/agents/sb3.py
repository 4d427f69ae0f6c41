"""``sb3-ppo`` / ``sb3-a2c``: a stable-baselines3 policy over generation strategies, trained across the stream.

The policy reads the :class:`~streamsynth.envs.strategy.StrategyFeaturizer` vector of each observation (task
embedding, last round's feedback, progress) and picks a :class:`~streamsynth.envs.strategy.Strategy` (prompt style,
temperature, in-context examples, attribute variation); :func:`~streamsynth.envs.strategy.synthesize` executes it
with the LLM. Learning happens inside the ordinary agent loop (``act`` / ``observe``), not in SB3's ``learn()``:
each transition goes into the model's ``rollout_buffer`` exactly as ``OnPolicyAlgorithm.collect_rollouts`` would
put it there, and every ``n_steps`` rounds the buffer's returns and advantages are computed and ``model.train()``
runs one PPO / A2C update. The LLM itself is never changed.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from streamsynth.agents.llm import LLMAgent, LLMConfig
from streamsynth.agents.state import (
    CheckpointError,
    check_header,
    generator_from_state,
    join_optimizer_state,
    load_tensors,
    read_json,
    save_tensors,
    split_optimizer_state,
)
from streamsynth.config import check_choice, check_int, check_number
from streamsynth.envs.strategy import (
    Strategy,
    StrategyFeaturizer,
    strategy_action_space,
    strategy_from_action,
    synthesize,
)
from streamsynth.generation.base import GenerationBackend
from streamsynth.io import atomic_open, write_json
from streamsynth.tasks.spec import Sample

ALGORITHMS: tuple[str, ...] = ("ppo", "a2c")
FORMAT = "streamsynth.sb3/1"
BUFFER_ARRAYS: tuple[str, ...] = ("observations", "actions", "rewards", "returns", "episode_starts", "values",
                                  "log_probs", "advantages")
"""The rollout buffer's arrays that a checkpoint keeps (SB3's own ``save`` leaves the buffer out)."""


@dataclass(frozen=True)
class SB3Config:
    """Settings of the strategy policy and its on-policy updates.

    ``n_steps`` is the number of rounds (each a full LLM generation) between updates; it is small because rounds
    are expensive. PPO uses the whole buffer as one minibatch, ``n_epochs`` times. ``net_arch``: hidden layers of
    both the policy and the value head.
    """

    algorithm: str = "ppo"
    """ppo or a2c."""
    n_steps: int = 4
    """Rounds (each a full LLM generation) between policy updates."""
    learning_rate: float = 3e-4
    """Adam learning rate of the policy and value networks."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE lambda of the advantage estimates."""
    ent_coef: float = 0.01
    """Entropy bonus coefficient."""
    n_epochs: int = 4
    """PPO passes over the buffer per update (one minibatch)."""
    net_arch: tuple[int, ...] = (32, 32)
    """Hidden layer sizes of the policy and the value head."""

    def __post_init__(self) -> None:
        check_choice("algorithm", self.algorithm, ALGORITHMS)
        check_int("n_steps", self.n_steps)
        check_int("n_epochs", self.n_epochs)
        if self.algorithm == "ppo" and self.n_steps < 2:
            raise ValueError("PPO normalises advantages over the buffer: n_steps must be >= 2")
        check_number("learning_rate", self.learning_rate, low_open=True)
        check_number("gamma", self.gamma, 0, 1)
        check_number("gae_lambda", self.gae_lambda, 0, 1)
        check_number("ent_coef", self.ent_coef)
        if not self.net_arch or isinstance(self.net_arch, str):
            raise ValueError(f"net_arch must be a non-empty tuple of positive ints, got {self.net_arch!r}")
        for h in self.net_arch:
            check_int("net_arch entries", h)

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON values (``net_arch`` as a list)."""
        return {**asdict(self), "net_arch": list(self.net_arch)}


@contextmanager
def preserved_global_rng() -> Iterator[None]:
    """Run a block (SB3 seeding, sampling) without changing the global ``random`` / NumPy / torch CPU RNG state."""
    import torch

    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        with torch.random.fork_rng(devices=[]):
            yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


def build_model(config: SB3Config, featurizer: StrategyFeaturizer, seed: int) -> Any:
    """A PPO or A2C model with an ``MlpPolicy`` on the strategy spaces, on the CPU, with no env attached.

    SB3 takes its spaces from an env; here there is none (the agent loop drives the stream), so the model is made
    with ``_init_setup_model=False``, given the spaces and ``n_envs = 1``, then set up (network, optimizer,
    rollout buffer of ``n_steps``). A silent logger stands in for the one ``learn()`` would configure.
    """
    from stable_baselines3 import A2C, PPO
    from stable_baselines3.common.logger import Logger

    kwargs: dict[str, Any] = dict(
        learning_rate=config.learning_rate, n_steps=config.n_steps, gamma=config.gamma,
        gae_lambda=config.gae_lambda, ent_coef=config.ent_coef, seed=seed, device="cpu",
        policy_kwargs={"net_arch": list(config.net_arch)},
    )
    if config.algorithm == "ppo":
        cls, kwargs = PPO, {**kwargs, "batch_size": config.n_steps, "n_epochs": config.n_epochs}
    else:
        cls = A2C
    with preserved_global_rng():
        model = cls("MlpPolicy", env=None, _init_setup_model=False, **kwargs)
        model.observation_space = featurizer.observation_space
        model.action_space = strategy_action_space()
        model.n_envs = 1
        model._setup_model()
    model.set_logger(Logger(folder=None, output_formats=[]))
    return model


@dataclass
class _Pending:
    """The transition started by ``act`` and completed by ``observe``."""

    features: np.ndarray  # (1, dim)
    action: np.ndarray  # (1, 4)
    value: Any  # torch (1, 1)
    log_prob: Any  # torch (1,)
    episode_start: bool


class SB3Agent(LLMAgent):
    """Picks a generation strategy per round with a PPO / A2C policy and learns from the rewards across tasks.

    Args:
        featurizer: maps observations to policy inputs; :meth:`StrategyFeaturizer.for_env` gives the env's.
        sb3: the policy and update settings (:class:`SB3Config`).
        config: LLM settings (model, token budget, ``oversample``); the temperature is the strategy's.
        backend: an injected generation backend (else loaded from ``config`` on first use).
        seed: seeds the network's initialisation, action sampling and strategy execution.
    """

    learns = True
    supports_checkpoints = True

    def __init__(self, featurizer: StrategyFeaturizer, sb3: SB3Config | None = None, config: LLMConfig | None = None,
                 *, backend: GenerationBackend | None = None, seed: int = 0) -> None:
        super().__init__(config, backend=backend, seed=seed)
        self.featurizer = featurizer
        self.sb3 = sb3 or SB3Config()
        self.name = f"sb3-{self.sb3.algorithm}"
        self.model = build_model(self.sb3, featurizer, seed)
        self._rng = np.random.default_rng([self.seed, 1])  # strategy execution: examples, attributes, gen seeds
        self._torch_seeds = np.random.default_rng([self.seed, 2])  # one torch seed per action sample
        self._pending: _Pending | None = None
        self._episode_start = True
        self.updates = 0
        self._probes = 0
        self.last_strategy: Strategy | None = None

    @classmethod
    def for_env(cls, env: Any, algorithm: str = "ppo", config: LLMConfig | None = None, *,
                backend: GenerationBackend | None = None, seed: int = 0, **sb3_options: Any) -> SB3Agent:
        """An agent whose featurizer uses ``env``'s embedder, round budget and label count."""
        return cls(StrategyFeaturizer.for_env(env), SB3Config(algorithm=algorithm, **sb3_options), config,
                   backend=backend, seed=seed)

    # ---------------------------------------------------------------- acting
    def begin_task(self, observation: Mapping[str, Any]) -> None:
        self._episode_start = True

    def choose(self, observation: Mapping[str, Any]) -> _Pending:
        """The policy's sampled action, its value and log-probability for ``observation`` (no state change
        other than the draw of this step's sampling seed)."""
        import torch
        from stable_baselines3.common.utils import obs_as_tensor

        features = self.featurizer(observation)[None]  # (1, dim)
        policy = self.model.policy
        policy.set_training_mode(False)
        with preserved_global_rng(), torch.no_grad():
            torch.manual_seed(int(self._torch_seeds.integers(2**31)))
            actions, values, log_probs = policy(obs_as_tensor(features, self.model.device))
        return _Pending(features, actions.cpu().numpy(), values, log_probs, self._episode_start)

    def synthesize(self, observation: Mapping[str, Any]) -> list[Sample]:
        """Probe: the policy's most likely strategy for ``observation``, executed with a separate random stream;
        no transition is stored and the policy is not updated."""
        import torch
        from stable_baselines3.common.utils import obs_as_tensor

        features = self.featurizer(observation)[None]
        policy = self.model.policy
        policy.set_training_mode(False)
        with preserved_global_rng(), torch.no_grad():
            action = policy._predict(obs_as_tensor(features, self.model.device), deterministic=True)
        strategy = strategy_from_action(action.cpu().numpy().reshape(-1))
        self._probes += 1
        rng = np.random.default_rng([self.seed, 7919, self._probes])
        return synthesize(observation, strategy, self.backend, rng, self.config)

    def propose(self, observation: Mapping[str, Any]) -> list[Sample]:
        if self._pending is not None:
            raise RuntimeError(f"{self.name}: act() called twice without observe(); the agent learns from every round")
        pending = self.choose(observation)
        self.last_strategy = strategy_from_action(pending.action[0])
        samples = synthesize(observation, self.last_strategy, self.backend, self._rng, self.config)
        self._pending = pending
        self._episode_start = False
        return samples

    # ---------------------------------------------------------------- learning
    def observe(self, observation: Mapping[str, Any], reward: float, terminated: bool, truncated: bool,
                info: Mapping[str, Any]) -> None:
        """Store the round's transition; every ``n_steps`` rounds compute advantages and run one update."""
        if self._pending is None:
            raise RuntimeError(f"{self.name}: observe() called without a preceding act()")
        p, self._pending = self._pending, None
        buffer = self.model.rollout_buffer
        buffer.add(p.features, p.action, np.array([reward], dtype=np.float32), np.array([p.episode_start]),
                   p.value, p.log_prob)
        if buffer.full:
            self.update(observation, done=terminated or truncated)

    def update(self, observation: Mapping[str, Any], done: bool) -> None:
        """Finish the full rollout buffer (bootstrapping from ``observation`` unless ``done``), train, reset it."""
        import torch
        from stable_baselines3.common.utils import obs_as_tensor

        model = self.model
        with torch.no_grad():
            last_values = model.policy.predict_values(obs_as_tensor(self.featurizer(observation)[None], model.device))
        model.rollout_buffer.compute_returns_and_advantage(last_values=last_values, dones=np.array([done]))
        with preserved_global_rng():
            # the minibatch order (NumPy's global RNG in RolloutBuffer.get) is a function of the agent's seed and
            # update count, not of whatever ran before: an update after a resume is the update the run would make
            np.random.seed(np.random.SeedSequence([self.seed, 3, self.updates]).generate_state(1)[0])
            torch.manual_seed(int(np.random.SeedSequence([self.seed, 4, self.updates]).generate_state(1)[0]))
            model.train()
        model.num_timesteps += self.sb3.n_steps
        model.rollout_buffer.reset()
        self.updates += 1

    # ---------------------------------------------------------------- persistence
    def save_policy(self, path: str | Path) -> Path:
        """Export the policy (network, optimizer, settings) as SB3's own zip, which SB3's ``PPO.load`` / ``A2C.load``
        read; returns the file written. (Checkpoints of a run are :meth:`save_state`.)"""
        path = Path(path)
        if path.suffix != ".zip":
            path = path.with_suffix(".zip")
        self.model.save(path)  # SB3 leaves the rollout buffer out
        return path

    def load_policy(self, path: str | Path) -> None:
        """Replace the policy with one written by :meth:`save_policy` or by SB3 (its spaces must match this agent's
        featurizer)."""
        from stable_baselines3 import A2C, PPO
        from stable_baselines3.common.logger import Logger

        cls = {"ppo": PPO, "a2c": A2C}[self.sb3.algorithm]
        with preserved_global_rng():
            model = cls.load(Path(path), device="cpu")
        if (model.observation_space != self.featurizer.observation_space
                or model.action_space != strategy_action_space()):
            raise ValueError(f"{path}: the saved policy reads {model.observation_space.shape} features and acts in "
                             f"{model.action_space}; this agent needs {self.featurizer.observation_space.shape} "
                             "(another embedder or label count?)")
        model.set_logger(Logger(folder=None, output_formats=[]))
        self.model = model
        self._pending = None

    def save_state(self, directory: str | Path) -> Path:
        """Write the policy and optimizer (safetensors), the rollout buffer's transitions so far (``buffer.npz``)
        and the counters, optimizer metadata and RNG states (``agent.json``) to ``directory``; each file atomically,
        nothing that needs pickle to read back."""
        if self._pending is not None:
            raise RuntimeError(f"{self.name}: save_state() between act() and observe(): checkpoint after the "
                               "round's feedback")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        policy = self.model.policy
        save_tensors(directory / "policy.safetensors", policy.state_dict())
        optimizer_meta, optimizer_tensors = split_optimizer_state(policy.optimizer.state_dict())
        save_tensors(directory / "optimizer.safetensors", optimizer_tensors)
        buffer = self.model.rollout_buffer
        with atomic_open(directory / "buffer.npz", "wb") as fh:
            np.savez(fh, **{name: getattr(buffer, name) for name in BUFFER_ARRAYS})
        write_json(directory / "agent.json", {
            "format": FORMAT, "config": self._settings(), "seed": self.seed,
            "episodes": self._episodes, "task_key": list(self._task_key) if self._task_key else None,
            "round_calls": self._round_calls, "episode_start": self._episode_start, "updates": self.updates,
            "probes": self._probes, "num_timesteps": int(self.model.num_timesteps),
            "n_updates": int(self.model._n_updates), "optimizer": optimizer_meta,
            "buffer": {"pos": int(buffer.pos), "full": bool(buffer.full)},
            "rng": self._rng.bit_generator.state, "torch_seeds": self._torch_seeds.bit_generator.state,
            "last_strategy": asdict(self.last_strategy) if self.last_strategy else None,
        })
        return directory

    def load_state(self, directory: str | Path) -> None:
        """Restore what :meth:`save_state` wrote, on an agent with the same settings and seed. Everything is read
        and checked first: a broken or foreign checkpoint raises :class:`CheckpointError` and changes nothing."""
        directory = Path(directory)
        data = read_json(directory / "agent.json")
        check_header(data, directory / "agent.json", FORMAT, self._settings(), self.seed)
        try:
            with np.load(directory / "buffer.npz", allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in BUFFER_ARRAYS}
        except (OSError, KeyError, ValueError) as exc:
            raise CheckpointError(f"{directory / 'buffer.npz'} is missing or broken ({exc}); start the run "
                                  "again") from exc
        try:
            counters = dict(episodes=int(data["episodes"]), round_calls=int(data["round_calls"]),
                            updates=int(data["updates"]), probes=int(data["probes"]),
                            num_timesteps=int(data["num_timesteps"]), n_updates=int(data["n_updates"]),
                            pos=int(data["buffer"]["pos"]))
            optimizer = join_optimizer_state(data["optimizer"], load_tensors(directory / "optimizer.safetensors"))
            task_key = (str(data["task_key"][0]), int(data["task_key"][1])) if data["task_key"] else None
            rngs = generator_from_state(data["rng"]), generator_from_state(data["torch_seeds"])
            last = Strategy(**data["last_strategy"]) if data["last_strategy"] else None
            full, episode_start = bool(data["buffer"]["full"]), bool(data["episode_start"])
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise CheckpointError(f"{directory / 'agent.json'} is incomplete or malformed ({exc!r}); start the run "
                                  "again") from exc
        shape = self.model.rollout_buffer.observations.shape
        if arrays["observations"].shape != shape:
            raise CheckpointError(f"{directory / 'buffer.npz'} holds observations of shape "
                                  f"{arrays['observations'].shape}, this agent's buffer {shape}; resume with the run's "
                                  "own settings")
        weights = load_tensors(directory / "policy.safetensors")
        policy = self.model.policy
        before = {k: v.clone() for k, v in policy.state_dict().items()}, policy.optimizer.state_dict()
        try:
            policy.load_state_dict(weights)
            policy.optimizer.load_state_dict(optimizer)
        except (KeyError, ValueError, RuntimeError) as exc:
            policy.load_state_dict(before[0])
            policy.optimizer.load_state_dict(before[1])
            raise CheckpointError(f"the policy or optimizer state in {directory} does not fit this agent ({exc}); "
                                  "resume with the run's own settings") from exc
        buffer = self.model.rollout_buffer
        for name, value in arrays.items():
            setattr(buffer, name, value)
        buffer.pos, buffer.full = counters["pos"], full
        self.model.num_timesteps, self.model._n_updates = counters["num_timesteps"], counters["n_updates"]
        self._episodes, self._task_key, self._round_calls = counters["episodes"], task_key, counters["round_calls"]
        self.updates, self._probes, self._episode_start = counters["updates"], counters["probes"], episode_start
        self._rng, self._torch_seeds = rngs
        self.last_strategy = last

    def _settings(self) -> dict[str, Any]:
        """The settings a checkpoint must have been made with, as JSON values."""
        return json.loads(json.dumps({"sb3": self.sb3.to_dict(), "llm": asdict(self.config),
                                      "features": self.featurizer.dim}))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "sb3": self.sb3.to_dict(), "features": self.featurizer.dim}
