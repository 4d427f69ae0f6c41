"""Where a model runs: the device (``auto`` picks CUDA when a GPU is visible) and the dtype (``auto``: bf16 on CUDA,
fp32 on CPU). Torch is imported inside the functions; nothing touches a GPU at import time."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def resolve_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` when a CUDA GPU is visible, else ``cpu``; other values are checked and returned.

    >>> resolve_device("cpu")
    'cpu'
    """
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but no CUDA GPU is visible to torch; use device='cpu' or 'auto'")
    try:
        torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda[:N]'") from exc
    return device


_DTYPES = ("float32", "bfloat16", "float16")


def resolve_dtype(dtype: str, device: str) -> torch.dtype:
    """``auto`` -> bfloat16 on CUDA, float32 on CPU; else one of ``float32``, ``bfloat16``, ``float16``.

    >>> resolve_dtype("auto", "cpu")
    torch.float32
    """
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    if dtype not in _DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; use 'auto' or one of {', '.join(_DTYPES)}")
    return getattr(torch, dtype)
