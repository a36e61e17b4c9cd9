"""Weight constraints (Keras 3), applied to a weight after each optimizer update."""
import numpy as np

from .saving.serialization_lib import (custom_object, deserialize_keras_object,
                                       is_builtin_config, serialize_keras_object)

__all__ = ["Constraint", "MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm", "get", "serialize",
           "deserialize"]


class Constraint:
    """``constraint(w)`` maps a weight's array to its projected value."""

    def __call__(self, w):
        return w

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class NonNeg(Constraint):
    def __call__(self, w):
        return np.maximum(w, 0)


class MaxNorm(Constraint):
    def __init__(self, max_value=2, axis=0):
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        norms = np.sqrt(np.sum(np.square(w), axis=self.axis, keepdims=True))
        desired = np.clip(norms, 0, self.max_value)
        return w * (desired / (1e-7 + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class UnitNorm(Constraint):
    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        return w / (1e-7 + np.sqrt(np.sum(np.square(w), axis=self.axis, keepdims=True)))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        norms = np.sqrt(np.sum(np.square(w), axis=self.axis, keepdims=True))
        desired = self.rate * np.clip(norms, self.min_value, self.max_value) + \
            (1 - self.rate) * norms
        return w * (desired / (1e-7 + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


_BY_NAME = {"non_neg": NonNeg, "max_norm": MaxNorm, "unit_norm": UnitNorm,
            "min_max_norm": MinMaxNorm, "NonNeg": NonNeg, "MaxNorm": MaxNorm,
            "UnitNorm": UnitNorm, "MinMaxNorm": MinMaxNorm}


def serialize(constraint):
    """{"class_name", "config"} for lamina's constraints (what ``get`` takes back); None stays
    None; a custom one (a Constraint subclass or a function) gets Keras' full config (module,
    registered name)."""
    if constraint is None:
        return None
    if type(constraint) in (NonNeg, MaxNorm, UnitNorm, MinMaxNorm):
        return {"class_name": type(constraint).__name__, "config": constraint.get_config()}
    return serialize_keras_object(constraint)


def deserialize(config, custom_objects=None):
    name = config.get("class_name")
    if name in _BY_NAME and is_builtin_config(config):
        return _BY_NAME[name].from_config(config.get("config", {}))
    constraint = deserialize_keras_object(config, custom_objects=custom_objects)
    if not callable(constraint):
        raise ValueError(f"Unknown constraint class_name: {name!r}")
    return constraint


def get(identifier):
    if identifier is None:
        return None
    if isinstance(identifier, str):
        custom = None if identifier in _BY_NAME else custom_object(identifier)
        if custom is not None:
            return custom() if isinstance(custom, type) else custom
        if identifier not in _BY_NAME:
            raise ValueError(f"Unknown constraint: {identifier!r}")
        return _BY_NAME[identifier]()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret constraint identifier: {identifier!r}")
