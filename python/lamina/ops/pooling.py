"""Differentiable max and average pooling (channels last) with Keras' names: ``max_pool``,
``average_pool``, and the global pools the GlobalPooling layers use. One kernel call forward
and one backward (csrc/cpu/pool2d.h); 1-D pools run the 2-D kernels on (N, 1, L, C) views.
Windows and "same" pads follow the convolution's geometry (lamina.ops.conv.conv_pads).
"""
import numpy as np

from .. import backend
from ..autograd import is_recording, make_output
from .conv import _channels_first, _channels_last, _data, _padding_name, _tuple, conv_pads
from .nn import _float_input

__all__ = ["max_pool", "average_pool", "global_average_pool", "global_max_pool"]


def _check_spatial(where, xd):
    if 0 in xd.shape[1:-1]:
        raise ValueError(f"[{where}] the input has an empty spatial axis: shape {xd.shape} "
                         f"leaves no values to pool over")


def _pool(kind, inputs, pool_size, strides, padding, data_format):
    from .math import reshape
    where = "max_pool" if kind == "max" else "average_pool"
    inputs, first = _channels_last(inputs, data_format)
    xd = _data(inputs)
    if xd.dtype.kind != "f":
        inputs, xd = _float_input(inputs, np.dtype(backend.floatx()))
    _check_spatial(where, xd)
    if xd.ndim == 3:
        pool = (1,) + _tuple(pool_size, 1, "pool_size")
        s = pool if strides is None else (1,) + _tuple(strides, 1, "strides")
        x4 = reshape(inputs, (xd.shape[0], 1) + xd.shape[1:])
        y = _pool(kind, x4, pool, s, padding, None)
        y = reshape(y, (y.shape[0],) + y.shape[2:])
        return _channels_first(y) if first else y
    if xd.ndim != 4:
        raise ValueError(f"[{where}] expected a 3-D or 4-D input, got shape {xd.shape}")
    if not xd.flags.c_contiguous:
        xd = backend.array_module(xd).ascontiguousarray(xd)
    pool = _tuple(pool_size, 2, "pool_size")
    strides = pool if strides is None else _tuple(strides, 2, "strides")
    padding = _padding_name(padding)
    if any(p < 1 for p in pool) or any(s < 1 for s in strides):
        raise ValueError(f"[{where}] pool_size and strides must be positive, got {pool} and "
                         f"{strides}")
    pads = []
    for axis, (n, k, s) in enumerate(zip(xd.shape[1:3], pool, strides)):
        if padding == "valid" and k > n:
            raise ValueError(f"[{where}] pool_size {pool} is larger than the input's spatial "
                             f"size {xd.shape[1:3]} with 'valid' padding")
        pads.extend(conv_pads(n, k, s, 1, padding))
    N, H, W, C = xd.shape
    OH = (H + pads[0] + pads[1] - pool[0]) // strides[0] + 1
    OW = (W + pads[2] + pads[3] - pool[1]) // strides[1] + 1
    xp = backend.array_module(xd)
    K = backend.kernels(xd)
    y = xp.empty((N, OH, OW, C), dtype=xd.dtype)
    geometry = (pool[0], pool[1], strides[0], strides[1], *pads)
    if kind == "max":
        argmax = xp.empty(y.shape, dtype=np.int32) if is_recording() else None
        K.max_pool2d_forward(xd, y, argmax, *geometry)

        def backward(g):
            g = g if g.flags.c_contiguous else xp.ascontiguousarray(g)
            dx = xp.empty_like(xd)
            K.max_pool2d_backward(g, argmax, dx, *geometry)
            return (dx,)
    else:
        K.avg_pool2d_forward(xd, y, *geometry)

        def backward(g):
            g = g if g.flags.c_contiguous else xp.ascontiguousarray(g)
            dx = xp.empty_like(xd)
            K.avg_pool2d_backward(g, dx, *geometry)
            return (dx,)

    out = make_output(y, (inputs,), backward, where)
    return _channels_first(out) if first else out


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """keras.ops.max_pool for (N, L, C) or (N, H, W, C); strides default to pool_size."""
    return _pool("max", inputs, pool_size, strides, padding, data_format)


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """keras.ops.average_pool; with "same" padding the padding cells are not counted."""
    return _pool("avg", inputs, pool_size, strides, padding, data_format)


def _global_pool(kind, x, keepdims, data_format):
    from .math import reshape
    where = "global_average_pool" if kind == "avg" else "global_max_pool"
    x, first = _channels_last(x, data_format)
    xd = _data(x)
    if xd.ndim not in (3, 4):
        raise ValueError(f"[{where}] expected a 3-D or 4-D input, got shape {xd.shape}")
    _check_spatial(where, xd)
    spatial = xd.shape[1:-1]
    y = _pool(kind, x, spatial, spatial, "valid", None)
    shape = (xd.shape[0],) + ((1,) * len(spatial) if keepdims else ()) + (xd.shape[-1],)
    y = reshape(y, shape)
    if first and keepdims:
        y = _channels_first(y)
    return y


def global_average_pool(x, keepdims=False, data_format=None):
    """Mean over the spatial axes of (N, L, C) or (N, H, W, C)."""
    return _global_pool("avg", x, keepdims, data_format)


def global_max_pool(x, keepdims=False, data_format=None):
    """Max over the spatial axes of (N, L, C) or (N, H, W, C)."""
    return _global_pool("max", x, keepdims, data_format)
