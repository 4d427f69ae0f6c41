"""The set-level figures of a task's dataset and its blended score (see :mod:`streamsynth.rewards.blend`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from streamsynth.rewards.blend import RewardWeights, blend, diversity_mix, grounded_quality
from streamsynth.rewards.diversity import label_balance, semantic_diversity
from streamsynth.rewards.lexical import lexical_diversity
from streamsynth.rewards.scorer import EncodedSet, TaskScorer

SET_KEYS = ("quality", "fidelity", "realism", "semantic", "lexical", "novelty", "balance", "utility",
            "utility_accuracy", "utility_gold", "utility_gold_accuracy", "utility_relative")


def set_figures(
    scorer: TaskScorer,
    enc: EncodedSet,
    fidelity: Sequence[float],
    novelty: Sequence[float],
    target_size: int,
    weights: RewardWeights,
    realism: Sequence[float] | None = None,
) -> dict[str, float]:
    """Every component of the dataset ``enc`` (per-sample ``fidelity`` and ``novelty`` already computed) and the
    blended ``score``. Cost is linear in the dataset size (the student is a linear model; Vendi uses the d x d
    covariance).

    - ``realism`` is each sample's figure from the classifier two-sample test against the task's real data
      (:meth:`TaskScorer.realism`, computed over the whole set; None: the scorer computes it);
    - quality = mean of above_chance(fidelity) x realism (``fidelity``: mean fidelity alone, logged); realism = its
      mean; diversity = realism x the diversity mix; semantic = per-label normalised Vendi; lexical = mean of
      distinct-1 and distinct-2; novelty = mean per-sample NovelSum-style novelty (computed when each sample was
      accepted); balance = normalised label entropy; utility = dev macro-F1 of the student, ``utility_gold`` the
      gold student's at the same N, ``utility_relative`` their ratio; completion = ``len(enc) / target_size``.
    """
    n = len(enc)
    label_set = scorer.label_set
    if n:
        names = [label_set[i] for i in enc.labels]
        real = np.asarray(scorer.realism(enc) if realism is None else realism, dtype=np.float64)
        if real.shape != (n,):
            raise ValueError(f"realism has shape {real.shape}, expected ({n},)")
        util_acc, util = scorer.utility(enc)
        gold_acc, gold = scorer.gold_utility(n)
        comp = {
            "quality": float(np.mean(grounded_quality(np.asarray(fidelity, dtype=np.float64), real, len(label_set)))),
            "fidelity": float(np.mean(fidelity)),
            "realism": float(np.mean(real)),
            "semantic": float(semantic_diversity(enc.vectors, names)),
            "lexical": float(lexical_diversity(enc.texts)),
            "novelty": float(np.mean(novelty)),
            "balance": float(label_balance(names, label_set)),
            "utility": float(util),
            "utility_accuracy": float(util_acc),
            "utility_gold": float(gold),
            "utility_gold_accuracy": float(gold_acc),
            "utility_relative": float(util / gold) if gold > 0 else 0.0,
        }
    else:
        comp = dict.fromkeys(SET_KEYS, 0.0)
    comp["completion"] = min(1.0, n / target_size)
    comp["diversity"] = comp["realism"] * diversity_mix(comp, weights)
    comp["score"] = blend(comp, weights)
    comp["dataset_size"] = float(n)
    return comp
