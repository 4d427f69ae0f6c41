"""Exact-value tests of tokenization, distinct-n and lexical diversity on tiny hand-made texts."""

from __future__ import annotations

import pytest

from streamsynth.rewards.lexical import distinct_n, lexical_diversity, tokenize

TOL = 1e-12


# --- tokenize ---------------------------------------------------------------------------------------------------


def test_tokenize_lowercases_and_splits_punctuation():
    assert tokenize("Great movie, GREAT cast!") == ["great", "movie", ",", "great", "cast", "!"]


def test_tokenize_contractions_digits_and_underscores():
    assert tokenize("Don't pay $20_000...") == ["don", "'", "t", "pay", "$", "20_000", ".", ".", "."]


def test_tokenize_unicode_words():
    assert tokenize("Café NAÏVE über") == ["café", "naïve", "über"]


def test_tokenize_empty_and_whitespace():
    assert tokenize("") == []
    assert tokenize(" \t\n ") == []


# --- distinct_n -------------------------------------------------------------------------------------------------


def test_distinct_1_and_2_hand_computed():
    texts = ["the cat sat", "the cat ran"]
    # unigrams: 6 total, {the, cat, sat, ran} unique; bigrams: 4 total, {the cat, cat sat, cat ran} unique.
    assert distinct_n(texts, 1) == pytest.approx(4 / 6, abs=TOL)
    assert distinct_n(texts, 2) == pytest.approx(3 / 4, abs=TOL)
    assert distinct_n(texts) == pytest.approx(3 / 4, abs=TOL)  # n = 2 by default


def test_distinct_3_hand_computed():
    texts = ["a b c d", "b c d e", "a b c"]
    # trigrams: abc, bcd | bcd, cde | abc -> 5 total, 3 unique.
    assert distinct_n(texts, 3) == pytest.approx(3 / 5, abs=TOL)


def test_distinct_n_all_unique_and_all_repeated():
    assert distinct_n(["one two three", "four five six"], 1) == 1.0
    assert distinct_n(["same same same"], 1) == pytest.approx(1 / 3, abs=TOL)
    assert distinct_n(["same same same"], 2) == pytest.approx(1 / 2, abs=TOL)
    assert distinct_n(["hello world"] * 4, 2) == pytest.approx(1 / 4, abs=TOL)


def test_distinct_n_never_crosses_text_boundaries():
    # "b c" would be a bigram only if the two texts were joined.
    assert distinct_n(["a b", "c d"], 2) == 1.0
    assert distinct_n(["a", "b"], 2) == 0.0


def test_distinct_n_punctuation_counts_as_tokens():
    assert distinct_n(["Yes!", "yes."], 1) == pytest.approx(3 / 4, abs=TOL)


def test_distinct_n_no_ngrams_is_zero():
    assert distinct_n([], 1) == 0.0
    assert distinct_n([""], 1) == 0.0
    assert distinct_n(["", "  "], 2) == 0.0
    assert distinct_n(["one two"], 3) == 0.0


def test_distinct_n_rejects_bad_arguments():
    with pytest.raises(ValueError):
        distinct_n(["a b"], 0)
    with pytest.raises(ValueError):
        distinct_n(["a b"], 1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="single string"):
        distinct_n("a b c", 1)


# --- lexical_diversity ------------------------------------------------------------------------------------------


def test_lexical_diversity_is_mean_of_distinct_1_and_2():
    texts = ["the cat sat", "the cat ran"]
    assert lexical_diversity(texts) == pytest.approx((4 / 6 + 3 / 4) / 2, abs=TOL)


def test_lexical_diversity_identical_texts():
    assert lexical_diversity(["same words"] * 2) == pytest.approx(0.5, abs=TOL)
    assert lexical_diversity(["x y z"] * 3) == pytest.approx((3 / 9 + 2 / 6) / 2, abs=TOL)


def test_lexical_diversity_degenerate_sets():
    assert lexical_diversity([]) == 0.0
    assert lexical_diversity([""]) == 0.0
    assert lexical_diversity(["a", "b"]) == pytest.approx(0.5, abs=TOL)  # no bigram: distinct-2 is 0
    assert lexical_diversity(["one two"]) == 1.0


def test_lexical_diversity_rejects_a_single_string():
    with pytest.raises(TypeError):
        lexical_diversity("not a list")
