"""The settings of ``StreamSynth-v0`` as one validated dataclass: what ``-E KEY=VALUE`` and a run file's ``[env]``
table set, and what a run folder's ``config.json`` records.

``StreamSynthEnv(stream, **EnvConfig(...).kwargs())`` builds the env; the env validates its keyword arguments
through this class, so the checks live in one place, and a test keeps the defaults here equal to the env's.

>>> cfg = EnvConfig(samples_per_label=8)
>>> cfg.kwargs()["samples_per_label"], cfg.reward_weights.utility
(8, 0.4)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from streamsynth.config import check_bool, check_choice, check_int, check_number, option
from streamsynth.rewards.blend import RewardWeights
from streamsynth.tasks.splits import SplitSizes

REWARD_MODES = ("delta", "absolute")
FEEDBACK_BUDGET_FACTOR = 8
"""The default feedback budget of a task: this many times its target size (``samples_per_label`` x labels)."""


def _help(text: str, flag: str | bool = False) -> dict[str, Any]:
    """A field's help, and with ``flag`` its first-class command-line option (:func:`streamsynth.config.option`)."""
    return {"help": text, **(option(flag if isinstance(flag, str) else None) if flag else {})}


@dataclass(frozen=True)
class EnvConfig:
    """Every keyword setting of :class:`~streamsynth.envs.streamsynth_env.StreamSynthEnv` (not ``stream`` and
    ``render_mode``)."""

    samples_per_label: int = field(default=16, metadata=_help("target number of accepted samples per label", True))
    max_rounds: int = field(default=3, metadata=_help("round budget (submissions) of each task", "--rounds"))
    max_samples_per_step: int = field(default=256, metadata=_help("items of one action beyond this are rejected"))
    reward_weights: RewardWeights = field(default_factory=RewardWeights,
                                          metadata=_help("weights of the set score (see the docs' Rewards page)"))
    reward_mode: str = field(default="delta", metadata=_help("delta: step reward = change of the set score; "
                                                             "absolute: the score itself", True))
    cycle: bool = field(default=False, metadata=_help("start the stream again after its last task"))
    embedder: Any = field(default="minilm", metadata=_help("minilm (packaged), hashing, or a sentence-transformers "
                                                           "id (an Embedder object from Python)", True))
    split_sizes: SplitSizes = field(default_factory=SplitSizes,
                                    metadata=_help("sizes of the real-data splits of each task"))
    data_seed: int = field(default=0, metadata=_help("seed of the real-data splits"))
    near_duplicate: float = field(default=0.97, metadata=_help("embedding cosine at which a sample is a "
                                                               "near-duplicate (of a seed example or accepted sample)"))
    near_copy_overlap: float = field(default=0.6, metadata=_help("word 3-gram overlap with a seed example at which a "
                                                                 "sample is an edited copy"))
    novelty_capacity: int = field(default=4096, metadata=_help("size of the stream's novelty reference memory"))
    feedback_budget: int | None = field(default=None, metadata=_help(
        "draft samples per task that the env scores without adding them (0: no drafts; default: "
        f"{FEEDBACK_BUDGET_FACTOR} x the task's target size)"))

    def __post_init__(self) -> None:
        for name in ("samples_per_label", "max_rounds", "max_samples_per_step", "novelty_capacity"):
            check_int(name, getattr(self, name), 1)
        check_int("data_seed", self.data_seed, 0)
        if self.feedback_budget is not None:
            check_int("feedback_budget", self.feedback_budget, 0)
        check_choice("reward_mode", self.reward_mode, REWARD_MODES)
        check_number("near_duplicate", self.near_duplicate, 0, 1, low_open=True)
        check_number("near_copy_overlap", self.near_copy_overlap, 0, 1, low_open=True)
        check_bool("cycle", self.cycle)
        weights = self.reward_weights
        if not isinstance(weights, RewardWeights):
            object.__setattr__(self, "reward_weights", RewardWeights.from_mapping(weights))
        sizes = self.split_sizes
        if not isinstance(sizes, SplitSizes):
            if sizes is not None and not hasattr(sizes, "keys"):
                raise ValueError(f"split_sizes must be a SplitSizes or a mapping, got {type(sizes).__name__}")
            object.__setattr__(self, "split_sizes", SplitSizes(**dict(sizes or {})))
        object.__setattr__(self, "near_duplicate", float(self.near_duplicate))
        object.__setattr__(self, "near_copy_overlap", float(self.near_copy_overlap))

    def task_feedback_budget(self, n_labels: int) -> int:
        """The feedback budget (draft samples) of a task with ``n_labels`` labels.

        >>> EnvConfig(samples_per_label=4).task_feedback_budget(2), EnvConfig(feedback_budget=0).task_feedback_budget(2)
        (64, 0)
        """
        if self.feedback_budget is not None:
            return self.feedback_budget
        return FEEDBACK_BUDGET_FACTOR * self.samples_per_label * n_labels

    def kwargs(self) -> dict[str, Any]:
        """The env's keyword arguments."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (nested dicts for the weights and split sizes; the embedder by name)."""
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["reward_weights"], out["split_sizes"] = asdict(self.reward_weights), asdict(self.split_sizes)
        if not isinstance(self.embedder, str):
            out["embedder"] = getattr(self.embedder, "name", type(self.embedder).__name__)
        return out
