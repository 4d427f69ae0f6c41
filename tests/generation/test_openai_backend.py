"""The openai backend against a local OpenAI-compatible server (tests/helpers/fake_openai.py on 127.0.0.1)."""

from __future__ import annotations

import importlib.util

import pytest

from streamsynth.generation.base import SamplingParams
from tests.helpers.fake_openai import FakeOpenAI

pytestmark = pytest.mark.skipif(importlib.util.find_spec("openai") is None,
                                reason="the openai client is not installed (pip install 'streamsynth[openai]')")

PROMPTS = [[{"role": "system", "content": "sys"}, {"role": "user", "content": f'Write one with the label "{lbl}".'}]
           for lbl in ("positive", "negative", "positive")]


@pytest.fixture
def server():
    s = FakeOpenAI()
    yield s
    s.close()


def backend(server, tmp_path, **kw):
    from streamsynth.generation import load_backend

    kw.setdefault("cache", tmp_path / "cache")
    return load_backend("openai", "fake-model", base_url=server.url, **kw)


def test_completions_seeds_usage_and_the_key(server, tmp_path, monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-test-secret")
    b = backend(server, tmp_path, api_key_env="MY_KEY", concurrency=3)
    out = b.generate(PROMPTS, SamplingParams(max_new_tokens=20, temperature=0.7, top_p=0.9), seed=5)
    assert out == [f'Sure! "A {lbl} take number {s}, written by the fake endpoint for the tests."'
                   for lbl, s in (("positive", 5), ("negative", 6), ("positive", 7))]
    assert sorted(r["seed"] for r in server.requests) == [5, 6, 7]
    assert {(r["model"], r["max_tokens"], r["temperature"], r["top_p"]) for r in server.requests} == \
        {("fake-model", 20, 0.7, 0.9)}
    assert all(h.get("authorization") == "Bearer sk-test-secret" for h in server.headers)
    assert b.usage() == {"completions": 3, "prompt_tokens": 33, "completion_tokens": 21}
    assert (b.requests, b.cached) == (3, 0)
    b.close()
    stored = b"".join(p.read_bytes() for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert b"sk-test-secret" not in stored  # the key is never written


def test_the_cache_saves_repeated_requests(server, tmp_path):
    b = backend(server, tmp_path)
    first = b.generate(PROMPTS, seed=1)
    assert len(server.requests) == 3
    assert b.generate(PROMPTS, seed=1) == first and len(server.requests) == 3  # all from the cache
    again = backend(server, tmp_path)  # a new process would see the same cache folder
    assert again.generate(PROMPTS, seed=1) == first and len(server.requests) == 3 and again.cached == 3
    assert again.usage() == {"completions": 3, "prompt_tokens": 0, "completion_tokens": 0}  # the cache costs none
    again.generate(PROMPTS, seed=2)
    assert len(server.requests) == 6  # another seed is another completion
    backend(server, tmp_path, cache=False).generate(PROMPTS, seed=1)
    assert len(server.requests) == 9


def test_retries_then_a_clear_error(server, tmp_path):
    from streamsynth.generation.openai_backend import EndpointError

    b = backend(server, tmp_path, max_retries=2, cache=False)
    server.fail = [429, 503]  # rate-limited, then unavailable: the client waits (Retry-After) and retries
    assert b.generate(PROMPTS[:1], seed=0)[0].startswith("Sure!")
    assert len(server.requests) == 3
    server.fail = [500, 500, 500]
    with pytest.raises(EndpointError, match=r"endpoint http://127\.0\.0\.1:\d+/v1 \(model 'fake-model'\) answered "
                                            r"HTTP 500 after the client's retries"):
        b.generate(PROMPTS[:1], seed=0)
    port = server.url.split(":")[2].split("/")[0]
    server.close()
    with pytest.raises(EndpointError, match=f"127.0.0.1:{port}.*cannot be reached"):
        backend(server, tmp_path, max_retries=0, cache=False).generate(PROMPTS[:1], seed=0)


def test_a_failed_call_keeps_the_completions_it_got(server, tmp_path):
    """Issue 13: an error mid-run loses nothing that arrived; the re-run asks only for what is missing."""
    from streamsynth.generation.openai_backend import EndpointError

    b = backend(server, tmp_path, max_retries=0, concurrency=1)
    server.fail = [200, 500]  # the second request fails, the first and third succeed
    with pytest.raises(EndpointError, match="HTTP 500"):
        b.generate(PROMPTS, seed=4)
    assert len(server.requests) == 3
    out = backend(server, tmp_path).generate(PROMPTS, seed=4)
    assert len(server.requests) == 4 and out[1].startswith("Sure!")  # one request: the missing completion


def test_plain_completions_for_models_without_a_chat_template(server, tmp_path):
    b = backend(server, tmp_path, chat=False, cache=False)
    out = b.generate(PROMPTS[:1], SamplingParams(max_new_tokens=8, stop=("\n",)), seed=3)
    req = server.requests[0]
    assert req["path"] == "/v1/completions" and req["prompt"] == 'sys\n\nWrite one with the label "positive".\n\n'
    assert req["stop"] == ["\n"] and out[0].startswith("Sure!")


def test_an_agent_synthesizes_through_the_endpoint(server, tmp_path, make_env):
    from streamsynth.agents import build_agent
    from streamsynth.agents.llm import LLMConfig

    env = make_env(samples_per_label=2, max_rounds=1)
    agent = build_agent("zerogen", llm=LLMConfig(max_new_tokens=32), backend=backend(server, tmp_path), seed=0)
    obs, _ = env.reset(seed=0)
    action = agent.act(obs)
    _, _, _, _, info = env.step(action)
    assert info["accepted"] >= 2 and agent.generation_usage()["completions"] == len(server.requests) > 0


def test_synlearner_refuses_a_remote_endpoint():
    from streamsynth.agents.synlearner.config import SynLearnerConfig

    with pytest.raises(ValueError, match="cannot be trained from here: use backend 'transformers'"):
        SynLearnerConfig(backend="openai")


def test_cli_evaluate_with_the_openai_backend(server, tmp_path, monkeypatch):
    """`synth-agent evaluate --backend openai --base-url URL --model NAME`: the run goes through the endpoint and
    its config.json holds the endpoint settings but not the key."""
    from typer.testing import CliRunner

    from streamsynth.cli.main import app

    monkeypatch.setenv("STREAMSYNTH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-do-not-write")
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["evaluate", "--agent", "zerogen", "--stream", "movie-sentiment", "--backend",
                                   "openai", "--base-url", server.url, "--model", "fake-model", "--concurrency", "4",
                                   "--samples-per-label", "2", "--rounds", "1", "--embedder", "hashing",
                                   "--student", "linear", "--output", str(out)])
    assert res.exit_code == 0, res.output
    import json

    config = (out / "config.json").read_text()
    assert server.url in config and "sk-do-not-write" not in config
    metrics = json.loads((out / "metrics.json").read_text())
    assert sum(t["completions"] for t in metrics["tasks"]) == len(server.requests) > 0  # every request counted
    assert sum(t["prompt_tokens"] for t in metrics["tasks"]) == 11 * len(server.requests)  # as the endpoint says
    assert sum(t["completion_tokens"] for t in metrics["tasks"]) == 7 * len(server.requests)
    assert "sk-do-not-write" not in json.dumps(metrics)
