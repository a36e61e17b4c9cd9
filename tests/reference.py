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


# ---------------------------------------------------------------------------------------------
# Recurrent layers: Keras 3's backend.rnn loop written out step by step (float64).
# ---------------------------------------------------------------------------------------------
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


_RNN_ACTS = {"tanh": np.tanh, "sigmoid": _sigmoid, "relu": lambda x: np.maximum(x, 0.0),
             "linear": lambda x: x, "hard_sigmoid": lambda x: np.clip((x + 3.0) / 6.0, 0.0, 1.0)}


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
         activation="tanh", recurrent_activation="sigmoid", zero_output_for_mask=False):
    act, ract = _RNN_ACTS[activation], _RNN_ACTS[recurrent_activation]
    W, R = np.asarray(kernel, np.float64), np.asarray(recurrent_kernel, np.float64)
    b = 0.0 if bias is None else np.asarray(bias, np.float64)
    U = R.shape[0]

    def step(xt, states):
        h, c = states
        z = xt @ W + h @ R + b
        i, f, g, o = (z[:, k * U:(k + 1) * U] for k in range(4))
        c = ract(f) * c + ract(i) * act(g)
        h = ract(o) * act(c)
        return h, [h, c]

    seq, last, (h, c) = rnn_loop(step, x, [np.asarray(h0, np.float64), np.asarray(c0, np.float64)],
                                 mask, go_backwards, zero_output_for_mask)
    return seq, last, h, c


def gru(x, kernel, recurrent_kernel, bias, h0, mask=None, go_backwards=False, reset_after=True,
        activation="tanh", recurrent_activation="sigmoid", zero_output_for_mask=False):
    act, ract = _RNN_ACTS[activation], _RNN_ACTS[recurrent_activation]
    W, R = np.asarray(kernel, np.float64), np.asarray(recurrent_kernel, np.float64)
    U = R.shape[0]
    if bias is None:
        bi, br = 0.0, 0.0
    elif reset_after:
        bi, br = np.asarray(bias, np.float64)[0], np.asarray(bias, np.float64)[1]
    else:
        bi, br = np.asarray(bias, np.float64), 0.0

    def step(xt, states):
        (h,) = states
        mx = xt @ W + bi
        xz, xr, xh = mx[:, :U], mx[:, U:2 * U], mx[:, 2 * U:]
        if reset_after:
            mi = h @ R + br
            z = ract(xz + mi[:, :U])
            r = ract(xr + mi[:, U:2 * U])
            hh = act(xh + r * mi[:, 2 * U:])
        else:
            z = ract(xz + h @ R[:, :U])
            r = ract(xr + h @ R[:, U:2 * U])
            hh = act(xh + (r * h) @ R[:, 2 * U:])
        h = z * h + (1 - z) * hh
        return h, [h]

    seq, last, (h,) = rnn_loop(step, x, [np.asarray(h0, np.float64)], mask, go_backwards,
                               zero_output_for_mask)
    return seq, last, h


def simple_rnn(x, kernel, recurrent_kernel, bias, h0, mask=None, go_backwards=False,
               activation="tanh", zero_output_for_mask=False):
    act = _RNN_ACTS[activation]
    W, R = np.asarray(kernel, np.float64), np.asarray(recurrent_kernel, np.float64)
    b = 0.0 if bias is None else np.asarray(bias, np.float64)

    def step(xt, states):
        h = act(xt @ W + states[0] @ R + b)
        return h, [h]

    seq, last, (h,) = rnn_loop(step, x, [np.asarray(h0, np.float64)], mask, go_backwards,
                               zero_output_for_mask)
    return seq, last, h
