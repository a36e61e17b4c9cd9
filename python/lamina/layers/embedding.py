"""Embedding and Masking: the layers that start a Keras mask.

``Embedding(mask_zero=True)`` masks the steps whose index is 0, ``Masking(mask_value)`` the
steps whose features all equal mask_value; ``Layer.__call__`` attaches the mask to the output
(``compute_mask``) and the layers after pass it on to the recurrent layers that use it
(layers/masking.py: ``get_mask`` / ``set_mask``).
"""
import numpy as np

from .. import constraints, initializers, ops, regularizers
from ..autograd import Tensor
from ..ops.embedding import embedding
from .layer import Layer
from .masking import get_mask, set_mask

__all__ = ["Embedding", "Masking", "get_mask", "set_mask"]


class Embedding(Layer):
    """Maps integer indices in [0, input_dim) to rows of an (input_dim, output_dim) table.
    With mask_zero=True, index 0 is padding: the output carries a mask for the layers after."""

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, lora_rank=None, activity_regularizer=None, **kwargs):
        kwargs.pop("input_length", None)  # Keras 2 argument, ignored as in Keras 3
        super().__init__(**kwargs)
        for arg, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"Embedding '{self.name}': `{arg}` must be a positive integer, "
                                 f"got {value!r}")
        if lora_rank is not None:
            raise NotImplementedError("Embedding: lora_rank is not supported by lamina yet")
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self._initial_weights = weights

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(
            shape=(self.input_dim, self.output_dim), initializer=self.embeddings_initializer,
            name="embeddings", regularizer=self.embeddings_regularizer,
            constraint=self.embeddings_constraint)
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def call(self, inputs):
        return embedding(inputs, self.embeddings)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        data = inputs.data if isinstance(inputs, Tensor) else np.asarray(inputs)
        return data != 0

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "input_dim": self.input_dim, "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "embeddings_constraint": constraints.serialize(self.embeddings_constraint),
            "mask_zero": self.mask_zero})
        return config


class Masking(Layer):
    """Masks timesteps whose features all equal mask_value: they are zeroed, and the recurrent
    layers after carry their state through them (Keras' Masking)."""

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        data = inputs.data
        keep = np.any(data != self.mask_value, axis=-1, keepdims=True)
        return ops.multiply(inputs, keep.astype(data.dtype))

    def compute_mask(self, inputs, mask=None):
        data = inputs.data if isinstance(inputs, Tensor) else np.asarray(inputs)
        return np.any(data != self.mask_value, axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["mask_value"] = self.mask_value
        return config
