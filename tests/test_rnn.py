"""lamina.ops lstm / gru / simple_rnn (csrc/cpu/rnn.cpp): values against the step-by-step numpy
oracle of Keras' rnn loop (masks, go_backwards, initial states, sequences or last output) in
float32 on every ISA and in float64, and float64 finite-difference gradients through time."""
import numpy as np
import pytest

import lamina as L
from lamina import _cpu, ops
from lamina.layers.masking import get_mask
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


# Every element-wise activation of csrc/common/activation_math.h, as `activation` and as
# `recurrent_activation` (paired so that each name appears in both roles).
ACTIVATION_PAIRS = [("relu", "hard_sigmoid"), ("linear", "tanh"), ("sigmoid", "sigmoid"),
                    ("elu", "softsign"), ("selu", "relu6"), ("gelu", "swish"),
                    ("softplus", "elu"), ("silu", "gelu"), ("leaky_relu", "softplus"),
                    ("softsign", "selu"), ("relu6", "silu"), ("hard_sigmoid", "leaky_relu"),
                    ("tanh", "linear"), ("swish", "relu")]


@pytest.mark.parametrize("activation,recurrent_activation", ACTIVATION_PAIRS)
@pytest.mark.parametrize("cell", ["lstm", "gru", "gru_v1"])
def test_other_activations(cell, activation, recurrent_activation):
    args, mask = make_case(cell, 2, 4, 3, 5, masked=True)
    got, want = run_both(cell, args, mask, False, True, activation=activation,
                         recurrent_activation=recurrent_activation)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("activation", sorted({a for pair in ACTIVATION_PAIRS for a in pair}))
def test_simple_rnn_activations(activation):
    args, mask = make_case("simple", 2, 4, 3, 5, masked=True, scale=0.3)
    got, want = run_both("simple", args, mask, True, True, activation=activation)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru", "gru_v1", "simple"])
@pytest.mark.parametrize("activation,recurrent_activation",
                         [("gelu", "softsign"), ("elu", "swish"), ("softplus", "hard_sigmoid")])
def test_float32_other_activations_every_isa(cell, activation, recurrent_activation, isa):
    args, mask = make_case(cell, 3, 5, 4, 7, np.float32, masked=True)
    kw = {"activation": activation}
    if cell != "simple":
        kw["recurrent_activation"] = recurrent_activation
    got, want = run_both(cell, args, mask, False, True, **kw)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=2e-4, atol=2e-5)


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


@pytest.mark.parametrize("activation,recurrent_activation",
                         [("sigmoid", "tanh"), ("gelu", "swish"), ("elu", "softsign"),
                          ("softplus", "selu"), ("silu", "softplus"), ("selu", "gelu")])
@pytest.mark.parametrize("cell", ["lstm", "gru", "gru_v1", "simple"])
def test_gradients_other_activations(cell, activation, recurrent_activation):
    # smooth activations only: finite differences across a kink (relu, hard_sigmoid) are wrong
    args, mask = make_case(cell, 2, 3, 2, 3, masked=True)
    kw = {"activation": activation}
    if cell != "simple":
        kw["recurrent_activation"] = recurrent_activation
    check_gradients(_grad_fn(cell, mask, False, True, **kw), *args.values(), rtol=1e-5,
                    atol=1e-7)


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
    with pytest.raises(ValueError, match="unsupported activation 'softmax'"):
        rnn_ops.lstm(x, np.zeros((4, 8), np.float32), np.zeros((2, 8), np.float32),
                     activation="softmax")
    with pytest.raises(ValueError, match=r"recurrent_mask of shape \(2, 5\): expected "
                                         r"\(batch, units\) = \(2, 2\) or \(batch, 3 \* units\)"):
        rnn_ops.gru(x, np.zeros((4, 6), np.float32), np.zeros((2, 6), np.float32),
                    recurrent_mask=np.ones((2, 5)))


def test_kernel_checks_arguments():
    x = np.zeros((2, 3, 4), np.float32)
    W, R = np.zeros((4, 8), np.float32), np.zeros((2, 8), np.float32)
    h = np.zeros((2, 2), np.float32)
    gates, hs = np.empty((2, 3, 8), np.float32), np.empty((2, 3, 2), np.float32)
    with pytest.raises(ValueError, match=r"\[lstm_sequence_forward\] argument 'c_seq': "
                                         r"expected shape \(2, 3, 2\), got \(2, 3, 3\)"):
        _cpu.lstm_sequence_forward(x, W, R, None, h, h, None, None, 3, 2, gates, hs,
                                   np.empty((2, 3, 3), np.float32))
    with pytest.raises(TypeError, match=r"argument 'kernel': expected dtype float32"):
        _cpu.lstm_sequence_forward(x, W.astype(np.float64), R, None, h, h, None, None, 3, 2, gates,
                                   hs, hs.copy())
    with pytest.raises(ValueError, match=r"unsupported activation code 4 \(expected one of the "
                                         r"element-wise kinds: linear 0, relu 1, .*softsign 14"):
        _cpu.lstm_sequence_forward(x, W, R, None, h, h, None, None, 4, 2, gates, hs, hs.copy())
    # An output that overlaps the recurrent-dropout mask would be read after it is overwritten.
    rm = np.ones((2, 6), np.float32)
    with pytest.raises(ValueError, match=r"\[gru_sequence_forward\] argument 'rh': must not "
                                         r"share memory with 'recurrent_mask'"):
        _cpu.gru_sequence_forward(x, W[:, :6].copy(), R[:, :6].copy(), None, h, None, rm, 3, 2,
                                  False, np.empty((2, 3, 6), np.float32),
                                  rm.reshape(2, 3, 2), hs)
    with pytest.raises(ValueError, match="at least one timestep"):
        _cpu.simple_rnn_sequence_forward(np.zeros((2, 0, 4), np.float32), W[:, :2].copy(), R[:, :2].copy(),
                                         None, h, None, None, 3, np.empty((2, 0, 2), np.float32),
                                         np.empty((2, 0, 2), np.float32))


def per_thread_count(op, args, **kw):
    """[output, gradient of sum(output^2) for each argument] of op(*args, **kw) on 1, 2 and 3
    threads."""
    before = _cpu.get_num_threads()
    results = []
    try:
        for n in (1, 2, 3):
            _cpu.set_num_threads(n)
            vs = [L.Variable(v) for v in args.values()]
            with L.GradientTape() as tape:
                out = op(*vs, **kw)[0]
                loss = ops.sum(ops.multiply(out, out))
            results.append([out.data] + [g.data for g in tape.gradient(loss, vs)])
    finally:
        _cpu.set_num_threads(before)
    return results


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("dropout_elu", [False, True])
def test_thread_counts_and_row_blocks_agree(cell, dropout_elu):
    """Big enough for the row-block time loop (each thread runs all steps on its rows)."""
    args, mask = make_case(cell, 9, 7, 5, 33, masked=True)
    kw = {}
    if dropout_elu:  # the per-gate recurrent products and the generic activation path
        kw = {"activation": "elu",
              "recurrent_mask": (rng.random((9, 33 * CELLS[cell][0])) > 0.4) / 0.6}
    results = per_thread_count(CELLS[cell][1], args, mask=mask, return_sequences=True,
                               **CELLS[cell][3], **kw)
    got, want = run_both(cell, args, mask, False, True, **kw)
    np.testing.assert_allclose(results[0][0], want[0], rtol=1e-11, atol=1e-12)
    for other in results[1:]:
        for a, b in zip(other, results[0]):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell, U", [("lstm", 200), ("gru", 240)])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_column_split_matches_one_thread_bitwise(dtype, cell, U, go_backwards):
    """A small batch with a recurrent kernel past L2 (LSTM 200 x 800, GRU 240 x 720) takes the
    column-split time loop (each thread owns a range of units of every gate); it must give one
    thread's bits."""
    args, mask = make_case(cell, 3, 4, 5, U, dtype, masked=True)
    _, op, _, extra, _ = CELLS[cell]
    results = per_thread_count(op, args, mask=mask, return_sequences=True,
                               go_backwards=go_backwards, **extra)
    for other in results[1:]:
        for a, b in zip(other, results[0]):
            np.testing.assert_array_equal(a, b)


# ---- layers (python/lamina/layers/recurrent.py) ---------------------------------------------
LAYERS = {"lstm": (L.layers.LSTM, {}), "gru": (L.layers.GRU, {}),
          "gru_v1": (L.layers.GRU, {"reset_after": False}), "simple": (L.layers.SimpleRNN, {})}


def keras_weights(cell, F, U):
    args, _ = make_case(cell, 1, 1, F, U, np.float32)
    return [args["kernel"], args["recurrent_kernel"], args["bias"]]


@pytest.mark.parametrize("cell", list(CELLS))
def test_layer_with_keras_weights_gives_the_oracle(cell):
    cls, extra = LAYERS[cell]
    layer = cls(6, return_sequences=True, return_state=True, **extra)
    x = rng.standard_normal((3, 5, 4)).astype(np.float32)
    layer(x)
    weights = keras_weights(cell, 4, 6)
    assert [w.shape for w in layer.get_weights()] == [w.shape for w in weights]
    layer.set_weights(weights)
    outs = layer(x)
    zeros = np.zeros((3, 6))
    states = [zeros, zeros] if cell == "lstm" else [zeros]
    seq, last, *final = CELLS[cell][2](x, *weights, *states, **CELLS[cell][3])
    np.testing.assert_allclose(outs[0].data, seq, rtol=2e-4, atol=2e-5)
    for got, want in zip(outs[1:], final):
        np.testing.assert_allclose(got.data, want, rtol=2e-4, atol=2e-5)


def test_lstm_layer_defaults_follow_keras():
    layer = L.layers.LSTM(5)
    layer(np.zeros((2, 3, 4), np.float32))
    k, r, b = layer.get_weights()
    assert k.shape == (4, 20) and r.shape == (5, 20) and b.shape == (20,)
    np.testing.assert_array_equal(b, np.r_[np.zeros(5), np.ones(5), np.zeros(10)])
    # orthogonal recurrent blocks: R @ R.T is the identity for the (5, 20) matrix
    np.testing.assert_allclose(r @ r.T, np.eye(5), atol=1e-5)
    gru = L.layers.GRU(5)
    gru(np.zeros((2, 3, 4), np.float32))
    assert gru.get_weights()[2].shape == (2, 15)
    assert L.layers.GRU(5, reset_after=False).compute_output_shape((None, 3, 4)) == (None, 5)


def test_layer_initial_state_and_go_backwards():
    layer = L.layers.LSTM(3, go_backwards=True, return_sequences=True)
    x = rng.standard_normal((2, 4, 5)).astype(np.float32)
    h0 = rng.standard_normal((2, 3)).astype(np.float32)
    c0 = rng.standard_normal((2, 3)).astype(np.float32)
    out = layer(x, initial_state=[h0, c0])
    seq, *_ = ref.lstm(x, *layer.get_weights(), h0, c0, go_backwards=True)
    np.testing.assert_allclose(out.data, seq, rtol=2e-4, atol=2e-5)
    with pytest.raises(ValueError, match=r"expected 2 initial state\(s\), got 1"):
        layer(x, initial_state=[h0])


def test_mask_from_embedding_reaches_the_lstm():
    emb = L.layers.Embedding(10, 4, mask_zero=True)
    lstm = L.layers.LSTM(3, return_sequences=True)
    ids = np.array([[0, 3, 4, 0, 5], [2, 0, 0, 0, 0]])
    out = lstm(emb(ids))
    x = emb.get_weights()[0][ids]
    seq, *_ = ref.lstm(x, *lstm.get_weights(), np.zeros((2, 3)), np.zeros((2, 3)), mask=ids != 0)
    np.testing.assert_allclose(out.data, seq, rtol=2e-4, atol=2e-5)
    assert np.all(out.data[0, 0] == 0) and np.all(out.data[1, 1:] == out.data[1, :1])


def test_masking_layer_feeds_the_gru():
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    x[0, 3:] = 0.0
    x[1, 0] = 0.0
    gru = L.layers.GRU(4)
    out = gru(L.layers.Masking(0.0)(x))
    mask = np.any(x != 0, axis=-1)
    _, last, _ = ref.gru(x, *gru.get_weights(), np.zeros((2, 4)), mask=mask)
    np.testing.assert_allclose(out.data, last, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple"])
def test_layer_activation_names_and_functions_agree(cell):
    """activation / recurrent_activation: a Keras name or the lamina.activations function."""
    cls, _ = LAYERS[cell]
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    kw_name = {"activation": "elu"}
    kw_fn = {"activation": L.activations.elu}
    if cell != "simple":
        kw_name["recurrent_activation"] = "hard_sigmoid"
        kw_fn["recurrent_activation"] = L.activations.hard_sigmoid
    by_name, by_fn = cls(3, **kw_name), cls(3, **kw_fn)
    by_name(x)
    by_fn(x)
    by_fn.set_weights(by_name.get_weights())
    np.testing.assert_array_equal(by_name(x).data, by_fn(x).data)
    assert by_fn.activation is L.activations.elu
    assert by_fn.get_config()["activation"] == "elu"


@pytest.mark.parametrize("arg", ["activation", "recurrent_activation"])
def test_custom_activation_callable_is_a_clear_error(arg):
    with pytest.raises(ValueError, match=rf"LSTM 'my_lstm': `{arg}`=<function .*<lambda> .* is not "
                                         r"supported: the callable "
                                         r"has no fused recurrent kernel\. The recurrent layers "
                                         r"take one of \[.*'elu'.*'softsign'.*\]"):
        L.layers.LSTM(3, name="my_lstm", **{arg: lambda t: t * 2})
    with pytest.raises(ValueError, match=r"GRU 'g': `activation`='softmax' is not supported"):
        L.layers.GRU(3, name="g", activation="softmax")


def _config_kwargs():
    return dict(kernel_regularizer="l2", recurrent_regularizer=L.regularizers.L1(0.3),
                bias_regularizer=L.regularizers.L1L2(0.1, 0.2), activity_regularizer="l1",
                kernel_constraint="non_neg", recurrent_constraint=L.constraints.MaxNorm(1.5),
                bias_constraint=L.constraints.UnitNorm(axis=0), dropout=0.1,
                recurrent_dropout=0.2, seed=4, return_sequences=True, go_backwards=True,
                kernel_initializer="he_normal", activation="selu")


@pytest.mark.parametrize("cell", ["lstm", "gru_v1", "simple"])
def test_get_config_is_complete_and_round_trips(cell):
    cls, extra = LAYERS[cell]
    layer = cls(4, name="rec", **extra, **_config_kwargs())
    config = layer.get_config()
    keras_keys = {"units", "activation", "use_bias", "kernel_initializer",
                  "recurrent_initializer", "bias_initializer", "kernel_regularizer",
                  "recurrent_regularizer", "bias_regularizer", "activity_regularizer",
                  "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout",
                  "recurrent_dropout", "seed", "return_sequences", "return_state",
                  "go_backwards", "stateful", "unroll", "zero_output_for_mask", "name",
                  "trainable", "dtype"}
    keras_keys |= {"lstm": {"recurrent_activation", "unit_forget_bias"},
                   "gru_v1": {"recurrent_activation", "reset_after"}, "simple": set()}[cell]
    assert set(config) == keras_keys
    assert config["kernel_regularizer"] == {"class_name": "L2", "config": {"l2": 0.01}}
    assert config["recurrent_constraint"] == {"class_name": "MaxNorm",
                                              "config": {"max_value": 1.5, "axis": 0}}
    clone = cls.from_config(config)
    assert clone.get_config() == config
    x = rng.standard_normal((2, 3, 5)).astype(np.float32)
    layer(x)
    clone(x)
    assert len(clone.losses) == len(layer.losses) == 4  # 3 weight penalties + activity
    assert [type(v.constraint).__name__ for v in clone.weights] == \
        ["NonNeg", "MaxNorm", "UnitNorm"]


def test_activity_regularizer_with_several_outputs():
    """Keras 3 adds one activity penalty per output tensor: with return_state (and
    Bidirectional's merge_mode=None) the call returns a list, which used to crash."""
    x = rng.standard_normal((2, 3, 5)).astype(np.float32)
    layer = L.layers.LSTM(4, return_state=True, activity_regularizer="l2")
    outputs = layer(x)
    assert len(layer.losses) == 3
    for loss, out in zip(layer.losses, outputs):
        # Keras 3 does not divide the penalty by the batch size (Keras 2 did)
        np.testing.assert_allclose(loss.data, 0.01 * np.sum(out.data ** 2), rtol=1e-5)
    bidi = L.layers.Bidirectional(L.layers.GRU(3), merge_mode=None, activity_regularizer="l1")
    bidi(x)
    assert len(bidi.losses) == 2


def test_go_backwards_output_mask_is_the_input_mask():
    """Keras returns the input's (unreversed) mask after go_backwards, from compute_mask and on
    the output alike."""
    emb = L.layers.Embedding(10, 3, mask_zero=True)
    ids = np.array([[0, 0, 3, 4], [5, 6, 0, 0]])
    layer = L.layers.GRU(2, go_backwards=True, return_sequences=True)
    out = layer(emb(ids))
    np.testing.assert_array_equal(get_mask(out), ids != 0)
    np.testing.assert_array_equal(layer.compute_mask(None, ids != 0), ids != 0)
    assert layer.compute_mask(None, None) is None
    assert L.layers.GRU(2).compute_mask(None, ids != 0) is None
    assert L.layers.LSTM(2, return_sequences=True, return_state=True).compute_mask(
        None, ids != 0)[1:] == [None, None]


def test_stateful_layer_refuses_a_new_batch_size():
    layer = L.layers.LSTM(3, stateful=True)
    x = rng.standard_normal((4, 5, 2)).astype(np.float32)
    layer(x)
    with pytest.raises(ValueError, match=r"LSTM 'lstm\w*': stateful=True carries the states of a "
                                         r"batch of 4 samples into the next call, but this call "
                                         r"has a batch of 3\. .*reset_states\(\)"):
        layer(x[:3])
    layer.reset_states()
    assert layer(x[:3]).shape == (3, 3)


def test_stateful_layer_carries_state_between_calls():
    x = rng.standard_normal((2, 6, 3)).astype(np.float32)
    whole = L.layers.SimpleRNN(4, return_sequences=True)
    full = whole(x).data
    part = L.layers.SimpleRNN(4, return_sequences=True, stateful=True)
    part(x[:, :1])
    part.set_weights(whole.get_weights())
    part.reset_states()
    first, second = part(x[:, :3]).data, part(x[:, 3:]).data
    np.testing.assert_allclose(np.concatenate([first, second], 1), full, rtol=1e-5, atol=1e-6)


def test_dropout_only_in_training():
    layer = L.layers.LSTM(4, dropout=0.5, recurrent_dropout=0.3, seed=1)
    x = rng.standard_normal((3, 5, 2)).astype(np.float32)
    a, b = layer(x).data, layer(x).data
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(layer(x, training=True).data, a)


@pytest.mark.parametrize("cell", ["lstm", "gru", "gru_v1", "simple"])
def test_layer_recurrent_dropout_is_keras_per_gate_masks(cell):
    """recurrent_dropout in training: one keep mask per sample and gate, drawn once for the
    sequence (Keras 3's cells; GRU included), the state update on the undropped state."""
    cls, extra = LAYERS[cell]
    rate, U = 0.4, 5
    layer = cls(U, recurrent_dropout=rate, seed=3, return_sequences=True, **extra)
    x = rng.standard_normal((4, 6, 3)).astype(np.float64)
    layer.build((None, 6, 3))
    layer.set_weights(keras_weights(cell, 3, U))
    out = layer(x.astype(np.float32), training=True).data
    keep = np.random.default_rng(3).random((4, CELLS[cell][0] * U)) >= rate
    zeros = [np.zeros((4, U))] * (2 if cell == "lstm" else 1)
    seq, *_ = CELLS[cell][2](x, *layer.get_weights(), *zeros, **CELLS[cell][3],
                             recurrent_mask=keep / (1 - rate))
    np.testing.assert_allclose(out, seq, rtol=2e-4, atol=2e-5)
    assert not np.allclose(out, layer(x.astype(np.float32)).data)  # inference: no dropout


@pytest.mark.parametrize("cell, activation", [("simple", "gelu"), ("lstm", "tanh"),
                                              ("lstm", "elu")])
def test_backward_twice_on_a_persistent_tape(cell, activation):
    """The SimpleRNN and LSTM kernels overwrite what their forward saved (pre-activations,
    gates) with its gradients: a second backward of the same op must still see it."""
    args, mask = make_case(cell, 2, 4, 3, 5, masked=True)
    vs = [L.Variable(v) for v in args.values()]
    with L.GradientTape(persistent=True) as tape:
        out = CELLS[cell][1](*vs, mask=mask, return_sequences=True, activation=activation)[0]
        loss = ops.sum(ops.multiply(out, out))
    first = [g.data for g in tape.gradient(loss, vs)]
    second = [g.data for g in tape.gradient(loss, vs)]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def _lstm_kernel_case(dtype, N=5, T=4, F=3, U=6, masked=True):
    """Arguments of _cpu.lstm_sequence_forward / _backward for one random case."""
    args, mask = make_case("lstm", N, T, F, U, dtype, masked=masked)
    mask = None if mask is None else mask.astype(dtype)
    gates = np.empty((N, T, 4 * U), dtype)
    h_seq, c_seq = np.empty((N, T, U), dtype), np.empty((N, T, U), dtype)
    _cpu.lstm_sequence_forward(args["x"], args["kernel"], args["recurrent_kernel"],
                               args["bias"], args["h0"], args["c0"], mask, None, 3, 2, gates,
                               h_seq, c_seq)
    dh_seq = rng.standard_normal((N, T, U)).astype(dtype)
    return args, mask, gates, h_seq, c_seq, dh_seq


def _lstm_backward(args, mask, gates, h_seq, c_seq, dh_seq, dgates):
    """Every gradient of _cpu.lstm_sequence_backward, dgates as given (gates itself: in place)."""
    x, W, R = args["x"], args["kernel"], args["recurrent_kernel"]
    outs = [np.empty_like(x), np.empty_like(W), np.empty_like(R), np.empty_like(args["bias"]),
            np.empty_like(args["h0"]), np.empty_like(args["c0"])]
    _cpu.lstm_sequence_backward(x, W, R, args["h0"], args["c0"], mask, None, 3, 2, gates, h_seq,
                                c_seq, dh_seq, None, None, *outs, dgates)
    return outs + [dgates]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lstm_backward_in_place_of_the_gates(dtype, isa):
    """dgates may be the gates buffer itself: the same gradients, bit for bit, as with a
    separate buffer, and the gates end up holding their gradients."""
    args, mask, gates, h_seq, c_seq, dh_seq = _lstm_kernel_case(dtype)
    apart = _lstm_backward(args, mask, gates, h_seq, c_seq, dh_seq, np.empty_like(gates))
    work = gates.copy()
    in_place = _lstm_backward(args, mask, work, h_seq, c_seq, dh_seq, work)
    for a, b in zip(apart, in_place):
        np.testing.assert_array_equal(a, b)


def test_lstm_backward_in_place_checks_overlap():
    args, mask, gates, h_seq, c_seq, dh_seq = _lstm_kernel_case(np.float32)
    buf = np.empty(gates.size + 1, np.float32)
    shifted_gates, shifted = buf[:-1].reshape(gates.shape), buf[1:].reshape(gates.shape)
    shifted_gates[...] = gates
    with pytest.raises(ValueError, match=r"\[lstm_sequence_backward\] argument 'dgates': may be "
                                         r"the same array as 'gates' \(in place\) but must not "
                                         r"partially overlap it"):
        _lstm_backward(args, mask, shifted_gates, h_seq, c_seq, dh_seq, shifted)
    x, W, R = args["x"], args["kernel"], args["recurrent_kernel"]
    dh0 = gates.reshape(-1)[:args["h0"].size].reshape(args["h0"].shape)
    with pytest.raises(ValueError, match=r"argument 'dh0': must not share memory with 'gates'"):
        _cpu.lstm_sequence_backward(x, W, R, args["h0"], args["c0"], mask, None, 3, 2, gates,
                                    h_seq, c_seq, dh_seq, None, None, None, np.empty_like(W),
                                    np.empty_like(R), None, dh0, np.empty_like(args["c0"]),
                                    np.empty_like(gates))


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("per_gate", [False, True])
def test_recurrent_mask_matches_oracle_and_gradients(cell, per_gate):
    """Recurrent dropout as Keras 3's cells: one keep mask per gate (or one for all)."""
    gates = CELLS[cell][0]
    width = gates if per_gate else 1
    args, mask = make_case(cell, 9, 6, 3, 30, masked=True)
    rm = (rng.random((9, 30 * width)) > 0.3) / 0.7
    got, want = run_both(cell, args, mask, True, True, recurrent_mask=rm)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-11, atol=1e-12)
    small, mask = make_case(cell, 3, 4, 2, 3, masked=True)
    rm = (rng.random((3, 3 * width)) > 0.3) / 0.7
    check_gradients(_grad_fn(cell, mask, False, True, recurrent_mask=rm), *small.values())
    check_gradients(_grad_fn(cell, mask, True, False, recurrent_mask=rm, activation="elu"),
                    *small.values())


def test_gru_recurrent_dropout_keeps_the_undropped_state_in_the_blend():
    """Keras 3's GRUCell: with every recurrent product dropped to zero, h_t = z h_{t-1} +
    (1 - z) hh still carries h_{t-1} (the blend reads the undropped state)."""
    args, _ = make_case("gru", 2, 3, 4, 5)
    zero = np.zeros((2, 15))
    out, h = rnn_ops.gru(**args, recurrent_mask=zero, return_sequences=True)
    free = dict(args, recurrent_kernel=np.zeros_like(args["recurrent_kernel"]))
    want, _ = rnn_ops.gru(**free, return_sequences=True)
    np.testing.assert_allclose(out.data, want.data, rtol=1e-12, atol=1e-14)
    # were h_{t-1} dropped in the blend too, the first step would not depend on h0
    no_h0, _ = rnn_ops.gru(**dict(free, h0=0 * args["h0"]), return_sequences=True)
    assert np.abs(out.data[:, 0] - no_h0.data[:, 0]).max() > 1e-2


def test_sequential_lstm_model_learns():
    """Embedding -> LSTM -> Dense learns to tell whether token 1 appears in a sequence."""
    L.utils.set_random_seed(0)
    gen = np.random.default_rng(0)
    x = gen.integers(2, 9, size=(256, 8))
    y = gen.integers(0, 2, size=256)
    pos = gen.integers(0, 8, size=256)
    x[np.arange(256)[y == 1], pos[y == 1]] = 1
    model = L.Sequential([L.Input((8,), dtype="int32"), L.layers.Embedding(9, 8),
                          L.layers.LSTM(16), L.layers.Dense(2)])
    model.compile(optimizer=L.optimizers.Adam(0.02),
                  loss=L.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    hist = model.fit(x, y, batch_size=32, epochs=15, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]
    assert hist.history["accuracy"][-1] > 0.9
