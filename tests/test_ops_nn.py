"""lamina.ops dense / activation / dropout / loss ops: values against numpy and float64
finite-difference gradients through the fused kernels."""
import numpy as np
import pytest

import lamina as L
from lamina import _cpu, ops
from lamina.ops import nn as nn_ops
from gradcheck import check_gradients

rng = np.random.default_rng(11)
ACTS = ["linear", "relu", "sigmoid", "tanh", "softmax", "gelu", "gelu_tanh", "elu", "selu",
        "softplus", "silu", "leaky_relu"]


def test_activation_codes_match_the_kernel_table():
    assert dict(_cpu.ACTIVATIONS) == nn_ops.ACTIVATIONS


@pytest.mark.parametrize("act", ACTS)
def test_dense_gradients_every_activation(act):
    x, w, b = rng.standard_normal((5, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3)
    check_gradients(lambda x, w, b: ops.dense(x, w, b, act), x, w, b, rtol=1e-5, atol=1e-6)


def test_dense_without_bias_and_rank3_input():
    x, w = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5))
    out = ops.dense(x, w, None, "tanh")
    np.testing.assert_allclose(out.data, np.tanh(x @ w), rtol=1e-12)
    check_gradients(lambda x, w: ops.dense(x, w, None, "relu"), x, w)


def test_dense_frozen_input_gets_no_dx():
    x = L.Tensor(rng.standard_normal((3, 4)))
    w = L.Variable(rng.standard_normal((4, 2)))
    with L.GradientTape() as tape:
        y = ops.sum(ops.dense(x, w, None, "relu"))
    gw, gx = tape.gradient(y, [w, x])
    assert gx is None and gw.shape == (4, 2)


def test_dense_shape_error():
    with pytest.raises(ValueError, match=r"\[dense\].*\(3, 5\).*\(4, 2\).*expected last axis 4"):
        ops.dense(np.ones((3, 5)), np.ones((4, 2)))


def test_unknown_activation():
    with pytest.raises(ValueError, match="Unknown activation 'relu7'"):
        ops.dense(np.ones((1, 2)), np.ones((2, 2)), None, "relu7")


@pytest.mark.parametrize("act", ACTS[1:])
def test_activation_op_gradients(act):
    check_gradients(lambda x: ops.activation(x, act), rng.standard_normal((3, 7)))


def test_keras_named_activation_functions():
    x = rng.standard_normal((4, 6))
    np.testing.assert_allclose(ops.relu(x).data, np.maximum(x, 0))
    np.testing.assert_allclose(ops.sigmoid(x).data, 1 / (1 + np.exp(-x)), rtol=1e-12)
    e = np.exp(x - x.max(axis=0))
    np.testing.assert_allclose(ops.softmax(x, axis=0).data, e / e.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(ops.leaky_relu(x).data, np.where(x > 0, x, 0.2 * x))
    np.testing.assert_allclose(ops.elu(x, 0.5).data, np.where(x > 0, x, 0.5 * np.expm1(x)),
                               rtol=1e-12)
    check_gradients(lambda t: ops.softmax(t, axis=0), x)
    check_gradients(ops.log_softmax, x)


def test_dropout_training_scales_and_is_seeded():
    x = np.ones((200, 50))
    y1 = ops.dropout(x, 0.25, seed=3).data
    y2 = ops.dropout(x, 0.25, seed=3).data
    np.testing.assert_array_equal(y1, y2)
    kept = y1 != 0
    assert 0.70 < kept.mean() < 0.80
    np.testing.assert_allclose(y1[kept], 1 / 0.75)
    v = L.Variable(x)
    with L.GradientTape() as tape:
        y = ops.sum(ops.dropout(v, 0.5, seed=5))
    g = tape.gradient(y, v).data
    np.testing.assert_array_equal(g, ops.dropout(x, 0.5, seed=5).data)
    with pytest.raises(ValueError, match="rate"):
        ops.dropout(x, 1.0)


# -- losses ----------------------------------------------------------------------------------

def _probs(shape):
    e = np.exp(rng.standard_normal(shape))
    return e / e.sum(axis=-1, keepdims=True)


def test_sparse_categorical_crossentropy_values_and_gradient():
    p = _probs((6, 4))
    y = np.array([0, 3, 1, 1, 2, 0])
    out = ops.sparse_categorical_crossentropy(y, p).data
    np.testing.assert_allclose(out, -np.log(p[np.arange(6), y]), rtol=1e-10)
    check_gradients(lambda t: ops.losses.sparse_categorical_crossentropy(y, t), p)
    z = rng.standard_normal((6, 4))
    ls = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(
        ops.sparse_categorical_crossentropy(y[:, None], z, from_logits=True).data,
        -ls[np.arange(6), y], rtol=1e-10)
    check_gradients(lambda t: ops.losses.sparse_categorical_crossentropy(y, t, True), z)


def test_sparse_labels_out_of_range_and_bad_shape():
    with pytest.raises(ValueError, match="out of range"):
        ops.sparse_categorical_crossentropy(np.array([0, 4]), _probs((2, 4)))
    with pytest.raises(ValueError, match=r"y_true has shape \(3,\).*\(2, 4\)"):
        ops.sparse_categorical_crossentropy(np.array([0, 1, 2]), _probs((2, 4)))


def test_categorical_and_binary_crossentropy_gradients():
    p = _probs((5, 3))
    y = np.eye(3)[[0, 2, 1, 1, 0]]
    np.testing.assert_allclose(ops.categorical_crossentropy(y, p).data,
                               -np.sum(y * np.log(p), axis=1), rtol=1e-10)
    check_gradients(lambda t: ops.losses.categorical_crossentropy(y, t), p)
    check_gradients(lambda t: ops.losses.categorical_crossentropy(y, t, True, 0.1),
                    rng.standard_normal((5, 3)))
    q = 1 / (1 + np.exp(-rng.standard_normal((5, 2))))
    t = rng.integers(0, 2, (5, 2)).astype(float)
    np.testing.assert_allclose(ops.losses.binary_crossentropy(t, q).data,
                               -np.mean(t * np.log(q) + (1 - t) * np.log(1 - q), axis=1),
                               rtol=1e-10)
    check_gradients(lambda s: ops.losses.binary_crossentropy(t, s), q)
    check_gradients(lambda s: ops.losses.binary_crossentropy(t, s, True),
                    rng.standard_normal((5, 2)))


def test_regression_losses_and_target_reshape():
    p, t = rng.standard_normal((6, 1)), rng.standard_normal(6)
    np.testing.assert_allclose(ops.losses.mean_squared_error(t, p).data, (p[:, 0] - t) ** 2)
    np.testing.assert_allclose(ops.losses.mean_absolute_error(t, p).data, np.abs(p[:, 0] - t))
    check_gradients(lambda s: ops.losses.mean_squared_error(t, s), p)
    check_gradients(lambda s: ops.losses.mean_absolute_error(t, s), p)
    with pytest.raises(ValueError, match=r"y_true \(4,\), y_pred \(6, 1\)"):
        ops.losses.mean_squared_error(np.ones(4), p)


# --- dtypes: the kernels are float32/float64; float16 runs in float32 and stays float16 -------
@pytest.mark.parametrize("fn", [ops.relu, ops.sigmoid, ops.tanh, ops.gelu, ops.softmax,
                                ops.log_softmax, ops.silu, lambda x: ops.elu(x, 0.5)],
                         ids=["relu", "sigmoid", "tanh", "gelu", "softmax", "log_softmax",
                              "silu", "elu"])
def test_float16_activations_return_float16_with_float16_gradients(fn):
    x16 = np.linspace(-3, 3, 12).reshape(3, 4).astype(np.float16)
    out = fn(x16)
    assert out.dtype == np.float16
    np.testing.assert_allclose(out.data.astype(np.float32),
                               fn(x16.astype(np.float32)).data, rtol=2e-3, atol=2e-3)
    v = L.Variable(x16, name="x")
    with L.GradientTape() as tape:
        y = ops.sum(ops.multiply(fn(v), np.arange(12, dtype=np.float16).reshape(3, 4)))
    g = tape.gradient(y, v)
    assert g.dtype == np.float16


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.bool_])
def test_integer_inputs_to_float_ops_become_floatx(dtype):
    x = np.array([[0, 1, 2]]).astype(dtype)
    for fn in (ops.relu, ops.sigmoid, ops.softmax, ops.log_softmax):
        assert fn(x).dtype == np.float32


def test_losses_accept_float16_predictions():
    p16 = np.full((2, 3), 1 / 3, np.float16)
    loss = ops.sparse_categorical_crossentropy(np.array([0, 2]), p16)
    assert loss.dtype == np.float32  # as Keras' Loss, which computes in floatx
    np.testing.assert_allclose(loss.data, np.log(3), rtol=1e-3)
    v = L.Variable(p16, name="p")
    with L.GradientTape() as tape:
        y = ops.sum(ops.categorical_crossentropy(np.eye(3)[[0, 2]], v))
    assert tape.gradient(y, v).dtype == np.float16


def test_unsupported_dtype_names_the_op():
    with pytest.raises(TypeError, match=r"\[relu\] argument 'x': expected a float, integer or "
                                        r"bool array, got dtype complex128"):
        ops.relu(np.ones(3, np.complex128))
