"""Typed per-sample feedback of ``StreamSynthEnv.step``: the rows of ``info["samples"]`` and ``info["rejected"]``.

They stay plain dicts (JSON-ready, picklable for vector envs); the ``TypedDict`` classes say which keys and types
each row has. Agents and reports read ``code`` (a :class:`~streamsynth.rewards.reasons.Reason` value), never the
wording of ``reason``.
"""

from __future__ import annotations

from typing import Any, TypedDict

from streamsynth.rewards.reasons import Rejection


class SampleFeedback(TypedDict):
    """One item of the action, in submission order (``info["samples"]``).

    ``fidelity`` (judge probability of the intended label), ``novelty``, ``realism`` and ``utility_gain`` (the
    sample's own utility credit: how much a gradient step of the env's student on it would lower the student's
    dev log-loss, :mod:`streamsynth.rewards.influence`; comparable within a step) are set for accepted
    samples only; ``score`` is the sample's own score (0 when rejected). A **draft** (``draft`` True) is never
    accepted (never added); it gets the figures and score it would get if submitted, and ``code`` None means it
    would have been accepted.
    """

    index: int
    draft: bool
    accepted: bool
    code: str | None
    reason: str | None
    label: str | None
    fidelity: float | None
    novelty: float | None
    realism: float | None
    utility_gain: float | None
    score: float


class RejectedSample(TypedDict):
    """One rejected item (``info["rejected"]``): its code, message and a preview of what was submitted."""

    index: int
    draft: bool
    code: str
    reason: str
    sample: Any


def feedback_row(index: int, label: str | None, why: Rejection | None, draft: bool = False) -> SampleFeedback:
    """The row of item ``index`` after the cheap checks: rejected with ``why``, or pending (not yet accepted, no
    figures) when ``why`` is None.

    >>> feedback_row(0, "a", None)["code"] is None
    True
    """
    return SampleFeedback(index=index, draft=draft, accepted=False, code=None if why is None else why.code.value,
                          reason=None if why is None else why.message, label=label, fidelity=None, novelty=None,
                          realism=None, utility_gain=None, score=0.0)


def passed_figure(row: Any, key: str = "score") -> float:
    """A row's figure ``key`` (a :class:`SampleFeedback` key, ``score`` by default) when it passed (no ``code``), 0
    for a rejected row and for ``None`` (a completion that did not parse into a sample): the per-completion reward of
    HRO's GRPO and of :class:`~streamsynth.integrations.trl.StreamSynthReward`.

    >>> [passed_figure(r) for r in ({"code": None, "score": 0.5}, {"code": "too_short", "score": 0.2}, None)]
    [0.5, 0.0, 0.0]
    """
    return float(row[key]) if row is not None and row.get("code") is None else 0.0


def rejected_row(row: SampleFeedback, preview: Any) -> RejectedSample:
    """The ``info["rejected"]`` entry of a rejected row."""
    return RejectedSample(index=row["index"], draft=row["draft"], code=row["code"], reason=row["reason"],
                          sample=preview)
