"""Batch normalization: the kernels against the numpy oracle (training and inference, float32
and float64, every ISA), the fused backward against finite differences, axis handling, errors."""
import numpy as np
import pytest

import lamina as L
from lamina import _cpu, ops

import reference as ref
from conftest import tolerance
from gradcheck import check_gradients

rng = np.random.default_rng(5)


@pytest.mark.parametrize("shape", [(64, 8, 8, 16), (1, 3, 3, 5), (7, 33), (2, 1)])
def test_batchnorm_kernels_match_oracle(shape, dtype, isa):
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    C = shape[-1]
    gamma = rng.standard_normal(C).astype(dtype)
    beta = rng.standard_normal(C).astype(dtype)
    rows = x.reshape(-1, C)
    y = np.empty_like(rows)
    mean, var = np.empty(C, dtype), np.empty(C, dtype)
    _cpu.batchnorm_forward_training(rows, gamma, beta, 1e-3, y, mean, var)
    expect, m_ref, v_ref = ref.batch_norm(x, gamma, beta, 1e-3)
    rtol, atol = tolerance(dtype)
    np.testing.assert_allclose(mean, m_ref, rtol=rtol, atol=atol * 10)
    np.testing.assert_allclose(var, v_ref, rtol=rtol * 10, atol=atol * 10)
    np.testing.assert_allclose(y.reshape(shape), expect, rtol=rtol * 10, atol=atol * 10)

    mm = rng.standard_normal(C).astype(dtype)
    mv = rng.random(C).astype(dtype) + 0.5
    _cpu.batchnorm_forward_inference(rows, gamma, beta, mm, mv, 1e-3, y)
    expect, _, _ = ref.batch_norm(x, gamma, beta, 1e-3, mm.astype(np.float64),
                                  mv.astype(np.float64))
    np.testing.assert_allclose(y.reshape(shape), expect, rtol=rtol * 10, atol=atol * 10)

    # the training backward against the closed form
    dy = rng.standard_normal(rows.shape).astype(dtype)
    dx, dg, db = np.empty_like(rows), np.empty_like(gamma), np.empty_like(beta)
    _cpu.batchnorm_backward(rows, gamma, m_ref.astype(dtype), v_ref.astype(dtype), 1e-3, dy,
                            True, dx, dg, db)
    r64, g64 = rows.astype(np.float64), dy.astype(np.float64)
    inv = 1 / np.sqrt(v_ref + 1e-3)
    xhat = (r64 - m_ref) * inv
    dx_ref = gamma * inv * (g64 - g64.mean(0) - xhat * (g64 * xhat).mean(0))
    np.testing.assert_allclose(dg, (g64 * xhat).sum(0), rtol=rtol * 30, atol=atol * 100)
    np.testing.assert_allclose(db, g64.sum(0), rtol=rtol * 30, atol=atol * 100)
    np.testing.assert_allclose(dx, dx_ref, rtol=rtol * 30, atol=atol * 100)


def test_float32_statistics_are_exact_on_large_offsets():
    # two-pass statistics in double: a constant offset of 1e4 does not swamp a unit variance
    x = (rng.standard_normal((20000, 3)) + 1e4).astype(np.float32)
    y, mean, var = ops.batch_norm_train(x)
    np.testing.assert_allclose(var, x.astype(np.float64).var(0), rtol=1e-5)


@pytest.mark.parametrize("axis", [-1, 1])
def test_batch_norm_train_gradients(axis):
    x = rng.standard_normal((3, 4, 2, 3))
    C = x.shape[axis]
    g, b = rng.standard_normal(C), rng.standard_normal(C)
    check_gradients(lambda x, g, b: ops.batch_norm_train(x, g, b, axis)[0], x, g, b,
                    rtol=1e-5, atol=1e-6)
    y, mean, var = ops.batch_norm_train(x, g, b, axis)
    moved = np.moveaxis(x, axis, -1)
    expect, m, v = ref.batch_norm(moved, g, b, 1e-3)
    np.testing.assert_allclose(y.data, np.moveaxis(expect, -1, axis), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mean, m, rtol=1e-12)


def test_batch_normalization_keras_op_and_gradients():
    x = rng.standard_normal((5, 4))
    m, v = rng.standard_normal(4), rng.random(4) + 0.5
    offset, scale = rng.standard_normal(4), rng.standard_normal(4)
    y = ops.batch_normalization(x, m, v, axis=-1, offset=offset, scale=scale, epsilon=1e-3)
    np.testing.assert_allclose(y.data, (x - m) / np.sqrt(v + 1e-3) * scale + offset,
                               rtol=1e-12)
    check_gradients(lambda x, o, s: ops.batch_normalization(x, m, v, -1, o, s), x, offset, scale)
    y = ops.batch_normalization(x, m, v, axis=-1)  # no offset, no scale
    np.testing.assert_allclose(y.data, (x - m) / np.sqrt(v + 1e-3), rtol=1e-12)


def test_batch_norm_without_gamma_beta():
    x = rng.standard_normal((6, 3))
    y, _, _ = ops.batch_norm_train(x)
    np.testing.assert_allclose(y.data, ref.batch_norm(x, None, None, 1e-3)[0], rtol=1e-10)
    check_gradients(lambda x: ops.batch_norm_train(x)[0], x)


def test_batchnorm_errors():
    x = np.ones((4, 3), np.float32)
    c = np.ones(3, np.float32)
    with pytest.raises(ValueError, match=r"\[batch_normalization\] gamma must have shape \(3,\), "
                                         r"got \(2,\)"):
        ops.batch_norm_train(x, np.ones(2))
    with pytest.raises(ValueError, match=r"\[batchnorm_forward_training\] argument 'mean': "
                                         r"expected shape \(3,\), got \(4,\)"):
        _cpu.batchnorm_forward_training(x, c, c, 1e-3, np.empty_like(x), np.empty(4, np.float32),
                                        np.empty(3, np.float32))
    with pytest.raises(ValueError, match=r"argument 'epsilon': expected > 0"):
        _cpu.batchnorm_forward_training(x, c, c, 0.0, np.empty_like(x), c.copy(), c.copy())
    with pytest.raises(ValueError, match=r"batch statistics need at least one row"):
        _cpu.batchnorm_forward_training(x[:0], c, c, 1e-3, x[:0].copy(), c.copy(), c.copy())


def test_batchnorm_layer_keras_semantics():
    layer = L.layers.BatchNormalization(momentum=0.9)
    x = (rng.standard_normal((16, 4, 4, 3)) * 2 + 1).astype(np.float32)
    y = layer(x, training=False)  # fresh layer: moving mean 0, variance 1
    np.testing.assert_allclose(y.data, x / np.sqrt(1 + 1e-3), rtol=1e-5)
    assert [w.path.split("/")[-1] for w in layer.weights] == \
        ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w.trainable for w in layer.weights] == [True, True, False, False]
    assert len(layer.trainable_weights) == 2 and len(layer.non_trainable_weights) == 2
    y = layer(x, training=True)
    expect, m, v = ref.batch_norm(x, None, None, 1e-3)
    np.testing.assert_allclose(y.data, expect, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.1 * m, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.9 + 0.1 * v, rtol=1e-5)
    # Keras-layout weights give Keras' inference output
    g, b = rng.standard_normal(3), rng.standard_normal(3)
    mm, mv = rng.standard_normal(3), rng.random(3) + 0.5
    layer.set_weights([g, b, mm, mv])
    np.testing.assert_allclose(layer(x).data, ref.batch_norm(x, g, b, 1e-3, mm, mv)[0],
                               rtol=1e-4, atol=1e-5)
    frozen = L.layers.BatchNormalization()
    frozen.build(x.shape)
    frozen.trainable = False  # a frozen layer uses its moving statistics even in training
    np.testing.assert_allclose(frozen(x, training=True).data, x / np.sqrt(1 + 1e-3), rtol=1e-5)


def test_batchnorm_layer_options_and_errors():
    layer = L.layers.BatchNormalization(axis=1, center=False, scale=False)
    x = rng.standard_normal((4, 3, 5)).astype(np.float32)
    layer(x, training=True)
    assert [w.shape for w in layer.weights] == [(3,), (3,)]
    assert layer.compute_output_shape(x.shape) == x.shape
    with pytest.raises(ValueError, match=r"BatchNormalization '.*': axis 3 is out of range"):
        L.layers.BatchNormalization(axis=3)(x)
    cfg = L.layers.BatchNormalization(momentum=0.5).get_config()
    assert cfg["momentum"] == 0.5 and cfg["epsilon"] == 1e-3 and cfg["axis"] == -1
