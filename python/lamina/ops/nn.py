"""Differentiable neural-network ops over lamina's fused kernels: the dense layer, activations,
dropout.

``dense(x, kernel, bias, activation)`` is one kernel call forward (GEMM, bias and activation in
one pass over the output) and one call backward (activation derivative, dW, db and dx).
"""
import numpy as np

from .. import backend, random
from ..autograd import Tensor, is_recording, make_output
from .dtypes import kernel_input

__all__ = ["ACTIVATIONS", "activation_code", "dense", "activation", "relu", "sigmoid", "tanh",
           "softmax", "log_softmax", "gelu", "elu", "selu", "softplus", "silu", "swish",
           "leaky_relu", "linear", "dropout"]

# Kernel codes of the fused activations (csrc/cpu/activations.h; the kernel module exports the
# same table as ACTIVATIONS, checked by the tests).
ACTIVATIONS = {"linear": 0, "relu": 1, "sigmoid": 2, "tanh": 3, "softmax": 4, "gelu": 5,
               "gelu_tanh": 6, "elu": 7, "selu": 8, "softplus": 9, "silu": 10, "leaky_relu": 11}
# Keras' names and the kernel's default parameter for each.
_ALIASES = {None: ("linear", 0.0), "linear": ("linear", 0.0), "relu": ("relu", 0.0),
            "sigmoid": ("sigmoid", 0.0), "tanh": ("tanh", 0.0), "softmax": ("softmax", 0.0),
            "gelu": ("gelu", 0.0), "gelu_tanh": ("gelu_tanh", 0.0), "elu": ("elu", 1.0),
            "selu": ("selu", 0.0), "softplus": ("softplus", 0.0), "silu": ("silu", 0.0),
            "swish": ("silu", 0.0), "leaky_relu": ("leaky_relu", 0.2)}
# Activations whose derivative needs the input (the others use the output alone).
_NEEDS_INPUT = {ACTIVATIONS[k] for k in ("gelu", "gelu_tanh", "softplus", "silu")}


def activation_code(name, alpha=None):
    """(kernel code, parameter) for a Keras activation name; `alpha` overrides the parameter
    (elu's alpha, leaky_relu's negative slope)."""
    try:
        kernel_name, default = _ALIASES[name]
    except (KeyError, TypeError):
        raise ValueError(f"Unknown activation {name!r}; expected one of "
                         f"{sorted(k for k in _ALIASES if k)}") from None
    code = ACTIVATIONS[kernel_name]
    param = default if alpha is None else float(alpha)
    if code == ACTIVATIONS["leaky_relu"] and param <= 0:
        _NEEDS_INPUT.add(code)  # slope <= 0: the sign of y no longer tells the sign of x
    return code, param


def _data(x):
    if isinstance(x, Tensor):
        return x.data
    return x if hasattr(x, "__cuda_array_interface__") else np.asarray(x)  # cupy stays cupy


def _float_input(x, dtype):
    """x's array in `dtype`: lamina casts inputs to the layer's dtype as Keras autocasts."""
    a = _data(x)
    if a.dtype != dtype:
        if isinstance(x, Tensor) and x.requires_grad:
            from .math import cast
            x = cast(x, dtype)
            a = x.data
        else:
            a = a.astype(dtype)
    if not a.flags.c_contiguous:
        a = backend.array_module(a).ascontiguousarray(a)
    return x, a


def dense(x, kernel, bias=None, activation=None, alpha=None):
    """activation(x @ kernel + bias) over the last axis of x (any rank >= 2 is flattened to
    rows): one fused kernel call forward and one backward."""
    code, param = activation_code(activation, alpha)
    W = _data(kernel)
    x, xd = _float_input(x, W.dtype)
    if xd.ndim < 1 or xd.shape[-1] != W.shape[0]:
        raise ValueError(f"[dense] input of shape {xd.shape} does not match a kernel of shape "
                         f"{W.shape}: expected last axis {W.shape[0]}")
    b = None if bias is None else _data(bias)
    lead = xd.shape[:-1]
    x2 = xd.reshape(-1, W.shape[0]) if xd.ndim != 2 else xd
    n, units = x2.shape[0], W.shape[1]
    xp = backend.array_module(x2)
    K = backend.kernels(x2)
    y = xp.empty((n, units), dtype=W.dtype)
    recording = is_recording()
    z = xp.empty_like(y) if (recording and code in _NEEDS_INPUT) else None
    K.dense_forward(x2, W, b, z, y, code, param)
    out_shape = lead + (units,)

    def backward(g):
        need_x, need_w, need_b = out._node.needs
        g2 = g.reshape(n, units)
        if not g2.flags.c_contiguous:
            g2 = xp.ascontiguousarray(g2)
        dx = xp.empty_like(x2) if need_x else None
        dW = xp.empty_like(W)  # the kernel always assigns dW (a frozen kernel rarely trains x)
        db = xp.empty_like(b) if b is not None else None
        dz = xp.empty_like(y) if code != 0 else None
        K.dense_backward(x2, W, z, y, g2, dx, dW, db, dz, code, param)
        return (None if dx is None else dx.reshape(xd.shape),
                dW if need_w else None, db if need_b else None)

    out = make_output(y if xd.ndim == 2 else y.reshape(out_shape), (x, kernel, bias), backward,
                      "dense")
    return out


def activation(x, name, alpha=None):
    """A Keras activation by name, through the fused activation kernel."""
    code, param = activation_code(name, alpha)
    if code == 0:
        return x if isinstance(x, Tensor) else Tensor(_data(x))
    xd, out_dtype = kernel_input(_data(x), name)
    if not xd.flags.c_contiguous:
        xd = backend.array_module(xd).ascontiguousarray(xd)
    xp = backend.array_module(xd)
    K = backend.kernels(xd)
    y = xp.empty_like(xd)
    K.activation_forward(xd, y, code, param)
    keep_x = xd if code in _NEEDS_INPUT else None

    def backward(g):
        if g.dtype != xd.dtype:  # a float16 input: its gradient is computed in float32
            g = g.astype(xd.dtype)
        if not g.flags.c_contiguous:
            g = xp.ascontiguousarray(g)
        dx = xp.empty_like(xd)
        K.activation_backward(keep_x, y, g, dx, code, param)
        return (dx if dx.dtype == out_dtype else dx.astype(out_dtype),)

    out = y if y.dtype == out_dtype else y.astype(out_dtype)
    return make_output(out, (x,), backward, name or "linear")


def linear(x):
    return x


def relu(x):
    return activation(x, "relu")


def sigmoid(x):
    return activation(x, "sigmoid")


def tanh(x):
    return activation(x, "tanh")


def gelu(x, approximate=False):
    """Keras 3's gelu: the exact erf form by default, the tanh form with approximate=True."""
    return activation(x, "gelu_tanh" if approximate else "gelu")


def elu(x, alpha=1.0):
    return activation(x, "elu", alpha)


def selu(x):
    return activation(x, "selu")


def softplus(x):
    return activation(x, "softplus")


def silu(x):
    return activation(x, "silu")


swish = silu


def leaky_relu(x, negative_slope=0.2):
    return activation(x, "leaky_relu", negative_slope)


def softmax(x, axis=-1):
    """Softmax along `axis` (the kernel works on the last axis; others are moved there)."""
    ndim = _data(x).ndim
    if axis in (-1, ndim - 1):
        return activation(x, "softmax")
    from .math import transpose
    perm = list(range(ndim))
    perm[axis], perm[-1] = perm[-1], perm[axis]
    return transpose(activation(transpose(x, perm), "softmax"), perm)


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along `axis`, computed stably (float16 in float32, integers in
    floatx, as the other activations)."""
    xd, out_dtype = kernel_input(_data(x), "log_softmax")
    xp = backend.array_module(xd)
    shifted = xd - xd.max(axis=axis, keepdims=True)
    out = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))

    def backward(g):
        g = g.astype(out.dtype, copy=False)
        dx = g - xp.exp(out) * g.sum(axis=axis, keepdims=True)
        return (dx.astype(out_dtype, copy=False),)

    return make_output(out.astype(out_dtype, copy=False), (x,), backward, "log_softmax")


def dropout(x, rate, noise_shape=None, seed=None):
    """Inverted dropout (training): zeroes each element with probability `rate` and scales the
    rest by 1 / (1 - rate), as keras.random.dropout."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"[dropout] argument 'rate': expected 0 <= rate < 1, got {rate}")
    xd = _data(x)
    if rate == 0.0:
        return x if isinstance(x, Tensor) else Tensor(xd)
    shape = xd.shape if noise_shape is None else tuple(
        xd.shape[i] if n is None else n for i, n in enumerate(noise_shape))
    gen = random._rng(seed)
    keep = gen.random(shape, dtype=np.float32 if xd.dtype == np.float32 else np.float64)
    scale = np.asarray(1.0 / (1.0 - rate), dtype=xd.dtype)
    mask = (keep >= rate) * scale
    mask = mask.astype(xd.dtype, copy=False)
    if type(xd) is not np.ndarray:  # drawn on the host (seeded as on the CPU), used where x is
        mask = backend.array_module(xd).asarray(mask)
    return make_output(xd * mask, (x,), lambda g: (g * mask,), "dropout")
