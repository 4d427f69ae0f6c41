"""``copy-seed``: submits the real seed examples it was shown, unchanged, every round (no LLM).

A sanity agent for the reward, not a baseline to beat: copying what the agent was shown must earn nothing. The env
rejects each of these samples as a "copy of a seed example shown to the agent" (exact copies; near-copies are
caught by embedding similarity), so the episode return is exactly 0 and the task's dataset stays empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streamsynth.agents.base import Agent
from streamsynth.tasks.spec import Sample


class CopySeedAgent(Agent):
    """Returns ``observation["seed_examples"]`` (with their labels) as the action of every round."""

    name = "copy-seed"

    def propose(self, observation: Mapping[str, Any]) -> list[Sample]:
        return [dict(s) for s in observation["seed_examples"]]
