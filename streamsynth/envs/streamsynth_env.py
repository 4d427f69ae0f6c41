"""``StreamSynth-v0``: a stream of data-synthesis tasks as a Gymnasium environment."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from streamsynth.envs import state as _env_state
from streamsynth.envs.actions import parse_action
from streamsynth.envs.config import EnvConfig
from streamsynth.envs.feedback import rejected_row
from streamsynth.envs.observation import FEEDBACK_KEYS, build_observation_space, make_observation
from streamsynth.envs.screening import draft_flag, joined, preview, screen, screen_near_duplicates
from streamsynth.envs.spaces import DatasetSpace
from streamsynth.errors import StreamExhaustedError, TaskError
from streamsynth.rewards import single_threaded_blas
from streamsynth.rewards.blend import sample_score
from streamsynth.rewards.embeddings import Embedder, get_embedder
from streamsynth.rewards.novelty import ReferenceMemory
from streamsynth.rewards.reasons import Reason, reject
from streamsynth.rewards.scorer import EncodedSet, TaskScorer
from streamsynth.rewards.setscore import set_figures
from streamsynth.rewards.validity import sample_key, word_shingles
from streamsynth.tasks import get_stream
from streamsynth.tasks.spec import LABEL_KEY, Sample, Task
from streamsynth.tasks.splits import TaskSplits, split_samples


@dataclass
class _TaskContext:
    """Everything about one task that is computed once: its splits (seed, judge, dev; ``test`` is left empty: the
    env never holds the evaluation-only test split), scorer and seed examples."""

    task: Task
    splits: TaskSplits
    scorer: TaskScorer
    seed_keys: frozenset[str]
    seed_set: EncodedSet
    seed_shingles: tuple[frozenset, ...] = ()


@dataclass
class _TaskState:
    """The episode's mutable state: the accepted dataset and its per-sample scores."""

    index: int
    round: int = 0
    samples: list[Sample] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    parts: list[EncodedSet] = field(default_factory=list)
    fidelity: list[float] = field(default_factory=list)
    novelty: list[float] = field(default_factory=list)
    score: float = 0.0
    figures: dict[str, float] = field(default_factory=dict)
    done: bool = False
    drafts_used: int = 0
    steps: int = 0
    drafted: list[EncodedSet] = field(default_factory=list)  # encodings of the task's scored drafts


def realism_context(parts: Sequence[EncodedSet], scored: Sequence[str]) -> EncodedSet | None:
    """The synthetic rows that train a draft's realism test: ``parts`` (the accepted set, recent drafts) with each
    text once and none of the ``scored`` texts (a draft drafted again is not tested against its own copy, which
    would call it synthetic for being repeated); None when nothing is left."""
    rows = [p for p in parts if len(p)]
    if not rows:
        return None
    seen = EncodedSet.concat(rows)
    skip, keep = set(scored), []
    for i, text in enumerate(seen.texts):
        if text not in skip:
            keep.append(i)
            skip.add(text)
    return seen.take(keep) if keep else None


class StreamSynthEnv(gym.Env):
    """A stream of data-synthesis tasks; each episode is one task, each step one round of generated data.

    ## Description

    Synthesis tasks (e.g. "write movie-review snippets labelled positive/negative") arrive one after another, as in
    *Make LLM Learn to Synthesize from Streaming Experiences through Feedback* (arXiv 2605.29940). In each round the
    agent submits a batch of labelled samples; the environment keeps the valid ones in the task's dataset and
    answers with a reward that blends sample quality, set diversity and the data's utility for a downstream
    student, plus per-sample feedback. ``reset()`` moves on to the next task; whatever the agent learned carries
    over (the environment never resets the agent). The novelty reference (seed examples plus every sample accepted
    so far in the stream) also carries over, so repeating earlier data earns less.

    ## Action Space

    A dataset: a list of samples ``{field: text, ..., "label": name}`` (fields of the current task, e.g. ``text``,
    or ``premise`` and ``hypothesis``), or the same as JSONL text. :class:`~streamsynth.envs.spaces.DatasetSpace`;
    its seeded ``sample()`` draws random datasets in the current task's format. A value of the wrong type raises
    :class:`~streamsynth.errors.InvalidActionError` (a ``ValueError``) and changes nothing. Problems of single
    samples are rejected in ``info["rejected"]`` with a reason code (``"code"``, a
    :class:`~streamsynth.rewards.reasons.Reason` value; key on it) and a human message (``"reason"``), and earn
    nothing: malformed item or line, missing or
    empty field, unknown label, too short or too long, a copy or near-copy of a seed example (cosine >=
    ``near_duplicate``, or a word 3-gram overlap >= ``near_copy_overlap`` with it: an edited copy), a duplicate of
    an accepted sample or of another sample of the step, a label already at its target, more than
    ``max_samples_per_step`` items.

    **Drafts.** A sample written with ``"draft": true`` (JSONL too; a bool, which ``action_space`` admits) asks for
    feedback only: it is screened and scored as if it were submitted in this step (validity with a reason code, judge
    fidelity, novelty against the reference memory and the accepted set, its own score; realism differs, see below), and
    its row in ``info["samples"]`` says so (``draft`` True, ``accepted`` False, ``code`` None when it would have been
    accepted), but it is **not added** to the dataset and changes neither the set score, the step reward nor the novelty
    memory. Drafts are judged against the accepted set as it was before the step and against the step's other drafts
    (not against its submitted samples); a draft's realism is tested with the synthetic samples the task has seen (the
    accepted samples and the most recent drafts, as many as the task's target size) as training rows of the two-sample
    classifier, so that it does not depend on how many drafts share the step (:mod:`streamsynth.rewards.realism`); a
    draft of a label already at its target is rejected ``label_full``, but drafts do not fill labels among themselves.
    Each task has a **feedback budget** of ``feedback_budget`` drafts (default 8x the task's target size; 0: no drafts);
    every draft within the per-step limit uses one unit, valid or not, and drafts beyond the budget are rejected
    ``over_feedback_budget``. A step whose action holds only drafts does not use up a round: reward 0, the set
    unchanged, ``info["draft_only"]`` True. So ``max_rounds`` is the budget of submissions and ``feedback_budget`` the
    budget of feedback: a learner can take many feedback steps per task. ``info`` reports ``drafts`` (draft items in the
    action), ``feedback_used`` and ``feedback_left``.

    ## Observation Space

    A ``Dict``: ``task`` (name), ``task_index``, ``instruction``, ``fields``, ``labels``, ``label_descriptions``,
    ``attributes`` (a sequence of ``{"name", "values"}`` dimensions for diverse prompting), ``seed_examples``
    (a few real samples agents may use), ``length`` (``[min_chars, max_chars]`` of each field), ``round`` and
    ``max_rounds`` (the round budget), ``counts`` and ``targets`` (per label, padded to the stream's largest label
    set, ``label_mask`` marks real labels), ``feedback``: last round's figures in
    :data:`~streamsynth.envs.observation.FEEDBACK_KEYS` order (a drafts-only step leaves them as they were),
    ``feedback_left``: drafts left of the task's feedback budget, and ``step``: env steps taken in this episode
    (rounds plus drafts-only steps; 0 right after ``reset``). Text fields accept any Unicode text.

    ## Rewards

    The set score of the task's accepted dataset S (all components in [0, 1], weights in :class:`RewardWeights`):
    ``score = w_q quality + w_r realism + w_d diversity + w_u utility + w_c completion``, grounded in the task's
    real data: realism is a classifier two-sample test of S against the real judge split (per sample
    ``min(1, 2 P(real | x))`` out of fold, on sentence embeddings and style features), quality is the mean of the
    judge's probability of the intended label above chance (``(f - 1/K) / (1 - 1/K)``, clipped to [0, 1]) times
    realism, diversity is realism times a mix of per-label
    normalised Vendi, distinct-n, NovelSum-style novelty against the stream's reference memory and label balance,
    utility is the dev macro-F1 of a student trained on S, completion is ``|S| / target``
    (:mod:`streamsynth.rewards.blend`). With ``reward_mode="delta"`` (default) a step returns the change
    in score, so an episode's return is the final set's score; ``"absolute"`` returns the score itself.
    ``info`` holds every component, each sample's own figures (``info["samples"]``: fidelity, novelty, realism,
    score (:func:`~streamsynth.rewards.blend.sample_score`, whose novelty counts with the label agreement), and
    ``utility_gain``, the sample's own utility credit against the set before the step: how much a gradient step of
    that set's student on it lowers the student's dev log-loss, a first-order leave-one-in estimate,
    :mod:`streamsynth.rewards.influence`) and each rejected sample with
    its reason code and message (``info["rejected"]``); the rows are typed in :mod:`streamsynth.envs.feedback`.
    Drafts earn no reward; their rows carry the figures and score they would have earned. The env uses (and holds)
    only the seed, judge and dev splits of each task's real data; the test split is evaluation-only and belongs to
    the harness
    (:class:`streamsynth.evaluation.evaluator.Evaluator`), out of the agent's reach.

    ## Starting State

    ``reset(seed=s)`` restarts the stream at its first task with a fresh novelty memory (same seed and actions give
    the same observations and rewards); ``reset()`` without a seed moves to the next task;
    ``reset(options={"task": name})`` jumps to a task of the stream. After the last task ``reset()`` raises
    :class:`~streamsynth.errors.StreamExhaustedError` unless ``cycle=True``. ``state_dict()`` /
    ``load_state_dict()`` and ``save_state(dir)`` / ``load_state(dir)`` checkpoint the stream (position, current
    episode, novelty memory, RNGs) so that an interrupted run resumes exactly (:mod:`streamsynth.envs.state`).

    ## Episode End

    ``terminated`` when every label has ``samples_per_label`` accepted samples or after ``max_rounds`` rounds (the
    round budget is part of the task). ``truncated`` is always False (wrap with ``TimeLimit`` to add one).

    ## Arguments

    ``stream`` (a built-in stream name, a stream/task TOML path, or a list of tasks or names; default
    ``"offline"``), ``render_mode`` (``None`` or ``"ansi"``), and the settings of
    :class:`~streamsynth.envs.config.EnvConfig` (each declared there once, with its default and help), as keywords
    or as ``config=EnvConfig(...)`` (keywords then replace some of its values): ``samples_per_label`` (target per
    label, 16), ``max_rounds`` (3), ``max_samples_per_step`` (256), ``reward_weights`` (mapping of weight names),
    ``reward_mode``, ``cycle``, ``embedder`` (``"minilm"``, ``"hashing"`` or a sentence-transformers id or an
    :class:`~streamsynth.rewards.embeddings.Embedder`), ``split_sizes`` (a
    :class:`~streamsynth.tasks.splits.SplitSizes` or mapping; ``test`` still shapes how the data is cut, though
    the env drops the test split), ``data_seed`` (fixes the real-data splits, 0), ``near_duplicate`` (0.97),
    ``near_copy_overlap`` (0.6), ``novelty_capacity`` (4096), ``feedback_budget`` (drafts per task; ``None``: 8x the
    target size). ``env.config`` holds them.

    ## Version History

    The id stays ``StreamSynth-v0`` while the package is below 1.0; behaviour changes are listed here by package
    version (the changelog has the rest).

    * 0.1: initial version.
    * 0.2: the score is grounded in the task's real data (``realism``; quality and diversity weighted by it);
      edited copies of seed examples are rejected (``near_copy_overlap``); the test split left the env (reports
      use :class:`streamsynth.evaluation.evaluator.Evaluator`) and ``real_pool``/``test_report`` are gone; drafts
      and the per-task feedback budget (``feedback_left`` and ``step`` in the observation).
    * 0.3.0: a sample's own score counts novelty in proportion to the label agreement (new text the judge reads
      as another label earns no novelty credit).
    * 0.3.1: a draft's realism is tested with the synthetic samples the task has seen (the accepted set and the
      most recent drafts) as training rows, not only with the drafts of its step.
    * 0.3.3: ``action_space`` admits a bool ``draft`` flag beside a sample's fields.
    * 0.4.0: the round budget ``max_rounds`` defaults to 3 (was 4), as the CLI's ``--rounds`` always did; the
      settings live in ``env.config`` (the attribute copies such as ``env.max_rounds`` are gone).
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(self, stream: str | Sequence[Task | str] = "offline", *, config: EnvConfig | None = None,
                 render_mode: str | None = None, **settings: Any) -> None:
        # every setting is an EnvConfig field, validated there (one place): keyword settings, or a config with
        # keyword settings replacing some of its values
        try:
            cfg = replace(config, **settings) if config is not None else EnvConfig(**settings)
        except TypeError as exc:  # an unknown keyword
            known = ", ".join(f.name for f in fields(EnvConfig))
            raise TypeError(f"StreamSynthEnv: {exc}; its settings are {known} (and stream, config, "
                            "render_mode)") from None
        self.config = cfg
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.tasks: list[Task] = _resolve_stream(stream)
        names = [t.name for t in self.tasks]
        if len(set(names)) != len(names):
            raise TaskError(f"a stream cannot hold the same task twice: {names}")
        self.render_mode = render_mode
        self._embedder: Embedder | None = cfg.embedder if isinstance(cfg.embedder, Embedder) else None

        self.max_labels = max(len(t.labels) for t in self.tasks)
        self.observation_space = build_observation_space(
            self.tasks, self.max_labels, cfg.max_rounds, cfg.samples_per_label,
            cfg.split_sizes.seed_per_label * self.max_labels,
            max(cfg.task_feedback_budget(len(t.labels)) for t in self.tasks),
        )
        self.action_space = DatasetSpace(
            cfg.max_samples_per_step, max(t.max_chars for t in self.tasks), self.tasks[0].fields,
            self.tasks[0].label_names
        )
        self._contexts: dict[int, _TaskContext] = {}
        self._position = -1
        self._state: _TaskState | None = None
        self._memory: ReferenceMemory | None = None

    # ------------------------------------------------------------------ resources
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder(str(self.config.embedder))
        return self._embedder

    def _context(self, index: int) -> _TaskContext:
        if index not in self._contexts:
            with single_threaded_blas():
                self._contexts[index] = self._build_context(index)
        return self._contexts[index]

    def _build_context(self, index: int) -> _TaskContext:
        task = self.tasks[index]
        splits = split_samples(task.source.load(), task, self.config.split_sizes, seed=self.config.data_seed)
        splits = replace(splits, test=[])  # evaluation-only: the env (and so the agent) never holds the test split
        scorer = TaskScorer(task, splits.judge, splits.dev, self.embedder, seed=self.config.data_seed)
        keys = frozenset(sample_key(s, task.fields) for s in splits.seed)
        shingles = tuple(word_shingles(joined(s, task.fields)) for s in splits.seed)
        return _TaskContext(task, splits, scorer, keys, scorer.encode(splits.seed), shingles)

    @property
    def current_task(self) -> Task:
        if self._state is None:
            raise RuntimeError("no current task: call reset() first")
        return self.tasks[self._state.index]

    @property
    def dataset(self) -> list[Sample]:
        """A copy of the current task's accepted samples."""
        return [dict(s) for s in self._state.samples] if self._state else []

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - {"task"}
        if unknown:
            raise ValueError(f"unknown reset option(s) {sorted(unknown)}; known: ['task']")
        if seed is not None or self._memory is None:
            self._position = -1
            self._memory = ReferenceMemory(self.embedder.dim, capacity=self.config.novelty_capacity)
        if "task" in options:
            names = [t.name for t in self.tasks]
            if options["task"] not in names:
                raise TaskError(f"task {options['task']!r} is not in this stream; tasks: {names}")
            index = names.index(options["task"])
        else:
            index = self._position + 1
            if index >= len(self.tasks):
                if not self.config.cycle:
                    raise StreamExhaustedError(
                        f"the stream's {len(self.tasks)} task(s) are done; call reset(seed=...) to start over, "
                        "reset(options={'task': name}) to revisit one, or make the env with cycle=True"
                    )
                index = 0
        ctx = self._context(index)
        self._position = index
        self._state = _TaskState(index=index)
        self._memory.add(ctx.seed_set.vectors)
        task = ctx.task
        self.action_space.set_format(task.fields, task.label_names)
        return self._observation(), {"task": task.name, "task_index": index, "dataset_size": 0}

    def step(self, action: Any):
        with single_threaded_blas():
            return self._step(action)

    def _step(self, action: Any):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        if self._state.done:
            raise RuntimeError(f"the episode of task {self.current_task.name!r} is over; "
                               "call reset() for the next task")
        items = parse_action(action)  # raises InvalidActionError before any change
        st, ctx = self._state, self._context(self._state.index)
        st.steps += 1
        task = ctx.task
        rows: list[Any] = [None] * len(items)
        flags = [draft_flag(item) for item, _ in items]
        drafts = [i for i, f in enumerate(flags) if f is True]
        submitted = [i for i, f in enumerate(flags) if f is not True]
        for i, f in enumerate(flags):
            if f is not True and f is not False:  # an invalid draft flag: the item is rejected as submitted
                items[i] = (items[i][0], items[i][1] or f)
        # drafts: charged to the task's feedback budget (those within the per-step limit), scored, never added
        budget = self._budget(st)
        in_window = [i for i in drafts if i < self.config.max_samples_per_step]
        charged = in_window[: max(budget - st.drafts_used, 0)]
        for i in in_window[len(charged):]:
            items[i] = (items[i][0], items[i][1] or reject(Reason.OVER_FEEDBACK_BUDGET, budget=budget))
        if drafts:
            self._judge(items, drafts, rows, ctx, st, draft=True)
        st.drafts_used += len(charged)
        info = {"task": task.name, "task_index": st.index, "drafts": len(drafts), "feedback_used": len(charged),
                "feedback_left": budget - st.drafts_used}
        if drafts and not submitted:  # only drafts: feedback without using up a round; the set is unchanged
            counts = Counter(s[LABEL_KEY] for s in st.samples)
            info.update(self._info_tail(rows, items, st, task, counts, accepted=0, draft_only=True,
                                        components={**st.figures, "reward": 0.0} if st.figures else {}))
            return self._observation(), 0.0, False, False, info
        enc, accepted, fidelity, novelty, whole, realism = self._judge(items, submitted, rows, ctx, st)
        # commit
        st.round += 1
        for i in accepted:
            sample = items[i][0]
            clean = {**{f: sample[f].strip() for f in task.fields}, LABEL_KEY: sample[LABEL_KEY]}
            st.samples.append(clean)
            st.keys.add(sample_key(clean, task.fields))
        if len(enc):
            st.parts.append(enc)
            st.fidelity.extend(map(float, fidelity))
            st.novelty.extend(map(float, novelty))
            self._memory.add(enc.vectors)
        figures = self._set_figures(ctx, st, whole, realism)
        previous = st.score
        st.score = figures["score"]
        reward = st.score - previous if self.config.reward_mode == "delta" else st.score
        figures["reward"] = reward
        figures["acceptance_rate"] = len(accepted) / len(submitted) if submitted else 0.0
        st.figures = figures
        counts = Counter(s[LABEL_KEY] for s in st.samples)
        info.update(self._info_tail(rows, items, st, task, counts, accepted=len(accepted), draft_only=False,
                                    components=figures))
        terminated = info["target_reached"] or st.round >= self.config.max_rounds
        st.done = terminated
        return self._observation(), float(reward), terminated, False, info

    def _judge(self, items, indices: list[int], rows: list[Any], ctx: _TaskContext, st: _TaskState, *,
               draft: bool = False):
        """Screen and score the items at ``indices`` against the task's accepted set as it was before this step;
        fill their rows. Submitted items that pass are marked accepted (the caller commits them); drafts get the
        same figures but stay unaccepted. Returns the kept items' encodings, indices, fidelity, novelty, and the
        realism of the accepted set plus them (``whole``, ``realism``)."""
        task = ctx.task
        candidates = screen(items, indices, task, ctx.seed_keys, ctx.seed_shingles, st.keys,
                            self.config.max_samples_per_step, self.config.near_copy_overlap, rows, draft=draft)
        enc = ctx.scorer.encode([items[i][0] for i in candidates])
        keep: list[int] = []
        if candidates:
            accepted_vectors = np.concatenate([p.vectors for p in st.parts]) if st.parts else None
            keep = screen_near_duplicates(
                enc.vectors, [task.label_names[k] for k in enc.labels], candidates, ctx.seed_set.vectors,
                accepted_vectors, Counter(s[LABEL_KEY] for s in st.samples), self.config.samples_per_label,
                self.config.near_duplicate, rows, fill_labels=not draft)
        enc = enc.take(keep)
        kept = [candidates[k] for k in keep]
        fidelity = ctx.scorer.fidelity(enc)
        novelty = self._memory.novelty(enc.vectors) if len(enc) else np.zeros(0)
        whole = EncodedSet.concat([*st.parts, enc]) if (st.parts or len(enc)) else enc
        if draft:  # against the accepted set and recent drafts, whatever the number of drafts in this step
            realism = ctx.scorer.realism(enc, realism_context([*st.parts, *st.drafted], enc.texts))
            new_realism = realism
            if len(enc):  # keep the most recent drafts, as many as the task's target size
                recent = EncodedSet.concat([*st.drafted, enc])
                window = self.config.samples_per_label * len(task.labels)
                st.drafted = [recent.take(np.arange(max(0, len(recent) - window), len(recent)))]
        else:  # the set's test: the accepted set and this step's samples, each scored out of fold
            realism = ctx.scorer.realism(whole)
            new_realism = realism[len(whole) - len(enc):]
        gains = ctx.scorer.utility_gains(whole.take(np.arange(len(whole) - len(enc))), enc) if len(enc) else []
        for j, i in enumerate(kept):
            rows[i].update(accepted=not draft, fidelity=float(fidelity[j]), novelty=float(novelty[j]),
                           realism=float(new_realism[j]), utility_gain=float(gains[j]),
                           score=sample_score(float(fidelity[j]), float(novelty[j]), float(new_realism[j]),
                                              len(task.labels), self.config.reward_weights))
        return enc, kept, fidelity, novelty, whole, realism

    def _info_tail(self, rows, items, st: _TaskState, task: Task, counts: Counter, *, accepted: int,
                   draft_only: bool, components: Mapping[str, float]) -> dict[str, Any]:
        return {
            "round": st.round,
            "draft_only": draft_only,
            "components": {k: float(v) for k, v in components.items()},
            "samples": rows,
            "rejected": [rejected_row(r, preview(items[r["index"]][0])) for r in rows if r["code"] is not None],
            "accepted": accepted,
            "dataset_size": len(st.samples),
            "counts": {lbl: counts.get(lbl, 0) for lbl in task.labels},
            "target_reached": all(counts.get(lbl, 0) >= self.config.samples_per_label for lbl in task.labels),
        }

    def _budget(self, st: _TaskState) -> int:
        """The feedback budget (draft samples) of the current task."""
        return self._budget_of(st.index)

    def _budget_of(self, index: int) -> int:
        """The feedback budget (draft samples) of task ``index``."""
        return self.config.task_feedback_budget(len(self.tasks[index].labels))

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        if self._state is None:
            return "StreamSynth: no task yet (call reset())"
        task = self.current_task
        counts = Counter(s[LABEL_KEY] for s in self._state.samples)
        lines = [f"task {self._state.index + 1}/{len(self.tasks)} {task.name!r}, "
                 f"round {self._state.round}/{self.config.max_rounds}"]
        lines += [f"  {lbl:<24} {counts.get(lbl, 0):>4}/{self.config.samples_per_label}" for lbl in task.labels]
        lines += [f"  {k:<16} {self._state.figures.get(k, 0.0):.3f}" for k in FEEDBACK_KEYS]
        return "\n".join(lines)

    # ------------------------------------------------------------------ checkpoints
    def current_observation(self) -> dict:
        """The observation of the current state (what the last ``reset``/``step`` returned); for resumed runs."""
        if self._state is None:
            raise RuntimeError("no current task: call reset() first")
        return self._observation()

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue the stream exactly (see :mod:`streamsynth.envs.state`): plain data and
        numpy arrays, a copy that later steps do not change."""
        return _env_state.env_state_dict(self)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` output into an env built with the same arguments; raises
        :class:`~streamsynth.envs.state.EnvStateError` (a ``ValueError``) naming the problem, leaving the env
        unchanged, when it does not fit (other tasks, ``samples_per_label``, embedder...) or is broken."""
        _env_state.load_env_state_dict(self, state)

    def save_state(self, path_dir: str | os.PathLike[str]) -> Path:
        """Write ``env_state.json`` and ``env_state.safetensors`` into ``path_dir`` atomically; returns it."""
        return _env_state.save_env_state(self, path_dir)

    def load_state(self, path_dir: str | os.PathLike[str]) -> None:
        """Load what :meth:`save_state` wrote; a missing, damaged or mismatched checkpoint raises
        :class:`~streamsynth.envs.state.EnvStateError` naming the file and the fix."""
        _env_state.load_env_state(self, path_dir)

    # ------------------------------------------------------------------ internals
    def _observation(self) -> dict:
        st = self._state
        ctx = self._context(st.index)
        return make_observation(
            ctx.task, st.index, ctx.splits.seed, st.round, self.config.max_rounds,
            Counter(s[LABEL_KEY] for s in st.samples), self.config.samples_per_label, self.max_labels, st.figures,
            self._budget(st) - st.drafts_used, st.steps,
        )

    def _set_figures(self, ctx: _TaskContext, st: _TaskState, enc: EncodedSet,
                     realism: np.ndarray) -> dict[str, float]:
        """The set figures of the accepted dataset ``enc`` (every accepted sample, in order) and its realism."""
        target = self.config.samples_per_label * len(ctx.task.labels)
        return set_figures(ctx.scorer, enc, st.fidelity, st.novelty, target, self.config.reward_weights, realism)


def _resolve_stream(stream: str | Sequence[Task | str]) -> list[Task]:
    from streamsynth.tasks import get_task

    if isinstance(stream, str):
        tasks = get_stream(stream)
    elif isinstance(stream, Task):
        tasks = [stream]
    elif isinstance(stream, Sequence):
        tasks = [t if isinstance(t, Task) else get_task(t) for t in stream]
    else:
        raise TaskError(f"stream must be a name, a path or a list of tasks, got {type(stream).__name__}")
    if not tasks:
        raise TaskError("the stream holds no task")
    return list(tasks)
