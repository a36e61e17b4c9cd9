"""Keras 3's config machinery: ``register_keras_serializable`` for custom classes and
functions, and ``serialize_keras_object`` / ``deserialize_keras_object``, which ``get_config``,
``from_config`` and the modules' ``serialize`` / ``get`` share.

    object_registration.py  the registry of custom objects and custom_object_scope
    serialization_lib.py    objects <-> {"module", "class_name", "config", "registered_name"}
"""
from .object_registration import (CustomObjectScope, custom_object_scope, get_custom_objects,
                                  get_registered_name, get_registered_object,
                                  register_keras_serializable)
from .serialization_lib import (deserialize_keras_object, enable_unsafe_deserialization,
                                serialize_keras_object)

__all__ = ["register_keras_serializable", "get_registered_name",
           "get_registered_object", "get_custom_objects", "CustomObjectScope",
           "custom_object_scope", "serialize_keras_object", "deserialize_keras_object",
           "enable_unsafe_deserialization"]
