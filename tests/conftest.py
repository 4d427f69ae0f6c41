"""Shared fixtures: small real tasks (packaged Rotten Tomatoes and TREC data) and a fast embedder."""

from __future__ import annotations

import os

import pytest

from tests.helpers.data import SMALL_SPLITS

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pytest_collection_modifyitems(config, items):
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def movie_samples():
    from streamsynth.tasks.offline import RottenTomatoesSource

    rows = RottenTomatoesSource().load()
    pos = [r for r in rows if r["label"] == "positive"][:300]
    neg = [r for r in rows if r["label"] == "negative"][:300]
    return pos + neg


@pytest.fixture(scope="session")
def movie_task(movie_samples):
    from streamsynth.tasks.spec import InMemorySource, Task

    return Task(
        name="movie-mini",
        instruction="Write a one-sentence movie review snippet.",
        labels={"positive": "the critic liked the film", "negative": "the critic disliked the film"},
        source=InMemorySource(tuple(movie_samples), name="600 Rotten Tomatoes snippets"),
        attributes={"genre": ("comedy", "drama"), "length": ("short", "long")},
        min_chars=10,
        max_chars=300,
        domain="sentiment",
    )


@pytest.fixture(scope="session")
def topic_task():
    """A 3-label task on real TREC questions (a second, different task for stream tests)."""
    from streamsynth.tasks.offline import TrecSource
    from streamsynth.tasks.spec import InMemorySource, Task

    rows = TrecSource().load()
    keep = {"location": [], "human": [], "numeric": []}
    for r in rows:
        if r["label"] in keep and len(keep[r["label"]]) < 150:
            keep[r["label"]].append(r)
    samples = tuple(s for v in keep.values() for s in v)
    return Task(
        name="question-mini",
        instruction="Write a short factual question.",
        labels={"location": "asks where", "human": "asks who", "numeric": "asks how many or when"},
        source=InMemorySource(samples, name="450 TREC questions"),
        min_chars=8,
        max_chars=200,
        domain="topic",
    )


@pytest.fixture
def make_env(movie_task, topic_task):
    """Factory of small, fast envs (hashing embedder, small splits)."""
    from streamsynth.envs.streamsynth_env import StreamSynthEnv

    def _make(tasks=None, **kwargs):
        kwargs.setdefault("embedder", "hashing")
        kwargs.setdefault("split_sizes", SMALL_SPLITS)
        kwargs.setdefault("samples_per_label", 8)
        kwargs.setdefault("max_rounds", 3)
        return StreamSynthEnv(tasks or [movie_task, topic_task], **kwargs)

    return _make


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A Hugging Face folder with a tiny random Llama and a tokenizer with a chat template."""
    from tests.helpers.tiny_model import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture
def one_torch_thread():
    """Torch on one thread during the test. On a busy 2-core machine two torch threads waiting on each other made
    the tiny fits 30-50x slower (0.8 s -> 43 s) and the MiniLM test 3x slower (25 s -> 75 s), measured; and two
    identical SynLearner runs on two threads ended with adapters apart by up to 7e-9 (one thread: bit-identical)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
