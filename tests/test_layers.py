"""Layers: Keras-layout weights give the documented outputs; naming, tracking, errors."""
import numpy as np
import pytest

import lamina as L
from lamina import layers, ops


def _relu(z):
    return np.maximum(z, 0)


def test_dense_keras_layout_weights_give_numpy_output():
    rng = np.random.default_rng(0)
    layer = layers.Dense(5, activation="relu")
    x = rng.standard_normal((4, 3)).astype("float32")
    layer(x)
    kernel = rng.standard_normal((3, 5)).astype("float32")
    bias = rng.standard_normal(5).astype("float32")
    layer.set_weights([kernel, bias])
    assert [w.shape for w in layer.get_weights()] == [(3, 5), (5,)]
    np.testing.assert_allclose(layer(x).numpy(), _relu(x @ kernel + bias), rtol=1e-5,
                               atol=1e-6)


def test_dense_on_rank3_input_and_custom_activation():
    layer = layers.Dense(2, activation=lambda t: ops.multiply(t, 2.0), use_bias=False)
    x = np.ones((2, 3, 4), "float32")
    out = layer(x)
    assert out.shape == (2, 3, 2) and len(layer.weights) == 1
    np.testing.assert_allclose(out.numpy(), 2 * x @ layer.kernel.numpy(), rtol=1e-5)


def test_auto_names_and_weight_paths():
    a, b = layers.Dense(1), layers.Dense(1)
    assert a.name.startswith("dense") and b.name != a.name
    a(np.zeros((1, 2), "float32"))
    assert [w.path for w in a.weights] == [f"{a.name}/kernel", f"{a.name}/bias"]
    assert layers.Dropout(0.1).name.startswith("dropout")


def test_input_spec_error_names_layer_and_shapes():
    layer = layers.Dense(3, name="dense_check")
    layer(np.zeros((2, 64), "float32"))
    with pytest.raises(ValueError, match=r"Input 0 of layer 'dense_check' is incompatible: "
                                         r"expected last axis 64, got shape \(32, 63\)"):
        layer(np.zeros((32, 63), "float32"))


def test_set_weights_errors():
    layer = layers.Dense(3, name="dense_sw")
    layer(np.zeros((1, 2), "float32"))
    with pytest.raises(ValueError, match=r"weight 'dense_sw/kernel' has shape \(2, 3\), but the "
                                         r"provided value has shape \(2, 4\)"):
        layer.set_weights([np.zeros((2, 4)), np.zeros(3)])
    with pytest.raises(ValueError, match="expects 2 weights.*received 1"):
        layer.set_weights([np.zeros((2, 3))])


def test_trainable_flag_moves_weights():
    layer = layers.Dense(2)
    layer(np.zeros((1, 2), "float32"))
    assert len(layer.trainable_weights) == 2 and not layer.non_trainable_weights
    layer.trainable = False
    assert not layer.trainable_weights and len(layer.non_trainable_weights) == 2
    layer.trainable = True
    assert len(layer.trainable_weights) == 2


def test_dropout_training_only_and_scaling():
    layer = layers.Dropout(0.5, seed=1)
    x = np.ones((200, 10), "float32")
    np.testing.assert_array_equal(layer(x).numpy(), x)
    y = layer(x, training=True).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0} and 0.3 < (y == 0).mean() < 0.7
    with pytest.raises(ValueError, match="rate"):
        layers.Dropout(1.5)


def test_flatten_reshape_activation():
    x = np.arange(24, dtype="float32").reshape(2, 3, 4)
    assert layers.Flatten()(x).shape == (2, 12)
    assert layers.Reshape((4, -1))(x).shape == (2, 4, 3)
    assert layers.Reshape((4, -1)).compute_output_shape((None, 3, 4)) == (None, 4, 3)
    np.testing.assert_allclose(layers.Activation("relu")(x - 5).numpy(), _relu(x - 5))


class Affine(layers.Layer):
    """A user's layer written with add_weight and lamina.ops only."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")

    def call(self, x):
        return ops.matmul(x, self.w) + self.b


class Block(layers.Layer):
    def __init__(self):
        super().__init__()
        self.parts = [Affine(4), layers.Dense(2)]
        self.scale = L.Variable(np.ones((), "float32"), name="scale")

    def call(self, x, training=None):
        for p in self.parts:
            x = p(x)
        return x * self.scale


def test_user_layer_tracks_sublayers_and_variables_and_trains():
    block = Block()
    x = np.random.default_rng(0).standard_normal((8, 3)).astype("float32")
    block(x)
    names = [w.name for w in block.weights]
    assert names == ["scale", "w", "b", "kernel", "bias"]
    with L.GradientTape() as tape:
        loss = ops.mean(ops.square(block(x)))
    grads = tape.gradient(loss, block.trainable_weights)
    assert all(g is not None for g in grads)


def test_input_returns_placeholder_with_shape():
    t = L.Input((64,))
    assert t.shape == (None, 64)
    out = layers.Dense(3)(t)
    assert out.shape == (None, 3)


@pytest.mark.parametrize("cls,prefix", [("Dense", "dense"), ("Conv2D", "conv2d"),
                                        ("MaxPooling2D", "max_pooling2d"),
                                        ("Conv2DTranspose", "conv2d_transpose"),
                                        ("BatchNormalization", "batch_normalization")])
def test_automatic_names_follow_keras(cls, prefix):
    from lamina.layers.layer import snake_case
    assert snake_case(cls) == prefix
    layer = getattr(layers, cls)(**({"units": 2} if cls == "Dense" else
                                   {"filters": 2, "kernel_size": 1} if "Conv" in cls else {}))
    assert layer.name == prefix or layer.name.startswith(prefix + "_")


def test_repeat_vector():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    layer = layers.RepeatVector(4)
    out = layer(x)
    np.testing.assert_array_equal(out.data, np.repeat(x[:, None], 4, axis=1))
    assert layer.compute_output_shape((None, 3)) == (None, 4, 3)
    assert layers.RepeatVector.from_config(layer.get_config()).n == 4
    v = L.Variable(x)
    with L.GradientTape() as tape:
        loss = ops.sum(ops.multiply(layer(v), np.arange(4, dtype=np.float32)[None, :, None]))
    np.testing.assert_array_equal(tape.gradient(loss, [v])[0].data, np.full((2, 3), 6.0))
    with pytest.raises(ValueError, match=r"RepeatVector 'rv': `n` must be a positive integer, "
                                         r"got 0"):
        layers.RepeatVector(0, name="rv")
    with pytest.raises(ValueError, match=r"expected ndim=2, got ndim=3"):
        layer(np.zeros((2, 3, 1), np.float32))


def test_spatial_dropout1d_drops_whole_channels():
    x = np.ones((4, 6, 8), np.float32)
    layer = layers.SpatialDropout1D(0.5, seed=2)
    np.testing.assert_array_equal(layer(x).data, x)
    out = layer(x, training=True).data
    assert np.all((out == 0) | (out == 2.0))
    np.testing.assert_array_equal(out, np.broadcast_to(out[:, :1], out.shape))  # per channel
    assert 0 < (out == 0).mean() < 1
    assert layers.SpatialDropout1D.from_config(layer.get_config()).rate == 0.5
    with pytest.raises(ValueError, match=r"expected ndim=3"):
        layer(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"SpatialDropout1D 'sd': invalid value received for "
                                         r"argument `rate`"):
        layers.SpatialDropout1D(1.5, name="sd")
