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


def test_batch_normalization_differentiates_through_given_statistics():
    """keras.ops.batch_normalization is differentiable in mean and variance too (masked
    moments feed it statistics computed by other ops)."""
    x = rng.standard_normal((5, 4))
    m, v = rng.standard_normal(4), rng.random(4) + 0.5
    offset, scale = rng.standard_normal(4), rng.standard_normal(4)
    check_gradients(lambda x, o, s, m, v: ops.batch_normalization(x, m, v, -1, o, s),
                    x, offset, scale, m, v)
    check_gradients(lambda m, v: ops.batch_normalization(x, m, v, 0), m[:1].repeat(5),
                    v[:1].repeat(5))


def test_batchnorm_layer_config_round_trips_every_setting():
    layer = L.layers.BatchNormalization(
        axis=1, momentum=0.8, epsilon=1e-2, beta_initializer="ones",
        gamma_initializer=L.initializers.Constant(2.0), moving_mean_initializer="ones",
        moving_variance_initializer=L.initializers.Constant(3.0), beta_regularizer="l2",
        gamma_regularizer=L.regularizers.L1(0.2), beta_constraint="non_neg",
        gamma_constraint=L.constraints.MaxNorm(2.0))
    config = layer.get_config()
    for key in ("beta_initializer", "gamma_initializer", "moving_mean_initializer",
                "moving_variance_initializer", "beta_regularizer", "gamma_regularizer",
                "beta_constraint", "gamma_constraint"):
        assert config[key] is not None, key
    clone = L.layers.BatchNormalization.from_config(config)
    assert clone.get_config() == config
    assert clone.gamma_regularizer.get_config() == {"l1": 0.2}
    assert clone.gamma_constraint.get_config()["max_value"] == 2.0
    x = rng.standard_normal((4, 3, 2)).astype(np.float32)
    clone.build(x.shape)
    assert np.all(clone.moving_variance.numpy() == 3.0) and np.all(clone.gamma.numpy() == 2.0)
    layer.build(x.shape)
    np.testing.assert_array_equal(clone(x).data, layer(x).data)


def _keras_masked_batch_norm(x, mask, gamma, beta, eps):
    """Keras' _moments with a mask, then the normalization of every position (float64)."""
    w = mask.astype(np.float64)[..., None]
    red = tuple(range(x.ndim - 1))
    count = w.sum(axis=red, keepdims=True) + 1e-7
    mean = (w * x).sum(axis=red, keepdims=True) / count
    var = (w * (w * x - mean) ** 2).sum(axis=red, keepdims=True) / count
    y = (x - mean) / np.sqrt(var + eps) * gamma + beta
    return y, mean.ravel(), var.ravel()


def test_batchnorm_layer_uses_masked_moments():
    x = rng.standard_normal((3, 5, 4)) * 2 + 1
    mask = np.ones((3, 5), bool)
    mask[0, 3:] = mask[2, 1:] = False
    x[~mask] = 1e3  # masked positions must not move the statistics
    layer = L.layers.BatchNormalization(momentum=0.5, dtype="float64")
    layer.build(x.shape)
    g, b = rng.standard_normal(4), rng.standard_normal(4)
    layer.set_weights([g, b, np.zeros(4), np.ones(4)])
    y = layer(x, mask=mask, training=True)
    expect, mean, var = _keras_masked_batch_norm(x, mask, g, b, 1e-3)
    np.testing.assert_allclose(y.data, expect, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.5 * mean, rtol=1e-10)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.5 + 0.5 * var, rtol=1e-10)
    assert np.all(np.abs(mean) < 10)
    # the same as the unmasked statistics of the kept positions
    kept = x[mask]
    np.testing.assert_allclose(mean, kept.mean(0), rtol=1e-6)
    # gradients flow through the masked statistics
    check_gradients(lambda x, g, b: ops.batch_normalization(
        x, *layer._masked_moments(x, mask), -1, b, g), x, g, b, rtol=1e-5, atol=1e-6)
    # inference ignores the mask (moving statistics), as in Keras
    np.testing.assert_allclose(layer(x, mask=mask).data, layer(x).data)
    with pytest.raises(ValueError, match=r"BatchNormalization '.*': the mask must have the shape "
                                         r"of the inputs without their last axis: got mask "
                                         r"shape \(3, 4\)"):
        layer(x, mask=mask[:, :4], training=True)


@pytest.mark.parametrize("rows", [300, 20000])
def test_batchnorm_results_do_not_depend_on_thread_count(rows, dtype):
    """The per-channel sums run over fixed parts of the rows added in order: 1 and 2 threads
    give the same bits for the statistics, y and every gradient."""
    x = (rng.standard_normal((rows, 7)) * 3 + 1).astype(dtype)
    gamma, beta = rng.standard_normal(7).astype(dtype), rng.standard_normal(7).astype(dtype)
    dy = rng.standard_normal(x.shape).astype(dtype)
    results = []
    before = L.get_num_threads()
    try:
        for threads in (1, 2):
            L.set_num_threads(threads)
            y, mean, var = np.empty_like(x), np.empty(7, dtype), np.empty(7, dtype)
            _cpu.batchnorm_forward_training(x, gamma, beta, 1e-3, y, mean, var)
            dx, dg, db = np.empty_like(x), np.empty_like(gamma), np.empty_like(beta)
            _cpu.batchnorm_backward(x, gamma, mean, var, 1e-3, dy, True, dx, dg, db)
            results.append((y, mean, var, dx, dg, db))
    finally:
        L.set_num_threads(before)
    for one, two in zip(*results):
        assert np.array_equal(one, two)
