"""Model load time: first use (GGUF -> Hugging Face folder conversion), from the cache, and stock transformers.

    python benchmarks/bench_model_load.py                    # smollm2-135m
    python benchmarks/bench_model_load.py --model qwen2.5-coder-0.5b

Each measurement runs in a fresh Python process and includes importing transformers, as a user's first call would:

* first use: ``load_model_and_tokenizer`` with ``STREAMSYNTH_CACHE`` pointing to a new empty temporary folder;
* cached: the same call again, reading the folder written by the first;
* stock: ``AutoTokenizer`` and ``AutoModelForCausalLM.from_pretrained(folder, gguf_file=...)``, which dequantizes on
  every load. This process also compares the logits of both models on one sentence.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SENTENCE = "The quick brown fox jumps over the lazy dog, and the film was surprisingly good."


def child(mode: str, model: str, gguf: str | None) -> dict[str, float]:
    """Measure one load in this (fresh) process; ``gguf`` is the GGUF path for the stock mode."""
    started = time.perf_counter()
    if mode in ("first", "cached"):
        from streamsynth.generation.models import load_model_and_tokenizer

        load_model_and_tokenizer(model)
        return {"seconds": time.perf_counter() - started}

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging

    logging.disable_progress_bar()
    logging.set_verbosity_error()
    path = Path(gguf)
    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    stock = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
    seconds = time.perf_counter() - started

    from streamsynth.generation.models import load_model_and_tokenizer

    ours, our_tokenizer = load_model_and_tokenizer(model, dtype=torch.float32)
    ids = tokenizer(SENTENCE, return_tensors="pt").input_ids
    with torch.inference_mode():
        diff = (stock(ids).logits - ours(ids).logits).abs().max().item()
    same_tokens = our_tokenizer(SENTENCE).input_ids == ids[0].tolist()
    return {"seconds": seconds, "max_logit_diff": diff, "same_tokens": float(same_tokens)}


def run_child(mode: str, model: str, cache: str, gguf: str | None) -> dict[str, float]:
    env = dict(os.environ, STREAMSYNTH_CACHE=cache, HF_HUB_OFFLINE="1")
    command = [sys.executable, __file__, "--child", mode, "--model", model] + (["--gguf", gguf] if gguf else [])
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{mode} load failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m", help="a packaged model name or a local .gguf file")
    parser.add_argument("--child", choices=["first", "cached", "stock"], help=argparse.SUPPRESS)
    parser.add_argument("--gguf", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.model, args.gguf)))
        return

    from streamsynth.generation.models import assemble_parts, resolve_model

    resolved = resolve_model(args.model)
    if resolved.kind not in ("packaged", "gguf"):
        raise SystemExit(f"{args.model!r} is not a GGUF model; this benchmark measures GGUF conversion")
    with tempfile.TemporaryDirectory(prefix="streamsynth-bench-") as tmp:
        cache = os.path.join(tmp, "cache")
        if resolved.kind == "gguf" or len(resolved.parts) == 1:
            gguf = resolved.location
        else:  # the stock loader needs one file: assemble it (not timed)
            assert resolved.packaged is not None
            gguf = os.path.join(tmp, resolved.packaged.gguf_name)
            assemble_parts(resolved.parts, Path(gguf), resolved.packaged.sha256)
        size_mb = Path(gguf).stat().st_size / 1e6
        first = run_child("first", args.model, cache, None)
        cached = run_child("cached", args.model, cache, None)
        stock = run_child("stock", args.model, cache, gguf)

    print(f"model {args.model}: {Path(gguf).name} ({size_mb:.0f} MB GGUF)")
    print("each load runs in a fresh process, importing transformers included")
    print(f"{'load':<42} {'seconds':>8} {'vs stock':>9}")
    rows = [
        ("first use (convert into an empty cache)", first["seconds"]),
        ("from the cache", cached["seconds"]),
        ("stock transformers gguf_file= (every load)", stock["seconds"]),
    ]
    for name, seconds in rows:
        print(f"{name:<42} {seconds:>8.1f} {stock['seconds'] / seconds:>8.2f}x")
    print(
        f"converted vs stock model: max |logit difference| = {stock['max_logit_diff']:.2e}, "
        f"same tokens: {bool(stock['same_tokens'])}"
    )


if __name__ == "__main__":
    main()
