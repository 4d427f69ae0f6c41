"""Nothing crashes the env: thousands of random structured and unstructured actions (hypothesis)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamsynth.errors import InvalidActionError
from streamsynth.rewards.reasons import Reason

TEXT = st.text(max_size=80)
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), TEXT, st.binary(max_size=20))
JSONISH = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                       max_leaves=12)
LABEL = st.one_of(st.sampled_from(["positive", "negative", "location", "human"]), TEXT, SCALAR)
SAMPLE = st.one_of(
    st.fixed_dictionaries({"text": st.text(min_size=0, max_size=400), "label": LABEL}),
    st.fixed_dictionaries({"text": SCALAR, "label": LABEL}, optional={"extra": JSONISH}),
    st.dictionaries(TEXT, JSONISH, max_size=5),
    JSONISH,
)
ACTION = st.one_of(
    st.lists(SAMPLE, max_size=20),
    st.tuples(SAMPLE, SAMPLE),
    st.lists(SAMPLE, max_size=6).map(lambda xs: "\n".join(json.dumps(x, default=str) for x in xs)),
    st.text(max_size=300),
    JSONISH,
    st.binary(max_size=50),
)


@pytest.fixture(scope="module")
def fuzz_env(movie_task, topic_task):
    from streamsynth.envs.streamsynth_env import StreamSynthEnv
    from tests.helpers.data import SMALL_SPLITS

    env = StreamSynthEnv([movie_task, topic_task], embedder="hashing", split_sizes=SMALL_SPLITS,
                         samples_per_label=10_000, max_rounds=1_000_000, cycle=True)
    env.reset(seed=0)
    return env


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(action=ACTION)
def test_random_actions_never_crash(fuzz_env, action):
    env = fuzz_env
    before = len(env.dataset)
    try:
        obs, reward, terminated, truncated, info = env.step(action)
    except InvalidActionError:
        assert len(env.dataset) == before  # nothing changed
        return
    assert env.observation_space.contains(obs)
    assert isinstance(reward, float) and reward == reward  # not NaN
    assert len(info["samples"]) == info["accepted"] + len(info["rejected"])
    assert len(env.dataset) == before + info["accepted"]
    for row in info["rejected"]:
        assert isinstance(row["reason"], str) and row["reason"]
        assert Reason(row["code"]).value == row["code"]  # every rejection carries a known code
