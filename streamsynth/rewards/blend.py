"""Blending reward components into one scalar with named, configurable weights.

The set score of a task's dataset S is

    score(S) = w_q * quality(S) + w_d * diversity(S) + w_u * utility(S) + w_c * completion(S)

    diversity(S) = (v_sem * semantic + v_lex * lexical + v_nov * novelty + v_bal * balance) / (v_sem + v_lex + v_nov + v_bal)

with every component in [0, 1], so score(S) is in [0, w_q + w_d + w_u + w_c] (= [0, 1] with the defaults). A weight
of 0 keeps the component in ``info`` ("log only") without rewarding it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

_TOP = ("quality", "diversity", "utility", "completion")
_DIV = ("semantic", "lexical", "novelty", "balance")


@dataclass(frozen=True)
class RewardWeights:
    """Weights of the set score (top level) and of the diversity mix (``semantic`` .. ``balance``).

    >>> round(RewardWeights().total, 6)
    1.0
    >>> RewardWeights.from_mapping({"utility": 0.5}).utility
    0.5
    """

    quality: float = 0.35
    diversity: float = 0.25
    utility: float = 0.3
    completion: float = 0.1
    semantic: float = 0.4
    lexical: float = 0.2
    novelty: float = 0.2
    balance: float = 0.2

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
    def from_mapping(cls, weights: Mapping[str, Any] | "RewardWeights" | None) -> "RewardWeights":
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
    """The set score: weighted sum of ``quality``, ``diversity``, ``utility``, ``completion``.

    >>> blend({"quality": 1.0, "diversity": 0.5, "utility": 0.5, "completion": 1.0}, RewardWeights())
    0.725
    """
    return float(sum(getattr(w, k) * components[k] for k in _TOP))


def sample_score(fidelity: float, novelty: float, w: RewardWeights) -> float:
    """A sample's own score, for credit assignment: ``(w_q * fidelity + w_d * novelty) / (w_q + w_d)``
    (a rejected sample scores 0). Falls back to ``fidelity`` when both weights are 0.

    >>> sample_score(0.8, 0.4, RewardWeights(quality=0.5, diversity=0.5))
    0.6000000000000001
    """
    den = w.quality + w.diversity
    if den <= 0:
        return float(fidelity)
    return float((w.quality * fidelity + w.diversity * novelty) / den)
