"""Reward components: validity, judge label fidelity, diversity (Vendi, distinct-n, NovelSum-style novelty,
label balance), student utility, and their weighted blend. Each component is a pure function or a small class."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the block with one BLAS thread.

    Reward maths works on small matrices (384-d embeddings, a few thousand rows). On 2 cores, OpenBLAS threads
    fighting with PyTorch's threads made a 384 x 384 eigendecomposition take 3.4 s instead of 0.02 s and a logistic
    regression on 1,000 rows 3.5 s instead of 0.02 s (measured here); one thread avoids that.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
