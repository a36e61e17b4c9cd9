"""Weight regularizers (Keras 3): a penalty added to the loss, differentiable through ops."""
from . import ops
from .saving.serialization_lib import (custom_object, deserialize_keras_object,
                                       is_builtin_config, serialize_keras_object)

__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get", "serialize",
           "deserialize"]


class Regularizer:
    def __call__(self, x):
        return 0.0

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class L1L2(Regularizer):
    """l1 * sum(|x|) + l2 * sum(x ** 2)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, x):
        out = None
        if self.l1:
            out = self.l1 * ops.sum(ops.abs(x))
        if self.l2:
            term = self.l2 * ops.sum(ops.square(x))
            out = term if out is None else out + term
        return out if out is not None else 0.0

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


l1, l2, l1_l2 = L1, L2, L1L2
_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": L1L2, "L1": L1, "L2": L2, "L1L2": L1L2}


def serialize(regularizer):
    """{"class_name", "config"} for lamina's regularizers (what ``get`` takes back); None stays
    None; a custom one (a Regularizer subclass or a function) gets Keras' full config (module,
    registered name)."""
    if regularizer is None:
        return None
    if type(regularizer) in (L1, L2, L1L2):
        return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}
    return serialize_keras_object(regularizer)


def deserialize(config, custom_objects=None):
    name = config.get("class_name")
    if name in _BY_NAME and is_builtin_config(config):
        return _BY_NAME[name].from_config(config.get("config", {}))
    regularizer = deserialize_keras_object(config, custom_objects=custom_objects)
    if not callable(regularizer):
        raise ValueError(f"Unknown regularizer: {config!r}")
    return regularizer


def get(identifier):
    if identifier is None:
        return None
    if isinstance(identifier, str):
        custom = None if identifier in _BY_NAME else custom_object(identifier)
        if custom is not None:
            return custom() if isinstance(custom, type) else custom
        if identifier not in _BY_NAME:
            raise ValueError(f"Unknown regularizer: {identifier!r}")
        return _BY_NAME[identifier]()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret regularizer identifier: {identifier!r}")
