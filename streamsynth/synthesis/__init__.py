"""How prompts become datasets, below both the envs and the agents: the prompt templates and completion parser
(:mod:`~streamsynth.synthesis.prompting`), the LLM settings and per-round request sizes
(:mod:`~streamsynth.synthesis.config`), and the generation strategies of ``StreamSynthStrategy-v0`` and the SB3
agents (:mod:`~streamsynth.synthesis.strategy`). Nothing here imports :mod:`streamsynth.envs` or
:mod:`streamsynth.agents`."""
