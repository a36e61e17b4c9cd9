"""matmul / dot over lamina's GEMM kernel (csrc/cpu/gemm.cpp), with numpy's broadcasting
rules and Keras 3's result dtype."""
import builtins

from .. import backend
from ..autograd import Tensor, make_output
from .dtypes import kernel_input
from .math import _arrays, _grad, _unbroadcast

__all__ = ["matmul", "dot"]


def _gemm_operand(a):
    """A 2-D or 3-D operand as lamina's GEMM wants it: C-contiguous rows."""
    if a.flags.c_contiguous:
        return a
    return backend.array_module(a).ascontiguousarray(a)


def _gemm(a, b, trans_a=False, trans_b=False):
    """op(a) @ op(b) through lamina's GEMM kernel, for 2-D operands or equal/1-batched 3-D."""
    xp = backend.array_module(a)
    K = backend.kernels(a)
    if a.ndim == 2:
        m = a.shape[1] if trans_a else a.shape[0]
        n = b.shape[0] if trans_b else b.shape[1]
        out = xp.empty((m, n), dtype=a.dtype)
        K.gemm(_gemm_operand(a), _gemm_operand(b), out, trans_a, trans_b)
        return out
    batch = builtins.max(a.shape[0], b.shape[0])
    m = a.shape[2] if trans_a else a.shape[1]
    n = b.shape[1] if trans_b else b.shape[2]
    out = xp.empty((batch, m, n), dtype=a.dtype)
    K.gemm_batched(_gemm_operand(a), _gemm_operand(b), out, trans_a, trans_b)
    return out


def matmul(x1, x2):
    """Matrix product with numpy's broadcasting rules and Keras' result dtype (int64 @ float32
    is float32; float16 is computed in float32 and returned as float16). Float products of 2-D
    operands, of (..., K) by (K, N), and of equal-batch 3-D operands run on lamina's GEMM
    kernel."""
    a, b = _arrays(x1, x2)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"[matmul] operands must have at least 1 axis, got x1 {a.shape} and "
                         f"x2 {b.shape}")
    out_dtype = a.dtype
    if out_dtype.kind == "f":
        a, _ = kernel_input(a, "matmul", "x1")
        b, _ = kernel_input(b, "matmul", "x2")
    out, backward = _matmul(a, b, _needs(x1), _needs(x2))
    compute = a.dtype
    if out.dtype == out_dtype and _dtype_of(x1) in (None, compute) and \
            _dtype_of(x2) in (None, compute):
        return make_output(out, (x1, x2), backward, "matmul")

    def cast_backward(g):  # gradients in the compute dtype, then each operand's own
        ga, gb = backward(g.astype(compute, copy=False))
        return (None if ga is None else _grad(ga, x1, ga.shape),
                None if gb is None else _grad(gb, x2, gb.shape))

    return make_output(out.astype(out_dtype, copy=False), (x1, x2), cast_backward, "matmul")


def _matmul(a, b, need_a, need_b):
    """(a @ b, backward(g) -> (ga, gb)) for arrays of one dtype."""
    native = a.dtype.kind == "f" and a.dtype.itemsize in (4, 8) and a.ndim >= 2 and b.ndim >= 2
    if native and b.ndim == 2:
        lead = a.shape[:-1]
        a2 = a.reshape(-1, a.shape[-1]) if a.ndim > 2 else a
        if a2.shape[1] != b.shape[0]:
            raise ValueError(f"[matmul] incompatible shapes: x1 {a.shape} and x2 {b.shape} "
                             f"(last axis of x1 must equal first axis of x2)")
        out = _gemm(a2, b).reshape(lead + (b.shape[1],))

        def backward(g):
            g2 = g.reshape(-1, b.shape[1])
            ga = _gemm(g2, b, trans_b=True).reshape(a.shape) if need_a else None
            gb = _gemm(a2, g2, trans_a=True) if need_b else None
            return ga, gb

        return out, backward
    if native and a.ndim == 3 and b.ndim == 3 and (a.shape[0] == b.shape[0]
                                                   or 1 in (a.shape[0], b.shape[0])):
        if a.shape[2] != b.shape[1]:
            raise ValueError(f"[matmul] incompatible shapes: x1 {a.shape} and x2 {b.shape}")
        out = _gemm(a, b)

        def backward(g):
            ga = gb = None
            if need_a:
                ga = _unbroadcast(_gemm(g, b, trans_b=True), a.shape)
            if need_b:
                gb = _unbroadcast(_gemm(a, g, trans_a=True), b.shape)
            return ga, gb

        return out, backward
    # General case (1-D operands, ranks > 3, integers): the array module's matmul.
    xp = backend.array_module(a)
    try:
        out = xp.matmul(a, b)
    except ValueError as e:
        raise ValueError(f"[matmul] incompatible shapes: x1 {a.shape} and x2 {b.shape}") from e

    def backward(g):
        a2 = a if a.ndim > 1 else a[None, :]
        b2 = b if b.ndim > 1 else b[:, None]
        g2 = g
        if a.ndim == 1:
            g2 = xp.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = xp.expand_dims(g2, -1)
        ga = _unbroadcast(xp.matmul(g2, xp.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
        gb = _unbroadcast(xp.matmul(xp.swapaxes(a2, -1, -2), g2), b2.shape).reshape(b.shape)
        return ga, gb

    return out, backward


dot = matmul


def _needs(x):
    return isinstance(x, Tensor) and x.requires_grad


def _dtype_of(x):
    return x.data.dtype if isinstance(x, Tensor) else None
