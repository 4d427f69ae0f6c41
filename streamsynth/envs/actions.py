"""Parsing actions: a dataset as a list of samples, or as JSONL text.

Wrong types raise :class:`~streamsynth.errors.InvalidActionError` before the environment changes anything.
Problems of single items (a line that is not JSON, an item that is not an object) are not errors: they become
per-sample rejections with a reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from streamsynth.errors import InvalidActionError
from streamsynth.rewards.reasons import Reason, Rejection, reject

_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # not str.splitlines: U+2028 etc. may sit raw inside JSON strings

Parsed = list[tuple[Any, "Rejection | None"]]
"""One ``(item, parse_error)`` per submitted item; ``parse_error`` is None when the item parsed, else a
:class:`~streamsynth.rewards.reasons.Rejection` with code ``invalid_json``."""


def parse_action(action: Any) -> Parsed:
    """Split an action into items.

    Accepts a list or tuple of samples (a 1-D numpy object array too) or a JSONL string (one JSON object per
    line; blank lines skipped).

    >>> parse_action('{"text": "hi", "label": "a"}\\nnot json')[1]
    ('not json',
     Rejection(code=<Reason.INVALID_JSON: 'invalid_json'>, message='line 2: invalid JSON (Expecting value)'))
    >>> parse_action({"text": "hi"})
    Traceback (most recent call last):
    ...
    streamsynth.errors.InvalidActionError: an action is a dataset: a list of samples or JSONL text, got a single dict;
    wrap it in a list
    """
    if isinstance(action, (str, bytes)):
        if isinstance(action, bytes):
            try:
                action = action.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidActionError(f"JSONL action bytes are not UTF-8 ({exc}); send str or UTF-8 bytes") from exc
        return _parse_jsonl(action)
    if isinstance(action, np.ndarray):
        if action.ndim != 1:
            raise InvalidActionError(f"an action array must be 1-D (one sample per entry), got shape {action.shape}")
        action = list(action)
    if isinstance(action, Mapping):
        raise InvalidActionError(
            "an action is a dataset: a list of samples or JSONL text, got a single dict; wrap it in a list"
        )
    if not isinstance(action, (list, tuple)):
        raise InvalidActionError(
            f"an action is a dataset: a list of samples {{field: text, 'label': name}} or JSONL text, "
            f"got {type(action).__name__}"
        )
    return [(item, None) for item in action]


def _parse_jsonl(text: str) -> Parsed:
    out: Parsed = []
    for lineno, line in enumerate(_LINE_BREAK.split(text), 1):
        if not line.strip():
            continue
        try:
            out.append((json.loads(line), None))
        except (json.JSONDecodeError, RecursionError) as exc:
            msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "too deeply nested"
            out.append((line, reject(Reason.INVALID_JSON, line=lineno, error=msg)))
    return out
