"""StreamSynth: learning to synthesize training data from a stream of tasks.

Importing the package registers the Gymnasium environment ``StreamSynth-v0``::

    import gymnasium, streamsynth
    env = gymnasium.make("StreamSynth-v0")          # or gymnasium.make("streamsynth:StreamSynth-v0")
"""

from __future__ import annotations

__version__ = "0.4.1"

from streamsynth.envs import register_envs as _register_envs

_register_envs()
