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


# --- dtypes: Keras 3's result_type, and one shape-error form for broadcasting ops ------------
def _a(dtype, n=3):
    return np.arange(1, n + 1).astype(dtype)


@pytest.mark.parametrize("x1, x2, expected", [
    (_a(np.int64), _a(np.float32), np.float32),   # numpy: float64
    (_a(np.uint8), _a(np.int8), np.int16),
    (_a(np.int32), 1.5, np.float32),              # a Python float is weak: floatx for ints
    (_a(np.float16), 1.5, np.float16),            # ... and the float's own type for floats
    (_a(np.int8), 3, np.int8),
    (_a(np.float16), _a(np.float32), np.float32),
    (_a(np.bool_), _a(np.float32), np.float32),
    (_a(np.float64), _a(np.int64), np.float64),
    (_a(np.float32), np.float64(2.0), np.float64),  # numpy scalars are not weak
    ([1.0, 2.0, 3.0], _a(np.int32), np.float32),  # a list of floats is floatx
])
@pytest.mark.parametrize("fn", [ops.add, ops.subtract, ops.multiply, ops.maximum, ops.minimum,
                                lambda a, b: ops.where(np.array([True, False, True]), a, b)],
                         ids=["add", "subtract", "multiply", "maximum", "minimum", "where"])
def test_binary_ops_follow_keras_result_type(fn, x1, x2, expected):
    assert fn(x1, x2).dtype == expected
    assert fn(x2, x1).dtype == expected


def test_divide_and_power_dtypes():
    assert ops.divide(_a(np.int32), _a(np.int32)).dtype == np.float32  # numpy: float64
    assert ops.divide(_a(np.int64), 2).dtype == np.float32
    assert ops.divide(_a(np.float16), 2).dtype == np.float16
    assert ops.power(_a(np.int64), _a(np.float32)).dtype == np.float32


@pytest.mark.parametrize("fn, name", [(ops.add, "add"), (ops.subtract, "subtract"),
                                      (ops.multiply, "multiply"), (ops.divide, "divide"),
                                      (ops.power, "power"), (ops.maximum, "maximum"),
                                      (ops.minimum, "minimum")])
def test_broadcasting_error_names_the_op_and_both_shapes(fn, name):
    with pytest.raises(ValueError, match=rf"^\[{name}\] incompatible shapes: x1 \(2, 3\) and x2 "
                                         rf"\(4,\) cannot be broadcast together$"):
        fn(np.ones((2, 3), np.float32), np.ones(4, np.float32))
    with pytest.raises(ValueError, match=r"^\[where\] incompatible shapes: condition \(2, 3\), "
                                         r"x1 \(2, 3\) and x2 \(4,\)"):
        ops.where(np.ones((2, 3), bool), np.ones((2, 3)), np.ones(4))


def test_matmul_follows_keras_dtypes():
    a, b = r(4, 3), r(3, 2)
    out = ops.matmul(a.astype(np.int64), b.astype(np.float32))
    assert out.dtype == np.float32  # numpy: float64
    np.testing.assert_allclose(out.data, a.astype(np.int64) @ b.astype(np.float32), rtol=1e-5)
    assert ops.matmul(_a(np.int32, 6).reshape(2, 3), _a(np.int32, 6).reshape(3, 2)).dtype == \
        np.int32
    half = ops.matmul(a.astype(np.float16), b.astype(np.float16))
    assert half.dtype == np.float16
    np.testing.assert_allclose(half.data, (a.astype(np.float16).astype(np.float32) @
                                           b.astype(np.float16).astype(np.float32)), rtol=2e-3,
                               atol=2e-3)


def test_float16_matmul_gradients_come_back_in_float16():
    x = L.Variable(r(4, 3).astype(np.float16), name="x")
    w = L.Variable(r(3, 2).astype(np.float32), name="w")
    with L.GradientTape() as tape:
        y = ops.sum(ops.matmul(x, w))
    gx, gw = tape.gradient(y, [x, w])
    assert gx.dtype == np.float16 and gw.dtype == np.float32
    np.testing.assert_allclose(np.asarray(gx, np.float32),
                               np.tile(w.data.sum(1), (4, 1)), rtol=2e-3)


@pytest.mark.parametrize("fn", [ops.sum, ops.mean])
def test_float16_reductions_run_in_float32_and_return_float16(fn):
    x = np.full((3, 2000), 0.1, np.float16)
    out = fn(x, axis=1)
    assert out.dtype == np.float16
    expected = x.astype(np.float32).sum(1) / (2000 if fn is ops.mean else 1)
    np.testing.assert_allclose(out.data.astype(np.float32), expected, rtol=1e-3)


def test_mean_of_integers_is_floatx():
    out = ops.mean(np.array([[1, 2], [3, 5]], np.int64), axis=1)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, [1.5, 4.0])
    assert ops.sum(np.array([1, 2], np.int32)).dtype.kind == "i"
