"""lamina.ops.embedding (csrc/cpu/embedding.cpp): gather against numpy fancy indexing, the
scatter-add gradient against np.add.at and finite differences, threaded determinism, and the
out-of-range error."""
import numpy as np
import pytest

import lamina as L
from lamina import _cpu, ops
from lamina.ops.embedding import embedding
from gradcheck import check_gradients

rng = np.random.default_rng(3)


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("shape,V,D", [((4, 7), 11, 5), ((1,), 1, 1), ((3, 2, 5), 50, 33),
                                       ((2000,), 7, 64)])
def test_gather_and_scatter_add(dtype, index_dtype, shape, V, D):
    table = rng.standard_normal((V, D)).astype(dtype)
    idx = rng.integers(0, V, size=shape).astype(index_dtype)
    w = L.Variable(table)
    with L.GradientTape() as tape:
        out = embedding(idx, w)
        g = rng.standard_normal(out.shape).astype(dtype)
        loss = ops.sum(ops.multiply(out, g))
    np.testing.assert_array_equal(out.data, table[idx])
    (dtable,) = tape.gradient(loss, [w])
    expected = np.zeros((V, D))
    np.add.at(expected, idx.reshape(-1), g.reshape(-1, D).astype(np.float64))
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(dtable.data, expected, rtol=rtol, atol=rtol)


def test_gradient_check():
    idx = np.array([[0, 3, 3], [2, 0, 1]])
    check_gradients(lambda t: embedding(idx, t), rng.standard_normal((5, 4)))


def test_scatter_is_deterministic_across_threads():
    table = rng.standard_normal((13, 40)).astype(np.float32)
    idx = rng.integers(0, 13, size=5000).astype(np.int64)
    g = rng.standard_normal((5000, 40)).astype(np.float32)
    before = _cpu.get_num_threads()
    results = []
    for n in (1, 2, 3):
        _cpu.set_num_threads(n)
        d = np.empty_like(table)
        _cpu.embedding_backward(idx, g, d)
        results.append(d)
    _cpu.set_num_threads(before)
    for d in results[1:]:
        np.testing.assert_array_equal(d, results[0])


@pytest.mark.parametrize("bad", [10, -1, 99])
def test_out_of_range_index_is_a_clear_error(bad):
    table = np.zeros((10, 3), np.float32)
    idx = np.array([[1, 2], [bad, 4]])
    with pytest.raises(ValueError, match=rf"\[embedding_forward\] argument 'indices': index "
                                         rf"{bad} at flat position 2 is out of range for a "
                                         rf"table of 10 rows"):
        embedding(idx, table)
    with pytest.raises(ValueError, match=rf"\[embedding_backward\].*index {bad}"):
        _cpu.embedding_backward(idx, np.zeros((4, 3), np.float32), np.empty_like(table))


def test_non_integer_indices_rejected():
    with pytest.raises(ValueError, match=r"\[embedding\] indices must be integers"):
        embedding(np.array([0.5, 1.0]), np.zeros((3, 2)))
    out = embedding(np.array([1.0, 2.0]), np.eye(3))
    np.testing.assert_array_equal(out.data, np.eye(3)[[1, 2]])


# ---- layers (python/lamina/layers/embedding.py) ---------------------------------------------
def test_embedding_layer_keras_layout_and_mask():
    layer = L.layers.Embedding(7, 3, mask_zero=True)
    ids = np.array([[0, 4, 6], [2, 0, 1]])
    out = layer(ids)
    (table,) = layer.get_weights()
    assert table.shape == (7, 3) and np.all(np.abs(table) <= 0.05)  # Keras "uniform"
    np.testing.assert_array_equal(out.data, table[ids])
    np.testing.assert_array_equal(L.layers.embedding.get_mask(out), ids != 0)
    np.testing.assert_array_equal(layer.compute_mask(ids), ids != 0)
    assert layer.compute_output_shape((None, 3)) == (None, 3, 3)
    assert L.layers.embedding.get_mask(L.layers.Embedding(7, 3)(ids)) is None


def test_embedding_layer_out_of_range():
    with pytest.raises(ValueError, match="index 9 at flat position 1 is out of range"):
        L.layers.Embedding(5, 2)(np.array([[1, 9]]))


def test_masking_layer_zeroes_and_masks():
    x = np.array([[[1.0, 2.0], [0.0, 0.0], [0.0, 3.0]]], np.float32)
    out = L.layers.Masking(0.0)(x)
    np.testing.assert_array_equal(out.data, x)
    np.testing.assert_array_equal(L.layers.embedding.get_mask(out), [[True, False, True]])
    out = L.layers.Masking(1.0)(np.array([[[1.0, 1.0], [1.0, 2.0]]], np.float32))
    np.testing.assert_array_equal(out.data, [[[0.0, 0.0], [1.0, 2.0]]])


def test_embedding_get_config_is_complete_and_round_trips():
    layer = L.layers.Embedding(6, 2, embeddings_initializer="he_normal",
                               embeddings_regularizer="l2", activity_regularizer="l1",
                               embeddings_constraint="non_neg", mask_zero=True, name="emb")
    config = layer.get_config()
    assert set(config) == {"name", "trainable", "dtype", "input_dim", "output_dim",
                           "embeddings_initializer", "embeddings_regularizer",
                           "activity_regularizer", "embeddings_constraint", "mask_zero"}
    assert config["embeddings_regularizer"] == {"class_name": "L2", "config": {"l2": 0.01}}
    assert config["embeddings_constraint"] == {"class_name": "NonNeg", "config": {}}
    clone = L.layers.Embedding.from_config(config)
    assert clone.get_config() == config
    clone(np.array([[1, 0]]))
    assert len(clone.losses) == 2  # the table's penalty and the activity penalty
    assert isinstance(clone.embeddings.constraint, L.constraints.NonNeg)
