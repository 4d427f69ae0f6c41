"""Exact-value tests of the per-sample validity checks: normalize_text, sample_key, check_sample."""

from __future__ import annotations

import pytest

from streamsynth.rewards.reasons import MESSAGES, Reason, Rejection, reject
from streamsynth.rewards.validity import check_sample, normalize_text, sample_key

LABELS = ["positive", "negative"]


# --- normalize_text ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  Great   FILM!! ", "great film"),
        ("", ""),
        ("   \t\n ", ""),
        ("!!!...", ""),
        ("Don't stop", "don t stop"),  # punctuation becomes a space, then spaces collapse
        ("a\tb\nc", "a b c"),
        ("snake_case", "snake_case"),  # underscore is a word character: kept
        ("ＧＯＯＤ　ｆｉｌｍ", "good film"),  # NFKC folds full-width letters and the ideographic space
        ("ﬁne", "fine"),  # NFKC expands the ligature
        ("Très BIEN", "très bien"),  # accents are kept
        ("x2 = 3", "x2 3"),
    ],
)
def test_normalize_text_exact(text, expected):
    assert normalize_text(text) == expected


def test_normalize_text_is_idempotent():
    once = normalize_text("  Hello,  World!  ")
    assert once == "hello world"
    assert normalize_text(once) == once


# --- sample_key -------------------------------------------------------------------------------------------------


def test_sample_key_one_field_ignores_label():
    a = sample_key({"text": "Good!", "label": "positive"}, ["text"])
    b = sample_key({"text": "  good ", "label": "negative"}, ["text"])
    assert a == b == "good"


def test_sample_key_two_fields_in_given_order():
    s = {"premise": "A Dog.", "hypothesis": "An animal!", "label": "entailment"}
    assert sample_key(s, ["premise", "hypothesis"]) == "a dog || an animal"
    assert sample_key(s, ["hypothesis", "premise"]) == "an animal || a dog"


def test_sample_key_empty_field_list_is_empty_string():
    assert sample_key({"text": "x"}, []) == ""


# --- check_sample: valid samples ---------------------------------------------------------------------------------


def test_check_sample_valid_returns_none():
    assert check_sample({"text": "A fine film.", "label": "positive"}, ["text"], LABELS, 5, 100) is None


def test_check_sample_extra_keys_are_allowed():
    s = {"text": "A fine film.", "label": "positive", "note": 3}
    assert check_sample(s, ["text"], LABELS, 5, 100) is None


def test_check_sample_length_bounds_are_inclusive_after_strip():
    # "abcde" is 5 characters once stripped: exactly min and exactly max both pass
    assert check_sample({"text": "  abcde  ", "label": "positive"}, ["text"], LABELS, 5, 5) is None


def test_check_sample_two_fields_valid():
    s = {"premise": "a dog runs", "hypothesis": "an animal moves", "label": "yes"}
    assert check_sample(s, ["premise", "hypothesis"], ["yes", "no"], 3, 50) is None


# --- check_sample: every reason ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sample", "code", "message"),
    [
        ("just a string", "not_an_object", "not an object with fields ['text', 'label'] (got str)"),
        (["text", "label"], "not_an_object", "not an object with fields ['text', 'label'] (got list)"),
        (None, "not_an_object", "not an object with fields ['text', 'label'] (got NoneType)"),
        ({"label": "positive"}, "missing_field", "missing field 'text'"),
        ({"text": 12345, "label": "positive"}, "not_a_string", "field 'text' is not a string (got int)"),
        ({"text": None, "label": "positive"}, "not_a_string", "field 'text' is not a string (got NoneType)"),
        ({"text": "", "label": "positive"}, "empty_field", "field 'text' is empty"),
        ({"text": " \n\t ", "label": "positive"}, "empty_field", "field 'text' is empty"),
        ({"text": "A fine film."}, "missing_field", "missing field 'label'"),
        ({"text": "A fine film.", "label": None}, "missing_field", "missing field 'label'"),
        ({"text": "A fine film.", "label": "great"}, "unknown_label",
         "unknown label 'great' (expected one of: positive, negative)"),
        ({"text": "A fine film.", "label": "Positive"}, "unknown_label",
         "unknown label 'Positive' (expected one of: positive, negative)"),
        ({"text": "A fine film.", "label": ""}, "unknown_label",
         "unknown label '' (expected one of: positive, negative)"),
        ({"text": "A fine film.", "label": 1}, "not_a_string",
         "field 'label' is not a string (got int; expected one of: positive, negative)"),
        ({"text": "abcd", "label": "positive"}, "too_short", "field 'text' too short (4 < 5 characters)"),
        ({"text": "   abcd   ", "label": "positive"}, "too_short", "field 'text' too short (4 < 5 characters)"),
        ({"text": "x" * 11, "label": "positive"}, "too_long", "field 'text' too long (11 > 10 characters)"),
    ],
)
def test_check_sample_reasons(sample, code, message):
    assert check_sample(sample, ["text"], LABELS, 5, 10) == Rejection(Reason(code), message)


def test_every_reason_code_has_a_message_template_and_a_distinct_value():
    assert set(MESSAGES) == set(Reason)
    assert len({r.value for r in Reason}) == len(Reason)
    assert {r for r in Reason if not r.judged} == {Reason.LABEL_FULL, Reason.OVER_STEP_LIMIT,
                                                   Reason.DUPLICATE_IN_STEP, Reason.NEAR_DUPLICATE_IN_STEP,
                                                   Reason.OVER_FEEDBACK_BUDGET}


def test_reject_formats_the_template_and_codes_print_as_their_value():
    r = reject("seed_edited_copy", overlap=0.6666)
    assert r == Rejection(Reason.SEED_EDITED_COPY, "near-copy of a seed example shown to the agent "
                                                   "(word 3-gram overlap 0.67)")
    assert str(Reason.LABEL_FULL) == "label_full" and Reason.LABEL_FULL == "label_full"
    with pytest.raises(ValueError):
        reject("no_such_code")


# --- check_sample: order of precedence ---------------------------------------------------------------------------


def test_precedence_not_a_mapping_first():
    assert check_sample(42, ["text"], LABELS, 5, 10).code is Reason.NOT_AN_OBJECT


def test_precedence_field_problems_before_label_problems():
    # missing field and unknown label: the field wins
    assert check_sample({"label": "great"}, ["text"], LABELS, 5, 10).message == "missing field 'text'"
    # non-string field and missing label: the field wins
    assert check_sample({"text": 1}, ["text"], LABELS, 5, 10).message == "field 'text' is not a string (got int)"
    # empty field and unknown label: the field wins
    assert check_sample({"text": " ", "label": "great"}, ["text"], LABELS, 5, 10).message == "field 'text' is empty"


def test_precedence_label_before_length():
    # too short and unknown label: the label wins
    s = {"text": "ab", "label": "great"}
    assert (check_sample(s, ["text"], LABELS, 5, 10).message
            == "unknown label 'great' (expected one of: positive, negative)")
    # too long and missing label: the label wins
    assert check_sample({"text": "x" * 50}, ["text"], LABELS, 5, 10).message == "missing field 'label'"


def test_precedence_fields_checked_in_order():
    fields = ["premise", "hypothesis"]
    # both fields missing: the first one is named
    assert check_sample({"label": "yes"}, fields, ["yes", "no"], 3, 10).message == "missing field 'premise'"
    # first field fine, second missing
    assert (check_sample({"premise": "abc", "label": "yes"}, fields, ["yes", "no"], 3, 10).message
            == "missing field 'hypothesis'")
    # first field empty beats second field missing
    assert (check_sample({"premise": " ", "label": "yes"}, fields, ["yes", "no"], 3, 10).message
            == "field 'premise' is empty")


def test_precedence_all_presence_checks_before_any_length_check():
    # premise is too short, but hypothesis is missing: presence is checked for every field first
    s = {"premise": "a", "label": "yes"}
    assert check_sample(s, ["premise", "hypothesis"], ["yes", "no"], 3, 10).message == "missing field 'hypothesis'"


def test_precedence_length_checks_in_field_order():
    # premise too long, hypothesis too short: the first field's problem is reported
    s = {"premise": "x" * 20, "hypothesis": "a", "label": "yes"}
    assert (check_sample(s, ["premise", "hypothesis"], ["yes", "no"], 3, 10).message
            == "field 'premise' too long (20 > 10 characters)")
    s = {"premise": "abcd", "hypothesis": "a", "label": "yes"}
    assert (check_sample(s, ["premise", "hypothesis"], ["yes", "no"], 3, 10).message
            == "field 'hypothesis' too short (1 < 3 characters)")


def test_reason_names_every_required_field_for_non_mapping():
    assert check_sample("x", ["premise", "hypothesis"], ["yes"], 1, 10).message == (
        "not an object with fields ['premise', 'hypothesis', 'label'] (got str)"
    )


# --- near-copies by n-gram overlap ---------------------------------------------------------------------------------
from streamsynth.rewards.validity import max_ngram_overlap, ngram_overlap, word_shingles  # noqa: E402

SEED = "The film is a quiet delight from start to finish"


def test_word_shingles_exact():
    assert word_shingles("A b, C d!", n=3) == frozenset({("a", "b", "c"), ("b", "c", "d")})
    assert word_shingles("one two", n=3) == frozenset({("one", "two")})
    assert word_shingles("  ...  ", n=3) == frozenset()


@pytest.mark.parametrize(("edited", "expected"), [
    ("Honestly, the film is a quiet delight from start to finish. Really.", 1.0),   # prefix + suffix
    ("The film is a quiet delight", 1.0),                                           # a part cut away
    ("The film is a loud delight from start to finish", 5 / 8),                     # one word changed: 3 of 8 gone
    ("A dull and tired mess with nothing to say", 0.0),
])
def test_ngram_overlap_of_edits(edited, expected):
    assert ngram_overlap(word_shingles(SEED), word_shingles(edited)) == pytest.approx(expected)


def test_ngram_overlap_empty_is_zero_and_symmetric():
    a, b = word_shingles(SEED), word_shingles("the film is a quiet delight")
    assert ngram_overlap(a, frozenset()) == 0.0
    assert ngram_overlap(a, b) == ngram_overlap(b, a) == 1.0


def test_max_ngram_overlap_takes_the_closest_reference():
    refs = [word_shingles("Who wrote Dracula?"), word_shingles(SEED)]
    assert max_ngram_overlap("Well, " + SEED, refs) == 1.0
    assert max_ngram_overlap("Something else entirely here", refs) == 0.0
    assert max_ngram_overlap(SEED, []) == 0.0
