"""Keras masks through Layer.__call__ (layers/masking.py): a layer that supports masking passes
its input's mask to its output (or compute_mask's), in eager calls, in functional and
Sequential models and in fit's fast path, so that training and inference see the same mask."""
import warnings

import numpy as np
import pytest

import lamina as L
from lamina import layers
from lamina.layers import masking
from lamina.layers.masking import get_mask

IDS = np.array([[0, 0, 3, 4], [5, 6, 0, 0]])


def _embedded():
    return layers.Embedding(10, 3, mask_zero=True)(IDS)


@pytest.mark.parametrize("make", [
    lambda: layers.Dropout(1e-9), lambda: layers.Dense(3), lambda: layers.Activation("relu"),
    lambda: layers.BatchNormalization(), lambda: layers.TimeDistributed(layers.Dense(2)),
    lambda: layers.SpatialDropout1D(0.5)], ids=lambda f: type(f()).__name__)
@pytest.mark.parametrize("training", [False, True])
def test_mask_passes_through_layers_that_support_masking(make, training):
    out = make()(_embedded(), training=training)
    np.testing.assert_array_equal(get_mask(out), IDS != 0)


def test_training_and_inference_see_the_same_mask():
    """The audit's case: Dropout in training returned a new tensor and lost the mask."""
    y = _embedded()
    lstm = layers.LSTM(2)
    a = lstm(layers.Dropout(1e-9)(y, training=True)).data
    b = lstm(y).data
    np.testing.assert_allclose(a, b, rtol=1e-6)
    c = lstm(layers.Dense(3)(y))
    d = lstm(layers.Dense(3)(y), mask=IDS != 0)
    assert c.shape == d.shape


def test_functional_model_passes_masks_between_layers():
    inp = L.Input((4,), dtype="int32")
    emb, dense, lstm = layers.Embedding(10, 3, mask_zero=True), layers.Dense(3), layers.LSTM(2)
    model = L.Model(inp, lstm(dense(emb(inp))))
    x = dense(emb(IDS))
    want = lstm(x, mask=IDS != 0).data
    np.testing.assert_allclose(model.predict(IDS, verbose=0), want, rtol=1e-6)
    assert not np.allclose(lstm(x.data).data, want)  # the same values without the mask


@pytest.mark.parametrize("functional", [False, True])
def test_fit_fast_path_keeps_masks(functional):
    """fit runs its first batch through __call__ and the later ones through the fast path;
    with a learning rate of 0 every batch's loss must equal evaluate's on the same batch."""
    L.utils.set_random_seed(1)
    gen = np.random.default_rng(1)
    x = gen.integers(1, 9, size=(8, 6))
    x[:, 4:] = 0
    x[::2, 2:] = 0
    y = gen.standard_normal((8, 2)).astype(np.float32)
    stack = [layers.Embedding(9, 4, mask_zero=True), layers.Dropout(0.0),
             layers.Dense(4), layers.GRU(3), layers.Dense(2)]
    if functional:
        inp = L.Input((6,), dtype="int32")
        h = inp
        for layer in stack:
            h = layer(h)
        model = L.Model(inp, h)
    else:
        model = L.Sequential([L.Input((6,), dtype="int32")] + stack)
    model.compile(optimizer=L.optimizers.SGD(0.0), loss="mse")
    batch_losses = []
    cb = L.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: batch_losses.append(logs["loss"]))
    model.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0, callbacks=[cb])
    # logs["loss"] is the running mean over the epoch's batches so far
    running = [model.evaluate(x[:2 * (i + 1)], y[:2 * (i + 1)], batch_size=2, verbose=0)
               for i in range(4)]
    np.testing.assert_allclose(batch_losses, running, rtol=1e-5)
    assert stack[3]._passes_masks and not stack[4]._passes_masks


def test_no_mask_means_nothing_to_pass():
    model = L.Sequential([L.Input((5, 3)), layers.Dense(4), layers.LSTM(2), layers.Dense(1)])
    out = model(np.zeros((2, 5, 3), np.float32))
    assert get_mask(out) is None
    assert not any(layer._passes_masks for layer in model.layers)


def test_layer_without_masking_support_drops_the_mask_with_a_warning():
    with pytest.warns(UserWarning, match=r"Layer 'flat' \(of type Flatten\) was passed an input "
                                         r"with a mask attached to it"):
        out = layers.Flatten(name="flat")(_embedded())
    assert get_mask(out) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layers.Flatten()(np.zeros((2, 3, 4), np.float32))


def test_call_receives_the_mask_when_it_takes_one():
    seen = []

    class Probe(layers.Layer):
        def __init__(self):
            super().__init__()
            self.supports_masking = True

        def call(self, inputs, mask=None):
            seen.append(mask)
            return inputs

    out = Probe()(_embedded())
    np.testing.assert_array_equal(seen[0], IDS != 0)
    np.testing.assert_array_equal(get_mask(out), IDS != 0)
    explicit = np.ones((2, 4), bool)
    out = Probe()(_embedded(), mask=explicit)
    np.testing.assert_array_equal(seen[1], explicit)


def test_merging_layers_combine_masks():
    m1 = np.array([[True, False, True], [False, False, True]])
    m2 = np.array([[False, False, True], [True, False, True]])
    a = masking.set_mask(L.Tensor(np.ones((2, 3, 2), np.float32)), m1)
    b = masking.set_mask(L.Tensor(np.ones((2, 3, 2), np.float32)), m2)
    c = L.Tensor(np.ones((2, 3, 2), np.float32))
    np.testing.assert_array_equal(get_mask(layers.Add()([a, b])), m1 | m2)
    assert get_mask(layers.Multiply()([a, c])) is None  # Keras: None unless all are masked
    np.testing.assert_array_equal(get_mask(layers.Concatenate()([a, b])), m1 | m2)
    np.testing.assert_array_equal(get_mask(layers.Concatenate()([a, c])), np.ones((2, 3), bool))
    np.testing.assert_array_equal(get_mask(layers.Concatenate(axis=1)([a, c])),
                                  np.concatenate([m1, np.ones((2, 3), bool)], axis=1))
    assert get_mask(layers.Dot(axes=2)([a, b])) is None


def test_masking_layer_and_rnn_without_sequences():
    x = np.ones((2, 3, 2), np.float32)
    x[0, 1] = 0.0
    masked = layers.Masking(0.0)(x)
    np.testing.assert_array_equal(get_mask(masked), [[True, False, True], [True, True, True]])
    assert get_mask(layers.SimpleRNN(2)(masked)) is None
    seq = layers.SimpleRNN(2, return_sequences=True)(masked)
    np.testing.assert_array_equal(get_mask(seq), get_mask(masked))


@pytest.mark.parametrize("kind", ["functional", "sequential"])
def test_a_nested_model_passes_the_mask_on_without_a_warning(kind):
    ids = np.array([[0, 0, 3, 4], [5, 6, 0, 0]])
    emb = layers.Embedding(10, 3, mask_zero=True)
    if kind == "functional":
        i = L.Input((4, 3))
        inner = L.Model(i, layers.Dense(3)(i))
    else:
        inner = L.Sequential([L.Input((4, 3)), layers.Dense(3)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = inner(emb(ids))
    np.testing.assert_array_equal(get_mask(out), ids != 0)
