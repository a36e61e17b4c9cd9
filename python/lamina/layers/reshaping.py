"""Reshaping layers: Flatten, Reshape, RepeatVector (the batch axis is kept)."""
import numpy as np

from .. import backend, ops
from .layer import InputSpec, Layer

__all__ = ["Flatten", "Reshape", "RepeatVector"]


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


class RepeatVector(Layer):
    """(N, features) -> (N, n, features): the input repeated n times along a new time axis
    (Keras 3), e.g. to feed an encoder's summary to every step of a decoder RNN."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n <= 0:
            raise ValueError(f"RepeatVector '{self.name}': `n` must be a positive integer, got "
                             f"{n!r}")
        self.n = int(n)
        self.input_spec = InputSpec(ndim=2)
        self.built = True

    def call(self, inputs):
        # a broadcasting product: backward sums the n copies' gradients in one reduction
        xp = backend.array_module(getattr(inputs, "data", inputs))  # cupy on a GPU
        ones = xp.ones((1, self.n, 1), dtype=inputs.dtype)
        return ops.multiply(ops.expand_dims(inputs, 1), ones)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        config = super().get_config()
        config["n"] = self.n
        return config
