"""Exact-value tests of synlearner's experience memory: replay ranking, round-robin replay, reward statistics,
preferences, the FIFO reference and the safetensors + JSON round trip."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from safetensors.numpy import load_file

from streamsynth.agents.synlearner.memory import ExperienceMemory, MemoryFormatError, ReplayItem
from streamsynth.errors import StreamSynthError


def _prompt(text: str = "write a review") -> list[dict[str, str]]:
    return [{"role": "system", "content": "You write data."}, {"role": "user", "content": text}]


def _item(task: str, completion: str, score: float, prompt: str = "write a review") -> ReplayItem:
    return ReplayItem(task, _prompt(prompt), completion, score)


def _completions(items: list[ReplayItem]) -> list[str]:
    return [it.completion for it in items]


def _filled_memory() -> ExperienceMemory:
    memory = ExperienceMemory(replay_per_task=3, reference_capacity=4)
    memory.add_replay([_item("sst", "a", 0.5), _item("sst", "b", 0.9), _item("trec", "q1", 0.7),
                       _item("sst", "c", 0.5), _item("agnews", "n1", 0.2), _item("trec", "q2", 0.7)])
    memory.record("attribute", "tone=formal", 1.0)
    memory.record("attribute", "tone=formal", 0.25)
    memory.record("pattern", "examples=2", 0.1)
    memory.add_reference(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    memory.add_reference(np.array([[0.0, 0.0, 1.0]]))
    return memory


# --- replay -------------------------------------------------------------------------------------------------------


def test_add_replay_keeps_best_per_task_ties_earlier_first():
    memory = ExperienceMemory(replay_per_task=3)
    memory.add_replay([_item("t", c, s) for c, s in [("a", 0.5), ("b", 0.9), ("c", 0.5), ("d", 0.1), ("e", 0.5)]])
    assert _completions(memory.replay(10)) == ["b", "a", "c"]
    memory.add_replay([_item("t", "f", 0.5)])  # ties with kept items: comes after them, so it is cut
    assert _completions(memory.replay(10)) == ["b", "a", "c"]
    memory.add_replay([_item("t", "g", 0.95)])
    assert _completions(memory.replay(10)) == ["g", "b", "a"]
    assert [it.score for it in memory.replay(10)] == [0.95, 0.9, 0.5]


def test_duplicates_kept_once_with_max_score():
    memory = ExperienceMemory(replay_per_task=5)
    memory.add_replay([_item("t", "a", 0.3), _item("t", "b", 0.5), _item("t", "a", 0.8),
                       _item("t", "a", 0.1, prompt="other prompt")])  # same completion, other prompt: distinct
    assert [(it.completion, it.score, it.prompt[1]["content"]) for it in memory.replay(10)] == [
        ("a", 0.8, "write a review"), ("b", 0.5, "write a review"), ("a", 0.1, "other prompt")]
    memory.add_replay([_item("t", "a", 0.2), _item("t", "b", 0.5)])  # lower / equal score: nothing changes
    assert [(it.completion, it.score) for it in memory.replay(10)] == [("a", 0.8), ("b", 0.5), ("a", 0.1)]
    memory.add_replay([_item("u", "a", 0.4)])  # the same sample under another task is kept there too
    assert len(memory) == 4
    # a duplicate raised to a tie keeps its first position among equals
    memory.add_replay([_item("t", "a", 0.5, prompt="other prompt")])
    assert [(it.completion, it.score) for it in memory.replay(10, exclude_task="u")] == [
        ("a", 0.8), ("b", 0.5), ("a", 0.5)]


def test_replay_round_robin_over_tasks_in_first_added_order():
    memory = ExperienceMemory(replay_per_task=4)
    memory.add_replay([_item("t1", "x1", 0.9), _item("t1", "x2", 0.8), _item("t2", "y1", 0.1)])
    memory.add_replay([_item("t3", "z2", 0.3), _item("t3", "z1", 0.6), _item("t1", "x3", 0.7)])
    assert memory.tasks == ["t1", "t2", "t3"]
    assert _completions(memory.replay(10)) == ["x1", "y1", "z1", "x2", "z2", "x3"]
    assert _completions(memory.replay(4)) == ["x1", "y1", "z1", "x2"]
    assert _completions(memory.replay(10, exclude_task="t2")) == ["x1", "z1", "x2", "z2", "x3"]
    assert _completions(memory.replay(10, exclude_task="t1")) == ["y1", "z1", "z2"]
    assert _completions(memory.replay(10, exclude_task="unknown")) == _completions(memory.replay(10))
    assert memory.replay(0) == []
    assert ExperienceMemory().replay(5) == []
    with pytest.raises(ValueError, match="n must be"):
        memory.replay(-1)


def test_add_replay_validates_everything_first_and_copies_prompts():
    memory = ExperienceMemory()
    prompt = _prompt()
    memory.add_replay([ReplayItem("t", prompt, "a", 1)])
    prompt[1]["content"] = "changed"
    stored = memory.replay(1)[0]
    assert stored.prompt[1]["content"] == "write a review" and isinstance(stored.score, float)
    with pytest.raises(ValueError, match="score"):
        memory.add_replay([_item("t", "b", 0.5), _item("t", "c", float("nan"))])
    assert len(memory) == 1  # the valid item of the rejected batch was not added either
    with pytest.raises(ValueError, match="prompt"):
        memory.add_replay([ReplayItem("t", [{"role": "user"}], "c", 0.5)])
    with pytest.raises(ValueError, match="task"):
        memory.add_replay([_item("", "c", 0.5)])
    with pytest.raises(ValueError, match="completion"):
        memory.add_replay([ReplayItem("t", _prompt(), None, 0.5)])  # type: ignore[arg-type]


def test_constructor_validation():
    with pytest.raises(ValueError, match="replay_per_task"):
        ExperienceMemory(replay_per_task=0)
    with pytest.raises(ValueError, match="reference_capacity"):
        ExperienceMemory(reference_capacity=-3)


# --- statistics and preferences ------------------------------------------------------------------------------------


def test_record_running_count_and_mean():
    memory = ExperienceMemory()
    for reward in (1.0, 0.0, 0.5, 0.7):
        memory.record("attribute", "tone=formal", reward)
    memory.record("attribute", "length=short", 0.2)
    memory.record("pattern", "examples=2", 0.9)
    stats = memory.stats("attribute")
    assert list(stats) == ["tone=formal", "length=short"]
    assert stats["tone=formal"][0] == 4 and stats["tone=formal"][1] == pytest.approx(0.55, abs=1e-15)
    assert stats["length=short"] == (1, 0.2)
    assert memory.stats("pattern") == {"examples=2": (1, 0.9)}
    assert memory.stats("unknown") == {}
    stats.clear()  # a copy
    assert len(memory.stats("attribute")) == 2
    with pytest.raises(ValueError, match="reward"):
        memory.record("pattern", "examples=2", float("inf"))
    with pytest.raises(ValueError, match="kind"):
        memory.record("", "examples=2", 0.5)


def test_preference_exact_values():
    memory = ExperienceMemory()
    memory.record("attribute", "a", 1.0)
    memory.record("attribute", "a", 1.0)  # (2, 1.0) -> shrunk (2 + 1) / 4 = 0.75
    memory.record("attribute", "b", 0.0)  # (1, 0.0) -> shrunk 1 / 3; "c" unseen -> 0.5
    pref = memory.preference("attribute", ["a", "b", "c"], prior=0.5)
    logits = np.array([0.75, 1.0 / 3.0, 0.5]) / 0.1
    expected = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(pref, expected, rtol=1e-12)
    np.testing.assert_allclose(pref, [0.9110879706683747, 0.014125374513060973, 0.07478665481856428], rtol=1e-9)
    # two keys, temperature 1: p(a) = 1 / (1 + exp(0.5 - 0.75))
    np.testing.assert_allclose(memory.preference("attribute", ["a", "c"], prior=0.5, temperature=1.0),
                               [1 / (1 + math.exp(-0.25)), 1 / (1 + math.exp(0.25))], rtol=1e-12)
    # no shrinkage: the raw means; unseen keys still get the prior
    np.testing.assert_allclose(memory.preference("attribute", ["a", "b", "z"], prior=0.0, prior_count=0.0,
                                                 temperature=0.5),
                               np.exp([2.0, 0.0, 0.0]) / np.exp([2.0, 0.0, 0.0]).sum(), rtol=1e-12)
    np.testing.assert_allclose(memory.preference("pattern", ["x", "y", "z", "w"]), [0.25] * 4, rtol=1e-12)
    assert memory.preference("attribute", ["a"]).tolist() == [1.0]


def test_preference_shrinks_toward_the_kind_mean_by_default():
    memory = ExperienceMemory()
    assert memory.kind_mean("attribute") == 0.5  # nothing recorded: the neutral 0.5
    for key, reward in [("a", 0.2), ("a", 0.2), ("b", 0.05)]:
        memory.record("attribute", key, reward)
    memory.record("pattern", "x", 0.9)  # another kind: not part of the attribute mean
    assert memory.kind_mean("attribute") == pytest.approx(0.15)
    # a: (2 * 0.2 + 2 * 0.15) / 4 = 0.175, b: (0.05 + 0.3) / 3 = 0.11667, unseen c: 0.15 (not 0.5)
    expected = np.exp(np.array([0.175, 0.35 / 3, 0.15]) / 0.1)
    np.testing.assert_allclose(memory.preference("attribute", ["a", "b", "c"]), expected / expected.sum(),
                               rtol=1e-12)
    assert memory.preference("attribute", ["a", "c"], prior=0.5).argmax() == 1  # a fixed 0.5 favours the unseen
    with pytest.raises(ValueError, match="prior must be a finite number or None"):
        memory.preference("attribute", ["a"], prior=float("nan"))


def test_preference_validation():
    memory = ExperienceMemory()
    with pytest.raises(ValueError, match="keys"):
        memory.preference("attribute", [])
    with pytest.raises(ValueError, match="temperature"):
        memory.preference("attribute", ["a"], temperature=0.0)
    with pytest.raises(ValueError, match="prior_count"):
        memory.preference("attribute", ["a"], prior_count=-1.0)


# --- reference -----------------------------------------------------------------------------------------------------


def test_reference_fifo_dimension_and_dtype():
    memory = ExperienceMemory(reference_capacity=3)
    assert memory.reference.shape == (0, 0)
    memory.add_reference(np.array([[1.0, 0.0], [0.0, 1.0]]))
    before = memory.reference
    memory.add_reference(np.array([[0.5, 0.5], [0.25, 0.75]]))
    ref = memory.reference
    assert ref.dtype == np.float32 and ref.shape == (3, 2)
    np.testing.assert_array_equal(ref, [[0.0, 1.0], [0.5, 0.5], [0.25, 0.75]])  # the oldest row dropped
    np.testing.assert_array_equal(before, [[1.0, 0.0], [0.0, 1.0]])  # an earlier view is a stable snapshot
    mine = np.arange(10, dtype=np.float32).reshape(5, 2)
    memory.add_reference(mine)  # more rows than capacity: the last 3
    mine[4, 1] = -1.0  # the caller's array stays writable and is not shared
    np.testing.assert_array_equal(memory.reference, [[4, 5], [6, 7], [8, 9]])
    with pytest.raises(ValueError):
        memory.reference[0, 0] = 1.0  # read-only
    with pytest.raises(ValueError, match="dimension 3"):
        memory.add_reference(np.ones((1, 3)))
    with pytest.raises(ValueError, match="2-D"):
        memory.add_reference(np.ones(2))
    with pytest.raises(ValueError, match="finite"):
        memory.add_reference(np.array([[np.nan, 0.0]]))
    np.testing.assert_array_equal(memory.reference, [[4, 5], [6, 7], [8, 9]])  # unchanged by the errors


def test_tasks_len_and_clear():
    memory = _filled_memory()
    assert memory.tasks == ["sst", "trec", "agnews"] and len(memory) == 6
    memory.clear()
    assert memory.tasks == [] and len(memory) == 0
    assert memory.stats("attribute") == {} and memory.reference.shape == (0, 0)
    memory.add_reference(np.ones((1, 5)))  # the dimension was forgotten too
    assert memory.reference.shape == (1, 5)


@pytest.mark.parametrize("part", ["replay", "stats", "reference"])
def test_clear_forgets_only_the_parts_asked_for(part):
    memory, full = _filled_memory(), _filled_memory()
    memory.clear(**{name: name == part for name in ("replay", "stats", "reference")})
    assert (memory.tasks == []) == (part == "replay") and memory.tasks in ([], full.tasks)
    assert memory.stats("attribute") == ({} if part == "stats" else full.stats("attribute"))
    assert memory.reference.shape == ((0, 0) if part == "reference" else full.reference.shape)


# --- persistence ---------------------------------------------------------------------------------------------------


def _load(path) -> ExperienceMemory:
    """A fresh memory with what ``save_state`` wrote to ``path``."""
    memory = ExperienceMemory()
    memory.load_state(path)
    return memory


def _rebuilt(meta, arrays) -> ExperienceMemory:
    memory = ExperienceMemory()
    memory.load_state_dict({"meta": meta, "arrays": arrays})
    return memory


def test_save_load_round_trip(tmp_path):
    memory = _filled_memory()
    memory.save_state(tmp_path / "mem")
    assert sorted(p.name for p in (tmp_path / "mem").iterdir()) == ["memory.json", "memory.safetensors"]
    arrays = load_file(str(tmp_path / "mem" / "memory.safetensors"))
    np.testing.assert_array_equal(arrays["reference"], np.eye(3))
    loaded = _load(tmp_path / "mem")
    assert loaded == memory and loaded is not memory
    assert loaded.replay(20) == memory.replay(20)
    assert _completions(loaded.replay(20)) == ["b", "q1", "n1", "a", "q2", "c"]
    assert loaded.stats("attribute") == memory.stats("attribute")
    assert loaded.stats("attribute")["tone=formal"] == (2, 0.625)
    assert loaded.reference.dtype == np.float32
    np.testing.assert_array_equal(loaded.reference, memory.reference)
    assert (loaded.replay_per_task, loaded.reference_capacity) == (3, 4)
    # the loaded memory keeps behaving like the original (ties, capacity, FIFO)
    for m in (memory, loaded):
        m.add_replay([_item("sst", "d", 0.5), _item("sst", "e", 0.6)])
        m.add_reference(np.array([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]))
    assert loaded == memory
    assert _completions(loaded.replay(3, exclude_task="trec")) == ["b", "n1", "e"]
    assert loaded.reference.shape == (4, 3)
    # saving again overwrites both files; no temporary file is left behind
    loaded.clear()
    loaded.save_state(tmp_path / "mem")
    assert _load(tmp_path / "mem") == ExperienceMemory(3, 4)
    assert sorted(p.name for p in (tmp_path / "mem").iterdir()) == ["memory.json", "memory.safetensors"]


def test_state_is_json_compatible_and_rebuilds(tmp_path):
    memory = _filled_memory()
    meta, arrays = memory.state_dict().values()
    rebuilt = _rebuilt(json.loads(json.dumps(meta)), arrays)
    assert rebuilt == memory
    assert set(arrays) == {"reference"} and arrays["reference"].dtype == np.float32
    meta["replay"][0]["items"][0]["prompt"][0]["content"] = "mutated"  # the state is a copy
    assert memory.replay(1)[0].prompt[0]["content"] == "You write data."
    # an empty memory, and a reference with rows dropped to zero but a known dimension
    assert _rebuilt(*ExperienceMemory(7, 9).state_dict().values()) == ExperienceMemory(7, 9)
    empty_ref = ExperienceMemory()
    empty_ref.add_reference(np.zeros((0, 6)))
    empty_ref.save_state(tmp_path)
    assert _load(tmp_path).reference.shape == (0, 6)
    assert ExperienceMemory() != empty_ref


def test_load_state_dict_rejects_malformed_state_and_keeps_the_memory():
    meta, arrays = _filled_memory().state_dict().values()
    with pytest.raises(ValueError, match="version"):
        _rebuilt({**meta, "version": 99}, arrays)
    with pytest.raises(ValueError, match="malformed"):
        _rebuilt({k: v for k, v in meta.items() if k != "stats"}, arrays)
    with pytest.raises(ValueError, match="shape"):
        _rebuilt(meta, {"reference": arrays["reference"][:1]})
    with pytest.raises(ValueError, match="reference"):
        _rebuilt(meta, {})
    with pytest.raises(ValueError, match="score"):
        bad = json.loads(json.dumps(meta))
        bad["replay"][0]["items"][0]["score"] = "high"
        _rebuilt(bad, arrays)
    memory = _filled_memory()
    with pytest.raises(ValueError, match="version"):
        memory.load_state_dict({"meta": {**meta, "version": 99}, "arrays": arrays})
    assert memory == _filled_memory()


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(MemoryFormatError, match="memory.json: file not found"):
        _load(tmp_path / "nowhere")
    _filled_memory().save_state(tmp_path)
    (tmp_path / "memory.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(MemoryFormatError, match="memory.safetensors: not a readable safetensors"):
        _load(tmp_path)
    _filled_memory().save_state(tmp_path)
    (tmp_path / "memory.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(ValueError, match="memory.json: not valid JSON"):
        _load(tmp_path)
    _filled_memory().save_state(tmp_path)
    (tmp_path / "memory.safetensors").unlink()
    with pytest.raises(StreamSynthError, match="memory.safetensors: file not found"):
        _load(tmp_path)
    ExperienceMemory().save_state(tmp_path)  # arrays file without 'reference', meta edited to expect one
    meta = json.loads((tmp_path / "memory.json").read_text(encoding="utf-8"))
    meta["reference_shape"] = [2, 3]
    (tmp_path / "memory.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(MemoryFormatError, match="memory.json.*reference"):
        _load(tmp_path)
