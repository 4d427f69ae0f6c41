"""``StreamSynthStrategy-v0``: StreamSynth with a small discrete choice of *generation strategies* as the action.

Policies of stable-baselines3 (or any RL library with ``MultiDiscrete`` actions and ``Box`` observations) cannot
write text. This wrapper lets them act anyway: the action picks a prompt style, a temperature, a number of
in-context examples and how attribute values vary across the round's prompts; :func:`synthesize` turns that
strategy into a dataset with the shared prompting code (the same prompts and parser as the LLM agents), and the
wrapped :class:`~streamsynth.envs.streamsynth_env.StreamSynthEnv` scores it. The observation is a fixed-size
vector (:class:`StrategyFeaturizer`): what the task is about, how the last round went, how far the episode is.

The featurizer, :func:`strategy_from_action` and :func:`synthesize` are shared with
:class:`streamsynth.agents.sb3.SB3Agent`, which runs the same policy inside the ordinary agent loop.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from streamsynth.agents.llm import LLMConfig, request_labels
from streamsynth.agents.prompting import label_prompt, parse_completion
from streamsynth.envs.observation import FEEDBACK_KEYS
from streamsynth.generation.base import GenerationBackend, Prompt, SamplingParams
from streamsynth.rewards.embeddings import Embedder
from streamsynth.tasks.spec import Sample


PROMPT_STYLES: tuple[str, ...] = ("zero-shot", "few-shot", "attribute")
"""``zero-shot``: instruction + label (ZeroGen style); ``few-shot``: plus seed examples; ``attribute``: plus seed
examples and attribute values drawn from ``observation["attributes"]`` (AttrPrompt style)."""
TEMPERATURES: tuple[float, ...] = (0.7, 0.9, 1.1)
N_EXAMPLES: tuple[int, ...] = (2, 4)
VARY_MODES: tuple[str, ...] = ("all", "one", "none")
"""How attribute values change across one round's prompts (``attribute`` style only): ``all`` dimensions drawn
anew for every prompt; ``one`` random dimension drawn anew per prompt, the others fixed for the round; ``none``: one
combination drawn for the whole round."""

STRATEGY_NVEC: tuple[int, ...] = (len(PROMPT_STYLES), len(TEMPERATURES), len(N_EXAMPLES), len(VARY_MODES))
"""Sizes of the action components: ``MultiDiscrete(STRATEGY_NVEC)``."""

N_PROGRESS = 3
"""Progress numbers at the end of the feature vector: round / max_rounds, completion, labels / max_labels."""


@dataclass(frozen=True)
class Strategy:
    """How to generate one round's data.

    Attributes:
        style: one of :data:`PROMPT_STYLES`.
        temperature: sampling temperature of this round (replaces ``LLMConfig.temperature``).
        n_examples: seed examples shown per prompt (``few-shot`` and ``attribute`` styles; unused by ``zero-shot``).
        vary: one of :data:`VARY_MODES` (``attribute`` style only; unused by the others).
    """

    style: str
    temperature: float
    n_examples: int
    vary: str

    def __post_init__(self) -> None:
        if self.style not in PROMPT_STYLES:
            raise ValueError(f"style must be one of {PROMPT_STYLES}, got {self.style!r}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature!r}")
        if isinstance(self.n_examples, bool) or not isinstance(self.n_examples, int) or self.n_examples < 0:
            raise ValueError(f"n_examples must be a non-negative int, got {self.n_examples!r}")
        if self.vary not in VARY_MODES:
            raise ValueError(f"vary must be one of {VARY_MODES}, got {self.vary!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def strategy_action_space(seed: int | None = None) -> spaces.MultiDiscrete:
    """The action space of strategies: ``MultiDiscrete([3, 3, 2, 3])`` (style, temperature, examples, vary)."""
    return spaces.MultiDiscrete(np.array(STRATEGY_NVEC, dtype=np.int64), seed=seed)


def strategy_from_action(action: Sequence[int] | np.ndarray) -> Strategy:
    """The strategy an action of :func:`strategy_action_space` stands for; each component indexes its table.

    >>> strategy_from_action([2, 0, 1, 1])
    Strategy(style='attribute', temperature=0.7, n_examples=4, vary='one')
    >>> strategy_from_action([3, 0, 0, 0])
    Traceback (most recent call last):
    ...
    ValueError: action component 0 (style) must be in [0, 3), got 3
    """
    a = np.asarray(action)
    if a.shape != (len(STRATEGY_NVEC),) or not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"a strategy action is {len(STRATEGY_NVEC)} integers, got {action!r}")
    names = ("style", "temperature", "n_examples", "vary")
    for i, (value, n) in enumerate(zip(a.tolist(), STRATEGY_NVEC)):
        if not 0 <= value < n:
            raise ValueError(f"action component {i} ({names[i]}) must be in [0, {n}), got {value}")
    return Strategy(PROMPT_STYLES[a[0]], TEMPERATURES[a[1]], N_EXAMPLES[a[2]], VARY_MODES[a[3]])


# ---------------------------------------------------------------------------------------------- features
class StrategyFeaturizer:
    """Maps a ``StreamSynth-v0`` observation to the fixed-size float32 vector policies read.

    ``[task (dim) | feedback (len(FEEDBACK_KEYS)) | progress (3)]`` where *task* is
    ``0.5 e(instruction) + 0.5 mean_l e(description_l)`` with ``e`` the embedder (entries in [-1, 1]; cached per
    task), *feedback* is ``observation["feedback"]`` (last round's figures, in [-1, 2]) and *progress* is
    ``round / max_rounds``, ``sum(counts) / sum(targets)`` and ``n_labels / max_labels`` (in [0, 1]).
    """

    def __init__(self, embedder: Embedder, max_rounds: int, max_labels: int) -> None:
        for name, value in (("max_rounds", max_rounds), ("max_labels", max_labels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
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
    def for_env(cls, env: Any) -> "StrategyFeaturizer":
        """The featurizer of a ``StreamSynthEnv`` (or a wrapper of one): its embedder, round budget, label count."""
        inner = env.unwrapped
        return cls(inner.embedder, inner.max_rounds, inner.max_labels)

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
def attribute_values(attributes: Sequence[Mapping[str, Any]], n: int, vary: str,
                     rng: np.random.Generator) -> list[dict[str, str]]:
    """``n`` attribute assignments (one per prompt) drawn from the observation's attribute dimensions.

    ``vary="all"``: every dimension drawn anew per prompt; ``"one"``: one combination for the round, then per prompt
    one random dimension redrawn; ``"none"``: the same combination for every prompt. Dimensions without values are
    skipped; no dimensions give empty assignments.

    >>> rng = np.random.default_rng(0)
    >>> dims = [{"name": "tone", "values": ("calm", "angry")}, {"name": "length", "values": ("short", "long")}]
    >>> rows = attribute_values(dims, 3, "none", rng)
    >>> len(rows), rows[0] == rows[1] == rows[2], sorted(rows[0])
    (3, True, ['length', 'tone'])
    """
    if vary not in VARY_MODES:
        raise ValueError(f"vary must be one of {VARY_MODES}, got {vary!r}")
    dims = [(str(d["name"]), [str(v) for v in d["values"]]) for d in attributes if len(d["values"])]
    if not dims:
        return [{} for _ in range(n)]

    def draw() -> dict[str, str]:
        return {name: values[rng.integers(len(values))] for name, values in dims}

    if vary == "all":
        return [draw() for _ in range(n)]
    base = draw()
    if vary == "none":
        return [dict(base) for _ in range(n)]
    out = []
    for _ in range(n):
        name, values = dims[rng.integers(len(dims))]
        out.append({**base, name: values[rng.integers(len(values))]})
    return out


def strategy_prompts(observation: Mapping[str, Any], strategy: Strategy, labels: Sequence[str],
                     rng: np.random.Generator) -> list[Prompt]:
    """One :func:`~streamsynth.agents.prompting.label_prompt` per requested label, built as ``strategy`` says.

    Examples (``few-shot`` and ``attribute``) are ``min(n_examples, available)`` seed examples drawn without
    replacement per prompt, of any label (shown with their labels).
    """
    seeds = list(observation["seed_examples"])
    k = min(strategy.n_examples, len(seeds)) if strategy.style != "zero-shot" else 0
    attrs = (attribute_values(observation["attributes"], len(labels), strategy.vary, rng)
             if strategy.style == "attribute" else [None] * len(labels))
    prompts: list[Prompt] = []
    for lbl, attr in zip(labels, attrs):
        examples = [seeds[i] for i in rng.choice(len(seeds), size=k, replace=False)] if k else []
        prompts.append(label_prompt(observation, lbl, examples=examples, attributes=attr or None))
    return prompts


def synthesize(observation: Mapping[str, Any], strategy: Strategy, backend: GenerationBackend,
               rng: np.random.Generator, llm_config: LLMConfig) -> list[Sample]:
    """Execute ``strategy`` for one round: prompts for each label's missing samples times ``oversample``
    (:func:`~streamsynth.agents.llm.request_labels`), one completion each at ``strategy.temperature``, parsed with
    :func:`~streamsynth.agents.prompting.parse_completion` (unparseable completions dropped). Every random choice
    (examples, attribute values, the generation seed) comes from ``rng``."""
    labels = request_labels(observation, llm_config)
    if not labels:
        return []
    prompts = strategy_prompts(observation, strategy, labels, rng)
    params = SamplingParams(llm_config.max_new_tokens, strategy.temperature, llm_config.top_p)
    completions = backend.generate(prompts, params, seed=int(rng.integers(2**31)))
    if len(completions) != len(prompts):
        raise RuntimeError(f"backend {backend.name!r} returned {len(completions)} completions for {len(prompts)} prompts")
    fields = list(observation["fields"])
    max_chars = int(observation["length"][1])
    samples = [parse_completion(c, fields, lbl, max_chars) for c, lbl in zip(completions, labels)]
    return [s for s in samples if s is not None]


# ---------------------------------------------------------------------------------------------- the env
class StrategyEnv(gym.Env):
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
    on the first step), ``llm`` (:class:`~streamsynth.agents.llm.LLMConfig`: token budget, ``top_p``,
    ``oversample``; its temperature is replaced by the strategy's).

    ## Version History

    * v0: initial version.
    """

    metadata = {"render_modes": []}

    def __init__(self, env: Any = None, *, backend: GenerationBackend | None = None, llm: LLMConfig | None = None,
                 **env_kwargs: Any) -> None:
        from streamsynth.envs.streamsynth_env import StreamSynthEnv

        if env is None:
            env = StreamSynthEnv(**env_kwargs)
        elif env_kwargs:
            raise ValueError(f"pass either an env or the keyword arguments to build one, not both: {sorted(env_kwargs)}")
        if not isinstance(env.unwrapped, StreamSynthEnv):
            raise TypeError(f"env must be a StreamSynthEnv (or wrap one), got {type(env.unwrapped).__name__}")
        if backend is not None and not isinstance(backend, GenerationBackend):
            raise TypeError(f"backend must be a GenerationBackend, got {type(backend).__name__}")
        self.env = env
        self.llm = llm or LLMConfig()
        self._backend = backend
        self.featurizer = StrategyFeaturizer.for_env(env)
        self.observation_space = self.featurizer.observation_space
        self.action_space = strategy_action_space()
        self._last_obs: dict | None = None

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

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        obs, info = self.env.reset(seed=seed, options=options)
        self._last_obs = obs
        return self.featurizer(obs), info

    def step(self, action: Any):
        strategy = strategy_from_action(action)
        samples = synthesize(self.last_observation, strategy, self.backend, self.np_random, self.llm)
        obs, reward, terminated, truncated, info = self.env.step(samples)
        self._last_obs = obs
        return self.featurizer(obs), reward, terminated, truncated, {**info, "strategy": strategy,
                                                                      "submitted": len(samples)}

    def close(self) -> None:
        self.env.close()
