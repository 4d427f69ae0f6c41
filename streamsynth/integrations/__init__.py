"""Bridges from StreamSynth to other training libraries (each module imports its library only when used)."""
