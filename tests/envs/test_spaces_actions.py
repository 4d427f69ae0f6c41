"""Tests of the text / dataset spaces and of action parsing."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from streamsynth.envs.actions import parse_action
from streamsynth.envs.spaces import DatasetSpace, UnicodeText
from streamsynth.errors import InvalidActionError
from streamsynth.rewards.reasons import Reason, Rejection

# --- UnicodeText ----------------------------------------------------------------------------------------------------


def _bad(message: str) -> Rejection:
    """A parse error: code ``invalid_json`` and its message."""
    return Rejection(Reason.INVALID_JSON, message)


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        ("", True),
        ("Très bien, merci !", True),
        ("漢字😊", True),  # 3 characters
        ("x" * 20, True),
        ("x" * 21, False),
        (b"bytes", False),
        (None, False),
        (5, False),
        (["a"], False),
        (np.str_("numpy str"), True),  # a str subclass
    ],
)
def test_unicode_text_contains(x, expected):
    assert UnicodeText(max_length=20).contains(x) is expected


def test_unicode_text_length_counts_characters_not_bytes():
    space = UnicodeText(max_length=3, min_length=3)
    assert space.contains("😊😊😊")  # 12 UTF-8 bytes
    assert not space.contains("😊😊")
    assert not space.contains("😊😊😊😊")


def test_unicode_text_min_length():
    space = UnicodeText(max_length=10, min_length=2)
    assert not space.contains("a")
    assert space.contains("ab")
    assert "ab" in space  # gymnasium's __contains__ goes through contains


@pytest.mark.parametrize(("max_length", "min_length"), [(5, 6), (-1, 0), (5, -1), (5.0, 0), ("5", 0), (5, None)])
def test_unicode_text_bad_bounds(max_length, min_length):
    with pytest.raises(ValueError, match="need 0 <= min_length <= max_length"):
        UnicodeText(max_length, min_length=min_length)


def test_unicode_text_zero_length_space():
    space = UnicodeText(0, seed=0)
    assert space.sample() == ""
    assert space.contains("") and not space.contains("a")


def test_unicode_text_sample_is_seeded_and_deterministic():
    a = [UnicodeText(100, seed=3).sample() for _ in range(2)]
    assert a[0] == a[1]
    s1, s2 = UnicodeText(100, seed=3), UnicodeText(100, seed=3)
    assert [s1.sample() for _ in range(5)] == [s2.sample() for _ in range(5)]
    s3 = UnicodeText(100)
    s3.seed(3)
    assert s3.sample() == UnicodeText(100, seed=3).sample()
    assert UnicodeText(100, seed=4).sample() != UnicodeText(100, seed=3).sample()


def test_unicode_text_samples_are_members_and_include_non_ascii():
    space = UnicodeText(200, min_length=1, seed=0)
    samples = [space.sample() for _ in range(50)]
    assert all(space.contains(s) for s in samples)
    assert all(1 <= len(s) <= 64 for s in samples)  # sampled lengths are capped at 64
    joined = "".join(samples)
    assert any(ord(c) > 127 for c in joined)
    assert " " in joined


def test_unicode_text_sample_respects_min_length_above_64():
    space = UnicodeText(200, min_length=100, seed=0)
    assert all(len(space.sample()) == 100 for _ in range(3))  # hi = max(min_length, 64) = 100


def test_unicode_text_sample_rejects_masks():
    with pytest.raises(ValueError, match="does not support masks"):
        UnicodeText(5, seed=0).sample(mask=np.ones(5))
    with pytest.raises(ValueError, match="does not support masks"):
        UnicodeText(5, seed=0).sample(probability=np.ones(5))


def test_unicode_text_repr_eq_and_flattenable():
    assert repr(UnicodeText(10, min_length=2)) == "UnicodeText(2, 10)"
    assert UnicodeText(10, min_length=2) == UnicodeText(10, min_length=2, seed=1)
    assert UnicodeText(10) != UnicodeText(11)
    assert UnicodeText(10) != "UnicodeText(0, 10)"
    assert UnicodeText(10).is_np_flattenable is False


# --- DatasetSpace ---------------------------------------------------------------------------------------------------


@pytest.fixture
def dspace() -> DatasetSpace:
    return DatasetSpace(max_samples=3, max_chars=10, fields=("text",), labels=("yes", "no"), seed=0)


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        ([], True),  # an empty dataset has the right shape
        ((), True),
        ([{"text": "ok", "label": "yes"}], True),
        (({"text": "ok", "label": "yes"},), True),
        ([{"text": "ok", "label": "anything", "extra": "x"}], True),  # labels and fields are the env's job
        ([{"text": "x" * 10, "label": "yes"}], True),  # exactly max_chars
        ([{"text": "x" * 11, "label": "yes"}], False),
        ([{"text": "ok", "label": "x" * 11}], True),  # labels are names, not text: max_chars does not apply
        ([{"text": "ok", "label": "yes"}] * 3, True),
        ([{"text": "ok", "label": "yes"}] * 4, False),  # more than max_samples
        ([{"text": "ok"}], False),  # no label
        ([{"label": "yes"}], False),  # label only
        ([{"text": 3, "label": "yes"}], False),
        ([{"text": "ok", "label": None}], False),
        ([{1: "ok", "label": "yes"}], False),
        (["not a mapping"], False),
        ([None], False),
        ({"text": "ok", "label": "yes"}, False),  # a single sample, not a list
        ("[{}]", False),
        (None, False),
        (np.array([{"text": "ok", "label": "yes"}], dtype=object), False),  # arrays are not lists
        ([{"text": "ok", "label": "yes", "draft": True}], True),  # drafts (issue 12) are actions of the space
        ([{"text": "ok", "label": "yes", "draft": False}], True),
        ([{"text": "ok", "label": "yes", "draft": "yes"}], False),  # the env rejects it as invalid_draft
        ([{"text": "ok", "label": "yes", "draft": 1}], False),
        ([{"label": "yes", "draft": True}], False),  # a draft still needs a text field
        ([{"text": "x" * 11, "label": "yes", "draft": True}], False),
    ],
)
def test_dataset_space_contains(dspace, x, expected):
    assert dspace.contains(x) is expected


def test_dataset_space_contains_one_bad_sample_spoils_the_set(dspace):
    good = {"text": "ok", "label": "yes"}
    assert not dspace.contains([good, {"text": "ok"}])


@pytest.mark.parametrize(("max_samples", "max_chars"), [(0, 10), (3, 0), (-1, 5), (2.0, 5), (2, "5"), (None, 5)])
def test_dataset_space_bad_sizes(max_samples, max_chars):
    with pytest.raises(ValueError, match="max_samples and max_chars must be positive ints"):
        DatasetSpace(max_samples, max_chars)


@pytest.mark.parametrize(("fields", "labels"), [((), ("a",)), (("text",), ()), ([], [])])
def test_dataset_space_needs_a_field_and_a_label(fields, labels):
    with pytest.raises(ValueError, match="needs at least one field and one label"):
        DatasetSpace(2, 10, fields=fields, labels=labels)
    space = DatasetSpace(2, 10)
    with pytest.raises(ValueError, match="needs at least one field and one label"):
        space.set_format(fields, labels)
    assert (space.fields, space.labels) == (("text",), ("label",))  # a failed set_format changes nothing


def test_dataset_space_sample_is_seeded_and_deterministic():
    def draws(seed):
        space = DatasetSpace(5, 40, fields=("premise", "hypothesis"), labels=("yes", "no"), seed=seed)
        return [space.sample() for _ in range(4)]

    assert draws(11) == draws(11)
    assert draws(11) != draws(12)


def test_dataset_space_samples_follow_the_format_and_are_members():
    space = DatasetSpace(5, 12, fields=("premise", "hypothesis"), labels=("yes", "no"), seed=0)
    for _ in range(20):
        data = space.sample()
        assert space.contains(data)
        assert 1 <= len(data) <= 5
        for s in data:
            assert list(s) == ["premise", "hypothesis", "label"]
            assert s["label"] in ("yes", "no")
            assert all(1 <= len(s[f]) <= 12 for f in ("premise", "hypothesis"))


def test_dataset_space_sample_size_is_capped_at_eight():
    space = DatasetSpace(100, 5, seed=0)
    assert max(len(space.sample()) for _ in range(40)) <= 8


def test_dataset_space_set_format_changes_samples():
    space = DatasetSpace(4, 30, seed=0)
    assert all(set(s) == {"text", "label"} and s["label"] == "label" for s in space.sample())
    space.set_format(["question"], ["who", "where"])
    assert (space.fields, space.labels) == (("question",), ("who", "where"))
    data = space.sample()
    assert all(set(s) == {"question", "label"} and s["label"] in ("who", "where") for s in data)


def test_dataset_space_one_label_one_char():
    space = DatasetSpace(1, 1, labels=("y",), seed=0)
    data = space.sample()
    assert len(data) == 1 and len(data[0]["text"]) == 1 and data[0]["label"] == "y"
    assert space.contains(data)


def test_dataset_space_sample_is_a_member_even_with_a_long_label():
    space = DatasetSpace(2, 3, labels=("positive",), seed=0)
    assert space.contains(space.sample())


def test_dataset_space_sample_rejects_masks(dspace):
    with pytest.raises(ValueError, match="does not support masks"):
        dspace.sample(mask=1)


def test_dataset_space_repr_eq_and_flattenable(dspace):
    assert repr(dspace) == "DatasetSpace(max_samples=3, max_chars=10)"
    assert dspace == DatasetSpace(3, 10, fields=("q",), labels=("z",))
    assert dspace != DatasetSpace(3, 11)
    assert dspace != [1]
    assert dspace.is_np_flattenable is False


# --- parse_action ---------------------------------------------------------------------------------------------------

A = {"text": "hi", "label": "a"}
B = {"text": "there", "label": "b"}


def test_parse_list_keeps_items_as_they_are():
    assert parse_action([A, "junk", 3, None]) == [(A, None), ("junk", None), (3, None), (None, None)]


def test_parse_tuple_and_empty():
    assert parse_action((A, B)) == [(A, None), (B, None)]
    assert parse_action([]) == []
    assert parse_action(()) == []


def test_parse_one_dimensional_object_array():
    arr = np.empty(2, dtype=object)
    arr[0], arr[1] = A, B
    assert parse_action(arr) == [(A, None), (B, None)]
    assert parse_action(np.array([], dtype=object)) == []


@pytest.mark.parametrize("shape", [(2, 2), (1, 1), ()])
def test_parse_non_1d_array_error_names_the_shape(shape):
    arr = np.empty(shape, dtype=object)
    msg = rf"an action array must be 1-D \(one sample per entry\), got shape {re.escape(str(shape))}"
    with pytest.raises(InvalidActionError, match=msg):
        parse_action(arr)


def test_parse_single_dict_error():
    with pytest.raises(InvalidActionError, match="got a single dict; wrap it in a list"):
        parse_action(A)


def test_parse_other_mapping_error():
    from types import MappingProxyType

    with pytest.raises(InvalidActionError, match="got a single dict"):
        parse_action(MappingProxyType(A))


@pytest.mark.parametrize(("action", "typename"), [(3, "int"), (None, "NoneType"), ({1, 2}, "set"), (1.5, "float")])
def test_parse_wrong_type_error_names_the_type(action, typename):
    with pytest.raises(InvalidActionError, match=rf"a list of samples .* or JSONL text, got {typename}$"):
        parse_action(action)


def test_invalid_action_error_is_a_value_error():
    with pytest.raises(ValueError):
        parse_action(3)


def test_parse_jsonl_string():
    text = json.dumps(A) + "\n" + json.dumps(B) + "\n"
    assert parse_action(text) == [(A, None), (B, None)]


def test_parse_jsonl_blank_lines_are_skipped_but_counted():
    text = "\n   \n" + json.dumps(A) + "\n\t\n{broken\n\n" + json.dumps(B)
    assert parse_action(text) == [
        (A, None),
        ("{broken", _bad("line 5: invalid JSON (Expecting property name enclosed in double quotes)")),
        (B, None),
    ]


def test_parse_jsonl_broken_lines_become_per_item_errors():
    out = parse_action('{"text": "hi", "label": "a"}\nnot json\n{"text": "unterminated\n')
    assert out == [
        (A, None),
        ("not json", _bad("line 2: invalid JSON (Expecting value)")),
        ('{"text": "unterminated', _bad("line 3: invalid JSON (Unterminated string starting at)")),
    ]


def test_parse_jsonl_non_object_lines_parse_without_error():
    # an item that is not an object is rejected later, by the validity check
    assert parse_action('[1, 2]\n"str"\n7') == [([1, 2], None), ("str", None), (7, None)]


def test_parse_jsonl_crlf_line_endings():
    text = json.dumps(A) + "\r\n" + json.dumps(B) + "\r\n"
    assert parse_action(text) == [(A, None), (B, None)]


def test_parse_jsonl_too_deeply_nested_line():
    deep = "[" * 100_000
    out = parse_action(json.dumps(A) + "\n" + deep)
    assert out[0] == (A, None)
    assert out[1] == (deep, _bad("line 2: invalid JSON (too deeply nested)"))


def test_parse_empty_and_blank_strings():
    assert parse_action("") == []
    assert parse_action("\n \n\t") == []


def test_parse_utf8_bytes():
    sample = {"text": "Très bien 😊", "label": "a"}
    raw = (json.dumps(sample, ensure_ascii=False) + "\n\n" + "oops").encode("utf-8")
    assert parse_action(raw) == [(sample, None), ("oops", _bad("line 3: invalid JSON (Expecting value)"))]
    assert parse_action(b"") == []


def test_parse_non_utf8_bytes_error():
    raw = "{\"text\": \"caf\u00e9\", \"label\": \"a\"}".encode("latin-1")
    with pytest.raises(InvalidActionError, match=r"JSONL action bytes are not UTF-8 \(.*\); send str or UTF-8 bytes"):
        parse_action(raw)


def test_parse_bytearray_is_a_wrong_type():
    with pytest.raises(InvalidActionError, match="got bytearray"):
        parse_action(bytearray(b"[]"))


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\u0085"])
def test_parse_jsonl_unicode_line_separator_inside_a_string(sep):
    sample = {"text": f"first{sep}second", "label": "a"}
    assert parse_action(json.dumps(sample, ensure_ascii=False)) == [(sample, None)]
