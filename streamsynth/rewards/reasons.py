"""Why a submitted sample earned nothing: a reason **code** (:class:`Reason`) and a human message.

Agents, reports and tests key on the code; the message is for people and may be reworded at any time (its
templates live in :data:`MESSAGES`, one per code). The env puts both in ``info["samples"]`` and
``info["rejected"]`` (``"code"`` and ``"reason"``).

>>> r = reject(Reason.TOO_SHORT, field="text", n=3, limit=10)
>>> r.code.value, r.message
('too_short', "field 'text' too short (3 < 10 characters)")
>>> Reason("label_full").judged
False
"""

from __future__ import annotations

from enum import Enum
from typing import Any, NamedTuple


class Reason(str, Enum):
    """Reason codes of rejected samples. The value (a snake_case string) is what ``info`` and metrics carry."""

    INVALID_JSON = "invalid_json"
    """A JSONL line that is not JSON."""
    NOT_AN_OBJECT = "not_an_object"
    """An item that is not a mapping of fields."""
    MISSING_FIELD = "missing_field"
    """A text field or the label is missing."""
    NOT_A_STRING = "not_a_string"
    """A text field or the label is not a string."""
    EMPTY_FIELD = "empty_field"
    """A text field is empty or only whitespace."""
    UNKNOWN_LABEL = "unknown_label"
    """The label is not one of the task's labels."""
    TOO_SHORT = "too_short"
    """A text field is shorter than the task's ``min_chars``."""
    TOO_LONG = "too_long"
    """A text field is longer than the task's ``max_chars``."""
    OVER_STEP_LIMIT = "over_step_limit"
    """The item comes after the env's ``max_samples_per_step`` items of this step."""
    SEED_COPY = "seed_copy"
    """The same text (normalised) as a seed example shown to the agent."""
    SEED_EDITED_COPY = "seed_edited_copy"
    """Word 3-gram overlap with a seed example at or above ``near_copy_overlap``: an edited copy."""
    SEED_NEAR_COPY = "seed_near_copy"
    """Embedding cosine with a seed example at or above ``near_duplicate``."""
    DUPLICATE = "duplicate"
    """The same text (normalised) as a sample already in the task's dataset."""
    DUPLICATE_IN_STEP = "duplicate_in_step"
    """The same text (normalised) as an earlier sample of this step."""
    NEAR_DUPLICATE = "near_duplicate"
    """Embedding cosine with a sample already in the dataset at or above ``near_duplicate``."""
    NEAR_DUPLICATE_IN_STEP = "near_duplicate_in_step"
    """Embedding cosine with an earlier accepted sample of this step at or above ``near_duplicate``."""
    LABEL_FULL = "label_full"
    """The sample's label already has its target number of samples."""
    INVALID_DRAFT = "invalid_draft"
    """The item's ``draft`` value is not true or false."""
    OVER_FEEDBACK_BUDGET = "over_feedback_budget"
    """A draft beyond the task's feedback budget (``feedback_budget`` draft samples per task)."""

    @property
    def judged(self) -> bool:
        """Whether the rejection says something about the sample itself. False for the rejections caused by
        budget or submission order (:data:`UNJUDGED`): the label already full, over the per-step limit or the
        feedback budget, or a
        (near-)duplicate of another sample of the same step that happened to come first.

        >>> Reason.TOO_LONG.judged, Reason.DUPLICATE_IN_STEP.judged
        (True, False)
        """
        return self not in UNJUDGED

    def __str__(self) -> str:
        return self.value


UNJUDGED = frozenset({Reason.LABEL_FULL, Reason.OVER_STEP_LIMIT, Reason.DUPLICATE_IN_STEP,
                      Reason.NEAR_DUPLICATE_IN_STEP, Reason.OVER_FEEDBACK_BUDGET})
"""Rejections that carry no signal about the sample's content (see :attr:`Reason.judged`)."""

MESSAGES: dict[Reason, str] = {
    Reason.INVALID_JSON: "line {line}: invalid JSON ({error})",
    Reason.NOT_AN_OBJECT: "not an object with fields {fields} (got {got})",
    Reason.MISSING_FIELD: "missing field {field!r}",
    Reason.NOT_A_STRING: "field {field!r} is not a string (got {got})",
    Reason.EMPTY_FIELD: "field {field!r} is empty",
    Reason.UNKNOWN_LABEL: "unknown label {label!r} (expected one of: {expected})",
    Reason.TOO_SHORT: "field {field!r} too short ({n} < {limit} characters)",
    Reason.TOO_LONG: "field {field!r} too long ({n} > {limit} characters)",
    Reason.OVER_STEP_LIMIT: "over the per-step limit of {limit} samples",
    Reason.SEED_COPY: "copy of a seed example shown to the agent",
    Reason.SEED_EDITED_COPY: "near-copy of a seed example shown to the agent (word 3-gram overlap {overlap:.2f})",
    Reason.SEED_NEAR_COPY: "near-copy of a seed example shown to the agent (cosine {cosine:.3f})",
    Reason.DUPLICATE: "duplicate of an accepted sample",
    Reason.DUPLICATE_IN_STEP: "duplicate of another sample of this step",
    Reason.NEAR_DUPLICATE: "near-duplicate of an accepted sample (cosine {cosine:.3f})",
    Reason.NEAR_DUPLICATE_IN_STEP: "near-duplicate of another sample of this step",
    Reason.LABEL_FULL: "label {label!r} already has its target of {target} samples",
    Reason.INVALID_DRAFT: "'draft' must be true or false (got {got})",
    Reason.OVER_FEEDBACK_BUDGET: "draft beyond the task's feedback budget of {budget} drafts",
}
"""The human message of each code, formatted with the rejection's details. Wording only: nothing keys on it."""


class Rejection(NamedTuple):
    """A rejected sample's reason: the code and its human message."""

    code: Reason
    message: str


def reject(code: Reason, **details: Any) -> Rejection:
    """The :class:`Rejection` of ``code`` with its message formatted from ``details``.

    >>> reject(Reason.LABEL_FULL, label="positive", target=8).message
    "label 'positive' already has its target of 8 samples"
    """
    return Rejection(Reason(code), MESSAGES[Reason(code)].format(**details))
