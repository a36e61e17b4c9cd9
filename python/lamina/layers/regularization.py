"""Regularization layers: Dropout."""
from .. import ops, random
from .layer import Layer

__all__ = ["Dropout"]


class Dropout(Layer):
    """Zeroes inputs with probability `rate` during training and scales the others by
    1 / (1 - rate); the identity at inference."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate <= 1:
            raise ValueError(f"Dropout '{self.name}': invalid value received for argument "
                             f"`rate`. Expected a float value between 0 and 1. Received: "
                             f"rate={rate}")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._seed_generator = None if seed is None else random.SeedGenerator(seed)
        self.built = True

    _UNTRACKED = frozenset({"_seed_generator"})

    def call(self, inputs, training=False):
        if training and self.rate > 0:
            if self.rate >= 1:
                return inputs * 0.0
            return ops.dropout(inputs, self.rate, noise_shape=self.noise_shape,
                               seed=self._seed_generator)
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed})
        return config
