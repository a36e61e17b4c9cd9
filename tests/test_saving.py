"""Whole models in Keras 3's .keras archive (lamina.saving): save / load_model round trips,
custom objects, optimizer state, safe mode and the errors for bad paths and archives."""
import io
import json
import zipfile

import numpy as np
import pytest

import lamina as L
from lamina import layers
from lamina.models import load_model
from lamina.saving import register_keras_serializable
from example_models import (X, Y, Scale, TwoLayerNet, assert_same_outputs, rng, sequential,
                            two_head_data, two_heads)


def test_sequential_round_trip(tmp_path):
    model = sequential()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    path = tmp_path / "mlp.keras"
    model.save(path)
    loaded = load_model(path)
    assert type(loaded) is L.Sequential and loaded.name == "mlp"
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert json.dumps(loaded.get_config()) == json.dumps(model.get_config())
    assert_same_outputs(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    assert loaded.evaluate(X, Y, verbose=0) == model.evaluate(X, Y, verbose=0)
    assert type(loaded.optimizer) is L.optimizers.Adam
    assert loaded.optimizer.iterations == model.optimizer.iterations == 3

    archive = zipfile.ZipFile(path)
    assert archive.namelist() == ["metadata.json", "config.json", "model.weights.npz"]
    metadata = json.loads(archive.read("metadata.json"))
    assert metadata["keras_version"] == f"lamina {L.__version__}" and "date_saved" in metadata
    config = json.loads(archive.read("config.json"))
    assert {k: config[k] for k in ("module", "class_name", "registered_name")} == \
        {"module": "lamina", "class_name": "Sequential", "registered_name": None}
    assert config["compile_config"]["loss"] == "sparse_categorical_crossentropy"
    assert config["config"]["layers"][1]["build_config"] == {"input_shape": [None, 5]}
    weights = np.load(io.BytesIO(archive.read("model.weights.npz")), allow_pickle=False)
    assert {"hidden/kernel", "norm/moving_mean", "dropout/seed_generator_state",
            "optimizer/iterations", "optimizer/momentum/hidden/kernel"} <= set(weights.files)


def test_functional_round_trip_with_shared_and_nested_layers(tmp_path):
    model = two_heads()
    x, y = two_head_data()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "triage.keras")
    loaded = load_model(tmp_path / "triage.keras")
    assert json.dumps(loaded.get_config()) == json.dumps(model.get_config())
    assert loaded.input_names == ["text", "tags"]
    assert_same_outputs(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.evaluate(x, y, verbose=0, return_dict=True) == \
        model.evaluate(x, y, verbose=0, return_dict=True)
    assert isinstance(loaded.get_layer("inner").get_layer("scale"), Scale)
    assert len(loaded.get_layer("shared")._inbound_nodes) == 2
    weights = np.load(io.BytesIO(zipfile.ZipFile(tmp_path / "triage.keras").read(
        "model.weights.npz"))).files
    assert {"inner/scale/scale", "block/block_dense/kernel", "shared/kernel"} <= set(weights)


def test_a_model_from_an_intermediate_tensor_saves_only_its_own_layers(tmp_path):
    mid = layers.Dense(3, name="mid")(L.Input((4,)))
    head = L.Model(mid, layers.Dense(2, name="head")(mid))
    head.save(tmp_path / "head.keras")
    loaded = load_model(tmp_path / "head.keras")
    assert sorted(L.saving.saving_lib.variable_paths(loaded)) == ["head/bias", "head/kernel"]
    x = rng.standard_normal((3, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), head.predict(x, verbose=0))


def test_registered_subclassed_model_round_trip(tmp_path):
    L.utils.set_random_seed(0)
    model = TwoLayerNet(units=6, name="net")
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    config = L.saving.serialize_keras_object(model)
    assert config["registered_name"] == "lamina_tests>TwoLayerNet"
    assert config["config"] == {"name": "net", "units": 6, "classes": 3, "trainable": True,
                                "dtype": "float32"}
    assert config["build_config"] == {"input_shape": (1, 5)}  # fit built it on one sample
    model.save(tmp_path / "net.keras")
    loaded = load_model(tmp_path / "net.keras")
    assert type(loaded) is TwoLayerNet and loaded.units == 6
    assert_same_outputs(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    assert loaded.optimizer.iterations == model.optimizer.iterations
    assert sorted(L.saving.saving_lib.variable_paths(loaded)) == \
        ["hidden/bias", "hidden/kernel", "out/bias", "out/kernel"]


def test_subclassed_model_with_non_plain_arguments_needs_get_config(tmp_path):
    class Wrapper(L.Model):
        def __init__(self, inner, **kwargs):
            super().__init__(**kwargs)
            self.inner = inner

        def call(self, x):
            return self.inner(x)

    class Star(L.Model):
        def __init__(self, *blocks, **kwargs):
            super().__init__(**kwargs)
            self.blocks = list(blocks)

    model = Wrapper(layers.Dense(2))
    model(X[:1])
    with pytest.raises(NotImplementedError, match=r"Object Wrapper was created by passing "
                       r"non-serializable argument values in `__init__\(\)`.*implement "
                       r"`get_config\(\)`"):
        model.save(tmp_path / "w.keras")
    with pytest.raises(NotImplementedError, match=r"variadic positional arguments"):
        Star(layers.Dense(1)).get_config()


def test_custom_objects(tmp_path):
    class Doubler(layers.Layer):  # local: unregistered and not importable by name
        def call(self, x):
            return L.ops.multiply(x, 2.0)

        def compute_output_shape(self, input_shape):
            return tuple(input_shape)

    def soft_tanh(x):
        return L.ops.multiply(L.ops.tanh(x), 0.5)

    def squared_error(y_true, y_pred):
        return L.ops.mean(L.ops.square(L.ops.subtract(y_pred, y_true)), axis=-1)

    def mean_prediction(y_true, y_pred):
        return L.ops.mean(y_pred, axis=-1)

    inputs = L.Input((5,))
    outputs = Doubler()(layers.Dense(3, activation=soft_tanh)(inputs))
    model = L.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss=squared_error, metrics=[mean_prediction])
    target = rng.standard_normal((24, 3)).astype(np.float32)
    model.fit(X, target, epochs=1, verbose=0)
    path = tmp_path / "custom.keras"
    model.save(path)
    custom = {"Doubler": Doubler, "soft_tanh": soft_tanh, "squared_error": squared_error,
              "mean_prediction": mean_prediction}
    with pytest.raises(TypeError, match=r"Could not locate function 'soft_tanh'.*"
                                        r"register_keras_serializable"):
        load_model(path)
    with pytest.raises(TypeError, match=r"Could not locate class 'Doubler'"):
        load_model(path, custom_objects={k: v for k, v in custom.items() if k != "Doubler"})
    loaded = load_model(path, custom_objects=custom)
    assert loaded.get_layer(model.layers[1].name).activation is soft_tanh
    assert_same_outputs(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    assert loaded.evaluate(X, target, verbose=0) == model.evaluate(X, target, verbose=0)
    with L.saving.custom_object_scope(custom):
        assert isinstance(load_model(path).layers[-1], Doubler)


def test_compile_false_loads_an_uncompiled_model(tmp_path):
    model = sequential()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras", compile=False)
    assert not loaded.compiled and loaded.optimizer is None
    assert_same_outputs(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    with pytest.raises(ValueError, match="You must call `compile\\(\\)`"):
        loaded.fit(X, Y, verbose=0)


OPTIMIZERS = {"adam": lambda: L.optimizers.Adam(0.01),
              "sgd_momentum": lambda: L.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
              "nadam": lambda: L.optimizers.Nadam(0.01),
              "rmsprop_centered": lambda: L.optimizers.RMSprop(0.01, momentum=0.5,
                                                                centered=True)}


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_training_resumes_exactly_after_save_and_load(tmp_path, optimizer):
    def make():
        model = sequential()
        model.compile(optimizer=OPTIMIZERS[optimizer](), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model

    fit = dict(batch_size=8, shuffle=False, verbose=0)
    straight = make()
    both = straight.fit(X, Y, epochs=2, **fit).history
    first = make()
    first.fit(X, Y, epochs=1, **fit)
    first.save(tmp_path / "ckpt.keras")
    resumed = load_model(tmp_path / "ckpt.keras")
    second = resumed.fit(X, Y, epochs=1, **fit).history
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert second["loss"] == both["loss"][1:]
    assert resumed.optimizer.iterations == straight.optimizer.iterations == 6
    # Without the optimizer's state the second epoch goes elsewhere.
    fresh = load_model(tmp_path / "ckpt.keras", compile=False)
    fresh.compile(optimizer=OPTIMIZERS[optimizer](), loss="sparse_categorical_crossentropy")
    fresh.fit(X, Y, epochs=1, **fit)
    assert not np.array_equal(fresh.get_weights()[0], straight.get_weights()[0])


def test_bad_paths(tmp_path):
    model = sequential()
    with pytest.raises(ValueError, match=r"Invalid filepath extension for saving.*"
                                         r"filepath=.*model\.txt"):
        model.save(tmp_path / "model.txt")
    with pytest.raises(ValueError, match=r"save_model: lamina reads and writes Keras 3's native "
                                         r"`\.keras` archive only.*h5py.*model\.h5"):
        model.save(tmp_path / "model.h5")
    with pytest.raises(ValueError, match=r"File not found: filepath=.*missing\.keras"):
        load_model(tmp_path / "missing.keras")
    with pytest.raises(ValueError, match=r"File format not supported: filepath=.*model\.txt"):
        load_model(tmp_path / "model.txt")
    with pytest.raises(ValueError, match=r"load_model: lamina reads and writes Keras 3's "
                                         r"native `\.keras` archive only.*h5py"):
        load_model(tmp_path / "model.h5")
    (tmp_path / "text.keras").write_text("not a zip")
    with pytest.raises(ValueError, match=r"text\.keras is not a zip archive"):
        load_model(tmp_path / "text.keras")
    model.save(tmp_path / "m.keras")
    with pytest.raises(FileExistsError, match=r"m\.keras exists and overwrite=False"):
        model.save(tmp_path / "m.keras", overwrite=False)


def _rewrite(source, target, drop=(), weights=None):
    """A copy of the archive `source` without the members in `drop` (and other weights)."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for name in src.namelist():
            if name in drop:
                continue
            data = src.read(name)
            if name == "model.weights.npz" and weights is not None:
                arrays = dict(np.load(io.BytesIO(data)))
                buffer = io.BytesIO()
                np.savez(buffer, **weights(arrays))
                data = buffer.getvalue()
            dst.writestr(name, data)


def test_bad_archives_name_the_file_and_what_is_missing(tmp_path):
    model = sequential()
    good = tmp_path / "good.keras"
    model.save(good)
    _rewrite(good, tmp_path / "noconfig.keras", drop={"config.json"})
    with pytest.raises(ValueError, match=r"noconfig\.keras has no config\.json, so it is not a "
                                         r"`\.keras` model archive \(it holds \['metadata\.json', "
                                         r"'model\.weights\.npz'\]\)"):
        load_model(tmp_path / "noconfig.keras")
    _rewrite(good, tmp_path / "noweights.keras", drop={"model.weights.npz"})
    with pytest.raises(ValueError, match=r"noweights\.keras has no model\.weights\.npz"):
        load_model(tmp_path / "noweights.keras")
    _rewrite(good, tmp_path / "short.keras",
             weights=lambda a: {k: v for k, v in a.items() if k != "out/bias"})
    with pytest.raises(ValueError, match=r"model\.weights\.npz in .*short\.keras has no value "
                                         r"for variable\(s\) \['out/bias'\] of model 'mlp'"):
        load_model(tmp_path / "short.keras")
    _rewrite(good, tmp_path / "shape.keras",
             weights=lambda a: {**a, "out/bias": np.zeros(2, np.float32)})
    with pytest.raises(ValueError, match=r"variable 'out/bias' of model 'mlp' has shape "
                                         r"\(3,\), but model\.weights\.npz in .*shape\.keras "
                                         r"holds one of shape \(2,\)"):
        load_model(tmp_path / "shape.keras")
    _rewrite(good, tmp_path / "extra.keras",
             weights=lambda a: {**a, "gone/kernel": a["hidden/kernel"]})
    with pytest.raises(ValueError, match=r"holds value\(s\) for \['gone/kernel'\], which model "
                                         r"'mlp' does not have"):
        load_model(tmp_path / "extra.keras")
    _rewrite(good, tmp_path / "h5.keras", drop={"model.weights.npz"})
    with zipfile.ZipFile(tmp_path / "h5.keras", "a") as archive:
        archive.writestr("model.weights.h5", b"")
    with pytest.raises(ValueError, match=r"model\.weights\.h5 \(Keras' HDF5 store, which needs "
                                         r"h5py\)"):
        load_model(tmp_path / "h5.keras")


def test_a_refused_optimizer_state_leaves_the_model_as_it_was(tmp_path):
    trained = sequential()
    trained.compile(optimizer=L.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    trained.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    trained.save(tmp_path / "good.keras")
    _rewrite(tmp_path / "good.keras", tmp_path / "bad_slot.keras",
             weights=lambda a: {**a, "optimizer/momentum/out/bias": np.zeros(2, np.float32)})
    target = sequential()
    target.compile(optimizer=L.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    before = target.get_weights()
    with pytest.raises(ValueError, match=r"^load_weights: optimizer slot "
                                         r"'optimizer/momentum/out/bias' in .*bad_slot\.keras "
                                         r"has shape \(2,\), expected \(3,\)"):
        target.load_weights(tmp_path / "bad_slot.keras")
    for a, b in zip(target.get_weights(), before):
        np.testing.assert_array_equal(a, b)  # nothing assigned: the checks come first
    assert target.optimizer.iterations == 0


def test_optimizer_state_of_another_class_is_skipped_with_a_warning(tmp_path):
    trained = sequential()
    trained.compile(optimizer=L.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    trained.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    trained.save(tmp_path / "adam.keras")
    target = sequential()
    target.compile(optimizer=L.optimizers.SGD(0.01, momentum=0.9),
                   loss="sparse_categorical_crossentropy")
    with pytest.warns(UserWarning, match=r"load_weights: the optimizer state in .*adam\.keras "
                                         r"was saved by Adam; model 'mlp' is compiled with SGD"):
        target.load_weights(tmp_path / "adam.keras")
    assert_same_outputs(target.predict(X, verbose=0), trained.predict(X, verbose=0))
    assert target.optimizer.iterations == 0  # Adam's first moments are not SGD's momenta


def test_lambdas_load_only_outside_safe_mode(tmp_path):
    inputs = L.Input((5,))
    model = L.Model(inputs, layers.Dense(2, activation=lambda x: L.ops.multiply(x, 2.0))(inputs))
    with pytest.warns(UserWarning, match="includes a `lambda`"):
        model.save(tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match=r"deserialization of a `lambda` object.*"
                                         r"safe_mode=False"):
        load_model(tmp_path / "lambda.keras")
    loaded = load_model(tmp_path / "lambda.keras", safe_mode=False)
    assert_same_outputs(loaded.predict(X, verbose=0), model.predict(X, verbose=0))


def test_save_to_a_file_object_and_load_weights_from_an_archive(tmp_path):
    model = sequential()
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    assert_same_outputs(load_model(buffer).predict(X, verbose=0), model.predict(X, verbose=0))
    model.save(tmp_path / "m.keras")
    other = L.Sequential.from_config(model.get_config())
    other.load_weights(tmp_path / "m.keras")
    assert_same_outputs(other.predict(X, verbose=0), model.predict(X, verbose=0))


@register_keras_serializable(package="lamina_tests")
def half_tanh(x):
    return L.ops.multiply(L.ops.tanh(x), 0.5)


@register_keras_serializable(package="lamina_tests")
class CenteredInit(L.initializers.Initializer):
    def __init__(self, scale=0.1):
        self.scale = scale

    def __call__(self, shape, dtype="float32"):
        return (np.arange(np.prod(shape)).reshape(shape) * self.scale).astype(dtype)

    def get_config(self):
        return {"scale": self.scale}


@register_keras_serializable(package="lamina_tests")
class Clip(L.constraints.Constraint):
    def __call__(self, w):
        return np.clip(w, -0.5, 0.5)


@register_keras_serializable(package="lamina_tests")
def tiny_l2(w):
    return L.ops.multiply(L.ops.sum(L.ops.square(w)), 1e-3)


@register_keras_serializable(package="lamina_tests")
def constant_rate(step):
    return 0.05


def test_registered_components_inside_layers_and_optimizer(tmp_path):
    inputs = L.Input((5,))
    dense = layers.Dense(3, activation=half_tanh, kernel_initializer=CenteredInit(0.01),
                         kernel_regularizer=tiny_l2, kernel_constraint=Clip(), name="dense")
    model = L.Model(inputs, dense(inputs))
    config = dense.get_config()
    assert config["activation"]["registered_name"] == "lamina_tests>half_tanh"
    assert config["kernel_initializer"]["registered_name"] == "lamina_tests>CenteredInit"
    model.compile(optimizer=L.optimizers.SGD(learning_rate=constant_rate), loss="mse")
    model.fit(X, rng.standard_normal((24, 3)).astype(np.float32), epochs=1, verbose=0)
    model.save(tmp_path / "parts.keras")
    loaded = load_model(tmp_path / "parts.keras")
    got = loaded.get_layer("dense")
    assert got.activation is half_tanh and got.kernel_regularizer is tiny_l2
    assert isinstance(got.kernel_initializer, CenteredInit) and got.kernel_initializer.scale == 0.01
    assert isinstance(got.kernel_constraint, Clip)
    assert loaded.optimizer.learning_rate == 0.05
    assert_same_outputs(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    assert L.activations.get("lamina_tests>half_tanh") is half_tanh


@register_keras_serializable(package="lamina_tests")
def absolute_error(y_true, y_pred):
    return L.ops.mean(L.ops.abs(L.ops.subtract(y_pred, y_true)), axis=-1)


def test_wrapped_loss_and_metric_functions_round_trip(tmp_path):
    model = L.Sequential([L.Input((5,)), layers.Dense(2)])
    model.compile(optimizer="sgd", loss=L.losses.LossFunctionWrapper(absolute_error),
                  metrics=[L.metrics.MeanMetricWrapper(absolute_error, name="abs")])
    target = rng.standard_normal((24, 2)).astype(np.float32)
    model.save(tmp_path / "wrapped.keras")
    loaded = load_model(tmp_path / "wrapped.keras")
    assert loaded.loss.fn is absolute_error
    assert loaded.evaluate(X, target, verbose=0, return_dict=True) == \
        model.evaluate(X, target, verbose=0, return_dict=True)


def test_names_in_a_custom_object_scope_resolve_everywhere():
    def doubled_error(y_true, y_pred):
        return L.ops.mean(L.ops.square(L.ops.subtract(y_pred, y_true)), axis=-1)

    model = L.Sequential([L.Input((5,)), layers.Dense(2)])
    with L.saving.custom_object_scope({"doubled_error": doubled_error, "act": half_tanh}):
        model.compile(optimizer="sgd", loss="doubled_error", metrics=["doubled_error"])
        logs = model.fit(X, rng.standard_normal((24, 2)).astype(np.float32), epochs=1,
                         verbose=0).history
        assert logs["doubled_error"] == logs["loss"]
        assert layers.Dense(2, activation="act").activation is half_tanh
    with pytest.raises(ValueError, match="Unknown activation function: 'act'"):
        layers.Dense(2, activation="act")


def test_multi_input_subclassed_model_builds_from_its_config(tmp_path):
    @register_keras_serializable(package="lamina_tests")
    class Pair(L.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.left, self.right = layers.Dense(2), layers.Dense(2)

        def call(self, inputs):
            return L.ops.add(self.left(inputs[0]), self.right(inputs[1]))

    model = Pair()
    pair = [X[:3], X[:3, :2]]
    want = model(pair).data
    model.save(tmp_path / "pair.keras")
    np.testing.assert_array_equal(load_model(tmp_path / "pair.keras")(pair).data, want)


def test_a_custom_compile_is_not_called_on_load(tmp_path):
    class OwnCompile(L.Sequential):
        def compile(self, *args, **kwargs):
            super().compile(*args, **kwargs)

    model = OwnCompile([L.Input((5,)), layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    model.save(tmp_path / "own.keras")
    with pytest.warns(UserWarning, match="`compile\\(\\)` was not called as part of model "
                                         "loading because the model's `compile\\(\\)` method is "
                                         "custom"):
        loaded = load_model(tmp_path / "own.keras", custom_objects={"OwnCompile": OwnCompile})
    assert not loaded.compiled
