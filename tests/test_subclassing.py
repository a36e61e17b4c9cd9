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


# The examples of Keras 3's guide "Customizing what happens in fit()", unchanged but for the
# import: `self.metrics` holds the loss tracker and the compiled metrics.
class GuideModel(L.Model):
    def train_step(self, data):
        x, y = data
        with L.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        trainable_vars = self.trainable_variables
        gradients = tape.gradient(loss, trainable_vars)
        self.optimizer.apply(gradients, trainable_vars)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


class GuideWeightedModel(L.Model):
    def train_step(self, data):
        if len(data) == 3:
            x, y, sample_weight = data
        else:
            sample_weight = None
            x, y = data
        with L.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)
        trainable_vars = self.trainable_variables
        gradients = tape.gradient(loss, trainable_vars)
        self.optimizer.apply(gradients, trainable_vars)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred, sample_weight=sample_weight)
        return {m.name: m.result() for m in self.metrics}


class GuideTestStepModel(L.Model):
    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


class ComputeMetricsModel(L.Model):
    """compute_loss, optimizer.apply, compute_metrics: the loss reaches the logs too."""

    def train_step(self, data):
        x, y = data
        with L.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return self.compute_metrics(x, y, y_pred)


def _guide_model(cls):
    L.utils.set_random_seed(0)
    inputs = L.Input(shape=(5,))
    model = cls(inputs, layers.Dense(1)(inputs))
    model.compile(optimizer=L.optimizers.SGD(0.0), loss="mse", metrics=["mae"])
    return model


@pytest.mark.parametrize("cls", [GuideModel, GuideWeightedModel, ComputeMetricsModel])
def test_custom_train_step_of_the_keras_guide(cls):
    model = _guide_model(cls)
    assert model.metrics_names == ["loss", "compile_metrics"]  # as in Keras 3
    hist = model.fit(X, Y_REG, batch_size=8, epochs=2, verbose=0)
    assert sorted(hist.history) == ["loss", "mae"]
    # learning rate 0: every epoch sees the same weights, so the logs are exact means
    pred = model.predict(X, verbose=0)
    mse = float(np.mean((pred - Y_REG) ** 2))
    mae = float(np.mean(np.abs(pred - Y_REG)))
    np.testing.assert_allclose(hist.history["loss"], [mse, mse], rtol=1e-5)
    np.testing.assert_allclose(hist.history["mae"], [mae, mae], rtol=1e-5)
    (compile_metrics,) = [m for m in model.metrics if m.name == "compile_metrics"]
    assert [m.name for m in compile_metrics.metrics] == ["mae"]
    assert set(compile_metrics.result()) == {"mae"}


def test_custom_train_step_of_the_keras_guide_with_sample_weight():
    model = _guide_model(GuideWeightedModel)
    w = np.linspace(0.1, 1.0, len(X)).astype("float32")
    hist = model.fit(X, Y_REG, sample_weight=w, batch_size=32, epochs=1, verbose=0)
    pred = model.predict(X, verbose=0)
    # compute_loss weighs the loss; `metrics` (not weighted_metrics) ignore the weights
    err = (pred - Y_REG)[:, 0]
    assert hist.history["loss"][0] == pytest.approx(float(np.mean(err ** 2 * w)), rel=1e-5)
    assert hist.history["mae"][0] == pytest.approx(float(np.mean(np.abs(err))), rel=1e-5)


def test_custom_test_step_of_the_keras_guide():
    model = _guide_model(GuideTestStepModel)
    loss, mae = model.evaluate(X, Y_REG, batch_size=32, verbose=0)
    pred = model.predict(X, verbose=0)
    assert loss == pytest.approx(float(np.mean((pred - Y_REG) ** 2)), rel=1e-5)
    assert mae == pytest.approx(float(np.mean(np.abs(pred - Y_REG))), rel=1e-5)


@pytest.mark.parametrize("wrap", [lambda t: [t], lambda t: {"out": t}],
                         ids=["list", "dict"])
def test_call_returning_one_output_in_a_list_or_dict_trains(wrap):
    class One(L.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1)

        def call(self, x):
            return wrap(self.dense(x))

    model = One()
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    hist = model.fit(X, Y_REG, epochs=2, verbose=0)
    assert sorted(hist.history) == ["loss", "mae"]
    loss, mae = model.evaluate(X, Y_REG, verbose=0)
    assert np.isfinite([loss, mae]).all()
    assert np.isfinite(model.train_on_batch(X, Y_REG)).all()
    out = model.predict(X, verbose=0)  # predict keeps the structure, as in Keras
    assert type(out) is type(wrap(None)) and len(out) == 1


def test_overridden_compute_loss_and_compute_metrics_are_used_by_fit_and_evaluate():
    class Doubled(L.Model):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                         training=True):
            return super().compute_loss(x, y, y_pred, sample_weight, training) * 2.0

    class Extra(L.Model):
        seen = []

        def compute_metrics(self, x, y, y_pred, sample_weight=None):
            logs = super().compute_metrics(x, y, y_pred, sample_weight)
            Extra.seen.append(type(y_pred).__name__)
            logs["extra"] = 1.0
            return logs

    for cls in (Doubled, Extra):
        model = _guide_model(cls)
        hist = model.fit(X, Y_REG, batch_size=8, epochs=1, verbose=0)
        pred = model.predict(X, verbose=0)
        mse = float(np.mean((pred - Y_REG) ** 2))
        factor = 2.0 if cls is Doubled else 1.0
        assert hist.history["loss"][0] == pytest.approx(factor * mse, rel=1e-5)
        logs = model.evaluate(X, Y_REG, batch_size=32, verbose=0, return_dict=True)
        assert logs["loss"] == pytest.approx(factor * mse, rel=1e-5)
    assert "extra" in hist.history and Extra.seen[0] == "Tensor"
