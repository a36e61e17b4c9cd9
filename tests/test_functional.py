"""The functional API: Model(inputs, outputs) over any DAG of layers, Keras' layer and weight
order, shape errors at construction, nested and shared layers, float64 gradients of whole
graphs against finite differences."""
import pathlib
import re

import numpy as np
import pytest

import lamina as L
from lamina import layers
from gradcheck import numeric_gradient


@pytest.fixture
def float64():
    L.backend.set_floatx("float64")
    yield
    L.backend.set_floatx("float32")


def _rng(seed=0):
    return np.random.default_rng(seed)


def _diamond(units=3, features=4):
    inp = L.Input((features,), name="x")
    a = layers.Dense(units, activation="tanh", name="left")(inp)
    b = layers.Dense(units, activation="sigmoid", name="right")(inp)
    merged = layers.add([a, b], name="merge")
    out = layers.Dense(2, name="head")(merged)
    return L.Model(inp, out, name="diamond")


def test_model_returns_functional_with_keras_layer_order_and_weights():
    model = _diamond()
    assert type(model).__name__ == "Functional" and isinstance(model, L.Model)
    # Keras' map_graph order: by decreasing depth, ties by first meeting from the outputs.
    assert [layer.name for layer in model.layers] == ["x", "left", "right", "merge", "head"]
    assert [v.path for v in model.weights] == [
        "left/kernel", "left/bias", "right/kernel", "right/bias", "head/kernel", "head/bias"]
    assert model.get_layer("right") is model.layers[2]
    assert model.get_layer(index=-1).name == "head"
    assert model.inputs[0].shape == (None, 4) and model.outputs[0].shape == (None, 2)
    assert model.input is model.inputs[0] and model.output is model.outputs[0]
    with pytest.raises(ValueError, match="no such layer: nope"):
        model.get_layer("nope")


def test_forward_matches_numpy_for_a_diamond_and_fit_reduces_loss():
    model = _diamond()
    x = _rng().standard_normal((10, 4)).astype("float32")
    w = {v.path: v.numpy() for v in model.weights}
    a = np.tanh(x @ w["left/kernel"] + w["left/bias"])
    b = 1 / (1 + np.exp(-(x @ w["right/kernel"] + w["right/bias"])))
    expected = (a + b) @ w["head/kernel"] + w["head/bias"]
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model(x).numpy(), expected, rtol=1e-5, atol=1e-6)
    model.compile(optimizer="adam", loss="mse")
    y = np.stack([x.sum(1), x[:, 0]], axis=1)
    hist = model.fit(x, y, epochs=20, batch_size=5, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    # After fit the fast (unchecked) path and the checked call agree.
    np.testing.assert_allclose(model._plan(x, False).numpy(), model(x).numpy(), rtol=1e-6)


def test_summary_has_connected_to_column(capsys):
    model = _diamond()
    model.summary()
    out = capsys.readouterr().out
    assert 'Model: "diamond"' in out and "Connected to" in out
    assert "x (InputLayer)" in out and "left[0][0]" in out and "right[0][0]" in out
    assert "merge (Add)" in out and "(None, 3)" in out
    assert "Total params: 38" in out  # 15 + 15 + 8


def test_shape_mismatch_at_construction_names_both_layers_and_shapes():
    inp = L.Input((4,))
    a = layers.Dense(3, name="three")(inp)
    b = layers.Dense(5, name="five")(inp)
    with pytest.raises(ValueError, match=r"incompatible shapes \(None, 3\) and \(None, 5\)"
                                         r"[\s\S]*'three'[\s\S]*'five'"):
        layers.add([a, b])
    shared = layers.Dense(2, name="shared")
    shared(a)
    with pytest.raises(ValueError, match=r"layer 'shared' is incompatible: expected last axis 3, "
                                         r"got shape \(None, 5\)[\s\S]*layer 'five'"):
        shared(b)


def test_disconnected_output_and_bad_arguments_are_clear_errors():
    x1, x2 = L.Input((3,), name="one"), L.Input((2,), name="two")
    out = layers.concatenate([x1, x2])
    with pytest.raises(ValueError, match="depends on Input 'two'.*not among the model's inputs"):
        L.Model(x1, out)
    with pytest.raises(ValueError, match=r"`outputs\[1\]` must be a symbolic tensor"):
        L.Model([x1, x2], [out, np.zeros(3)])
    model = L.Model([x1, x2], out)
    a, b = np.ones((2, 3), "float32"), np.ones((2, 2), "float32")
    with pytest.raises(ValueError, match=r"expects inputs named \['one', 'two'\]; unknown key"
                                         r"\(s\) \['three'\]"):
        model({"one": a, "three": b})
    with pytest.raises(ValueError, match=r"expects 2 input\(s\) \['one', 'two'\].*list of 3"):
        model([a, b, b])
    with pytest.raises(ValueError, match=r"Input 'two' of model .* expected shape \(None, 2\), "
                                         r"got \(2, 3\)"):
        model([a, a])
    # The model is still usable after the errors.
    assert model({"one": a, "two": b}).shape == (2, 5)
    assert model([a, b]).shape == (2, 5)


def test_intermediate_outputs_and_nested_models():
    inp = L.Input((6,), name="img")
    h = layers.Dense(5, activation="relu", name="conv1")(inp)
    h2 = layers.Dense(4, activation="relu", name="conv2")(h)
    out = layers.Dense(3, name="top")(h2)
    base = L.Model(inp, out, name="base")
    features = L.Model(base.input, base.get_layer("conv2").output)
    x = _rng(1).standard_normal((7, 6)).astype("float32")
    w = base.get_weights()
    expected = np.maximum(np.maximum(x @ w[0] + w[1], 0) @ w[2] + w[3], 0)
    np.testing.assert_allclose(features.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    assert [layer.name for layer in features.layers] == ["img", "conv1", "conv2"]

    # The whole base model as a layer of another model (its weights are shared).
    outer_in = L.Input((6,))
    y = base(outer_in)
    y = layers.Dense(1, name="outer_head")(y)
    outer = L.Model(outer_in, y)
    assert outer.layers[1] is base and y.shape == (None, 1)
    assert len(outer.weights) == len(base.weights) + 2
    np.testing.assert_allclose(outer.predict(x, verbose=0),
                               base.predict(x, verbose=0) @ outer.get_layer("outer_head")
                               .get_weights()[0] + outer.get_layer("outer_head").get_weights()[1],
                               rtol=1e-5, atol=1e-6)
    outer.compile(optimizer="sgd", loss="mse")
    outer.fit(x, x[:, :1], epochs=2, verbose=0)


def test_shared_layer_used_twice_has_one_set_of_weights():
    a, b = L.Input((4,), name="a"), L.Input((4,), name="b")
    shared = layers.Dense(3, name="shared")
    out = layers.subtract([shared(a), shared(b)])
    model = L.Model([a, b], out)
    assert [layer.name for layer in model.layers].count("shared") == 1
    assert len(model.weights) == 2
    with pytest.raises(AttributeError, match="called 2 times"):
        shared.output
    x1, x2 = _rng(2).standard_normal((2, 5, 4)).astype("float32")
    k = shared.kernel.numpy()
    np.testing.assert_allclose(model.predict([x1, x2], verbose=0), (x1 - x2) @ k, rtol=1e-5,
                               atol=1e-6)


def _check_model_gradients(model, inputs, seed=0):
    """d sum(r * model(inputs)) / d weights against central differences (float64)."""
    outs = model(inputs)
    flat = outs if isinstance(outs, list) else list(outs.values()) if isinstance(outs, dict) \
        else [outs]
    rs = [_rng(seed + i).standard_normal(o.shape) for i, o in enumerate(flat)]

    def total(outs):
        flat = outs if isinstance(outs, list) else list(outs.values()) \
            if isinstance(outs, dict) else [outs]
        t = None
        for o, r in zip(flat, rs):
            term = L.ops.sum(L.ops.multiply(o, r))
            t = term if t is None else t + term
        return t

    with L.GradientTape() as tape:
        loss = total(model(inputs))
    grads = tape.gradient(loss, model.trainable_weights)
    for v, g in zip(model.trainable_weights, grads):
        expected = numeric_gradient(lambda: float(total(model(inputs)).data), v.data)
        np.testing.assert_allclose(g.numpy(), expected, rtol=1e-6, atol=1e-8,
                                   err_msg=f"gradient of {v.path}")


def test_gradients_of_whole_graphs_float64(float64):
    x = _rng(3).standard_normal((5, 4))
    _check_model_gradients(_diamond(), x)

    a, b = L.Input((4,)), L.Input((4,))
    shared = layers.Dense(3, activation="tanh")
    both = layers.concatenate([shared(a), shared(b), layers.multiply([a, b])])
    model = L.Model([a, b], layers.Dense(2)(both))
    _check_model_gradients(model, [x, x[::-1].copy()])

    inner_in = L.Input((4,))
    inner = L.Model(inner_in, layers.Dense(3, activation="sigmoid")(inner_in))
    outer_in = L.Input((4,))
    h = inner(outer_in)
    res = layers.add([h, layers.Dense(3)(outer_in)])  # residual around the nested model
    # ... and the nested model called a second time on the same input: two outputs.
    outer = L.Model(outer_in, [layers.Dense(2)(res), inner(outer_in)])
    _check_model_gradients(outer, x)


def test_multi_output_gradient_is_weighted_sum_of_parts(float64):
    inp = L.Input((4,))
    h = layers.Dense(5, activation="tanh")(inp)
    cls = layers.Dense(3, activation="softmax", name="cls")(h)
    reg = layers.Dense(1, name="reg")(h)
    model = L.Model(inp, {"cls": cls, "reg": reg})
    x = _rng(4).standard_normal((6, 4))
    y = {"cls": np.array([0, 1, 2, 0, 1, 2]), "reg": _rng(5).standard_normal((6, 1))}
    model.compile(optimizer="sgd", loss={"cls": "sparse_categorical_crossentropy",
                                         "reg": "mse"}, loss_weights={"cls": 0.3, "reg": 2.0})
    tv = model.trainable_weights

    def grads_of(fn):
        with L.GradientTape() as tape:
            loss = fn(model(x))
        return loss, tape.gradient(loss, tv)

    total, g_total = grads_of(lambda out: model.compute_loss(x, y, out))
    l_cls, g_cls = grads_of(lambda out: L.losses.get("sparse_categorical_crossentropy")(
        y["cls"], out["cls"]))
    l_reg, g_reg = grads_of(lambda out: L.losses.get("mse")(y["reg"], out["reg"]))
    np.testing.assert_allclose(float(total.data),
                               0.3 * float(l_cls.data) + 2.0 * float(l_reg.data), rtol=1e-12)
    for gt, gc, gr in zip(g_total, g_cls, g_reg):
        gc = 0 if gc is None else gc.numpy()
        gr = 0 if gr is None else gr.numpy()
        np.testing.assert_allclose(gt.numpy(), 0.3 * gc + 2.0 * gr, rtol=1e-10, atol=1e-14)

    def value():
        return float(model.compute_loss(x, y, model(x)).data)

    for v, g in zip(tv, g_total):
        np.testing.assert_allclose(g.numpy(), numeric_gradient(value, v.data), rtol=1e-6,
                                   atol=1e-8)


def test_float64_inputs_keep_their_dtype():
    inp = L.Input((3,), dtype="float64")
    out = layers.Dense(2, dtype="float64")(inp)
    model = L.Model(inp, out)
    assert model(np.ones((2, 3), "float32")).dtype == np.float64


def test_subclass_calling_super_init_with_inputs_and_outputs_is_functional():
    class Wrapped(L.Model):
        def __init__(self):
            inp = L.Input((3,))
            super().__init__(inp, layers.Dense(2)(inp), name="wrapped")

        def describe(self):
            return f"{self.name}: {len(self.layers)} layers"

    model = Wrapped()
    assert model.describe() == "wrapped: 2 layers" and isinstance(model, Wrapped)
    assert model(np.ones((4, 3), "float32")).shape == (4, 2)


def test_layers_without_compute_output_shape_are_probed():
    class Twice(layers.Layer):
        def call(self, x):
            return L.ops.concatenate([x, x], axis=1)

    inp = L.Input((None, 3))
    out = Twice()(inp)
    assert out.shape == (None, None, 3)
    inp2 = L.Input((2, 3))
    assert Twice()(inp2).shape == (None, 4, 3)


def test_model_to_dot_declares_every_node_it_connects():
    # A model built from an intermediate tensor: its first layer's producer is outside it.
    x = L.Input((4,))
    h = layers.Dense(3, name="hidden")(x)
    out = layers.Dense(2, name="out")(h)
    source = L.utils.model_to_dot(L.Model(h, out))
    declared = set(re.findall(r'^  "(\d+)" \[label=', source, re.M))
    edges = re.findall(r'^  "(\d+)" -> "(\d+)";', source, re.M)
    assert all(a in declared and b in declared for a, b in edges)


def test_model_to_dot_and_plot_model(tmp_path):
    model = _diamond()
    source = L.utils.model_to_dot(model, show_shapes=True)
    assert source.startswith('digraph "diamond"')
    assert "merge (Add)" in source and source.count("->") == 5  # x->left, x->right, 2->merge, ->head
    path = L.utils.plot_model(model, to_file=tmp_path / "model.dot")
    assert pathlib.Path(path).read_text() == L.utils.model_to_dot(model)
    import shutil
    if shutil.which("dot") is None:
        with pytest.raises(ImportError, match="needs Graphviz' `dot` program"):
            L.utils.plot_model(model, to_file=tmp_path / "model.png")
        pytest.skip("Graphviz (dot) is not installed: rendering not tested")
    png = L.utils.plot_model(model, to_file=tmp_path / "model.png", show_shapes=True)
    assert pathlib.Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("build", [
    lambda: (lambda x: L.Model(x, [layers.Dense(1, name="head")(x),
                                   layers.Dense(1, name="head")(x)]))(L.Input((3,))),
    lambda: (lambda a, b: L.Model([a, b], layers.add([a, b])))(L.Input((3,), name="x"),
                                                              L.Input((3,), name="x")),
    lambda: (lambda x: L.Model(x, layers.Dense(2, name="x")(x)))(L.Input((3,), name="x")),
], ids=["two_outputs", "two_inputs", "input_and_layer"])
def test_duplicate_layer_names_are_refused_at_construction(build):
    with pytest.raises(ValueError, match=r'Model: the name "x|head" is used 2 times in the '
                                         r"model .*All layer names should be unique"):
        build()


def test_batch_axis_of_an_input_is_not_checked():
    inp = L.Input((3,), batch_size=4)
    model = L.Model(inp, layers.Dense(2)(inp))
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((6, 3), "float32"), np.ones((6, 2), "float32")
    assert model.predict(x, batch_size=4, verbose=0).shape == (6, 2)  # last batch of 2
    assert np.isfinite(model.evaluate(x, y, batch_size=4, verbose=0))
    model.fit(x, y, batch_size=4, verbose=0)
    with pytest.raises(ValueError, match=r"expected shape \(4, 3\), got \(6, 2\)"):
        model(np.ones((6, 2), "float32"))  # the other axes still are


def test_summary_expand_nested_lists_the_layers_of_a_nested_model(capsys):
    inner = L.Sequential([L.Input((4,)), layers.Dense(3, name="d1"),
                          layers.Dense(2, name="d2")], name="inner")
    inp = L.Input((4,), name="x")
    model = L.Model(inp, layers.Dense(1, name="head")(inner(inp)))
    model.summary()
    flat = capsys.readouterr().out
    assert "inner (Sequential)" in flat and "d1" not in flat
    model.summary(expand_nested=True)
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("│")]
    names = [row.split("│")[1].strip() for row in rows]
    assert names == ["x (InputLayer)", "inner (Sequential)", "└ d1 (Dense)", "└ d2 (Dense)",
                     "head (Dense)"]
    assert rows[2].startswith("│    └ d1 (Dense)") and "(None, 3)" in rows[2]
    assert "15" in rows[2] and "inner[0][0]" in rows[4]
