"""Entry points bound through csrc/bindings/fastcall.h (METH_FASTCALL) rather than pybind11's
dispatcher, for the calls a small model makes every step: the same parameters, defaults and
conversions as pybind11 gives, Python's rules and messages for binding the arguments, exceptions
translated, and no reference leaked on any path."""
import inspect
import sys

import numpy as np
import pytest

from lamina import _cpu
from lamina.ops.nn import ACTIVATIONS

FAST_ENTRIES = {
    "gemm": "(a, b, c, trans_a=False, trans_b=False, alpha=1.0, beta=0.0)",
    "gemm_batched": "(a, b, c, trans_a=False, trans_b=False, alpha=1.0, beta=0.0)",
    "gemm_prepacked": "(a, b, c, trans_b=False, alpha=1.0, beta=0.0)",
    "dense_forward": "(x, w, b, z, y, kind, alpha=None)",
    "dense_backward": "(x, w, z, y, dy, dx, dw, db, dz, kind, alpha=None)",
}


@pytest.mark.parametrize("name", sorted(FAST_ENTRIES))
def test_fast_entries_keep_their_signature_and_doc(name):
    fn = getattr(_cpu, name)
    assert str(inspect.signature(fn)) == FAST_ENTRIES[name]
    assert fn.__module__ == "lamina._cpu" and fn.__name__ == name
    assert len(fn.__doc__) > 40 and "--" not in fn.__doc__


def test_gemm_binds_arguments_by_position_and_keyword():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((5, 3))
    c0 = rng.standard_normal((4, 5))
    want = 0.5 * a @ b.T - 2.0 * c0
    for call in (lambda c: _cpu.gemm(a, b, c, False, True, 0.5, -2.0),
                 lambda c: _cpu.gemm(beta=-2.0, alpha=0.5, trans_b=True, c=c, b=b, a=a),
                 lambda c: _cpu.gemm(a, b, c, trans_b=True, alpha=0.5, beta=-2.0),
                 # numpy scalars and ints convert as pybind11 converts them
                 lambda c: _cpu.gemm(a, b, c, np.False_, np.True_, np.float32(0.5), -2)):
        c = c0.copy()
        assert call(c) is None
        np.testing.assert_allclose(c, want, rtol=1e-12, atol=1e-12)
    c = np.full((4, 5), np.nan)
    _cpu.gemm(a, b.T.copy(), c)  # defaults: no transposes, alpha 1, beta 0 (C never read)
    np.testing.assert_allclose(c, a @ b.T, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("call, message", [
    (lambda a, b, c: _cpu.gemm(a, b), r"gemm\(\) missing required argument 'c' \(pos 3\)"),
    (lambda a, b, c: _cpu.gemm(a, b, c, False, False, 1.0, 0.0, 1.0),
     r"gemm\(\) takes at most 7 positional arguments \(8 given\)"),
    (lambda a, b, c: _cpu.gemm(a, b, c, transpose=True),
     r"gemm\(\) got an unexpected keyword argument 'transpose'"),
    (lambda a, b, c: _cpu.gemm(a, b, c, a=a), r"gemm\(\) got multiple values for argument 'a'"),
    (lambda a, b, c: _cpu.gemm(a, b, c, alpha="2"),
     r"\[gemm\] argument 'alpha': expected float, got str"),
    (lambda a, b, c: _cpu.gemm(a, b, c, beta=None),
     r"\[gemm\] argument 'beta': expected float, got NoneType"),
    (lambda a, b, c: _cpu.gemm_batched(a[None], b[None], c[None], trans_a=[1]),
     r"\[gemm_batched\] argument 'trans_a': expected bool, got list"),
    (lambda a, b, c: _cpu.gemm_prepacked(a, b, c, trans_a=True),
     r"gemm_prepacked\(\) got an unexpected keyword argument 'trans_a'"),
    (lambda a, b, c: _cpu.dense_forward(a, b, None, None, c, "relu"),
     r"\[dense_forward\] argument 'kind': expected int, got str"),
    (lambda a, b, c: _cpu.dense_forward(a, b, None, None, c, 1.0),
     r"\[dense_forward\] argument 'kind': expected int, got float"),
])
def test_gemm_refuses_calls_that_do_not_bind(call, message):
    a, b, c = np.ones((2, 3)), np.ones((3, 4)), np.zeros((2, 4))
    with pytest.raises(TypeError, match=message):
        call(a, b, c)
    np.testing.assert_array_equal(c, 0.0)


def test_fast_entries_keep_reference_counts():
    a, b, c = np.ones((2, 3)), np.ones((3, 4)), np.zeros((2, 4))
    alpha = 1.5
    before = [sys.getrefcount(x) for x in (a, b, c, alpha)]
    for _ in range(1000):
        _cpu.gemm(a, b, c, alpha=alpha)
        with pytest.raises(ValueError):
            _cpu.gemm(a, b, a)  # an exception out of the entry
        with pytest.raises(TypeError):
            _cpu.gemm(a, b, c, nope=1)
    assert [sys.getrefcount(x) for x in (a, b, c, alpha)] == before


def test_dense_forward_through_the_fast_entry():
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((6, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3)
    y, z = np.empty((6, 3)), np.empty((6, 3))
    _cpu.dense_forward(x, w, b, z, y, kind=ACTIVATIONS["relu"])
    np.testing.assert_allclose(z, x @ w + b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y, np.maximum(x @ w + b, 0.0), rtol=1e-12, atol=1e-12)
    _cpu.dense_forward(x, w, None, None, y, np.int64(ACTIVATIONS["linear"]))  # numpy ints convert
    np.testing.assert_allclose(y, x @ w, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"\[dense_forward\] argument 'w'"):
        _cpu.dense_forward(x, w[:3], b, z, y, 0)
