"""Saving whole models, Keras 3's way: ``model.save("model.keras")``,
``lamina.saving.load_model("model.keras", custom_objects=None, compile=True, safe_mode=True)``,
``register_keras_serializable`` for custom classes and functions, and the config machinery
(``serialize_keras_object`` / ``deserialize_keras_object``) that ``get_config``,
``from_config``, ``to_json`` and ``clone_model`` share.

    object_registration.py  the registry of custom objects and custom_object_scope
    serialization_lib.py    objects <-> {"module", "class_name", "config", "registered_name"}
    saving_lib.py           the .keras zip: metadata.json, config.json, model.weights.npz
"""
from .object_registration import (CustomObjectScope, custom_object_scope, get_custom_objects,
                                  get_registered_name, get_registered_object,
                                  register_keras_serializable)
from .saving_lib import load_model, save_model
from .serialization_lib import (deserialize_keras_object, enable_unsafe_deserialization,
                                serialize_keras_object)

__all__ = ["save_model", "load_model", "register_keras_serializable", "get_registered_name",
           "get_registered_object", "get_custom_objects", "CustomObjectScope",
           "custom_object_scope", "serialize_keras_object", "deserialize_keras_object",
           "enable_unsafe_deserialization"]
