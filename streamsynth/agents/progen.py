"""``progen``: in-context feedback (ProGen, Ye et al. 2022, *ProGen: Progressive Zero-shot Dataset Generation via
In-context Feedback*, Findings of EMNLP 2022).

ProGen generates a dataset in rounds: the first round from a zero-shot label prompt, each later round with the
most helpful samples generated so far (ranked by a feedback signal; the paper uses influence scores of a small task
model) as in-context examples of the same label. Here the feedback is the environment's own per-sample score
(``info["samples"][i]["score"]``: grounded label quality, realism, and novelty in proportion to the label
agreement), so no extra model is trained.

- **Round 1 of a task** is zero-shot, exactly like ``zerogen`` (as in the paper): the in-context examples of this
  agent are only ever its own feedback-selected samples, never the real seed examples (``fewshot`` covers those),
  so a comparison with ``zerogen`` and ``fewshot`` isolates the effect of feedback.
- :meth:`ProGenAgent.observe` keeps every accepted sample of the round with its score, per label; the pool grows
  over the rounds of a task and is emptied when a new task begins.
- **Later rounds**: a prompt for label ``y`` shows ``k`` examples drawn without replacement from the
  ``candidates`` highest-scoring accepted samples of ``y`` (seeded, so prompts see different examples), best
  first (:func:`top_examples`). A label with no accepted sample yet keeps the zero-shot prompt.

Prompt shape after round 1::

    <instruction>

    Examples:
    [positive] <best accepted sample>
    [positive] <another high-scoring accepted sample>
    ...

    Write one new example with the label "positive" (<description>).

    Write only the text, nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from streamsynth.agents.llm import LLMAgent, LLMConfig
from streamsynth.config import check_int
from streamsynth.generation.base import GenerationBackend
from streamsynth.synthesis.prompting import label_prompt
from streamsynth.tasks.spec import LABEL_KEY, Sample


def top_examples(
    pool: Sequence[tuple[float, Sample]], k: int, candidates: int, rng: np.random.Generator
) -> list[Sample]:
    """``k`` samples drawn without replacement from the ``candidates`` highest-scoring ones of ``pool`` (pairs
    ``(score, sample)``; ties keep pool order), returned best first.

    >>> pool = [(0.2, {"text": "c"}), (0.9, {"text": "a"}), (0.5, {"text": "b"}), (0.1, {"text": "d"})]
    >>> [s["text"] for s in top_examples(pool, 2, 2, np.random.default_rng(0))]
    ['a', 'b']
    >>> [s["text"] for s in top_examples(pool, 5, 3, np.random.default_rng(0))]
    ['a', 'b', 'c']
    """
    ranked = sorted(range(len(pool)), key=lambda i: -pool[i][0])[:candidates]
    chosen = sorted(rng.choice(len(ranked), size=min(k, len(ranked)), replace=False)) if ranked else []
    return [pool[ranked[j]][1] for j in chosen]


class ProGenAgent(LLMAgent):
    """Zero-shot label prompts first, then the best-scoring accepted samples of each label as in-context examples.

    Args:
        config: model and sampling settings (shared by all LLM agents).
        backend: a ready generation backend (default: built from ``config`` on first use).
        seed: seeds the choice of examples per prompt (one ``numpy`` Generator per task).
        k: in-context examples per prompt.
        candidates: how many of a label's top-scoring accepted samples the ``k`` examples are drawn from.
    """

    name = "progen"

    def __init__(self, config: LLMConfig | None = None, *, backend: GenerationBackend | None = None, seed: int = 0,
                 k: int = 4, candidates: int = 8) -> None:
        super().__init__(config, backend=backend, seed=seed)
        check_int("k", k)
        check_int("candidates", candidates)
        if candidates < k:
            raise ValueError(f"candidates ({candidates}) must be at least k ({k})")
        self.k = k
        self.candidates = candidates
        self.pool: dict[str, list[tuple[float, Sample]]] = {}
        """Accepted samples of the current task with their env scores, per label."""
        self._last_action: list[Sample] = []
        self._rng = np.random.default_rng([self.seed, 0])

    def begin_task(self, observation: Mapping[str, Any]) -> None:
        self.pool = {str(lbl): [] for lbl in observation["labels"]}
        self._last_action = []
        self._rng = np.random.default_rng([self.seed, self._episodes])

    def propose(self, observation: Mapping[str, Any]) -> list[Sample]:
        labels = self.requests(observation)
        prompts = []
        for lbl in labels:
            pool = self.pool.get(lbl, [])
            examples = top_examples(pool, self.k, self.candidates, self._rng) if pool else []
            prompts.append(label_prompt(observation, lbl, examples=examples))
        self._last_action = self.generate_samples(observation, prompts, labels)
        return [dict(s) for s in self._last_action]

    def observe(self, observation: Mapping[str, Any], reward: float, terminated: bool, truncated: bool,
                info: Mapping[str, Any]) -> None:
        """Add the round's accepted samples, with their scores, to the pool of their label."""
        rows = info["samples"]
        if len(rows) != len(self._last_action):
            raise RuntimeError(
                f"progen: info['samples'] has {len(rows)} rows but the agent's last action had "
                f"{len(self._last_action)} samples; call observe() right after env.step(agent.act(obs))"
            )
        for row in rows:
            if row["accepted"]:
                sample = self._last_action[int(row["index"])]
                self.pool.setdefault(sample[LABEL_KEY], []).append((float(row["score"]), dict(sample)))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "k": self.k, "candidates": self.candidates}
