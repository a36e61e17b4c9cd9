"""Differentiable array math with Keras' names: arithmetic with broadcasting, reductions,
shape manipulation (matmul is in ops/gemm.py, beside the kernel it runs on).

Elementwise arithmetic runs on the array module of the inputs (numpy or cupy); the single-axis
reductions run on lamina's kernels. Every function accepts Tensors or array-likes
and returns a Tensor that records a backward node when gradients are being recorded.
"""

import numpy as np

from .. import backend
from ..autograd import Tensor, convert_to_tensor, make_output
from .dtypes import kernel_input, result_type

__all__ = [
    "add", "subtract", "multiply", "divide", "negative", "power", "square", "sqrt", "exp", "log",
    "abs", "absolute", "sign", "maximum", "minimum", "clip", "where", "sum",
    "mean", "max", "min", "var", "std", "argmax", "argmin", "reshape", "transpose",
    "expand_dims", "squeeze", "concatenate", "stack", "getitem", "cast", "stop_gradient",
    "convert_to_numpy", "zeros", "ones", "zeros_like", "ones_like", "one_hot", "flatten",
]


def _data(x):
    return x.data if isinstance(x, Tensor) else x


def _operand(x):
    """An array-like as an array (a Python list of floats becomes floatx, as
    convert_to_tensor does); arrays and Python scalars pass through."""
    if hasattr(x, "dtype") or type(x) in (bool, int, float):
        return x
    a = np.asarray(x)
    return a.astype(backend.floatx()) if a.dtype == np.float64 else a


def _arrays(x1, x2):
    """Both operands as arrays of Keras' result dtype (ops.dtypes.result_type: int64 with
    float32 is float32, Python scalars take the array's type)."""
    a = x1.data if isinstance(x1, Tensor) else x1
    b = x2.data if isinstance(x2, Tensor) else x2
    if hasattr(a, "dtype"):
        if hasattr(b, "dtype"):
            if a.dtype == b.dtype:
                return a, b  # the common case: two arrays of one dtype
        elif type(b) in (int, float) and a.dtype.kind == "f":  # a weak number: a's dtype
            return a, backend.array_module(a).asarray(b, dtype=a.dtype)
    elif type(a) in (int, float) and hasattr(b, "dtype") and b.dtype.kind == "f":
        return backend.array_module(b).asarray(a, dtype=b.dtype), b
    a, b = _operand(a), _operand(b)
    a_array, b_array = hasattr(a, "dtype"), hasattr(b, "dtype")
    dtype = result_type(a, b)
    xp = backend.array_module(a if a_array else b)
    if not a_array or a.dtype != dtype:
        a = xp.asarray(a, dtype=dtype)
    if not b_array or b.dtype != dtype:
        b = xp.asarray(b, dtype=dtype)
    return a, b


def _shape_error(where, a, b):
    """numpy's broadcasting error, said the lamina way (raise it from None)."""
    return ValueError(f"[{where}] incompatible shapes: x1 {tuple(a.shape)} and x2 "
                      f"{tuple(b.shape)} cannot be broadcast together")


def _unbroadcast(g, shape):
    """Sums `g` over the axes that broadcasting added or stretched to reach g.shape."""
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _grad(g, x, shape):
    """The gradient of operand `x` (of the given shape as computed): unbroadcast, and in x's own
    dtype when the op promoted it (a float16 operand next to a float32 one)."""
    g = _unbroadcast(g, shape)
    if isinstance(x, Tensor) and x.data.dtype != g.dtype:
        g = g.astype(x.data.dtype)
    return g


# -- elementwise arithmetic ---------------------------------------------------------------------

def add(x1, x2):
    a, b = _arrays(x1, x2)
    sa, sb = a.shape, b.shape
    try:
        out = a + b
    except ValueError:
        raise _shape_error("add", a, b) from None
    return make_output(out, (x1, x2), lambda g: (_grad(g, x1, sa), _grad(g, x2, sb)), "add")


def subtract(x1, x2):
    a, b = _arrays(x1, x2)
    sa, sb = a.shape, b.shape
    try:
        out = a - b
    except ValueError:
        raise _shape_error("subtract", a, b) from None
    return make_output(out, (x1, x2), lambda g: (_grad(g, x1, sa), _grad(-g, x2, sb)),
                       "subtract")


def multiply(x1, x2):
    a, b = _arrays(x1, x2)
    try:
        out = a * b
    except ValueError:
        raise _shape_error("multiply", a, b) from None
    return make_output(out, (x1, x2),
                       lambda g: (_grad(g * b, x1, a.shape), _grad(g * a, x2, b.shape)),
                       "multiply")


def divide(x1, x2):
    """x1 / x2 in Keras' result_type(x1, x2, float): integers divide to floatx."""
    a, b = _arrays(x1, x2)
    if a.dtype.kind != "f":
        dtype = result_type(a, b, 1.0)
        a, b = a.astype(dtype), b.astype(dtype)
    try:
        out = a / b
    except ValueError:
        raise _shape_error("divide", a, b) from None
    return make_output(out, (x1, x2),
                       lambda g: (_grad(g / b, x1, a.shape),
                                  _grad(-g * out / b, x2, b.shape)), "divide")


def negative(x):
    a = _data(x)
    return make_output(-a, (x,), lambda g: (-g,), "negative")


def power(x1, x2):
    a, b = _arrays(x1, x2)
    xp = backend.array_module(a)
    try:
        out = a ** b
    except ValueError:
        raise _shape_error("power", a, b) from None

    def backward(g):
        ga = g * b * a ** (b - 1)
        gb = None
        if isinstance(x2, Tensor) and x2.requires_grad:
            gb = _grad(g * out * xp.log(xp.where(a > 0, a, 1)), x2, b.shape)
        return _grad(ga, x1, a.shape), gb

    return make_output(out, (x1, x2), backward, "power")


def square(x):
    a = _data(x)
    return make_output(a * a, (x,), lambda g: (2 * g * a,), "square")


def sqrt(x):
    a = _data(x)
    out = backend.array_module(a).sqrt(a)
    return make_output(out, (x,), lambda g: (g / (2 * out),), "sqrt")


def exp(x):
    a = _data(x)
    out = backend.array_module(a).exp(a)
    return make_output(out, (x,), lambda g: (g * out,), "exp")


def log(x):
    a = _data(x)
    return make_output(backend.array_module(a).log(a), (x,), lambda g: (g / a,), "log")


def abs(x):  # noqa: A001 - Keras' name
    a = _data(x)
    xp = backend.array_module(a)
    return make_output(xp.abs(a), (x,), lambda g: (g * xp.sign(a),), "abs")


absolute = abs


def sign(x):
    a = _data(x)
    return Tensor(backend.array_module(a).sign(a))


def maximum(x1, x2):
    a, b = _arrays(x1, x2)
    xp = backend.array_module(a)
    try:
        out = xp.maximum(a, b)
    except ValueError:
        raise _shape_error("maximum", a, b) from None
    pick_a = a >= b
    return make_output(out, (x1, x2),
                       lambda g: (_grad(g * pick_a, x1, a.shape),
                                  _grad(g * ~pick_a, x2, b.shape)), "maximum")


def minimum(x1, x2):
    a, b = _arrays(x1, x2)
    xp = backend.array_module(a)
    try:
        out = xp.minimum(a, b)
    except ValueError:
        raise _shape_error("minimum", a, b) from None
    pick_a = a <= b
    return make_output(out, (x1, x2),
                       lambda g: (_grad(g * pick_a, x1, a.shape),
                                  _grad(g * ~pick_a, x2, b.shape)), "minimum")


def clip(x, x_min, x_max):
    a = _data(x)
    xp = backend.array_module(a)
    inside = (a >= x_min) & (a <= x_max)
    return make_output(xp.clip(a, x_min, x_max), (x,), lambda g: (g * inside,), "clip")


def where(condition, x1, x2):
    c = _data(condition)
    a, b = _arrays(x1, x2)
    xp = backend.array_module(a)
    try:
        out = xp.where(c, a, b)
    except ValueError:
        raise ValueError(f"[where] incompatible shapes: condition {tuple(np.shape(c))}, x1 "
                         f"{tuple(a.shape)} and x2 {tuple(b.shape)} cannot be broadcast "
                         f"together") from None
    return make_output(out, (x1, x2),
                       lambda g: (_grad(xp.where(c, g, 0), x1, a.shape),
                                  _grad(xp.where(c, 0, g), x2, b.shape)), "where")


# -- reductions ---------------------------------------------------------------------------------

def _norm_axis(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    out = []
    for ax in axis:
        if not -ndim <= ax < ndim:
            raise ValueError(f"axis {ax} is out of range for a tensor of rank {ndim}")
        out.append(ax % ndim)
    return tuple(sorted(out))


def _expand_to(g, shape, axes):
    """Re-inserts reduced axes into g and broadcasts to `shape`."""
    xp = backend.array_module(g)
    kept = list(shape)
    for ax in axes:
        kept[ax] = 1
    return xp.broadcast_to(g.reshape(kept), shape)


def _reduce_sum(a, axes, mean):
    """Sum (or mean) over `axes`: lamina's reduction kernel for one axis of a float array.
    float16 is summed in float32 and returned as float16; the mean of integers is floatx (the
    sum of integers stays an integer, numpy's)."""
    out_dtype = a.dtype
    if a.dtype.kind == "f" or mean:
        a, out_dtype = kernel_input(a, "mean" if mean else "sum")
    if (len(axes) == 1 and a.dtype.kind == "f" and a.flags.c_contiguous and a.ndim > 0
            and hasattr(backend.kernels(a), "reduce_sum")):
        ax = axes[0]
        xp = backend.array_module(a)
        out = xp.empty(a.shape[:ax] + a.shape[ax + 1:], dtype=a.dtype)
        backend.kernels(a).reduce_sum(a, out, ax, mean)
    else:
        out = a.mean(axis=axes) if mean else a.sum(axis=axes)
    return out if out.dtype == out_dtype else out.astype(out_dtype)


def sum(x, axis=None, keepdims=False):  # noqa: A001 - Keras' name
    a = _data(x)
    axes = _norm_axis(axis, a.ndim)
    out = _reduce_sum(a, axes, False)
    shape = a.shape
    if keepdims:
        out = out.reshape(tuple(1 if i in axes else n for i, n in enumerate(shape)))
    return make_output(out, (x,), lambda g: (_expand_to(g, shape, axes).copy(),), "sum")


def mean(x, axis=None, keepdims=False):
    a = _data(x)
    axes = _norm_axis(axis, a.ndim)
    out = _reduce_sum(a, axes, True)
    shape = a.shape
    count = 1
    for ax in axes:
        count *= shape[ax]
    if keepdims:
        out = out.reshape(tuple(1 if i in axes else n for i, n in enumerate(shape)))
    xp = backend.array_module(a)
    return make_output(
        out, (x,),
        lambda g: (xp.multiply(_expand_to(g, shape, axes), 1.0 / count, dtype=out.dtype),),
        "mean")


def _extreme(x, axis, keepdims, largest):
    a = _data(x)
    axes = _norm_axis(axis, a.ndim)
    out = a.max(axis=axes, keepdims=True) if largest else a.min(axis=axes, keepdims=True)

    def backward(g):
        hit = a == out
        count = hit.sum(axis=axes, keepdims=True)
        return (_expand_to(g, a.shape, axes) * hit / count,)

    result = out if keepdims else out.reshape(tuple(n for i, n in enumerate(a.shape)
                                                    if i not in axes))
    return make_output(result, (x,), backward, "max" if largest else "min")


def max(x, axis=None, keepdims=False):  # noqa: A001 - Keras' name
    return _extreme(x, axis, keepdims, True)


def min(x, axis=None, keepdims=False):  # noqa: A001 - Keras' name
    return _extreme(x, axis, keepdims, False)


def var(x, axis=None, keepdims=False):
    centered = subtract(x, mean(x, axis=axis, keepdims=True))
    return mean(square(centered), axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    return sqrt(var(x, axis=axis, keepdims=keepdims))


def argmax(x, axis=-1, keepdims=False):
    a = _data(x)
    return Tensor(backend.array_module(a).argmax(a, axis=axis, keepdims=keepdims))


def argmin(x, axis=-1, keepdims=False):
    a = _data(x)
    return Tensor(backend.array_module(a).argmin(a, axis=axis, keepdims=keepdims))


# -- shapes ---------------------------------------------------------------------------------------

def reshape(x, newshape):
    a = _data(x)
    try:
        out = a.reshape(newshape)
    except ValueError as e:
        raise ValueError(f"[reshape] cannot reshape a tensor of shape {a.shape} "
                         f"({a.size} elements) into {tuple(newshape)}") from e
    shape = a.shape
    return make_output(out, (x,), lambda g: (g.reshape(shape),), "reshape")


def flatten(x):
    """(N, ...) -> (N, prod(...)), as the Flatten layer computes."""
    a = _data(x)
    return reshape(x, (a.shape[0], -1))


def transpose(x, axes=None):
    a = _data(x)
    xp = backend.array_module(a)
    out = xp.transpose(a, axes)
    inverse = None if axes is None else tuple(np.argsort(axes))
    return make_output(out, (x,), lambda g: (xp.transpose(g, inverse),), "transpose")


def expand_dims(x, axis):
    a = _data(x)
    xp = backend.array_module(a)
    shape = a.shape
    return make_output(xp.expand_dims(a, axis), (x,), lambda g: (g.reshape(shape),),
                       "expand_dims")


def squeeze(x, axis=None):
    a = _data(x)
    xp = backend.array_module(a)
    shape = a.shape
    return make_output(xp.squeeze(a, axis), (x,), lambda g: (g.reshape(shape),), "squeeze")


def concatenate(xs, axis=0):
    arrays = [_data(convert_to_tensor(x)) for x in xs]
    xp = backend.array_module(arrays[0])
    out = xp.concatenate(arrays, axis=axis)
    bounds = np.cumsum([a.shape[axis] for a in arrays])[:-1]

    def backward(g):
        return tuple(xp.split(g, bounds, axis=axis))

    return make_output(out, tuple(xs), backward, "concatenate")


def stack(xs, axis=0):
    arrays = [_data(convert_to_tensor(x)) for x in xs]
    xp = backend.array_module(arrays[0])
    out = xp.stack(arrays, axis=axis)

    def backward(g):
        return tuple(xp.take(g, i, axis=axis) for i in range(len(arrays)))

    return make_output(out, tuple(xs), backward, "stack")


def getitem(x, key):
    a = _data(x)
    if isinstance(key, Tensor):
        key = key.data
    xp = backend.array_module(a)
    out = a[key]

    def backward(g):
        full = xp.zeros_like(a)
        if isinstance(key, (slice, int)) or (isinstance(key, tuple) and all(
                isinstance(k, (slice, int, type(None), type(Ellipsis))) for k in key)):
            full[key] = g
        else:
            xp.add.at(full, key, g)
        return (full,)

    return make_output(out, (x,), backward, "getitem")


def cast(x, dtype):
    a = _data(x)
    dtype = np.dtype(dtype)
    if a.dtype == dtype:
        return x if isinstance(x, Tensor) else Tensor(a)
    src = a.dtype
    differentiable = dtype.kind == "f" and src.kind == "f"
    out = a.astype(dtype)
    if not differentiable:
        return Tensor(out)
    return make_output(out, (x,), lambda g: (g.astype(src),), "cast")


def stop_gradient(x):
    return Tensor(_data(x))


def convert_to_numpy(x):
    a = _data(x)
    return a if type(a) is np.ndarray else (a.get() if hasattr(a, "get") else np.asarray(a))


def zeros(shape, dtype=None):
    return Tensor(np.zeros(shape, dtype=dtype or backend.floatx()))


def ones(shape, dtype=None):
    return Tensor(np.ones(shape, dtype=dtype or backend.floatx()))


def zeros_like(x, dtype=None):
    a = _data(x)
    return Tensor(backend.array_module(a).zeros_like(a, dtype=dtype))


def ones_like(x, dtype=None):
    a = _data(x)
    return Tensor(backend.array_module(a).ones_like(a, dtype=dtype))


def one_hot(x, num_classes, axis=-1, dtype=None):
    a = np.asarray(_data(x))
    if a.size and (a.min() < 0 or a.max() >= num_classes):
        raise ValueError(f"[one_hot] labels must lie in [0, {num_classes}), got values in "
                         f"[{a.min()}, {a.max()}]")
    out = np.eye(num_classes, dtype=dtype or backend.floatx())[a]
    if axis != -1:
        out = np.moveaxis(out, -1, axis)
    return Tensor(out)
