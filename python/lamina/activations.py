"""Activation functions with Keras 3's names, delegating to lamina.ops (differentiable).

``get("relu")`` returns the function; layers that can fuse the activation into their kernel
(Dense) look the function up in ``FUSED`` to pass its kernel name instead of calling it.
"""
from . import ops
from .saving.serialization_lib import (custom_object, deserialize_keras_object,
                                       serialize_keras_object)

__all__ = ["relu", "sigmoid", "tanh", "softmax", "log_softmax", "linear", "elu", "selu",
           "gelu", "softplus", "silu", "swish", "leaky_relu", "relu6", "hard_sigmoid",
           "softsign", "get", "serialize",
           "deserialize", "FUSED"]


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """max(x, 0); Keras' optional negative_slope, max_value and threshold are honoured."""
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return ops.relu(x)
    x = ops.convert_to_tensor(x)
    if threshold != 0.0:
        y = ops.where(x.data > threshold, x, negative_slope * (x - threshold))
    elif negative_slope != 0.0:
        y = ops.leaky_relu(x, negative_slope)
    else:
        y = ops.relu(x)
    if max_value is not None:
        y = ops.minimum(y, max_value)
    return y


def relu6(x):
    return ops.minimum(ops.relu(x), 6.0)


def sigmoid(x):
    return ops.sigmoid(x)


def tanh(x):
    return ops.tanh(x)


def softmax(x, axis=-1):
    return ops.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    return ops.log_softmax(x, axis=axis)


def linear(x):
    return x


def elu(x, alpha=1.0):
    return ops.elu(x, alpha)


def selu(x):
    return ops.selu(x)


def gelu(x, approximate=False):
    return ops.gelu(x, approximate=approximate)


def softplus(x):
    return ops.softplus(x)


def silu(x):
    return ops.silu(x)


swish = silu


def leaky_relu(x, negative_slope=0.2):
    return ops.leaky_relu(x, negative_slope)


def hard_sigmoid(x):
    """relu6(x + 3) / 6 (Keras 3): 0 below -3, 1 above 3, linear between."""
    return ops.multiply(ops.clip(ops.add(x, 3.0), 0.0, 6.0), 1.0 / 6.0)


def softsign(x):
    """x / (1 + |x|)."""
    return ops.divide(x, ops.add(ops.abs(x), 1.0))


_BY_NAME = {
    "relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softmax": softmax,
    "log_softmax": log_softmax, "linear": linear, "elu": elu, "selu": selu, "gelu": gelu,
    "softplus": softplus, "silu": silu, "swish": swish, "leaky_relu": leaky_relu,
    "relu6": relu6, "hard_sigmoid": hard_sigmoid, "softsign": softsign,
}

# Functions whose default form the fused kernels compute, by kernel activation name.
FUSED = {relu: "relu", sigmoid: "sigmoid", tanh: "tanh", softmax: "softmax", linear: "linear",
         elu: "elu", selu: "selu", gelu: "gelu", softplus: "softplus", silu: "silu",
         leaky_relu: "leaky_relu"}


def serialize(activation):
    """A built-in activation's name; Keras' config of any other (a registered or custom
    function, a lambda, a callable object with get_config) via serialize_keras_object."""
    for name, fn in _BY_NAME.items():
        if fn is activation:
            return name
    return serialize_keras_object(activation)


def deserialize(config, custom_objects=None):
    """The activation a name or a config dict names (custom ones from the registry, the active
    custom_object_scope or `custom_objects`)."""
    if isinstance(config, dict):
        fn = deserialize_keras_object(config, custom_objects=custom_objects)
        if not callable(fn):
            raise ValueError(f"Could not interpret activation function identifier: {config!r}")
        return fn
    if custom_objects and config in custom_objects:
        return custom_objects[config]
    return get(config)


def get(identifier):
    """None -> linear, a name (built-in, or registered / in the custom-object scope) -> the
    function, a config dict -> what it describes, a callable -> itself."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        fn = _BY_NAME.get(identifier) or custom_object(identifier)
        if fn is None:
            raise ValueError(f"Unknown activation function: {identifier!r}. Known names: "
                             f"{sorted(_BY_NAME)}")
        return fn
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret activation function identifier: {identifier!r}")
