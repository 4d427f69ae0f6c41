"""Exact-value tests of the reward weights, the blend, the diversity mix, the sample score and the set figures."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from streamsynth.rewards.blend import RewardWeights, above_chance, blend, diversity_mix, sample_score
from streamsynth.rewards.setscore import SET_KEYS, set_figures
from tests.helpers.tiny_task import tiny_scorer

TOL = 1e-12
TOP = ("quality", "realism", "diversity", "utility", "completion")
DIV = ("semantic", "lexical", "novelty", "balance")


# --- RewardWeights ------------------------------------------------------------------------------------------------


def test_default_weights_and_total():
    w = RewardWeights()
    assert w.to_dict() == {
        "quality": 0.3, "realism": 0.0, "diversity": 0.1, "utility": 0.4, "completion": 0.2,
        "semantic": 0.4, "lexical": 0.2, "novelty": 0.2, "balance": 0.2,
    }
    assert w.total == pytest.approx(1.0, abs=TOL)
    assert type(w.total) is float


def test_total_counts_only_top_level_weights():
    w = RewardWeights(quality=1, realism=0.25, diversity=2, utility=0, completion=0.5, semantic=7)
    assert w.total == pytest.approx(3.75, abs=TOL)


def test_int_and_zero_weights_are_accepted():
    w = RewardWeights(quality=1, diversity=0, utility=0, completion=0, semantic=0, lexical=0, novelty=0, balance=2)
    assert w.quality == 1 and w.balance == 2


def test_weights_are_frozen():
    with pytest.raises(AttributeError):
        RewardWeights().quality = 1.0  # type: ignore[misc]


@pytest.mark.parametrize("name", ["quality", "realism", "diversity", "utility", "completion", "semantic", "lexical",
                                  "novelty", "balance"])
@pytest.mark.parametrize("bad", [True, False, -0.1, -1, float("nan"), "0.5", None])
def test_each_weight_rejects_bool_negative_nan_and_non_numbers(name, bad):
    with pytest.raises(ValueError,
                       match=rf"reward weight '{name}' must be a finite number >= 0, got {re.escape(repr(bad))}"):
        RewardWeights(**{name: bad})


def test_all_zero_top_level_weights_error():
    msg = r"at least one of the weights \('quality', 'realism', 'diversity', 'utility', 'completion'\) must be > 0"
    with pytest.raises(ValueError, match=msg):
        RewardWeights(quality=0, realism=0, diversity=0, utility=0, completion=0)


def test_all_zero_diversity_weights_error():
    msg = r"at least one of the diversity weights \('semantic', 'lexical', 'novelty', 'balance'\) must be > 0"
    with pytest.raises(ValueError, match=msg):
        RewardWeights(semantic=0, lexical=0, novelty=0, balance=0)


def test_value_checks_come_before_the_sum_checks():
    # a negative weight is named even though the top-level sum is also <= 0
    with pytest.raises(ValueError, match="reward weight 'quality'"):
        RewardWeights(quality=-1, realism=0, diversity=0, utility=0, completion=0)


def test_infinite_weight_is_rejected():
    with pytest.raises(ValueError, match="reward weight 'quality'"):
        RewardWeights(quality=float("inf"))


# --- RewardWeights.from_mapping -----------------------------------------------------------------------------------


def test_from_mapping_none_gives_defaults():
    assert RewardWeights.from_mapping(None) == RewardWeights()


def test_from_mapping_returns_an_existing_instance_unchanged():
    w = RewardWeights(quality=0.5)
    assert RewardWeights.from_mapping(w) is w


def test_from_mapping_partial_overrides_and_converts_to_float():
    w = RewardWeights.from_mapping({"utility": 1, "novelty": "0.5"})
    assert w.utility == 1.0 and type(w.utility) is float
    assert w.novelty == 0.5
    assert w.quality == RewardWeights().quality and w.semantic == 0.4


def test_from_mapping_empty_mapping_gives_defaults():
    assert RewardWeights.from_mapping({}) == RewardWeights()


def test_from_mapping_unknown_names_error_lists_them_and_the_known_ones():
    with pytest.raises(ValueError) as exc:
        RewardWeights.from_mapping({"qualty": 1.0, "zzz": 2.0, "utility": 1.0})
    msg = str(exc.value)
    assert "unknown reward weight(s) ['qualty', 'zzz']" in msg
    assert ("known: ['balance', 'completion', 'diversity', 'lexical', 'novelty', 'quality', 'realism', 'semantic', "
            "'utility']") in msg


@pytest.mark.parametrize(("bad", "typename"), [([("quality", 1.0)], "list"), ("quality=1", "str"), (1.0, "float")])
def test_from_mapping_non_mapping_error(bad, typename):
    with pytest.raises(ValueError, match=rf"reward weights must be a mapping name -> weight, got {typename}"):
        RewardWeights.from_mapping(bad)


def test_from_mapping_negative_value_error_names_the_weight():
    with pytest.raises(ValueError, match="reward weight 'lexical' must be a finite number >= 0, got -1"):
        RewardWeights.from_mapping({"lexical": -1})


def test_from_mapping_all_zero_error():
    with pytest.raises(ValueError, match="at least one of the weights"):
        RewardWeights.from_mapping({"quality": 0, "realism": 0, "diversity": 0, "utility": 0, "completion": 0})


def test_from_mapping_rejects_bool_like_the_constructor():
    with pytest.raises(ValueError, match="reward weight 'quality'"):
        RewardWeights.from_mapping({"quality": True})


def test_from_mapping_unparsable_value_error_names_the_weight():
    with pytest.raises(ValueError, match="quality"):
        RewardWeights.from_mapping({"quality": "high"})


def test_from_mapping_none_value_error_names_the_weight():
    with pytest.raises(ValueError, match="quality"):
        RewardWeights.from_mapping({"quality": None})


# --- diversity_mix / blend / sample_score ---------------------------------------------------------------------------


def test_diversity_mix_default_weights_exact():
    # (0.4 * 1 + 0.2 * 0.5 + 0.2 * 0 + 0.2 * 1) / 1.0 = 0.7
    comp = {"semantic": 1.0, "lexical": 0.5, "novelty": 0.0, "balance": 1.0}
    assert diversity_mix(comp, RewardWeights()) == pytest.approx(0.7, abs=TOL)


def test_diversity_mix_is_a_weighted_mean_with_unnormalised_weights():
    w = RewardWeights(semantic=2, lexical=1, novelty=0, balance=1)
    # (2 * 0.9 + 1 * 0.3 + 0 * 0.123 + 1 * 0.6) / 4 = 2.7 / 4
    comp = {"semantic": 0.9, "lexical": 0.3, "novelty": 0.123, "balance": 0.6}
    assert diversity_mix(comp, w) == pytest.approx(0.675, abs=TOL)


def test_diversity_mix_constant_components_give_that_constant():
    comp = dict.fromkeys(DIV, 0.42)
    assert diversity_mix(comp, RewardWeights(semantic=3, lexical=0.1)) == pytest.approx(0.42, abs=TOL)


def test_diversity_mix_ignores_extra_keys_and_needs_its_own():
    comp = {"semantic": 1.0, "lexical": 1.0, "novelty": 1.0, "balance": 1.0, "quality": 99.0}
    assert diversity_mix(comp, RewardWeights()) == pytest.approx(1.0, abs=TOL)
    with pytest.raises(KeyError, match="balance"):
        diversity_mix({"semantic": 1.0, "lexical": 1.0, "novelty": 1.0}, RewardWeights())


def test_blend_default_weights_exact():
    w = RewardWeights()
    comp = {"quality": 1.0, "realism": 0.8, "diversity": 0.5, "utility": 0.5, "completion": 1.0}
    expected = w.quality * 1 + w.realism * 0.8 + w.diversity * 0.5 + w.utility * 0.5 + w.completion * 1
    assert blend(comp, w) == pytest.approx(expected, abs=TOL)


def test_blend_is_an_unnormalised_weighted_sum():
    w = RewardWeights(quality=2, realism=1, diversity=1, utility=0.5, completion=0)
    # 2 * 0.5 + 1 * 0.5 + 1 * 0.25 + 0.5 * 1 + 0 * 1 = 2.25 (can exceed 1 when the weights sum above 1)
    comp = {"quality": 0.5, "realism": 0.5, "diversity": 0.25, "utility": 1.0, "completion": 1.0}
    assert blend(comp, w) == pytest.approx(2.25, abs=TOL)


def test_blend_extremes_are_zero_and_total():
    w = RewardWeights(quality=0.7, realism=0.1, diversity=0.2, utility=0.05, completion=0.3)
    assert blend(dict.fromkeys(TOP, 0.0), w) == 0.0
    assert blend(dict.fromkeys(TOP, 1.0), w) == pytest.approx(w.total, abs=TOL)


def test_weight_zero_is_log_only():
    w = RewardWeights(utility=0.0)
    base = {"quality": 0.6, "realism": 0.5, "diversity": 0.4, "completion": 1.0}
    a = blend({**base, "utility": 0.0}, w)
    b = blend({**base, "utility": 1.0}, w)
    assert a == b == pytest.approx(w.quality * 0.6 + w.realism * 0.5 + w.diversity * 0.4 + w.completion, abs=TOL)
    wd = RewardWeights(novelty=0.0)
    d1 = diversity_mix({"semantic": 0.5, "lexical": 0.5, "novelty": 0.0, "balance": 0.5}, wd)
    d2 = diversity_mix({"semantic": 0.5, "lexical": 0.5, "novelty": 1.0, "balance": 0.5}, wd)
    assert d1 == d2 == pytest.approx(0.5, abs=TOL)


def test_blend_missing_component_raises_key_error():
    with pytest.raises(KeyError, match="completion"):
        blend({"quality": 1.0, "realism": 1.0, "diversity": 1.0, "utility": 1.0}, RewardWeights())


def test_above_chance_exact():
    assert above_chance(0.5, 2) == 0.0
    assert above_chance(0.75, 2) == pytest.approx(0.5, abs=TOL)
    assert above_chance(0.2, 4) == 0.0  # below chance: clipped
    assert above_chance(0.625, 4) == pytest.approx(0.5, abs=TOL)
    np.testing.assert_allclose(above_chance(np.array([0.0, 0.5, 1.0]), 2), [0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="n_labels must be an int >= 2"):
        above_chance(0.5, 1)


def test_sample_score_exact():
    w = RewardWeights(quality=0.4, realism=0.2, diversity=0.2)
    # fidelity 0.8 of 2 labels -> 0.6 above chance; realism 0.5: 0.5 * (0.4 * 0.6 + 0.2 + 0.2 * 0.4 * 0.6) / 0.8
    assert sample_score(0.8, 0.4, 0.5, 2, w) == pytest.approx(0.5 * 0.488 / 0.8, abs=TOL)
    assert sample_score(0.8, 0.4, 1.0, 2, RewardWeights(quality=1.0, realism=0.0, diversity=0.0)) == pytest.approx(0.6)
    assert sample_score(0.8, 0.4, 1.0, 2, RewardWeights(quality=0.0, realism=0.0, diversity=2.0)) == pytest.approx(0.24)
    assert sample_score(0.9, 0.9, 0.0, 2, RewardWeights()) == 0.0  # recognisably synthetic: nothing


def test_sample_score_falls_back_to_grounded_fidelity_when_its_weights_are_zero():
    w = RewardWeights(quality=0, realism=0, diversity=0, utility=1, completion=0)
    assert sample_score(0.75, 0.9, 0.5, 2, w) == pytest.approx(0.25)
    assert type(sample_score(np.float32(0.75), 0.9, 1.0, 2, w)) is float


def test_sample_score_zero_and_one():
    w = RewardWeights()
    # a real-looking sample the judge reads as the other label still earns its realism share
    assert sample_score(0.0, 0.0, 1.0, 2, w) == pytest.approx(w.realism / (w.quality + w.realism + w.diversity))
    # and no novelty credit however new its text: novelty counts with the label agreement
    assert sample_score(0.0, 1.0, 1.0, 2, w) == sample_score(0.0, 0.0, 1.0, 2, w)
    assert sample_score(0.75, 1.0, 1.0, 2, w) - sample_score(0.75, 0.0, 1.0, 2, w) == pytest.approx(
        0.5 * w.diversity / (w.quality + w.realism + w.diversity))
    assert sample_score(0.0, 0.0, 0.0, 2, w) == 0.0
    assert sample_score(1.0, 1.0, 1.0, 2, RewardWeights()) == pytest.approx(1.0, abs=TOL)


# --- set_figures ----------------------------------------------------------------------------------------------------

# Three synthetic samples with pairwise disjoint words: their hashing vectors are orthogonal (checked below).
SYNTH = [
    {"text": "goal goal match", "label": "sport"},
    {"text": "tennis racket serve", "label": "sport"},
    {"text": "pasta garlic sauce", "label": "food"},
]
# distinct-1: 8 unique / 9 tokens; distinct-2: 6 unique / 6 bigrams -> lexical = (8/9 + 1) / 2
LEXICAL = (8 / 9 + 1) / 2
# labels (sport, sport, food): entropy of (2/3, 1/3) / log 2
BALANCE = -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3)) / math.log(2)


@pytest.fixture(scope="module")
def scorer():
    return tiny_scorer()


@pytest.fixture(scope="module")
def synth(scorer):
    enc = scorer.encode(SYNTH)
    gram = enc.vectors @ enc.vectors.T
    np.testing.assert_allclose(gram, np.eye(3), atol=1e-6)  # precondition: no hash collision
    return enc


def test_set_figures_empty_set_is_all_zeros(scorer):
    fig = set_figures(scorer, scorer.encode([]), [], [], 4, RewardWeights())
    for key in SET_KEYS:
        assert fig[key] == 0.0, key
    assert fig["completion"] == 0.0
    assert fig["diversity"] == 0.0
    assert fig["score"] == 0.0
    assert fig["dataset_size"] == 0.0
    assert set(fig) == set(SET_KEYS) | {"completion", "diversity", "score", "dataset_size"}


def test_set_figures_exact_components(scorer, synth):
    w = RewardWeights()
    realism = [1.0, 0.5, 0.2]
    fig = set_figures(scorer, synth, [0.2, 0.4, 0.9], [1.0, 0.5, 0.0], 4, w, realism)
    # 2 labels: above chance = (0, 0, 0.8); times realism (1, 0.5, 0.2) -> (0, 0, 0.16)
    assert fig["quality"] == pytest.approx(0.16 / 3, abs=TOL)
    assert fig["fidelity"] == pytest.approx(0.5, abs=TOL)
    assert fig["realism"] == pytest.approx(1.7 / 3, abs=TOL)
    assert fig["novelty"] == pytest.approx(0.5, abs=TOL)
    # sport: two orthogonal vectors -> normalised Vendi 1; food: one sample -> 0; mean 0.5
    assert fig["semantic"] == pytest.approx(0.5, abs=1e-6)
    assert fig["lexical"] == pytest.approx(LEXICAL, abs=TOL)
    assert fig["balance"] == pytest.approx(BALANCE, abs=TOL)
    assert fig["completion"] == pytest.approx(0.75, abs=TOL)
    assert fig["dataset_size"] == 3.0
    util_acc, util = scorer.utility(synth)
    gold_acc, gold = scorer.gold_utility(3)
    assert (fig["utility"], fig["utility_accuracy"]) == (util, util_acc)
    assert (fig["utility_gold"], fig["utility_gold_accuracy"]) == (gold, gold_acc)
    mix = 0.4 * 0.5 + 0.2 * LEXICAL + 0.2 * 0.5 + 0.2 * BALANCE
    assert fig["diversity"] == pytest.approx(1.7 / 3 * mix, abs=1e-6)  # grounded: realism x the mix
    score = (w.quality * 0.16 / 3 + w.realism * 1.7 / 3 + w.diversity * 1.7 / 3 * mix + w.utility * util
             + w.completion * 0.75)
    assert fig["score"] == pytest.approx(score, abs=1e-6)
    assert all(type(v) is float for v in fig.values())


def test_set_figures_unreal_set_earns_no_quality_or_diversity(scorer, synth):
    fig = set_figures(scorer, synth, [1.0, 1.0, 1.0], [1.0, 1.0, 1.0], 3, RewardWeights(), [0.0, 0.0, 0.0])
    assert fig["quality"] == fig["realism"] == fig["diversity"] == 0.0
    assert fig["fidelity"] == 1.0 and fig["novelty"] == 1.0


def test_set_figures_computes_realism_with_the_scorer_when_not_given(scorer, synth):
    expected = scorer.realism(synth)
    fig = set_figures(scorer, synth, [1.0, 1.0, 1.0], [0.0, 0.0, 0.0], 3, RewardWeights())
    assert fig["realism"] == pytest.approx(float(np.mean(expected)), abs=TOL)
    with pytest.raises(ValueError, match=r"realism has shape \(2,\), expected \(3,\)"):
        set_figures(scorer, synth, [1.0] * 3, [0.0] * 3, 3, RewardWeights(), [1.0, 1.0])


def test_set_figures_completion_is_capped_at_one(scorer, synth):
    assert set_figures(scorer, synth, [1, 1, 1], [0, 0, 0], 3, RewardWeights())["completion"] == 1.0
    assert set_figures(scorer, synth, [1, 1, 1], [0, 0, 0], 2, RewardWeights())["completion"] == 1.0
    assert set_figures(scorer, synth, [1, 1, 1], [0, 0, 0], 1, RewardWeights())["completion"] == 1.0
    assert (set_figures(scorer, synth, [1, 1, 1], [0, 0, 0], 12, RewardWeights())["completion"]
            == pytest.approx(0.25, abs=TOL))


def test_set_figures_utility_relative_is_utility_over_gold(scorer, synth, monkeypatch):
    monkeypatch.setattr(scorer, "utility", lambda enc: (0.6, 0.45))
    monkeypatch.setattr(scorer, "gold_utility", lambda n: (0.8, 0.6))
    fig = set_figures(scorer, synth, [1.0, 1.0, 1.0], [0.0, 0.0, 0.0], 3, RewardWeights())
    assert fig["utility"] == 0.45 and fig["utility_accuracy"] == 0.6
    assert fig["utility_gold"] == 0.6 and fig["utility_gold_accuracy"] == 0.8
    assert fig["utility_relative"] == pytest.approx(0.75, abs=TOL)


def test_set_figures_utility_relative_is_zero_when_gold_is_zero(scorer, synth, monkeypatch):
    monkeypatch.setattr(scorer, "utility", lambda enc: (0.5, 0.4))
    monkeypatch.setattr(scorer, "gold_utility", lambda n: (0.0, 0.0))
    fig = set_figures(scorer, synth, [1.0, 1.0, 1.0], [0.0, 0.0, 0.0], 3, RewardWeights())
    assert fig["utility_relative"] == 0.0


def test_set_figures_gold_is_asked_at_the_dataset_size(scorer, synth, monkeypatch):
    asked = []
    monkeypatch.setattr(scorer, "gold_utility", lambda n: asked.append(n) or (1.0, 1.0))
    set_figures(scorer, synth, [1.0, 1.0, 1.0], [0.0, 0.0, 0.0], 10, RewardWeights())
    assert asked == [3]


def test_set_figures_weight_zero_component_is_logged_but_not_scored(scorer, synth, monkeypatch):
    w = RewardWeights(utility=0.0)
    monkeypatch.setattr(scorer, "gold_utility", lambda n: (1.0, 1.0))
    monkeypatch.setattr(scorer, "utility", lambda enc: (0.1, 0.1))
    low = set_figures(scorer, synth, [0.5] * 3, [0.5] * 3, 4, w)
    monkeypatch.setattr(scorer, "utility", lambda enc: (0.9, 0.9))
    high = set_figures(scorer, synth, [0.5] * 3, [0.5] * 3, 4, w)
    assert (low["utility"], high["utility"]) == (0.1, 0.9)
    assert low["score"] == high["score"]


def test_set_figures_one_sample(scorer):
    enc = scorer.encode(SYNTH[2:])
    fig = set_figures(scorer, enc, [0.7], [1.0], 2, RewardWeights(), [1.0])
    assert fig["quality"] == pytest.approx(0.4, abs=TOL)  # (0.7 - 0.5) / 0.5
    assert fig["semantic"] == 0.0  # one sample: no diversity
    assert fig["balance"] == 0.0  # one label of two present
    assert fig["lexical"] == pytest.approx(1.0, abs=TOL)  # 3/3 unigrams, 2/2 bigrams
    assert fig["completion"] == pytest.approx(0.5, abs=TOL)
    assert fig["dataset_size"] == 1.0
