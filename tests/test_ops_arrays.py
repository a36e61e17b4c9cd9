"""lamina.ops.pad and lamina.ops.repeat: numpy's results, float64 finite-difference gradients,
the errors, and (with a GPU) the same on cupy arrays."""
import numpy as np
import pytest

import lamina as L
from lamina import ops

from gradcheck import check_gradients

rng = np.random.default_rng(13)

PADS = [
    (((1, 2), (0, 3), (2, 0)), "constant", None),
    (1, "constant", 2.5),
    (((0, 0), (2, 1), (1, 1)), "edge", None),
    (((2, 2), (1, 3), (0, 0)), "reflect", None),
    ((1, 2), "symmetric", None),
    (((3, 0), (0, 2), (1, 0)), "wrap", None),
]


@pytest.mark.parametrize("pad_width,mode,value", PADS)
def test_pad_matches_numpy_and_its_gradient_checks(pad_width, mode, value):
    x = rng.standard_normal((2, 3, 4))
    kwargs = {} if value is None else {"constant_values": value}
    np.testing.assert_array_equal(ops.pad(x, pad_width, mode, value).data,
                                  np.pad(x, pad_width, mode=mode, **kwargs))
    check_gradients(lambda x: ops.pad(x, pad_width, mode, value), x)


@pytest.mark.parametrize("repeats,axis", [(3, 1), (2, -1), (1, 0), (2, None), ([2, 0, 1], 1),
                                          (np.array([1, 3]), 0), ([0, 0, 4, 1], 2)])
def test_repeat_matches_numpy_and_its_gradient_checks(repeats, axis):
    x = rng.standard_normal((2, 3, 4))
    np.testing.assert_array_equal(ops.repeat(x, repeats, axis).data, np.repeat(x, repeats, axis))
    check_gradients(lambda x: ops.repeat(x, repeats, axis), x)


def test_pad_and_repeat_errors():
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"\[pad\] pad_width must be non-negative integers.* "
                                         r"got \(-1, 2\)"):
        ops.pad(x, (-1, 2))
    with pytest.raises(ValueError, match=r"\[pad\] pad_width .* got \(\(1, 1\), \(1, 1\), "
                                         r"\(1, 1\)\)"):
        ops.pad(x, ((1, 1), (1, 1), (1, 1)))
    with pytest.raises(ValueError, match=r"\[pad\] mode must be 'constant' or one of \['edge', "
                                         r"'reflect', 'symmetric', 'wrap'\], got 'median'"):
        ops.pad(x, 1, "median")
    with pytest.raises(ValueError, match=r"\[pad\] constant_values is only for mode='constant'"):
        ops.pad(x, 1, "edge", 1.0)
    with pytest.raises(ValueError, match=r"\[pad\] mode='reflect' cannot pad the empty axis 1"):
        ops.pad(np.ones((2, 0)), 1, "reflect")
    with pytest.raises(ValueError, match=r"\[repeat\] repeats must be a non-negative int or one "
                                         r"per element of axis 1 \(length 3\), got \[1, 2\]"):
        ops.repeat(x, [1, 2], axis=1)
    with pytest.raises(ValueError, match=r"\[repeat\] repeats .* got -1"):
        ops.repeat(x, -1, axis=0)
    with pytest.raises(ValueError, match=r"\[repeat\] axis 2 is out of range for an input of "
                                         r"shape \(2, 3\)"):
        ops.repeat(x, 2, axis=2)


@pytest.mark.skipif(not L.cuda.is_available(), reason="needs a GPU and cupy")
def test_pad_and_repeat_on_cupy_arrays():
    import cupy
    x = rng.standard_normal((2, 3, 4))
    v = L.Variable(cupy.asarray(x))
    with L.GradientTape() as tape:
        y = ops.repeat(ops.pad(v, ((0, 0), (1, 2), (2, 0)), "reflect"), 2, axis=1)
        loss = ops.sum(ops.multiply(y, y))
    g = tape.gradient(loss, v)
    assert type(y.data).__module__.startswith("cupy") and type(g.data).__module__.startswith("cupy")
    with L.GradientTape() as tape:
        w = L.Variable(x)
        y_cpu = ops.repeat(ops.pad(w, ((0, 0), (1, 2), (2, 0)), "reflect"), 2, axis=1)
        loss_cpu = ops.sum(ops.multiply(y_cpu, y_cpu))
    np.testing.assert_allclose(cupy.asnumpy(y.data), y_cpu.data, rtol=1e-12)
    np.testing.assert_allclose(cupy.asnumpy(g.data), tape.gradient(loss_cpu, w).data,
                               rtol=1e-12)
