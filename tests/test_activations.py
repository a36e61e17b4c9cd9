"""lamina._cpu.activation_forward / activation_backward against tests/reference.py."""
import numpy as np
import pytest

import reference
from conftest import tolerance
from lamina import _cpu

KINDS = list(_cpu.ACTIVATIONS)
FROM_OUTPUT = {"linear", "relu", "sigmoid", "tanh", "softmax", "elu", "selu", "leaky_relu"}
SHAPES = [(1, 1), (1, 7), (3, 17), (33, 129), (50,), (2, 3, 5)]


def code(kind):
    return _cpu.ACTIVATIONS[kind]


def forward(x, kind, alpha=None):
    y = np.empty_like(x)
    _cpu.activation_forward(x, y, code(kind), alpha)
    return y


def backward(x, y, dy, kind, alpha=None):
    dx = np.empty_like(dy)
    _cpu.activation_backward(x, y, dy, dx, code(kind), alpha)
    return dx


def sample(shape, dtype, seed=0):
    return (3.0 * np.random.default_rng(seed).standard_normal(shape)).astype(dtype)


def test_codes_are_the_documented_ones():
    assert _cpu.ACTIVATIONS == {
        "linear": 0, "relu": 1, "sigmoid": 2, "tanh": 3, "softmax": 4, "gelu": 5,
        "gelu_tanh": 6, "elu": 7, "selu": 8, "softplus": 9, "silu": 10, "leaky_relu": 11}


@pytest.mark.parametrize("kind", KINDS)
def test_needs_input(kind):
    assert _cpu.activation_needs_input(code(kind)) == (kind not in FROM_OUTPUT)


@pytest.mark.parametrize("kind", ["elu", "leaky_relu"])
def test_needs_input_when_alpha_is_not_positive(kind):
    assert not _cpu.activation_needs_input(code(kind), 0.5)
    assert _cpu.activation_needs_input(code(kind), 0.0)
    assert _cpu.activation_needs_input(code(kind), -0.5)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("kind", KINDS)
def test_forward(isa, dtype, kind, shape):
    x = sample(shape, dtype)
    rtol, atol = tolerance(dtype)
    np.testing.assert_allclose(forward(x, kind), reference.activation_forward(x, kind),
                               rtol=rtol, atol=atol)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("kind", KINDS)
def test_backward(isa, dtype, kind, shape):
    x = sample(shape, dtype)
    dy = sample(shape, dtype, seed=1)
    y = forward(x, kind)
    x_arg = None if kind in FROM_OUTPUT else x
    rtol, atol = tolerance(dtype)
    # A from-output derivative inherits the rounding of y: scale the tolerance by |dy| ~ 3.
    np.testing.assert_allclose(backward(x_arg, y, dy, kind),
                               reference.activation_backward(x, dy, kind),
                               rtol=rtol, atol=4 * atol)


EXTREMES = [-100.0, -88.0, -50.0, -20.0, -1e-3, -0.0, 0.0, 1e-3, 0.625, 20.0, 50.0, 89.0, 100.0]


@pytest.mark.parametrize("kind", KINDS)
def test_extreme_inputs_stay_finite(isa, dtype, kind):
    x = np.array([EXTREMES, EXTREMES[::-1]], dtype=dtype)
    y = forward(x, kind)
    dx = backward(x, y, np.ones_like(x), kind)
    assert np.isfinite(y).all() and np.isfinite(dx).all()
    rtol, atol = tolerance(dtype)
    np.testing.assert_allclose(y, reference.activation_forward(x, kind), rtol=rtol, atol=atol)
    np.testing.assert_allclose(dx, reference.activation_backward(x, np.ones_like(x), kind),
                               rtol=rtol, atol=atol)


def test_softmax_of_huge_logits(isa, dtype):
    x = np.array([[1000.0, 0.0, -1000.0], [-1e4, -1e4, -1e4]], dtype=dtype)
    np.testing.assert_allclose(forward(x, "softmax"), [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]],
                               rtol=1e-6)


# Measured float32 accuracy: max relative error against float64 over [-30, 30], outputs above
# 1e-30 (2^-24 ~ 6e-8 is half an ulp). gelu_tanh's sigmoid(2u) tail is as ill-conditioned as the
# function (relative error ~ |2u| ulp): checked on x > -5 where it stays below 3e-6.
F32_MAX_REL = {"sigmoid": 3e-7, "tanh": 2e-7, "softplus": 3e-7, "silu": 3e-7, "elu": 2e-7,
               "selu": 3e-7, "gelu": 6e-7, "gelu_tanh": 3e-6, "softmax": 2e-7}


@pytest.mark.parametrize("kind", sorted(F32_MAX_REL))
def test_float32_accuracy(isa, kind):
    x32 = np.linspace(-30.0, 30.0, 200001, dtype=np.float32)
    if kind == "softmax":
        x32 = x32[:200000].reshape(-1, 8) / 8
    y = forward(x32, kind).astype(np.float64)
    ref = reference.activation_forward(x32.astype(np.float64), kind)
    mask = np.abs(ref) > 1e-30
    if kind == "gelu_tanh":
        mask &= x32 > -5.0
    rel = np.abs(y - ref)[mask] / np.abs(ref)[mask]
    assert rel.max() <= F32_MAX_REL[kind]


def test_in_place(isa, dtype):
    x = sample((4, 9), dtype)
    for kind in KINDS:
        y = x.copy()
        _cpu.activation_forward(y, y, code(kind))
        np.testing.assert_array_equal(y, forward(x, kind))
        dy = sample((4, 9), dtype, seed=2)
        dx = dy.copy()
        _cpu.activation_backward(x, y, dx, dx, code(kind))
        np.testing.assert_array_equal(dx, backward(x, y, dy, kind))


def test_alpha_defaults_are_keras(dtype):
    x = sample((5, 6), dtype)
    for kind, default in [("elu", 1.0), ("leaky_relu", 0.2)]:
        np.testing.assert_array_equal(forward(x, kind), forward(x, kind, default))
    np.testing.assert_allclose(forward(x, "elu", 0.5), reference.activation_forward(x, "elu", 0.5),
                               *tolerance(dtype))


@pytest.mark.parametrize("kind,alpha", [("elu", 0.5), ("elu", -0.5), ("elu", 0.0),
                                        ("leaky_relu", 0.3), ("leaky_relu", -0.3),
                                        ("leaky_relu", 0.0)])
def test_alpha_backward(dtype, kind, alpha):
    x = sample((6, 7), dtype)
    dy = sample((6, 7), dtype, seed=1)
    y = forward(x, kind, alpha)
    x_arg = x if _cpu.activation_needs_input(code(kind), alpha) else None
    rtol, atol = tolerance(dtype)
    np.testing.assert_allclose(backward(x_arg, y, dy, kind, alpha),
                               reference.activation_backward(x, dy, kind, alpha),
                               rtol=rtol, atol=4 * atol)


@pytest.mark.parametrize("kind", KINDS)
def test_gradient_matches_finite_differences(isa, kind):
    rng = np.random.default_rng(3)
    x = rng.uniform(-3.0, 3.0, (3, 7))
    x = np.where(np.abs(x) < 0.1, 0.5, x)  # keep clear of the kinks at 0
    r = rng.standard_normal(x.shape)
    h = 1e-6
    numeric = np.empty_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        numeric[i] = ((forward(xp, kind) - forward(xm, kind)) * r).sum() / (2 * h)
    analytic = backward(x, forward(x, kind), r, kind)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 4)], ids=str)
def test_empty_arrays(shape):
    x = np.zeros(shape)
    for kind in KINDS:
        assert forward(x, kind).shape == shape
        assert backward(x, forward(x, kind), x, kind).shape == shape


def test_large_threaded_arrays(isa):
    x = sample((513, 1031), np.float32)
    for kind in ["relu", "gelu", "softmax"]:
        np.testing.assert_allclose(forward(x, kind), reference.activation_forward(x, kind),
                                   *tolerance(np.float32))


# --- errors ----------------------------------------------------------------------------------

def test_error_wrong_dtype():
    x = np.zeros((2, 3), np.int32)
    with pytest.raises(TypeError, match=r"\[activation_forward\] argument 'x': expected dtype "
                                        r"float32 or float64, got int32"):
        _cpu.activation_forward(x, x, 1)
    with pytest.raises(TypeError, match=r"argument 'y': expected dtype float32, got float64"):
        _cpu.activation_forward(np.zeros(3, np.float32), np.zeros(3), 1)


def test_error_shape_mismatch():
    with pytest.raises(ValueError, match=r"\[activation_forward\] argument 'y': expected the "
                                         r"shape of 'x' \(2, 3\), got \(3, 2\)"):
        _cpu.activation_forward(np.zeros((2, 3)), np.zeros((3, 2)), 1)
    with pytest.raises(ValueError, match=r"\[activation_backward\] argument 'y': expected the "
                                         r"shape of 'dy' \(2, 3\), got \(2, 4\)"):
        _cpu.activation_backward(None, np.zeros((2, 4)), np.zeros((2, 3)), np.zeros((2, 3)), 2)


def test_error_non_contiguous():
    x = np.zeros((4, 6))[:, ::2]
    with pytest.raises(ValueError, match=r"argument 'x': expected a C-contiguous array"):
        _cpu.activation_forward(x, np.zeros((4, 3)), 1)


def test_error_missing_input():
    z = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"\[activation_backward\] argument 'x': the 'gelu' "
                                         r"activation needs its input x"):
        _cpu.activation_backward(None, z, z, z.copy(), code("gelu"))
    with pytest.raises(ValueError, match=r"argument 'x': the 'elu' activation needs its input"):
        _cpu.activation_backward(None, z, z, z.copy(), code("elu"), -1.0)
    with pytest.raises(ValueError, match=r"argument 'y': the 'tanh' activation differentiates "
                                         r"from its output y, got None"):
        _cpu.activation_backward(z, None, z, z.copy(), code("tanh"))


def test_error_bad_kind_and_alpha():
    z = np.zeros(3)
    with pytest.raises(ValueError, match=r"argument 'kind': expected an activation code in "
                                         r"\[0, 12\).*got 12"):
        _cpu.activation_forward(z, z, 12)
    with pytest.raises(TypeError, match=r"argument 'alpha': expected a float or None, got str"):
        _cpu.activation_forward(z, z, 7, "1")


def test_error_partial_overlap():
    buf = np.zeros(10)
    with pytest.raises(ValueError, match=r"argument 'y': may be the same array as 'x' \(in "
                                         r"place\) but must not partially overlap it"):
        _cpu.activation_forward(buf[:8], buf[2:], 1)
    dy = np.zeros(8)
    with pytest.raises(ValueError, match=r"argument 'dx': must not share memory with 'y'"):
        _cpu.activation_backward(None, buf[:8], dy, buf[:8], 1)


def test_error_zero_dim():
    with pytest.raises(ValueError, match=r"argument 'x': expected an array with at least 1 "
                                         r"dimension, got shape \(\)"):
        _cpu.activation_forward(np.zeros(()), np.zeros(()), 1)


# ---- lamina.activations (python/lamina/activations.py) --------------------------------------
@pytest.mark.parametrize("name,formula", [
    ("hard_sigmoid", lambda x: np.clip(x + 3.0, 0.0, 6.0) / 6.0),
    ("softsign", lambda x: x / (1.0 + np.abs(x)))])
def test_keras_activation_functions(name, formula):
    import lamina as L
    from gradcheck import check_gradients
    fn = L.activations.get(name)
    assert fn is getattr(L.activations, name) and L.activations.serialize(fn) == name
    x = np.array([-5.0, -3.5, -1.0, -0.2, 0.4, 2.0, 3.5, 7.0])
    np.testing.assert_allclose(fn(L.ops.convert_to_tensor(x)).data, formula(x), rtol=1e-12)
    check_gradients(fn, x)  # the points avoid hard_sigmoid's kinks at -3 and 3
