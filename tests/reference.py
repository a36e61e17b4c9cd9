"""numpy oracles for lamina's kernels: plain, obviously-correct float64 formulas.

Each kernel family's tests compare the native kernel against the function here of the same name.
"""
import math

import numpy as np


def gemm(a, b, c, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
    a = a.T if trans_a else a
    b = b.T if trans_b else b
    out = alpha * (a.astype(np.float64) @ b.astype(np.float64))
    if beta != 0.0:
        out = out + beta * c.astype(np.float64)
    return out


# --- activations (Keras 3 formulas, evaluated in float64) -----------------------------------

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805
_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _normal_cdf(x):
    # 0.5 * (1 + erf(x / sqrt(2))), written with erfc so that it keeps its digits for x << 0.
    return 0.5 * _erfc(-x / math.sqrt(2.0))


def _gelu_tanh_u(x):
    return math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)


def activation_forward(x, kind, alpha=None):
    """y = act(x) for a Keras activation name; softmax over the last axis."""
    x = np.asarray(x, dtype=np.float64)
    alpha = {"elu": 1.0, "leaky_relu": 0.2}.get(kind, 0.0) if alpha is None else alpha
    if kind == "linear":
        return x.copy()
    if kind == "relu":
        return np.maximum(x, 0.0)
    if kind == "sigmoid":
        return _sigmoid(x)
    if kind == "tanh":
        return np.tanh(x)
    if kind == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    if kind == "gelu":
        return x * _normal_cdf(x)
    if kind == "gelu_tanh":
        # 0.5 * x * (1 + tanh(u)), with 0.5 * (1 + tanh(u)) = sigmoid(2u), which keeps its digits
        # where tanh(u) -> -1.
        return x * _sigmoid(2.0 * _gelu_tanh_u(x))
    if kind == "elu":
        return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))
    if kind == "selu":
        return SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0.0)))
    if kind == "softplus":
        return np.logaddexp(x, 0.0)
    if kind == "silu":
        return x * _sigmoid(x)
    if kind == "leaky_relu":
        return np.where(x > 0, x, alpha * x)
    raise ValueError(kind)


def activation_backward(x, dy, kind, alpha=None):
    """dx = act'(x) * dy from the input x (softmax: the row-wise Jacobian-vector product)."""
    x = np.asarray(x, dtype=np.float64)
    dy = np.asarray(dy, dtype=np.float64)
    alpha = {"elu": 1.0, "leaky_relu": 0.2}.get(kind, 0.0) if alpha is None else alpha
    if kind == "softmax":
        y = activation_forward(x, "softmax")
        return y * (dy - (dy * y).sum(axis=-1, keepdims=True))
    if kind == "linear":
        d = np.ones_like(x)
    elif kind == "relu":
        d = (x > 0).astype(np.float64)
    elif kind == "sigmoid":
        s = _sigmoid(x)
        d = s * (1.0 - s)
    elif kind == "tanh":
        d = 1.0 - np.tanh(x) ** 2
    elif kind == "gelu":
        d = _normal_cdf(x) + x * np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    elif kind == "gelu_tanh":
        # d/dx 0.5 x (1 + tanh(u)) = 0.5 (1 + t) + 0.5 x (1 - t^2) u', with 0.5 (1 + t) = s and
        # 1 - t^2 = 4 s (1 - s) for s = sigmoid(2u).
        s = _sigmoid(2.0 * _gelu_tanh_u(x))
        du = math.sqrt(2.0 / math.pi) * (1.0 + 3.0 * 0.044715 * x * x)
        d = s + 2.0 * x * s * (1.0 - s) * du
    elif kind == "elu":
        d = np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))
    elif kind == "selu":
        d = SELU_SCALE * np.where(x > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(x, 0.0)))
    elif kind == "softplus":
        d = _sigmoid(x)
    elif kind == "silu":
        s = _sigmoid(x)
        d = s * (1.0 + x * (1.0 - s))
    elif kind == "leaky_relu":
        d = np.where(x > 0, 1.0, alpha)
    else:
        raise ValueError(kind)
    return d * dy


# --- dense -----------------------------------------------------------------------------------

def dense_forward(x, w, b, kind, alpha=None):
    """(z, y) with z = x @ w + b, y = act(z)."""
    z = np.asarray(x, np.float64) @ np.asarray(w, np.float64)
    if b is not None:
        z = z + np.asarray(b, np.float64)
    return z, activation_forward(z, kind, alpha)


def dense_backward(x, w, b, dy, kind, alpha=None):
    """(dx, dw, db) of sum(y * dy) for y = act(x @ w + b); db is None without a bias."""
    z, _ = dense_forward(x, w, b, kind, alpha)
    dz = activation_backward(z, dy, kind, alpha)
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    return dz @ w.T, x.T @ dz, (dz.sum(axis=0) if b is not None else None)


# --- reductions ------------------------------------------------------------------------------

def reduce_sum(x, axis, mean=False):
    x = np.asarray(x, np.float64)
    return x.mean(axis=axis) if mean else x.sum(axis=axis)


def reduce_max(x, axis):
    return np.asarray(x, np.float64).max(axis=axis)
