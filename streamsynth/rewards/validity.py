"""Per-sample validity: the checks a sample must pass before it can earn anything.

Each check is a pure function returning ``None`` (valid) or a :class:`~streamsynth.rewards.reasons.Rejection`
(a reason code and a short message). The environment records both for every rejected sample in
``info["rejected"]``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from streamsynth.rewards.reasons import Reason, Rejection, reject
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
) -> Rejection | None:
    """Return why ``sample`` is not a well-formed sample of the task (a :class:`Rejection`: code and message), or
    ``None`` when it is.

    Checks, in order: a mapping; every field present, a string and non-empty; the label known; every field's
    length within ``[min_chars, max_chars]`` characters (after stripping).

    >>> check_sample({"text": "A fine film.", "label": "positive"}, ["text"], ["positive", "negative"], 5, 100) is None
    True
    >>> r = check_sample({"text": "A fine film.", "label": "great"}, ["text"], ["positive", "negative"], 5, 100)
    >>> r.code.value, r.message
    ('unknown_label', "unknown label 'great' (expected one of: positive, negative)")
    """
    if not isinstance(sample, Mapping):
        return reject(Reason.NOT_AN_OBJECT, fields=list(fields) + [LABEL_KEY], got=type(sample).__name__)
    for f in fields:
        if f not in sample:
            return reject(Reason.MISSING_FIELD, field=f)
        if not isinstance(sample[f], str):
            return reject(Reason.NOT_A_STRING, field=f, got=type(sample[f]).__name__)
        if not sample[f].strip():
            return reject(Reason.EMPTY_FIELD, field=f)
    label = sample.get(LABEL_KEY)
    expected = ", ".join(labels)
    if label is None:
        return reject(Reason.MISSING_FIELD, field=LABEL_KEY)
    if not isinstance(label, str):
        return reject(Reason.NOT_A_STRING, field=LABEL_KEY, got=f"{type(label).__name__}; expected one of: {expected}")
    if label not in labels:
        return reject(Reason.UNKNOWN_LABEL, label=label, expected=expected)
    for f in fields:
        n = len(sample[f].strip())
        if n < min_chars:
            return reject(Reason.TOO_SHORT, field=f, n=n, limit=min_chars)
        if n > max_chars:
            return reject(Reason.TOO_LONG, field=f, n=n, limit=max_chars)
    return None


def word_shingles(text: str, n: int = 3) -> frozenset[tuple[str, ...]]:
    """The set of word ``n``-grams of the normalised text (:func:`normalize_text`); a text of fewer than ``n``
    words gives one shingle, its whole word sequence.

    >>> sorted(word_shingles("A fine, fine film!", n=2))
    [('a', 'fine'), ('fine', 'film'), ('fine', 'fine')]
    >>> word_shingles("Great!", n=3)
    frozenset({('great',)})
    """
    words = normalize_text(text).split()
    if len(words) < n:
        return frozenset([tuple(words)]) if words else frozenset()
    return frozenset(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def ngram_overlap(a: frozenset, b: frozenset) -> float:
    """How much of the smaller shingle set the other one holds: ``|a ∩ b| / min(|a|, |b|)`` (0 when either is
    empty). 1 when one text contains the other (a prefix or suffix added, a part cut away); it falls by about
    ``n / |shingles|`` with each word changed.

    >>> ngram_overlap(word_shingles("the film is a delight"), word_shingles("Honestly, the film is a delight. Really."))
    1.0
    >>> ngram_overlap(word_shingles("the film is a delight"), word_shingles("a dull film with no delight"))
    0.0
    """
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def max_ngram_overlap(text: str, references: Sequence[frozenset], n: int = 3) -> float:
    """The largest :func:`ngram_overlap` of ``text`` with any of the ``references`` (shingle sets of the same
    ``n``); 0 without references. The env rejects a sample whose overlap with a seed example shown to the agent
    reaches its ``near_copy_overlap`` threshold: an edited copy, which the cosine check misses (prefix
    and suffix edits of seed examples passed cosine >= 0.97 on 15 of 64 movie and 81 of 192 question edits).

    >>> seeds = [word_shingles("What is the capital of France?")]
    >>> max_ngram_overlap("Quick question: what is the capital of France?", seeds)
    1.0
    >>> max_ngram_overlap("Who wrote the novel Dracula?", seeds)
    0.0
    """
    mine = word_shingles(text, n)
    return max((ngram_overlap(mine, ref) for ref in references), default=0.0)
