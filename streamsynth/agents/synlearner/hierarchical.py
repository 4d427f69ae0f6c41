"""The hierarchical reward of each completion, from the env's feedback only (``info`` of ``env.step``).

Three levels: the **sample's quality** (the env's per-sample label fidelity above chance times its realism, the
env's own per-sample quality), its **contribution to set diversity** (the env's per-sample novelty against
everything accepted so far, times its realism and its quality: like the env's set score, only what passes for real
data counts, and new text the judge reads as another label adds no useful spread, so novelty counts only in
proportion to the label agreement; without this gate SynLearner raised its drafts' novelty while their
fidelity stayed near chance, and the data it wrote lowered the student's accuracy,
``docs/results/archive/smol-feedback-3seeds.md``) and its **share of the set's
utility** (the env's per-sample ``utility_gain``: how much a gradient step of the student trained on the set
before the step would lower the student's dev log-loss, a first-order leave-one-in estimate that depends on the
completion itself; :mod:`streamsynth.rewards.influence`). Crediting the set's utility to every accepted sample
instead would make the term an "accepted" indicator after standardisation. Each component is standardised over
the round's scored completions before the weighted sum, so none drowns the others whatever its scale or spread.

A completion the env *rejected for its own fault* (unparseable, invalid, a copy, a near-duplicate) scores 0 on
every raw component, and so does a (near-)duplicate of another completion of the same step: collapse onto one
text is penalised, not passed over. A completion the env did not judge for budget reasons (its label already
full, over the per-step limit or the feedback budget) carries no signal: it is left out of the GRPO groups
(``scored`` False).

**Drafts** (``"draft": true``) are scored like accepted samples when the env says they would have
been accepted (``code`` None): quality, diversity and utility credit from their own figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from streamsynth.agents.synlearner.grpo import group_advantages
from streamsynth.envs.feedback import passed_figure
from streamsynth.rewards.blend import grounded_quality
from streamsynth.rewards.reasons import Reason


def completion_components(submitted: Sequence[int | None], info: Mapping[str, Any], n_labels: int,
                          label_gate: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Raw ``(quality, diversity, utility, scored)`` per completion.

    ``submitted[i]`` is the index in the submitted action of completion ``i``'s sample, or None when the
    completion could not be parsed into a sample (scored, all components 0). With ``label_gate`` (the default)
    quality is ``above_chance(fidelity, n_labels) * realism`` and diversity ``novelty * quality``; without it,
    ``fidelity * realism`` and ``novelty * realism``.

    >>> info = {"samples": [
    ...     {"index": 0, "accepted": True, "fidelity": 0.9, "novelty": 0.5, "utility_gain": 0.02},
    ...     {"index": 1, "accepted": False, "code": "label_full"},
    ...     {"index": 2, "accepted": False, "code": "near_duplicate"}]}
    >>> q, d, u, scored = completion_components([0, 1, None, 2], info, n_labels=2)
    >>> q.round(6).tolist(), d.round(6).tolist(), u.tolist(), scored.tolist()
    ([0.8, 0.0, 0.0, 0.0], [0.4, 0.0, 0.0, 0.0], [0.02, 0.0, 0.0, 0.0], [True, False, True, True])
    >>> [a.tolist() for a in completion_components([0], info, n_labels=2, label_gate=False)][:2]
    [[0.9], [0.5]]
    """
    rows = {int(r["index"]): r for r in info["samples"]}
    in_step = {Reason.DUPLICATE_IN_STEP.value, Reason.NEAR_DUPLICATE_IN_STEP.value}
    n = len(submitted)
    q, d, u = np.zeros(n), np.zeros(n), np.zeros(n)
    scored = np.ones(n, dtype=bool)
    for i, idx in enumerate(submitted):
        if idx is None:
            continue
        if idx not in rows:
            raise ValueError(f"completion {i} maps to action index {idx}, which the env's feedback does not hold")
        row = rows[idx]
        draft_passed = bool(row.get("draft")) and row.get("code") is None
        if row.get("accepted") or draft_passed:
            real = float(row.get("realism", 1.0))  # grounded: only what passes for real data earns
            if label_gate:
                q[i] = grounded_quality(float(row["fidelity"]), real, n_labels)
                d[i] = float(row["novelty"]) * q[i]
            else:
                q[i], d[i] = float(row["fidelity"]) * real, float(row["novelty"]) * real
            u[i] = float(row["utility_gain"])
        elif not Reason(row["code"]).judged and row["code"] not in in_step:  # reason codes, never the wording
            scored[i] = False
    return q, d, u, scored


def standardize(values: np.ndarray, mask: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """``(v - mean) / std`` over ``mask`` (0 where the masked values do not vary, and outside the mask).

    >>> standardize(np.array([1.0, 3.0, 9.0]), np.array([True, True, False])).tolist()
    [-1.0, 1.0, 0.0]
    """
    out = np.zeros(len(values))
    if mask.sum() == 0:
        return out
    v = values[mask]
    std = v.std()
    out[mask] = (v - v.mean()) / std if std > eps else 0.0
    return out


def hierarchical_rewards(quality: np.ndarray, diversity: np.ndarray, utility: np.ndarray, scored: np.ndarray,
                         weights: Sequence[float] = (0.4, 0.3, 0.3)) -> np.ndarray:
    """Weighted sum of the standardised components (over ``scored``; 0 elsewhere).

    >>> s = np.array([True, True, True, False])
    >>> hierarchical_rewards(np.array([1., 0., 0., 5.]), np.array([0., 1., 0., 5.]), np.zeros(4), s,
    ...                      (1, 1, 1)).round(3).tolist()
    [0.707, 0.707, -1.414, 0.0]
    """
    wq, wd, wu = (float(w) for w in weights)
    return (wq * standardize(quality, scored) + wd * standardize(diversity, scored)
            + wu * standardize(utility, scored))


def raw_rewards(quality: np.ndarray, diversity: np.ndarray, utility: np.ndarray,
                weights: Sequence[float] = (0.4, 0.3, 0.3)) -> np.ndarray:
    """The un-standardised weighted sum (weights normalised): what the experience memory averages. Quality and
    diversity are in [0, 1]; the utility credit is a signed gain, small next to them (typically |u| < 0.1).

    >>> raw_rewards(np.array([1.0]), np.array([0.5]), np.array([0.0]), (2, 2, 0)).tolist()
    [0.75]
    """
    w = np.asarray(weights, dtype=float) / float(np.sum(weights))
    return w[0] * quality + w[1] * diversity + w[2] * utility


def masked_group_advantages(rewards: np.ndarray, scored: np.ndarray, group_size: int, eps: float = 1e-4
                            ) -> tuple[np.ndarray, np.ndarray]:
    """GRPO advantages over consecutive groups of ``group_size``, using only scored members
    (:func:`~streamsynth.agents.synlearner.grpo.group_advantages` on each group's scored rewards). Returns
    ``(advantages, trainable)``; a member is trainable when it is scored and its group has at least 2 scored
    members that differ.

    >>> adv, ok = masked_group_advantages(np.array([1., 3., 0., 2., 2., 7.]), np.array([1, 1, 0, 1, 1, 1], bool), 3)
    >>> adv.round(3).tolist(), ok.tolist()
    ([-0.707, 0.707, 0.0, -0.577, -0.577, 1.155], [True, True, False, True, True, True])
    """
    if group_size < 2 or len(rewards) % group_size or len(scored) != len(rewards):
        raise ValueError(f"{len(rewards)} rewards ({len(scored)} flags) cannot form groups of {group_size}")
    adv = np.zeros(len(rewards))
    ok = np.zeros(len(rewards), dtype=bool)
    for start in range(0, len(rewards), group_size):
        idx = np.arange(start, start + group_size)[scored[start:start + group_size]]
        if len(idx) < 2:
            continue
        r = rewards[idx]
        if r.std(ddof=1) <= 0:
            continue
        adv[idx] = group_advantages(torch.as_tensor(r, dtype=torch.float64), len(idx), eps=eps).numpy()
        ok[idx] = True
    return adv, ok


def completion_scores(submitted: Sequence[int | None], env_rows: Mapping[int, Mapping[str, Any]]) -> np.ndarray:
    """The env's per-sample score of each completion of a step (``submitted[i]``: its sample's index in the action,
    ``None`` when unparseable), 0 for the unparseable and for those the env rejected (a reason ``code``): the reward
    HRO trains on (``feedback_reward="score"``, :class:`~streamsynth.integrations.trl.StreamSynthReward`).

    >>> completion_scores([0, None, 1], {0: {"score": 0.5}, 1: {"score": 0.3, "code": "too_short"}}).tolist()
    [0.5, 0.0, 0.0]
    """
    return np.array([passed_figure(None if idx is None else env_rows[idx]) for idx in submitted], dtype=float)


def env_reward(rows: Sequence[Any], submitted: Sequence[int | None], env_rows: Mapping[int, Mapping[str, Any]]
               ) -> float:
    """The env's score per completion of a step: the mean of :func:`completion_scores` over ``rows`` (one entry of
    ``submitted`` each)."""
    return float(completion_scores(submitted, env_rows).sum()) / len(rows) if rows else 0.0


def draft_figures(submitted: Sequence[int | None], env_rows: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    """What the env made of a step's drafts: how many were drafted and passed (no reason ``code``), and the passed
    drafts' mean fidelity, novelty and per-sample score (0 when none passed).

    >>> rows = {0: {"code": None, "fidelity": 0.8, "novelty": 0.2, "score": 0.5}, 1: {"code": "copy"}}
    >>> draft_figures([0, None, 1], rows)
    {'drafts': 2, 'passed': 1, 'mean_fidelity': 0.8, 'mean_novelty': 0.2, 'mean_draft_score': 0.5}
    """
    passed = [env_rows[idx] for idx in submitted if idx is not None and env_rows[idx].get("code") is None]

    def mean(key: str) -> float:
        return float(np.mean([r[key] for r in passed])) if passed else 0.0

    return {"drafts": sum(idx is not None for idx in submitted), "passed": len(passed),
            "mean_fidelity": mean("fidelity"), "mean_novelty": mean("novelty"), "mean_draft_score": mean("score")}
