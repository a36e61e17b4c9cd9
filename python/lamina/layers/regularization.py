"""Regularization layers: Dropout, SpatialDropout1D."""
from .. import ops, random
from .layer import InputSpec, Layer

__all__ = ["Dropout", "SpatialDropout1D"]


class Dropout(Layer):
    """Zeroes inputs with probability `rate` during training and scales the others by
    1 / (1 - rate); the identity at inference."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate <= 1:
            raise ValueError(f"{type(self).__name__} '{self.name}': invalid value received for "
                             f"argument `rate`. Expected a float value between 0 and 1. "
                             f"Received: rate={rate}")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._seed_generator = None if seed is None else random.SeedGenerator(seed)
        self.supports_masking = True  # Keras: the input's mask passes through
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


class SpatialDropout1D(Dropout):
    """Dropout of whole feature channels of a sequence (batch, timesteps, channels): during
    training each (sample, channel) is zeroed for every timestep with probability `rate`, the
    rest scaled by 1 / (1 - rate); the identity at inference (Keras 3)."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)
        self.noise_shape = (None, 1, None)
        self.input_spec = InputSpec(ndim=3)

    def get_config(self):
        config = super().get_config()
        del config["noise_shape"]
        return config
