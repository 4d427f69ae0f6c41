"""Train any Hugging Face model on a StreamSynth task with TRL's ``GRPOTrainer``.

:class:`StreamSynthReward` is a TRL reward function: it scores each completion with a StreamSynth env's per-sample
score of drafts for one task (the score the env gives a sample it would accept: the judge's label agreement above
chance, times realism, plus novelty in proportion to it; 0 when the env rejects it), or one of that score's
figures (``metric="fidelity"``: the judge's probability of the asked label). Its :meth:`~StreamSynthReward.prompts`
writes the prompts (the task's instruction, a label, attribute values), with the ``label`` column the reward reads::

    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer
    from streamsynth.integrations.trl import StreamSynthReward

    reward = StreamSynthReward("movie-sentiment")
    trainer = GRPOTrainer(model="HuggingFaceTB/SmolLM2-135M-Instruct", reward_funcs=reward,
                          train_dataset=Dataset.from_list(reward.prompts(500)),
                          args=GRPOConfig(num_generations=4, max_completion_length=64))
    trainer.train()

TRL brings the rest (vLLM sampling, several GPUs, logging). Install it with ``pip install "streamsynth[trl]"``;
this module itself does not import TRL. ``examples/trl_grpo.py`` runs the packaged SmolLM2 offline.

Why a reward function and not TRL's ``environment_factory``: TRL's environments are tool-calling environments (their
public methods become tools the model calls during generation, and the chat template must support tool calls);
a StreamSynth action is the completion itself, scored after it is written, which is what a reward function is.

The env scores completions as **drafts** (:class:`~streamsynth.envs.streamsynth_env.StreamSynthEnv`): never added to
the task's dataset, so every call is scored against the same accepted set (empty) and the same novelty memory (the
task's seed examples); a draft's realism is tested with the most recent drafts as the synthetic side. Identical
completions within one call are duplicates: the first is scored, the others get 0 (collapse earns nothing).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from streamsynth.envs.feedback import passed_figure
from streamsynth.envs.screening import DRAFT_KEY
from streamsynth.synthesis.prompting import label_prompt, parse_completion
from streamsynth.tasks.spec import LABEL_KEY, Task

METRICS = ("score", "fidelity", "realism", "novelty")
"""Per-sample figures of the env a reward can be: ``score`` (the env's per-sample score), ``fidelity`` (the judge's
probability of the asked label), ``realism`` and ``novelty`` (see :mod:`streamsynth.rewards.blend`)."""

UNLIMITED_FEEDBACK = 2**31 - 1
"""The drafts budget of the reward's env: a reward function has no budget of its own."""


def completion_text(completion: Any) -> str:
    """The text of a completion as TRL passes it: a string (standard format) or a list of messages whose last is
    the assistant's (conversational format).

    >>> completion_text("Great film."), completion_text([{"role": "assistant", "content": "Dull."}])
    ('Great film.', 'Dull.')
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and completion and isinstance(completion[-1], Mapping):
        return str(completion[-1].get("content", ""))
    raise TypeError(f"a completion is a string or a list of chat messages, got {type(completion).__name__}")


class StreamSynthReward:
    """A TRL reward function from a StreamSynth env's per-sample scoring of one task (see the module docstring).

    Args:
        task: a built-in task name (``synth-agent tasks``), a task file's path, or a :class:`Task`.
        metric: one of :data:`METRICS`; ``score`` (default) is the env's per-sample score.
        embedder: ``minilm`` (packaged), ``hashing`` (fast, for tests) or a sentence-transformers id.
        data_seed: fixes the real-data splits that train the judge.
        env_kwargs: more :class:`~streamsynth.envs.streamsynth_env.StreamSynthEnv` settings (``split_sizes``,
            ``reward_weights``, ``near_duplicate``...); ``feedback_budget`` is unlimited.

    Called as TRL calls reward functions, ``reward(prompts=..., completions=..., label=[...], **other_columns)``, it
    returns one float per completion: the metric of the sample the completion parses into (with the row's label), 0
    when it does not parse or the env rejects it (too short or long, a copy of a seed example, a duplicate...).
    ``last_rows`` holds the last call's env rows (:meth:`score_rows`) and ``last_figures`` its pass rate, rejections
    by reason code and the passed drafts' mean figures; with TRL's ``log_metric`` the figures are logged.
    """

    def __init__(self, task: str | Task = "movie-sentiment", *, metric: str = "score", embedder: Any = "minilm",
                 data_seed: int = 0, **env_kwargs: Any) -> None:
        from streamsynth.envs.streamsynth_env import StreamSynthEnv

        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
        if "feedback_budget" in env_kwargs or "stream" in env_kwargs:
            raise ValueError("StreamSynthReward sets the env's stream (its task) and feedback_budget (unlimited) "
                             "itself")
        self.metric = metric
        self.__name__ = f"streamsynth_{metric}"  # TRL logs a reward under its function's name
        self.env = StreamSynthEnv([task], embedder=embedder, data_seed=data_seed, feedback_budget=UNLIMITED_FEEDBACK,
                                  **env_kwargs)
        self.observation, _ = self.env.reset(seed=data_seed)
        self.task: Task = self.env.current_task
        self.last_figures: dict[str, float] = {}
        self.last_rows: list[dict[str, Any] | None] = []

    # ------------------------------------------------------------------ prompts
    def prompts(self, n: int, *, seed: int = 0, n_examples: Sequence[int] = (0,), system: bool = True
                ) -> list[dict[str, Any]]:
        """``n`` training rows ``{"prompt": chat messages, "label": name}``: the labels in turn, each prompt with
        one value of every attribute dimension of the task and ``k`` of the label's seed examples, ``k`` drawn
        from ``n_examples``, all seeded (StreamSynth's prompt format, :func:`~streamsynth.synthesis.prompting.
        label_prompt`). ``system=False`` drops the system message (for chat templates without one)."""
        from streamsynth.agents.attrprompt import attribute_dimensions, draw_attributes

        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        if not n_examples or any(isinstance(k, bool) or not isinstance(k, int) or k < 0 for k in n_examples):
            raise ValueError(f"n_examples must be a non-empty sequence of ints >= 0, got {n_examples!r}")
        obs = self.observation
        labels = list(obs["labels"])
        dims = attribute_dimensions(obs)
        rng = np.random.default_rng(seed)
        rows = []
        for i in range(n):
            label = labels[i % len(labels)]
            seeds = [s for s in obs["seed_examples"] if s[LABEL_KEY] == label]
            k = int(n_examples[int(rng.integers(len(n_examples)))])
            examples = [seeds[int(j)] for j in rng.permutation(len(seeds))[:k]]
            messages = label_prompt(obs, label, examples=examples, attributes=draw_attributes(dims, rng))
            rows.append({"prompt": messages if system else messages[1:], "label": label})
        return rows

    # ------------------------------------------------------------------ the reward
    def __call__(self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] | None = None,
                 label: Sequence[str] | None = None, **kwargs: Any) -> list[float]:
        if completions is None:
            raise TypeError("StreamSynthReward needs completions=[...] (as TRL passes them)")
        if label is None:
            raise ValueError("StreamSynthReward needs each completion's label: give the training dataset a 'label' "
                             "column (StreamSynthReward.prompts writes one)")
        if len(label) != len(completions):
            raise ValueError(f"{len(completions)} completions but {len(label)} labels")
        unknown = sorted({str(lbl) for lbl in label} - set(self.task.label_names))
        if unknown:
            raise ValueError(f"label(s) {unknown} are not labels of task {self.task.name!r} "
                             f"({list(self.task.label_names)})")
        rows = self.score_rows([completion_text(c) for c in completions], [str(lbl) for lbl in label])
        rewards = [passed_figure(r, self.metric) for r in rows]
        self.last_rows, self.last_figures = rows, self._figures(rows)
        log_metric = kwargs.get("log_metric")
        if callable(log_metric):
            for name, value in self.last_figures.items():
                log_metric(f"streamsynth/{name}", value)
        return rewards

    def score_rows(self, texts: Sequence[str], labels: Sequence[str]) -> list[dict[str, Any] | None]:
        """The env's feedback row (``info["samples"]``, :class:`~streamsynth.envs.feedback.SampleFeedback`) of
        each text as a draft of its label; None for a text that does not parse into a sample."""
        fields, max_chars = list(self.task.fields), int(self.task.max_chars)
        samples = [parse_completion(t, fields, lbl, max_chars) for t, lbl in zip(texts, labels)]
        parsed = [i for i, s in enumerate(samples) if s is not None]
        out: list[dict[str, Any] | None] = [None] * len(texts)
        step = self.env.config.max_samples_per_step
        for start in range(0, len(parsed), step):
            chunk = parsed[start:start + step]
            _, _, _, _, info = self.env.step([{**samples[i], DRAFT_KEY: True} for i in chunk])
            for i, row in zip(chunk, info["samples"]):
                out[i] = row
        return out

    @staticmethod
    def _figures(rows: Sequence[Mapping[str, Any] | None]) -> dict[str, float]:
        """The pass rate of a call and the passed drafts' mean figures."""
        passed = [r for r in rows if r is not None and r.get("code") is None]
        codes = Counter(r["code"] for r in rows if r is not None and r.get("code") is not None)
        figures = {"passed": len(passed) / len(rows) if rows else 0.0,
                   "unparsed": sum(r is None for r in rows) / len(rows) if rows else 0.0}
        for key in METRICS:
            figures[key] = float(np.mean([r[key] for r in passed])) if passed else 0.0
        figures.update({f"rejected/{code}": n / len(rows) for code, n in sorted(codes.items())})
        return figures
