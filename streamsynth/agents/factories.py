"""Entry points of the registered agents (:mod:`streamsynth.agents.registry`): each builds one agent from the
env, the shared LLM settings, a backend, a seed and the agent's own options."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from streamsynth.config import check_bool, check_int, check_number


@dataclass(frozen=True)
class FewShotOptions:
    """``fewshot``: ``k`` real seed examples per prompt."""

    k: int = 4
    """Real seed examples per prompt."""

    def __post_init__(self) -> None:
        check_int("k", self.k, 1)


@dataclass(frozen=True)
class ProGenOptions:
    """``progen``: ``k`` in-context examples per prompt, chosen from the ``candidates`` best accepted samples."""

    k: int = 4
    """In-context examples per prompt."""
    candidates: int = 8
    """The best accepted samples (by the env's score) the examples are drawn from."""

    def __post_init__(self) -> None:
        check_int("k", self.k, 1)
        check_int("candidates", self.candidates, self.k)


@dataclass(frozen=True)
class AttrPromptOptions:
    """``attrprompt``: how many attribute dimensions and values per dimension the LLM proposes for a task without
    attributes, and the token budget of that proposal."""

    n_dimensions: int = 3
    """Attribute dimensions the LLM proposes for a task without attributes."""
    n_values: int = 5
    """Values per proposed dimension."""
    proposal_tokens: int = 160
    """Token budget of the proposal."""

    def __post_init__(self) -> None:
        check_int("n_dimensions", self.n_dimensions, 1)
        check_int("n_values", self.n_values, 2)
        check_int("proposal_tokens", self.proposal_tokens, 1)


@dataclass(frozen=True)
class BestOfNOptions(AttrPromptOptions):
    """``best-of-n``: ``n`` candidates per requested sample (scored as drafts, the best submitted) and
    ``n_examples`` seed examples per prompt, on top of AttrPrompt's attribute settings."""

    n: int = 4
    """Candidates per requested sample, scored as drafts; the best are submitted."""
    n_examples: int = 2
    """Seed examples per prompt."""
    pick: str = "score"
    """How the best are read: score (the env's per-sample score) or dai (SynLearner's DAI pick: label-gated
    quality and greedy max-marginal relevance in the env's embedding)."""
    select_weight: float = 0.5
    """pick=dai: weight of quality against novelty, as SynLearner's select_weight."""
    select_gate: bool = False
    """pick=dai: novelty counts in proportion to quality, as SynLearner's select_gate."""

    def __post_init__(self) -> None:
        super().__post_init__()
        from streamsynth.agents.best_of_n import check_pick

        check_int("n", self.n, 1)
        check_int("n_examples", self.n_examples, 0)
        check_pick(self.pick)
        check_number("select_weight", self.select_weight, 0.0, 1.0)
        check_bool("select_gate", self.select_gate)


def _needs_env(name: str, env: Any, why: str) -> None:
    if env is None:
        raise ValueError(f"the {name} agent needs the environment ({why})")


def zerogen(*, env: Any, llm: Any, backend: Any, seed: int, options: Any) -> Any:
    from streamsynth.agents.zerogen import ZeroGenAgent

    return ZeroGenAgent(llm, backend=backend, seed=seed)


def fewshot(*, env: Any, llm: Any, backend: Any, seed: int, options: FewShotOptions | None) -> Any:
    from streamsynth.agents.fewshot import FewShotAgent

    return FewShotAgent(llm, backend=backend, seed=seed, **asdict(options or FewShotOptions()))


def attrprompt(*, env: Any, llm: Any, backend: Any, seed: int, options: AttrPromptOptions | None) -> Any:
    from streamsynth.agents.attrprompt import AttrPromptAgent

    return AttrPromptAgent(llm, backend=backend, seed=seed, **asdict(options or AttrPromptOptions()))


def best_of_n(*, env: Any, llm: Any, backend: Any, seed: int, options: BestOfNOptions | None) -> Any:
    from streamsynth.agents.best_of_n import BestOfNAgent

    opts = options or BestOfNOptions()
    embedder = env.unwrapped.embedder if env is not None and opts.pick == "dai" else None
    return BestOfNAgent(llm, backend=backend, seed=seed, embedder=embedder, **asdict(opts))


def progen(*, env: Any, llm: Any, backend: Any, seed: int, options: ProGenOptions | None) -> Any:
    from streamsynth.agents.progen import ProGenAgent

    return ProGenAgent(llm, backend=backend, seed=seed, **asdict(options or ProGenOptions()))


def oracle(*, env: Any, llm: Any, backend: Any, seed: int, options: Any) -> Any:
    from streamsynth.agents.oracle import OracleAgent
    from streamsynth.tasks.real import RealData

    _needs_env("oracle", env, "it submits real judge-split data cut with the env's tasks, split sizes and data seed")
    return OracleAgent(RealData.for_env(env, split="judge"), seed=seed)


def copy_seed(*, env: Any, llm: Any, backend: Any, seed: int, options: Any) -> Any:
    from streamsynth.agents.copy_seed import CopySeedAgent

    return CopySeedAgent(seed=seed)


def sb3(*, env: Any, llm: Any, backend: Any, seed: int, options: Any) -> Any:
    from streamsynth.agents.sb3 import SB3Agent, SB3Config

    cfg = options or SB3Config()
    _needs_env(f"sb3-{cfg.algorithm}", env, "its features use the env's embedder, round budget and label count")
    return SB3Agent.for_env(env, cfg.algorithm, llm, backend=backend, seed=seed,
                            **{k: v for k, v in asdict(cfg).items() if k != "algorithm"})


def synlearner(*, env: Any, llm: Any, backend: Any, seed: int, options: Any) -> Any:
    from streamsynth.agents.registry import SHARED_LLM_SETTINGS
    from streamsynth.agents.synlearner.agent import SynLearnerAgent
    from streamsynth.agents.synlearner.config import SynLearnerConfig

    cfg = options or SynLearnerConfig()
    if llm is not None:
        cfg = cfg.with_(**{k: getattr(llm, k) for k in SHARED_LLM_SETTINGS})
    return SynLearnerAgent(cfg, backend=backend, seed=seed)
