"""Hugging Face loaders, exercised on small local files in the hub datasets' own column formats (no network)."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from streamsynth.errors import ResourceNotFoundError, TaskError
from streamsynth.tasks.online import HUB_TASKS, HFDataSource, hub_source, index_map
from streamsynth.tasks.registry import get_task

pytest.importorskip("datasets")


def write_jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def write_parquet(path: Path, rows: list[dict]) -> str:
    import pandas as pd

    pd.DataFrame(rows).to_parquet(path, index=False)
    return str(path)


def write_csv(path: Path, rows: list[dict]) -> str:
    import pandas as pd

    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


@pytest.fixture
def cache(tmp_path):
    return str(tmp_path / "hf-cache")


def test_yelp_parquet_in_hub_format(tmp_path, cache):
    # Yelp/yelp_review_full: columns label (ClassLabel 0..4 = 1..5 stars), text
    rows = [{"label": i % 5, "text": f"review {i}: the service was {['awful', 'meh', 'ok', 'good', 'superb'][i % 5]}"}
            for i in range(10)]
    path = write_parquet(tmp_path / "test-00000-of-00001.parquet", rows)
    source = get_task("yelp-5").source.with_files("parquet", {"test": path}, cache_dir=cache)
    samples = source.load()
    assert len(samples) == 10
    assert samples[0] == {"text": "review 0: the service was awful", "label": "very negative"}
    assert [s["label"] for s in samples[:5]] == ["very negative", "negative", "neutral", "positive", "very positive"]


def test_yahoo_csv_joins_title_content_and_answer(tmp_path, cache):
    # community-datasets/yahoo_answers_topics: id, topic (0..9), question_title, question_content, best_answer
    rows = [
        {"id": 1, "topic": 1, "question_title": "Why is the sky blue?", "question_content": "",
         "best_answer": "Rayleigh scattering."},
        {"id": 2, "topic": 9, "question_title": "Who can vote?", "question_content": "In the UK.",
         "best_answer": "Citizens over 18."},
    ]
    path = write_csv(tmp_path / "test.csv", rows)
    source = get_task("yahoo-10").source.with_files("csv", {"test": path}, cache_dir=cache)
    assert source.load() == [
        {"text": "Why is the sky blue?\nRayleigh scattering.", "label": "Science & Mathematics"},
        {"text": "Who can vote?\nIn the UK.\nCitizens over 18.", "label": "Politics & Government"},
    ]


def test_mnli_jsonl_two_fields(tmp_path, cache):
    # nyu-mll/glue, config mnli: premise, hypothesis, label (0 entailment, 1 neutral, 2 contradiction), idx
    rows = [
        {"premise": "A man is sleeping.", "hypothesis": "A person rests.", "label": 0, "idx": 0},
        {"premise": "A man is sleeping.", "hypothesis": "He dreams of cake.", "label": 1, "idx": 1},
        {"premise": "A man is sleeping.", "hypothesis": "He is running.", "label": 2, "idx": 2},
    ]
    path = write_jsonl(tmp_path / "validation_matched.jsonl", rows)
    task = get_task("mnli")
    source = task.source.with_files("json", {"validation_matched": path}, cache_dir=cache)
    assert source.splits == ("validation_matched",)
    samples = source.load()
    assert [s["label"] for s in samples] == ["entailment", "neutral", "contradiction"]
    assert set(samples[0]) == {"premise", "hypothesis", "label"} and task.fields == ("premise", "hypothesis")


def test_amazon_concatenates_splits_in_order(tmp_path, cache):
    # SetFit/amazon_reviews_multi_en: id, text, label (0..4), label_text
    val = [{"id": "v1", "text": "Broke in a day.", "label": 0, "label_text": "0"}]
    test = [{"id": "t1", "text": "Works fine.", "label": 3, "label_text": "3"},
            {"id": "t2", "text": "Love it!", "label": 4, "label_text": "4"}]
    files = {"validation": write_jsonl(tmp_path / "validation.jsonl", val),
             "test": write_jsonl(tmp_path / "test.jsonl", test)}
    source = get_task("amazon-5").source.with_files("json", files, cache_dir=cache)
    assert source.splits == ("validation", "test")
    assert [s["text"] for s in source.load()] == ["Broke in a day.", "Works fine.", "Love it!"]


def test_max_rows_is_a_seeded_random_subset_of_label_sorted_data(tmp_path, cache):
    # stanfordnlp/imdb: text, label; its splits are sorted by label (all negatives first)
    rows = [{"text": f"negative review number {i}", "label": 0} for i in range(50)]
    rows += [{"text": f"positive review number {i}", "label": 1} for i in range(50)]
    path = write_parquet(tmp_path / "train.parquet", rows)
    source = get_task("imdb").source.with_files("parquet", path, cache_dir=cache, max_rows=20)
    first = source.load()
    assert len(first) == 20 and {s["label"] for s in first} == {"negative", "positive"}
    assert source.load() == first
    other = HFDataSource(**{**source.__dict__, "shuffle_seed": 1}).load()
    assert other != first


def test_string_labels_and_min_chars(tmp_path, cache):
    rows = [{"sentence": "a gorgeous, witty film", "label": "pos"}, {"sentence": "dull", "label": "neg"},
            {"sentence": "an utterly tedious affair", "label": "neg"}]
    path = write_csv(tmp_path / "train.csv", rows)
    source = HFDataSource("csv", {"text": "sentence"}, label_map={"pos": "positive", "neg": "negative"},
                          data_files=path, min_chars=10, cache_dir=cache)
    assert source.load() == [{"text": "a gorgeous, witty film", "label": "positive"},
                             {"text": "an utterly tedious affair", "label": "negative"}]
    assert "fields >= 10 chars" in source.describe()


def test_hidden_test_labels_are_an_error(tmp_path, cache):
    rows = [{"idx": 0, "sentence": "fine film", "label": 1}, {"idx": 1, "sentence": "unlabelled", "label": -1}]
    path = write_parquet(tmp_path / "test.parquet", rows)
    source = get_task("sst2").source.with_files("parquet", {"test": path}, splits=("test",), cache_dir=cache)
    with pytest.raises(TaskError, match=r"values \{'-1': 1\}.*keys of the label map \['0', '1'\].*hide labels as -1"):
        source.load()


def test_missing_column_names_the_columns_present(tmp_path, cache):
    path = write_jsonl(tmp_path / "d.jsonl", [{"content": "hello there", "label": 0}])
    source = get_task("ag-news").source.with_files("json", path, cache_dir=cache)
    with pytest.raises(TaskError, match=r"no column\(s\) \['text'\]; columns present: \['content', 'label'\]"):
        source.load()


def test_unknown_split_is_a_task_error(tmp_path, cache):
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": "hello there", "label": 0}])
    source = get_task("ag-news").source.with_files("json", {"test": path}, splits=("validation",), cache_dir=cache)
    with pytest.raises(TaskError, match=r"task 'ag-news'.*split 'validation'"):
        source.load()


def test_missing_local_file(tmp_path, cache):
    source = HFDataSource("csv", {"text": "text"}, data_files=str(tmp_path / "nope.csv"), cache_dir=cache,
                          task="mine")
    with pytest.raises(ResourceNotFoundError, match=r"task 'mine': csv files .*nope.csv.* not found"):
        source.load()


def test_missing_datasets_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` raise ImportError
    with pytest.raises(ResourceNotFoundError, match=r"pip install 'streamsynth\[hub\]'"):
        hub_source("sst2").load()


def test_unreachable_hub_names_task_dataset_and_fix(tmp_path):
    """Real ``datasets`` in offline mode with an empty cache: the error a user without network sees."""
    code = (
        "from streamsynth.tasks.registry import get_task\n"
        "try:\n"
        "    get_task('sst2').source.load()\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__ + ': ' + str(exc))\n"
    )
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120).stdout
    assert out.startswith("ResourceNotFoundError: task 'sst2': cannot reach the Hugging Face hub for hub dataset "
                          "'stanfordnlp/sst2'")
    assert "HF_DATASETS_OFFLINE=1" in out and "task file" in out


@pytest.mark.parametrize("name", HUB_TASKS)
def test_builtin_hub_sources_pickle_and_describe(name):
    source = get_task(name).source
    assert isinstance(source, HFDataSource) and not source.is_local
    assert pickle.loads(pickle.dumps(source)) == source
    assert source.dataset in source.describe()
    local = source.with_files("csv", ["a.csv"])
    assert local.data_files == ("a.csv",) and local.splits == ("train",) and local.columns == source.columns
    assert pickle.loads(pickle.dumps(local)) == local


def test_builtin_label_maps_match_task_labels():
    for name in HUB_TASKS:
        task = get_task(name)
        assert list(task.source.label_map.values()) == list(task.labels), name
        assert task.source.task == name


def test_source_validation():
    with pytest.raises(TaskError, match="builder"):
        HFDataSource("Yelp/yelp_review_full", {"text": "text"}, data_files="x.csv")
    with pytest.raises(TaskError, match="max_rows"):
        HFDataSource("x/y", {"text": "text"}, max_rows=0)
    with pytest.raises(TaskError, match="columns"):
        HFDataSource("x/y", {})
    assert HFDataSource("x/y", {"text": "t"}, label_map={0: "a", 1: "b"}).label_map == index_map(("a", "b"))
