"""Differentiable whole-sequence recurrent ops: ``lstm``, ``gru``, ``simple_rnn``.

Each is ONE kernel call forward (csrc/cpu/rnn.h on numpy arrays, its twin csrc/cuda/rnn.h on
cupy arrays: one gemm for the input projection of every timestep, then per step one gemm and
one fused gate pass) and ONE call backward through time. No Python runs per timestep.

Layouts are Keras': x (batch, timesteps, features), kernel (features, gates * units),
recurrent_kernel (units, gates * units), gate order LSTM i, f, c, o and GRU z, r, h.

Activations: any element-wise activation lamina has a kernel formula for
(csrc/common/activation_math.h, the formulas the Activation kernels use), by Keras name; the
default pair (tanh, sigmoid) runs a vectorised fast path.

Recurrent dropout follows Keras 3's cells: ``recurrent_mask`` (batch, gates * units) holds one
scaled keep mask per gate (a (batch, units) mask is shared by every gate); gate g's recurrent
product reads ``h_{t-1} * mask_g`` while the state update uses the undropped ``h_{t-1}``.

Masks follow Keras' ``rnn``: at a timestep whose mask is 0 the states carry over unchanged and
the output repeats the previous output (zeros before the first valid step), or is zero when
``zero_output_for_mask`` (what Bidirectional asks of its layers). ``go_backwards`` processes
the sequence from the last step and returns the output sequence in processing order.
"""
import numpy as np

from .. import backend
from ..autograd import Tensor, make_outputs

__all__ = ["lstm", "gru", "simple_rnn", "RNN_ACTIVATIONS"]

# Kernel codes of the activations the recurrent cells support: csrc/common/activation_math.h's
# element-wise kinds (Keras' default parameters: elu alpha 1, leaky_relu negative_slope 0.2).
RNN_ACTIVATIONS = {None: 0, "linear": 0, "relu": 1, "sigmoid": 2, "tanh": 3, "gelu": 5,
                   "elu": 7, "selu": 8, "softplus": 9, "silu": 10, "swish": 10,
                   "leaky_relu": 11, "hard_sigmoid": 12, "relu6": 13, "softsign": 14}


def _code(name, what):
    key = name if (name is None or isinstance(name, str)) else getattr(name, "__name__", name)
    try:
        return RNN_ACTIVATIONS[key]
    except (KeyError, TypeError):
        raise ValueError(f"[{what}] unsupported activation {name!r}; the recurrent kernels "
                         f"support {sorted(k for k in RNN_ACTIVATIONS if k)}") from None


def _data(x):
    if isinstance(x, Tensor):
        return x.data
    return x if hasattr(x, "__cuda_array_interface__") else np.asarray(x)  # cupy stays cupy


def _contiguous(a, dtype):
    xp = backend.array_module(a)
    if a.dtype != dtype or not a.flags.c_contiguous:
        a = xp.ascontiguousarray(a, dtype=dtype)
    return a


class _Sequence:
    """Shared preparation of a recurrent op: arrays in the weights' dtype, the mask, the
    time reversal, and the mapping from the state sequence to Keras' outputs.

    The op runs where x lives (numpy: lamina._cpu, cupy: lamina._cuda). The weights must live
    there too; the masks, recurrent-dropout masks and initial states may come from the host
    (the layers draw dropout masks with numpy's generator) and are copied to x's device."""

    def __init__(self, name, x, kernel, recurrent_kernel, gates, mask, go_backwards,
                 zero_output_for_mask):
        self.name = name
        R = _data(recurrent_kernel)
        dtype = R.dtype if R.dtype.kind == "f" else np.dtype(backend.floatx())
        self.dtype = dtype
        self.R = _contiguous(R, dtype)
        self.W = _contiguous(_data(kernel), dtype)
        xd = _data(x)
        if xd.ndim != 3:
            raise ValueError(f"[{name}] expected x of shape (batch, timesteps, features), got "
                             f"shape {tuple(xd.shape)}")
        self.N, self.T, self.F = xd.shape
        self.U = self.R.shape[0]
        if self.R.shape != (self.U, gates * self.U):
            raise ValueError(f"[{name}] recurrent_kernel of shape {self.R.shape}: expected "
                             f"(units, {gates} * units)")
        if self.W.shape != (self.F, gates * self.U):
            raise ValueError(f"[{name}] kernel of shape {self.W.shape} does not match x of shape "
                             f"{tuple(xd.shape)} and {self.U} units: expected "
                             f"({self.F}, {gates * self.U})")
        self.xp = backend.array_module(xd)
        self.K = backend.kernels(xd)
        self.go_backwards = go_backwards
        xd = _contiguous(xd[:, ::-1] if go_backwards else xd, dtype)
        self.x = xd
        self.keep = None
        self.mask = None
        if mask is not None:
            m = self.on_device(_data(mask))
            if tuple(m.shape) != (self.N, self.T):
                raise ValueError(f"[{name}] mask of shape {tuple(m.shape)}: expected "
                                 f"(batch, timesteps) = ({self.N}, {self.T})")
            m = (m[:, ::-1] if go_backwards else m).astype(bool)
            self.mask = _contiguous(m, dtype)
            # Keras: a masked step outputs the previous output, zeros before the first valid one.
            if zero_output_for_mask:
                keep = m
            elif self.xp is np:
                keep = np.logical_or.accumulate(m, axis=1)
            else:
                keep = self.xp.cumsum(m, axis=1) > 0
            # On the GPU the multiply stays even when nothing is masked: testing keep.all()
            # there would wait for the device.
            if self.xp is not np or not keep.all():
                self.keep = _contiguous(keep, dtype)[:, :, None]

    def on_device(self, a):
        """`a` on x's device (a host array is copied to the GPU when x is a cupy array)."""
        return a if self.xp is np else self.xp.asarray(a)

    def state(self, s, what):
        if s is None:
            return self.xp.zeros((self.N, self.U), dtype=self.dtype)
        a = _contiguous(self.on_device(_data(s)), self.dtype)
        if a.shape != (self.N, self.U):
            raise ValueError(f"[{self.name}] initial state {what} of shape {a.shape}: expected "
                             f"(batch, units) = ({self.N}, {self.U})")
        return a

    def recurrent_mask(self, m, gates):
        """(batch, gates * units): one keep mask per gate; a (batch, units) mask serves all."""
        if m is None:
            return None
        a = _contiguous(self.on_device(_data(m)), self.dtype)
        if a.shape == (self.N, self.U) and gates > 1:
            a = self.xp.ascontiguousarray(self.xp.tile(a, (1, gates)))
        if a.shape != (self.N, gates * self.U):
            raise ValueError(f"[{self.name}] recurrent_mask of shape {a.shape}: expected "
                             f"(batch, units) = ({self.N}, {self.U}) or (batch, {gates} * "
                             f"units) = ({self.N}, {gates * self.U})")
        return a

    def outputs(self, h_seq, return_sequences):
        """Keras' output (sequence or last) from the state sequence."""
        seq = h_seq if self.keep is None else h_seq * self.keep
        return seq if return_sequences else self.xp.ascontiguousarray(seq[:, -1])

    def output_grads(self, g_out, g_h, return_sequences):
        """(dh_seq, dh_last) for the kernel from the gradients of the output and of h."""
        dh_seq = dh_last = None
        if g_out is not None:
            if return_sequences:
                dh_seq = g_out if self.keep is None else g_out * self.keep
                dh_seq = _contiguous(dh_seq, self.dtype)
            else:
                dh_last = g_out if self.keep is None else g_out * self.keep[:, -1]
        if g_h is not None:
            dh_last = g_h if dh_last is None else dh_last + g_h
        if dh_last is not None:
            dh_last = _contiguous(dh_last, self.dtype)
        return dh_seq, dh_last

    def input_grad(self, dx):
        if dx is None or not self.go_backwards:
            return dx
        return self.xp.ascontiguousarray(dx[:, ::-1])

    def bias(self, bias, shape):
        if bias is None:
            return None
        b = _contiguous(_data(bias), self.dtype)
        if b.shape != shape:
            raise ValueError(f"[{self.name}] bias of shape {b.shape}: expected {shape}")
        return b


def lstm(x, kernel, recurrent_kernel, bias=None, h0=None, c0=None, mask=None,
         go_backwards=False, return_sequences=False, activation="tanh",
         recurrent_activation="sigmoid", zero_output_for_mask=False, recurrent_mask=None):
    """LSTM over a whole sequence; returns ``(output, h, c)``: output is the sequence
    (batch, timesteps, units) with return_sequences, else the last output (batch, units).
    recurrent_mask (batch, 4 * units) or (batch, units), for recurrent dropout, multiplies
    h_{t-1} where it enters each gate's recurrent product (a constant: no gradient)."""
    act = _code(activation, "lstm")
    ract = _code(recurrent_activation, "lstm")
    s = _Sequence("lstm", x, kernel, recurrent_kernel, 4, mask, go_backwards,
                  zero_output_for_mask)
    xp, N, T, U = s.xp, s.N, s.T, s.U
    b = s.bias(bias, (4 * U,))
    h0d, c0d = s.state(h0, "h0"), s.state(c0, "c0")
    rm = s.recurrent_mask(recurrent_mask, 4)
    gates = xp.empty((N, T, 4 * U), dtype=s.dtype)
    h_seq = xp.empty((N, T, U), dtype=s.dtype)
    c_seq = xp.empty((N, T, U), dtype=s.dtype)
    s.K.lstm_sequence_forward(s.x, s.W, s.R, b, h0d, c0d, s.mask, rm, act, ract, gates, h_seq,
                              c_seq)
    # The backward overwrites the saved gates with their gradients (one buffer, less memory
    # traffic); a second backward of this node (a persistent tape) recomputes them first.
    saved = [gates]

    def backward(grads):
        g_out, g_h, g_c = grads
        needs = outs[0]._node.needs
        dh_seq, dh_last = s.output_grads(g_out, g_h, return_sequences)
        dc_last = None if g_c is None else _contiguous(g_c, s.dtype)
        dx = xp.empty_like(s.x) if needs[0] else None
        dW, dR = xp.empty_like(s.W), xp.empty_like(s.R)
        db = xp.empty_like(b) if b is not None else None
        dh0, dc0 = xp.empty_like(h0d), xp.empty_like(c0d)
        if saved:
            work = saved.pop()
        else:
            work = xp.empty((N, T, 4 * U), dtype=s.dtype)
            s.K.lstm_sequence_forward(s.x, s.W, s.R, b, h0d, c0d, s.mask, rm, act, ract, work,
                                      xp.empty_like(h_seq), xp.empty_like(c_seq))
        s.K.lstm_sequence_backward(s.x, s.W, s.R, h0d, c0d, s.mask, rm, act, ract, work, h_seq,
                                   c_seq, dh_seq, dh_last, dc_last, dx, dW, dR, db, dh0, dc0,
                                   work)
        return (s.input_grad(dx), dW, dR, db, dh0, dc0)

    datas = [s.outputs(h_seq, return_sequences), xp.ascontiguousarray(h_seq[:, -1]),
             xp.ascontiguousarray(c_seq[:, -1])]
    outs = make_outputs(datas, (x, kernel, recurrent_kernel, bias, h0, c0), backward, "lstm")
    return tuple(outs)


def gru(x, kernel, recurrent_kernel, bias=None, h0=None, mask=None, go_backwards=False,
        return_sequences=False, reset_after=True, activation="tanh",
        recurrent_activation="sigmoid", zero_output_for_mask=False, recurrent_mask=None):
    """GRU over a whole sequence (Keras 3 semantics); returns ``(output, h)``. With
    reset_after (the default) bias is (2, 3 * units): input bias, then recurrent bias.
    recurrent_mask (batch, 3 * units) or (batch, units): recurrent dropout as Keras 3's GRUCell,
    h_{t-1} dropped in the z, r and h products only, never in the blend
    h = z h_{t-1} + (1 - z) hh."""
    act = _code(activation, "gru")
    ract = _code(recurrent_activation, "gru")
    s = _Sequence("gru", x, kernel, recurrent_kernel, 3, mask, go_backwards,
                  zero_output_for_mask)
    xp, N, T, U = s.xp, s.N, s.T, s.U
    b = s.bias(bias, (2, 3 * U) if reset_after else (3 * U,))
    h0d = s.state(h0, "h0")
    rm = s.recurrent_mask(recurrent_mask, 3)
    gates = xp.empty((N, T, 3 * U), dtype=s.dtype)
    rh = xp.empty((N, T, U), dtype=s.dtype)
    h_seq = xp.empty((N, T, U), dtype=s.dtype)
    reset_after = bool(reset_after)
    s.K.gru_sequence_forward(s.x, s.W, s.R, b, h0d, s.mask, rm, act, ract, reset_after, gates,
                             rh, h_seq)

    def backward(grads):
        g_out, g_h = grads
        needs = outs[0]._node.needs
        dh_seq, dh_last = s.output_grads(g_out, g_h, return_sequences)
        dx = xp.empty_like(s.x) if needs[0] else None
        dW, dR = xp.empty_like(s.W), xp.empty_like(s.R)
        db = xp.empty_like(b) if b is not None else None
        dh0 = xp.empty_like(h0d)
        dgates = xp.empty_like(gates)
        ds = xp.empty_like(gates) if reset_after else None
        s.K.gru_sequence_backward(s.x, s.W, s.R, h0d, s.mask, rm, act, ract, reset_after, gates,
                                  rh, h_seq, dh_seq, dh_last, dx, dW, dR, db, dh0, dgates, ds)
        return (s.input_grad(dx), dW, dR, db, dh0)

    datas = [s.outputs(h_seq, return_sequences), xp.ascontiguousarray(h_seq[:, -1])]
    outs = make_outputs(datas, (x, kernel, recurrent_kernel, bias, h0), backward, "gru")
    return tuple(outs)


def simple_rnn(x, kernel, recurrent_kernel, bias=None, h0=None, mask=None, go_backwards=False,
               return_sequences=False, activation="tanh", zero_output_for_mask=False,
               recurrent_mask=None):
    """SimpleRNN over a whole sequence: h_t = activation(x_t W + b + (h_{t-1} * recurrent_mask)
    R); returns ``(output, h)``."""
    act = _code(activation, "simple_rnn")
    s = _Sequence("simple_rnn", x, kernel, recurrent_kernel, 1, mask, go_backwards,
                  zero_output_for_mask)
    xp, N, T, U = s.xp, s.N, s.T, s.U
    b = s.bias(bias, (U,))
    h0d = s.state(h0, "h0")
    rm = s.recurrent_mask(recurrent_mask, 1)
    gates = xp.empty((N, T, U), dtype=s.dtype)
    h_seq = xp.empty((N, T, U), dtype=s.dtype)
    s.K.simple_rnn_sequence_forward(s.x, s.W, s.R, b, h0d, s.mask, rm, act, gates, h_seq)

    def backward(grads):
        g_out, g_h = grads
        needs = outs[0]._node.needs
        dh_seq, dh_last = s.output_grads(g_out, g_h, return_sequences)
        dx = xp.empty_like(s.x) if needs[0] else None
        dW, dR = xp.empty_like(s.W), xp.empty_like(s.R)
        db = xp.empty_like(b) if b is not None else None
        dh0 = xp.empty_like(h0d)
        # The kernel reads the pre-activations from this buffer and overwrites them with their
        # gradients; tanh's derivative needs only h, so its buffer is reused (a persistent tape
        # may run this backward twice: any other activation works on a copy).
        work = gates if act == RNN_ACTIVATIONS["tanh"] else gates.copy()
        s.K.simple_rnn_sequence_backward(s.x, s.W, s.R, h0d, s.mask, rm, act, h_seq, dh_seq,
                                         dh_last, dx, dW, dR, db, dh0, work)
        return (s.input_grad(dx), dW, dR, db, dh0)

    datas = [s.outputs(h_seq, return_sequences), xp.ascontiguousarray(h_seq[:, -1])]
    outs = make_outputs(datas, (x, kernel, recurrent_kernel, bias, h0), backward, "simple_rnn")
    return tuple(outs)
