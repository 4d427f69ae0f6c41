"""Fixtures of the SynLearner tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.tiny_model import save_tiny_model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """The tiny Llama with room for task prompts (its 320-token vocabulary spells words byte by byte)."""
    return save_tiny_model(tmp_path_factory.mktemp("tiny-synlearner"), max_positions=2048)
