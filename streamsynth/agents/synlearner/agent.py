"""The ``synlearner`` agent: DAI -> LoRA fine-tuning (EFT) -> GRPO with hierarchical rewards, across the stream.

Per task (one episode), inside the plain Gymnasium loop:

* **feedback steps** (``feedback_steps``, at the task's start): GRPO groups written as drafts, which the env scores
  from the task's feedback budget without adding them or using up a round; one GRPO update per step.
* **first round, DAI**: attribute-diverse prompts (the task's dimensions, or values the LLM proposes) with 0..k seed
  examples, ``pool_factor`` x more candidates than needed; the env scores the pool as drafts (``dai_drafts``); the
  best of each label by the env's per-sample score (``dai_select="score"``), or a greedy pick on quality (the
  reward's quality term, see ``label_gate``, or, without drafts, label consistency with the seed examples) plus
  novelty (against what is already picked and the memory's reference set) (``"mmr"``), is submitted;
  then **EFT**: LoRA SFT on the accepted samples of the round plus a replay of the best samples of earlier tasks
  (loss on the completion only; the same prompt format as generation).
* **later rounds, HRO**: ``G`` completions per prompt, ``pool_factor`` x as many as needed, drafted
  (``group_drafts``; without it, or without budget, all submitted); the env's per-sample feedback gives each
  completion its hierarchical reward (:mod:`~streamsynth.agents.synlearner.hierarchical`), then one GRPO update
  (group-relative advantages, clipped ratio, KL to the adapter-free base); the drafts' pick is submitted next.
* **experience**: the adapter and optimiser continue from task to task; the memory keeps reward statistics of
  prompt patterns (number of seed examples) and attribute values (sampling preferences), the best samples (replay)
  and the embeddings of accepted data (novelty reference). ``isolated`` resets all of it at every task; ``carry``
  chooses the parts that go on (the ablations in between).

The env's rewards and feedback are the only learning signal.
"""

from __future__ import annotations

import math
import warnings
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from streamsynth.agents.attrprompt import GENERIC_ATTRIBUTES, attribute_dimensions, propose_dimensions
from streamsynth.agents.base import Agent
from streamsynth.agents.llm import remaining_per_label, request_labels
from streamsynth.agents.synlearner.config import CARRY_PARTS, SynLearnerConfig
from streamsynth.agents.synlearner.hierarchical import (
    completion_components,
    completion_scores,
    draft_figures,
    env_reward,
    hierarchical_rewards,
    masked_group_advantages,
    raw_rewards,
)
from streamsynth.agents.synlearner.memory import ExperienceMemory, ReplayItem
from streamsynth.agents.synlearner.selection import greedy_select, placed, seed_agreement, top_per_label
from streamsynth.envs.screening import DRAFT_KEY
from streamsynth.generation.base import SamplingParams
from streamsynth.generation.prompts import Message
from streamsynth.synthesis.prompting import format_fields, label_prompt, parse_completion
from streamsynth.tasks.spec import LABEL_KEY, Sample


class FeedbackBudgetWarning(UserWarning):
    """The env's feedback budget of a task cannot hold the feedback steps asked for: fewer run."""


def feedback_shortfall(config: SynLearnerConfig, budget: int, pool: int) -> str:
    """Why the ``budget`` of drafts a task starts with cannot hold ``config.feedback_steps`` (beside the DAI pool
    of ``pool`` drafts with ``dai_drafts``, when it can hold that), and what to do; empty when it can. (Unparsed
    completions are not drafted and cost nothing, so a step or two more than the count said may run.)

    >>> c = SynLearnerConfig(feedback_steps=125, feedback_prompts=8, group_size=4)
    >>> feedback_shortfall(c, 4100, 64)
    ''
    >>> import textwrap; print(textwrap.fill(feedback_shortfall(c, 256, 64), 100))
    feedback_steps=125 x feedback_prompts=8 x group_size=4 = 4000 drafts, but the env's feedback budget
    is 256 drafts (64 of them kept for the DAI pool): about 6 feedback steps will run; raise it (-E
    feedback_budget=4064, or more for later rounds' drafts) or lower feedback_steps
    """
    per_step = config.feedback_prompts * config.group_size
    need = config.feedback_steps * per_step
    reserve = pool if config.dai_drafts and pool <= budget else 0
    if need + reserve <= budget:
        return ""
    kept = f" ({reserve} of them kept for the DAI pool)" if reserve else ""
    enough = need + (pool if config.dai_drafts else 0)  # a budget that holds the pool keeps its share
    return (f"feedback_steps={config.feedback_steps} x feedback_prompts={config.feedback_prompts} x "
            f"group_size={config.group_size} = {need} drafts, but the env's feedback budget is {budget} drafts{kept}: "
            f"about {(budget - reserve) // per_step} feedback steps will run; raise it (-E feedback_budget={enough}, "
            "or more for later rounds' drafts) or lower feedback_steps")


class SynLearnerAgent(Agent):
    """The project's learning agent (see the module docstring).

    Args:
        config: every setting (:class:`SynLearnerConfig`).
        backend: a ready :class:`~streamsynth.generation.transformers_backend.TransformersBackend` (default: built
            from ``config`` on first use); its model gets the LoRA adapter and trains.
        sampling_backend: with ``config.backend == "vllm"``, a ready
            :class:`~streamsynth.generation.vllm_backend.VLLMBackend` with LoRA enabled that samples (default: built
            from ``config`` on first use).
        embedder: embeddings for DAI selection (default: ``config.embedder``, cached on disk).
        seed: seeds prompts, sampling, selection and the adapter's initial weights.
    """

    name = "synlearner"
    learns = True
    supports_checkpoints = True

    def __init__(self, config: SynLearnerConfig | None = None, *, backend: Any = None, embedder: Any = None,
                 seed: int = 0, sampling_backend: Any = None) -> None:
        super().__init__(seed)
        self.config = config or SynLearnerConfig()
        if self.config.isolated:
            self.name = "synlearner-isolated"
        if sampling_backend is not None and self.config.backend != "vllm":
            raise ValueError("sampling_backend is used only with backend='vllm' (the transformers backend samples "
                             "itself); drop it or set SynLearnerConfig(backend='vllm')")
        self._backend = backend
        self._sampling_backend = sampling_backend
        self._embedder = embedder
        self._policy: Any = None
        self.memory = ExperienceMemory(replay_per_task=max(self.config.eft_top, 1))
        self.rng = np.random.default_rng([self.seed, 11])
        self.calls = 0
        self.proposed: dict[str, dict[str, tuple[str, ...]]] = {}
        self.dims: dict[str, tuple[str, ...]] = {}
        self.log: list[dict[str, Any]] = []
        """One entry per env step: task, round, phase (dai, grpo, feedback), rewards, update figures."""
        self._pending: dict[str, Any] | None = None
        self.feedback_done = 0
        """Feedback (draft) steps taken in the current task."""
        self.pool: dict[str, Any] | None = None
        """The DAI pool the env has scored as drafts and its quality per candidate, until the pick is submitted."""

    # ------------------------------------------------------------------ resources
    @property
    def policy(self) -> Any:
        if self._policy is None:
            from streamsynth.agents.synlearner.policy import LoRAPolicy

            sampler = None
            if self.config.backend == "vllm":  # before the training model: vLLM sizes its share of a free GPU
                from streamsynth.agents.synlearner.vllm_sampler import VLLMSampler

                sampler = VLLMSampler(self.config, backend=self._sampling_backend)
            if self._backend is None:
                from streamsynth.generation.transformers_backend import TransformersBackend

                c = self.config
                self._backend = TransformersBackend(c.model, device=c.device, dtype=c.dtype, batch_size=c.batch_size,
                                                    trust_remote_code=c.trust_remote_code)
            self._policy = LoRAPolicy(self._backend, self.config, seed=self.seed, sampler=sampler)
        return self._policy

    def learning_log(self) -> list[dict[str, Any]]:
        return [dict(e) for e in self.log]

    def generation_usage(self) -> dict[str, int]:
        """Completions and tokens sampled so far: by the training model's backend and, with ``backend="vllm"``,
        by vLLM."""
        backends = [self._backend]
        if self._policy is not None and self._policy.sampler is not None:
            backends.append(self._policy.sampler.backend)
        total = {"completions": 0, "prompt_tokens": 0, "completion_tokens": 0}
        for b in {id(b): b for b in backends if b is not None}.values():
            for k, v in b.usage().items():
                total[k] += v
        return total

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from streamsynth.rewards.embeddings import get_embedder

            self._embedder = get_embedder(self.config.embedder)
        return self._embedder

    def _next_seed(self) -> int:
        self.calls += 1
        return zlib.crc32(f"{self.seed}/{self.calls}".encode()) & 0x7FFFFFFF

    # ------------------------------------------------------------------ prompts
    def _dimensions(self, observation: Mapping[str, Any], *, propose: bool) -> dict[str, tuple[str, ...]]:
        dims = attribute_dimensions(observation)
        if dims:
            return dims
        task = str(observation["task"])
        if task not in self.proposed and propose:
            c = self.config
            params = SamplingParams(max(c.max_new_tokens, 160), c.temperature, c.top_p)
            with self.policy.base_backend() as backend:  # the base model's proposal, whatever the adapter learned
                self.proposed[task], _ = propose_dimensions(backend, observation, params, self._next_seed(),
                                                            agent=self.name)
        return self.proposed.get(task, dict(GENERIC_ATTRIBUTES))

    def _prompt(self, observation: Mapping[str, Any], label: str, dims: Mapping[str, tuple[str, ...]],
                rng: np.random.Generator) -> tuple[list[Message], str, dict[str, str]]:
        """One prompt: a number of seed examples and one value per attribute dimension, each drawn from the
        memory's preferences (what earned reward before)."""
        ks = list(self.config.n_examples)
        keys = [f"examples={k}" for k in ks]
        prior = None if self.config.preference_prior == "mean" else 0.5
        k = ks[int(rng.choice(len(ks), p=self.memory.preference("pattern", keys, prior=prior)))]
        seeds = [s for s in observation["seed_examples"] if s[LABEL_KEY] == label] or list(observation["seed_examples"])
        examples = [seeds[int(i)] for i in rng.permutation(len(seeds))[:k]]
        attrs = {}
        for name, values in dims.items():
            p = self.memory.preference("attribute", [f"{name}={v}" for v in values], prior=prior)
            attrs[name] = values[int(rng.choice(len(values), p=p))]
        return label_prompt(observation, label, examples=examples, attributes=attrs), f"examples={k}", attrs

    def _texts(self, samples: Sequence[Mapping[str, str]], fields: Sequence[str]) -> list[str]:
        return [format_fields(s, fields) for s in samples]

    # ------------------------------------------------------------------ the loop API
    def begin_task(self, observation: Mapping[str, Any]) -> None:
        carry = self.config.carry  # () when isolated
        if self._episodes > 1 and len(carry) < len(CARRY_PARTS):
            if "adapter" not in carry:
                self.policy.reset()
            self.memory.clear(replay="replay" not in carry, stats="preferences" not in carry,
                              reference="reference" not in carry)
            if "preferences" not in carry:
                self.proposed.clear()
        self.dims = self._dimensions(observation, propose=True)
        self.feedback_done = 0
        self.pool = None
        short = feedback_shortfall(self.config, int(observation.get("feedback_left", 0)),
                                   len(self._dai_pool_labels(request_labels(observation, self.config))))
        if short:
            warnings.warn(f"SynLearner, task {observation['task']!r}: {short}", FeedbackBudgetWarning, stacklevel=2)

    def propose(self, observation: Mapping[str, Any]) -> list[Sample]:
        if self._pending is not None:
            raise RuntimeError("act() called twice without observe(): feed the env's feedback back first")
        labels = request_labels(observation, self.config)
        if self._wants_feedback(observation):
            samples = self._propose_feedback(observation)
        elif int(observation["round"]) == 0:
            samples = (self._submit_dai(observation, labels) if self.pool is not None
                       else self._propose_dai(observation, labels))
        elif self.pool is not None:  # group_drafts: the pick from the round's drafted groups
            samples = self._submit_dai(observation, labels)
        else:
            samples = self._propose_groups(observation, labels)
        self._pending["n_labels"] = len(observation["labels"])  # chance level of the judge, for the credit
        return samples

    def _prompt_rows(self, observation: Mapping[str, Any], labels: Sequence[str], copies: int,
                     dims: Mapping[str, tuple[str, ...]], rng: np.random.Generator) -> list[dict[str, Any]]:
        """One prompt per label (drawn from the memory's preferences), each repeated ``copies`` times (a GRPO
        group): dicts with prompt, pattern, attrs, label."""
        rows: list[dict[str, Any]] = []
        for lbl in labels:
            prompt, pattern, attrs = self._prompt(observation, lbl, dims, rng)
            rows.extend({"prompt": prompt, "pattern": pattern, "attrs": attrs, "label": lbl} for _ in range(copies))
        return rows

    def _sample(self, observation: Mapping[str, Any], rows: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
        """One completion per row, parsed into a sample of the row's label (``None`` when it cannot be)."""
        fields, max_chars = list(observation["fields"]), int(observation["length"][1])
        for r, c in zip(rows, self.policy.sample([r["prompt"] for r in rows], seed=seed)):
            r["completion"] = c
            r["sample"] = parse_completion(c.text, fields, r["label"], max_chars)
        return rows

    def _dai_pool_labels(self, labels: Sequence[str]) -> list[str]:
        """The label of each DAI candidate: ``pool_factor`` x the round's request, labels taking turns (should a
        pool outgrow the env's step limit, the candidates it cannot judge are spread over the labels)."""
        counts = {lbl: math.ceil(n * self.config.pool_factor) for lbl, n in Counter(labels).items()}
        return [lbl for k in range(max(counts.values(), default=0)) for lbl, n in counts.items() if k < n]

    def _wants_feedback(self, observation: Mapping[str, Any]) -> bool:
        """Whether the next step is a feedback step: only at the task's start (the first round, before the DAI
        pool), while steps are left and the budget holds one more beside the pool's share (when it can hold the
        pool at all; otherwise DAI picks without drafts and the feedback steps keep the budget)."""
        c = self.config
        if int(observation["round"]) != 0 or self.pool is not None or self.feedback_done >= c.feedback_steps:
            return False
        left = int(observation.get("feedback_left", 0))
        reserve = len(self._dai_pool_labels(request_labels(observation, c))) if c.dai_drafts else 0
        if reserve > left:
            reserve = 0
        return left - reserve >= c.feedback_prompts * c.group_size

    def _propose_feedback(self, observation: Mapping[str, Any]) -> list[Sample]:
        """One GRPO step's completions as drafts: ``feedback_prompts`` prompts (labels still missing, in turn)
        x ``group_size`` completions; the env scores them without adding them."""
        c = self.config
        missing = [lbl for lbl, n in remaining_per_label(observation).items() if n > 0] or list(observation["labels"])
        start = self.feedback_done * c.feedback_prompts
        labels = [missing[(start + j) % len(missing)] for j in range(c.feedback_prompts)]
        rows = self._sample(observation, self._prompt_rows(observation, labels, c.group_size, self.dims, self.rng),
                            self._next_seed())
        submitted: list[int | None] = [None] * len(rows)
        action: list[Sample] = []
        for i, r in enumerate(rows):
            if r["sample"] is not None:
                submitted[i] = len(action)
                action.append({**r["sample"], DRAFT_KEY: True})
        self._pending = {"phase": "feedback", "rows": rows, "submitted": submitted, "task": str(observation["task"]),
                         "round": int(observation["round"]), "step": self.feedback_done}
        return action

    def _propose_dai(self, observation: Mapping[str, Any], labels: Sequence[str]) -> list[Sample]:
        """The first round's candidate pool: drafted for the env's scores when ``dai_drafts`` and the budget holds
        it (the pick follows in the next step, :meth:`_submit_dai`), else picked now on agreement with the seed
        examples."""
        pool = self._dai_pool_labels(labels)
        prompts = self._prompt_rows(observation, pool, 1, self.dims, self.rng)
        rows = self._sample(observation, prompts, self._next_seed())
        rows = [r for r in rows if r["sample"] is not None]
        if rows and self.config.dai_drafts and int(observation.get("feedback_left", 0)) >= len(rows):
            self._pending = {"phase": "dai-draft", "rows": rows, "submitted": list(range(len(rows))),
                             "task": str(observation["task"]), "round": int(observation["round"]), "pool": len(pool)}
            return [{**r["sample"], DRAFT_KEY: True} for r in rows]  # placed (embedded) once, at the pick
        rows, vectors = placed(self.embedder, observation, rows)
        quality = seed_agreement(self.embedder, observation, rows, vectors) if rows else np.zeros(0)
        return self._pick(observation, labels, rows, vectors, quality, pool=len(pool), scored_by="seed examples")

    def _submit_dai(self, observation: Mapping[str, Any], labels: Sequence[str]) -> list[Sample]:
        """The pick from the drafted pool (the DAI pool, or a later round's groups with ``group_drafts``):
        candidates the env passed, quality = the reward's quality term (or, with ``dai_select="score"``, the best of
        each label by the env's per-sample score)."""
        pool, self.pool = self.pool, None
        passed = [r for r in pool["rows"] if r["quality"] is not None]
        if self.config.dai_select == "score":
            if any("score" not in r for r in passed):
                raise RuntimeError("dai_select=score: the drafted pool holds no env scores (a checkpoint from before "
                                   "the setting); resume with dai_select=mmr or start the run again")
            picked = top_per_label([r["score"] for r in passed], [r["label"] for r in passed], Counter(labels))
            return self._submit_pick(observation, [passed[i] for i in picked], pool=pool["size"], scored_by="env")
        rows, vectors = placed(self.embedder, observation, passed)
        quality = np.array([r["quality"] for r in rows], dtype=float)
        return self._pick(observation, labels, rows, vectors, quality, pool=pool["size"], scored_by="env")

    def _pick(self, observation: Mapping[str, Any], labels: Sequence[str], rows: list[dict[str, Any]],
              vectors: np.ndarray, quality: np.ndarray, *, pool: int, scored_by: str) -> list[Sample]:
        """Greedy quality + novelty pick under the round's per-label quota; the submitted action."""
        names = list(observation["labels"])
        picked: list[int] = []
        if rows:
            reference = self.memory.reference if len(self.memory.reference) else None
            picked = greedy_select(quality, vectors, [names.index(r["label"]) for r in rows],
                                   {names.index(k): v for k, v in Counter(labels).items()}, reference=reference,
                                   weight=self.config.select_weight, gate=self.config.select_gate)
        return self._submit_pick(observation, [rows[i] for i in picked], pool=pool, scored_by=scored_by)

    def _submit_pick(self, observation: Mapping[str, Any], chosen: list[dict[str, Any]], *, pool: int,
                     scored_by: str) -> list[Sample]:
        phase = "dai" if int(observation["round"]) == 0 else "pick"  # EFT follows the first round's pick only
        self._pending = {"phase": phase, "rows": chosen, "submitted": list(range(len(chosen))),
                         "task": str(observation["task"]), "round": int(observation["round"]), "pool": pool,
                         "scored_by": scored_by}
        return [dict(r["sample"]) for r in chosen]

    def _propose_groups(self, observation: Mapping[str, Any], labels: Sequence[str]) -> list[Sample]:
        """A later round's GRPO groups: submitted as sampled (the update follows the env's feedback on them), or
        with ``group_drafts`` and budget for them, ``pool_factor`` x as many drafted first (the update follows the
        drafts' scores, and the best are picked in the round's next step)."""
        c, wanted = self.config, Counter(labels)
        g = c.group_size
        wide = {lbl: math.ceil(n * c.pool_factor / g) for lbl, n in wanted.items()}
        drafting = c.group_drafts and sum(wide.values()) * g <= int(observation.get("feedback_left", 0))
        groups = wide if drafting else {lbl: math.ceil(n / g) for lbl, n in wanted.items()}
        prompts = [lbl for lbl, k in groups.items() for _ in range(k)]
        rows = self._sample(observation, self._prompt_rows(observation, prompts, g, self.dims, self.rng),
                            self._next_seed())
        parsed = [i for i, r in enumerate(rows) if r["sample"] is not None]
        submitted: list[int | None] = [None] * len(rows)
        if drafting:
            for pos, i in enumerate(parsed):
                submitted[i] = pos
            self._pending = {"phase": "group-draft", "rows": rows, "submitted": submitted,
                             "task": str(observation["task"]), "round": int(observation["round"]), "pool": len(rows)}
            return [{**rows[i]["sample"], DRAFT_KEY: True} for i in parsed]
        order = [parsed[int(j)] for j in self.rng.permutation(len(parsed))]  # over-target losses spread over groups
        for pos, i in enumerate(order):
            submitted[i] = pos
        self._pending = {"phase": "grpo", "rows": rows, "submitted": submitted, "task": str(observation["task"]),
                         "round": int(observation["round"])}
        return [dict(rows[i]["sample"]) for i in order]

    def observe(self, observation: Mapping[str, Any], reward: float, terminated: bool, truncated: bool,
                info: Mapping[str, Any]) -> None:
        p, self._pending = self._pending, None
        if p is None:
            raise RuntimeError("observe() without a preceding act()")
        c = self.config
        rows = p["rows"]
        q, d, u, scored = completion_components(p["submitted"], info, p["n_labels"], c.label_gate)
        raw = raw_rewards(q, d, u, c.reward_weights)
        env_rows = {int(r["index"]): r for r in info["samples"]}
        items = self._remember(p, raw, scored, env_rows, list(observation["fields"]))
        entry: dict[str, Any] = {"task": p["task"], "round": p["round"], "phase": p["phase"],
                                 "completions": len(rows), "accepted": len(items),
                                 "unjudged": int((~scored).sum()),
                                 "mean_raw_reward": float(raw[scored].mean()) if scored.any() else 0.0,
                                 # the env's score per completion of the step, 0 for the unparseable and the rejected;
                                 # a task's first entry (its DAI round, or its first feedback step) shows what the
                                 # policy carried into the task writes before it learns anything of it (jump-start)
                                 "env_reward": env_reward(rows, p["submitted"], env_rows)}
        if p["phase"] in ("feedback", "dai-draft", "group-draft"):  # drafts: what the env made of them
            entry.update(draft_figures(p["submitted"], env_rows))
        if p["phase"] == "feedback":  # the learning curve within a task: what rises when the drafts get better
            entry["draft_reward"] = entry["env_reward"]
            entry["step"] = p["step"]
            self.feedback_done += 1
        if p["phase"] in ("dai-draft", "group-draft"):  # the pool waits for its pick; quality None if rejected
            pool = []
            for i, idx in enumerate(p["submitted"]):
                if idx is not None:
                    rows[i]["quality"] = float(q[i]) if env_rows[idx].get("code") is None else None
                    rows[i]["score"] = float(env_rows[idx]["score"])
                    pool.append(rows[i])
            self.pool = {"rows": pool, "size": p["pool"]}
            entry["pool"] = p["pool"]
        if p["phase"] in ("dai", "pick"):
            entry.update(pool=p["pool"], scored_by=p["scored_by"])
            if p["phase"] == "dai" and c.eft_epochs:
                entry.update(self._eft(items, p["task"]))
        elif p["phase"] != "dai-draft":  # grpo (submitted groups), feedback, group-draft (drafted): one GRPO update
            rewards = (completion_scores(p["submitted"], env_rows) if p["phase"] == "feedback"
                       and c.feedback_reward == "score" else hierarchical_rewards(q, d, u, scored, c.reward_weights))
            entry.update(self._grpo_update(rows, rewards, scored))
        self.log.append(entry)

    def _remember(self, p: Mapping[str, Any], raw: np.ndarray, scored: np.ndarray,
                  env_rows: Mapping[int, Mapping[str, Any]], fields: Sequence[str]) -> list[ReplayItem]:
        """The memory's share of a step: the reward of each scored completion's prompt pattern and attribute
        values (not for a drafted pool's pick, which was recorded as drafts), and the samples the env accepted as
        replay items and novelty reference; returns the accepted samples' replay items."""
        rows = p["rows"]
        for i, r in enumerate(rows):
            if not scored[i] or p.get("scored_by") == "env":
                continue
            self.memory.record("pattern", r["pattern"], float(raw[i]))
            for name, value in r["attrs"].items():
                self.memory.record("attribute", f"{name}={value}", float(raw[i]))
        accepted = [(r, env_rows[idx]) for r, idx in zip(rows, p["submitted"])
                    if idx is not None and env_rows[idx].get("accepted")]
        # SFT/replay data is the sample as the env accepted it, written in the prompt's output format (not the raw
        # completion, whose preambles and overlong tails the parser cut away)
        items = [ReplayItem(p["task"], list(r["prompt"]), format_fields(r["sample"], fields), float(row["score"]))
                 for r, row in accepted]
        self.memory.add_replay(items)
        if accepted:
            vectors = self.embedder.encode(self._texts([r["sample"] for r, _ in accepted], fields))
            self.memory.add_reference(vectors[np.linalg.norm(vectors, axis=1) > 0])
        return items

    def _eft(self, items: Sequence[ReplayItem], task: str) -> dict[str, Any]:
        """EFT after the first round's pick: LoRA SFT on its best accepted samples plus replay of earlier tasks."""
        c = self.config
        top = sorted(items, key=lambda it: -it.score)[: c.eft_top]
        replay = self.memory.replay(c.replay, exclude_task=task)
        pairs = [self.policy.encode_pair(it.prompt, it.completion) for it in [*top, *replay]]
        stats = self.policy.sft(pairs, epochs=c.eft_epochs, rng=self.rng)
        return {"eft_sequences": len(pairs), "eft_replay": len(replay),
                "eft_loss": float(np.mean([s.loss for s in stats])) if stats else None}

    def _grpo_update(self, rows: Sequence[Mapping[str, Any]], rewards: np.ndarray, scored: np.ndarray
                     ) -> dict[str, Any]:
        """One GRPO update on a step's groups: group-relative advantages of the hierarchical rewards, groups
        without spread or signal left out."""
        adv, ok = masked_group_advantages(rewards, scored, self.config.group_size)
        train = [i for i in range(len(rows)) if ok[i] and rows[i]["completion"].completion_ids]
        pairs = [(rows[i]["completion"].prompt_ids, rows[i]["completion"].completion_ids) for i in train]
        stats = self.policy.grpo(pairs, [float(adv[i]) for i in train])
        return {"trained": len(train), "loss": stats[-1].loss if stats else None,
                "kl": stats[-1].kl if stats else None, "clip_fraction": stats[-1].clip_fraction if stats else None}

    def synthesize(self, observation: Mapping[str, Any]) -> list[Sample]:
        """Probe data for any task from the agent as it is: one completion per requested sample with the current
        adapter and the memory's preferences; no learning, no memory change, no LLM proposal call (tasks without
        attributes whose proposal the agent has not made yet use the generic dimensions)."""
        rng = np.random.default_rng([self.seed, 13, zlib.crc32(str(observation["task"]).encode())])
        dims = self._dimensions(observation, propose=False)
        rows = self._prompt_rows(observation, request_labels(observation, self.config), 1, dims, rng)
        # common random numbers: every probe of a task (the b row before learning, each R row after a task) draws
        # the same prompts and sampling noise, so differences between rows come from the adapter, not the draws
        seed = zlib.crc32(f"probe/{self.seed}/{observation['task']}".encode()) & 0x7FFFFFFF
        out = [r["sample"] for r in self._sample(observation, rows, seed)]
        return [s for s in out if s is not None]

    # ------------------------------------------------------------------ checkpoints
    def save_state(self, directory: Any) -> Any:
        """Write adapter, optimiser, memory, RNG and counters to ``directory`` (safetensors + JSON)."""
        from streamsynth.agents.synlearner.checkpoint import save_agent

        if self._pending is not None:
            raise RuntimeError("save_state() between act() and observe(): checkpoint after the round's feedback")
        return save_agent(self, directory)

    def load_state(self, directory: Any) -> None:
        """Restore what :meth:`save_state` wrote (the agent must have the same settings and seed)."""
        from streamsynth.agents.synlearner.checkpoint import load_agent

        load_agent(self, directory)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **self.config.to_dict(),
                "proposed_attributes": {t: {k: list(v) for k, v in d.items()} for t, d in self.proposed.items()},
                "learning_log": list(self.log)}
