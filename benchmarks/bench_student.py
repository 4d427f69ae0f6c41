"""Linear probe vs fine-tuned MiniLM as the student: test accuracy and cost, on real data and on keyword bags.

On the packaged ``movie-sentiment`` task (split as the env does, ``data_seed`` 0), each student is trained on n
samples per label drawn from the judge split, then scored on 600 snippets of the test split:

- ``linear``: logistic regression (``LinearClassifier``, C = 4) on frozen MiniLM embeddings, the env's student;
  its seconds include embedding the training set (fit) and the 600 test snippets (predict), uncached;
- ``finetuned``: ``FineTunedStudent``, MiniLM trained end to end (``streamsynth/evaluation/finetune.py``).

Training sets: ``real`` (real snippets) and ``keywords`` (per label, bags of 6-10 words drawn from small positive
/ negative sentiment word lists: degenerate synthetic data that a useful student ranks below real data). Then the
costs asked of the fine-tuned student: fitting 2 x 16 and 6 x 16 samples (``question-type``), predicting 800 short
texts, and loading the pretrained model again vs copying one kept in memory.

    python benchmarks/bench_student.py [--sizes 16 128] [--test 600] [--seed 0] [--epochs 8] [--lr 1e-4]
                                       [--head-lr 1e-3] [--skip-costs]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

POSITIVE_WORDS = [
    "great", "wonderful", "brilliant", "moving", "funny", "charming", "superb", "delightful", "beautiful", "smart",
    "gripping", "masterful", "touching", "fresh", "witty", "stunning", "powerful", "enjoyable", "excellent", "warm",
    "clever", "inspiring", "memorable", "fun", "best", "love", "perfect", "rich", "engaging", "triumph",
]
NEGATIVE_WORDS = [
    "boring", "dull", "awful", "terrible", "bland", "tedious", "stupid", "mess", "weak", "predictable",
    "lifeless", "clumsy", "flat", "pointless", "worst", "bad", "annoying", "tired", "shallow", "forgettable",
    "ugly", "incoherent", "slow", "waste", "silly", "empty", "poor", "lazy", "overlong", "disappointing",
]


def keyword_bags(labels: tuple[str, ...], n: int, rng: np.random.Generator) -> list[dict[str, str]]:
    """Per label, ``n`` texts of 6-10 distinct words of that label's list (positive/negative sentiment)."""
    words = {"positive": POSITIVE_WORDS, "negative": NEGATIVE_WORDS}
    return [{"text": " ".join(rng.choice(words[label], size=int(rng.integers(6, 11)), replace=False)), "label": label}
            for label in labels for _ in range(n)]


def real_subset(pool: list[dict[str, str]], labels: tuple[str, ...], n: int, rng: np.random.Generator
                ) -> list[dict[str, str]]:
    """``n`` random samples of each label from ``pool``."""
    out = []
    for label in labels:
        rows = [s for s in pool if s["label"] == label]
        if len(rows) < n:
            raise SystemExit(f"only {len(rows)} judge samples of label {label!r}, asked for {n}")
        out += [rows[i] for i in rng.permutation(len(rows))[:n]]
    return out


def run_linear(embedder, train, test, labels) -> tuple[float, float, float, float]:
    """(accuracy, macro-F1, fit seconds, predict seconds) of the env's linear student, embeddings uncached."""
    from streamsynth.rewards import single_threaded_blas
    from streamsynth.rewards.classifiers import LinearClassifier, accuracy_and_macro_f1

    y_true = np.array([labels.index(s["label"]) for s in test])
    t0 = time.perf_counter()
    X = embedder.encode([s["text"] for s in train])
    with single_threaded_blas():
        clf = LinearClassifier(labels).fit(X, [s["label"] for s in train])
    t1 = time.perf_counter()
    X_test = embedder.encode([s["text"] for s in test])
    with single_threaded_blas():
        pred = clf.predict(X_test)
    t2 = time.perf_counter()
    return (*accuracy_and_macro_f1(y_true, pred, len(labels)), t1 - t0, t2 - t1)


def run_finetuned(config, train, test, labels, fields) -> tuple[float, float, float, float]:
    """(accuracy, macro-F1, fit seconds, predict seconds) of the fine-tuned student."""
    from streamsynth.evaluation.finetune import FineTunedStudent
    from streamsynth.rewards.classifiers import accuracy_and_macro_f1

    y_true = np.array([labels.index(s["label"]) for s in test])
    t0 = time.perf_counter()
    student = FineTunedStudent(labels, fields, config).fit(train)
    t1 = time.perf_counter()
    pred = student.predict(test)
    t2 = time.perf_counter()
    return (*accuracy_and_macro_f1(y_true, pred, len(labels)), t1 - t0, t2 - t1)


def costs(config, seed: int) -> None:
    """Seconds to fit 2 x 16 and 6 x 16 samples, to predict 800 short texts, and to load vs copy the model."""
    import copy

    from streamsynth.evaluation.finetune import FineTunedStudent, load_pretrained, resolve_model
    from streamsynth.rewards.validity import sample_key
    from streamsynth.tasks import get_task
    from streamsynth.tasks.splits import SplitSizes, split_samples

    rng = np.random.default_rng(seed)
    print("\ncosts of the fine-tuned student (default batch and length settings):")
    for name in ("movie-sentiment", "question-type"):
        task = get_task(name)
        rows = task.source.load()
        splits = split_samples(rows, task, SplitSizes(), seed=0)
        test = {sample_key(s, task.fields) for s in splits.test}
        # from every non-test row: TREC's judge split holds only 12 'abbreviation' questions
        train = real_subset([s for s in rows if sample_key(s, task.fields) not in test], task.label_names, 16, rng)
        t0 = time.perf_counter()
        student = FineTunedStudent(task.label_names, task.fields, config).fit(train)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        student.predict(splits.test)
        pred_s = time.perf_counter() - t0
        chars = np.mean([len(s["text"]) for s in splits.test])
        print(f"  {name:16s} fit {len(task.label_names)} x 16 = {len(train):>3} samples: {fit_s:5.1f} s;  "
              f"predict {len(splits.test)} texts (mean {chars:.0f} chars): {pred_s:5.1f} s")

    path = resolve_model(config.model)
    t0 = time.perf_counter()
    _, encoder = load_pretrained(path)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    copy.deepcopy(encoder)
    copy_s = time.perf_counter() - t0
    print(f"  pretrained encoder, loaded again in this process: {load_s:.2f} s (what each fit pays); "
          f"a deepcopy of it instead: {copy_s:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[16, 128], help="training samples per label")
    ap.add_argument("--test", type=int, default=600, help="test snippets scored")
    ap.add_argument("--seed", type=int, default=0, help="draws of the training sets and the fine-tuning seed")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--head-lr", type=float, default=None)
    ap.add_argument("--skip-costs", action="store_true", help="only the accuracy table")
    args = ap.parse_args()

    import torch
    from transformers.utils import logging as hf_logging

    from streamsynth.evaluation.finetune import FineTuneConfig, load_pretrained, resolve_model
    from streamsynth.rewards.embeddings import get_embedder
    from streamsynth.tasks import get_task
    from streamsynth.tasks.splits import SplitSizes, split_samples

    hf_logging.disable_progress_bar()
    overrides = {k: v for k, v in (("epochs", args.epochs), ("lr", args.lr), ("head_lr", args.head_lr))
                 if v is not None}
    config = FineTuneConfig(seed=args.seed, **overrides)
    task = get_task("movie-sentiment")
    labels, fields = task.label_names, task.fields
    splits = split_samples(task.source.load(), task, SplitSizes(), seed=0)
    test = splits.test[: args.test]
    print(f"task {task.name}: train from the judge split ({len(splits.judge)}), test on {len(test)} test snippets; "
          f"torch threads {torch.get_num_threads()}")
    print(f"fine-tuning config: {config.to_dict()}")

    t0 = time.perf_counter()
    load_pretrained(resolve_model(config.model))
    print(f"fine-tuning model: first load in this process {time.perf_counter() - t0:.1f} s (later loads: see costs)")
    t0 = time.perf_counter()
    embedder = get_embedder("minilm", disk_cache=False).inner  # uncached: the timings include embedding
    print(f"MiniLM sentence embedder loaded in {time.perf_counter() - t0:.1f} s\n")

    print(f"{'student':10s} {'data':9s} {'n/label':>7} {'accuracy':>9} {'macro-F1':>9} {'fit s':>7} {'predict s':>9}")
    for data in ("real", "keywords"):
        for n in args.sizes:
            rng = np.random.default_rng(args.seed)
            train = real_subset(splits.judge, labels, n, rng) if data == "real" else keyword_bags(labels, n, rng)
            for name in ("linear", "finetuned"):
                if name == "linear":
                    acc, f1, fit_s, pred_s = run_linear(embedder, train, test, labels)
                else:
                    acc, f1, fit_s, pred_s = run_finetuned(config, train, test, labels, fields)
                print(f"{name:10s} {data:9s} {n:>7} {acc:>9.3f} {f1:>9.3f} {fit_s:>7.1f} {pred_s:>9.1f}", flush=True)
    if not args.skip_costs:
        costs(config, args.seed)


if __name__ == "__main__":
    main()
