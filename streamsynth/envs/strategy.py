"""``StreamSynthStrategy-v0``: StreamSynth with a small discrete choice of *generation strategies* as the action.

Policies of stable-baselines3 (or any RL library with ``MultiDiscrete`` actions and ``Box`` observations) cannot
write text. This wrapper lets them act anyway: the action picks a prompt style, a temperature, a number of
in-context examples and how attribute values vary across the round's prompts; :func:`synthesize` turns that
strategy into a dataset with the shared prompting code (:mod:`streamsynth.synthesis`, the same prompts and parser
as the LLM agents), and the wrapped :class:`~streamsynth.envs.streamsynth_env.StreamSynthEnv` scores it. The
observation is a fixed-size vector (:class:`StrategyFeaturizer`): what the task is about, how the last round went,
how far the episode is.

The featurizer and the strategy machinery are shared with :class:`streamsynth.agents.sb3.SB3Agent`, which runs the
same policy inside the ordinary agent loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding

from streamsynth.config import check_int
from streamsynth.envs.observation import FEEDBACK_KEYS
from streamsynth.generation.base import GenerationBackend
from streamsynth.rewards.embeddings import Embedder
from streamsynth.synthesis.config import LLMConfig
from streamsynth.synthesis.strategy import (  # noqa: F401 (re-exported: the strategy env's action vocabulary)
    N_EXAMPLES,
    PROMPT_STYLES,
    STRATEGY_NVEC,
    TEMPERATURES,
    VARY_MODES,
    Strategy,
    attribute_values,
    strategy_action_space,
    strategy_from_action,
    strategy_prompts,
    synthesize,
)

N_PROGRESS = 3
"""Progress numbers at the end of the feature vector: round / max_rounds, completion, labels / max_labels."""


class StrategyFeaturizer:
    """Maps a ``StreamSynth-v0`` observation to the fixed-size float32 vector policies read.

    ``[task (dim) | feedback (len(FEEDBACK_KEYS)) | progress (3)]`` where *task* is
    ``0.5 e(instruction) + 0.5 mean_l e(description_l)`` with ``e`` the embedder (entries in [-1, 1]; cached per
    task), *feedback* is ``observation["feedback"]`` (last round's figures, in [-1, 2]) and *progress* is
    ``round / max_rounds``, ``sum(counts) / sum(targets)`` and ``n_labels / max_labels`` (in [0, 1]).
    """

    def __init__(self, embedder: Embedder, max_rounds: int, max_labels: int) -> None:
        check_int("max_rounds", max_rounds)
        check_int("max_labels", max_labels)
        if not isinstance(embedder, Embedder) or embedder.dim < 1:
            raise ValueError(f"embedder must be an Embedder with a positive dim, got {embedder!r}")
        self.embedder = embedder
        self.max_rounds = max_rounds
        self.max_labels = max_labels
        self._task_cache: dict[tuple[str, ...], np.ndarray] = {}
        n_fb = len(FEEDBACK_KEYS)
        low = np.concatenate([np.full(embedder.dim, -1.0), np.full(n_fb, -1.0), np.zeros(N_PROGRESS)])
        high = np.concatenate([np.full(embedder.dim, 1.0), np.full(n_fb, 2.0), np.ones(N_PROGRESS)])
        self.observation_space = spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)

    @classmethod
    def for_env(cls, env: Any) -> StrategyFeaturizer:
        """The featurizer of a ``StreamSynthEnv`` (or a wrapper of one): its embedder, round budget, label count."""
        inner = env.unwrapped
        return cls(inner.embedder, inner.config.max_rounds, inner.max_labels)

    @property
    def dim(self) -> int:
        return int(self.observation_space.shape[0])

    def task_vector(self, observation: Mapping[str, Any]) -> np.ndarray:
        """``0.5 e(instruction) + 0.5 mean(e(label descriptions))``, computed once per task."""
        instruction = str(observation["instruction"])
        descriptions = tuple(str(d) for d in observation["label_descriptions"])
        key = (str(observation["task"]), instruction, *descriptions)
        if key not in self._task_cache:
            if not descriptions:
                raise ValueError(f"task {observation['task']!r}: the observation has no label descriptions")
            vecs = self.embedder.encode([instruction, *descriptions])
            self._task_cache[key] = (0.5 * vecs[0] + 0.5 * vecs[1:].mean(axis=0)).astype(np.float32)
        return self._task_cache[key]

    def progress(self, observation: Mapping[str, Any]) -> np.ndarray:
        """``[round / max_rounds, sum(counts) / sum(targets), n_labels / max_labels]``."""
        targets = float(np.sum(observation["targets"]))
        completion = float(np.sum(observation["counts"])) / targets if targets > 0 else 0.0
        return np.array(
            [int(observation["round"]) / self.max_rounds, completion, len(observation["labels"]) / self.max_labels],
            dtype=np.float32,
        )

    def __call__(self, observation: Mapping[str, Any]) -> np.ndarray:
        """The feature vector of ``observation`` (shape ``(dim,)``, float32, inside :attr:`observation_space`)."""
        feedback = np.asarray(observation["feedback"], dtype=np.float32)
        if feedback.shape != (len(FEEDBACK_KEYS),):
            raise ValueError(f"observation['feedback'] must have shape ({len(FEEDBACK_KEYS)},), got {feedback.shape}")
        vec = np.concatenate([self.task_vector(observation), feedback, self.progress(observation)])
        if vec.shape != self.observation_space.shape:
            raise ValueError(f"feature vector has shape {vec.shape}, expected {self.observation_space.shape}: "
                             "was the observation made by an env with another embedder?")
        # float rounding can put a unit-vector average a hair outside [-1, 1]
        return np.clip(vec, self.observation_space.low, self.observation_space.high).astype(np.float32)


# ---------------------------------------------------------------------------------------------- synthesis


class StrategyEnv(gym.Wrapper):
    """StreamSynth where the action is a generation strategy, for RL libraries that cannot act in text.

    ## Description

    Wraps a :class:`~streamsynth.envs.streamsynth_env.StreamSynthEnv` and a generation backend. Each step executes
    the chosen :class:`Strategy` with :func:`synthesize` (prompts of the shared prompting code, completions of the
    backend) and submits the result to the wrapped env. Episodes, rewards and termination are the wrapped env's:
    one episode is one task of the stream.

    ## Action Space

    ``MultiDiscrete([3, 3, 2, 3])``: prompt style (:data:`PROMPT_STYLES`), temperature (:data:`TEMPERATURES`),
    in-context examples (:data:`N_EXAMPLES`), attribute variation (:data:`VARY_MODES`); see
    :func:`strategy_from_action`.

    ## Observation Space

    ``Box(float32, (embedder.dim + 13 + 3,))`` from :class:`StrategyFeaturizer`: task embedding, last round's
    feedback, progress.

    ## Rewards

    The wrapped env's reward (by default the change of the task's set score). ``info`` is the wrapped env's
    ``info`` plus ``strategy`` (the :class:`Strategy` executed) and ``submitted`` (samples generated).

    ## Starting State

    ``reset`` is the wrapped env's: ``reset(seed=s)`` restarts the stream (and seeds the strategy execution),
    ``reset()`` moves to the next task. Learning libraries reset after every task: make the env with
    ``cycle=True`` so the stream never runs out.

    ## Episode End

    As the wrapped env: every label at its target or the round budget spent.

    ## Arguments

    ``env`` (a ``StreamSynthEnv``; if omitted, one is built from ``**env_kwargs``), ``backend`` (a
    :class:`~streamsynth.generation.base.GenerationBackend`; if omitted, ``llm.backend`` / ``llm.model`` are loaded
    on the first step), ``llm`` (:class:`~streamsynth.synthesis.config.LLMConfig`: token budget, ``top_p``,
    ``oversample``; its temperature is replaced by the strategy's).

    ## Version History

    * v0: initial version. Since StreamSynth 0.2 a ``gymnasium.Wrapper`` of the StreamSynth env (``.env``,
      ``.unwrapped`` reach it), with the strategy machinery in :mod:`streamsynth.synthesis`.
    """

    def __init__(self, env: Any = None, *, backend: GenerationBackend | None = None, llm: LLMConfig | None = None,
                 **env_kwargs: Any) -> None:
        from streamsynth.envs.streamsynth_env import StreamSynthEnv

        if env is None:
            env = StreamSynthEnv(**env_kwargs)
        elif env_kwargs:
            raise ValueError("pass either an env or the keyword arguments to build one, not both: "
                             f"{sorted(env_kwargs)}")
        if not isinstance(getattr(env, "unwrapped", None), StreamSynthEnv):
            raise TypeError(f"env must be a StreamSynthEnv (or wrap one), got {type(env).__name__}")
        if backend is not None and not isinstance(backend, GenerationBackend):
            raise TypeError(f"backend must be a GenerationBackend, got {type(backend).__name__}")
        super().__init__(env)
        self.llm = llm or LLMConfig()
        self._backend = backend
        self.featurizer = StrategyFeaturizer.for_env(env)
        self.observation_space = self.featurizer.observation_space
        self.action_space = strategy_action_space()
        self._last_obs: dict | None = None
        self._rng: np.random.Generator | None = None

    @property
    def backend(self) -> GenerationBackend:
        if self._backend is None:
            from streamsynth.generation import load_backend

            c = self.llm
            self._backend = load_backend(c.backend, c.model, device=c.device, dtype=c.dtype, batch_size=c.batch_size)
        return self._backend

    @property
    def last_observation(self) -> dict:
        """The wrapped env's last (dict) observation."""
        if self._last_obs is None:
            raise RuntimeError("call reset() first")
        return self._last_obs

    @property
    def strategy_rng(self) -> np.random.Generator:
        """The generator of the strategies' random choices (seeded by ``reset(seed=...)``), the wrapper's own, so
        that the wrapped env's ``np_random`` is left alone."""
        if self._rng is None:
            self._rng, _ = seeding.np_random()
        return self._rng

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self._rng, _ = seeding.np_random(seed)
        obs, info = self.env.reset(seed=seed, options=options)
        self._last_obs = obs
        return self.featurizer(obs), info

    def step(self, action: Any):
        strategy = strategy_from_action(action)
        samples = synthesize(self.last_observation, strategy, self.backend, self.strategy_rng, self.llm)
        obs, reward, terminated, truncated, info = self.env.step(samples)
        self._last_obs = obs
        return self.featurizer(obs), reward, terminated, truncated, {**info, "strategy": strategy,
                                                                      "submitted": len(samples)}
