"""``zerogen``: label-conditioned prompting (ZeroGen, Ye et al. 2022) — the instruction, the label and its
description, nothing else. No examples, no feedback: the from-scratch baseline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streamsynth.agents.llm import LLMAgent
from streamsynth.synthesis.prompting import label_prompt
from streamsynth.tasks.spec import Sample


class ZeroGenAgent(LLMAgent):
    name = "zerogen"

    def propose(self, observation: Mapping[str, Any]) -> list[Sample]:
        labels = self.requests(observation)
        prompts = [label_prompt(observation, lbl) for lbl in labels]
        return self.generate_samples(observation, prompts, labels)
