"""The prompting baselines (fewshot, attrprompt, progen) and the copy-seed sanity agent, in the real loop.

The LLM is replaced by :class:`RecordingBackend`, which answers every prompt with a varied, parseable completion and
records the prompts, so the tests can check what each agent asks; one slow test uses the real packaged model.
"""

from __future__ import annotations

import re

import pytest

from streamsynth.agents import AGENTS, LLMConfig, build_agent
from streamsynth.agents.attrprompt import (
    GENERIC_ATTRIBUTES,
    AttributeFallbackWarning,
    AttrPromptAgent,
    parse_attribute_proposal,
)
from streamsynth.agents.copy_seed import CopySeedAgent
from streamsynth.agents.fewshot import FewShotAgent
from streamsynth.agents.progen import ProGenAgent
from streamsynth.evaluation.runner import run_stream
from streamsynth.generation.base import GenerationBackend, SamplingParams

SUBJECTS = ["the harbour chase", "an aging jazz drummer", "this quiet rural drama", "its neon-lit heist",
            "a clumsy robot sidekick", "the courtroom finale", "every musical number", "a bleak war epic",
            "the twin sisters subplot", "its hand-drawn animation", "a haunted lighthouse", "the spy caper"]
DETAILS = ["sharp dialogue", "a sluggish middle act", "gorgeous location shots", "wooden acting", "a daring score",
           "clever editing", "too many cameos", "real warmth", "cheap effects", "a brave ending", "odd pacing"]
ENDINGS = ["I laughed a lot", "my friends argued after", "nobody in the row moved", "the crowd cheered",
           "I checked my phone twice", "it stayed with me", "the kids loved it"]
REQUEST = re.compile(r'Write one new example with the label "([^"]+)"')
EXAMPLE_LINE = re.compile(r"^\[([^\]]+)\] (.+)$", re.MULTILINE)
PROPERTIES = re.compile(r"It should have these properties: (.+)\.$", re.MULTILINE)
PROPOSAL_MARK = "List 3 attributes"

PROPOSAL = """Sure! Here are three attributes:
1. **Region**: Europe; Asia; South America; asia; Africa
- time period: ancient; modern; medieval
location: value1; value2
numeric: 1; 2"""


class RecordingBackend(GenerationBackend):
    """Test double: one varied, parseable completion per label prompt, a scripted answer to attribute proposals.

    ``copies``: texts returned verbatim for every ``copy_every``-th label prompt (e.g. seed examples, which the env
    rejects); ``short_every``: every such prompt gets a too-short answer (rejected too).
    """

    name = "recording"

    def __init__(self, proposal: str = PROPOSAL, copies: tuple[str, ...] = (), copy_every: int = 0,
                 short_every: int = 0) -> None:
        self.calls: list[list] = []
        self.proposal = proposal
        self.copies = copies
        self.copy_every = copy_every
        self.short_every = short_every
        self.count = 0

    def generate(self, prompts, params=SamplingParams(), *, seed=None, progress=False):
        self.calls.append(list(prompts))
        out = []
        for p in prompts:
            user = p[-1]["content"]
            if PROPOSAL_MARK in user:
                out.append(self.proposal)
                continue
            label = REQUEST.search(user).group(1)
            n = self.count
            self.count += 1
            if self.copy_every and n % self.copy_every == 1 and self.copies:
                out.append(self.copies[n % len(self.copies)])
            elif self.short_every and n % self.short_every == 2:
                out.append("Meh.")
            else:
                out.append(f'Here is one:\n"{SUBJECTS[n % 12]} with {DETAILS[(5 * n + 1) % 11]}, '
                           f'{ENDINGS[(3 * n + 2) % 7]}; {label} take {n}."')
        return out

    def label_prompts(self) -> list[str]:
        """The user messages of every label prompt, in order."""
        return [p[-1]["content"] for call in self.calls for p in call if PROPOSAL_MARK not in p[-1]["content"]]

    def proposal_calls(self) -> int:
        return sum(PROPOSAL_MARK in p[-1]["content"] for call in self.calls for p in call)


def requested_label(prompt: str) -> str:
    return REQUEST.search(prompt).group(1)


def examples_of(prompt: str) -> list[tuple[str, str]]:
    """The ``(label, text)`` in-context examples of a prompt."""
    return EXAMPLE_LINE.findall(prompt)


def properties_of(prompt: str) -> dict[str, str]:
    m = PROPERTIES.search(prompt)
    return dict(part.split(": ", 1) for part in m.group(1).split("; ")) if m else {}


# ------------------------------------------------------------------ registry


def test_agents_are_registered_after_the_first_two():
    assert list(AGENTS)[:2] == ["zerogen", "oracle"]
    backend = RecordingBackend()
    for name, cls in [("fewshot", FewShotAgent), ("attrprompt", AttrPromptAgent), ("progen", ProGenAgent),
                      ("copy-seed", CopySeedAgent)]:
        assert name in AGENTS
        agent = build_agent(name, backend=backend, seed=3)
        assert isinstance(agent, cls) and agent.name == name and agent.seed == 3
    with pytest.raises(ValueError, match="^unknown agent 'gpt-99'; known agents: zerogen, oracle, ") as err:
        build_agent("gpt-99")
    assert {"fewshot", "attrprompt", "progen", "copy-seed"} <= set(str(err.value).split(": ")[1].split(", "))


@pytest.mark.parametrize("cls, kwargs, match", [
    (FewShotAgent, {"k": 0}, "k must be an int >= 1, got 0"),
    (ProGenAgent, {"k": 4, "candidates": 2}, "candidates .* must be at least k"),
    (AttrPromptAgent, {"n_values": 1}, "n_values must be an int >= 2, got 1"),
])
def test_bad_options_are_named(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(backend=RecordingBackend(), **kwargs)


# ------------------------------------------------------------------ fewshot


def test_fewshot_prompts_carry_balanced_seed_examples(make_env):
    env = make_env(samples_per_label=3, max_rounds=1)
    backend = RecordingBackend()
    agent = build_agent("fewshot", backend=backend, seed=0)
    seeds: dict[str, set[tuple[str, str]]] = {}
    obs, _ = env.reset(seed=0)
    while True:
        seeds[obs["task"]] = {(s["label"], s["text"]) for s in obs["seed_examples"]}
        obs, _, terminated, _, _ = env.step(agent.act(obs))
        assert terminated  # one round per task
        if obs["task_index"] + 1 == len(env.tasks):
            break
        obs, _ = env.reset()
    movie, question = backend.calls[0], backend.calls[1]
    assert len(movie) == 2 * 5 and len(question) == 3 * 5  # ceil(3 * 1.5) per label
    for prompts, task, n_labels in ((movie, "movie-mini", 2), (question, "question-mini", 3)):
        shown = [examples_of(p[-1]["content"]) for p in prompts]
        for ex in shown:
            assert len(ex) == 4 and set(ex) <= seeds[task]  # k = 4 real seed examples, nothing else
            per_label = [lbl for lbl, _ in ex]
            assert max(per_label.count(lbl) for lbl in set(per_label)) <= -(-4 // n_labels)
        assert len({tuple(ex) for ex in shown}) > 1  # different prompts see different examples (or orders)
        assert set().union(*map(set, shown)) == seeds[task]  # over the round, every seed example is used


def test_fewshot_runs_in_the_loop_and_needs_seed_examples(make_env):
    env = make_env(samples_per_label=3, max_rounds=2)
    results = run_stream(env, build_agent("fewshot", backend=RecordingBackend()), seed=0)
    assert all(r.accepted > 0 for r in results)
    no_seed = make_env(split_sizes={"seed_per_label": 0, "judge": 200, "dev": 100, "test": 100})
    obs, _ = no_seed.reset(seed=0)
    with pytest.raises(ValueError, match="needs seed examples.*seed_per_label=0"):
        build_agent("fewshot", backend=RecordingBackend()).act(obs)


# ------------------------------------------------------------------ attrprompt


def test_attrprompt_draws_one_value_per_dimension_per_prompt(make_env, movie_task):
    env = make_env([movie_task], samples_per_label=6, max_rounds=1)
    backend = RecordingBackend()
    agent = build_agent("attrprompt", backend=backend, seed=0)
    results = run_stream(env, agent, seed=0)
    assert backend.proposal_calls() == 0  # the task has its own dimensions
    drawn = [properties_of(p) for p in backend.label_prompts()]
    assert len(drawn) == 2 * 9
    for props in drawn:
        assert set(props) == set(movie_task.attributes)
        assert all(props[dim] in movie_task.attributes[dim] for dim in props)
    assert len({tuple(sorted(p.items())) for p in drawn}) == 4  # all 2 x 2 combinations occur over 18 prompts
    assert results[0].accepted > 0
    assert agent.describe()["proposed_attributes"] == {} and agent.describe()["attribute_fallback"] is False


def test_attrprompt_asks_the_llm_for_dimensions_once_per_task_name(make_env, movie_task, topic_task):
    backend = RecordingBackend()
    agent = build_agent("attrprompt", backend=backend, seed=0)
    run_stream(make_env([topic_task], samples_per_label=3, max_rounds=1), agent, seed=0)
    assert backend.proposal_calls() == 1
    proposal = backend.calls[0][0][-1]["content"]
    assert topic_task.instruction in proposal and "asks where" in proposal and "value1; value2" in proposal
    expected = {"region": ["Europe", "Asia", "South America", "Africa"],
                "time period": ["ancient", "modern", "medieval"]}
    described = agent.describe()
    assert described["proposed_attributes"] == {"question-mini": expected}
    assert described["attribute_fallback"] is False
    drawn = [properties_of(p) for p in backend.label_prompts()]
    assert len(drawn) == 3 * 5
    for props in drawn:
        assert set(props) == set(expected) and all(props[d] in expected[d] for d in props)
    assert len({p["region"] for p in drawn}) > 1
    # another task, then the same task again (a new env, same name): the cached proposal is reused, no new call
    calls_before = len(backend.calls)
    run_stream(make_env([movie_task, topic_task], samples_per_label=3, max_rounds=1), agent, seed=0)
    assert backend.proposal_calls() == 1 and len(backend.calls) == calls_before + 2
    assert agent.describe()["proposed_attributes"] == {"question-mini": expected}


def test_attrprompt_unusable_proposal_falls_back_visibly(make_env, topic_task):
    backend = RecordingBackend(proposal="I am sorry, I cannot list attributes.")
    agent = build_agent("attrprompt", backend=backend, seed=0)
    with pytest.warns(AttributeFallbackWarning, match="question-mini.*generic dimensions"):
        run_stream(make_env([topic_task], samples_per_label=2, max_rounds=1), agent, seed=0)
    described = agent.describe()
    assert described["attribute_fallback"] is True and described["attribute_fallback_tasks"] == ["question-mini"]
    assert described["proposed_attributes"]["question-mini"] == {k: list(v) for k, v in GENERIC_ATTRIBUTES.items()}
    for props in map(properties_of, backend.label_prompts()):
        assert set(props) == set(GENERIC_ATTRIBUTES)


@pytest.mark.parametrize("text, expected", [
    ("tone: dry; warm; dry; Warm; bitter; sweet; sour; salty", {"tone": ("dry", "warm", "bitter", "sweet", "sour")}),
    ("a: x1; y1\na: x2; y2\nb: p; q\nc: r; s\nd: t; u", {"a": ("x1", "y1"), "b": ("p", "q"), "c": ("r", "s")}),
    ("Dimension 1: short; long\nmood | calm | tense", {}),
    ("setting: 'a busy city street'; \"a farm\"; 42; ...", {"setting": ("a busy city street", "a farm")}),
    ("this is a far too long dimension name: x; y\nlength: " + "very " * 7 + "long; short", {}),
    # seen from SmolLM2-135M: a template echoed back, an example text, a values list with a colon inside
    ("attribute name: attribute value1; value2\nTweet: the [label] in love with [label1, style] and [label2, "
     "topic]\nattributes: \"credit: technologies, startups, business models", {}),
    ("topics: tech: ai; sport; news; [x]", {"topics": ("sport", "news")}),
    ("Explanation: is a person, is a chef\n- reply: Hello, yes", {}),
])
def test_parse_attribute_proposal_keeps_only_well_formed_parts(text, expected):
    assert parse_attribute_proposal(text, exclude=["negative"]) == expected


# ------------------------------------------------------------------ progen


def test_progen_round_two_shows_the_best_accepted_samples_of_round_one(make_env, movie_task):
    env = make_env([movie_task], samples_per_label=6, max_rounds=3)
    obs, _ = env.reset(seed=0)
    backend = RecordingBackend(copies=tuple(s["text"] for s in obs["seed_examples"]), copy_every=4, short_every=5)
    agent = ProGenAgent(LLMConfig(oversample=1.0), backend=backend, seed=0, k=2, candidates=3)
    action = agent.act(obs)
    assert all(not examples_of(p[-1]["content"]) for p in backend.calls[0])  # round 1: zero-shot
    obs, _, terminated, _, info = env.step(action)
    agent.observe(obs, 0.0, terminated, False, info)
    assert not terminated and info["rejected"]
    accepted = {}
    for row in info["samples"]:
        if row["accepted"]:
            accepted.setdefault(row["label"], []).append((row["score"], action[row["index"]]["text"]))
    rejected = {r["sample"]["text"] for r in info["rejected"]}
    assert {lbl: sorted(rows) for lbl, rows in accepted.items()} == {
        lbl: sorted((score, s["text"]) for score, s in rows) for lbl, rows in agent.pool.items()}
    assert {"seed_copy", "too_short"} <= {r["code"] for r in info["rejected"]}

    agent.act(obs)
    round2 = [p[-1]["content"] for p in backend.calls[1]]
    shown_by_label: dict[str, set[str]] = {}
    for prompt in round2:
        label = requested_label(prompt)
        ex = examples_of(prompt)
        assert 1 <= len(ex) <= 2 and all(lbl == label for lbl, _ in ex)
        scores = dict((t, s) for s, t in accepted[label])
        assert all(text in scores for _, text in ex)  # only accepted samples of round 1 ...
        assert [scores[t] for _, t in ex] == sorted((scores[t] for _, t in ex), reverse=True)  # ... best first
        assert not any(r in prompt for r in rejected)  # ... and never a rejected one
        shown_by_label.setdefault(label, set()).update(t for _, t in ex)
    for label, rows in accepted.items():
        top3 = {t for _, t in sorted(rows, reverse=True)[:3]}
        assert max(rows)[1] in shown_by_label[label]  # the highest-scoring one is used
        assert shown_by_label[label] <= top3  # drawn from the 3 best only
    assert len({tuple(examples_of(p)) for p in round2}) > 1  # varied across prompts


def test_progen_resets_its_pool_at_each_task(make_env):
    backend = RecordingBackend(short_every=3)
    agent = build_agent("progen", llm=LLMConfig(oversample=1.0), backend=backend, seed=0)
    results = run_stream(make_env(samples_per_label=4, max_rounds=2), agent, seed=0)
    assert [r.rounds for r in results] == [2, 2]
    first_question_call = next(c for c in backend.calls if requested_label(c[0][-1]["content"]) == "location")
    assert all(not examples_of(p[-1]["content"]) for p in first_question_call)
    assert set(agent.pool) == {"location", "human", "numeric"}
    with pytest.raises(RuntimeError, match="call observe\\(\\) right after"):
        agent.observe({}, 0.0, False, False, {"samples": [{"index": 0, "accepted": True}] * 99})


# ------------------------------------------------------------------ copy-seed


def test_copy_seed_earns_exactly_nothing(make_env):
    env = make_env(samples_per_label=3, max_rounds=2)
    results = run_stream(env, build_agent("copy-seed"), seed=0)
    assert [r.task for r in results] == ["movie-mini", "question-mini"]
    for r, n_labels in zip(results, (2, 3)):
        assert r.episode_return == 0.0 and r.figures["score"] == 0.0
        assert r.accepted == 0 and r.dataset == [] and r.rounds == 2
        assert r.submitted == 2 * 3 * n_labels  # 3 seed examples per label, every round
        assert r.rejected_reasons == {"seed_copy": r.submitted}


# ------------------------------------------------------------------ determinism


def _prompts_of(name: str, seed: int, make_env) -> list[str]:
    backend = RecordingBackend(short_every=4)
    agent = build_agent(name, llm=LLMConfig(oversample=1.0), backend=backend, seed=seed)
    run_stream(make_env(samples_per_label=3, max_rounds=2), agent, seed=0)
    return [p[-1]["content"] for call in backend.calls for p in call]


@pytest.mark.parametrize("name", ["fewshot", "attrprompt", "progen"])
def test_same_seed_same_prompts(name, make_env):
    first = _prompts_of(name, 0, make_env)
    assert first == _prompts_of(name, 0, make_env)
    if name != "progen":  # progen's choice only varies once its pools exceed k; its round 1 is zero-shot
        assert first != _prompts_of(name, 1, make_env)


# ------------------------------------------------------------------ the real model


@pytest.mark.slow
def test_baselines_with_the_packaged_model_produce_accepted_samples(make_env, movie_task):
    """The real default generator (SmolLM2-135M-Instruct, CPU), one round each, loaded once and shared."""
    config = LLMConfig(max_new_tokens=40, batch_size=8)
    backend = None
    for name in ("fewshot", "attrprompt", "progen"):
        env = make_env([movie_task], samples_per_label=2, max_rounds=1)
        agent = build_agent(name, llm=config, backend=backend, seed=0)
        backend = agent.backend
        obs, _ = env.reset(seed=0)
        action = agent.act(obs)
        assert action and all(s["text"].strip() for s in action)
        obs, reward, terminated, truncated, info = env.step(action)
        agent.observe(obs, reward, terminated, truncated, info)
        assert info["accepted"] >= 1, (name, info["rejected"])
