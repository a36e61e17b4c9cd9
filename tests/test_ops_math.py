"""lamina.ops arithmetic, matmul, reductions and shape ops: values against numpy and float64
finite-difference gradients."""
import numpy as np
import pytest

import lamina as L
from lamina import ops
from gradcheck import check_gradients

rng = np.random.default_rng(7)


def r(*shape):
    return rng.standard_normal(shape)


@pytest.mark.parametrize("fn", [ops.add, ops.subtract, ops.multiply, ops.maximum, ops.minimum])
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)),
                                    ((1,), (5, 2))])
def test_broadcasting_binary_gradients(fn, shapes):
    check_gradients(fn, r(*shapes[0]), r(*shapes[1]))


def test_divide_power_gradients():
    a, b = r(3, 4), np.abs(r(4)) + 0.5
    check_gradients(ops.divide, a, b)
    check_gradients(lambda x, y: ops.power(x, y), np.abs(a) + 0.5, b)


@pytest.mark.parametrize("fn", [ops.square, ops.exp, ops.negative, ops.abs,
                                lambda x: ops.sqrt(ops.abs(x) + 1), lambda x: ops.log(ops.abs(x) + 1),
                                lambda x: ops.clip(x, -0.5, 0.5)])
def test_unary_gradients(fn):
    check_gradients(fn, r(4, 3) + 0.01)


@pytest.mark.parametrize("sa,sb", [((5, 3), (3, 7)), ((1, 1), (1, 1)), ((2, 5, 3), (3, 4)),
                                   ((4, 2, 3), (4, 3, 5)), ((1, 2, 3), (4, 3, 5)), ((3,), (3, 2)),
                                   ((2, 2, 3, 4), (4, 2))])
def test_matmul_values_and_gradients(sa, sb):
    a, b = r(*sa), r(*sb)
    np.testing.assert_allclose(ops.matmul(a, b).data, np.matmul(a, b), rtol=1e-12, atol=1e-12)
    check_gradients(ops.matmul, a, b)


def test_matmul_float32_uses_kernel_and_matches_numpy():
    a, b = r(33, 17).astype(np.float32), r(17, 9).astype(np.float32)
    out = ops.matmul(a, b)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, a @ b, rtol=1e-5, atol=1e-5)


def test_matmul_shape_error_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(5, 3\).*\(4, 2\)"):
        ops.matmul(r(5, 3), r(4, 2))


@pytest.mark.parametrize("fn", [ops.sum, ops.mean, ops.max, ops.min])
@pytest.mark.parametrize("axis,keepdims", [(None, False), (0, False), (1, True), (-1, False),
                                           ((0, 2), False)])
def test_reductions(fn, axis, keepdims):
    x = r(3, 4, 5)
    ref = getattr(np, {"sum": "sum", "mean": "mean", "max": "max", "min": "min"}[fn.__name__])
    np.testing.assert_allclose(fn(x, axis=axis, keepdims=keepdims).data,
                               ref(x, axis=axis, keepdims=keepdims), rtol=1e-12)
    check_gradients(lambda t: fn(t, axis=axis, keepdims=keepdims), x)


def test_reduction_axis_out_of_range():
    with pytest.raises(ValueError, match="axis 3 is out of range for a tensor of rank 2"):
        ops.sum(r(2, 2), axis=3)


def test_var_std_gradients():
    check_gradients(lambda t: ops.var(t, axis=1), r(3, 5))
    check_gradients(lambda t: ops.std(t, axis=0), r(4, 2))


def test_shape_ops_gradients():
    x = r(2, 3, 4)
    check_gradients(lambda t: ops.reshape(t, (6, 4)), x)
    check_gradients(lambda t: ops.transpose(t, (2, 0, 1)), x)
    check_gradients(lambda t: ops.expand_dims(t, 1), x)
    check_gradients(lambda t: ops.squeeze(ops.expand_dims(t, 0), 0), x)
    check_gradients(lambda t: t[:, 1:, ::2], x)
    check_gradients(lambda t: t[np.array([0, 1, 1])], x)
    check_gradients(ops.flatten, x)
    check_gradients(lambda a, b: ops.concatenate([a, b], axis=1), r(2, 3), r(2, 5))
    check_gradients(lambda a, b: ops.stack([a, b], axis=1), r(2, 3), r(2, 3))
    check_gradients(lambda a, b: ops.where(a > 0, a, b), r(3, 3), r(3, 3))


def test_reshape_error_message():
    with pytest.raises(ValueError, match=r"shape \(2, 3\) \(6 elements\) into \(4, 2\)"):
        ops.reshape(r(2, 3), (4, 2))


def test_tensor_operators_and_cast():
    x = L.Variable(np.array([1.0, 2.0]))
    with L.GradientTape() as tape:
        y = ops.sum((2.0 * x - 1.0) / x + x ** 2 + (-x))
    g = tape.gradient(y, x).data
    np.testing.assert_allclose(g, 1.0 / x.data ** 2 + 2 * x.data - 1)
    assert ops.cast(x, "float32").dtype == np.float32
    assert np.asarray(L.Tensor(np.arange(3))).tolist() == [0, 1, 2]


def test_one_hot_and_argmax():
    np.testing.assert_array_equal(ops.one_hot(np.array([0, 2]), 3).data, [[1, 0, 0], [0, 0, 1]])
    assert ops.argmax(np.array([[0.1, 0.9], [0.8, 0.2]])).data.tolist() == [1, 0]
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        ops.one_hot(np.array([3]), 3)
