"""Blending reward components into one scalar with named, configurable weights.

The set score of a task's dataset S is

    score(S) = w_q * quality(S) + w_r * realism(S) + w_d * diversity(S) + w_u * utility(S) + w_c * completion(S)

    quality(S)   = mean_i above_chance(fidelity_i) * realism_i   (the intended label, on text that passes for real)
    above_chance(f) = clip((f - 1/K) / (1 - 1/K), 0, 1)    (K labels: a judge at chance or against the label gives 0)
    diversity(S) = realism(S) * (v_sem * semantic + v_lex * lexical + v_nov * novelty + v_bal * balance)
                   / (v_sem + v_lex + v_nov + v_bal)    (spread off the real data's manifold is not diversity)

with every component in [0, 1], so score(S) is in [0, w_q + w_r + w_d + w_u + w_c] (= [0, 1] with the defaults).
``realism_i`` is the classifier two-sample test of :mod:`streamsynth.rewards.realism`. A weight of 0 keeps the
component in ``info`` ("log only") without rewarding it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from streamsynth.config import check_int

_TOP = ("quality", "realism", "diversity", "utility", "completion")
_DIV = ("semantic", "lexical", "novelty", "balance")


@dataclass(frozen=True)
class RewardWeights:
    """Weights of the set score (top level) and of the diversity mix (``semantic`` .. ``balance``).

    The top-level defaults were chosen on the reward validity battery (``benchmarks/bench_reward_validity.py``,
    ``docs/results/reward-validity.md``): the grid point with the best mean Spearman correlation between set score
    and the dev-split accuracy of a fine-tuned student trained on 128 per label of each set, among those that put
    real data first and every degenerate set below the LLM agents' sets; ``diversity >= 0.1`` is a prior (the
    battery holds no real-but-collapsed set to price it). ``realism`` alone is log-only by default: real text
    with swapped labels is fully "real", so realism counts only inside quality and diversity.

    >>> round(RewardWeights().total, 6)
    1.0
    >>> RewardWeights.from_mapping({"utility": 0.5}).utility
    0.5
    """

    quality: float = field(default=0.3, metadata={"help": "set score: judge fidelity above chance x realism"})
    realism: float = field(default=0.0, metadata={"help": "set score: two-sample realism alone (log-only at 0)"})
    diversity: float = field(default=0.1, metadata={"help": "set score: realism x the diversity mix below"})
    utility: float = field(default=0.4, metadata={"help": "set score: dev macro-F1 of a student trained on the set"})
    completion: float = field(default=0.2, metadata={"help": "set score: accepted / target size"})
    semantic: float = field(default=0.4, metadata={"help": "diversity mix: per-label normalised Vendi score"})
    lexical: float = field(default=0.2, metadata={"help": "diversity mix: distinct-n"})
    novelty: float = field(default=0.2, metadata={"help": "diversity mix: novelty against the reference memory"})
    balance: float = field(default=0.2, metadata={"help": "diversity mix: label balance"})

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < float("inf"):
                raise ValueError(f"reward weight {f.name!r} must be a finite number >= 0, got {v!r}")
            object.__setattr__(self, f.name, float(v))
        if sum(getattr(self, k) for k in _TOP) <= 0:
            raise ValueError(f"at least one of the weights {_TOP} must be > 0")
        if sum(getattr(self, k) for k in _DIV) <= 0:
            raise ValueError(f"at least one of the diversity weights {_DIV} must be > 0")

    @property
    def total(self) -> float:
        return float(sum(getattr(self, k) for k in _TOP))

    @classmethod
    def from_mapping(cls, weights: Mapping[str, Any] | RewardWeights | None) -> RewardWeights:
        """Build from a partial mapping; unknown names raise with the list of known ones."""
        if weights is None:
            return cls()
        if isinstance(weights, RewardWeights):
            return weights
        if not isinstance(weights, Mapping):
            raise ValueError(f"reward weights must be a mapping name -> weight, got {type(weights).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(weights) - known)
        if unknown:
            raise ValueError(f"unknown reward weight(s) {unknown}; known: {sorted(known)}")
        return cls(**{k: _number(k, v) for k, v in weights.items()})

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def _number(name: str, value: Any) -> Any:
    """Numeric strings (from config files or the CLI) become floats; everything else is validated as is."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"reward weight {name!r} must be a finite number >= 0, got {value!r}") from None
    return value


def diversity_mix(components: Mapping[str, float], w: RewardWeights) -> float:
    """Weighted mean of the diversity components ``semantic``, ``lexical``, ``novelty``, ``balance``.

    >>> diversity_mix({"semantic": 1.0, "lexical": 0.5, "novelty": 0.0, "balance": 1.0}, RewardWeights())
    0.7
    """
    den = sum(getattr(w, k) for k in _DIV)
    return float(sum(getattr(w, k) * components[k] for k in _DIV) / den)


def blend(components: Mapping[str, float], w: RewardWeights) -> float:
    """The set score: weighted sum of ``quality``, ``realism``, ``diversity``, ``utility``, ``completion``.

    >>> blend({"quality": 1.0, "realism": 1.0, "diversity": 0.5, "utility": 0.5, "completion": 1.0}, RewardWeights())
    0.75
    """
    return float(sum(getattr(w, k) * components[k] for k in _TOP))


def above_chance(fidelity, n_labels: int):
    """How far the judge's probability of the intended label is above chance, scaled to [0, 1]:
    ``clip((f - 1/K) / (1 - 1/K), 0, 1)``. A sample the judge reads as another label (or cannot read) gets 0, so
    mislabelled data earns no quality however real its text is. Works on floats and arrays.

    >>> above_chance(0.75, 2), above_chance(0.3, 2), above_chance(1.0, 4)
    (0.5, 0.0, 1.0)
    """
    check_int("n_labels", n_labels, 2)
    chance = 1.0 / n_labels
    out = np.clip((np.asarray(fidelity, dtype=np.float64) - chance) / (1.0 - chance), 0.0, 1.0)
    return float(out) if out.ndim == 0 else out


def grounded_quality(fidelity, realism, n_labels: int):
    """A sample's label-gated quality, the per-sample term of the set's quality: ``above_chance(fidelity) x
    realism`` (the intended label, on text that passes for real). Works on floats and arrays.

    >>> grounded_quality(0.75, 0.5, 2)
    0.25
    """
    return above_chance(fidelity, n_labels) * realism


def sample_score(fidelity: float, novelty: float, realism: float, n_labels: int, w: RewardWeights) -> float:
    """A sample's own score, for credit assignment, with the weights of the set score's quality, realism and
    diversity terms: ``realism * (w_q * q + w_r + w_d * novelty * q) / (w_q + w_r + w_d)`` with
    ``q = above_chance(fidelity)`` (a rejected sample scores 0). Unlike the set's diversity, a sample's novelty
    counts in proportion to its label agreement, on purpose: new text that the judge reads as another label adds
    no useful spread, and an agent that picks or learns on ungated novelty drifts off the label
    (``docs/results/archive/smol-feedback-3seeds.md``).
    Falls back to ``q * realism`` when the three weights are 0.

    >>> sample_score(0.9, 0.4, 1.0, 2, RewardWeights(quality=0.5, realism=0.0, diversity=0.5))
    0.56
    >>> sample_score(0.9, 0.4, 0.5, 2, RewardWeights(quality=0.5, realism=0.0, diversity=0.5))
    0.28
    >>> sample_score(0.2, 1.0, 1.0, 2, RewardWeights(quality=0.5, realism=0.0, diversity=0.5))  # read as the other
    0.0
    """
    q = above_chance(fidelity, n_labels)
    den = w.quality + w.realism + w.diversity
    if den <= 0:
        return float(q * realism)
    return float(realism * (w.quality * q + w.realism + w.diversity * novelty * q) / den)
