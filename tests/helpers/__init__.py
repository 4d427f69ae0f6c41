"""What the tests share: tiny models and tasks, scripted and fake backends and servers, kill-and-resume helpers.

Test modules import from here, never from each other.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository's root."""
