"""layers/rnn_cells.py and RNN(cell): built-in cells run the fused whole-sequence kernels with
LSTM / GRU / SimpleRNN's weights, stacked cells run cell after cell, a user's cell runs the
generic per-timestep loop; each against the numpy oracles of tests/reference.py (Keras' rnn
loop), float64 gradients through the generic path."""
import numpy as np
import pytest

import lamina as L
from lamina import layers, ops
import reference as ref
from gradcheck import check_gradients

rng = np.random.default_rng(13)

# cell class, layer class, oracle, states per cell, extra kwargs
KINDS = {
    "lstm": (layers.LSTMCell, layers.LSTM, ref.lstm, 2, {}),
    "gru": (layers.GRUCell, layers.GRU, ref.gru, 1, {}),
    "gru_v1": (layers.GRUCell, layers.GRU, ref.gru, 1, {"reset_after": False}),
    "simple": (layers.SimpleRNNCell, layers.SimpleRNN, ref.simple_rnn, 1, {}),
}


def _mask(N, T):
    mask = rng.random((N, T)) > 0.3
    mask[0, 0] = False
    return mask


@pytest.mark.parametrize("kind", list(KINDS))
def test_rnn_of_a_cell_is_the_layer(kind):
    """RNN(LSTMCell(u)) and LSTM(u): same weights (names, shapes, order), same outputs."""
    cell_cls, layer_cls, _, _, extra = KINDS[kind]
    x = rng.standard_normal((3, 5, 4)).astype(np.float32)
    mask = _mask(3, 5)
    rnn = layers.RNN(cell_cls(6, **extra), return_sequences=True, return_state=True,
                     go_backwards=True)
    layer = layer_cls(6, return_sequences=True, return_state=True, go_backwards=True, **extra)
    rnn(x)
    layer(x)
    assert [v.name for v in rnn.weights] == [v.name for v in layer.weights] == \
        ["kernel", "recurrent_kernel", "bias"]
    assert [v.shape for v in rnn.weights] == [v.shape for v in layer.weights]
    rnn.set_weights(layer.get_weights())
    for a, b in zip(rnn(x, mask=mask), layer(x, mask=mask)):
        np.testing.assert_array_equal(a.data, b.data)
    assert rnn.compute_output_shape((None, 5, 4)) == layer.compute_output_shape((None, 5, 4))


@pytest.mark.parametrize("kind", list(KINDS))
def test_one_step_call_of_a_cell(kind):
    cell_cls, _, oracle, n_states, extra = KINDS[kind]
    cell = cell_cls(5, **extra)
    x = rng.standard_normal((2, 3)).astype(np.float32)
    states = [rng.standard_normal((2, 5)).astype(np.float32) for _ in range(n_states)]
    out, new = cell(x, states)
    _, last, *want = oracle(x[:, None], *cell.get_weights(), *states, **extra)
    np.testing.assert_allclose(out.data, last, rtol=2e-4, atol=2e-5)
    assert isinstance(new, list) and len(new) == n_states
    for got, w in zip(new, want):
        np.testing.assert_allclose(got.data, w, rtol=2e-4, atol=2e-5)
    if n_states == 1:  # Keras: a single state given bare comes back bare
        _, bare = cell(x, states[0])
        np.testing.assert_array_equal(bare.data, new[0].data)


class MinimalRNNCell(layers.Layer):
    """Keras' documentation example of a cell of one's own: output = x W + h_{t-1} R."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                name="recurrent_kernel")

    def call(self, inputs, states):
        output = ops.add(ops.matmul(inputs, self.kernel),
                         ops.matmul(states[0], self.recurrent_kernel))
        return output, [output]

    def get_config(self):
        return dict(super().get_config(), units=self.units)


def _minimal_oracle(x, W, R, mask, go_backwards, zero_output_for_mask=False):
    def step(xt, states):
        h = xt @ W + states[0] @ R
        return h, [h]
    return ref.rnn_loop(step, x, [np.zeros((x.shape[0], W.shape[1]))], mask, go_backwards,
                        zero_output_for_mask)


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("zero_output_for_mask", [False, True])
def test_user_cell_runs_the_generic_loop(go_backwards, zero_output_for_mask):
    x = rng.standard_normal((3, 5, 2))
    mask = _mask(3, 5)
    rnn = layers.RNN(MinimalRNNCell(4, dtype="float64"), return_sequences=True, return_state=True,
                     go_backwards=go_backwards, zero_output_for_mask=zero_output_for_mask,
                     dtype="float64")
    out, h = rnn(x, mask=mask)
    W, R = rnn.get_weights()
    seq, _, (h_ref,) = _minimal_oracle(x, W, R, mask, go_backwards, zero_output_for_mask)
    np.testing.assert_allclose(out.data, seq, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(h.data, h_ref, rtol=1e-12, atol=1e-13)


def test_gradients_through_the_generic_loop():
    """float64 finite differences through the per-timestep loop, masked: the input (through
    check_gradients) and the cell's own weights."""
    mask = _mask(2, 4)
    rnn = layers.RNN(MinimalRNNCell(3, dtype="float64"), return_sequences=True,
                     dtype="float64")
    x = rng.standard_normal((2, 4, 2))
    rnn(x)
    for v in rnn.weights:
        v.assign(v.numpy() * 0.5)
    check_gradients(lambda xv: rnn(xv, mask=mask), x)

    def loss():
        return ops.sum(ops.square(rnn(x, mask=mask)))

    with L.GradientTape() as tape:
        total = loss()
    grads = tape.gradient(total, rnn.trainable_weights)
    eps = 1e-6
    for var, g in zip(rnn.trainable_weights, grads):
        base = var.numpy()
        num = np.zeros_like(base)
        for i in np.ndindex(base.shape):
            for sign in (1, -1):
                moved = base.copy()
                moved[i] += sign * eps
                var.assign(moved)
                num[i] += sign * float(loss().data) / (2 * eps)
        var.assign(base)
        np.testing.assert_allclose(g.data, num, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("go_backwards", [False, True])
def test_stacked_cells_match_the_step_by_step_stack(go_backwards):
    """RNN([LSTMCell, GRUCell]) runs one fused op per cell; the generic loop over the same
    cells (StackedRNNCells step calls, forced by a wrapper cell) gives the same result."""
    x = rng.standard_normal((3, 6, 4)).astype(np.float64)
    mask = _mask(3, 6)
    cells = [layers.LSTMCell(5, dtype="float64"), layers.GRUCell(3, dtype="float64")]
    fused = layers.RNN(cells, return_sequences=True, return_state=True,
                       go_backwards=go_backwards, dtype="float64")
    out, h1, c1, h2 = fused(x, mask=mask)
    assert fused.state_size == [5, 5, 3]

    class Wrapped(layers.Layer):  # not a built-in cell: RNN takes the generic loop
        def __init__(self, stack):
            super().__init__(dtype="float64")
            self.stack = stack
            self.state_size = stack.state_size

        def call(self, inputs, states):
            return self.stack(inputs, states)

    loop = layers.RNN(Wrapped(fused.cell), return_sequences=True, return_state=True,
                      go_backwards=go_backwards, dtype="float64")
    got = loop(x, mask=mask)
    for a, b in zip(got, [out, h1, c1, h2]):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-11, atol=1e-12)
    # and the stack is two layers, the second fed the first's sequence
    z5, z3 = np.zeros((3, 5)), np.zeros((3, 3))
    w = fused.get_weights()
    seq1, *_ = ref.lstm(x, *w[:3], z5, z5, mask=mask, go_backwards=go_backwards)
    m2 = mask[:, ::-1] if go_backwards else mask
    seq2, *_ = ref.gru(seq1, *w[3:], z3, mask=m2)
    np.testing.assert_allclose(out.data, seq2, rtol=1e-11, atol=1e-12)


def test_stacked_cells_equal_a_list_and_initial_states():
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    a = layers.RNN(layers.StackedRNNCells([layers.SimpleRNNCell(4), layers.LSTMCell(2)]))
    b = layers.RNN([layers.SimpleRNNCell(4), layers.LSTMCell(2)])
    a(x)
    b(x)
    b.set_weights(a.get_weights())
    h0 = [rng.standard_normal((2, s)).astype(np.float32) for s in (4, 2, 2)]
    np.testing.assert_array_equal(a(x, initial_state=h0).data,
                                  b(x, initial_state=[[h0[0]], h0[1:]]).data)
    with pytest.raises(ValueError, match=r"expected 3 initial state\(s\), got 2"):
        a(x, initial_state=h0[:2])


def test_rnn_config_round_trip():
    rnn = layers.RNN([layers.LSTMCell(3, recurrent_dropout=0.1, kernel_regularizer="l2"),
                      layers.GRUCell(2, reset_after=False)], return_sequences=True,
                     go_backwards=True)
    config = rnn.get_config()
    assert config["cell"]["class_name"] == "StackedRNNCells"
    clone = layers.RNN.from_config(config)
    assert clone.get_config() == config
    user = layers.RNN(MinimalRNNCell(3))
    with pytest.raises(TypeError, match=r"Could not locate class 'MinimalRNNCell'. Make sure "
                                        r"custom classes are decorated"):
        layers.RNN.from_config(user.get_config())
    again = layers.RNN.from_config(user.get_config(),
                                   custom_objects={"MinimalRNNCell": MinimalRNNCell})
    assert isinstance(again.cell, MinimalRNNCell) and again.cell.units == 3


def test_stacked_user_cells_round_trip_with_custom_objects():
    # The custom_objects must reach the cells inside a StackedRNNCells, both in from_config and
    # when Bidirectional rebuilds its two copies from the layer's config.
    rnn = layers.RNN([MinimalRNNCell(3), MinimalRNNCell(2)])
    clone = layers.RNN.from_config(rnn.get_config(),
                                   custom_objects={"MinimalRNNCell": MinimalRNNCell})
    assert [type(c) for c in clone.cell.cells] == [MinimalRNNCell, MinimalRNNCell]
    assert [c.units for c in clone.cell.cells] == [3, 2]
    bidi = layers.Bidirectional(layers.RNN([MinimalRNNCell(3), MinimalRNNCell(2)]))
    assert bidi(rng.standard_normal((2, 4, 5)).astype("float32")).shape == (2, 4)


def test_rnn_argument_errors():
    with pytest.raises(ValueError, match=r"RNN 'bad': `cell` must have a `call` method and a "
                                         r"`state_size` attribute"):
        layers.RNN(layers.Dense(3), name="bad")
    with pytest.raises(ValueError, match=r"LSTMCell 'c': `units` must be a positive integer, "
                                         r"got 0"):
        layers.LSTMCell(0, name="c")
    with pytest.raises(ValueError, match=r"GRUCell 'g': `recurrent_dropout` must be in \[0, 1\)"):
        layers.GRUCell(2, recurrent_dropout=1.0, name="g")


@pytest.mark.parametrize("kind", ["LSTMCell", "GRUCell", "SimpleRNNCell"])
def test_step_calls_keep_their_dropout_masks_until_reset(kind):
    """Keras' DropoutRNNCell draws its masks at the first step call and keeps them for the rest
    of the sequence; an RNN layer running the cell step by step resets them afterwards."""
    cell = getattr(layers, kind)(4, dropout=0.5, recurrent_dropout=0.5, seed=3)
    x = np.ones((3, 20), np.float32)
    states = [np.full((3, 4), 0.5, np.float32)] * (2 if kind == "LSTMCell" else 1)
    first, _ = cell(x, states, training=True)
    again, _ = cell(x, states, training=True)
    np.testing.assert_array_equal(again.data, first.data)  # the same masks: the same step
    cell.reset_dropout_mask()
    cell.reset_recurrent_dropout_mask()
    redrawn, _ = cell(x, states, training=True)
    assert not np.array_equal(redrawn.data, first.data)
    # Stacked with a user's cell, the layer runs the generic loop, then forgets the masks.
    rnn = layers.RNN([cell, MinimalRNNCell(2)])
    rnn(np.ones((3, 5, 20), np.float32), training=True)
    after, _ = cell(x, states, training=True)
    assert not np.array_equal(after.data, redrawn.data)
