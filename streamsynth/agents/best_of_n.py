"""``best-of-n``: generate n candidates per wanted sample, score them as drafts, submit the best (no learning).

The baseline that a learning synthesizer must beat at equal budget: the same generator, the same
diversity-aware prompts as SynLearner's DAI stage (attribute values drawn per prompt, AttrPrompt-style, plus
``n_examples`` real seed examples balanced over labels), and the env's feedback budget, but no weight ever changes.
Each round takes two env steps, or more when its candidates exceed the env's per-step limit:

1. **draft**: for each sample the round wants (:func:`~streamsynth.synthesis.config.request_labels`, oversampled),
   ``n`` completions are generated and parsed; all candidates go to the env as drafts (``"draft": true``, at most
   ``observation["feedback_left"]`` of them, cut evenly over the labels by :func:`spread_cut` when the budget is
   short), which scores each one (reason code, fidelity, realism, novelty, its sample score) without adding it and
   without using up the round. The env judges at most ``max_samples_per_step`` items a step and answers the rest
   ``over_step_limit``: those are drafted again in the next drafts-only step, until every candidate is scored or
   the budget is used up (with ``n=80`` a round's 1,440 candidates take 6 steps of the default 256);
2. **submit**: for each label, the best candidates that passed screening (``code`` None), up to the round's share
   of the label's missing samples. ``pick`` says how "best" is read:

   - ``"score"`` (default): greedily by the env's per-sample score (:func:`~streamsynth.rewards.blend.sample_score`:
     grounded quality, realism, and novelty in proportion to the label agreement), each candidate on its own;
   - ``"dai"``: SynLearner's mmr DAI pick (``dai_select="mmr"``) on the same figures (:func:`dai_pick`): quality
     is the label-gated quality of SynLearner's reward (judge fidelity above chance x realism), and greedy
     max-marginal relevance (``select_weight``) adds novelty against the candidates already picked and the task's
     accepted samples, in the env's embedding. SynLearner's novelty reference also holds earlier tasks' accepted
     data (carried experience); otherwise a pool is read the same way.

Drafted candidates are never changed, so everything submitted was scored first. When the feedback budget is used
up, the round's candidates are submitted unranked (as a prompting baseline would), and ``describe()`` counts such
rounds (``unranked_rounds``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from streamsynth.agents.attrprompt import AttrPromptAgent, draw_attributes
from streamsynth.agents.fewshot import pick_examples
from streamsynth.agents.llm import LLMConfig
from streamsynth.agents.synlearner.selection import greedy_select, placed, top_per_label
from streamsynth.config import check_bool, check_int, check_number
from streamsynth.envs.screening import DRAFT_KEY
from streamsynth.generation.base import GenerationBackend
from streamsynth.rewards.blend import grounded_quality
from streamsynth.rewards.reasons import Reason
from streamsynth.synthesis.config import remaining_per_label
from streamsynth.synthesis.prompting import label_prompt
from streamsynth.tasks.spec import LABEL_KEY, Sample


def best_per_label(candidates: list[Sample], rows: list[Mapping[str, Any]], want: Mapping[str, int]) -> list[Sample]:
    """The best ``want[label]`` candidates of each label by the env's draft score, among those the env would
    accept (``code`` None), in candidate order within the selection.

    >>> cands = [{"text": t, "label": l} for t, l in [("a", "x"), ("b", "x"), ("c", "y"), ("d", "x")]]
    >>> rows = [{"code": None, "score": .2}, {"code": None, "score": .9}, {"code": None, "score": .5},
    ...         {"code": "duplicate", "score": 0.0}]
    >>> [s["text"] for s in best_per_label(cands, rows, {"x": 1, "y": 2})]
    ['b', 'c']
    """
    if len(rows) != len(candidates):
        raise ValueError(f"{len(rows)} feedback rows for {len(candidates)} drafted candidates: the env's answer "
                         "does not match the drafts")
    passed = [i for i, row in enumerate(rows) if row["code"] is None]
    picked = top_per_label([float(rows[i]["score"]) for i in passed], [candidates[i][LABEL_KEY] for i in passed],
                           want)
    return [candidates[passed[j]] for j in picked]


def spread_cut(labels: list[str], k: int) -> list[int]:
    """Indices of at most ``k`` of the items whose labels are ``labels``, taken in turn from each label (in the
    order labels first appear, each label's items in their order) so that a short budget is shared evenly; returned
    in their original order. All of them when they fit.

    >>> spread_cut(["a", "a", "a", "b", "b", "c"], 4)
    [0, 1, 3, 5]
    >>> spread_cut(["a", "b"], 5)
    [0, 1]
    """
    order: dict[str, int] = {}  # each label's place among the labels
    seen: dict[str, int] = {}  # items of each label so far
    turn = []  # (the item's place within its label, its label's place)
    for lbl in labels:
        order.setdefault(lbl, len(order))
        turn.append((seen.get(lbl, 0), order[lbl]))
        seen[lbl] = seen.get(lbl, 0) + 1
    return sorted(sorted(range(len(labels)), key=turn.__getitem__)[:max(k, 0)])


PICKS = ("score", "dai")


def dai_pick(embedder: Any, observation: Mapping[str, Any], candidates: list[Sample], rows: list[Mapping[str, Any]],
             want: Mapping[str, int], reference: np.ndarray | None = None, weight: float = 0.5,
             gate: bool = False) -> list[Sample]:
    """SynLearner's mmr DAI pick over drafted candidates: among those the env would accept (``code`` None), greedy
    max-marginal relevance (:func:`~streamsynth.agents.synlearner.selection.greedy_select`) with quality
    ``above_chance(fidelity) x realism`` (the label-gated quality of SynLearner's reward) and novelty against the
    picked candidates and ``reference`` (embeddings of the task's accepted samples), in proportion to the quality
    with ``gate`` (SynLearner's ``select_gate``), up to ``want[label]`` per label; in candidate order."""
    if len(rows) != len(candidates):
        raise ValueError(f"{len(rows)} feedback rows for {len(candidates)} drafted candidates: the env's answer "
                         "does not match the drafts")
    names = list(observation["labels"])
    passed = [{"sample": s, "label": s[LABEL_KEY], "row": r} for s, r in zip(candidates, rows) if r["code"] is None]
    passed, vectors = placed(embedder, observation, passed)
    if not passed:
        return []
    quality = np.array([grounded_quality(float(p["row"]["fidelity"]), float(p["row"].get("realism", 1.0)), len(names))
                        for p in passed])
    quota = {names.index(k): max(0, int(v)) for k, v in want.items() if k in names}
    ref = reference if reference is not None and len(reference) else None
    picked = greedy_select(quality, vectors, [names.index(p["label"]) for p in passed], quota, reference=ref,
                           weight=weight, gate=gate)
    chosen = {id(passed[i]["sample"]) for i in picked}
    return [s for s in candidates if id(s) in chosen]


class BestOfNAgent(AttrPromptAgent):
    """Diversity-aware prompts, ``n`` candidates per wanted sample, the best submitted after the env scored them
    as drafts. See the module docstring.

    Args:
        config: model and sampling settings (shared by all LLM agents); ``oversample`` sets how many samples a
            round asks for, ``n`` how many candidates each of them gets.
        n: candidates per requested sample.
        n_examples: real seed examples per prompt (0: attributes only).
        pick: ``"score"`` (the env's per-sample score) or ``"dai"`` (SynLearner's mmr DAI pick, :func:`dai_pick`).
        select_weight: with ``pick="dai"``, the weight of quality against novelty (SynLearner's default, 0.5).
        select_gate: with ``pick="dai"``, novelty counts in proportion to quality (SynLearner's ``select_gate``).
        embedder: with ``pick="dai"``, the embeddings of its novelty term (the factory passes the env's; default:
            the packaged MiniLM, loaded at the first pick).
        backend, seed, n_dimensions, n_values, proposal_tokens: as :class:`AttrPromptAgent`.
    """

    name = "best-of-n"

    def __init__(self, config: LLMConfig | None = None, *, backend: GenerationBackend | None = None, seed: int = 0,
                 n: int = 4, n_examples: int = 2, pick: str = "score", select_weight: float = 0.5,
                 select_gate: bool = False, embedder: Any = None, **attr: Any) -> None:
        super().__init__(config, backend=backend, seed=seed, **attr)
        self.n = check_int("n", n, 1)
        self.n_examples = check_int("n_examples", n_examples, 0)
        self.pick = check_pick(pick)
        self.select_weight = check_number("select_weight", select_weight, 0.0, 1.0)
        self.select_gate = check_bool("select_gate", select_gate)
        self._embedder = embedder
        self._reference: list[np.ndarray] = []  # embeddings of this task's accepted samples (pick="dai")
        self._submitted: list[Sample] | None = None
        self._candidates: list[Sample] | None = None
        self._rows: list[Mapping[str, Any] | None] | None = None  # the env's row of each candidate, once scored
        self._drafting: list[int] | None = None  # candidates in the draft step the env has not answered yet
        self._progressed = True
        self.drafted = 0
        self.unranked_rounds = 0

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from streamsynth.rewards.embeddings import get_embedder

            self._embedder = get_embedder("minilm")
        return self._embedder

    def begin_task(self, observation: Mapping[str, Any]) -> None:
        super().begin_task(observation)
        self._candidates, self._rows, self._submitted, self._drafting = None, None, None, None
        self._progressed = True
        self._reference = []

    def propose(self, observation: Mapping[str, Any]) -> list[Sample]:
        if self._drafting is not None:
            raise RuntimeError(f"{self.name}: act() after drafting without observe(); the agent needs the "
                               "env's scores of its drafts")
        if self._candidates is not None:  # the env has scored this round's candidates, or the first of them
            waiting = [i for i, r in enumerate(self._rows) if r is not None and r["code"] == Reason.OVER_STEP_LIMIT]
            budget = int(observation.get("feedback_left", 0))
            if waiting and budget > 0 and self._progressed:  # past the env's per-step limit: draft them again
                return self._draft(waiting[:budget])
            candidates, rows = self._candidates, self._rows
            self._candidates, self._rows = None, None
            if self.pick == "score":
                return best_per_label(candidates, rows, self.round_share(observation))
            reference = np.concatenate(self._reference) if self._reference else None
            self._submitted = dai_pick(self.embedder, observation, candidates, rows, self.round_share(observation),
                                       reference, self.select_weight, self.select_gate)
            return self._submitted
        labels = [lbl for lbl in self.requests(observation) for _ in range(self.n)]
        candidates = self.generate_samples(observation, [self.prompt(observation, lbl) for lbl in labels], labels)
        budget = int(observation.get("feedback_left", 0))
        if budget <= 0 or not candidates:
            self.unranked_rounds += 1
            return candidates
        self._candidates = [candidates[i] for i in spread_cut([s[LABEL_KEY] for s in candidates], budget)]
        self._rows = [None] * len(self._candidates)
        return self._draft(list(range(len(self._candidates))))

    def _draft(self, indices: list[int]) -> list[Sample]:
        """Send the round's candidates at ``indices`` as drafts; :meth:`observe` files the env's rows."""
        self._drafting = indices
        return [{**self._candidates[i], DRAFT_KEY: True} for i in indices]

    def observe(self, observation: Mapping[str, Any], reward: float, terminated: bool, truncated: bool,
                info: Mapping[str, Any]) -> None:
        if self._drafting is not None and info.get("draft_only"):
            rows = list(info["samples"])
            if len(rows) != len(self._drafting):
                raise ValueError(f"{len(rows)} feedback rows for {len(self._drafting)} drafts: the env's answer "
                                 "does not match the action")
            for i, row in zip(self._drafting, rows):
                self._rows[i] = row
            # an env that judged none of this step's drafts is not asked again
            self._progressed = any(r["code"] != Reason.OVER_STEP_LIMIT for r in rows)
            self.drafted += int(info.get("feedback_used", len(rows)))
            self._drafting = None
        elif self._submitted is not None:  # pick="dai": what the env accepted becomes the novelty reference
            accepted = [self._submitted[int(r["index"])] for r in info["samples"] if r.get("accepted")]
            _, vectors = placed(self.embedder, observation, [{"sample": s} for s in accepted])
            if len(vectors):
                self._reference.append(vectors)
            self._submitted = None

    def prompt(self, observation: Mapping[str, Any], label: str) -> list[dict[str, str]]:
        """One diversity-aware prompt: drawn attribute values and ``n_examples`` seed examples."""
        examples = pick_examples(list(observation["seed_examples"]), list(observation["labels"]), self.n_examples,
                                 self._rng) if self.n_examples else []
        return label_prompt(observation, label, examples=examples,
                            attributes=draw_attributes(self._dimensions, self._rng))

    @staticmethod
    def round_share(observation: Mapping[str, Any]) -> dict[str, int]:
        """How many samples of each label this round submits: its missing count over the rounds left (the last
        round: everything missing)."""
        rounds_left = max(1, int(observation["max_rounds"]) - int(observation["round"]))
        return {lbl: math.ceil(need / rounds_left) for lbl, need in remaining_per_label(observation).items()}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "n": self.n, "n_examples": self.n_examples, "pick": self.pick,
                "select_weight": self.select_weight, "select_gate": self.select_gate, "drafted": self.drafted,
                "unranked_rounds": self.unranked_rounds}


def check_pick(pick: Any) -> str:
    if pick not in PICKS:
        raise ValueError(f"pick must be one of {list(PICKS)}, got {pick!r}")
    return str(pick)


__all__ = ["BestOfNAgent", "PICKS", "best_per_label", "check_pick", "dai_pick"]
