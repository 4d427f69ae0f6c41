"""Exceptions raised by StreamSynth.

Every error names the problem and the fix, so a user reading a traceback knows what to do next.
"""

from __future__ import annotations


class StreamSynthError(Exception):
    """Base class of all StreamSynth errors."""


class TaskError(StreamSynthError, ValueError):
    """A task or stream definition is invalid (bad task file, unknown task name, bad column...)."""


class ResourceNotFoundError(StreamSynthError, FileNotFoundError):
    """A packaged model or dataset, or a hub resource, cannot be found or reached."""


class InvalidActionError(StreamSynthError, ValueError):
    """An action has the wrong type or shape; the environment state is left unchanged."""


class StreamExhaustedError(StreamSynthError, RuntimeError):
    """``reset()`` was called after the last task of a non-cycling stream."""


class BackendError(StreamSynthError, RuntimeError):
    """A generation backend cannot be loaded or used (missing optional package, bad model id...)."""
