"""Models the saving and config tests share: a Sequential, a two-input functional model with
dict outputs, a shared layer and nested models, and registered custom classes."""
import numpy as np

import lamina as L
from lamina import layers
from lamina.saving import register_keras_serializable

rng = np.random.default_rng(0)
X = rng.standard_normal((24, 5)).astype(np.float32)
Y = rng.integers(0, 3, 24)


@register_keras_serializable(package="lamina_tests", name="TwoLayerNet")
class TwoLayerNet(L.Model):
    """A subclassed model with plain constructor arguments: Keras' automatic config."""

    def __init__(self, units=8, classes=3, **kwargs):
        super().__init__(**kwargs)
        self.units, self.classes = units, classes
        self.hidden = layers.Dense(units, activation="relu")
        self.out = layers.Dense(classes, activation="softmax")

    def call(self, x):
        return self.out(self.hidden(x))


@register_keras_serializable(package="lamina_tests")
class Scale(layers.Layer):
    """A registered custom layer with its own weight and get_config."""

    def __init__(self, init=1.0, **kwargs):
        super().__init__(**kwargs)
        self.init = init

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), name="scale",
                                 initializer=L.initializers.Constant(self.init))

    def call(self, x):
        return L.ops.multiply(x, self.w)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["init"] = self.init
        return config


def sequential():
    L.utils.set_random_seed(0)
    return L.Sequential([L.Input((5,), name="features"),
                         layers.Dense(8, activation="relu", name="hidden"),
                         layers.Dropout(0.2, seed=7, name="dropout"),
                         layers.BatchNormalization(name="norm"),
                         layers.Dense(3, activation="softmax", name="out")], name="mlp")


def two_heads():
    """Two inputs, dict outputs, a layer shared by two branches, a nested functional model and
    a nested Sequential."""
    L.utils.set_random_seed(0)
    text, tags = L.Input((5,), name="text"), L.Input((4,), name="tags")
    shared = layers.Dense(6, activation="tanh", name="shared")
    a = shared(layers.Dense(6, name="text_proj")(text))
    b = shared(layers.Dense(6, name="tags_proj")(tags))
    inner_in = L.Input((12,), name="inner_in")
    inner = L.Model(inner_in, Scale(0.5, name="scale")(layers.Dense(4, name="inner_dense")(
        inner_in)), name="inner")
    merged = layers.concatenate([a, b], name="merged")
    block = L.Sequential([L.Input((12,)), layers.Dense(4, name="block_dense")], name="block")
    z = layers.add([inner(merged), block(merged)], name="sum")
    outputs = {"priority": layers.Dense(1, activation="sigmoid", name="priority")(z),
               "department": layers.Dense(3, activation="softmax", name="department")(merged)}
    model = L.Model([text, tags], outputs, name="triage")
    model.compile(optimizer="adam",
                  loss={"priority": "binary_crossentropy",
                        "department": "sparse_categorical_crossentropy"},
                  loss_weights={"priority": 1.0, "department": 0.5},
                  metrics={"department": ["accuracy"]})
    return model


def two_head_data():
    x = [X, rng.standard_normal((24, 4)).astype(np.float32)]
    y = {"priority": (Y > 0).astype(np.float32)[:, None], "department": Y}
    return x, y


def assert_same_outputs(a, b):
    if isinstance(a, dict):
        assert sorted(a) == sorted(b)
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
    else:
        np.testing.assert_array_equal(a, b)
