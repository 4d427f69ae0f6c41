"""The reward validity battery: each degenerate set is what it says, seeded, in the task's format."""

from __future__ import annotations

from collections import Counter

import pytest

from streamsynth.evaluation import battery as B
from streamsynth.rewards.validity import check_sample, max_ngram_overlap, word_shingles
from streamsynth.tasks.splits import SplitSizes, sample_key, split_samples
from tests.helpers.data import SMALL_SPLITS

N = 6


@pytest.fixture(scope="module")
def parts(movie_task, topic_task):
    rows = movie_task.source.load()
    splits = split_samples(rows, movie_task, SplitSizes(**SMALL_SPLITS), seed=0)
    used = {sample_key(s) for p in (splits.seed, splits.judge, splits.dev, splits.test) for s in p}
    unused = [s for s in rows if sample_key(s) not in used]
    other = [s["text"] for s in topic_task.source.load()]
    foreign = ["¿Dónde está la biblioteca de la ciudad?", "Ich habe heute keine Zeit für das Kino.",
               "Il fait très beau aujourd'hui à Paris.", "Eu gosto muito de ler livros à noite."] * 4
    return splits, unused, other, foreign


@pytest.fixture(scope="module")
def sets(movie_task, parts):
    splits, unused, other, foreign = parts
    return B.build_battery(movie_task, splits, unused, other, N, seed=0, foreign_texts=foreign)


def test_every_strategy_is_built_with_n_per_label_in_the_task_format(movie_task, sets):
    assert set(sets) == set(B.STRATEGIES)
    for name, samples in sets.items():
        counts = Counter(s["label"] for s in samples)
        assert counts == {"positive": N, "negative": N}, name
        for s in samples:
            assert check_sample(s, movie_task.fields, movie_task.label_names, movie_task.min_chars,
                                movie_task.max_chars) is None, (name, s)


def test_sets_are_seeded(movie_task, parts, sets):
    splits, unused, other, foreign = parts
    again = B.build_battery(movie_task, splits, unused, other, N, seed=0, foreign_texts=foreign)
    other_seed = B.build_battery(movie_task, splits, unused, other, N, seed=1, foreign_texts=foreign)
    assert again == sets
    assert other_seed["keyword-bags"] != sets["keyword-bags"]


def test_real_is_held_out_and_oracle_is_judge(parts, sets):
    splits, unused, _, _ = parts
    unused_keys = {sample_key(s) for s in unused}
    judge_keys = {sample_key(s) for s in splits.judge}
    assert all(sample_key(s) in unused_keys for s in sets["real"])
    assert all(sample_key(s) in judge_keys for s in sets["oracle"])


def test_real_heldout_tops_up_from_the_fallback_and_stops_when_both_run_out():
    pool = [{"text": "a", "label": "x"}]
    fallback = [{"text": "b", "label": "x"}, {"text": "c", "label": "y"}]
    out = B.real_heldout(pool, fallback, ["x", "y"], 3, seed=0)
    assert [s["text"] for s in out] == ["a", "b", "c"]


def test_edited_copies_contain_a_seed_example(parts, sets):
    splits = parts[0]
    refs = [word_shingles(s["text"]) for s in splits.seed]
    assert all(max_ngram_overlap(s["text"], refs) == 1.0 for s in sets["edited-seeds"])
    assert all(s["text"] not in {x["text"] for x in splits.seed} for s in sets["edited-seeds"])


def test_swapped_labels_moves_each_label_to_the_next(movie_task):
    rows = [{"text": "good", "label": "positive"}, {"text": "bad", "label": "negative"}]
    assert [s["label"] for s in B.swapped_labels(movie_task, rows)] == ["negative", "positive"]


def test_repetition_reaches_the_length_limit_and_random_strings_are_letters(movie_task, sets):
    for s in sets["repetition"]:
        assert len(s["text"]) > movie_task.max_chars - 40
        assert len(set(s["text"].split())) <= 3
    for s in sets["random-strings"]:
        assert set(s["text"]) <= set("abcdefghijklmnopqrstuvwxyz ")


def test_label_keywords_exact():
    rows = [{"text": "a superb superb film", "label": "pos"}, {"text": "a dull film", "label": "neg"},
            {"text": "dull and tired", "label": "neg"}]
    kw = B.label_keywords(rows, ["pos", "neg"], k=2)
    assert kw["pos"][0] == "superb"
    assert kw["neg"][0] == "dull"
    assert "film" not in kw["pos"][:1]


def test_take_per_label_keeps_order_within_labels():
    rows = [{"text": str(i), "label": "ab"[i % 2]} for i in range(6)]
    assert [s["text"] for s in B.take_per_label(rows, ["b", "a"], 2)] == ["1", "3", "0", "2"]


def test_foreign_language_texts_are_real_non_english_sentences():
    texts = B.foreign_language_texts(["spanish"])
    assert len(texts) > 300
    assert any("¿" in t for t in texts)


# --- the reward's ranking targets on one small task (issue 9) -------------------------------------------------------


def test_real_data_outscores_every_degenerate_set(movie_task, parts):
    """The env's set score (default MiniLM embedder) puts held-out real data first among the non-oracle sets, by at
    least 0.03, and every degenerate set below it (real data of the task, 600 Rotten Tomatoes snippets; 6 per label).
    The lexical ``hashing`` embedder is too weak a judge for this (measured: a degenerate set scored 0.61, above
    real data at 0.59): it is for quick experiments, not for rewards you train on."""
    embedder = "minilm"
    from streamsynth.envs.streamsynth_env import StreamSynthEnv

    splits, unused, other, foreign = parts
    sets = B.build_battery(movie_task, splits, unused, other, N, seed=0, foreign_texts=foreign)
    env = StreamSynthEnv([movie_task], samples_per_label=N, max_rounds=1, reward_mode="absolute",
                         split_sizes=SMALL_SPLITS, embedder=embedder)
    scores = {}
    for name, samples in sets.items():
        env.reset(seed=0)
        scores[name] = env.step(samples)[1]
    best_degenerate = max(scores[k] for k in B.DEGENERATE)
    assert scores["real"] - best_degenerate >= 0.03, scores
    assert scores["edited-seeds"] == 0.0  # every edited copy of a seed example is rejected
