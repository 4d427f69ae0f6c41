"""Gymnasium spaces for real text.

``gymnasium.spaces.Text`` only accepts characters of a fixed charset (letters and digits by default): real text,
with spaces, punctuation and non-ASCII characters, fails its ``contains``. :class:`UnicodeText` accepts any
string within length bounds. :class:`DatasetSpace` is the space of a generated dataset: a list of samples
``{field: text, ..., "label": name}``.

Both are custom spaces: ``AsyncVectorEnv`` needs ``shared_memory=False`` with them (shared memory would have to
encode text into a fixed charset).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium.spaces import Space

from streamsynth.tasks.spec import LABEL_KEY

DRAFT_KEY = "draft"
"""The key that marks a sample of an action as a draft: ``{"text": ..., "label": ..., "draft": true}``."""

# Sampled text mixes ASCII letters, digits, spaces, punctuation and a few non-ASCII characters on purpose.
_SAMPLE_CHARS = np.array(
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") + list("     .,;:!?'\"()-")
    + list("éüñßøç—“”漢字😊"),
    dtype=object,
)


class UnicodeText(Space[str]):
    """Any ``str`` whose length (in characters) is within ``[min_length, max_length]``.

    >>> space = UnicodeText(max_length=20)
    >>> space.contains("Très bien, merci !")
    True
    >>> space.contains(b"bytes"), space.contains("x" * 21)
    (False, False)
    """

    def __init__(self, max_length: int, *, min_length: int = 0, seed: int | np.random.Generator | None = None) -> None:
        if not (isinstance(max_length, int) and isinstance(min_length, int) and 0 <= min_length <= max_length):
            raise ValueError(f"need 0 <= min_length <= max_length, got {min_length!r}, {max_length!r}")
        self.min_length = min_length
        self.max_length = max_length
        super().__init__(dtype=str, seed=seed)

    def sample(self, mask: Any | None = None, probability: Any | None = None) -> str:
        if mask is not None or probability is not None:
            raise ValueError("UnicodeText.sample does not support masks")
        hi = min(self.max_length, max(self.min_length, 64))
        n = int(self.np_random.integers(self.min_length, hi + 1))
        return "".join(self.np_random.choice(_SAMPLE_CHARS, size=n))

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"UnicodeText({self.min_length}, {self.max_length})"

    def __eq__(self, other: Any) -> bool:
        return (isinstance(other, UnicodeText)
                and (self.min_length, self.max_length) == (other.min_length, other.max_length))


class DatasetSpace(Space[list]):
    """A dataset: a list of at most ``max_samples`` samples, each a mapping ``str -> str`` with a ``"label"`` key and
    every value at most ``max_chars`` characters long, plus an optional bool ``"draft"`` (a sample the env scores
    from the task's feedback budget without adding it).

    ``contains`` checks the shape only (labels and fields are checked by the environment against the current
    task). ``sample()`` draws seeded random datasets in the current task's format, set with :meth:`set_format`.

    >>> space = DatasetSpace(max_samples=4, max_chars=50, fields=("text",), labels=("yes", "no"), seed=0)
    >>> data = space.sample()
    >>> space.contains(data), all(set(s) == {"text", "label"} for s in data)
    (True, True)
    >>> space.contains([{"text": "ok"}])  # no label
    False
    >>> draft = {"text": "ok", "label": "yes", "draft": True}
    >>> space.contains([draft]), space.contains([{"label": "yes", "draft": True}])  # a draft needs a field too
    (True, False)
    """

    def __init__(
        self,
        max_samples: int,
        max_chars: int,
        fields: Sequence[str] = ("text",),
        labels: Sequence[str] = ("label",),
        *,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        if not (isinstance(max_samples, int) and max_samples >= 1 and isinstance(max_chars, int) and max_chars >= 1):
            raise ValueError(f"max_samples and max_chars must be positive ints, got {max_samples!r}, {max_chars!r}")
        self.max_samples = max_samples
        self.max_chars = max_chars
        self.set_format(fields, labels)
        super().__init__(dtype=object, seed=seed)

    def set_format(self, fields: Sequence[str], labels: Sequence[str]) -> None:
        """Fields and labels that :meth:`sample` uses (the environment sets them to the current task's)."""
        if not fields or not labels:
            raise ValueError("DatasetSpace needs at least one field and one label")
        self.fields = tuple(fields)
        self.labels = tuple(labels)

    def sample(self, mask: Any | None = None, probability: Any | None = None) -> list[dict[str, str]]:
        if mask is not None or probability is not None:
            raise ValueError("DatasetSpace.sample does not support masks")
        text = UnicodeText(min(self.max_chars, 64), min_length=1)
        text._np_random = self.np_random  # share the generator: one seed drives the whole sample
        n = int(self.np_random.integers(1, min(self.max_samples, 8) + 1))
        out = []
        for _ in range(n):
            s = {f: text.sample() for f in self.fields}
            s[LABEL_KEY] = str(self.labels[int(self.np_random.integers(len(self.labels)))])
            out.append(s)
        return out

    def contains(self, x: Any) -> bool:
        if not isinstance(x, (list, tuple)) or len(x) > self.max_samples:
            return False
        return all(self._sample_ok(s) for s in x)

    def _sample_ok(self, s: Any) -> bool:
        if not isinstance(s, Mapping) or LABEL_KEY not in s:
            return False
        if DRAFT_KEY in s and not isinstance(s[DRAFT_KEY], bool):
            return False
        fields = {k: v for k, v in s.items() if k != DRAFT_KEY}
        return (
            len(fields) >= 2
            and all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())
            and all(len(v) <= self.max_chars for k, v in fields.items() if k != LABEL_KEY)
        )

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"DatasetSpace(max_samples={self.max_samples}, max_chars={self.max_chars})"

    def __eq__(self, other: Any) -> bool:
        return (isinstance(other, DatasetSpace)
                and (self.max_samples, self.max_chars) == (other.max_samples, other.max_chars))
