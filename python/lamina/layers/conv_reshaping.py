"""The image reshaping layers that go with convolutions (Keras 3 names): ZeroPadding2D
(ops.pad), UpSampling2D (nearest: ops.repeat along each spatial axis, as Keras), SpatialDropout2D
(ops.dropout with one draw per feature map)."""
import numpy as np

from .. import ops, random
from .layer import InputSpec, Layer

__all__ = ["ZeroPadding2D", "UpSampling2D", "SpatialDropout2D"]


def _spatial_axes(data_format):
    return (1, 2) if data_format == "channels_last" else (2, 3)


class ZeroPadding2D(Layer):
    """Pads rows and columns with zeros. ``padding``: int, (rows, cols) symmetric, or
    ((top, bottom), (left, right))."""

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(padding, (int, np.integer)):
            padding = ((int(padding),) * 2,) * 2
        elif len(padding) == 2 and all(isinstance(p, (int, np.integer)) for p in padding):
            padding = ((int(padding[0]),) * 2, (int(padding[1]),) * 2)
        else:
            padding = tuple(tuple(int(v) for v in p) for p in padding)
        if len(padding) != 2 or any(len(p) != 2 or min(p) < 0 for p in padding):
            raise ValueError(f"ZeroPadding2D '{self.name}': `padding` must be an int, a tuple "
                             f"of 2 ints or a tuple of 2 tuples of 2 non-negative ints, got "
                             f"{padding!r}")
        self.padding = padding
        self.data_format = data_format or "channels_last"
        self.input_spec = InputSpec(ndim=4)
        self.built = True

    def call(self, inputs):
        ah, aw = _spatial_axes(self.data_format)
        width = [(0, 0)] * 4
        width[ah], width[aw] = self.padding
        return ops.pad(inputs, width)

    def compute_output_shape(self, input_shape):
        out = list(input_shape)
        for axis, (a, b) in zip(_spatial_axes(self.data_format), self.padding):
            out[axis] = None if out[axis] is None else out[axis] + a + b
        return tuple(out)

    def get_config(self):
        config = super().get_config()
        config.update({"padding": self.padding, "data_format": self.data_format})
        return config


class UpSampling2D(Layer):
    """Repeats rows size[0] times and columns size[1] times (interpolation="nearest")."""

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = (int(size),) * 2 if isinstance(size, (int, np.integer)) else \
            tuple(int(s) for s in size)
        if len(self.size) != 2 or min(self.size) < 1:
            raise ValueError(f"UpSampling2D '{self.name}': `size` must be a positive int or a "
                             f"tuple of 2, got {size!r}")
        if interpolation != "nearest":
            raise NotImplementedError(f"UpSampling2D '{self.name}': lamina implements "
                                      f"interpolation='nearest' only, got {interpolation!r}")
        self.interpolation = interpolation
        self.data_format = data_format or "channels_last"
        self.input_spec = InputSpec(ndim=4)
        self.built = True

    def call(self, inputs):
        ah, aw = _spatial_axes(self.data_format)
        return ops.repeat(ops.repeat(inputs, self.size[0], axis=ah), self.size[1], axis=aw)

    def compute_output_shape(self, input_shape):
        out = list(input_shape)
        for axis, s in zip(_spatial_axes(self.data_format), self.size):
            out[axis] = None if out[axis] is None else out[axis] * s
        return tuple(out)

    def get_config(self):
        config = super().get_config()
        config.update({"size": self.size, "data_format": self.data_format,
                       "interpolation": self.interpolation})
        return config


class SpatialDropout2D(Layer):
    """Dropout of whole feature maps: during training each (sample, channel) is zeroed with
    probability `rate` and the rest scaled by 1 / (1 - rate); the identity at inference."""

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate <= 1:
            raise ValueError(f"SpatialDropout2D '{self.name}': invalid value received for "
                             f"argument `rate`. Expected a float value between 0 and 1. "
                             f"Received: rate={rate}")
        self.rate = float(rate)
        self.data_format = data_format or "channels_last"
        self.seed = seed
        self._seed_generator = None if seed is None else random.SeedGenerator(seed)
        self.input_spec = InputSpec(ndim=4)
        self.built = True

    _UNTRACKED = frozenset({"_seed_generator"})

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        if self.rate >= 1:
            return inputs * 0.0
        n = inputs.shape[0]
        c_last = self.data_format == "channels_last"
        noise = (n, 1, 1, inputs.shape[3]) if c_last else (n, inputs.shape[1], 1, 1)
        return ops.dropout(inputs, self.rate, noise_shape=noise, seed=self._seed_generator)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "data_format": self.data_format, "seed": self.seed})
        return config
