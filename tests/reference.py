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


# ------------------------------------------------------------------------------------------------
# Losses (Keras 3 formulas, keras/src/losses/losses.py). Each returns the per-row loss over the
# last axis in float64. `dtype` is the kernel's dtype: the clip bound 1 - 1e-7 is computed in it,
# as Keras does, so float32 kernels and the oracle clip at the same place.
# ------------------------------------------------------------------------------------------------
LOSS_EPSILON = 1e-7


def _f64(*arrays):
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def _upper_clip(dtype):
    return float(np.asarray(1, dtype) - np.asarray(LOSS_EPSILON, dtype))


def categorical_crossentropy(y_pred, y_true, from_logits=False, label_smoothing=0.0,
                             dtype=np.float64):
    y_pred, t = _f64(y_pred, y_true)
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + label_smoothing / y_pred.shape[-1]
    if from_logits:
        z = y_pred - y_pred.max(axis=-1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    else:
        p = y_pred / y_pred.sum(axis=-1, keepdims=True)
        log_p = np.log(np.clip(p, LOSS_EPSILON, _upper_clip(dtype)))
    return -(t * log_p).sum(axis=-1)


def sparse_categorical_crossentropy(y_pred, labels, from_logits=False, ignore_class=None,
                                    dtype=np.float64):
    y_pred = np.asarray(y_pred, dtype=np.float64)
    labels = np.asarray(labels).reshape(y_pred.shape[:-1])
    ignored = labels == ignore_class if ignore_class is not None else np.zeros(labels.shape, bool)
    one_hot = np.eye(y_pred.shape[-1])[np.where(ignored, 0, labels)]
    loss = categorical_crossentropy(y_pred, one_hot, from_logits, dtype=dtype)
    return np.where(ignored, 0.0, loss)


def binary_crossentropy(y_pred, y_true, from_logits=False, label_smoothing=0.0, dtype=np.float64):
    z, y = _f64(y_pred, y_true)
    if label_smoothing:
        y = y * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        bce = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    else:
        p = np.clip(z, LOSS_EPSILON, _upper_clip(dtype))
        bce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    return bce.mean(axis=-1)


def mean_squared_error(y_pred, y_true):
    p, t = _f64(y_pred, y_true)
    return np.square(t - p).mean(axis=-1)


def mean_absolute_error(y_pred, y_true):
    p, t = _f64(y_pred, y_true)
    return np.abs(t - p).mean(axis=-1)


def huber(y_pred, y_true, delta=1.0):
    p, t = _f64(y_pred, y_true)
    e = p - t
    a = np.abs(e)
    return np.where(a <= delta, 0.5 * e * e, delta * a - 0.5 * delta * delta).mean(axis=-1)


def log_cosh(y_pred, y_true):
    p, t = _f64(y_pred, y_true)
    return np.log(np.cosh(p - t)).mean(axis=-1)


def mean_absolute_percentage_error(y_pred, y_true):
    p, t = _f64(y_pred, y_true)
    return 100.0 * np.abs((t - p) / np.maximum(np.abs(t), LOSS_EPSILON)).mean(axis=-1)


def mean_squared_logarithmic_error(y_pred, y_true):
    p, t = _f64(y_pred, y_true)
    a = np.log(np.maximum(p, LOSS_EPSILON) + 1.0)
    b = np.log(np.maximum(t, LOSS_EPSILON) + 1.0)
    return np.square(a - b).mean(axis=-1)


def poisson(y_pred, y_true):
    p, t = _f64(y_pred, y_true)
    return (p - t * np.log(p + LOSS_EPSILON)).mean(axis=-1)


def kl_divergence(y_pred, y_true):
    p, t = _f64(y_pred, y_true)
    t = np.clip(t, LOSS_EPSILON, 1)
    p = np.clip(p, LOSS_EPSILON, 1)
    return (t * np.log(t / p)).sum(axis=-1)


def _hinge_labels(t):
    return 2.0 * t - 1.0 if np.all((t == 0) | (t == 1)) else t


def hinge(y_pred, y_true):
    p, t = _f64(y_pred, y_true)
    return np.maximum(1.0 - _hinge_labels(t) * p, 0.0).mean(axis=-1)


def squared_hinge(y_pred, y_true):
    p, t = _f64(y_pred, y_true)
    return np.square(np.maximum(1.0 - _hinge_labels(t) * p, 0.0)).mean(axis=-1)


def categorical_hinge(y_pred, y_true):
    p, t = _f64(y_pred, y_true)
    pos = (t * p).sum(axis=-1)
    neg = ((1.0 - t) * p).max(axis=-1)
    return np.maximum(neg - pos + 1.0, 0.0)


def cosine_similarity(y_pred, y_true):
    p, t = _f64(y_pred, y_true)

    def normalize(x):
        return x / np.maximum(np.sqrt((x * x).sum(axis=-1, keepdims=True)), LOSS_EPSILON)

    return -(normalize(t) * normalize(p)).sum(axis=-1)


# ------------------------------------------------------------------------------------------------
# Optimizers (Keras 3 formulas, keras/src/optimizers/*.py): one step over lists of float64 arrays,
# updated in place. weight_decay is Keras' decoupled apply_weight_decay: w -= w * wd * lr first.
# ------------------------------------------------------------------------------------------------
def _decay(w, lr, weight_decay):
    if weight_decay:
        w -= w * weight_decay * lr


def sgd_step(params, grads, momenta, lr, momentum, nesterov, weight_decay=0.0):
    for i, (w, g) in enumerate(zip(params, grads)):
        _decay(w, lr, weight_decay)
        if momenta is None:
            w -= lr * g
            continue
        m = momenta[i]
        m[...] = momentum * m - lr * g
        w += momentum * m - lr * g if nesterov else m


def rmsprop_step(params, grads, velocities, momenta, average_grads, lr, rho, epsilon, momentum,
                 centered, weight_decay=0.0):
    for i, (w, g) in enumerate(zip(params, grads)):
        _decay(w, lr, weight_decay)
        v = velocities[i]
        v[...] = rho * v + (1 - rho) * g * g
        denominator = v
        if centered:
            a = average_grads[i]
            a[...] = rho * a + (1 - rho) * g
            denominator = v - a * a
        increment = lr * g / np.sqrt(denominator + epsilon)
        if momentum > 0:
            m = momenta[i]
            m[...] = momentum * m + increment
            w -= m
        else:
            w -= increment


def adam_step(params, grads, ms, vs, vhats, lr, beta1, beta2, epsilon, step, amsgrad=False,
              weight_decay=0.0):
    alpha = lr * np.sqrt(1 - beta2 ** step) / (1 - beta1 ** step)
    for i, (w, g) in enumerate(zip(params, grads)):
        _decay(w, lr, weight_decay)
        m, v = ms[i], vs[i]
        m += (g - m) * (1 - beta1)
        v += (g * g - v) * (1 - beta2)
        if amsgrad:
            vhats[i][...] = np.maximum(vhats[i], v)
            v = vhats[i]
        w -= alpha * m / (np.sqrt(v) + epsilon)


def adagrad_step(params, grads, accumulators, lr, epsilon, weight_decay=0.0):
    for w, g, acc in zip(params, grads, accumulators):
        _decay(w, lr, weight_decay)
        acc += g * g
        w -= lr * g / np.sqrt(acc + epsilon)


def adamax_step(params, grads, ms, us, lr, beta1, beta2, epsilon, step, weight_decay=0.0):
    for w, g, m, u in zip(params, grads, ms, us):
        _decay(w, lr, weight_decay)
        m += (g - m) * (1 - beta1)
        u[...] = np.maximum(beta2 * u, np.abs(g))
        w -= lr * m / ((1 - beta1 ** step) * (u + epsilon))


def nadam_step(params, grads, ms, vs, lr, beta1, beta2, epsilon, step, u_product,
               weight_decay=0.0):
    """Returns Keras' running u_product after this step (pass 1.0 before the first)."""
    u_t = beta1 * (1 - 0.5 * 0.96 ** step)
    u_t1 = beta1 * (1 - 0.5 * 0.96 ** (step + 1))
    u_product = u_product * u_t
    for w, g, m, v in zip(params, grads, ms, vs):
        _decay(w, lr, weight_decay)
        m += (g - m) * (1 - beta1)
        v += (g * g - v) * (1 - beta2)
        m_hat = u_t1 * m / (1 - u_product * u_t1) + (1 - u_t) * g / (1 - u_product)
        v_hat = v / (1 - beta2 ** step)
        w -= m_hat * lr / (np.sqrt(v_hat) + epsilon)
    return u_product


def adadelta_step(params, grads, accumulated_grads, accumulated_deltas, lr, rho, epsilon,
                  weight_decay=0.0):
    for w, g, a, d in zip(params, grads, accumulated_grads, accumulated_deltas):
        _decay(w, lr, weight_decay)
        a[...] = rho * a + (1 - rho) * g * g
        delta = -np.sqrt(d + epsilon) * g / np.sqrt(a + epsilon)
        d[...] = rho * d + (1 - rho) * delta * delta
        w += lr * delta


def lion_step(params, grads, ms, lr, beta1, beta2, weight_decay=0.0):
    for w, g, m in zip(params, grads, ms):
        _decay(w, lr, weight_decay)
        w -= lr * np.sign(m * beta1 + g * (1 - beta1))
        m[...] = m * beta2 + g * (1 - beta2)
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


# -- convolution, pooling, batch normalization (channels last) -----------------------------------

def _conv_taps(x, w, strides, pads, dilation):
    """Yields (kh, kw, index) with index selecting the (N, OH, OW, C) input cells of that tap
    from the zero-padded input xp (returned first)."""
    sh, sw = strides
    pt, pb, pl, pr = pads
    dh, dw = dilation
    N, H, W, C = x.shape
    KH, KW = w.shape[:2]
    OH = (H + pt + pb - (KH - 1) * dh - 1) // sh + 1
    OW = (W + pl + pr - (KW - 1) * dw - 1) // sw + 1
    taps = [(kh, kw, (slice(None), slice(kh * dh, kh * dh + (OH - 1) * sh + 1, sh),
                      slice(kw * dw, kw * dw + (OW - 1) * sw + 1, sw)))
            for kh in range(KH) for kw in range(KW)]
    return (OH, OW), taps


def conv2d(x, w, b=None, strides=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1), groups=1,
           relu=False):
    """y[n, oh, ow, k] = sum x[n, oh*sh - pt + kh*dh, ow*sw - pl + kw*dw, g*Cg + c] w[kh, kw, c, k]
    in float64, zero padding; x (N, H, W, C), w (KH, KW, C/groups, K)."""
    x, w = x.astype(np.float64), w.astype(np.float64)
    pt, pb, pl, pr = pads
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    (OH, OW), taps = _conv_taps(x, w, strides, pads, dilation)
    Cg, K = w.shape[2], w.shape[3]
    Kg = K // groups
    y = np.zeros((x.shape[0], OH, OW, K))
    for g in range(groups):
        for kh, kw, idx in taps:
            patch = xp[idx + (slice(g * Cg, (g + 1) * Cg),)]
            y[..., g * Kg:(g + 1) * Kg] += patch @ w[kh, kw, :, g * Kg:(g + 1) * Kg]
    if b is not None:
        y += b
    return np.maximum(y, 0) if relu else y


def conv2d_backward(x, w, dy, strides=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    """(dx, dw, db) of sum(conv2d(x, w, b) * dy), float64."""
    x, w, dy = x.astype(np.float64), w.astype(np.float64), dy.astype(np.float64)
    pt, pb, pl, pr = pads
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    _, taps = _conv_taps(x, w, strides, pads, dilation)
    Cg, K = w.shape[2], w.shape[3]
    Kg = K // groups
    for g in range(groups):
        dyg = dy[..., g * Kg:(g + 1) * Kg]
        for kh, kw, idx in taps:
            cidx = idx + (slice(g * Cg, (g + 1) * Cg),)
            patch = xp[cidx]
            dw[kh, kw, :, g * Kg:(g + 1) * Kg] = np.einsum("nhwc,nhwk->ck", patch, dyg)
            dxp[cidx] += dyg @ w[kh, kw, :, g * Kg:(g + 1) * Kg].T
    H, W = x.shape[1:3]
    return dxp[:, pt:pt + H, pl:pl + W], dw, dy.sum(axis=(0, 1, 2))


def _pool_windows(shape, pool, strides, pads):
    N, H, W, C = shape
    pt, pb, pl, pr = pads
    OH = (H + pt + pb - pool[0]) // strides[0] + 1
    OW = (W + pl + pr - pool[1]) // strides[1] + 1
    for oh in range(OH):
        h0 = oh * strides[0] - pt
        for ow in range(OW):
            w0 = ow * strides[1] - pl
            hs = slice(max(h0, 0), min(h0 + pool[0], H))
            ws = slice(max(w0, 0), min(w0 + pool[1], W))
            yield oh, ow, hs, ws
    return


def pool2d_output_shape(shape, pool, strides, pads):
    N, H, W, C = shape
    return (N, (H + pads[0] + pads[1] - pool[0]) // strides[0] + 1,
            (W + pads[2] + pads[3] - pool[1]) // strides[1] + 1, C)


def max_pool2d(x, pool, strides, pads):
    """(y, dx_of(dy)): max over the valid cells of each window; the gradient goes to the first
    maximum in row-major window order."""
    x = x.astype(np.float64)
    y = np.empty(pool2d_output_shape(x.shape, pool, strides, pads))
    where = {}
    for oh, ow, hs, ws in _pool_windows(x.shape, pool, strides, pads):
        win = x[:, hs, ws, :].reshape(x.shape[0], -1, x.shape[3])
        y[:, oh, ow] = win.max(axis=1)
        where[oh, ow] = (hs, ws, win.argmax(axis=1))

    def backward(dy):
        dx = np.zeros_like(x)
        N, C = x.shape[0], x.shape[3]
        for (oh, ow), (hs, ws, am) in where.items():
            width = ws.stop - ws.start
            for n in range(N):
                for c in range(C):
                    dx[n, hs.start + am[n, c] // width, ws.start + am[n, c] % width, c] += \
                        dy[n, oh, ow, c]
        return dx

    return y, backward


def avg_pool2d(x, pool, strides, pads):
    """(y, dx_of(dy)): mean over the valid cells of each window (padding not counted)."""
    x = x.astype(np.float64)
    y = np.empty(pool2d_output_shape(x.shape, pool, strides, pads))
    wins = list(_pool_windows(x.shape, pool, strides, pads))
    for oh, ow, hs, ws in wins:
        y[:, oh, ow] = x[:, hs, ws, :].mean(axis=(1, 2))

    def backward(dy):
        dx = np.zeros_like(x)
        for oh, ow, hs, ws in wins:
            count = (hs.stop - hs.start) * (ws.stop - ws.start)
            dx[:, hs, ws, :] += dy[:, oh, ow, None, None, :] / count
        return dx

    return y, backward


def batch_norm(x, gamma, beta, eps, mean=None, var=None):
    """Normalization along the last axis; batch statistics (biased variance) when mean/var are
    None. Returns (y, mean, var)."""
    x = x.astype(np.float64)
    axes = tuple(range(x.ndim - 1))
    if mean is None:
        mean, var = x.mean(axis=axes), x.var(axis=axes)
    g = 1.0 if gamma is None else gamma
    b = 0.0 if beta is None else beta
    return (x - mean) / np.sqrt(var + eps) * g + b, mean, var

# ---------------------------------------------------------------------------------------------
# Recurrent layers: Keras 3's backend.rnn loop written out step by step (float64).
# ---------------------------------------------------------------------------------------------
def _sigmoid(x):
    with np.errstate(over="ignore"):  # exp(-x) = inf for x << 0 gives the right limit, 0
        return 1.0 / (1.0 + np.exp(-x))


class _RnnActs(dict):
    """Keras activation name -> float64 function: the named ones below, else
    activation_forward's (gelu, elu, selu, softplus, silu, leaky_relu)."""

    def __missing__(self, name):
        name = {"swish": "silu"}.get(name, name)
        return lambda x: activation_forward(x, name)


_RNN_ACTS = _RnnActs({
    "tanh": np.tanh, "sigmoid": _sigmoid, "relu": lambda x: np.maximum(x, 0.0),
    "linear": lambda x: x, "hard_sigmoid": lambda x: np.clip((x + 3.0) / 6.0, 0.0, 1.0),
    "relu6": lambda x: np.clip(x, 0.0, 6.0), "softsign": lambda x: x / (1.0 + np.abs(x))})


def _gate_masks(recurrent_mask, U, gates):
    """Per-gate recurrent dropout masks (Keras 3's cells): a (N, gates * U) mask split in column
    blocks, a (N, U) mask shared by every gate, or 1 without dropout."""
    if recurrent_mask is None:
        return [1.0] * gates
    rm = np.asarray(recurrent_mask, np.float64)
    if rm.shape[1] == U:
        return [rm] * gates
    return [rm[:, k * U:(k + 1) * U] for k in range(gates)]


def rnn_loop(step, x, states, mask=None, go_backwards=False, zero_output_for_mask=False):
    """Keras' rnn(): step(x_t, states) -> (output, new_states). Returns (outputs (N, T, U) in
    processing order, last output, final states). A masked step keeps the states and repeats
    the previous output (zeros at first), or outputs zeros with zero_output_for_mask."""
    x = np.asarray(x, np.float64)
    T = x.shape[1]
    order = range(T - 1, -1, -1) if go_backwards else range(T)
    outputs, prev = [], None
    for t in order:
        out, new_states = step(x[:, t], states)
        if mask is not None:
            m = np.asarray(mask[:, t], bool)[:, None]
            if prev is None:
                prev = np.zeros_like(out)
            out = np.where(m, out, 0.0 if zero_output_for_mask else prev)
            new_states = [np.where(m, n, s) for n, s in zip(new_states, states)]
        outputs.append(out)
        prev, states = out, new_states
    seq = np.stack(outputs, axis=1)
    return seq, seq[:, -1], states


def lstm(x, kernel, recurrent_kernel, bias, h0, c0, mask=None, go_backwards=False,
         activation="tanh", recurrent_activation="sigmoid", zero_output_for_mask=False,
         recurrent_mask=None):
    act, ract = _RNN_ACTS[activation], _RNN_ACTS[recurrent_activation]
    W, R = np.asarray(kernel, np.float64), np.asarray(recurrent_kernel, np.float64)
    b = 0.0 if bias is None else np.asarray(bias, np.float64)
    U = R.shape[0]

    rm = _gate_masks(recurrent_mask, U, 4)

    def step(xt, states):
        h, c = states
        xz = xt @ W + b
        i, f, g, o = (xz[:, k * U:(k + 1) * U] + (h * rm[k]) @ R[:, k * U:(k + 1) * U]
                      for k in range(4))
        c = ract(f) * c + ract(i) * act(g)
        h = ract(o) * act(c)
        return h, [h, c]

    seq, last, (h, c) = rnn_loop(step, x, [np.asarray(h0, np.float64), np.asarray(c0, np.float64)],
                                 mask, go_backwards, zero_output_for_mask)
    return seq, last, h, c


def gru(x, kernel, recurrent_kernel, bias, h0, mask=None, go_backwards=False, reset_after=True,
        activation="tanh", recurrent_activation="sigmoid", zero_output_for_mask=False,
        recurrent_mask=None):
    """Keras 3's GRUCell; with recurrent_mask its implementation 1: h_tm1 dropped per gate in
    the z, r and h products, the blend z * h_tm1 + (1 - z) * hh on the undropped h_tm1."""
    act, ract = _RNN_ACTS[activation], _RNN_ACTS[recurrent_activation]
    W, R = np.asarray(kernel, np.float64), np.asarray(recurrent_kernel, np.float64)
    U = R.shape[0]
    if bias is None:
        bi, br = 0.0, 0.0
    elif reset_after:
        bi, br = np.asarray(bias, np.float64)[0], np.asarray(bias, np.float64)[1]
    else:
        bi, br = np.asarray(bias, np.float64), 0.0

    mz, mr, mh = _gate_masks(recurrent_mask, U, 3)
    br = np.zeros(3 * U) + br

    def step(xt, states):
        (h,) = states
        mx = xt @ W + bi
        xz, xr, xh = mx[:, :U], mx[:, U:2 * U], mx[:, 2 * U:]
        z = ract(xz + (h * mz) @ R[:, :U] + br[:U])
        r = ract(xr + (h * mr) @ R[:, U:2 * U] + br[U:2 * U])
        if reset_after:
            hh = act(xh + r * ((h * mh) @ R[:, 2 * U:] + br[2 * U:]))
        else:
            hh = act(xh + (r * (h * mh)) @ R[:, 2 * U:])
        h = z * h + (1 - z) * hh
        return h, [h]

    seq, last, (h,) = rnn_loop(step, x, [np.asarray(h0, np.float64)], mask, go_backwards,
                               zero_output_for_mask)
    return seq, last, h


def simple_rnn(x, kernel, recurrent_kernel, bias, h0, mask=None, go_backwards=False,
               activation="tanh", zero_output_for_mask=False, recurrent_mask=None):
    act = _RNN_ACTS[activation]
    rm = 1.0 if recurrent_mask is None else np.asarray(recurrent_mask, np.float64)
    W, R = np.asarray(kernel, np.float64), np.asarray(recurrent_kernel, np.float64)
    b = 0.0 if bias is None else np.asarray(bias, np.float64)

    def step(xt, states):
        h = act(xt @ W + (states[0] * rm) @ R + b)
        return h, [h]

    seq, last, (h,) = rnn_loop(step, x, [np.asarray(h0, np.float64)], mask, go_backwards,
                               zero_output_for_mask)
    return seq, last, h


# ---------------------------------------------------------------------------------------------
# CTC by brute force: every alignment of a tiny sequence enumerated and collapsed.
# ---------------------------------------------------------------------------------------------
def ctc_collapse(path, blank=0, merge_repeated=True):
    out, prev = [], None
    for k in path:
        if k != blank and (not merge_repeated or k != prev):
            out.append(int(k))
        prev = k
    return tuple(out)


def ctc_labelings(logits, blank=0):
    """{labeling: probability} summed over every alignment of logits (T, C) (float64)."""
    import itertools
    x = np.asarray(logits, np.float64)
    p = np.exp(x - x.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    T, C = p.shape
    probs = {}
    for path in itertools.product(range(C), repeat=T):
        lab = ctc_collapse(path, blank)
        probs[lab] = probs.get(lab, 0.0) + np.prod(p[np.arange(T), path])
    return probs


def ctc_loss(logits, labels, blank=0):
    """-log p(labels | logits (T, C)); +inf when no alignment produces the labels."""
    prob = ctc_labelings(logits, blank).get(tuple(int(v) for v in labels), 0.0)
    return np.inf if prob == 0.0 else -np.log(prob)
