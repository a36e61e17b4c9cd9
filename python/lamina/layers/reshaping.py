"""Reshaping layers: Flatten, Reshape (the batch axis is kept)."""
import numpy as np

from .. import ops
from .layer import Layer

__all__ = ["Flatten", "Reshape"]


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...)."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format or "channels_last"
        if self.data_format != "channels_last":
            raise NotImplementedError("Flatten: lamina supports data_format='channels_last'")
        self.built = True

    def call(self, inputs):
        if inputs.ndim == 2:
            return inputs
        return ops.reshape(inputs, (inputs.shape[0], -1))

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else int(np.prod(rest))
        return (input_shape[0], size)

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config


class Reshape(Layer):
    """(N, ...) -> (N,) + target_shape; one entry of target_shape may be -1."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in self.target_shape) > 1:
            raise ValueError(f"Reshape '{self.name}': at most one -1 in target_shape, got "
                             f"{self.target_shape}")
        self.built = True

    def call(self, inputs):
        return ops.reshape(inputs, (inputs.shape[0],) + self.target_shape)

    def compute_output_shape(self, input_shape):
        target = list(self.target_shape)
        if -1 in target:
            rest = input_shape[1:]
            if any(d is None for d in rest):
                target[target.index(-1)] = None
            else:
                known = int(np.prod([d for d in target if d != -1]))
                target[target.index(-1)] = int(np.prod(rest)) // known
        return (input_shape[0],) + tuple(target)

    def get_config(self):
        config = super().get_config()
        config["target_shape"] = self.target_shape
        return config
