"""Checkpoints of StreamSynth-v0: an env restored from a state continues exactly like the env that saved it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from streamsynth.envs.state import STATE_JSON, STATE_TENSORS, EnvStateError
from streamsynth.evaluation.evaluator import Evaluator
from streamsynth.tasks.real import RealData


def action(env, round_):
    """A fixed, deterministic action: real judge-split samples (3 per label, a new slice each round), one of them
    again (a duplicate), one padded with white space (scored raw, stored stripped) and one with an unknown label."""
    pool = RealData.for_env(env)(env.current_task.name)
    out = []
    for lbl in env.current_task.labels:
        rows = [s for s in pool if s["label"] == lbl]
        out += rows[3 * round_ : 3 * round_ + 3]
        extra = rows[40 + round_]
    out.append(dict(out[0]))
    out.append({k: v if k == "label" else f"  {v}\n" for k, v in extra.items()})
    out.append({**out[1], "label": "no-such-label"})
    return out


def report_of(env):
    """The env's current dataset scored on the test split, by an Evaluator (the harness's, not the env's)."""
    return Evaluator.for_env(env).report(env.current_task, env.dataset)


def assert_obs_equal(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], np.ndarray):
            assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k
        else:
            assert a[k] == b[k], k


def assert_step_equal(a, b):
    obs_a, r_a, term_a, trunc_a, info_a = a
    obs_b, r_b, term_b, trunc_b, info_b = b
    assert_obs_equal(obs_a, obs_b)
    assert r_a == r_b  # exactly, not approximately
    assert (term_a, trunc_a) == (term_b, trunc_b)
    assert info_a["components"] == info_b["components"]
    assert info_a["samples"] == info_b["samples"]
    assert info_a == info_b


def assert_state_equal(a, b, where="state"):
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            assert_state_equal(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_state_equal(x, y, f"{where}[{i}]")
    else:
        assert a == b and type(a) is type(b), where


def run_both(a, b, round_):
    """Step ``a`` and ``b`` with the same action; checks they answer the same; returns ``terminated``."""
    act = action(a, round_)
    out_a, out_b = a.step(act), b.step(act)
    assert_step_equal(out_a, out_b)
    return out_a[2]


def finish_stream(a, b, round_):
    """Play both envs to the end of the 2-task stream (through a reset() at the task boundary), comparing."""
    for task in range(2):
        if task:
            (obs_a, info_a), (obs_b, info_b) = a.reset(), b.reset()
            assert_obs_equal(obs_a, obs_b)
            assert info_a == info_b
            round_ = 0
        while not run_both(a, b, round_):
            round_ += 1
        assert report_of(a) == report_of(b)
    assert_state_equal(a.state_dict(), b.state_dict())


def test_resume_mid_task_continues_exactly(make_env):
    a = make_env()
    a.reset(seed=0)
    a.step(action(a, 0))
    b = make_env()
    b.load_state_dict(a.state_dict())
    assert report_of(b) == report_of(a)
    assert b.dataset == a.dataset and b.render() == a.render()
    assert_state_equal(b.state_dict(), a.state_dict())
    finish_stream(a, b, 1)


def test_resume_at_task_boundary(make_env):
    a = make_env()
    a.reset(seed=0)
    round_ = 0
    while not a.step(action(a, round_))[2]:
        round_ += 1
    b = make_env()
    b.load_state_dict(a.state_dict())
    assert report_of(b) == report_of(a)
    with pytest.raises(RuntimeError, match="is over"):
        b.step(action(b, 0))
    finish_stream_from_reset(a, b)


def finish_stream_from_reset(a, b):
    (obs_a, info_a), (obs_b, info_b) = a.reset(), b.reset()
    assert_obs_equal(obs_a, obs_b)
    assert info_a == info_b and info_a["task_index"] == 1
    round_ = 0
    while not run_both(a, b, round_):
        round_ += 1
    assert report_of(a) == report_of(b)


def test_save_and_load_state_on_disk(make_env, tmp_path):
    a = make_env()
    a.reset(seed=0)
    a.step(action(a, 0))
    ckpt = tmp_path / "ckpt"
    a.save_state(ckpt)
    a.save_state(ckpt)  # overwriting is fine
    assert sorted(p.name for p in ckpt.iterdir()) == sorted([STATE_JSON, STATE_TENSORS])  # no temp files left
    doc = json.loads((ckpt / STATE_JSON).read_text())
    assert doc["position"] == 0 and doc["task"]["round"] == 1
    b = make_env()
    b.load_state(ckpt)
    assert_state_equal(b.state_dict(), a.state_dict())
    assert report_of(b) == report_of(a)
    finish_stream(a, b, 1)


def test_state_dict_is_plain_data_and_numpy_arrays(make_env):
    env = make_env()
    env.reset(seed=0)
    env.step(action(env, 0))
    state = env.state_dict()

    def leaves(x):
        if isinstance(x, dict):
            assert all(isinstance(k, str) for k in x)
            for v in x.values():
                yield from leaves(v)
        elif isinstance(x, list):
            for v in x:
                yield from leaves(v)
        else:
            yield x

    kinds = {type(x) for x in leaves(state)}
    assert kinds <= {str, int, float, bool, type(None), np.ndarray}, kinds
    task = state["task"]
    n = len(task["samples"])
    assert n == len(task["fidelity"]) == len(task["novelty"]) == len(task["keys"]) > 0
    assert task["encoded"]["vectors"].dtype == np.float32 and task["encoded"]["vectors"].shape[0] == n
    assert state["memory"]["embeddings"].dtype == np.float32
    # a snapshot: later steps change neither its numbers nor its arrays
    vectors = task["encoded"]["vectors"].copy()
    memory = state["memory"]["embeddings"].copy()
    env.step(action(env, 1))
    assert task["round"] == 1 and len(task["samples"]) == n
    assert np.array_equal(task["encoded"]["vectors"], vectors)
    assert np.array_equal(state["memory"]["embeddings"], memory)


def test_stored_encodings_equal_a_fresh_encoding_with_hashing(make_env):
    """With the hashing embedder, re-encoding the stored (stripped) samples gives the step-time encodings
    bit for bit; the state still stores them because sentence-transformers embeddings depend on the batch."""
    env = make_env()
    env.reset(seed=0)
    env.step(action(env, 0))
    enc = env.state_dict()["task"]["encoded"]
    fresh = env._context(0).scorer.encode(env.dataset)
    assert np.array_equal(fresh.vectors, enc["vectors"]) and np.array_equal(fresh.features, enc["features"])
    assert fresh.labels.tolist() == enc["labels"].tolist()


def test_rngs_and_seed_are_restored(make_env):
    a = make_env()
    a.reset(seed=3)
    a.action_space.seed(5)
    a.action_space.sample()
    a.np_random.random()
    b = make_env()
    b.load_state_dict(a.state_dict())
    assert b.np_random_seed == 3
    assert b.np_random.random() == a.np_random.random()
    assert b.action_space.sample() == a.action_space.sample()
    assert (b.action_space.fields, b.action_space.labels) == (a.action_space.fields, a.action_space.labels)


def test_state_before_the_first_reset(make_env):
    a = make_env()
    state = a.state_dict()
    assert state["task"] is None and state["memory"] is None and state["position"] == -1
    b = make_env()
    b.load_state_dict(state)
    (obs_a, _), (obs_b, _) = a.reset(), b.reset()
    assert_obs_equal(obs_a, obs_b)
    assert run_both(a, b, 0) is False


@pytest.mark.parametrize(
    "kwargs, problem",
    [
        ({"tasks": "one"}, "tasks"),
        ({"samples_per_label": 4}, "samples_per_label"),
        ({"embedder": "hashing-256"}, "embedder"),
    ],
)
def test_state_of_another_env_is_refused(make_env, movie_task, kwargs, problem):
    a = make_env()
    a.reset(seed=0)
    a.step(action(a, 0))
    state = a.state_dict()
    if kwargs.get("tasks") == "one":
        kwargs = {"tasks": [movie_task]}
    b = make_env(**kwargs)
    with pytest.raises(ValueError, match=f"other arguments.*{problem}: saved"):
        b.load_state_dict(state)
    assert b._state is None and b._memory is None  # unchanged


def test_broken_states_are_refused(make_env):
    a = make_env()
    a.reset(seed=0)
    a.step(action(a, 0))
    b = make_env()
    with pytest.raises(ValueError, match="mapping"):
        b.load_state_dict(None)
    state = a.state_dict()
    with pytest.raises(ValueError, match="version"):
        b.load_state_dict({**state, "version": 99})
    with pytest.raises(ValueError, match="position"):
        b.load_state_dict({**state, "position": 7})
    task = state["task"]
    with pytest.raises(ValueError, match="task.fidelity"):
        b.load_state_dict({**state, "task": {**task, "fidelity": task["fidelity"][:-1]}})
    with pytest.raises(ValueError, match="task.encoded"):
        enc = task["encoded"]
        b.load_state_dict({**state, "task": {**task, "encoded": {**enc, "vectors": enc["vectors"][:-1]}}})
    with pytest.raises(ValueError, match="no novelty memory"):
        b.load_state_dict({**state, "memory": None})
    assert b._state is None and b._memory is None


def test_missing_or_damaged_files_are_refused(make_env, tmp_path):
    a = make_env()
    a.reset(seed=0)
    a.step(action(a, 0))
    b = make_env()
    with pytest.raises(FileNotFoundError, match=f"nowhere/{STATE_JSON}: no such file.*save_state"):
        b.load_state(tmp_path / "nowhere")
    with pytest.raises(EnvStateError):  # also a ValueError
        b.load_state(tmp_path / "nowhere")

    ckpt = a.save_state(tmp_path / "ckpt")
    (ckpt / STATE_JSON).write_text('{"format": "streamsynth.env_state", "position": ')
    with pytest.raises(ValueError, match=f"{STATE_JSON}: not valid JSON.*damaged"):
        b.load_state(ckpt)

    a.save_state(ckpt)
    data = (ckpt / STATE_TENSORS).read_bytes()
    (ckpt / STATE_TENSORS).write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=f"{STATE_TENSORS} does not match .*{STATE_JSON} .*different saves"):
        b.load_state(ckpt)

    a.save_state(ckpt)
    doc = json.loads((ckpt / STATE_JSON).read_text())
    doc["config"]["samples_per_label"] = 99
    (ckpt / STATE_JSON).write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=f"{STATE_JSON}: .*samples_per_label: saved 99"):
        b.load_state(ckpt)
    assert b._state is None and b._memory is None

    a.save_state(ckpt)
    b.load_state(ckpt)  # an intact checkpoint still loads
    assert b.dataset == a.dataset
