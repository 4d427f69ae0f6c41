"""A scripted generation backend: answers each prompt with a completion computed from it, no model."""

from __future__ import annotations

from streamsynth.generation.base import GenerationBackend, SamplingParams

WORDS = ["the harbour chase scene", "an aging jazz drummer", "this quiet rural drama", "its neon-lit heist plot",
         "a clumsy robot sidekick", "the courtroom finale", "every musical number", "a bleak war epic",
         "the twin sisters subplot", "its hand-drawn animation", "a haunted lighthouse", "the spy thriller's pace"]


class ScriptedBackend(GenerationBackend):
    """Test double: answers each prompt with a completion computed from it, and records the prompts."""

    name = "scripted"

    def __init__(self):
        self.calls = []

    def generate(self, prompts, params=SamplingParams(), *, seed=None, progress=False):
        self.calls.append(list(prompts))
        out = []
        for i, p in enumerate(prompts):
            user = p[-1]["content"]
            label = user.split('label "')[1].split('"')[0]
            topic = WORDS[(len(self.calls) * 7 + i) % len(WORDS)]
            out.append(f'Sure! Here is one:\n"Sample {len(self.calls)}-{i}: {topic} felt {label} to me."'
                       '\n\nHope it helps')
        return out
