"""The documentation: the site builds without a warning, and the README stays a short front door."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import ROOT

README_COMMANDS = (
    "bash scripts/setup.sh && .venv/bin/synth-agent evaluate",
    "bash scripts/setup.sh --dev && .venv/bin/python -m pytest",
)


def test_the_docs_site_builds_strict(tmp_path):
    """``mkdocs build --strict``: broken links and anchors, unresolved API references and docstring warnings fail."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("material", reason="the docs use Material for MkDocs (the docs extra)")
    pytest.importorskip("mkdocstrings")
    pytest.importorskip("mkdocstrings_handlers.python")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    assert (tmp_path / "site" / "api" / "environment" / "index.html").exists()


def test_readme_is_short_and_holds_both_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = readme.splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; the detail belongs on the docs site (docs/)"
    for command in README_COMMANDS:
        assert command in readme, f"README.md lost the command {command!r}"
