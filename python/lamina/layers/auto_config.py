"""Keras' automatic layer config: a Layer subclass that does not write ``get_config`` is saved
with the arguments its constructor was called with, when they are all plain values (str, int,
float, bool, None, and lists / dicts of them); otherwise saving asks for ``get_config`` with
Keras' message. Also the reading of a build shape back from JSON.
"""
import inspect
import textwrap

import numpy as np

__all__ = ["capture", "missing_config_error", "as_shape"]

_SIGNATURES = {}
# Layer.__init__'s own arguments: the base config writes them, the automatic config skips them.
_BASE_ARGUMENTS = frozenset({"trainable", "name", "dtype", "autocast", "activity_regularizer",
                             "input_shape", "input_dim", "batch_input_shape", "input_dtype"})
_PLAIN = (str, int, float, bool, type(None))


def _plain(value):
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return isinstance(value, _PLAIN)


def capture(cls, args, kwargs):
    """(the constructor's arguments with their defaults, less Layer's own, or None when one is
    not a plain value; whether positional-only or ``*args`` arguments are the reason for None),
    from the arguments ``cls(*args, **kwargs)`` was called with (Layer.__new__ calls this)."""
    signature = _SIGNATURES.get(cls)
    if signature is None:
        signature = _SIGNATURES[cls] = inspect.signature(cls.__init__)
    params = list(signature.parameters.values())[1:]
    if any(p.kind is p.POSITIONAL_ONLY for p in params):
        return None, True
    try:
        bound = signature.bind(None, *args, **kwargs)
    except TypeError:
        return None, False
    bound.apply_defaults()
    config = {}
    for p in params:
        value = bound.arguments.get(p.name)
        if p.kind is p.VAR_POSITIONAL:
            if value:
                return None, True
        elif p.kind is p.VAR_KEYWORD:
            config.update(value or {})
        else:
            config[p.name] = value
    config = {k: v for k, v in config.items() if k not in _BASE_ARGUMENTS}
    return (config, False) if _plain(config) else (None, False)


_EXAMPLE = textwrap.indent(textwrap.dedent("""
    class CustomLayer(lamina.layers.Layer):
        def __init__(self, arg1, arg2, **kwargs):
            super().__init__(**kwargs)
            self.arg1 = arg1
            self.arg2 = arg2

        def get_config(self):
            config = super().get_config()
            config.update({"arg1": self.arg1, "arg2": self.arg2})
            return config"""), "    ")


def missing_config_error(class_name, args_error):
    """Keras' NotImplementedError for a class that has no automatic config."""
    if args_error:
        return NotImplementedError(
            f"Object {class_name} was created by passing positional only or variadic positional "
            f"arguments (e.g., `*args`) to `__init__()`, which is not supported by the "
            f"automatic config generation. Please remove all positional only and variadic "
            f"arguments from `__init__()` or override `get_config()` and `from_config()` to "
            f"make the object serializable.\n\nExample:\n{_EXAMPLE}")
    return NotImplementedError(
        f"Object {class_name} was created by passing non-serializable argument values in "
        f"`__init__()`, and therefore the object must override `get_config()` in order to be "
        f"serializable. Please implement `get_config()`.\n\nExample:\n{_EXAMPLE}")


def as_shape(value):
    """A shape read back from JSON: lists of ints / None become tuples, containers stay."""
    if isinstance(value, (list, tuple)):
        if all(d is None or isinstance(d, (int, np.integer)) for d in value):
            return tuple(None if d is None else int(d) for d in value)
        return [as_shape(v) for v in value]
    if isinstance(value, dict):
        return {k: as_shape(v) for k, v in value.items()}
    return value
