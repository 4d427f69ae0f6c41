"""GGUF -> Hugging Face folder conversion: dequantize the weights once with the ``gguf`` package, map tensor names
with one ``gguf.get_tensor_name_map``, reuse transformers' per-architecture fix-ups, and write ``model.safetensors``,
config and tokenizer files (see :mod:`streamsynth.generation.models` for when and where)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamsynth.errors import BackendError

if TYPE_CHECKING:  # heavy imports stay out of module import time
    import torch
    from transformers import PretrainedConfig

#: Bump when :func:`convert_gguf` changes what it writes: older cached folders are then ignored and rebuilt.
CONVERSION_VERSION = 1

#: Name of the file recording where a converted folder came from.
CONVERSION_INFO_FILE = "streamsynth_conversion.json"


def convert_gguf(gguf_path: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Dequantize a GGUF file into a Hugging Face folder (float32 safetensors, config, tokenizer, chat template).

    Config and tokenizer come from transformers' own GGUF readers; the weights are read once with
    ``gguf.GGUFReader``, dequantized with ``gguf.quants.dequantize``, fixed up by transformers' per-architecture
    tensor processor (e.g. Llama's q/k row permutation) and checked name by name and shape by shape against the
    model class before anything is written.

    Returns:
        provenance written to :data:`CONVERSION_INFO_FILE` (source file, architecture, versions).
    """
    import gguf
    import transformers
    from safetensors.torch import save_file
    from transformers import AutoConfig, GenerationConfig, PreTrainedTokenizerFast

    gguf_path, out_dir = Path(gguf_path), Path(out_dir)
    with _quiet_transformers():
        config = AutoConfig.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
        # The generic fast class reads only the vocabulary (AutoTokenizer would parse the whole config again).
        tokenizer = PreTrainedTokenizerFast.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    # The config read from a GGUF describes the quantized file; the folder holds plain float weights.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = "float32"
    model_class, expected = _parameter_shapes(config)
    config.architectures = [model_class]

    reader = gguf.GGUFReader(str(gguf_path))
    architecture = str(reader.fields["general.architecture"].contents())
    tensors = gguf_state_dict(reader, architecture, config, expected)

    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    config.save_pretrained(out_dir)
    GenerationConfig.from_model_config(config).save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return {
        "source": gguf_path.name,
        "source_bytes": gguf_path.stat().st_size,
        "architecture": architecture,
        "model_type": config.model_type,
        "conversion_version": CONVERSION_VERSION,
        "transformers": transformers.__version__,
        "gguf": _version("gguf"),
    }


def _parameter_shapes(config: PretrainedConfig) -> tuple[str, dict[str, tuple[int, ...]]]:
    """``(model class name, {hf name: shape})`` of every tensor the model class stores; built on the meta device."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"), _quiet_transformers():
        model = AutoModelForCausalLM.from_config(config)
    return type(model).__name__, {name: tuple(t.shape) for name, t in model.state_dict().items()}


def gguf_state_dict(
    reader: Any, architecture: str, config: PretrainedConfig, expected: dict[str, tuple[int, ...]]
) -> dict[str, torch.Tensor]:
    """Dequantize every tensor of a GGUF reader into ``{hf name: float32 tensor}``.

    Raises:
        BackendError: a model parameter has no GGUF tensor (other than a tied output embedding), or a shape differs.
    """
    import numpy as np
    import torch
    from gguf.quants import dequantize
    from transformers.modeling_gguf_pytorch_utils import TENSOR_PROCESSORS, TensorProcessor

    name_map = gguf_to_hf_names(architecture, config.num_hidden_layers, expected)
    processor = TENSOR_PROCESSORS.get(architecture, TensorProcessor)(config=config.to_dict())
    tensors: dict[str, torch.Tensor] = {}
    for tensor in reader.tensors:
        weights: np.ndarray = dequantize(tensor.data, tensor.tensor_type)
        result = processor.process(
            weights=weights, name=tensor.name, tensor_key_mapping=name_map, parsed_parameters={"tensors": {}}
        )
        hf_name = name_map.get(result.name)
        if hf_name is None:
            continue  # e.g. rope_freqs: recomputed by the model, not a parameter
        array = np.ascontiguousarray(result.weights, dtype=np.float32)
        if not array.flags.writeable:  # a view of the memory-mapped file (float32 tensors): torch wants its own copy
            array = array.copy()
        if tuple(array.shape) != expected[hf_name]:
            raise BackendError(
                f"GGUF tensor {tensor.name} has shape {array.shape}, but {hf_name} needs {expected[hf_name]}; "
                "this GGUF architecture variant is not supported by the converter"
            )
        tensors[hf_name] = torch.from_numpy(array)
    tied = {"lm_head.weight"} if getattr(config, "tie_word_embeddings", False) else set()
    missing = sorted(set(expected) - set(tensors) - tied)
    if missing:
        raise BackendError(
            f"the GGUF file ({architecture}) has no tensors for {len(missing)} parameters, e.g. {missing[:3]}; "
            "this architecture is not supported by the converter"
        )
    return tensors


def gguf_to_hf_names(architecture: str, num_layers: int, hf_names: Any) -> dict[str, str]:
    """``{gguf tensor name: hf parameter name}`` for the given transformers parameter names.

    >>> gguf_to_hf_names("llama", 1, ["model.layers.0.self_attn.q_proj.weight", "model.norm.weight"])
    {'blk.0.attn_q.weight': 'model.layers.0.self_attn.q_proj.weight', 'output_norm.weight': 'model.norm.weight'}
    """
    import gguf

    arch = {value: key for key, value in gguf.MODEL_ARCH_NAMES.items()}.get(architecture)
    if arch is None:
        raise BackendError(f"GGUF architecture {architecture!r} is unknown to gguf {_version('gguf')}; upgrade gguf")
    name_map = gguf.get_tensor_name_map(arch, num_layers)
    mapping: dict[str, str] = {}
    for hf_name in hf_names:
        base, dot, suffix = hf_name.rpartition(".")
        if suffix not in ("weight", "bias"):
            base, dot, suffix = hf_name, "", ""
        gguf_base = name_map.get_name(base)
        if gguf_base is not None:
            mapping[gguf_base + dot + suffix] = hf_name
    return mapping


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


class _quiet_transformers:
    """Context manager silencing transformers' info/warning logs and progress bars (GGUF loads are chatty)."""

    def __enter__(self) -> None:
        from transformers.utils import logging

        self._level = logging.get_verbosity()
        self._bars = logging.is_progress_bar_enabled()
        logging.set_verbosity_error()
        logging.disable_progress_bar()

    def __exit__(self, *exc: object) -> None:
        from transformers.utils import logging

        logging.set_verbosity(self._level)
        if self._bars:
            logging.enable_progress_bar()


# ----------------------------------------------------------------------------------------------------------- loading
