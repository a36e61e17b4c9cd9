"""Keras 3's custom-object registry: ``register_keras_serializable``, ``custom_object_scope``.

A class or function registered as ``"package>name"`` is found by that name when a saved config
names it (``registered_name``), without ``custom_objects``; a ``custom_object_scope`` (or the
``custom_objects`` argument of ``load_model`` and friends) adds names for the time of a load.
"""
import inspect

__all__ = ["register_keras_serializable", "get_registered_name", "get_registered_object",
           "get_custom_objects", "CustomObjectScope", "custom_object_scope"]

GLOBAL_CUSTOM_OBJECTS = {}  # "package>name" -> class or function
GLOBAL_CUSTOM_NAMES = {}  # class or function -> "package>name"


class _ScopeState:
    """The custom objects of the active custom_object_scope (one per process, as Keras')."""

    objects = {}


def register_keras_serializable(package="Custom", name=None):
    """Decorator registering a class (which must have ``get_config``) or a function under
    ``"package>name"`` (`name` defaults to the object's ``__name__``)."""

    def decorator(arg):
        class_name = name if name is not None else arg.__name__
        registered_name = f"{package}>{class_name}"
        if inspect.isclass(arg) and not hasattr(arg, "get_config"):
            raise ValueError("Cannot register a class that does not have a get_config() "
                             f"method. Received: {arg!r}")
        GLOBAL_CUSTOM_OBJECTS[registered_name] = arg
        GLOBAL_CUSTOM_NAMES[arg] = registered_name
        return arg

    return decorator


def get_registered_name(obj):
    """``"package>name"`` for a registered object, else its ``__name__``."""
    return GLOBAL_CUSTOM_NAMES.get(obj, getattr(obj, "__name__", None))


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The class or function known as `name`: in the active custom_object_scope, the global
    registry, `custom_objects`, then `module_objects`; None when none has it."""
    if name is None:
        return None
    for table in (_ScopeState.objects, GLOBAL_CUSTOM_OBJECTS, custom_objects or {},
                  module_objects or {}):
        if name in table:
            return table[name]
    return None


def get_custom_objects():
    """The live global registry (``"package>name"`` -> object); a scope's objects are not in
    it."""
    return GLOBAL_CUSTOM_OBJECTS


class CustomObjectScope:
    """``with custom_object_scope({"MyLayer": MyLayer}):`` makes the names known to
    deserialization (load_model, from_config, model_from_json) inside the block."""

    def __init__(self, custom_objects):
        self.custom_objects = dict(custom_objects or {})
        self.backup = None

    def __enter__(self):
        self.backup = _ScopeState.objects
        _ScopeState.objects = {**self.backup, **self.custom_objects}
        return self

    def __exit__(self, *exc):
        _ScopeState.objects = self.backup


custom_object_scope = CustomObjectScope


def scope_objects():
    """The custom objects of the active scope (a copy)."""
    return dict(_ScopeState.objects)
