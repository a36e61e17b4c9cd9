"""layers/wrappers.py: Bidirectional (two recurrent copies, merged; their configs, losses and
masks) and TimeDistributed, against the numpy oracles of tests/reference.py."""
import numpy as np
import pytest

import lamina as L
from lamina.layers.masking import get_mask
import reference as ref

rng = np.random.default_rng(11)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_merge_modes(merge_mode):
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)
    bi = L.layers.Bidirectional(L.layers.LSTM(5, return_sequences=True), merge_mode=merge_mode)
    out = bi(x, mask=mask)
    w = bi.get_weights()
    assert len(w) == 6
    z = np.zeros((2, 5))
    fw, *_ = ref.lstm(x, *w[:3], z, z, mask=mask, zero_output_for_mask=True)
    bw, *_ = ref.lstm(x, *w[3:], z, z, mask=mask, go_backwards=True, zero_output_for_mask=True)
    bw = bw[:, ::-1]
    want = {"concat": lambda: np.concatenate([fw, bw], -1), "sum": lambda: fw + bw,
            "mul": lambda: fw * bw, "ave": lambda: (fw + bw) / 2, None: lambda: [fw, bw]}
    got = [o.data for o in out] if merge_mode is None else out.data
    np.testing.assert_allclose(got, want[merge_mode](), rtol=2e-4, atol=2e-5)
    assert bi.compute_output_shape((None, 4, 3)) == (
        [(None, 4, 5)] * 2 if merge_mode is None else
        (None, 4, 10 if merge_mode == "concat" else 5))


def test_bidirectional_return_state():
    bi = L.layers.Bidirectional(L.layers.GRU(3, return_state=True))
    outs = bi(rng.standard_normal((2, 4, 3)).astype(np.float32))
    assert [o.shape for o in outs] == [(2, 6), (2, 3), (2, 3)]


def test_time_distributed_dense():
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    td = L.layers.TimeDistributed(L.layers.Dense(4))
    out = td(x)
    k, b = td.get_weights()
    np.testing.assert_allclose(out.data, x @ k + b, rtol=1e-5, atol=1e-6)
    assert td.compute_output_shape((None, 5, 3)) == (None, 5, 4)


def test_bidirectional_keeps_regularizers_and_constraints_in_both_directions():
    bi = L.layers.Bidirectional(L.layers.LSTM(4, kernel_regularizer="l2",
                                              kernel_constraint="non_neg",
                                              recurrent_regularizer="l1", dropout=0.2))
    bi(rng.standard_normal((2, 3, 5)).astype(np.float32))
    assert len(bi.losses) == 4  # kernel and recurrent_kernel penalties, both directions
    for layer in (bi.forward_layer, bi.backward_layer):
        assert isinstance(layer.kernel_constraint, L.constraints.NonNeg)
        assert isinstance(layer.kernel.constraint, L.constraints.NonNeg)
        assert isinstance(layer.kernel_regularizer, L.regularizers.L2)
        assert layer.dropout == 0.2
    assert bi.backward_layer.go_backwards and not bi.forward_layer.go_backwards
    # the penalties are the weights' own: l2 * sum(k ** 2) + l1 * sum(|r|) per direction
    want = sum(0.01 * np.sum(l.kernel.numpy() ** 2) + 0.01 * np.sum(np.abs(
        l.recurrent_kernel.numpy())) for l in (bi.forward_layer, bi.backward_layer))
    np.testing.assert_allclose(sum(float(v.data) for v in bi.losses), want, rtol=1e-5)


def test_bidirectional_over_an_rnn_of_a_cell_and_its_config():
    bi = L.layers.Bidirectional(L.layers.RNN(L.layers.GRUCell(3), return_sequences=True),
                                merge_mode="sum")
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    out = bi(x)
    w = bi.get_weights()
    z = np.zeros((2, 3))
    fw, *_ = ref.gru(x, *w[:3], z)
    bw, *_ = ref.gru(x, *w[3:], z, go_backwards=True)
    np.testing.assert_allclose(out.data, fw + bw[:, ::-1], rtol=2e-4, atol=2e-5)
    clone = L.layers.Bidirectional.from_config(bi.get_config())
    clone(x)
    clone.set_weights(w)
    np.testing.assert_allclose(clone(x).data, out.data, rtol=1e-6)
    assert clone.merge_mode == "sum" and isinstance(clone.forward_layer.cell, L.layers.GRUCell)


class _LSTMWithExtra(L.layers.LSTM):
    """A user's subclass written the Keras way: from_config(cls, config), no custom_objects."""

    def __init__(self, units, extra=1, **kwargs):
        super().__init__(units, **kwargs)
        self.extra = extra

    def get_config(self):
        return dict(super().get_config(), extra=self.extra)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def test_bidirectional_over_a_subclass_with_keras_from_config():
    bi = L.layers.Bidirectional(_LSTMWithExtra(3, extra=5))
    assert bi(rng.standard_normal((2, 4, 3)).astype(np.float32)).shape == (2, 6)
    assert (bi.forward_layer.extra, bi.backward_layer.extra) == (5, 5)
    assert type(bi.backward_layer) is _LSTMWithExtra and bi.backward_layer.go_backwards


@pytest.mark.parametrize("merge_mode", ["concat", None])
def test_bidirectional_passes_the_mask_on(merge_mode):
    ids = np.array([[3, 4, 0], [5, 0, 0]])
    emb = L.layers.Embedding(9, 2, mask_zero=True)
    bi = L.layers.Bidirectional(L.layers.SimpleRNN(2, return_sequences=True),
                                merge_mode=merge_mode)
    out = bi(emb(ids))
    for o in (out if merge_mode is None else [out]):
        np.testing.assert_array_equal(get_mask(o), ids != 0)
    last = L.layers.Bidirectional(L.layers.SimpleRNN(2, return_state=True))(emb(ids))
    assert all(get_mask(o) is None for o in last)


def test_bidirectional_backward_layer_must_match():
    with pytest.raises(ValueError, match="go_backwards must be the opposite"):
        L.layers.Bidirectional(L.layers.LSTM(2), backward_layer=L.layers.LSTM(2))
    with pytest.raises(ValueError, match="same `return_sequences`, got True and False"):
        L.layers.Bidirectional(L.layers.LSTM(2, return_sequences=True),
                               backward_layer=L.layers.LSTM(2, go_backwards=True))


def test_time_distributed_passes_the_mask_on():
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    x[0, 2:] = 0.0
    out = L.layers.TimeDistributed(L.layers.Dense(2))(L.layers.Masking()(x))
    np.testing.assert_array_equal(get_mask(out), np.any(x != 0, axis=-1))


def test_time_distributed_gives_the_wrapped_layer_its_mask():
    # sentences of words: an LSTM over each sentence's words must skip the padding words
    ids = np.array([[[1, 2, 0, 0], [3, 0, 0, 0], [4, 5, 6, 0]],
                    [[7, 0, 0, 0], [1, 1, 1, 1], [2, 3, 0, 0]]])
    emb = L.layers.Embedding(8, 5, mask_zero=True)
    td = L.layers.TimeDistributed(L.layers.LSTM(3))
    out = td(emb(ids))
    assert out.shape == (2, 3, 3)
    words = emb(ids.reshape(6, 4)).data
    want = td.layer(words, mask=ids.reshape(6, 4) != 0).data.reshape(2, 3, 3)
    np.testing.assert_allclose(out.data, want, rtol=1e-6)
    unmasked = td.layer(words).data.reshape(2, 3, 3)
    assert not np.allclose(out.data, unmasked)  # the padding made a difference
    with pytest.raises(ValueError, match=r"the mask's first two axes \(2, 2\) must be the "
                                         r"inputs' \(batch, timesteps\) \(2, 3\)"):
        td(emb(ids), mask=np.ones((2, 2, 4), bool))
