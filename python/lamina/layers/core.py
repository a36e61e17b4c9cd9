"""Core layers: Dense, Activation, InputLayer / Input."""
import numpy as np

from .. import activations, backend, constraints, initializers, ops, regularizers
from .layer import InputSpec, Layer
from .symbolic import GraphNode, SymbolicTensor

__all__ = ["Dense", "Activation", "InputLayer", "Input"]


class Dense(Layer):
    """``activation(inputs @ kernel + bias)``, kernel (input_dim, units), bias (units,).

    Inputs of any rank >= 2 are multiplied along their last axis. A built-in activation runs
    fused with the matrix product in one kernel call (forward and backward); any other callable
    is applied afterwards.
    """

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"Dense '{self.name}': `units` must be a positive integer, got "
                             f"{units!r}")
        if lora_rank is not None:
            raise NotImplementedError("Dense: lora_rank is not supported by lamina yet")
        self.units = int(units)
        self.activation = activations.get(activation)
        self._fused = activations.FUSED.get(self.activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.input_spec = InputSpec(min_ndim=2)
        self.supports_masking = True  # Keras: the input's mask passes through

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"Dense '{self.name}': the last axis of the input must be known, "
                             f"got input shape {tuple(input_shape)}")
        self.kernel = self.add_weight(shape=(input_dim, self.units),
                                      initializer=self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = self.add_weight(shape=(self.units,), initializer=self.bias_initializer,
                                    name="bias", regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        self.input_spec = InputSpec(min_ndim=2, axes={-1: int(input_dim)})
        self.built = True

    def call(self, inputs):
        if self._fused is not None:
            return ops.dense(inputs, self.kernel, self.bias, self._fused)
        return self.activation(ops.dense(inputs, self.kernel, self.bias, None))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units, "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        })
        return config


class Activation(Layer):
    """Applies an activation function (name or callable)."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.supports_masking = True

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["activation"] = activations.serialize(self.activation)
        return config


class InputLayer(Layer):
    """The entry of a model: holds the expected input shape (batch axis first, None)."""

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, ragged=None,
                 batch_shape=None, input_tensor=None, optional=False, name=None, **kwargs):
        if "input_shape" in kwargs and shape is None:
            shape = kwargs.pop("input_shape")
        super().__init__(name=name, dtype=dtype, **kwargs)
        if sparse or ragged:
            raise NotImplementedError("InputLayer: sparse and ragged inputs are not supported "
                                      "by lamina")
        self.optional = bool(optional)
        if batch_shape is None:
            if shape is None:
                raise ValueError("InputLayer: give `shape` (without the batch axis) or "
                                 "`batch_shape`")
            if isinstance(shape, (int, np.integer)):
                shape = (int(shape),)
            batch_shape = (batch_size,) + tuple(shape)
        self.batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        node = GraphNode(self, (), {}, [])
        node.output_struct = SymbolicTensor(self.batch_shape, self.dtype, name=self.name,
                                            node=node)
        node.outputs.append(node.output_struct)
        self._inbound_nodes.append(node)
        self.built = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        """Keras 3's InputLayer config."""
        return {"batch_shape": self.batch_shape, "dtype": self.dtype, "sparse": False,
                "ragged": False, "name": self.name, "optional": self.optional}


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None,
          tensor=None, optional=False):
    """A placeholder for a model's input: ``Input((64,))`` means batches of shape (N, 64)."""
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                       batch_shape=batch_shape, name=name, optional=optional)
    return layer.output
