"""Sequential and Model: building, layers, summary, weights on disk."""
import numpy as np
import pytest

import lamina as L
from lamina import layers


def _mlp():
    return L.Sequential([L.Input((64,)), layers.Dense(64, activation="relu"),
                         layers.Dropout(0.2), layers.Dense(10, activation="softmax")])


def test_sequential_builds_from_input_and_summary(capsys):
    model = _mlp()
    assert model.built and model.count_params() == 64 * 64 + 64 + 64 * 10 + 10
    assert [type(l).__name__ for l in model.layers] == ["Dense", "Dropout", "Dense"]
    model.summary()
    out = capsys.readouterr().out
    assert "(None, 10)" in out and "Total params: 4,810" in out


def test_sequential_forward_matches_numpy():
    model = _mlp()
    rng = np.random.default_rng(1)
    weights = [rng.standard_normal(w.shape).astype("float32") * 0.1 for w in model.weights]
    model.set_weights(weights)
    x = rng.standard_normal((5, 64)).astype("float32")
    h = np.maximum(x @ weights[0] + weights[1], 0)
    z = h @ weights[2] + weights[3]
    expected = np.exp(z - z.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-6)


def test_deferred_build_add_pop_get_layer():
    model = L.Sequential()
    model.add(layers.Dense(4, name="first"))
    model.add(layers.Dense(2, name="second"))
    assert not model.built
    model(np.zeros((3, 5), "float32"))
    assert model.built and model.get_layer("first").kernel.shape == (5, 4)
    assert model.get_layer(index=1).name == "second"
    with pytest.raises(ValueError, match="no such layer: nope"):
        model.get_layer("nope")
    assert model.pop().name == "second" and len(model.layers) == 1
    with pytest.raises(ValueError, match="Only instances of `lamina.layers.Layer`"):
        model.add("dense")


def test_input_shape_argument_builds():
    model = L.Sequential([layers.Dense(3, input_shape=(7,))])
    assert model.built and model.layers[0].kernel.shape == (7, 3)


def test_save_and_load_weights(tmp_path):
    a, b = _mlp(), _mlp()
    path = tmp_path / "mlp.weights.npz"
    a.save_weights(path)
    b.load_weights(path)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    small = L.Sequential([L.Input((64,)), layers.Dense(3)])
    with pytest.raises(ValueError, match="holds 4 arrays but model .* has 2 weights"):
        small.load_weights(path)


def test_subclassed_model_trains():
    class Net(L.Model):
        def __init__(self):
            super().__init__()
            self.hidden = layers.Dense(8, activation="relu")
            self.out = layers.Dense(1)

        def call(self, x, training=None):
            return self.out(self.hidden(x))

    net = Net()
    x = np.random.default_rng(0).standard_normal((64, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    net.compile(optimizer="adam", loss="mse")
    history = net.fit(x, y, epochs=30, batch_size=16, verbose=0)
    assert len(net.weights) == 4
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_functional_model_rejects_a_non_tensor_output():
    with pytest.raises(ValueError, match="`outputs` must be a symbolic tensor"):
        L.Model(L.Input((3,)), None)


def test_sequential_refuses_two_layers_of_one_name():
    model = L.Sequential([L.Input((3,)), layers.Dense(2, name="hidden")])
    with pytest.raises(ValueError, match="should have unique names. Name 'hidden' is already "
                                         "the name of a layer in model"):
        model.add(layers.Dense(2, name="hidden"))
    assert [layer.name for layer in model.layers] == ["hidden"]


def test_sequential_summary_expand_nested(capsys):
    inner = L.Sequential([L.Input((4,)), layers.Dense(3, name="a1")], name="block")
    model = L.Sequential([L.Input((4,)), inner, layers.Dense(1, name="out")])
    model.summary(expand_nested=True)
    out = capsys.readouterr().out
    assert "│ block (Sequential)" in out and "│    └ a1 (Dense)" in out
