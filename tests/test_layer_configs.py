"""Every public layer's config round-trips: get_config -> from_config gives the same config
(also through JSON, as a saved model carries it), names every constructor argument, and the
clone computes the same output and penalties with the same weights."""
import inspect
import json

import numpy as np
import pytest

import lamina as L
from lamina import layers
from lamina.saving import deserialize_keras_object, serialize_keras_object

rng = np.random.default_rng(0)


def x_of(*shape):
    return lambda: rng.standard_normal(shape).astype(np.float32)


def pair_of(*shape):
    return lambda: [x_of(*shape)(), x_of(*shape)()]


# name -> (the layer with typical, mostly non-default arguments, an input for it)
CASES = {
    "InputLayer": (lambda: layers.InputLayer(shape=(3,), name="features"), x_of(2, 3)),
    "Dense": (lambda: layers.Dense(4, activation="relu", kernel_initializer="he_normal",
                                   bias_initializer="ones", kernel_regularizer="l2",
                                   bias_regularizer="l1", activity_regularizer="l1",
                                   kernel_constraint="non_neg",
                                   bias_constraint=L.constraints.MaxNorm(1.5)), x_of(2, 3)),
    "Activation": (lambda: layers.Activation("tanh"), x_of(2, 3)),
    "Dropout": (lambda: layers.Dropout(0.3, noise_shape=(None, 1), seed=3), x_of(2, 3)),
    "Flatten": (lambda: layers.Flatten(), x_of(2, 3, 4)),
    "Reshape": (lambda: layers.Reshape((2, 6)), x_of(2, 3, 4)),
    "Conv1D": (lambda: layers.Conv1D(3, 2, padding="causal", dilation_rate=2,
                                     activation="relu", kernel_regularizer="l2"), x_of(2, 7, 4)),
    "Conv2D": (lambda: layers.Conv2D(4, 3, padding="same", groups=2, activation="sigmoid",
                                     kernel_regularizer="l1", bias_constraint="non_neg"),
               x_of(2, 6, 6, 4)),
    "DepthwiseConv2D": (lambda: layers.DepthwiseConv2D(3, depth_multiplier=2,
                                                       depthwise_regularizer="l2"),
                        x_of(2, 6, 6, 3)),
    "SeparableConv2D": (lambda: layers.SeparableConv2D(5, 3, strides=2,
                                                       pointwise_constraint="non_neg"),
                        x_of(2, 7, 7, 3)),
    "Conv2DTranspose": (lambda: layers.Conv2DTranspose(3, 3, strides=2, output_padding=1,
                                                       activity_regularizer="l1"),
                        x_of(2, 4, 4, 2)),
    "MaxPooling1D": (lambda: layers.MaxPooling1D(2, strides=1, padding="same"), x_of(2, 5, 3)),
    "MaxPooling2D": (lambda: layers.MaxPooling2D((2, 3)), x_of(2, 6, 6, 3)),
    "AveragePooling1D": (lambda: layers.AveragePooling1D(3), x_of(2, 7, 3)),
    "AveragePooling2D": (lambda: layers.AveragePooling2D(2, padding="same"), x_of(2, 5, 5, 3)),
    "GlobalAveragePooling1D": (lambda: layers.GlobalAveragePooling1D(keepdims=True),
                               x_of(2, 5, 3)),
    "GlobalAveragePooling2D": (lambda: layers.GlobalAveragePooling2D(), x_of(2, 4, 4, 3)),
    "GlobalMaxPooling1D": (lambda: layers.GlobalMaxPooling1D(), x_of(2, 5, 3)),
    "GlobalMaxPooling2D": (lambda: layers.GlobalMaxPooling2D(keepdims=True), x_of(2, 4, 4, 3)),
    "BatchNormalization": (lambda: layers.BatchNormalization(momentum=0.9, epsilon=1e-2,
                                                             gamma_regularizer="l2",
                                                             beta_constraint="non_neg"),
                           x_of(4, 3)),
    "ZeroPadding2D": (lambda: layers.ZeroPadding2D(((1, 2), (0, 1))), x_of(2, 3, 3, 2)),
    "UpSampling2D": (lambda: layers.UpSampling2D((2, 3)), x_of(2, 3, 3, 2)),
    "SpatialDropout2D": (lambda: layers.SpatialDropout2D(0.2, seed=1), x_of(2, 3, 3, 2)),
    "Add": (lambda: layers.Add(), pair_of(2, 3)),
    "Subtract": (lambda: layers.Subtract(), pair_of(2, 3)),
    "Multiply": (lambda: layers.Multiply(), pair_of(2, 3)),
    "Average": (lambda: layers.Average(), pair_of(2, 3)),
    "Maximum": (lambda: layers.Maximum(), pair_of(2, 3)),
    "Minimum": (lambda: layers.Minimum(), pair_of(2, 3)),
    "Concatenate": (lambda: layers.Concatenate(axis=1), pair_of(2, 3)),
    "Dot": (lambda: layers.Dot(axes=1, normalize=True), pair_of(2, 3)),
    "Embedding": (lambda: layers.Embedding(10, 4, mask_zero=True, embeddings_regularizer="l2"),
                  lambda: rng.integers(0, 10, (2, 5))),
    "Masking": (lambda: layers.Masking(mask_value=0.5), x_of(2, 5, 3)),
    "LSTM": (lambda: layers.LSTM(4, return_sequences=True, kernel_regularizer="l2",
                                 unit_forget_bias=False), x_of(2, 5, 3)),
    "GRU": (lambda: layers.GRU(3, reset_after=False, recurrent_constraint="non_neg"),
            x_of(2, 5, 3)),
    "SimpleRNN": (lambda: layers.SimpleRNN(3, activation="relu", bias_regularizer="l1"),
                  x_of(2, 5, 3)),
    "Bidirectional": (lambda: layers.Bidirectional(layers.LSTM(3), merge_mode="sum"),
                      x_of(2, 5, 3)),
    "TimeDistributed": (lambda: layers.TimeDistributed(layers.Dense(2)), x_of(2, 5, 3)),
    "RNN": (lambda: layers.RNN(layers.GRUCell(3, recurrent_dropout=0.2), return_sequences=True,
                               go_backwards=True), x_of(2, 5, 3)),
    # cells are called as cell(inputs, states): their "input" is that pair of arguments
    "LSTMCell": (lambda: layers.LSTMCell(3, kernel_regularizer="l2"),
                 lambda: CellArgs(x_of(2, 4)(), [x_of(2, 3)(), x_of(2, 3)()])),
    "GRUCell": (lambda: layers.GRUCell(3, reset_after=False),
                lambda: CellArgs(x_of(2, 4)(), [x_of(2, 3)()])),
    "SimpleRNNCell": (lambda: layers.SimpleRNNCell(3, activation="relu"),
                      lambda: CellArgs(x_of(2, 4)(), [x_of(2, 3)()])),
    "StackedRNNCells": (lambda: layers.StackedRNNCells([layers.SimpleRNNCell(3),
                                                        layers.GRUCell(2)]),
                        lambda: CellArgs(x_of(2, 4)(), [x_of(2, 3)(), x_of(2, 2)()])),
    "RepeatVector": (lambda: layers.RepeatVector(3), x_of(2, 4)),
    "SpatialDropout1D": (lambda: layers.SpatialDropout1D(0.3, seed=2), x_of(2, 5, 3)),
}

# Constructor arguments Keras does not keep in the config either: initial weights, LoRA (off),
# an InputLayer's shape and batch_size (kept as batch_shape) and input tensor; and a base
# class' argument that a subclass sets itself (LSTM makes its own cell, SpatialDropout1D its
# own noise shape, SimpleRNNCell has no recurrent activation).
NOT_IN_CONFIG = {"weights", "lora_rank", "shape", "batch_size", "input_tensor"}
SET_BY_SUBCLASS = {"LSTM": {"cell"}, "GRU": {"cell"}, "SimpleRNN": {"cell"},
                   "SimpleRNNCell": {"recurrent_activation"}, "SpatialDropout1D": {"noise_shape"}}


class CellArgs(tuple):
    """The (inputs, states) a cell is called with."""

    def __new__(cls, inputs, states):
        return super().__new__(cls, (inputs, states))


def _call(layer, x):
    if isinstance(x, CellArgs):
        return layer(x[0], x[1], training=False)
    return layer(x, training=False)

def _cases():
    return [pytest.param(name, id=name) for name in sorted(CASES)]


def _constructor_arguments(cls):
    """The arguments of cls.__init__ and, through **kwargs, of its bases' up to Layer (whose
    own name, trainable and dtype the base config writes)."""
    names = set()
    for klass in cls.__mro__:
        if klass is layers.Layer or not issubclass(klass, layers.Layer) or \
                "__init__" not in vars(klass):
            continue
        params = inspect.signature(vars(klass)["__init__"]).parameters.values()
        names |= {p.name for p in params if p.name != "self" and
                  p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return names


def test_every_public_layer_has_a_case():
    public = {name for name in layers.__all__
              if isinstance(getattr(layers, name), type) and
              issubclass(getattr(layers, name), layers.Layer) and name != "Layer"}
    assert public == set(CASES)


def _penalty(layer):
    return sum(float(np.asarray(getattr(p, "data", p))) for p in layer.losses)


@pytest.mark.parametrize("name", _cases())
def test_layer_config_round_trips(name):
    make, make_input = CASES[name]
    layer = make()
    x = make_input()
    y = _call(layer, x)
    config = layer.get_config()
    assert _constructor_arguments(type(layer)) - set(config) - NOT_IN_CONFIG - \
        SET_BY_SUBCLASS.get(name, set()) == set()

    assert type(layer).from_config(config).get_config() == config
    saved = json.loads(json.dumps(serialize_keras_object(layer)))
    clone = deserialize_keras_object(saved)
    assert type(clone) is type(layer)
    assert json.dumps(clone.get_config()) == json.dumps(config)

    if layer.weights:
        assert clone.built  # from the build_config
        clone.set_weights(layer.get_weights())
    out = _call(clone, x)
    for a, b in zip(L.layers.symbolic.flatten(out), L.layers.symbolic.flatten(y)):
        np.testing.assert_array_equal(a.data, b.data)
    assert _penalty(clone) == _penalty(layer)


def test_layer_names_configs_and_errors_follow_keras():
    with pytest.raises(ValueError, match=r"Dense: Argument `name` must be a string and cannot "
                                         r"contain character `/`\. Received: name='a/b'"):
        layers.Dense(2, name="a/b")
    with pytest.raises(TypeError, match=r"(?s)Error when deserializing class 'Dense' using "
                                        r"config=.*unrecognized keyword arguments: \['bogus'\]"):
        layers.Dense.from_config({"units": 2, "bogus": 1})
    flatten = layers.Flatten(activity_regularizer="l2")
    config = flatten.get_config()
    assert config["activity_regularizer"] == {"class_name": "L2", "config": {"l2": 0.01}}
    assert isinstance(layers.Flatten.from_config(config).activity_regularizer, L.regularizers.L2)
    assert layers.Dense(2).get_build_config() is None
