"""lamina.ops lstm / gru / simple_rnn (csrc/cpu/rnn.cpp): values against the step-by-step numpy
oracle of Keras' rnn loop (masks, go_backwards, initial states, sequences or last output) in
float32 on every ISA and in float64, and float64 finite-difference gradients through time."""
import numpy as np
import pytest

import lamina as L
from lamina import _cpu, ops
from lamina.ops import rnn as rnn_ops
import reference as ref
from conftest import tolerance
from gradcheck import check_gradients

rng = np.random.default_rng(7)

CELLS = {
    # name: (gates per unit, op, oracle, extra kwargs, bias shape for U units)
    "lstm": (4, rnn_ops.lstm, ref.lstm, {}, lambda U: (4 * U,)),
    "gru": (3, rnn_ops.gru, ref.gru, {"reset_after": True}, lambda U: (2, 3 * U)),
    "gru_v1": (3, rnn_ops.gru, ref.gru, {"reset_after": False}, lambda U: (3 * U,)),
    "simple": (1, rnn_ops.simple_rnn, ref.simple_rnn, {}, lambda U: (U,)),
}


def make_case(cell, N, T, F, U, dtype=np.float64, masked=False, scale=0.5):
    gates, _, _, _, bias_shape = CELLS[cell]
    args = {
        "x": rng.standard_normal((N, T, F)),
        "kernel": rng.standard_normal((F, gates * U)) * scale,
        "recurrent_kernel": rng.standard_normal((U, gates * U)) * scale,
        "bias": rng.standard_normal(bias_shape(U)) * 0.2,
        "h0": rng.standard_normal((N, U)) * 0.5,
    }
    if cell == "lstm":
        args["c0"] = rng.standard_normal((N, U)) * 0.5
    args = {k: v.astype(dtype) for k, v in args.items()}
    mask = None
    if masked:
        mask = rng.random((N, T)) > 0.35
        mask[0, 0] = False  # a leading masked step: Keras outputs zeros there, keeps h0
        if N > 1:
            mask[1, :] = False  # a fully masked row keeps its initial state
    return args, mask


def run_both(cell, args, mask, go_backwards, return_sequences, zero_output_for_mask=False,
             **kw):
    _, op, oracle, extra, _ = CELLS[cell]
    kw = {**extra, **kw}
    outs = op(**args, mask=mask, go_backwards=go_backwards, return_sequences=return_sequences,
              zero_output_for_mask=zero_output_for_mask, **kw)
    expected = oracle(**args, mask=mask, go_backwards=go_backwards,
                      zero_output_for_mask=zero_output_for_mask, **kw)
    seq, last, *states = expected
    want = [seq if return_sequences else last] + list(states)
    return [o.data for o in outs], want


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("shape", [(3, 5, 4, 6), (1, 1, 1, 1), (2, 7, 3, 17)])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_matches_keras_loop_float64(cell, shape, masked, go_backwards):
    args, mask = make_case(cell, *shape, masked=masked)
    for return_sequences in (True, False):
        got, want = run_both(cell, args, mask, go_backwards, return_sequences)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("cell", list(CELLS))
def test_float32_every_isa(cell, isa):
    args, mask = make_case(cell, 5, 6, 9, 19, np.float32, masked=True)
    got, want = run_both(cell, args, mask, False, True)
    for g, w in zip(got, want):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, w, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple"])
def test_zero_output_for_mask(cell):
    args, mask = make_case(cell, 3, 5, 2, 3, masked=True)
    got, want = run_both(cell, args, mask, False, True, zero_output_for_mask=True)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-11, atol=1e-12)
    assert np.all(got[0][~mask] == 0)


@pytest.mark.parametrize("activation,recurrent_activation",
                         [("relu", "hard_sigmoid"), ("linear", "tanh"), ("sigmoid", "sigmoid")])
@pytest.mark.parametrize("cell", ["lstm", "gru", "gru_v1"])
def test_other_activations(cell, activation, recurrent_activation):
    args, mask = make_case(cell, 2, 4, 3, 5, masked=True)
    got, want = run_both(cell, args, mask, False, True, activation=activation,
                         recurrent_activation=recurrent_activation)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "linear"])
def test_simple_rnn_activations(activation):
    args, mask = make_case("simple", 2, 4, 3, 5, masked=True, scale=0.3)
    got, want = run_both("simple", args, mask, True, True, activation=activation)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_no_bias_and_default_states():
    args, _ = make_case("lstm", 2, 3, 4, 5)
    out, h, c = rnn_ops.lstm(args["x"], args["kernel"], args["recurrent_kernel"])
    zeros = np.zeros((2, 5))
    seq, last, h_ref, c_ref = ref.lstm(args["x"], args["kernel"], args["recurrent_kernel"], None,
                                       zeros, zeros)
    np.testing.assert_allclose(out.data, last, rtol=1e-11)
    np.testing.assert_allclose(c.data, c_ref, rtol=1e-11)


# ---- gradients through time ----------------------------------------------------------------
def _grad_fn(cell, mask, go_backwards, return_sequences, **kw):
    _, op, _, extra, _ = CELLS[cell]

    def fn(*a):
        outs = op(*a, mask=mask, go_backwards=go_backwards, return_sequences=return_sequences,
                  **extra, **kw)
        if return_sequences:
            return outs[0]
        total = outs[0]
        for s in outs[1:]:
            total = ops.add(total, ops.multiply(s, 0.7))
        return total

    return fn


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("masked,go_backwards,return_sequences",
                         [(False, False, True), (True, False, False), (True, True, True),
                          (False, True, False)])
def test_gradients_through_time(cell, masked, go_backwards, return_sequences):
    args, mask = make_case(cell, 3, 4, 3, 4, masked=masked)
    check_gradients(_grad_fn(cell, mask, go_backwards, return_sequences), *args.values(),
                    rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("cell", ["lstm", "gru", "gru_v1"])
def test_gradients_other_activations(cell):
    args, mask = make_case(cell, 2, 3, 2, 3, masked=True)
    check_gradients(_grad_fn(cell, mask, False, True, activation="sigmoid",
                             recurrent_activation="tanh"), *args.values(), rtol=1e-5, atol=1e-7)


def test_gradient_of_frozen_input_is_skipped():
    args, _ = make_case("lstm", 2, 3, 4, 5)
    x = L.Tensor(args["x"])
    W = L.Variable(args["kernel"])
    with L.GradientTape() as tape:
        out, h, c = rnn_ops.lstm(x, W, args["recurrent_kernel"])
        loss = ops.sum(out)
    gW, gx = tape.gradient(loss, [W, x])
    assert gx is None and gW.shape == W.shape


def test_float32_gradient_matches_float64():
    args, mask = make_case("gru", 3, 6, 5, 8, masked=True)
    grads = {}
    for dt in (np.float32, np.float64):
        vs = [L.Variable(v.astype(dt)) for v in args.values()]
        with L.GradientTape() as tape:
            out, h = rnn_ops.gru(*vs, mask=mask, return_sequences=True)
            loss = ops.sum(ops.multiply(out, out))
        grads[dt] = [g.data for g in tape.gradient(loss, vs)]
    for g32, g64 in zip(grads[np.float32], grads[np.float64]):
        np.testing.assert_allclose(g32, g64, rtol=1e-3, atol=1e-4)


# ---- errors ----------------------------------------------------------------------------------
def test_shape_errors_are_clear():
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"\[lstm\] kernel of shape \(5, 8\)"):
        rnn_ops.lstm(x, np.zeros((5, 8), np.float32), np.zeros((2, 8), np.float32))
    with pytest.raises(ValueError, match=r"\[gru\] mask of shape \(2, 4\)"):
        rnn_ops.gru(x, np.zeros((4, 6), np.float32), np.zeros((2, 6), np.float32),
                    mask=np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"initial state h0 of shape \(3, 2\)"):
        rnn_ops.simple_rnn(x, np.zeros((4, 2), np.float32), np.zeros((2, 2), np.float32),
                           h0=np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match="unsupported activation 'gelu'"):
        rnn_ops.lstm(x, np.zeros((4, 8), np.float32), np.zeros((2, 8), np.float32),
                     activation="gelu")


def test_kernel_checks_arguments():
    x = np.zeros((2, 3, 4), np.float32)
    W, R = np.zeros((4, 8), np.float32), np.zeros((2, 8), np.float32)
    h = np.zeros((2, 2), np.float32)
    gates, hs = np.empty((2, 3, 8), np.float32), np.empty((2, 3, 2), np.float32)
    with pytest.raises(ValueError, match=r"\[lstm_sequence_forward\] argument 'c_seq': "
                                         r"expected shape \(2, 3, 2\), got \(2, 3, 3\)"):
        _cpu.lstm_sequence_forward(x, W, R, None, h, h, None, 3, 2, gates, hs,
                                   np.empty((2, 3, 3), np.float32))
    with pytest.raises(TypeError, match=r"argument 'kernel': expected dtype float32"):
        _cpu.lstm_sequence_forward(x, W.astype(np.float64), R, None, h, h, None, 3, 2, gates,
                                   hs, hs.copy())
    with pytest.raises(ValueError, match="unsupported activation code 7"):
        _cpu.lstm_sequence_forward(x, W, R, None, h, h, None, 7, 2, gates, hs, hs.copy())
    with pytest.raises(ValueError, match="at least one timestep"):
        _cpu.simple_rnn_sequence_forward(np.zeros((2, 0, 4), np.float32), W[:, :2].copy(), R[:, :2].copy(),
                                         None, h, None, 3, np.empty((2, 0, 2), np.float32),
                                         np.empty((2, 0, 2), np.float32))


@pytest.mark.parametrize("cell", list(CELLS))
def test_thread_counts_and_row_blocks_agree(cell):
    """Big enough for the row-block time loop (each thread runs all steps on its rows)."""
    args, mask = make_case(cell, 9, 7, 5, 33, masked=True)
    before = _cpu.get_num_threads()
    results = []
    try:
        for n in (1, 2, 3):
            _cpu.set_num_threads(n)
            vs = [L.Variable(v) for v in args.values()]
            with L.GradientTape() as tape:
                out = CELLS[cell][1](*vs, mask=mask, return_sequences=True, **CELLS[cell][3])[0]
                loss = ops.sum(ops.multiply(out, out))
            results.append([out.data] + [g.data for g in tape.gradient(loss, vs)])
    finally:
        _cpu.set_num_threads(before)
    got, want = run_both(cell, args, mask, False, True)
    np.testing.assert_allclose(results[0][0], want[0], rtol=1e-11, atol=1e-12)
    for other in results[1:]:
        for a, b in zip(other, results[0]):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)
