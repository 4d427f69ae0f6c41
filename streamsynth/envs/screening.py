"""Screening the items of one ``StreamSynth-v0`` step: which are drafts, which are valid, which are copies.

Pure functions over the step's items and the task's references (seed examples, accepted samples); the env
(:mod:`streamsynth.envs.streamsynth_env`) calls them for the submitted items and, separately, for the drafts.
Each rejection is a :class:`~streamsynth.rewards.reasons.Rejection` written into the item's feedback row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from streamsynth.envs.feedback import SampleFeedback, feedback_row
from streamsynth.envs.spaces import DRAFT_KEY
from streamsynth.rewards.reasons import Reason, Rejection, reject
from streamsynth.rewards.validity import check_sample, max_ngram_overlap, sample_key
from streamsynth.tasks.spec import LABEL_KEY, Task


def draft_flag(item: Any) -> bool | Rejection:
    """Whether ``item`` is a draft (``"draft": true``), or the rejection of a ``draft`` value that is not a bool.

    >>> draft_flag({"text": "x", "label": "a", "draft": True}), draft_flag({"text": "x"}), draft_flag("junk")
    (True, False, False)
    >>> draft_flag({"draft": "yes"}).code.value
    'invalid_draft'
    """
    if not isinstance(item, Mapping) or DRAFT_KEY not in item:
        return False
    value = item[DRAFT_KEY]
    if isinstance(value, bool):
        return value
    return reject(Reason.INVALID_DRAFT, got=type(value).__name__)


def joined(sample: Mapping[str, str], fields: Sequence[str]) -> str:
    """The sample's text fields joined by a space (what near-copy overlap compares)."""
    return " ".join(sample[f] for f in fields)


def item_label(item: Any) -> str | None:
    """The item's label when it has a string one (for feedback rows), else None."""
    return item.get(LABEL_KEY) if isinstance(item, Mapping) and isinstance(item.get(LABEL_KEY), str) else None


def screen(items: Sequence[tuple[Any, Rejection | None]], indices: Sequence[int], task: Task,
           seed_keys: frozenset[str], seed_shingles: Sequence[frozenset], accepted_keys: set[str],
           step_limit: int, near_copy_overlap: float, rows: list[SampleFeedback | None], *,
           draft: bool = False) -> list[int]:
    """Cheap per-item checks (no embedding) of the items at ``indices``: parse errors, the per-step limit,
    validity, exact and edited copies of seed examples, duplicates of accepted samples and of earlier items among
    ``indices``. Writes each item's row into ``rows`` and returns the indices still in the running."""
    candidates: list[int] = []
    seen: set[str] = set()
    for i in indices:
        item, why = items[i]
        if why is None and i >= step_limit:
            why = reject(Reason.OVER_STEP_LIMIT, limit=step_limit)
        if why is None:
            why = check_sample(item, task.fields, task.label_names, task.min_chars, task.max_chars)
        if why is None:
            key = sample_key(item, task.fields)
            if key in seed_keys:
                why = reject(Reason.SEED_COPY)
            elif (overlap := max_ngram_overlap(joined(item, task.fields), seed_shingles)) >= near_copy_overlap:
                why = reject(Reason.SEED_EDITED_COPY, overlap=overlap)
            elif key in accepted_keys:
                why = reject(Reason.DUPLICATE)
            elif key in seen:
                why = reject(Reason.DUPLICATE_IN_STEP)
            seen.add(key)
        rows[i] = feedback_row(i, item_label(item), why, draft=draft)
        if why is None:
            candidates.append(i)
    return candidates


def screen_near_duplicates(vectors: np.ndarray, labels: Sequence[str], candidates: Sequence[int],
                           seed_vectors: np.ndarray, accepted_vectors: np.ndarray | None, counts: Counter,
                           target: int, near_duplicate: float, rows: list[SampleFeedback | None], *,
                           fill_labels: bool = True) -> list[int]:
    """Reject near-copies of seed examples, near-duplicates (of accepted samples and of earlier kept candidates)
    and samples of a label already at ``target``; returns the positions (into ``candidates``) that pass.

    With ``fill_labels`` (submissions) each kept sample counts toward its label's target, so a step cannot overfill
    a label; drafts (``fill_labels=False``) are judged each on its own against the accepted counts, since none of
    them is added."""
    counts = Counter(counts)
    seed_sim = max_similarity(vectors, seed_vectors)
    acc_sim = max_similarity(vectors, accepted_vectors)
    keep: list[int] = []
    for k, i in enumerate(candidates):
        why = None
        if seed_sim[k] >= near_duplicate:
            why = reject(Reason.SEED_NEAR_COPY, cosine=seed_sim[k])
        elif acc_sim[k] >= near_duplicate:
            why = reject(Reason.NEAR_DUPLICATE, cosine=acc_sim[k])
        elif keep and float(np.max(vectors[keep] @ vectors[k])) >= near_duplicate:
            why = reject(Reason.NEAR_DUPLICATE_IN_STEP)
        elif counts[labels[k]] >= target:
            why = reject(Reason.LABEL_FULL, label=labels[k], target=target)
        elif fill_labels:
            counts[labels[k]] += 1
        if why is None:
            keep.append(k)
        else:
            rows[i].update(code=why.code.value, reason=why.message)
    return keep


def max_similarity(a: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """Largest cosine similarity of each row of ``a`` to the rows of ``b`` (-1 when ``b`` is empty).

    >>> max_similarity(np.eye(2), np.array([[1.0, 0.0]])).tolist(), max_similarity(np.eye(2), None).tolist()
    ([1.0, 0.0], [-1.0, -1.0])
    """
    if b is None or len(b) == 0 or len(a) == 0:
        return np.full(len(a), -1.0)
    return (a @ b.T).max(axis=1)


def preview(item: Any, limit: int = 300) -> Any:
    """The rejected item as submitted, shortened so ``info`` stays small."""
    if isinstance(item, Mapping):
        return {str(k)[:50]: (v[:limit] if isinstance(v, str) else repr(v)[:limit]) for k, v in list(item.items())[:10]}
    return item[:limit] if isinstance(item, str) else repr(item)[:limit]
