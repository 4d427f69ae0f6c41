"""The harness's Evaluator: test-split reports equal to what the env's ``test_report`` gave, and evaluation-only data
out of the agent's reach (the env holds no test split; the oracle gets the judge split through ``RealData``)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types

import numpy as np
import pytest

from streamsynth.agents import build_agent
from streamsynth.envs.streamsynth_env import StreamSynthEnv
from streamsynth.errors import TaskError
from streamsynth.evaluation.evaluator import STUDENT_KEYS, STUDENTS, Evaluator, LinearStudent, report_key
from streamsynth.evaluation.runner import run_stream
from streamsynth.tasks.real import RealData, real_split
from streamsynth.tasks.splits import SplitSizes, split_samples
from tests.helpers.data import SMALL_SPLITS
from tests.helpers.tiny_task import JUDGE, tiny_task

REPORT_KEYS = ["n", "test_accuracy", "test_macro_f1", "gold_test_accuracy", "gold_test_macro_f1", "test_size"]
SYNTH = [
    {"text": "A warm, funny and beautifully acted film that I loved.", "label": "positive"},
    {"text": "Dull, overlong and painfully predictable from start to finish.", "label": "negative"},
    {"text": "The best thing I have seen this year, a real delight.", "label": "positive"},
    {"text": "A tedious mess with a script that goes nowhere.", "label": "negative"},
    {"text": "Charming performances lift this gentle comedy.", "label": "positive"},
    {"text": "Flat characters and clumsy direction sink the movie.", "label": "negative"},
]


def report(n, acc, f1, gacc, gf1, size=100):
    return dict(zip(REPORT_KEYS, (n, acc, f1, gacc, gf1, size)))


# Figures of StreamSynthEnv.test_report (TaskScorer.test_report) for the same samples, computed with the code before
# the Evaluator existed (commit 462646d): movie-sentiment, hashing embedder, SMALL_SPLITS, data_seed=3.
MOVIE_SENTIMENT_BEFORE = {
    "synth": report(6, 0.56, 0.5571658615136876, 0.52, 0.5151515151515151),
    "judge20": report(20, 0.58, 0.3670886075949367, 0.59, 0.392682565545845),
    "judge_mixed": report(17, 0.58, 0.3670886075949367, 0.59, 0.44587106365725093),
    "empty": report(0, 0.0, 0.0, 0.0, 0.0),
    "one_label": report(5, 0.58, 0.3670886075949367, 0.58, 0.3670886075949367),
    "judge_all": report(200, 0.63, 0.5906626839252129, 0.63, 0.5906626839252129),
    "dataset_after_step": report(10, 0.58, 0.3670886075949367, 0.58, 0.3670886075949367),
}
# ...and for conftest's movie-mini (data_seed=0).
MOVIE_MINI_BEFORE = {
    "synth": report(6, 0.49, 0.483753416337686, 0.57, 0.562608076492727),
    "judge30": report(30, 0.5, 0.3333333333333333, 0.63, 0.6296667000300271),
}


@pytest.fixture(scope="module")
def movie_env():
    env = StreamSynthEnv(["movie-sentiment"], embedder="hashing", split_sizes=SMALL_SPLITS, samples_per_label=8,
                         max_rounds=2, data_seed=3)
    env.reset(seed=0)
    return env


# ------------------------------------------------------------------------------------- (a) the same figures as before
def test_figures_equal_the_env_test_report_before_the_change(movie_env):
    evaluator = Evaluator.for_env(movie_env)
    pool = RealData.for_env(movie_env)("movie-sentiment")
    sets = {"synth": SYNTH, "judge20": pool[:20], "judge_mixed": pool[50:61] + SYNTH, "empty": [],
            "one_label": [s for s in pool if s["label"] == "positive"][:5], "judge_all": pool}
    for name, samples in sets.items():
        rep = evaluator.report("movie-sentiment", samples)
        assert rep == MOVIE_SENTIMENT_BEFORE[name], name  # exactly
        assert list(rep) == REPORT_KEYS  # in the same order (metrics.json)


def test_figures_of_the_env_dataset_and_of_a_standalone_evaluator(movie_env):
    env = StreamSynthEnv(["movie-sentiment"], embedder="hashing", split_sizes=SMALL_SPLITS, samples_per_label=8,
                         max_rounds=2, data_seed=3)
    env.reset(seed=0)
    env.step(RealData.for_env(env)("movie-sentiment")[:10])
    assert Evaluator.for_env(env).report(env.current_task, env.dataset) == MOVIE_SENTIMENT_BEFORE["dataset_after_step"]
    own = Evaluator(["movie-sentiment"], split_sizes=SMALL_SPLITS, data_seed=3, embedder="hashing")
    assert own.report("movie-sentiment", SYNTH) == MOVIE_SENTIMENT_BEFORE["synth"]


def test_figures_on_conftest_movie_mini(make_env):
    env = make_env()
    evaluator = Evaluator.for_env(env)
    pool = RealData.for_env(env)("movie-mini")
    assert evaluator.report("movie-mini", SYNTH) == MOVIE_MINI_BEFORE["synth"]
    assert evaluator.report(env.tasks[0], pool[:30]) == MOVIE_MINI_BEFORE["judge30"]


def tiny_evaluator(**kwargs):
    return Evaluator([tiny_task()], split_sizes=SplitSizes(seed_per_label=0, judge=12, dev=6, test=6),
                     embedder="hashing-256", **kwargs)


def test_report_keys_and_values_on_a_separable_task():
    rep = tiny_evaluator().report("sport-or-food", JUDGE)
    assert list(rep) == REPORT_KEYS
    assert rep["n"] == 12 and rep["test_size"] == 6
    assert rep["test_accuracy"] == 1.0 and rep["test_macro_f1"] == 1.0
    assert rep["gold_test_accuracy"] == 1.0 and rep["gold_test_macro_f1"] == 1.0


def test_report_of_an_empty_set():
    assert tiny_evaluator().report("sport-or-food", []) == {
        "n": 0, "test_accuracy": 0.0, "test_macro_f1": 0.0, "gold_test_accuracy": 0.0, "gold_test_macro_f1": 0.0,
        "test_size": 6}


def test_resources_are_built_lazily_once_per_task_and_gold_is_cached_by_n(monkeypatch):
    import streamsynth.evaluation.evaluator as ev_mod

    loads, fits = [], []
    real_load = ev_mod.load_splits
    monkeypatch.setattr(ev_mod, "load_splits",
                        lambda task, *a, **kw: loads.append(task.name) or real_load(task, *a, **kw))
    real_scores = LinearStudent._scores
    monkeypatch.setattr(LinearStudent, "_scores", lambda self, X, y: fits.append(len(y)) or real_scores(self, X, y))
    evaluator = tiny_evaluator()
    assert loads == []  # nothing until the first report
    first = evaluator.report("sport-or-food", JUDGE[:2] + JUDGE[6:8])
    assert loads == ["sport-or-food"] and fits == [4, 4]  # the student and the gold student
    second = evaluator.report("sport-or-food", JUDGE[2:4] + JUDGE[8:10])
    assert [second[k] for k in ("gold_test_accuracy", "gold_test_macro_f1")] == \
        [first[k] for k in ("gold_test_accuracy", "gold_test_macro_f1")]
    assert loads == ["sport-or-food"] and fits == [4, 4, 4]  # the gold figures at N = 4 are reused
    evaluator.report("sport-or-food", JUDGE[:3] + JUDGE[6:8])
    assert fits == [4, 4, 4, 5, 5]
    assert evaluator.task_data("sport-or-food").gold_indices(100).size == 12  # N is capped at the judge size


def test_students_by_name_and_by_mapping():
    assert list(STUDENTS) == ["linear", "finetune"]
    assert report_key("linear", "test_accuracy") == "test_accuracy"
    with pytest.raises(ValueError, match="unknown student"):
        tiny_evaluator(students=("linear", "nobody"))

    class Constant:
        """A second student: 0.5 everywhere, with its name as the prefix of its figures."""

        def __init__(self, data):
            self.data = data

        def __call__(self, samples):
            return dict.fromkeys(STUDENT_KEYS, 0.5)

    rep = tiny_evaluator(students={"linear": STUDENTS["linear"], "half": Constant}).report("sport-or-food", JUDGE)
    assert list(rep) == ["n", *STUDENT_KEYS, *(f"half_{k}" for k in STUDENT_KEYS), "test_size"]
    assert rep["half_gold_test_accuracy"] == 0.5 and rep["test_accuracy"] == 1.0


def test_bad_tasks_and_samples_are_refused():
    evaluator = tiny_evaluator()
    with pytest.raises(TaskError, match="not one of this evaluator's tasks"):
        evaluator.report("movie-sentiment", [])
    with pytest.raises(ValueError, match="sample 1 has label 'drink'"):
        evaluator.report("sport-or-food", [JUDGE[0], {"text": "a cold lemonade", "label": "drink"}])
    with pytest.raises(ValueError, match=r"sample 0 lacks text field\(s\) \['text'\]"):
        evaluator.report("sport-or-food", [{"label": "sport"}])


def test_run_stream_reports_through_the_evaluator(make_env):
    env = make_env(samples_per_label=3, max_rounds=1)
    evaluator = Evaluator.for_env(env)
    results = run_stream(env, build_agent("oracle", env=env), seed=0, evaluator=evaluator)
    for r in results:
        assert r.test == evaluator.report(r.task, r.dataset) and r.test["n"] == len(r.dataset) == 3 * len(
            env.unwrapped.tasks[r.index].labels)
    assert all(r.test == {} for r in run_stream(make_env(samples_per_label=3, max_rounds=1),
                                                build_agent("copy-seed"), seed=0))  # no evaluator, no test figures



def test_first_round_dataset_is_scored_by_the_linear_student(make_env):
    # two samples per step: the oracle needs three rounds, so the first round's dataset differs from the final one
    env = make_env(samples_per_label=3, max_rounds=3, max_samples_per_step=2)
    evaluator = Evaluator.for_env(env)
    after_round: dict[str, list] = {}
    results = run_stream(env, build_agent("oracle", env=env), seed=0, evaluator=evaluator,
                         on_round=lambda task, rnd, reward: after_round.setdefault(task, []).append(
                             list(env.unwrapped.dataset)))
    for r in results:
        first = after_round[r.task][0]
        assert r.rounds == 3 and len(first) == 2 < len(r.dataset)
        assert r.first_test == evaluator.report(r.task, first, students=["linear"])
        assert r.row()["first_round_test_accuracy"] == round(r.first_test["test_accuracy"], 4)
    # no linear student (a fine-tuned one per round would cost as much as the run), no evaluator: no figure
    fixed = dict.fromkeys(STUDENT_KEYS, 1.0)
    for evaluator in (Evaluator.for_env(env, students={"ft": lambda data: lambda samples: fixed}), None):
        env = make_env(samples_per_label=3, max_rounds=1)
        results = run_stream(env, build_agent("oracle", env=env), seed=0, evaluator=evaluator)
        assert all(r.first_test == {} and r.row()["first_round_test_accuracy"] is None for r in results)
        assert all(r.test["ft_test_accuracy"] == 1.0 if evaluator else r.test == {} for r in results)

# --------------------------------------------------------------------------- (b) the agent cannot reach the test split
def reachable_strings(root, max_depth=25):
    """Every ``str`` reachable from ``root`` through attributes (``vars()``, ``__slots__``), dict keys and values,
    lists, tuples, sets and dataclass fields; numpy arrays, modules, functions and classes are not entered;
    depth-limited and cycle-safe."""
    found: set[str] = set()
    seen: set[int] = set()
    stack = [(root, 0)]
    while stack:
        obj, depth = stack.pop()
        if isinstance(obj, str):
            found.add(obj)
            continue
        if depth > max_depth or id(obj) in seen or obj is None or isinstance(obj, (int, float, bytes, np.ndarray)):
            continue
        if isinstance(obj, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)):
            continue
        seen.add(id(obj))
        children: list = []
        if isinstance(obj, dict):
            children = [*obj.keys(), *obj.values()]
        elif isinstance(obj, (list, tuple, set, frozenset)):
            children = list(obj)
        else:
            if dataclasses.is_dataclass(obj):
                children += [getattr(obj, f.name, None) for f in dataclasses.fields(obj)]
            try:
                children += list(vars(obj).values())
            except TypeError:
                pass
            for cls in type(obj).__mro__:
                for slot in getattr(cls, "__slots__", ()):
                    children.append(getattr(obj, slot, None))
        stack.extend((c, depth + 1) for c in children)
    return found


def test_an_agent_holding_the_env_cannot_reach_the_test_split():
    env = StreamSynthEnv(["movie-sentiment"], embedder="hashing", split_sizes=SMALL_SPLITS, samples_per_label=8,
                         max_rounds=2, data_seed=3)
    obs, _ = env.reset(seed=0)
    env.step(build_agent("oracle", env=env).act(obs))
    # the harness scores the dataset with the env's embedder object: test texts must not land in its cache either
    evaluator = Evaluator.for_env(env)
    evaluator.report(env.current_task, env.dataset)
    assert evaluator.embedder is env.embedder

    test_texts = {s["text"] for s in real_split(env.current_task, "test", env.config.split_sizes, env.config.data_seed)}
    judge_texts = {s["text"]
                   for s in real_split(env.current_task, "judge", env.config.split_sizes, env.config.data_seed)}
    assert len(test_texts) == 100
    in_env = reachable_strings(env)
    assert judge_texts <= in_env  # the walker finds the real data the env does hold (its judge split)...
    assert not test_texts & in_env  # ...and no test text
    assert test_texts <= reachable_strings(evaluator)  # the harness's evaluator holds them: the walker would see them
    assert not hasattr(env, "test_report") and not hasattr(env, "real_pool")
    assert env._context(0).splits.test == [] and not hasattr(env._context(0).scorer, "test_report")


# ----------------------------------------------------------------------- (c) the oracle's data, as before the change
# sha256 of json.dumps(action) of the oracle's first round on each task, computed before the change (the judge split
# then came from env.real_pool()): movie-sentiment then question-type, hashing, SMALL_SPLITS, data_seed=3, seed 5.
ORACLE_BEFORE = {
    "movie-sentiment": "2630fa92af04eab3eaf24eb19f7be7eb1a8abb344dd354ed8a9fa14f62526f68",
    "question-type": "1490c5755e8da40fe3fcb7b20a572b1c8459eb2c6242f76dd40eae23afb7c014",
}


def test_oracle_submits_the_same_judge_samples_as_before():
    env = StreamSynthEnv(["movie-sentiment", "question-type"], embedder="hashing", split_sizes=SMALL_SPLITS,
                         samples_per_label=4, max_rounds=2, data_seed=3)
    agent = build_agent("oracle", env=env, seed=5)
    obs, _ = env.reset(seed=0)
    for k, task in enumerate(ORACLE_BEFORE):
        assert obs["task"] == task
        act = agent.act(obs)
        assert hashlib.sha256(json.dumps(act).encode()).hexdigest() == ORACLE_BEFORE[task]
        obs, reward, terminated, truncated, info = env.step(act)
        agent.observe(obs, reward, terminated, truncated, info)
        if k == 0:
            obs, _ = env.reset()


def test_real_data_is_the_judge_split_in_order_and_never_the_test_split(movie_env):
    task = movie_env.current_task
    judge = split_samples(task.source.load(), task, movie_env.config.split_sizes, seed=movie_env.config.data_seed).judge
    real = RealData.for_env(movie_env)
    assert real("movie-sentiment") == judge == movie_env._context(0).splits.judge
    real("movie-sentiment")[0]["text"] = "changed"  # copies: callers cannot change what others get
    assert real("movie-sentiment") == judge
    assert real_split(task, "judge", movie_env.config.split_sizes, movie_env.config.data_seed) == judge
    with pytest.raises(ValueError, match="test split is for evaluation only"):
        RealData.for_env(movie_env, split="test")
    with pytest.raises(KeyError, match="not in this stream"):
        real("news-topic")
    with pytest.raises(ValueError, match="unknown split"):
        real_split(task, "train")



# --- the fine-tuned (realistic) student ----------------------------------------------------------------------------


def test_finetune_student_reports_prefixed_figures_and_caches_its_gold_on_disk(monkeypatch, tmp_path):
    """The fine-tuned student trains on the samples and on the gold subset of the same size; the gold figures go to
    one file per key in the cache folder and are read back by a new evaluator instead of being trained again."""
    import streamsynth.evaluation.finetune as ft

    monkeypatch.setenv("STREAMSYNTH_CACHE", str(tmp_path))
    calls = []

    def fake_scores(train, evaluate, label_set, fields, config, device="cpu"):
        calls.append(len(train))
        return 0.25 + 0.01 * len(train), 0.125

    monkeypatch.setattr(ft, "finetune_scores", fake_scores)
    first = tiny_evaluator(students=("linear", "finetune")).report("sport-or-food", JUDGE[:4])
    assert calls == [4, 4]  # the synthetic set and the gold subset of N = 4
    assert first["finetune_test_accuracy"] == first["finetune_gold_test_accuracy"] == pytest.approx(0.29)
    assert first["finetune_test_macro_f1"] == 0.125
    assert "test_accuracy" in first  # the linear student is still reported under its plain names
    files = list((tmp_path / "students").glob("finetune-gold-*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["n"] == 4
    again = tiny_evaluator(students=("linear", "finetune")).report("sport-or-food", JUDGE[4:8])
    assert calls == [4, 4, 4]  # a new evaluator: only the synthetic set is trained, the gold comes from disk
    assert again["finetune_gold_test_accuracy"] == first["finetune_gold_test_accuracy"]
    files[0].write_text("{broken")  # a damaged cache file is computed again and rewritten
    tiny_evaluator(students=("finetune",)).report("sport-or-food", JUDGE[:4])
    assert calls == [4, 4, 4, 4, 4] and json.loads(files[0].read_text())["n"] == 4


def test_report_can_pick_some_students(monkeypatch):
    import streamsynth.evaluation.finetune as ft

    monkeypatch.setattr(ft, "finetune_scores", lambda *a, **k: pytest.fail("the fine-tuned student was not asked for"))
    rep = tiny_evaluator(students=("linear", "finetune")).report("sport-or-food", JUDGE[:4], students=("linear",))
    assert not any(k.startswith("finetune_") for k in rep)
    with pytest.raises(ValueError, match="unknown student"):
        tiny_evaluator().report("sport-or-food", JUDGE[:4], students=("finetune",))
