"""``fewshot``: label prompts with a few real seed examples in context.

The classic in-context baseline of dataset synthesis: real labelled examples before the request, as in few-shot
prompting (Brown et al. 2020, *Language Models are Few-Shot Learners*) applied to data augmentation by GPT3Mix
(Yoo et al. 2021, *GPT3Mix: Leveraging Large-scale Language Models for Text Augmentation*). Each prompt is
:func:`~streamsynth.synthesis.prompting.label_prompt` with ``examples=``: ``k`` examples drawn from
``observation["seed_examples"]`` (the only real data an agent may see), balanced over the labels, in a seeded random
order, so different prompts show different examples. No feedback is used.

Prompt shape (one user message after the shared system prompt)::

    <instruction>

    Examples:
    [negative] <seed text>
    [positive] <seed text>
    ...

    Write one new example with the label "<label>" (<description>).

    Write only the text, nothing else.

The env rejects copies and near-copies of the seed examples, so copying the shown examples earns nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from streamsynth.agents.llm import LLMAgent, LLMConfig
from streamsynth.config import check_int
from streamsynth.generation.base import GenerationBackend
from streamsynth.synthesis.prompting import label_prompt
from streamsynth.tasks.spec import LABEL_KEY, Sample


def pick_examples(
    examples: Sequence[Mapping[str, str]], labels: Sequence[str], k: int, rng: np.random.Generator
) -> list[Mapping[str, str]]:
    """Up to ``k`` examples, at most ``ceil(k / len(labels))`` per label, as balanced over labels as possible.

    Each label's examples are shuffled; then labels are visited round-robin (in a shuffled order) taking one
    example at a time until ``k`` are picked; the picked examples are shuffled again. Examples whose label is not
    in ``labels`` are ignored.

    >>> ex = [{"text": f"{l}{i}", "label": l} for l in "ab" for i in range(3)]
    >>> picked = pick_examples(ex, ["a", "b"], 3, np.random.default_rng(0))
    >>> len(picked), sorted(e["label"] for e in picked) in (["a", "a", "b"], ["a", "b", "b"])
    (3, True)
    >>> len(pick_examples(ex, ["a", "b", "c"], 9, np.random.default_rng(0)))  # 3 per label, but c has none
    6
    """
    if k < 1 or not labels:
        return []
    per_label = math.ceil(k / len(labels))
    groups: dict[str, list[Mapping[str, str]]] = {lbl: [] for lbl in labels}
    for ex in examples:
        if ex.get(LABEL_KEY) in groups:
            groups[ex[LABEL_KEY]].append(ex)
    shuffled = {lbl: [g[i] for i in rng.permutation(len(g))][:per_label] for lbl, g in groups.items()}
    order = [labels[i] for i in rng.permutation(len(labels))]
    picked: list[Mapping[str, str]] = []
    for r in range(per_label):
        for lbl in order:
            if r < len(shuffled[lbl]) and len(picked) < k:
                picked.append(shuffled[lbl][r])
    return [picked[i] for i in rng.permutation(len(picked))]


class FewShotAgent(LLMAgent):
    """Label prompts with ``k`` real seed examples each (balanced over labels, reshuffled for every prompt).

    Args:
        config: model and sampling settings (shared by all LLM agents).
        backend: a ready generation backend (default: built from ``config`` on first use).
        seed: seeds the choice and order of the examples (one ``numpy`` Generator per task).
        k: examples per prompt (at most ``ceil(k / number of labels)`` of each label).
    """

    name = "fewshot"

    def __init__(self, config: LLMConfig | None = None, *, backend: GenerationBackend | None = None, seed: int = 0,
                 k: int = 4) -> None:
        super().__init__(config, backend=backend, seed=seed)
        self.k = check_int("k", k)
        self._rng = np.random.default_rng([self.seed, 0])

    def begin_task(self, observation: Mapping[str, Any]) -> None:
        if not observation["seed_examples"]:
            raise ValueError(
                f"the fewshot agent needs seed examples, but task {observation['task']!r} shows none "
                "(the env's split_sizes has seed_per_label=0); use zerogen for a prompt without examples"
            )
        self._rng = np.random.default_rng([self.seed, self._episodes])

    def propose(self, observation: Mapping[str, Any]) -> list[Sample]:
        labels = self.requests(observation)
        seeds = list(observation["seed_examples"])
        task_labels = list(observation["labels"])
        prompts = [
            label_prompt(observation, lbl, examples=pick_examples(seeds, task_labels, self.k, self._rng))
            for lbl in labels
        ]
        return self.generate_samples(observation, prompts, labels)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "k": self.k}
