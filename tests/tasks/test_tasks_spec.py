"""Tests of the Task dataclass (every validation branch), InMemorySource and Task.check_samples."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from streamsynth.errors import TaskError
from streamsynth.tasks.spec import LABEL_KEY, DataSource, InMemorySource, Task

SRC = InMemorySource(({"text": "a fine film", "label": "pos"},), name="one row")
LABELS = {"pos": "liked it", "neg": "did not like it"}


def make(**overrides) -> Task:
    kwargs = dict(name="movies", instruction="Write a review.", labels=LABELS, source=SRC)
    kwargs.update(overrides)
    return Task(**kwargs)


# --- a valid task ---------------------------------------------------------------------------------------------------


def test_defaults_and_label_names():
    t = make()
    assert t.fields == ("text",)
    assert t.attributes == {}
    assert (t.min_chars, t.max_chars, t.domain) == (10, 600, "custom")
    assert t.label_names == ("pos", "neg")
    assert LABEL_KEY == "label"


def test_inputs_are_normalised_to_plain_types():
    from types import MappingProxyType

    t = make(labels=MappingProxyType(LABELS), fields=["premise", "hypothesis"],
             attributes={"tone": ["calm", "angry"], "length": "short", 3: ("x",)})
    assert type(t.labels) is dict and t.labels == LABELS
    assert t.fields == ("premise", "hypothesis")
    assert t.attributes == {"tone": ("calm", "angry"), "length": ("short",), "3": ("x",)}


def test_label_order_is_kept():
    t = make(labels={"z": "last letter", "a": "first letter", "m": "middle"})
    assert t.label_names == ("z", "a", "m")


def test_labels_are_copied():
    labels = dict(LABELS)
    t = make(labels=labels)
    labels["extra"] = "added later"
    assert t.label_names == ("pos", "neg")


def test_task_is_frozen_and_picklable():
    t = make()
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.name = "other"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(t)) == t


def test_empty_description_is_allowed():
    assert make(labels={"pos": "", "neg": ""}).label_names == ("pos", "neg")


def test_min_max_chars_boundary():
    t = make(min_chars=1, max_chars=2)
    assert (t.min_chars, t.max_chars) == (1, 2)


# --- every validation branch ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "   ", None, 3])
def test_bad_name(name):
    with pytest.raises(TaskError, match="a task needs a non-empty string 'name'"):
        make(name=name)


@pytest.mark.parametrize("instruction", ["", " \n", None, ["write"]])
def test_bad_instruction(instruction):
    with pytest.raises(TaskError, match=r"task 'movies': 'instruction' must be a non-empty string"):
        make(instruction=instruction)


@pytest.mark.parametrize(("labels", "shown"), [({}, "{}"), ({"pos": "x"}, "{'pos': 'x'}"), (None, "None")])
def test_fewer_than_two_labels(labels, shown):
    with pytest.raises(TaskError) as exc:
        make(labels=labels)
    assert str(exc.value) == f"task 'movies': needs at least two labels (label -> description), got {shown}"


def test_labels_as_a_list_of_names_gives_a_task_error():
    with pytest.raises(TaskError, match="needs at least two labels"):
        make(labels=["pos", "neg"])


@pytest.mark.parametrize(
    ("labels", "bad"),
    [
        ({"pos": "x", "": "empty"}, "''"),
        ({"pos": "x", "  ": "blank"}, "'  '"),
        ({"pos": "x", 1: "int label"}, "1"),
        ({"pos": "x", "neg": None}, "'neg'"),
        ({"pos": "x", "neg": 3}, "'neg'"),
    ],
)
def test_bad_label_or_description(labels, bad):
    with pytest.raises(TaskError) as exc:
        make(labels=labels)
    assert str(exc.value) == f"task 'movies': label {bad} must be a non-empty string with a string description"


@pytest.mark.parametrize(
    "fields",
    [(), [], ("text", ""), ("text", 3), ("label",), ("text", "label"), (None,)],
)
def test_bad_fields(fields):
    with pytest.raises(TaskError,
                       match=r"task 'movies': 'fields' must be non-empty field names other than 'label', got"):
        make(fields=fields)


def test_duplicate_fields():
    with pytest.raises(TaskError, match=r"task 'movies': duplicate field names in \('a', 'b', 'a'\)"):
        make(fields=("a", "b", "a"))


def test_fields_as_a_single_string_is_rejected_or_wrapped():
    t = make(fields="ab")
    assert t.fields == ("ab",)


@pytest.mark.parametrize(
    "attributes",
    [{"tone": []}, {"tone": ()}, {"tone": ("calm", "")}, {"tone": ("calm", " ")}, {"tone": ("calm", 3)}, {"tone": ""}],
)
def test_bad_attribute_values(attributes):
    with pytest.raises(TaskError, match=r"task 'movies': attribute 'tone' needs a list of non-empty strings"):
        make(attributes=attributes)


@pytest.mark.parametrize(
    ("min_chars", "max_chars"),
    [(0, 10), (-5, 10), (10, 10), (11, 10), (1.0, 10), (1, 10.0), ("1", 10), (None, 10)],
)
def test_bad_length_bounds(min_chars, max_chars):
    with pytest.raises(TaskError) as exc:
        make(min_chars=min_chars, max_chars=max_chars)
    assert str(exc.value) == (
        f"task 'movies': length bounds must satisfy 1 <= min_chars < max_chars, got {min_chars!r}, {max_chars!r}"
    )


class OnlyLoad:
    def load(self):
        return []


@pytest.mark.parametrize(("source", "typename"),
                         [(None, "NoneType"), ([{"text": "x"}], "list"), (OnlyLoad(), "OnlyLoad")])
def test_bad_source(source, typename):
    with pytest.raises(TaskError,
                       match=rf"task 'movies': 'source' must have load\(\) and describe\(\), got {typename}$"):
        make(source=source)


def test_checks_run_in_declared_order():
    # bad name and bad instruction: the name is reported
    with pytest.raises(TaskError, match="'name'"):
        make(name="", instruction="")
    # bad labels and bad fields: the labels are reported
    with pytest.raises(TaskError, match="at least two labels"):
        make(labels={}, fields=())
    # bad fields and bad source: the fields are reported
    with pytest.raises(TaskError, match="'fields'"):
        make(fields=(), source=None)


def test_task_error_is_a_value_error():
    with pytest.raises(ValueError):
        make(name="")


# --- InMemorySource -------------------------------------------------------------------------------------------------


def test_in_memory_source_loads_copies_and_describes():
    rows = ({"text": "fine", "label": "pos"}, {"text": "bad", "label": "neg"})
    src = InMemorySource(rows, name="two rows")
    loaded = src.load()
    assert loaded == [{"text": "fine", "label": "pos"}, {"text": "bad", "label": "neg"}]
    loaded[0]["text"] = "changed"
    assert src.load()[0]["text"] == "fine"
    assert src.describe() == "two rows (2 samples)"
    assert isinstance(src, DataSource)


def test_in_memory_source_empty_and_default_name():
    src = InMemorySource(())
    assert src.load() == []
    assert src.describe() == "in-memory data (0 samples)"


def test_in_memory_source_is_picklable():
    src = InMemorySource(({"text": "fine", "label": "pos"},))
    assert pickle.loads(pickle.dumps(src)).load() == src.load()


# --- check_samples --------------------------------------------------------------------------------------------------


def test_check_samples_keeps_stripped_known_rows_and_drops_extra_keys():
    t = make()
    kept = t.check_samples(
        [
            {"text": "  a fine film \n", "label": "pos", "id": 7},
            {"text": "a bad film", "label": "neg"},
        ],
        "test rows",
    )
    assert kept == [{"text": "a fine film", "label": "pos"}, {"text": "a bad film", "label": "neg"}]


def test_check_samples_drops_unknown_labels_and_unusable_fields():
    t = make(fields=("premise", "hypothesis"))
    rows = [
        {"premise": "p1", "hypothesis": "h1", "label": "pos"},
        {"premise": "p2", "hypothesis": "h2", "label": "other"},  # unknown label
        {"premise": "p3", "hypothesis": "  ", "label": "neg"},  # blank field
        {"premise": "p4", "label": "neg"},  # missing field
        {"premise": "p5", "hypothesis": 5, "label": "neg"},  # not a string
        {"premise": "p6", "hypothesis": "h6"},  # no label
        {"premise": "p7", "hypothesis": "h7", "label": "neg"},
    ]
    assert t.check_samples(rows, "rows") == [
        {"premise": "p1", "hypothesis": "h1", "label": "pos"},
        {"premise": "p7", "hypothesis": "h7", "label": "neg"},
    ]


def test_check_samples_one_sample_and_one_label_only():
    assert make().check_samples([{"text": "x", "label": "neg"}], "one") == [{"text": "x", "label": "neg"}]


def test_check_samples_only_unknown_labels_error_names_them():
    t = make()
    rows = [{"text": "x", "label": "POS"}, {"text": "y", "label": 1}, {"text": "z"}, {"text": "w", "label": "POS"}]
    with pytest.raises(TaskError) as exc:
        t.check_samples(rows, "my.csv")
    assert str(exc.value) == (
        "task 'movies': no sample of my.csv has a known label; found labels ['1', 'None', 'POS'], "
        "expected ['pos', 'neg'] (fix the label mapping of the task)"
    )


def test_check_samples_unknown_labels_listed_at_most_ten():
    rows = [{"text": "x", "label": f"l{i:02d}"} for i in range(15)]
    with pytest.raises(TaskError) as exc:
        make().check_samples(rows, "many")
    assert "found labels ['l00', 'l01', 'l02', 'l03', 'l04', 'l05', 'l06', 'l07', 'l08', 'l09']," in str(exc.value)


def test_check_samples_no_usable_sample_error():
    rows = [{"text": " ", "label": "pos"}, {"label": "neg"}]
    with pytest.raises(TaskError) as exc:
        make().check_samples(rows, "blank.jsonl")
    assert str(exc.value) == "task 'movies': blank.jsonl holds no usable sample with non-empty fields ['text']"


def test_check_samples_empty_input_error():
    with pytest.raises(TaskError, match="task 'movies': nothing holds no usable sample"):
        make().check_samples([], "nothing")


def test_check_samples_mix_of_unknown_and_blank_does_not_claim_no_known_label():
    rows = [{"text": " ", "label": "pos"}, {"text": "x", "label": "bad"}]
    with pytest.raises(TaskError) as exc:
        make().check_samples(rows, "mix")
    assert "has a known label" not in str(exc.value)
