"""Subclassed models and layers: attribute tracking (weights, nested layers, lists and dicts of
layers), call(inputs, training), compile/fit/evaluate/predict with several inputs and outputs,
custom training loops with GradientTape, and an overridden train_step."""
import numpy as np
import pytest

import lamina as L
from lamina import layers

RNG = np.random.default_rng(0)
X = RNG.standard_normal((32, 5)).astype("float32")
Y_CLS = (X[:, 0] > 0).astype("int64")
Y_REG = X[:, :1] * 2.0


class Block(layers.Layer):
    """A composite layer: two Dense sublayers and its own scale weight."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.inner = [layers.Dense(units, activation="relu"), layers.Dense(units)]

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(1,), initializer="ones", name="scale")

    def call(self, x):
        return self.inner[1](self.inner[0](x)) * self.scale


class TwoHeads(L.Model):
    def __init__(self):
        super().__init__()
        self.block = Block(8)
        self.dropout = layers.Dropout(0.5)
        self.heads = {"cls": layers.Dense(2, activation="softmax"), "reg": layers.Dense(1)}

    def call(self, inputs, training=None):
        h = self.dropout(self.block(inputs), training=training)
        return {"cls": self.heads["cls"](h), "reg": self.heads["reg"](h)}


def test_tracking_of_nested_layers_lists_and_dicts():
    model = TwoHeads()
    model(X[:2])
    # own weights first, then sublayers in assignment order (Keras' order)
    d0, d1 = model.block.inner
    expected = [model.block.scale, d0.kernel, d0.bias, d1.kernel, d1.bias,
                model.heads["cls"].kernel, model.heads["cls"].bias,
                model.heads["reg"].kernel, model.heads["reg"].bias]
    assert [id(v) for v in model.weights] == [id(v) for v in expected]
    assert len(model.trainable_weights) == 9
    assert model.block in model.layers and model.dropout in model.layers
    model.block.trainable = False
    assert len(model.trainable_weights) == 4
    model.block.trainable = True


def test_subclassed_multi_output_fit_evaluate_predict():
    L.utils.set_random_seed(0)
    model = TwoHeads()
    model.compile(optimizer="adam", loss={"cls": "sparse_categorical_crossentropy",
                                          "reg": "mse"},
                  loss_weights={"cls": 1.0, "reg": 0.5}, metrics={"cls": ["accuracy"]})
    hist = model.fit(X, {"cls": Y_CLS, "reg": Y_REG}, epochs=5, batch_size=8, verbose=0)
    assert sorted(hist.history) == ["cls_accuracy", "cls_loss", "loss", "reg_loss"]
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    out = model.predict(X, verbose=0)
    assert out["cls"].shape == (32, 2) and out["reg"].shape == (32, 1)
    logs = model.evaluate(X, {"cls": Y_CLS, "reg": Y_REG}, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(logs["cls_loss"] + 0.5 * logs["reg_loss"], rel=1e-5)


def test_subclassed_model_with_two_inputs_as_a_list():
    class Pair(L.Model):
        def __init__(self):
            super().__init__()
            self.a = layers.Dense(4)
            self.b = layers.Dense(4)
            self.out = layers.Dense(1)

        def call(self, inputs):
            left, right = inputs
            return self.out(layers.add([self.a(left), self.b(right)]))

    model = Pair()
    model.compile(optimizer="sgd", loss="mse")
    hist = model.fit([X, X[:, :3]], Y_REG, epochs=2, verbose=0)
    assert np.isfinite(hist.history["loss"]).all()
    assert model.predict([X, X[:, :3]], verbose=0).shape == (32, 1)


def test_custom_training_loop_with_gradient_tape():
    inp = L.Input((5,))
    h = layers.Dense(8, activation="relu")(inp)
    model = L.Model(inp, [layers.Dense(2, activation="softmax")(h), layers.Dense(1)(h)])
    opt = L.optimizers.Adam(0.01)
    cls_loss = L.losses.SparseCategoricalCrossentropy()
    reg_loss = L.losses.MeanSquaredError()
    first = None
    for step in range(30):
        with L.GradientTape() as tape:
            p_cls, p_reg = model(X, training=True)
            loss = cls_loss(Y_CLS, p_cls) + 0.5 * reg_loss(Y_REG, p_reg)
        grads = tape.gradient(loss, model.trainable_weights)
        if step % 2:
            opt.apply_gradients(zip(grads, model.trainable_weights))
        else:
            opt.apply(grads, model.trainable_weights)
        first = float(loss.data) if first is None else first
    assert float(loss.data) < first


def test_overridden_train_step_sees_the_users_structures():
    seen = {}

    class Custom(L.Model):
        def train_step(self, data):
            x, y = data
            seen["y"] = sorted(y) if isinstance(y, dict) else type(y).__name__
            seen["x"] = type(x).__name__
            with L.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(x, y, y_pred)
            grads = tape.gradient(loss, self.trainable_weights)
            self.optimizer.apply(grads, self.trainable_weights)
            return self.compute_metrics(x, y, y_pred)

    inp = L.Input((5,), name="features")
    h = layers.Dense(4, activation="relu")(inp)
    model = Custom(inp, {"cls": layers.Dense(2, activation="softmax")(h),
                         "reg": layers.Dense(1)(h)})
    model.compile(optimizer="sgd", loss={"cls": "sparse_categorical_crossentropy",
                                         "reg": "mse"}, metrics={"reg": ["mae"]})
    hist = model.fit({"features": X}, {"reg": Y_REG, "cls": Y_CLS}, epochs=2, verbose=0)
    assert seen == {"x": "dict", "y": ["cls", "reg"]}
    assert {"loss", "cls_loss", "reg_loss", "reg_mae"} == set(hist.history)
