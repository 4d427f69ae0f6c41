"""User task and stream TOML files: good files load; every kind of broken file gives a TaskError with the fix."""

from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import pytest

from streamsynth.errors import TaskError
from streamsynth.tasks.files import FileDataSource, load_task_file, map_rows
from streamsynth.tasks.registry import (
    STREAMS,
    TASKS,
    get_stream,
    get_task,
    list_streams,
    list_tasks,
    resolve_stream,
    stream_is_offline,
)
from streamsynth.tasks.splits import SplitSizes, load_splits
from tests.helpers import ROOT

DATA = ROOT / "tests" / "data" / "tasks"
EXAMPLES = ROOT / "examples"

GOOD_CSV = (
    "id,review,stars\n1,Loved every minute of it,5\n2,\"Slow, dull and far too long\",1\n3,Fine for a rainy day,5\n"
)
GOOD_TOML = """\
name = "stars"
instruction = "Write a one-line film review."
domain = "sentiment"
min_chars = 5
max_chars = 120

[labels]
good = "the reviewer liked the film"
bad = "the reviewer disliked the film"

[attributes]
genre = ["comedy", "drama"]

[data]
path = "reviews.csv"
text_column = "review"
label_column = "stars"

[data.label_map]
5 = "good"
1 = "bad"
"""


def write_task(folder: Path, toml: str, csv: str | None = GOOD_CSV, name: str = "task.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if csv is not None:
        (folder / "reviews.csv").write_text(csv, encoding="utf-8")
    path = folder / name
    path.write_text(textwrap.dedent(toml), encoding="utf-8")
    return path


def broken(tmp_path: Path, toml: str, csv: str | None = GOOD_CSV) -> str:
    """Load a task file and its data; return the TaskError message (which must name the task or data file)."""
    path = write_task(tmp_path, toml, csv)
    with pytest.raises(TaskError) as err:
        load_task_file(path).source.load()
    msg = str(err.value)
    assert str(tmp_path.resolve()) in msg
    return msg


# ------------------------------------------------------------------ good files


def test_good_csv_task(tmp_path):
    task = load_task_file(write_task(tmp_path / "sub", GOOD_TOML))
    assert task.name == "stars" and task.domain == "sentiment" and (task.min_chars, task.max_chars) == (5, 120)
    assert task.labels == {"good": "the reviewer liked the film", "bad": "the reviewer disliked the film"}
    assert task.attributes == {"genre": ("comedy", "drama")} and task.fields == ("text",)
    assert Path(task.source.path) == (tmp_path / "sub" / "reviews.csv").resolve()
    assert task.source.load() == [
        {"text": "Loved every minute of it", "label": "good"},
        {"text": "Slow, dull and far too long", "label": "bad"},
        {"text": "Fine for a rainy day", "label": "good"},
    ]


def test_relative_path_resolves_against_the_toml_folder_not_the_cwd(tmp_path, monkeypatch):
    path = write_task(tmp_path / "deep" / "folder", GOOD_TOML)
    monkeypatch.chdir(tmp_path)
    assert len(get_task(str(path.relative_to(tmp_path))).source.load()) == 3


def test_jsonl_multi_field_task_with_joined_columns():
    task = load_task_file(DATA / "nli-mini.toml")
    assert task.fields == ("premise", "hypothesis") and task.domain == "nli"
    samples = task.source.load()
    assert samples[0] == {"premise": "At the station.\nA woman boards the 8:15 train.",
                          "hypothesis": "A woman is travelling.", "label": "entailment"}
    assert samples[1]["premise"] == "Two dogs sleep on a porch."  # empty context skipped
    assert samples[3]["label"] == "contradiction"  # "2" and 2 are the same raw value
    assert task.check_samples(samples, "nli-mini") == samples


def test_tsv_and_labels_without_map(tmp_path):
    (tmp_path / "d.tsv").write_text("text\tlabel\nyes it is\tgood\nno it is not\tbad\n", encoding="utf-8")
    toml = GOOD_TOML.replace('path = "reviews.csv"', 'path = "d.tsv"').replace('text_column = "review"',
                                                                                  'text_column = "text"')
    toml = toml.replace('label_column = "stars"', 'label_column = "label"').split("[data.label_map]")[0]
    task = load_task_file(write_task(tmp_path, toml, csv=None))
    assert task.source.format == "tsv"
    assert [s["label"] for s in task.source.load()] == ["good", "bad"]


def test_latin1_csv_with_encoding_key(tmp_path):
    (tmp_path / "reviews.csv").write_bytes("review,stars\nCaf\xe9 scenes charm,5\nNo,1\n".encode("latin-1"))
    toml = GOOD_TOML.replace('label_column = "stars"', 'label_column = "stars"\nencoding = "latin-1"')
    task = load_task_file(write_task(tmp_path, toml, csv=None))
    assert task.source.load()[0]["text"] == "Caf\u00e9 scenes charm"


def test_file_source_pickles_and_splits(tmp_path):
    rows = "review,stars\n" + "".join(f"good film number {i},5\nbad film number {i},1\n" for i in range(20))
    task = load_task_file(write_task(tmp_path, GOOD_TOML, csv=rows))
    clone = pickle.loads(pickle.dumps(task))
    assert clone.source == task.source and clone.source.load() == task.source.load()
    sp = load_splits(task, SplitSizes(seed_per_label=2, judge=10, dev=6, test=10))
    assert sp.sizes() == {"seed": 4, "judge": 10, "dev": 6, "test": 10}


def test_example_task_and_stream_load():
    task = get_task(str(EXAMPLES / "tasks" / "customer-intent.toml"))
    samples = task.source.load()
    assert len(samples) == 60 and {s["label"] for s in samples} == set(task.labels)
    name, tasks = resolve_stream(str(EXAMPLES / "streams" / "mixed.toml"))
    assert name == "mixed" and [t.name for t in tasks] == ["movie-sentiment", "customer-intent", "question-type"]
    sp = load_splits(task)  # 60 rows: the splits shrink, every label keeps >= 2 per split
    # 48 rows after the seed examples, divided 800:300:800 as requested (20.2, 7.6, 20.2 -> 20, 8, 20)
    assert sp.sizes() == {"seed": 12, "judge": 20, "dev": 8, "test": 20}


# ------------------------------------------------------------------ broken task files


def test_broken_toml_syntax_names_the_line(tmp_path):
    msg = broken(tmp_path, 'name = "x"\ninstruction = "y\n[labels]\n')
    assert "not valid TOML" in msg and "line 2" in msg


def test_missing_required_key(tmp_path):
    msg = broken(tmp_path, GOOD_TOML.replace('instruction = "Write a one-line film review."\n', ""))
    assert "missing required key 'instruction'" in msg


def test_unknown_key_did_you_mean(tmp_path):
    msg = broken(tmp_path, GOOD_TOML.replace("[attributes]", "[atributes]"))
    assert "unknown key 'atributes' (did you mean 'attributes'?)" in msg
    msg = broken(tmp_path, GOOD_TOML.replace('label_column = "stars"', 'lable_column = "stars"'))
    assert "[data]: unknown key 'lable_column' (did you mean 'label_column'?)" in msg


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("min_chars = 5", 'min_chars = "5"', "'min_chars' must be an integer, got str '5'"),
        ("min_chars = 5", "min_chars = true", "'min_chars' must be an integer, got bool True"),
        ('genre = ["comedy", "drama"]', 'genre = "comedy"', "'genre' must be a list, got str"),
        ('genre = ["comedy", "drama"]', "genre = []", "must be a non-empty list"),
        ('good = "the reviewer liked the film"', "good = 1", "value of 'good' must be a string"),
        ('name = "stars"', "name = 3", "'name' must be a string"),
        ('path = "reviews.csv"', 'path = ["reviews.csv"]', "'path' must be a string"),
    ],
)
def test_wrong_types(tmp_path, old, new, expected):
    assert old in GOOD_TOML
    assert expected in broken(tmp_path, GOOD_TOML.replace(old, new))


def test_task_level_validation_names_the_file(tmp_path):
    msg = broken(tmp_path, GOOD_TOML.replace('bad = "the reviewer disliked the film"\n', "").replace('1 = "bad"\n', ""))
    assert "needs at least two labels" in msg
    assert "min_chars < max_chars" in broken(tmp_path, GOOD_TOML.replace("max_chars = 120", "max_chars = 3"))


def test_missing_data_file(tmp_path):
    msg = broken(tmp_path, GOOD_TOML.replace("reviews.csv", "nowhere.csv"))
    assert "nowhere.csv not found" in msg and "relative paths start at the task file's folder" in msg


def test_missing_column_names_columns_present(tmp_path):
    msg = broken(tmp_path, GOOD_TOML.replace('text_column = "review"', 'text_column = "body"'))
    assert "no column(s) ['body']; columns present: ['id', 'review', 'stars']" in msg


def test_unknown_label_values_point_at_label_map(tmp_path):
    msg = broken(tmp_path, GOOD_TOML.replace('1 = "bad"\n', ""))
    assert "holds values {'1': 1}" in msg and "[data.label_map]" in msg
    no_map = GOOD_TOML.split("[data.label_map]")[0]
    msg = broken(tmp_path, no_map)
    assert "values {'1': 1, '5': 2}" in msg and "not labels of the task ['good', 'bad']" in msg
    assert "[data.label_map]" in msg


def test_label_map_to_unknown_label(tmp_path):
    msg = broken(tmp_path, GOOD_TOML.replace('1 = "bad"', '1 = "awful"'))
    assert "maps to ['awful'], which are not in [labels]" in msg


def test_text_column_xor_columns(tmp_path):
    both = GOOD_TOML.replace("[data.label_map]", '[data.columns]\ntext = "review"\n\n[data.label_map]')
    assert "exactly one of text_column" in broken(tmp_path, both)
    neither = GOOD_TOML.replace('text_column = "review"\n', "")
    assert "exactly one of text_column" in broken(tmp_path, neither)
    fields = GOOD_TOML.replace('domain = "sentiment"', 'domain = "sentiment"\nfields = ["a", "b"]')
    assert "use [data.columns]" in broken(tmp_path, fields)


def test_ragged_csv_row(tmp_path):
    msg = broken(tmp_path, GOOD_TOML, csv="id,review,stars\n1,Good, really good,5\n")
    assert "reviews.csv:2: 4 cells but the header has 3" in msg and "quote cells" in msg


def test_non_utf8_csv_suggests_encoding(tmp_path):
    (tmp_path / "reviews.csv").write_bytes(b"review,stars\nCaf\xe9,5\n")
    msg = broken(tmp_path, GOOD_TOML, csv=None)
    assert "not readable as utf-8" in msg and 'encoding = "latin-1"' in msg


def test_unknown_suffix_needs_format(tmp_path):
    msg = broken(tmp_path, GOOD_TOML.replace("reviews.csv", "reviews.data"))
    assert "add format = " in msg


def test_broken_jsonl_line(tmp_path):
    (tmp_path / "d.jsonl").write_text('{"review": "ok", "stars": 5}\n{"review": oops}\n', encoding="utf-8")
    msg = broken(tmp_path, GOOD_TOML.replace("reviews.csv", "d.jsonl"), csv=None)
    assert "d.jsonl:2: invalid JSON" in msg


def test_missing_toml_file(tmp_path):
    with pytest.raises(TaskError, match="not found"):
        get_task(str(tmp_path / "absent.toml"))


def test_map_rows_all_or_nothing():
    with pytest.raises(TaskError, match=r"values \{'': 1, 'x': 1\}"):
        map_rows([{"t": "a", "y": "x"}, {"t": "b", "y": None}, {"t": "c", "y": "ok"}], {"text": "t"}, "y", None,
                 ["ok"], "demo", "fix it")


def test_file_source_rejects_bad_format():
    with pytest.raises(TaskError, match="format must be"):
        FileDataSource("x.xlsx", {"text": "t"}, "y", ("a", "b"), format="xlsx")


# ------------------------------------------------------------------ streams and names


def test_stream_file_with_builtin_and_relative_task():
    name, tasks = resolve_stream(str(DATA / "mini-stream.toml"))
    assert name == "fixture-stream" and [t.name for t in tasks] == ["question-type", "nli-mini"]


def test_stream_file_errors(tmp_path):
    bad = tmp_path / "s.toml"
    bad.write_text('tasks = ["movie-sentiment"]\nnmae = "x"\n', encoding="utf-8")
    with pytest.raises(TaskError, match=r"unknown key 'nmae' \(did you mean 'name'\?\)"):
        get_stream(str(bad))
    bad.write_text("tasks = []\n", encoding="utf-8")
    with pytest.raises(TaskError, match="non-empty list"):
        get_stream(str(bad))
    bad.write_text('tasks = ["movie-sentiment", "movie-sentiment"]\n', encoding="utf-8")
    with pytest.raises(TaskError, match="twice"):
        get_stream(str(bad))
    bad.write_text('tasks = ["movie-sentimnt"]\n', encoding="utf-8")
    with pytest.raises(TaskError, match="did you mean 'movie-sentiment'"):
        get_stream(str(bad))
    bad.write_text('name = "s"\ntasks = ["missing.toml"]\n', encoding="utf-8")
    with pytest.raises(TaskError, match=r"missing.toml not found"):
        get_stream(str(bad))
    with pytest.raises(TaskError, match="is a stream file"):
        get_task(str(DATA / "mini-stream.toml"))


def test_stream_name_defaults_to_file_stem(tmp_path):
    path = tmp_path / "my-run.toml"
    path.write_text('tasks = ["news-topic"]\n', encoding="utf-8")
    assert resolve_stream(str(path))[0] == "my-run"


def test_get_stream_forms():
    assert [t.name for t in get_stream()] == list(STREAMS["offline"])
    assert [t.name for t in get_stream("offline-small")] == ["movie-sentiment", "news-topic"]
    assert [t.name for t in get_stream("paper")] == ["yelp-5", "amazon-5", "yahoo-10", "mnli"]
    assert [t.name for t in get_stream("news-topic, question-type")] == ["news-topic", "question-type"]
    assert [t.name for t in get_stream("question-type")] == ["question-type"]
    assert [t.name for t in get_stream(str(DATA / "nli-mini.toml"))] == ["nli-mini"]
    assert [t.name for t in get_stream(f"news-topic,{DATA / 'nli-mini.toml'}")] == ["news-topic", "nli-mini"]
    with pytest.raises(TaskError, match="empty entry"):
        get_stream("news-topic,,question-type")


def test_unknown_names_list_known_ones_with_did_you_mean():
    with pytest.raises(TaskError) as err:
        get_task("news-topics")
    assert "did you mean 'news-topic'" in str(err.value) and "movie-sentiment" in str(err.value)
    with pytest.raises(TaskError, match=r"unknown stream 'ofline' \(did you mean 'offline'\?\)"):
        get_stream("ofline")


def test_stream_refuses_two_tasks_over_the_same_data_pool(tmp_path):
    from streamsynth.tasks.offline import VaderSource
    from streamsynth.tasks.registry import check_stream
    from streamsynth.tasks.spec import Task

    vader_movie = Task(name="vader-movie", instruction="Write a movie review snippet.",
                       labels={"positive": "liked", "negative": "disliked"}, source=VaderSource("movie"))
    with pytest.raises(TaskError, match="same real data \\(rotten-tomatoes-snippets\\)"):
        check_stream([get_task("movie-sentiment"), vader_movie], "s")


def test_listings():
    tasks = list_tasks(check_data=False)
    assert set(tasks) == set(TASKS)
    assert tasks["news-topic"]["offline"] is True and tasks["news-topic"]["data"] == "not checked"
    assert tasks["mnli"]["fields"] == ["premise", "hypothesis"] and tasks["mnli"]["offline"] is False
    streams = list_streams()
    assert streams["offline-small"] == ["movie-sentiment", "news-topic"]
    assert streams["sentiment"] == ["movie-sentiment", "product-sentiment", "editorial-sentiment", "tweet-sentiment"]
    assert stream_is_offline("sentiment")
    assert stream_is_offline("offline") and not stream_is_offline("paper")


@pytest.mark.parametrize("name", list(TASKS))
def test_builtin_tasks_are_complete(name):
    task = get_task(name)
    assert task.name == name and len(task.instruction) > 30
    assert task.attributes and all(len(v) >= 2 for v in task.attributes.values())
    assert all(len(d) > 10 for d in task.labels.values())
