"""lamina._cpu.reduce_sum / reduce_max against tests/reference.py."""
import numpy as np
import pytest

import reference
from conftest import tolerance
from lamina import _cpu

SHAPES = [(7,), (1,), (3, 5), (1, 9), (2, 3, 4), (3, 1, 5), (2, 3, 5, 7), (1, 300, 1, 3)]


def run(fn, x, axis, **kw):
    out_shape = x.shape[:axis % x.ndim] + x.shape[axis % x.ndim + 1:]
    out = np.full(out_shape, np.nan, x.dtype)
    fn(x, out, axis, **kw)
    return out


def cases():
    for shape in SHAPES:
        for axis in range(-len(shape), len(shape)):
            yield shape, axis


@pytest.mark.parametrize("shape,axis", list(cases()), ids=str)
@pytest.mark.parametrize("mean", [False, True], ids=["sum", "mean"])
def test_sum(isa, dtype, shape, axis, mean):
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    rtol, atol = tolerance(dtype)
    np.testing.assert_allclose(run(_cpu.reduce_sum, x, axis, mean=mean),
                               reference.reduce_sum(x, axis, mean), rtol=rtol, atol=atol)


@pytest.mark.parametrize("shape,axis", list(cases()), ids=str)
def test_max(isa, dtype, shape, axis):
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    np.testing.assert_array_equal(run(_cpu.reduce_max, x, axis), reference.reduce_max(x, axis))


# Shapes that take the blocked (> 4096 terms, > 256 columns) and threaded paths, including
# the split of the reduced axis between threads (few outputs, many terms).
@pytest.mark.parametrize("shape,axis", [((300001,), 0), ((100003, 10), 0), ((3, 5000, 7), 1),
                                        ((2, 300, 601), 2), ((9000, 300), 0), ((5, 7, 50000), 1)],
                         ids=str)
def test_large(isa, shape, axis):
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(run(_cpu.reduce_sum, x, axis), reference.reduce_sum(x, axis),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(run(_cpu.reduce_max, x, axis), reference.reduce_max(x, axis))


def test_float32_sum_is_correctly_rounded(isa):
    # Accumulating in float64 gives the float64 sum rounded once to float32.
    x = np.random.default_rng(2).uniform(0.0, 1.0, 1000003).astype(np.float32)
    want = np.float32(x.astype(np.float64).sum())
    got = run(_cpu.reduce_sum, x, 0)
    assert abs(float(got) - float(want)) <= float(np.spacing(want))


def test_empty_axis():
    x = np.zeros((3, 0, 2))
    np.testing.assert_array_equal(run(_cpu.reduce_sum, x, 1), np.zeros((3, 2)))
    assert np.isnan(run(_cpu.reduce_sum, x, 1, mean=True)).all()
    with pytest.raises(ValueError, match=r"\[reduce_max\] argument 'x': cannot take the maximum "
                                         r"over an empty axis"):
        run(_cpu.reduce_max, x, 1)


def test_max_propagates_nan(isa):
    x = np.arange(40.0).reshape(5, 8)
    x[2, 3] = np.nan
    for axis in (0, 1):
        np.testing.assert_array_equal(run(_cpu.reduce_max, x, axis), x.max(axis=axis))
    y = np.arange(100000.0)
    y[77777] = np.nan
    assert np.isnan(run(_cpu.reduce_max, y, 0))


def test_errors():
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"\[reduce_sum\] argument 'axis': expected an axis in "
                                         r"\[-3, 3\) for x of shape \(2, 3, 4\), got 3"):
        _cpu.reduce_sum(x, np.zeros((2, 3), np.float32), 3)
    with pytest.raises(ValueError, match=r"\[reduce_sum\] argument 'out': expected shape "
                                         r"\(2, 4\) .*got \(2, 3\)"):
        _cpu.reduce_sum(x, np.zeros((2, 3), np.float32), 1)
    with pytest.raises(TypeError, match=r"\[reduce_sum\] argument 'out': expected dtype "
                                        r"float32, got float64"):
        _cpu.reduce_sum(x, np.zeros((2, 4)), 1)
    with pytest.raises(ValueError, match=r"argument 'x': expected a C-contiguous array"):
        _cpu.reduce_sum(np.zeros((4, 6))[:, ::2], np.zeros(4), 1)
    with pytest.raises(TypeError, match=r"argument 'x': expected dtype float32 or float64, got "
                                        r"int64"):
        _cpu.reduce_sum(np.zeros(3, np.int64), np.zeros((), np.int64), 0)
