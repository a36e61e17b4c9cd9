"""clone_model (models/cloning.py): the same architecture over new layers and weights."""
import json

import numpy as np
import pytest

import lamina as L
from lamina import layers
from lamina.models import clone_model

rng = np.random.default_rng(0)
X = rng.standard_normal((6, 4)).astype(np.float32)


def graph():
    """Two branches over a shared layer, a nested model, a dict output."""
    inputs = L.Input((4,), name="x")
    shared = layers.Dense(3, name="shared")
    inner_in = L.Input((3,))
    inner = L.Model(inner_in, layers.Dense(2, name="inner_dense")(inner_in), name="inner")
    a = shared(layers.Dense(3, name="left")(inputs))
    b = shared(layers.Dense(3, name="right")(inputs))
    out = {"y": inner(layers.add([a, b], name="sum"))}
    return L.Model(inputs, out, name="graph")


def sequential():
    return L.Sequential([L.Input((4,), name="x"), layers.Dense(3, activation="relu"),
                         layers.Dense(2)], name="seq")


@pytest.mark.parametrize("make", [graph, sequential], ids=["functional", "sequential"])
def test_clone_has_the_architecture_and_new_weights(make):
    model = make()
    clone = clone_model(model)
    assert type(clone) is type(model) and clone.name == model.name
    assert json.dumps(clone.get_config()) == json.dumps(model.get_config())
    assert all(a is not b for a, b in zip(clone.weights, model.weights))
    assert not np.array_equal(clone.get_weights()[0], model.get_weights()[0])
    clone.set_weights(model.get_weights())
    out, want = clone.predict(X, verbose=0), model.predict(X, verbose=0)
    for key in (sorted(out) if isinstance(out, dict) else [None]):
        np.testing.assert_array_equal(out[key] if key else out, want[key] if key else want)


def test_clone_function_input_tensors_and_call_function():
    model = graph()
    seen = []

    def clone_function(layer):
        seen.append(layer.name)
        config = layer.get_config()
        if isinstance(layer, layers.Dense):
            config["use_bias"] = False
        return layer.__class__.from_config(config)

    new_input = L.Input((4,), name="fresh")
    clone = clone_model(model, input_tensors=new_input, clone_function=clone_function)
    assert clone.input_names == ["fresh"]
    assert seen.count("shared") == 1  # a shared layer is cloned once
    assert not clone.get_layer("left").use_bias
    assert len(clone.get_layer("shared")._inbound_nodes) == 2

    def call_function(layer, *args, **kwargs):
        out = layer(*args, **kwargs)
        return layers.Activation("relu")(out) if layer.name == "left" else out

    wrapped = clone_model(model, call_function=call_function)
    assert len(wrapped.layers) == len(model.layers) + 1
    with pytest.raises(ValueError, match="`call_function` argument is not supported with "
                                         "Sequential models"):
        clone_model(sequential(), call_function=call_function)
    with pytest.raises(ValueError, match="`input_tensors` must have the same structure as "
                                         "model.input"):
        clone_model(model, input_tensors=[L.Input((4,)), L.Input((4,))])


def test_recursive_clones_nested_models_layer_by_layer():
    model = graph()
    calls = []

    def clone_function(layer):
        calls.append(type(layer).__name__)
        return layer.__class__.from_config(layer.get_config())

    clone_model(model, clone_function=clone_function, recursive=True)
    assert "Functional" not in calls and calls.count("Dense") == 4


def test_subclassed_models_clone_through_their_config():
    class Net(L.Model):
        def __init__(self, units=3, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.dense = layers.Dense(units)

        def call(self, x):
            return self.dense(x)

    model = Net(units=5)
    model(X)
    clone = clone_model(model)
    assert type(clone) is Net and clone.units == 5 and clone.built
    assert clone.dense.kernel is not model.dense.kernel
    with pytest.raises(ValueError, match="`clone_function` and `input_tensors` are only "
                                         "supported for Sequential models or Functional models"):
        clone_model(model, clone_function=lambda layer: layer)
