"""numpy oracles for lamina's kernels: plain, obviously-correct float64 formulas.

Each kernel family's tests compare the native kernel against the function here of the same name.
"""
import numpy as np


def gemm(a, b, c, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
    a = a.T if trans_a else a
    b = b.T if trans_b else b
    out = alpha * (a.astype(np.float64) @ b.astype(np.float64))
    if beta != 0.0:
        out = out + beta * c.astype(np.float64)
    return out


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
