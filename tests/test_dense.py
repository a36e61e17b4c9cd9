"""lamina._cpu.dense_forward / dense_backward against tests/reference.py."""
import numpy as np
import pytest

import reference
from conftest import tolerance
from lamina import _cpu

KINDS = list(_cpu.ACTIVATIONS)
SHAPES = [(1, 1, 1), (4, 3, 5), (17, 33, 9), (64, 20, 130)]  # (N, F, U)


def code(kind):
    return _cpu.ACTIVATIONS[kind]


def make(shape, dtype, bias, seed=0):
    n, f, u = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, f)).astype(dtype)
    w = (rng.standard_normal((f, u)) / np.sqrt(f)).astype(dtype)
    b = rng.standard_normal(u).astype(dtype) if bias else None
    return x, w, b


def forward(x, w, b, kind, keep_z=True):
    n, u = x.shape[0], w.shape[1]
    z = np.empty((n, u), x.dtype) if keep_z else None
    y = np.empty((n, u), x.dtype)
    _cpu.dense_forward(x, w, b, z, y, code(kind))
    return z, y


def backward(x, w, b, z, y, dy, kind, need_dx=True):
    n, f = x.shape
    u = w.shape[1]
    dx = np.empty((n, f), x.dtype) if need_dx else None
    dw = np.empty((f, u), x.dtype)
    db = np.empty(u, x.dtype) if b is not None else None
    dz = None if kind == "linear" else np.empty((n, u), x.dtype)
    z_arg = z if _cpu.activation_needs_input(code(kind)) else None
    _cpu.dense_backward(x, w, z_arg, y, dy, dx, dw, db, dz, code(kind))
    return dx, dw, db


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("kind", KINDS)
def test_forward(isa, dtype, kind, bias, shape):
    x, w, b = make(shape, dtype, bias)
    z_ref, y_ref = reference.dense_forward(x, w, b, kind)
    rtol, atol = tolerance(dtype)
    z, y = forward(x, w, b, kind)
    np.testing.assert_allclose(z, z_ref, rtol=rtol, atol=4 * atol)
    np.testing.assert_allclose(y, y_ref, rtol=rtol, atol=4 * atol)
    _, y_only = forward(x, w, b, kind, keep_z=False)
    np.testing.assert_array_equal(y_only, y)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("kind", KINDS)
def test_backward(isa, dtype, kind, bias, shape):
    x, w, b = make(shape, dtype, bias)
    dy = np.random.default_rng(1).standard_normal((shape[0], shape[2])).astype(dtype)
    z, y = forward(x, w, b, kind)
    dx, dw, db = backward(x, w, b, z, y, dy, kind)
    dx_ref, dw_ref, db_ref = reference.dense_backward(x, w, b, dy, kind)
    rtol, atol = tolerance(dtype)
    tol = dict(rtol=10 * rtol, atol=10 * atol * np.sqrt(shape[0]))  # sums over N terms
    np.testing.assert_allclose(dx, dx_ref, **tol)
    np.testing.assert_allclose(dw, dw_ref, **tol)
    if bias:
        np.testing.assert_allclose(db, db_ref, **tol)
    _, dw_first, db_first = backward(x, w, b, z, y, dy, kind, need_dx=False)
    np.testing.assert_array_equal(dw_first, dw)


def test_backward_assigns_and_accepts_dz_as_dy(dtype):
    x, w, b = make((9, 4, 6), dtype, True)
    z, y = forward(x, w, b, "tanh")
    dy = np.ones((9, 6), dtype)
    dx, dw, db = (np.full(s, np.nan, dtype) for s in [(9, 4), (4, 6), (6,)])
    dy_work = dy.copy()
    _cpu.dense_backward(x, w, None, y, dy_work, dx, dw, db, dy_work, code("tanh"))
    dx_ref, dw_ref, db_ref = reference.dense_backward(x, w, b, dy, "tanh")
    rtol, atol = tolerance(dtype)
    for got, want in [(dx, dx_ref), (dw, dw_ref), (db, db_ref)]:
        np.testing.assert_allclose(got, want, rtol=10 * rtol, atol=10 * atol)


@pytest.mark.parametrize("kind", KINDS)
def test_gradient_matches_finite_differences(kind):
    x, w, b = make((3, 4, 5), np.float64, True, seed=2)
    r = np.random.default_rng(4).standard_normal((3, 5))

    def loss(x, w, b):
        return (forward(x, w, b, kind)[1] * r).sum()

    def numeric(param):
        g = np.empty_like(param)
        for i in np.ndindex(param.shape):
            old = param[i]
            param[i] = old + 1e-6
            up = loss(x, w, b)
            param[i] = old - 1e-6
            down = loss(x, w, b)
            param[i] = old
            g[i] = (up - down) / 2e-6
        return g

    z, y = forward(x, w, b, kind)
    dx, dw, db = backward(x, w, b, z, y, r, kind)
    for analytic, param in [(dx, x), (dw, w), (db, b)]:
        np.testing.assert_allclose(analytic, numeric(param), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("shape", [(0, 3, 2), (4, 0, 2), (4, 3, 0)], ids=str)
def test_empty_sizes(shape):
    x, w, b = make(shape, np.float64, True)
    for kind in ["linear", "gelu"] + (["softmax"] if shape[2] else []):
        z, y = forward(x, w, b, kind)
        np.testing.assert_allclose(y, reference.dense_forward(x, w, b, kind)[1], atol=1e-12)
        dy = np.ones_like(y)
        dx, dw, db = backward(x, w, b, z, y, dy, kind)
        for got, want in zip((dx, dw, db), reference.dense_backward(x, w, b, dy, kind)):
            np.testing.assert_allclose(got, want, atol=1e-12)


def test_large_threaded_layer(isa):
    x, w, b = make((300, 70, 900), np.float32, True)
    _, y = forward(x, w, b, "relu", keep_z=False)
    np.testing.assert_allclose(y, reference.dense_forward(x, w, b, "relu")[1],
                               *tolerance(np.float32))


# --- errors ----------------------------------------------------------------------------------

def test_error_weight_shape():
    x = np.zeros((8, 64), np.float32)
    y = np.zeros((8, 10), np.float32)
    with pytest.raises(ValueError, match=r"\[dense_forward\] argument 'w': expected shape "
                                         r"\(64, 10\), got \(64, 9\)"):
        _cpu.dense_forward(x, np.zeros((64, 9), np.float32), None, None, y, 0)
    with pytest.raises(ValueError, match=r"\[dense_forward\] argument 'b': expected shape "
                                         r"\(10,\), got \(9,\)"):
        _cpu.dense_forward(x, np.zeros((64, 10), np.float32), np.zeros(9, np.float32), None, y, 0)


def test_error_dtype_and_contiguity():
    x = np.zeros((8, 4), np.float32)
    with pytest.raises(TypeError, match=r"\[dense_forward\] argument 'w': expected dtype "
                                        r"float32, got float64"):
        _cpu.dense_forward(x, np.zeros((4, 3)), None, None, np.zeros((8, 3), np.float32), 0)
    with pytest.raises(ValueError, match=r"argument 'x': expected a C-contiguous array"):
        _cpu.dense_forward(np.zeros((4, 8), np.float32).T, np.zeros((4, 3), np.float32), None,
                           None, np.zeros((8, 3), np.float32), 0)


def test_error_missing_arrays():
    x, w, b = make((5, 3, 2), np.float64, True)
    z, y = forward(x, w, b, "gelu")
    dy = np.ones_like(y)
    dw = np.empty_like(w)
    with pytest.raises(ValueError, match=r"\[dense_backward\] argument 'z': the 'gelu' "
                                         r"activation needs the pre-activation z"):
        _cpu.dense_backward(x, w, None, y, dy, None, dw, None, np.empty_like(y), code("gelu"))
    with pytest.raises(ValueError, match=r"argument 'dz': the 'relu' activation needs a \(N, U\) "
                                         r"workspace dz, got None"):
        _cpu.dense_backward(x, w, None, y, dy, None, dw, None, None, code("relu"))


def test_error_aliasing():
    x, w, b = make((5, 3, 2), np.float64, True)
    z, y = forward(x, w, b, "relu")
    with pytest.raises(ValueError, match=r"\[dense_forward\] argument 'z': must not share "
                                         r"memory with 'y'"):
        _cpu.dense_forward(x, w, b, y, y, code("relu"))
    dy = np.ones_like(y)
    with pytest.raises(ValueError, match=r"\[dense_backward\] argument 'dz': must not share "
                                         r"memory with 'y'"):
        _cpu.dense_backward(x, w, None, y, dy, None, np.empty_like(w), None, y, code("relu"))
