"""Thread settings of ``synth-agent`` processes, chosen before torch loads."""

from __future__ import annotations

from collections.abc import MutableMapping


def default_thread_environment(environ: MutableMapping[str, str]) -> None:
    """Let OpenMP threads (torch's CPU kernels) sleep instead of spin-waiting between parallel regions, unless the
    user chose otherwise. On 2 cores shared with a busy loop or a second evaluate, spinning threads made a run 3.3x
    and 5.6x slower, sleeping ones 1.4x, for about 5% on a quiet machine (``benchmarks/bench_threads.py``).

    OpenMP reads the variable when torch loads, so ``synth-agent`` calls this before any command runs; processes
    it starts (local compare cells, a local Ray cluster's workers) inherit it. Workers of a Ray cluster started
    with ``ray start`` inherit that shell's environment instead: export it there.

    >>> env = {}; default_thread_environment(env); env
    {'OMP_WAIT_POLICY': 'PASSIVE'}
    >>> env = {"OMP_WAIT_POLICY": "ACTIVE"}; default_thread_environment(env); env
    {'OMP_WAIT_POLICY': 'ACTIVE'}
    """
    environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
