"""Differentiable batch normalization over one axis: ``batch_normalization`` (keras.ops, given
statistics) and ``batch_norm_train`` (the batch's own statistics, what BatchNormalization uses
in training). One kernel call forward and one backward (csrc/cpu/batchnorm.h).
"""
import numpy as np

from .. import backend
from ..autograd import Tensor, make_output
from .conv import _data
from .nn import _float_input

__all__ = ["batch_normalization", "batch_norm_train"]


def _rows(x, axis):
    """x as a C-contiguous (rows, C) array with `axis` last, and how to undo it."""
    xd = _data(x)
    axis = axis % xd.ndim
    xp = backend.array_module(xd)
    if axis == xd.ndim - 1:
        a = xd if xd.flags.c_contiguous else xp.ascontiguousarray(xd)
        return a.reshape(-1, xd.shape[-1]), lambda r: r.reshape(xd.shape)
    perm = tuple(i for i in range(xd.ndim) if i != axis) + (axis,)
    inv = tuple(np.argsort(perm))
    moved = xp.ascontiguousarray(xd.transpose(perm))
    return moved.reshape(-1, xd.shape[axis]), \
        lambda r: xp.ascontiguousarray(r.reshape(moved.shape).transpose(inv))


def _vector(v, C, dtype, name, xp):
    """A per-channel (C,) array of `dtype` in the array module `xp` of the rows: a host array
    (say, statistics the user passes) moves to the GPU for cupy rows and back for numpy."""
    if v is None:
        return None
    a = v.data if isinstance(v, Tensor) else v
    if type(a) is not np.ndarray or xp is not np:
        a = backend.to_array_module(a, xp)
    if a.shape != (C,):
        raise ValueError(f"[batch_normalization] {name} must have shape ({C},), got {a.shape}")
    if a.dtype != dtype:
        a = a.astype(dtype)
    if not a.flags.c_contiguous:
        a = xp.ascontiguousarray(a)
    return a


def batch_norm_train(x, gamma=None, beta=None, axis=-1, epsilon=1e-3):
    """Batch normalization with the batch's statistics (training): returns (y, mean, variance),
    mean/variance as arrays (biased variance, what Keras feeds its moving averages). y records
    one node whose backward differentiates through the statistics."""
    xd = _data(x)
    if xd.dtype.kind != "f":
        x, xd = _float_input(x, np.dtype(backend.floatx()))
    rows, restore = _rows(x, axis)
    C = rows.shape[1]
    xp = backend.array_module(rows)
    g = _vector(gamma, C, rows.dtype, "gamma", xp)
    b = _vector(beta, C, rows.dtype, "beta", xp)
    K = backend.kernels(rows)
    y = xp.empty_like(rows)
    mean = xp.empty(C, dtype=rows.dtype)
    var = xp.empty(C, dtype=rows.dtype)
    K.batchnorm_forward_training(rows, g, b, float(epsilon), y, mean, var)

    def backward(grad):
        need_x, need_g, need_b = out._node.needs
        grows, _ = _rows(grad, axis)
        dx = xp.empty_like(rows) if need_x else None
        dg = xp.empty_like(mean) if need_g else None
        db = xp.empty_like(mean) if need_b else None
        K.batchnorm_backward(rows, g, mean, var, float(epsilon), grows, True, dx, dg, db)
        return (None if dx is None else restore(dx), dg, db)

    out = make_output(restore(y), (x, gamma, beta), backward, "batch_norm_train")
    return out, mean, var


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """keras.ops.batch_normalization: (x - mean) / sqrt(variance + epsilon) * scale + offset
    with given statistics along `axis`. Differentiable in every tensor argument, as in Keras:
    statistics computed by other ops (masked moments) pass their gradient on; arrays (the
    moving statistics of inference) are constants."""
    xd = _data(x)
    if xd.dtype.kind != "f":
        x, xd = _float_input(x, np.dtype(backend.floatx()))
    rows, restore = _rows(x, axis)
    C = rows.shape[1]
    xp = backend.array_module(rows)
    m = _vector(mean, C, rows.dtype, "mean", xp)
    v = _vector(variance, C, rows.dtype, "variance", xp)
    g = _vector(scale, C, rows.dtype, "scale", xp)
    b = _vector(offset, C, rows.dtype, "offset", xp)
    K = backend.kernels(rows)
    y = xp.empty_like(rows)
    K.batchnorm_forward_inference(rows, g, b, m, v, float(epsilon), y)

    def backward(grad):
        need_x, need_b, need_g, need_m, need_v = out._node.needs
        grows, _ = _rows(grad, axis)
        dx = xp.empty_like(rows) if need_x else None
        # dgamma = sum(dy * (x - mean)) / std and dbeta = sum(dy) also give the statistics':
        # dmean = -gamma * dbeta / std, dvariance = -gamma * dgamma / (2 * (variance + eps)).
        dg = xp.empty_like(m) if need_g or need_v else None
        db = xp.empty_like(m) if need_b or need_m else None
        K.batchnorm_backward(rows, g, m, v, float(epsilon), grows, False, dx, dg, db)
        gamma = 1.0 if g is None else g
        dm = -gamma * db / xp.sqrt(v + epsilon) if need_m else None
        dv = -0.5 * gamma * dg / (v + epsilon) if need_v else None
        return (None if dx is None else restore(dx), db if need_b else None,
                dg if need_g else None, dm, dv)

    out = make_output(restore(y), (x, offset, scale, mean, variance), backward,
                      "batch_normalization")
    return out
