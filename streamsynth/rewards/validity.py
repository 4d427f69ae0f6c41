"""Per-sample validity: the checks a sample must pass before it can earn anything.

Each check is a pure function returning ``None`` (valid) or a short reason. The environment records the
reason of every rejected sample in ``info["rejected"]``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Mapping, Sequence

from streamsynth.tasks.spec import LABEL_KEY

_WS = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s]")


def normalize_text(text: str) -> str:
    """Canonical form used to detect copies: NFKC, lowercase, punctuation dropped, whitespace collapsed.

    >>> normalize_text("  Great   FILM!! ")
    'great film'
    """
    text = unicodedata.normalize("NFKC", text).lower()
    return _WS.sub(" ", _PUNCT.sub(" ", text)).strip()


def sample_key(sample: Mapping[str, str], fields: Sequence[str]) -> str:
    """Normalised key of a sample's text fields (the label is ignored: the same text with two labels is a copy).

    >>> sample_key({"text": "Good!", "label": "positive"}, ["text"])
    'good'
    """
    return " || ".join(normalize_text(sample[f]) for f in fields)


def check_sample(
    sample: Any,
    fields: Sequence[str],
    labels: Sequence[str],
    min_chars: int,
    max_chars: int,
) -> str | None:
    """Return why ``sample`` is not a well-formed sample of the task, or ``None`` when it is.

    Checks, in order: a mapping; every field present, a string and non-empty; the label known; every field's
    length within ``[min_chars, max_chars]`` characters (after stripping).

    >>> check_sample({"text": "A fine film.", "label": "positive"}, ["text"], ["positive", "negative"], 5, 100) is None
    True
    >>> check_sample({"text": "A fine film.", "label": "great"}, ["text"], ["positive", "negative"], 5, 100)
    "unknown label 'great' (expected one of: positive, negative)"
    """
    if not isinstance(sample, Mapping):
        return f"not an object with fields {list(fields) + [LABEL_KEY]} (got {type(sample).__name__})"
    for f in fields:
        if f not in sample:
            return f"missing field {f!r}"
        if not isinstance(sample[f], str):
            return f"field {f!r} is not a string (got {type(sample[f]).__name__})"
        if not sample[f].strip():
            return f"field {f!r} is empty"
    label = sample.get(LABEL_KEY)
    if label is None:
        return f"missing field {LABEL_KEY!r}"
    if not isinstance(label, str):
        return f"label is not a string (got {type(label).__name__}; expected one of: {', '.join(labels)})"
    if label not in labels:
        return f"unknown label {label!r} (expected one of: {', '.join(labels)})"
    for f in fields:
        n = len(sample[f].strip())
        if n < min_chars:
            return f"field {f!r} too short ({n} < {min_chars} characters)"
        if n > max_chars:
            return f"field {f!r} too long ({n} > {max_chars} characters)"
    return None
