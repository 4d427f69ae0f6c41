"""Lexical diversity of a generated set: distinct-n (Li et al., NAACL 2016), in linear time.

Tokens come from :func:`tokenize`: the text is lowercased, then every maximal run of word characters
(Unicode ``\\w``: letters, digits, underscore) is one token and every other non-space character (punctuation,
symbols) is a token of its own. ``"Don't stop!"`` gives ``["don", "'", "t", "stop", "!"]``. N-grams never
cross a text boundary.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

__all__ = ["tokenize", "distinct_n", "lexical_diversity"]

_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lowercase ``text`` and split it into word tokens (``\\w+``) and single punctuation/symbol tokens.

    >>> tokenize("Great movie, GREAT cast!")
    ['great', 'movie', ',', 'great', 'cast', '!']
    >>> tokenize("   ")
    []
    """
    return _TOKEN_RE.findall(text.lower())


def _check_texts(texts: Sequence[str]) -> None:
    if isinstance(texts, (str, bytes)):
        raise TypeError("texts must be a sequence of strings, not a single string; wrap it in a list")


def _distinct(token_lists: Iterable[list[str]], n: int) -> float:
    """Unique n-grams / total n-grams over already tokenized texts (0.0 when there is no n-gram)."""
    unique: set[tuple[str, ...]] = set()
    total = 0
    for tokens in token_lists:
        count = len(tokens) - n + 1
        if count <= 0:
            continue
        total += count
        unique.update(zip(*(tokens[i:] for i in range(n))))
    return len(unique) / total if total else 0.0


def distinct_n(texts: Sequence[str], n: int = 2) -> float:
    """Distinct-n of a set of texts: unique n-grams divided by total n-grams, in [0, 1].

    ``distinct_n = |{g : g an n-gram of some text}| / sum_t max(len(tokens_t) - n + 1, 0)``

    N-grams are counted inside each text (never across two texts); 0.0 when the set has no n-gram (empty set,
    or every text shorter than ``n`` tokens). Distinct-n of a set falls as the set grows (more chances to
    repeat), so compare sets of equal size. Cost is linear in the total number of tokens. Raises ``ValueError``
    when ``n < 1`` and ``TypeError`` when ``texts`` is a single string.

    >>> distinct_n(["the cat sat", "the cat ran"], n=1)
    0.666666...
    >>> distinct_n(["the cat sat", "the cat ran"], n=2)
    0.75
    >>> distinct_n([], n=2)
    0.0
    """
    _check_texts(texts)
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    return _distinct((tokenize(t) for t in texts), n)


def lexical_diversity(texts: Sequence[str]) -> float:
    """Mean of distinct-1 and distinct-2 of the set, in [0, 1].

    ``lexical_diversity = (distinct_n(texts, 1) + distinct_n(texts, 2)) / 2``; each text is tokenized once.
    0.0 for an empty set. A set whose texts are single tokens has no bigram, so its distinct-2 is 0 and its
    score is at most 0.5.

    >>> lexical_diversity(["the cat sat", "the cat ran"])
    0.708333...
    >>> lexical_diversity(["same words", "same words"])
    0.5
    """
    _check_texts(texts)
    token_lists = [tokenize(t) for t in texts]
    return (_distinct(token_lists, 1) + _distinct(token_lists, 2)) / 2
