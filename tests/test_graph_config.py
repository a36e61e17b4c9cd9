"""Functional and Sequential configs in Keras 3's layout (models/graph_config.py,
Model.from_config, to_json / model_from_json)."""
import json

import numpy as np

import lamina as L
from lamina import layers
from example_models import assert_same_outputs, rng, sequential, two_head_data, two_heads


def test_functional_config_has_keras_3_layout():
    model = two_heads()
    config = model.get_config()
    assert sorted(config) == ["input_layers", "layers", "name", "output_layers", "trainable"]
    by_name = {entry["name"]: entry for entry in config["layers"]}
    shared = by_name["shared"]
    assert {k: shared[k] for k in ("module", "class_name", "registered_name")} == \
        {"module": "lamina.layers", "class_name": "Dense", "registered_name": None}
    calls = shared["inbound_nodes"]
    assert [call["args"][0]["config"]["keras_history"] for call in calls] == \
        [["text_proj", 0, 0], ["tags_proj", 0, 0]]
    assert calls[0]["args"][0]["class_name"] == "__keras_tensor__" and calls[0]["kwargs"] == {}
    assert by_name["text"]["inbound_nodes"] == []
    assert by_name["inner"]["class_name"] == "Functional"
    assert by_name["inner"]["config"]["layers"][2]["registered_name"] == "lamina_tests>Scale"
    assert config["input_layers"] == [["text", 0, 0], ["tags", 0, 0]]
    assert by_name["sum"]["inbound_nodes"][0]["args"][0][0]["config"]["keras_history"] == \
        ["inner", 0, 0]
    # Keras counts a nested functional model's own node: in output_layers its first call is 1.
    assert config["output_layers"] == {"priority": ["priority", 0, 0],
                                       "department": ["department", 0, 0]}
    inner_in = L.Input((3,))
    inner = L.Model(inner_in, layers.Dense(2)(inner_in), name="inner")
    outer_in = L.Input((3,))
    outer = L.Model(outer_in, inner(outer_in))
    assert outer.get_config()["output_layers"] == ["inner", 1, 0]
    assert L.Model.from_config(outer.get_config()).output_shape == (None, 2)


def test_from_config_and_to_json_rebuild_the_architecture():
    model = two_heads()
    for rebuilt in (L.Model.from_config(model.get_config()),
                    L.models.model_from_json(model.to_json())):
        assert json.dumps(rebuilt.get_config()) == json.dumps(model.get_config())
        rebuilt.set_weights(model.get_weights())
        x, _ = two_head_data()
        assert_same_outputs(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0))
    assert L.models.model_from_json(model.to_json()).compiled  # to_json has compile_config
    seq = sequential()
    clone = L.Sequential.from_config(seq.get_config())
    assert clone.built and json.dumps(clone.get_config()) == json.dumps(seq.get_config())


def test_only_the_calls_of_this_model_are_in_its_config():
    dense = layers.Dense(2, name="dense")
    first, second = L.Input((3,), name="first"), L.Input((3,), name="second")
    dense(first)  # a call that belongs to no model below
    out = layers.Dropout(0.5, seed=1, name="drop")(dense(second), training=True)
    model = L.Model(second, out)
    config = model.get_config()
    calls = {e["name"]: e["inbound_nodes"] for e in config["layers"]}
    assert [e["name"] for e in config["layers"]] == ["second", "dense", "drop"]
    assert calls["drop"][0]["kwargs"] == {"training": True}
    assert calls["drop"][0]["args"][0]["config"]["keras_history"] == ["dense", 0, 0]
    again = L.Model.from_config(config)
    assert again.get_layer("drop")._inbound_nodes[0].kwargs == {"training": True}
    assert again.get_config() == config


def test_a_model_from_an_intermediate_tensor_round_trips():
    inputs = L.Input((4,))
    mid = layers.Dense(3, name="mid")(inputs)
    head = L.Model(mid, layers.Dense(2, name="head")(mid))
    config = head.get_config()
    assert [e["class_name"] for e in config["layers"]] == ["InputLayer", "Dense"]
    again = L.Model.from_config(config)
    assert again.input_names == head.input_names == ["mid"]
    again.get_layer("head").set_weights(head.get_layer("head").get_weights())
    x = rng.standard_normal((3, 3)).astype(np.float32)
    np.testing.assert_array_equal(again.predict(x, verbose=0), head.predict(x, verbose=0))


def test_keras_written_and_older_lamina_configs_load():
    keras_config = {
        "module": "keras.src.models.functional", "class_name": "Functional",
        "registered_name": "Functional", "build_config": {"input_shape": None},
        "config": {"name": "functional", "trainable": True, "layers": [
            {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
             "config": {"batch_shape": [None, 3], "dtype": "float32", "sparse": False,
                        "ragged": False, "name": "input_layer", "optional": False},
             "name": "input_layer", "inbound_nodes": []},
            {"module": "keras.layers", "class_name": "Dense", "registered_name": None,
             "config": {"name": "dense", "trainable": True, "units": 2, "activation": "relu",
                        "dtype": {"module": "keras", "class_name": "DTypePolicy",
                                  "config": {"name": "float32"}, "registered_name": None},
                        "use_bias": True, "kernel_regularizer": None,
                        "kernel_initializer": {"module": "keras.initializers",
                                               "class_name": "GlorotUniform",
                                               "config": {"seed": None},
                                               "registered_name": None}},
             "build_config": {"input_shape": [None, 3]}, "name": "dense",
             "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {
                 "shape": [None, 3], "dtype": "float32",
                 "keras_history": ["input_layer", 0, 0]}}], "kwargs": {}}]}],
            "input_layers": [["input_layer", 0, 0]], "output_layers": [["dense", 0, 0]]}}
    model = L.saving.deserialize_keras_object(keras_config)
    assert isinstance(model, L.Model) and model.output_shape == (None, 2)
    assert isinstance(model.get_layer("dense").kernel_initializer,
                      L.initializers.GlorotUniform)
    # lamina's first functional configs (and Keras 2's) listed [layer, node, tensor] per call.
    older = model.get_config()
    for entry in older["layers"]:
        entry["inbound_nodes"] = [[call["args"][0]["config"]["keras_history"]]
                                  for call in entry["inbound_nodes"]]
    assert L.Model.from_config(older).get_config() == model.get_config()
