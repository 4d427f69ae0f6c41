"""Where StreamSynth keeps caches (converted models, embeddings) on disk."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The cache folder: ``$STREAMSYNTH_CACHE`` if set, else ``$XDG_CACHE_HOME/streamsynth`` or
    ``~/.cache/streamsynth``.

    >>> import os; os.environ["STREAMSYNTH_CACHE"] = "/tmp/ss-cache"; str(cache_dir())
    '/tmp/ss-cache'
    >>> del os.environ["STREAMSYNTH_CACHE"]
    """
    env = os.environ.get("STREAMSYNTH_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "streamsynth"
