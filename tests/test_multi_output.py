"""Several inputs and outputs: compile's loss / loss_weights / metrics as one value, a list or a
dict; the total loss is the weighted SUM (Keras 3); data as lists or dicts; per-output sample
and class weights; Keras' log keys; clear errors that leave the model usable."""
import numpy as np
import pytest

import lamina as L
from lamina import layers

N = 40


def _data(seed=0):
    rng = np.random.default_rng(seed)
    text = rng.standard_normal((N, 10)).astype("float32")
    tags = rng.standard_normal((N, 4)).astype("float32")
    priority = (text[:, 0] > 0).astype("float32")[:, None]
    department = rng.integers(0, 4, N)
    return text, tags, priority, department


def _model(seed=0):
    L.utils.set_random_seed(seed)
    text = L.Input((10,), name="text")
    tags = L.Input((4,), name="tags")
    x = layers.concatenate([layers.Dense(8, activation="relu")(text),
                            layers.Dense(4, activation="relu")(tags)])
    priority = layers.Dense(1, activation="sigmoid", name="priority")(x)
    department = layers.Dense(4, activation="softmax", name="department")(x)
    return L.Model(inputs=[text, tags], outputs={"priority": priority,
                                                 "department": department})


def _compile(model, **kwargs):
    args = dict(optimizer="adam",
                loss={"priority": "binary_crossentropy",
                      "department": "sparse_categorical_crossentropy"},
                loss_weights={"priority": 1.0, "department": 0.2},
                metrics={"department": ["accuracy"]})
    args.update(kwargs)
    model.compile(**args)
    return model


def _parts(model, text, tags, priority, department, sample_weight=None):
    out = model.predict([text, tags], verbose=0)
    sw_p = sw_d = sample_weight
    if isinstance(sample_weight, dict):
        sw_p, sw_d = sample_weight.get("priority"), sample_weight.get("department")
    p = float(L.losses.get("binary_crossentropy")(priority, out["priority"], sw_p).data)
    d = float(L.losses.get("sparse_categorical_crossentropy")(department, out["department"],
                                                               sw_d).data)
    return p, d


def test_issue_example_trains_with_keras_log_keys(capsys):
    text, tags, priority, department = _data()
    model = _compile(_model())
    model.summary()
    assert "Connected to" in capsys.readouterr().out
    hist = model.fit({"text": text, "tags": tags},
                     {"priority": priority, "department": department},
                     epochs=3, validation_split=0.2, verbose=0)
    assert sorted(hist.history) == [
        "department_accuracy", "department_loss", "loss", "priority_loss",
        "val_department_accuracy", "val_department_loss", "val_loss", "val_priority_loss"]
    assert model.output_names == ["department", "priority"]
    # Keras' layer (and so weight) order for this graph: by depth, ties in first-met order
    # from the outputs (a dict of outputs flattens by sorted key: department first).
    assert [type(layer).__name__ for layer in model.layers] == [
        "InputLayer", "InputLayer", "Dense", "Dense", "Concatenate", "Dense", "Dense"]
    assert [layer.name for layer in model.layers][:2] == ["text", "tags"]
    assert [layer.name for layer in model.layers][-2:] == ["department", "priority"]
    assert model.layers[2].kernel.shape == (10, 8)  # the text branch before the tags branch
    out = model.predict({"text": text, "tags": tags}, verbose=0)
    assert set(out) == {"priority", "department"}
    assert out["priority"].shape == (N, 1) and out["department"].shape == (N, 4)


def test_total_loss_is_weighted_sum_and_average_is_one_over_n_weights():
    text, tags, priority, department = _data()
    model = _compile(_model())
    logs = model.evaluate([text, tags], {"priority": priority, "department": department},
                          verbose=0, return_dict=True, batch_size=N)
    p, d = _parts(model, text, tags, priority, department)
    # Per-output losses are logged unweighted; the total is the SUM of weight x loss.
    assert logs["priority_loss"] == pytest.approx(p, rel=1e-5)
    assert logs["department_loss"] == pytest.approx(d, rel=1e-5)
    assert logs["loss"] == pytest.approx(1.0 * p + 0.2 * d, rel=1e-5)
    # Default weights: the plain sum (not the mean) of the parts...
    model.compile(optimizer="adam", loss=["sparse_categorical_crossentropy",
                                          "binary_crossentropy"])
    total, d_loss, p_loss = model.evaluate([text, tags], [department, priority], verbose=0,
                                           batch_size=N)  # [loss, per-output losses...]
    assert total == pytest.approx(p + d, rel=1e-5) and d_loss == pytest.approx(d, rel=1e-5)
    # ... and the average is one argument away.
    model.compile(optimizer="adam", loss=["sparse_categorical_crossentropy",
                                          "binary_crossentropy"], loss_weights=[1 / 2] * 2)
    total = model.evaluate([text, tags], [department, priority], verbose=0, batch_size=N)[0]
    assert total == pytest.approx((p + d) / 2, rel=1e-5)


def test_list_and_single_value_compile_forms_and_list_data():
    text, tags, priority, department = _data()
    model = _model()
    # Outputs in model.outputs order (dicts flatten by sorted key): department, priority.
    model.compile(optimizer="sgd", loss=["sparse_categorical_crossentropy", "mse"],
                  metrics=[["accuracy"], ["mae"]])
    hist = model.fit([text, tags], [department, priority], epochs=1, verbose=0)
    assert {"department_accuracy", "priority_mae", "priority_loss"} <= set(hist.history)
    # One loss for every output; a flat metrics list goes by position (Keras 3).
    inp = L.Input((3,))
    two = L.Model(inp, [layers.Dense(2, name="a")(inp), layers.Dense(2, name="b")(inp)])
    two.compile(optimizer="sgd", loss="mse", metrics=["mae", "mae"])
    y = np.ones((5, 2), "float32")
    logs = two.evaluate(np.ones((5, 3), "float32"), [y, y], verbose=0, return_dict=True)
    assert sorted(logs) == ["a_loss", "a_mae", "b_loss", "b_mae", "loss"]
    assert logs["loss"] == pytest.approx(logs["a_loss"] + logs["b_loss"], rel=1e-6)
    assert isinstance(two.predict(np.ones((5, 3), "float32"), verbose=0), list)


def test_output_without_loss_needs_no_target():
    text, tags, priority, department = _data()
    model = _model()
    model.compile(optimizer="sgd", loss={"priority": "binary_crossentropy"})
    hist = model.fit([text, tags], {"priority": priority}, epochs=1, verbose=0)
    assert sorted(hist.history) == ["loss"]


def test_sample_weight_per_output_and_class_weight():
    text, tags, priority, department = _data()
    model = _compile(_model())
    w = np.linspace(0.0, 2.0, N).astype("float32")
    sw = {"priority": w}
    logs = model.evaluate([text, tags], {"priority": priority, "department": department},
                          sample_weight=sw, verbose=0, return_dict=True, batch_size=N)
    p, d = _parts(model, text, tags, priority, department, sw)
    assert logs["priority_loss"] == pytest.approx(p, rel=1e-5)
    assert logs["department_loss"] == pytest.approx(d, rel=1e-5)  # unweighted output
    # One array: every output.
    logs = model.evaluate([text, tags], {"priority": priority, "department": department},
                          sample_weight=w, verbose=0, return_dict=True, batch_size=N)
    p, d = _parts(model, text, tags, priority, department, w)
    assert logs["loss"] == pytest.approx(p + 0.2 * d, rel=1e-5)
    # class_weight per output name (keyed by output, each {class: weight}).
    model.fit([text, tags], {"priority": priority, "department": department}, epochs=1,
              class_weight={"department": {0: 1.0, 1: 2.0, 2: 1.0, 3: 0.5}}, verbose=0)
    with pytest.raises(ValueError, match="pass `class_weight` as a dict keyed by output name"):
        model.fit([text, tags], {"priority": priority, "department": department},
                  class_weight={0: 1.0, 1: 2.0}, verbose=0)


def test_sample_weight_matches_keras_formula_on_single_output_functional():
    inp = L.Input((3,))
    model = L.Model(inp, layers.Dense(1)(inp))
    model.compile(optimizer="sgd", loss="mse")
    x = np.arange(12, dtype="float32").reshape(4, 3) / 10
    y = np.ones((4, 1), "float32")
    w = np.array([1, 0, 2, 0], "float32")
    pred = model.predict(x, verbose=0)
    expected = float(np.sum(((pred - y) ** 2)[:, 0] * w) / 4)
    assert model.evaluate(x, y, sample_weight=w, verbose=0) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("call,message", [
    (lambda m, d: m.fit({"text": d[0], "tgs": d[1]}, [d[3], d[2]], verbose=0),
     r"`x` has key\(s\) \['tgs'\] that name no model input; expected keys \['text', 'tags'\]"),
    (lambda m, d: m.fit([d[0]], [d[3], d[2]], verbose=0),
     r"`x` is a list of 1 arrays but the model has 2 inputs \['text', 'tags'\]"),
    (lambda m, d: m.fit(d[0], [d[3], d[2]], verbose=0),
     r"the model has 2 inputs \['text', 'tags'\]; pass `x` as a list or a dict"),
    (lambda m, d: m.fit([d[0], d[1]], {"priority": d[2], "dept": d[3]}, verbose=0),
     r"`y` has key\(s\) \['dept'\] that name no model output; expected keys "
     r"\['department', 'priority'\]"),
    (lambda m, d: m.fit([d[0], d[1]], [d[3]], verbose=0),
     r"`y` is a list of 1 arrays but the model has 2 outputs"),
    (lambda m, d: m.fit([d[0], d[1][:30]], [d[3], d[2]], verbose=0),
     r"same number of samples.*x\[0\] \(40, 10\), x\[1\] \(30, 4\)"),
    (lambda m, d: m.fit([d[0], d[1]], {"department": d[3]}, verbose=0),
     r"output 'priority' has a loss but `y` has no target for it"),
    (lambda m, d: m.compile(optimizer="sgd", loss={"prio": "mse"}),
     r"`loss` has key\(s\) \['prio'\] that name no model output; the outputs are "
     r"\['department', 'priority'\]"),
    (lambda m, d: m.compile(optimizer="sgd", loss=["mse"]),
     r"`loss` is a list of 1 entries but the model has 2 output"),
    (lambda m, d: m.compile(optimizer="sgd", loss="mse", loss_weights={"x": 1.0}),
     r"`loss_weights` has key\(s\) \['x'\]"),
    (lambda m, d: m.compile(optimizer="sgd", loss="mse", metrics={"nope": ["mae"]}),
     r"`metrics` has key\(s\) \['nope'\]"),
    # Keras 3's CompileMetrics: a flat list on several outputs goes by position, so it must
    # have one entry per output
    (lambda m, d: m.compile(optimizer="sgd", loss="mse", metrics=["accuracy"]),
     r"`metrics` is a list of 1 entries but the model has 2 outputs \['department', "
     r"'priority'\]: for several outputs give one entry per output"),
    (lambda m, d: m.compile(optimizer="sgd", loss="mse", weighted_metrics=["mae"] * 3),
     r"`weighted_metrics` is a list of 3 entries but the model has 2 outputs"),
    (lambda m, d: m.compile(optimizer="sgd", loss="mse", metrics=[["mae"], [["mae"]]]),
     r"every entry of `metrics` for output 'priority' must be a metric"),
])
def test_bad_structures_are_clear_errors_and_model_stays_usable(call, message):
    model = _compile(_model())
    data = _data()
    with pytest.raises(ValueError, match=message):
        call(model, data)
    _compile(model)
    hist = model.fit([data[0], data[1]], [data[3], data[2]], epochs=1, verbose=0)
    assert np.isfinite(hist.history["loss"][0])


def test_flat_metrics_list_goes_to_the_outputs_by_position():
    text, tags, priority, department = _data()
    model = _compile(_model(), metrics=["accuracy", ["mae", "accuracy"]])
    logs = model.evaluate([text, tags], [department, priority], verbose=0, return_dict=True)
    assert sorted(logs) == ["department_accuracy", "department_loss", "loss",
                            "priority_accuracy", "priority_loss", "priority_mae"]
    (cm,) = [m for m in model.metrics if m.name == "compile_metrics"]
    assert [type(m).__name__ for m in cm.metrics] == [
        "SparseCategoricalAccuracy", "MeanAbsoluteError", "BinaryAccuracy"]
    # evaluate's list: loss, the per-output losses, then the metrics by name (Keras 3)
    values = model.evaluate([text, tags], [department, priority], verbose=0)
    assert values == pytest.approx([logs[k] for k in (
        "loss", "department_loss", "priority_loss", "department_accuracy",
        "priority_accuracy", "priority_mae")])


def test_train_and_test_on_batch_with_dicts():
    text, tags, priority, department = _data()
    model = _compile(_model())
    logs = model.train_on_batch({"text": text, "tags": tags},
                                {"priority": priority, "department": department},
                                return_dict=True)
    assert {"loss", "priority_loss", "department_loss", "department_accuracy"} == set(logs)
    logs = model.test_on_batch([text, tags], [department, priority], return_dict=True)
    assert logs["loss"] > 0
    out = model.predict_on_batch([text, tags])
    assert set(out) == {"department", "priority"}


def test_validation_data_with_structures():
    text, tags, priority, department = _data()
    model = _compile(_model())
    hist = model.fit([text, tags], [department, priority], epochs=1, verbose=0,
                     validation_data=({"text": text, "tags": tags},
                                      {"priority": priority, "department": department}))
    assert "val_priority_loss" in hist.history


def test_each_layer_runs_once_per_step_whatever_the_number_of_outputs():
    class Counting(layers.Layer):
        calls = 0

        def call(self, x):
            Counting.calls += 1
            return x

        def compute_output_shape(self, input_shape):
            return input_shape

    inp = L.Input((3,))
    h = Counting()(layers.Dense(4)(inp))
    model = L.Model(inp, [layers.Dense(1)(h), layers.Dense(2)(h), layers.Dense(3)(h)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((20, 3), "float32")
    ys = [np.ones((20, k), "float32") for k in (1, 2, 3)]
    Counting.calls = 0
    model.fit(x, ys, batch_size=5, epochs=2, verbose=0)  # 8 steps: the first checked, then fast
    assert Counting.calls == 8
