"""fit / evaluate / predict: Keras semantics, seeded reproducibility, every error path."""
import re

import numpy as np
import pytest

import lamina as L
from lamina import layers
from lamina.datasets import digits


def _digits():
    (x, y), (xt, yt) = digits.load_data()
    return (x.reshape(-1, 64).astype("float32") / 16, y), \
        (xt.reshape(-1, 64).astype("float32") / 16, yt)


def _mlp(seed=0, optimizer="adam"):
    L.utils.set_random_seed(seed)
    model = L.Sequential([L.Input((64,)), layers.Dense(64, activation="relu"),
                          layers.Dropout(0.2), layers.Dense(10, activation="softmax")])
    model.compile(optimizer=L.optimizers.Adam(0.003) if optimizer == "adam" else optimizer,
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_digits_mlp_reaches_95_percent_and_is_reproducible():
    (x, y), (xt, yt) = _digits()
    a = _mlp(seed=0)
    history = a.fit(x, y, epochs=30, batch_size=32, validation_split=0.1, verbose=0)
    loss, accuracy = a.evaluate(xt, yt, verbose=0)
    assert accuracy >= 0.95
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert history.epoch == list(range(30)) and len(history.history["loss"]) == 30
    b = _mlp(seed=0)
    b.fit(x, y, epochs=30, batch_size=32, validation_split=0.1, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


class Recorder(L.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.sizes = []

    def on_train_batch_begin(self, batch, logs=None):
        self.seen = batch

    def on_train_batch_end(self, batch, logs=None):
        self.sizes.append(logs["loss"])


def test_validation_split_takes_last_samples_and_partial_batch_is_kept():
    x = np.arange(100, dtype="float32").reshape(100, 1)
    y = np.zeros((100, 1), "float32")
    model = L.Sequential([L.Input((1,)), layers.Dense(1, use_bias=False)])
    model.compile(optimizer="sgd", loss="mse")
    seen = []
    orig = model._fast_train_step

    def spy(xb, yb, wb):
        seen.append(xb.copy())
        return orig(xb, yb, wb)

    model._fast_train_step = spy
    model.fit(x, y, batch_size=32, epochs=1, validation_split=0.2, verbose=0)
    trained = np.concatenate(seen).ravel()
    assert sorted(trained.tolist()) == list(range(80))  # the last 20 samples are validation
    assert [len(b) for b in seen] == [32, 32, 16]


def test_evaluate_return_forms_and_predict_shape():
    (x, y), _ = _digits()
    model = _mlp()
    model.fit(x[:200], y[:200], epochs=1, verbose=0)
    values = model.evaluate(x[:50], y[:50], verbose=0)
    assert isinstance(values, list) and len(values) == 2
    logs = model.evaluate(x[:50], y[:50], verbose=0, return_dict=True)
    assert sorted(logs) == ["accuracy", "loss"] and logs["loss"] == pytest.approx(values[0])
    assert model.predict(x[:33], batch_size=8, verbose=0).shape == (33, 10)
    plain = L.Sequential([L.Input((64,)), layers.Dense(10, activation="softmax")])
    plain.compile(loss="sparse_categorical_crossentropy")
    assert isinstance(plain.evaluate(x[:10], y[:10], verbose=0), float)
    assert isinstance(plain.optimizer, L.optimizers.RMSprop)  # Keras' default optimizer


def test_train_test_predict_on_batch():
    (x, y), _ = _digits()
    model = _mlp()
    loss, acc = model.train_on_batch(x[:32], y[:32])
    assert np.isfinite(loss) and 0 <= acc <= 1
    assert len(model.test_on_batch(x[:32], y[:32])) == 2
    assert model.predict_on_batch(x[:4]).shape == (4, 10)


def test_sample_weight_zero_ignores_samples():
    x = np.ones((8, 1), "float32")
    y = np.concatenate([np.zeros((4, 1)), np.full((4, 1), 100.0)]).astype("float32")
    model = L.Sequential([L.Input((1,)), layers.Dense(1, use_bias=False,
                                                      kernel_initializer="zeros")])
    model.compile(optimizer="sgd", loss="mse")
    w = np.array([1, 1, 1, 1, 0, 0, 0, 0], "float32")
    model.fit(x, y, sample_weight=w, epochs=5, batch_size=8, verbose=0)
    np.testing.assert_array_equal(model.get_weights()[0], [[0.0]])


def test_custom_train_step_is_used():
    class Custom(L.Sequential):
        calls = 0

        def train_step(self, data):
            x, y = data
            Custom.calls += 1
            with L.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(x, y, y_pred)
            grads = tape.gradient(loss, self.trainable_weights)
            self.optimizer.apply(grads, self.trainable_weights)
            return {"loss": float(loss.data), "custom": 1.0}

    model = Custom([L.Input((2,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(np.ones((10, 2), "float32"), np.ones((10, 1), "float32"),
                        batch_size=5, epochs=2, verbose=0)
    assert Custom.calls == 4 and history.history["custom"] == [1.0, 1.0]


@pytest.mark.parametrize("kwargs,message", [
    (dict(x=np.zeros((100, 64)), y=np.zeros(90)), "x has 100 samples but y has 90"),
    (dict(x=np.zeros((0, 64)), y=np.zeros(0)), "`x` is empty"),
    (dict(x=np.zeros((10, 64)), y=np.zeros(10), validation_split=1.0),
     r"`validation_split` must be in \[0, 1\)"),
    (dict(x=np.zeros((1, 64)), y=np.zeros(1), validation_split=0.5),
     "not sufficient to split it"),
    (dict(x=np.zeros((10, 64)), y=np.zeros(10), batch_size=0),
     "`batch_size` must be a positive integer"),
])
def test_fit_argument_errors(kwargs, message):
    model = _mlp()
    with pytest.raises(ValueError, match=message):
        model.fit(verbose=0, **kwargs)


def _sequential4():
    model = L.Sequential([L.Input((4,), name="features"), layers.Dense(3)])
    model.compile(optimizer="sgd", loss="mse")
    return model


@pytest.mark.parametrize("x,error,message", [
    (np.zeros((10, 5)), ValueError,
     r"fit: `x` has shape \(10, 5\), but model '.*' expects input of shape \(None, 4\)"),
    (np.zeros(10), ValueError,
     r"fit: `x` has shape \(10,\), but model '.*' expects input of shape \(None, 4\)"),
    (np.full((10, 4), "a"), TypeError, r"fit: `x` holds strings \(dtype <U1"),
    (np.array([[1, 2, 3, 4]] * 9 + [[1, 2]], dtype=object), TypeError,
     r"fit: `x` has dtype object \(shape \(10,\)\); expected numbers"),
    (np.ones((10, 4)) + 1j, TypeError, r"fit: `x` is complex \(dtype complex128\)"),
    ({"pixels": np.zeros((10, 4))}, ValueError,
     r"fit: `x` has key\(s\) \['pixels'\] that name no model input; expected keys "
     r"\['features'\]"),
    ((np.zeros((2, 4)) for _ in range(5)), TypeError,
     "fit: `x` is a generator: Python generators, iterators and datasets are not supported"),
    (object(), TypeError, r"fit: `x` is a object, not an array"),
])
def test_fit_data_errors_name_the_argument_and_the_whole_array(x, error, message):
    with pytest.raises(error, match=message):
        _sequential4().fit(x, np.zeros((10, 3)), verbose=0)


def test_fit_data_errors_of_other_arguments_and_the_model_probe():
    model = _sequential4()
    with pytest.raises(TypeError, match=r"fit: `y` holds strings"):
        model.fit(np.zeros((10, 4)), np.full((10, 3), "b"), verbose=0)
    with pytest.raises(ValueError, match="fit: `verbose` must be 'auto', 0, 1 or 2, got 'foo'"):
        model.fit(np.zeros((10, 4)), np.zeros((10, 3)), verbose="foo")
    with pytest.raises(ValueError, match="evaluate: `verbose` must be"):
        model.evaluate(np.zeros((10, 4)), np.zeros((10, 3)), verbose=3)
    with pytest.raises(ValueError, match=r"predict: `x` has shape \(10, 5\)"):
        model.predict(np.zeros((10, 5)), verbose=0)
    # A model without known input shapes is probed on one sample: the message says so and
    # gives the whole array's shape.
    free = L.Sequential([layers.Dense(3), layers.LSTM(2)])
    free.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"fit: model '.*' cannot run on `x` \(shape "
                                         r"\(10, 4\)\); on its first sample: .*lstm"):
        free.fit(np.zeros((10, 4)), np.zeros((10, 2)), verbose=0)


def test_sequential_takes_its_input_by_name_in_a_dict():
    model = _sequential4()
    hist = model.fit({"features": np.zeros((10, 4))}, np.zeros((10, 3)), verbose=0)
    assert np.isfinite(hist.history["loss"]).all()


@pytest.mark.parametrize("outputs", ["list", "dict"])
def test_single_output_in_a_list_or_dict_trains_and_predicts_its_structure(outputs):
    a, b = L.Input((3,)), L.Input((3,))
    o = layers.Dense(1, name="o")(layers.concatenate([a, b]))
    model = L.Model([a, b], [o] if outputs == "list" else {"o": o})
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    x = np.random.default_rng(0).random((20, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    hist = model.fit([x, x], y, batch_size=8, epochs=2, verbose=0)
    assert sorted(hist.history) == ["loss", "mae"]
    loss, mae = model.evaluate([x, x], y, verbose=0)
    assert np.isfinite([loss, mae]).all()
    assert len(model.train_on_batch([x, x], y)) == 2
    assert len(model.test_on_batch([x, x], y)) == 2
    out = model.predict([x, x], verbose=0)
    if outputs == "list":
        assert isinstance(out, list) and out[0].shape == (20, 1)
    else:
        assert list(out) == ["o"] and out["o"].shape == (20, 1)


def test_class_weight_weighs_the_training_part_only():
    rng = np.random.default_rng(0)
    x = rng.random((40, 4)).astype("float32")
    y = (rng.random(40) > 0.5).astype("int64")
    model = L.Sequential([L.Input((4,)), layers.Dense(2, activation="softmax")])
    model.compile(optimizer=L.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
    hist = model.fit(x, y, validation_split=0.25, class_weight={0: 10.0, 1: 1.0},
                     batch_size=40, verbose=0)
    unweighted = model.evaluate(x[30:], y[30:], verbose=0)
    weighted = model.evaluate(x[:30], y[:30], sample_weight=np.where(y[:30] == 0, 10.0, 1.0),
                              verbose=0)
    assert hist.history["val_loss"][0] == pytest.approx(unweighted, rel=1e-6)
    assert hist.history["loss"][0] == pytest.approx(weighted, rel=1e-6)


@pytest.mark.parametrize("bad", [
    dict(loss="mse", loss_weights=[1, 2, 3]),
    dict(loss="msee"),
    dict(loss="mse", metrics="mae"),
])
def test_a_failed_compile_leaves_the_model_as_it_was(bad):
    model = _sequential4()
    optimizer = model.optimizer
    inp = L.Input((4,))
    functional = L.Model(inp, layers.Dense(3)(inp))
    functional.compile(optimizer="sgd", loss="mse")
    for m in (model, functional):
        before = m.optimizer
        with pytest.raises(ValueError):
            m.compile(optimizer="adam", **bad)
        assert m.optimizer is before
        hist = m.fit(np.zeros((10, 4)), np.zeros((10, 3)), verbose=0)
        assert np.isfinite(hist.history["loss"]).all()
    assert model.optimizer is optimizer
    fresh = L.Sequential([L.Input((4,)), layers.Dense(3)])
    with pytest.raises(ValueError):
        fresh.compile(optimizer="adam", **bad)
    with pytest.raises(ValueError, match="You must call `compile\\(\\)`"):
        fresh.fit(np.zeros((10, 4)), np.zeros((10, 3)), verbose=0)


def test_on_batch_lists_follow_evaluate_order_not_sorted_names():
    (x, y), _ = _digits()
    model = L.Sequential([L.Input((64,)), layers.Dense(10, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=["sparse_top_k_categorical_accuracy", "accuracy"])
    loss, top_k, acc = model.train_on_batch(x[:32], y[:32])
    logs = model.test_on_batch(x[:32], y[:32], return_dict=True)
    values = model.test_on_batch(x[:32], y[:32])
    assert values == [logs["loss"], logs["sparse_top_k_categorical_accuracy"],
                      logs["accuracy"]]
    assert model.evaluate(x[:32], y[:32], batch_size=32, verbose=0) == \
        pytest.approx(values)
    assert top_k >= acc


class Probe(layers.Layer):
    """Records the training flag it is called with."""

    def __init__(self, seen, **kwargs):
        super().__init__(**kwargs)
        self.seen = seen

    def call(self, x, training=None):
        self.seen.append(training)
        return x


class Wrapper(layers.Layer):
    """A custom layer that calls its sublayer without `training=`: the flag must come from
    the call context."""

    def __init__(self, seen, **kwargs):
        super().__init__(**kwargs)
        self.probe = Probe(seen)
        self.dense = layers.Dense(2)

    def call(self, x):
        return self.dense(self.probe(x))


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_training_flag_reaches_nested_layers_on_every_batch(kind):
    seen = []
    if kind == "sequential":
        model = L.Sequential([L.Input((3,)), Wrapper(seen)])
    else:
        inp = L.Input((3,))
        model = L.Model(inp, Wrapper(seen)(inp))
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((12, 3), "float32"), np.ones((12, 2), "float32")
    model.fit(x, y, batch_size=3, epochs=2, verbose=0)
    assert seen[-8:] == [True] * 8  # the 8 steps (before them: build and shape probes)
    seen.clear()
    model.evaluate(x, y, batch_size=3, verbose=0)
    assert seen == [False] * 4


def test_batch_normalization_inside_a_custom_layer_updates_on_every_batch():
    class Block(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.bn = layers.BatchNormalization(momentum=0.5)

        def call(self, x):
            return self.bn(x)

    block = Block()
    model = L.Sequential([L.Input((2,)), block, layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.full((8, 2), 4.0, "float32")
    model.fit(x, np.zeros((8, 1), "float32"), batch_size=2, epochs=1, shuffle=False,
              verbose=0)
    # four batches of mean 4 with momentum 0.5: 4 * (1 - 0.5 ** 4)
    np.testing.assert_allclose(block.bn.moving_mean.numpy(), [3.75, 3.75], rtol=1e-6)


def test_weighted_accuracy_on_one_dimensional_binary_targets():
    rng = np.random.default_rng(1)
    x = rng.random((40, 3)).astype("float32")
    y = (x[:, 0] > 0.5).astype("float32")  # (40,) against outputs (40, 1)
    model = L.Sequential([L.Input((3,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=L.optimizers.SGD(0.0), loss="binary_crossentropy",
                  metrics=["accuracy"], weighted_metrics=["accuracy"])
    w = np.where(y > 0, 3.0, 1.0)
    hist = model.fit(x, y, sample_weight=w, batch_size=16, verbose=0)
    hit = ((model.predict(x, verbose=0)[:, 0] > 0.5) == y).astype("float64")
    # over all samples, whatever the batches (16, 16, 8)
    assert hist.history["accuracy"][0] == pytest.approx(hit.mean(), rel=1e-6)
    assert hist.history["weighted_accuracy"][0] == pytest.approx(
        (hit * w).sum() / w.sum(), rel=1e-6)


def test_fit_before_compile_and_bad_labels():
    model = L.Sequential([L.Input((4,)), layers.Dense(3, activation="softmax")])
    with pytest.raises(ValueError, match="You must call `compile\\(\\)` before using the model"):
        model.fit(np.zeros((4, 4)), np.zeros(4), verbose=0)
    model.compile(loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy|label|range"):
        model.fit(np.zeros((4, 4)), np.array([0, 1, 2, 7]), verbose=0)
    with pytest.raises(ValueError, match=r"fit: `x` has shape \(4, 5\), but model '.*' expects "
                                         r"input of shape \(None, 4\)"):
        model.fit(np.zeros((4, 5)), np.zeros(4), verbose=0)


def test_progress_output_is_keras_like_and_single_line_per_epoch_off_terminal(capsys):
    (x, y), _ = _digits()
    model = _mlp()
    model.fit(x[:320], y[:320], epochs=2, batch_size=32, validation_split=0.1, verbose=1)
    out = capsys.readouterr().out
    lines = [l for l in out.replace("\r", "\n").split("\n") if l.strip()]
    assert lines[0] == "Epoch 1/2"
    assert lines[1].startswith("9/9 ━━━━━━━━━━━━━━━━━━━━ ") and "ms/step" in lines[1] or \
        "us/step" in lines[1]
    assert " - accuracy: " in lines[1] and " - val_loss: " in lines[1]
    assert len(lines) == 4  # no mid-epoch redraws when stdout is not a terminal
    model.fit(x[:64], y[:64], epochs=1, verbose=2)
    line = capsys.readouterr().out.strip()
    assert line.startswith("2/2 - ") and "step - accuracy:" in line
    model.fit(x[:64], y[:64], epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("kwargs,message", [
    (dict(validation_split=0.2, validation_freq=0),
     "fit: `validation_freq` must be a positive integer or a list of epochs, got 0"),
    (dict(validation_split=0.2, validation_freq=2.5),
     "fit: `validation_freq` must be a positive integer or a list of epochs, got 2.5"),
    (dict(steps_per_epoch=-1), "fit: `steps_per_epoch` must be a positive integer, got -1"),
    (dict(steps_per_epoch=0), "fit: `steps_per_epoch` must be a positive integer, got 0"),
    (dict(validation_split=0.2, validation_steps=-1),
     "fit: `validation_steps` must be a positive integer, got -1"),
    (dict(validation_split=0.2, validation_batch_size=-1),
     "fit: `validation_batch_size` must be a positive integer, got -1"),
    (dict(initial_epoch=-1), "fit: `initial_epoch` must be a non-negative integer, got -1"),
])
def test_fit_counts_are_checked_before_training(kwargs, message):
    """A count that would give a ZeroDivisionError, or silently train nothing and report a
    loss of 0, is refused before any step."""
    model = _sequential4()
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=re.escape(message)):
        model.fit(np.ones((10, 4)), np.ones((10, 3)), verbose=0, **kwargs)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_validation_freq_as_a_list_of_epochs_like_keras():
    model = _sequential4()
    hist = model.fit(np.ones((10, 4)), np.ones((10, 3)), epochs=4, validation_split=0.2,
                     validation_freq=[2, 4], verbose=0)
    assert len(hist.history["loss"]) == 4 and len(hist.history["val_loss"]) == 2


@pytest.mark.parametrize("method", ["evaluate", "predict"])
@pytest.mark.parametrize("steps", [0, -1, 1.5])
def test_evaluate_and_predict_steps_must_be_positive(method, steps):
    model = _sequential4()
    args = (np.ones((10, 4)), np.ones((10, 3))) if method == "evaluate" else (np.ones((10, 4)),)
    with pytest.raises(ValueError, match=f"{method}: `steps` must be a positive integer, got "
                                         f"{steps}"):
        getattr(model, method)(*args, steps=steps, verbose=0)


@pytest.mark.parametrize("class_weight,message", [
    ([1.0, 2.0, 3.0], "fit: `class_weight` must be a dict {class index: weight}, got list"),
    ({-1: 2.0}, "fit: `class_weight` keys must be class indices (integers >= 0), got -1"),
    ({"a": 2.0}, "fit: `class_weight` keys must be class indices (integers >= 0), got 'a'"),
    ({0: "heavy"}, "fit: `class_weight` for class 0 must be a number, got 'heavy'"),
])
def test_class_weight_errors_name_the_argument(class_weight, message):
    model = L.Sequential([L.Input((4,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=re.escape(message)):
        model.fit(np.ones((6, 4)), np.array([0, 1, 2, 0, 1, 2]), class_weight=class_weight,
                  verbose=0)


def test_class_weight_refuses_negative_labels():
    """A label of -1 would silently pick the weight of the largest class."""
    model = L.Sequential([L.Input((4,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=re.escape(
            "fit: `class_weight` needs class labels >= 0, but `y` holds -1")):
        model.fit(np.ones((4, 4)), np.array([0, 1, -1, 1]), class_weight={0: 1.0, 1: 5.0},
                  verbose=0)


@pytest.mark.parametrize("kind", ["sequential", "functional", "subclassed"])
@pytest.mark.parametrize("metrics,weighted", [(["acuracy"], None), (None, ["mea"]),
                                              ([["mae"], 3], None)])
def test_an_unknown_metric_fails_at_compile_not_after_a_training_step(kind, metrics, weighted):
    """As an unknown loss name does: fit must not update the weights and then fail."""
    if kind == "sequential":
        model = _sequential4()
    elif kind == "functional":
        inp = L.Input((4,))
        model = L.Model(inp, layers.Dense(3)(inp))
    else:
        class Sub(L.Model):
            def __init__(self):
                super().__init__()
                self.dense = layers.Dense(3)

            def call(self, x):
                return self.dense(x)
        model = Sub()
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="compile: .*metric"):
        model.compile(optimizer="sgd", loss="mse", metrics=metrics, weighted_metrics=weighted)
    hist = model.fit(np.ones((10, 4)), np.ones((10, 3)), verbose=0)
    assert sorted(hist.history) == ["loss"]


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_single_output_takes_sample_weight_in_a_list_of_one_like_y(kind):
    """sample_weight=[w] means w for the one output (as y=[y] does), whatever form y has; it
    used to reach the weighted metrics as one (1, n) array and fail on its shape."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 4)).astype("float32")
    y = rng.normal(size=(20, 3)).astype("float32")
    w = np.linspace(0, 1, 20).astype("float32")
    if kind == "sequential":
        model = L.Sequential([L.Input((4,)), layers.Dense(3)])
    else:
        inp = L.Input((4,))
        model = L.Model(inp, layers.Dense(3)(inp))
    model.compile(optimizer="sgd", loss="mse", weighted_metrics=["mse"])
    expected = model.evaluate(x, y, sample_weight=w, verbose=0)
    assert model.evaluate(x, y, sample_weight=[w], verbose=0) == pytest.approx(expected)
    assert model.evaluate(x, [y], sample_weight=[w], verbose=0) == pytest.approx(expected)
    hist = model.fit(x, y, sample_weight=[w], validation_data=(x, y, [w]), verbose=0)
    assert np.isfinite(hist.history["val_mse"]).all()


def test_evaluate_refuses_unknown_keyword_arguments_like_keras():
    """A misspelt argument (verbos=0) must not be silently ignored."""
    model = _sequential4()
    with pytest.raises(ValueError, match=re.escape("evaluate: Arguments not recognized: "
                                                   "{'verbos': 0}")):
        model.evaluate(np.ones((10, 4)), np.ones((10, 3)), verbos=0)


def test_train_and_test_on_batch_report_this_batch_only():
    # Keras 3 (keras-team/keras#22617) resets the metrics at the start of both calls: the
    # loss of a batch is not averaged with the batches before it.
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((64, 8)).astype("float32"), rng.integers(0, 3, 64)
    model = L.Sequential([L.Input((8,)), L.layers.Dense(3)])
    model.compile(optimizer="sgd", metrics=["accuracy"],
                  loss=L.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.train_on_batch(x[:32] * 10, y[:32])  # a batch with a very different loss first
    logits = model.predict(x[32:], verbose=0)
    want = float(L.losses.SparseCategoricalCrossentropy(from_logits=True)(y[32:], logits))
    trained = model.train_on_batch(x[32:], y[32:], return_dict=True)
    assert trained["loss"] == pytest.approx(want, rel=1e-5)
    model.train_on_batch(x[:32] * 10, y[:32])
    logits = model.predict(x[32:], verbose=0)
    want = float(L.losses.SparseCategoricalCrossentropy(from_logits=True)(y[32:], logits))
    assert model.test_on_batch(x[32:], y[32:], return_dict=True)["loss"] == \
        pytest.approx(want, rel=1e-5)
