"""Weight initializers with Keras 3's names, arguments and defaults.

An initializer is called as ``init(shape, dtype="float32")`` and returns a numpy array. Unseeded
initializers draw from ``lamina.random.generator()`` (reseeded by
``lamina.utils.set_random_seed``), so a seeded program builds the same weights every run. An
initializer given ``seed=<int>`` draws from its own ``numpy.random.default_rng(seed)``, recreated
on every call: like Keras 3, a seeded initializer returns the same values each time it is called.
"""
import math

import numpy as np

from .saving.serialization_lib import (custom_object, deserialize_keras_object,
                                       is_builtin_config, serialize_keras_object)

__all__ = [
    "Initializer", "Zeros", "Ones", "Constant", "Identity", "RandomNormal", "RandomUniform",
    "TruncatedNormal", "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform",
    "HeNormal", "LecunUniform", "LecunNormal", "Orthogonal", "compute_fans", "get",
    "serialize", "deserialize",
]

# Standard deviation of a unit normal truncated to [-2, 2]; dividing by it keeps the variance
# of a truncated-normal draw equal to the variance asked for (Keras uses the same constant).
_TRUNCATED_STDDEV_CORRECTION = 0.87962566103423978


def _global_generator():
    from . import random as lamina_random

    return lamina_random.generator()


def compute_fans(shape):
    """(fan_in, fan_out) as Keras computes them: a conv kernel (..., in, out) multiplies both
    by its receptive field, the product of the leading axes."""
    shape = tuple(int(d) for d in shape)
    if len(shape) < 1:
        fan_in = fan_out = 1
    elif len(shape) == 1:
        fan_in = fan_out = shape[0]
    elif len(shape) == 2:
        fan_in, fan_out = shape
    else:
        receptive_field = 1
        for dim in shape[:-2]:
            receptive_field *= dim
        fan_in = shape[-2] * receptive_field
        fan_out = shape[-1] * receptive_field
    return int(fan_in), int(fan_out)


def _shape_tuple(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(d) for d in shape)


class Initializer:
    """Base class: subclasses implement ``__call__(shape, dtype)`` and ``get_config()``."""

    def __call__(self, shape, dtype="float32"):
        raise NotImplementedError(f"{type(self).__name__} must implement __call__")

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def clone(self):
        return self.__class__.from_config(self.get_config())

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    def __call__(self, shape, dtype="float32"):
        return np.zeros(_shape_tuple(shape), dtype=dtype)


class Ones(Initializer):
    def __call__(self, shape, dtype="float32"):
        return np.ones(_shape_tuple(shape), dtype=dtype)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype="float32"):
        return np.full(_shape_tuple(shape), self.value, dtype=dtype)

    def get_config(self):
        return {"value": self.value}


class Identity(Initializer):
    """gain * identity matrix; only for 2-D shapes, like Keras."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype="float32"):
        shape = _shape_tuple(shape)
        if len(shape) != 2:
            raise ValueError(
                f"Identity initializer can only be used for 2D matrices. Received: shape={shape}")
        return (self.gain * np.eye(*shape)).astype(dtype)

    def get_config(self):
        return {"gain": self.gain}


class RandomInitializer(Initializer):
    def __init__(self, seed=None):
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise ValueError(f"`seed` must be an int or None. Received: seed={seed!r}")
        self.seed = None if seed is None else int(seed)

    def _rng(self):
        if self.seed is None:
            return _global_generator()
        return np.random.default_rng(self.seed)

    def get_config(self):
        return {"seed": self.seed}


def _truncated_normal(rng, shape, mean, stddev):
    """Normal draws, redrawing those more than two standard deviations from the mean."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2.0
    return out * stddev + mean


class RandomNormal(RandomInitializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype="float32"):
        return self._rng().normal(self.mean, self.stddev, _shape_tuple(shape)).astype(dtype)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(RandomInitializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype="float32"):
        return self._rng().uniform(self.minval, self.maxval, _shape_tuple(shape)).astype(dtype)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class TruncatedNormal(RandomInitializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype="float32"):
        out = _truncated_normal(self._rng(), _shape_tuple(shape), self.mean, self.stddev)
        return out.astype(dtype)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class VarianceScaling(RandomInitializer):
    """Variance ``scale / n`` with n the fan-in, fan-out or their average."""

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__(seed)
        if scale <= 0.0:
            raise ValueError(f"Argument `scale` must be positive float. Received: scale={scale}")
        mode = mode.lower()
        if mode not in self._MODES:
            raise ValueError(
                f"Invalid `mode` argument: expected one of {list(self._MODES)}. Received: {mode}")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in self._DISTRIBUTIONS:
            raise ValueError(
                f"Invalid `distribution` argument: expected one of {list(self._DISTRIBUTIONS)}."
                f" Received: {distribution}")
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def __call__(self, shape, dtype="float32"):
        shape = _shape_tuple(shape)
        fan_in, fan_out = compute_fans(shape)
        scale = self.scale
        if self.mode == "fan_in":
            scale /= max(1.0, fan_in)
        elif self.mode == "fan_out":
            scale /= max(1.0, fan_out)
        else:
            scale /= max(1.0, (fan_in + fan_out) / 2.0)
        rng = self._rng()
        if self.distribution == "truncated_normal":
            stddev = math.sqrt(scale) / _TRUNCATED_STDDEV_CORRECTION
            out = _truncated_normal(rng, shape, 0.0, stddev)
        elif self.distribution == "untruncated_normal":
            out = rng.normal(0.0, math.sqrt(scale), shape)
        else:
            limit = math.sqrt(3.0 * scale)
            out = rng.uniform(-limit, limit, shape)
        return out.astype(dtype)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed}


class _FixedVarianceScaling(VarianceScaling):
    _SCALE, _MODE, _DISTRIBUTION = 1.0, "fan_in", "truncated_normal"

    def __init__(self, seed=None):
        super().__init__(self._SCALE, self._MODE, self._DISTRIBUTION, seed)

    def get_config(self):
        return {"seed": self.seed}


class GlorotUniform(_FixedVarianceScaling):
    _SCALE, _MODE, _DISTRIBUTION = 1.0, "fan_avg", "uniform"


class GlorotNormal(_FixedVarianceScaling):
    _SCALE, _MODE, _DISTRIBUTION = 1.0, "fan_avg", "truncated_normal"


class LecunUniform(_FixedVarianceScaling):
    _SCALE, _MODE, _DISTRIBUTION = 1.0, "fan_in", "uniform"


class LecunNormal(_FixedVarianceScaling):
    _SCALE, _MODE, _DISTRIBUTION = 1.0, "fan_in", "truncated_normal"


class HeUniform(_FixedVarianceScaling):
    _SCALE, _MODE, _DISTRIBUTION = 2.0, "fan_in", "uniform"


class HeNormal(_FixedVarianceScaling):
    _SCALE, _MODE, _DISTRIBUTION = 2.0, "fan_in", "truncated_normal"


class Orthogonal(RandomInitializer):
    """An orthogonal matrix (from the QR decomposition of a normal draw) times ``gain``; shapes
    of rank > 2 are flattened to (prod(shape[:-1]), shape[-1]) first, as Keras does."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape, dtype="float32"):
        shape = _shape_tuple(shape)
        if len(shape) < 2:
            raise ValueError(
                "Orthogonal initializer requires a shape with at least 2 dimensions."
                f" Received: shape={shape}")
        num_rows = int(np.prod(shape[:-1]))
        num_cols = shape[-1]
        flat = (max(num_rows, num_cols), min(num_rows, num_cols))
        a = self._rng().standard_normal(flat)
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if num_rows < num_cols:
            q = q.T
        return (self.gain * q.reshape(shape)).astype(dtype)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


_CLASSES = {
    cls.__name__: cls for cls in (
        Zeros, Ones, Constant, Identity, RandomNormal, RandomUniform, TruncatedNormal,
        VarianceScaling, GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform,
        LecunNormal, Orthogonal)
}
_ALIASES = {
    "zeros": Zeros, "zero": Zeros, "ones": Ones, "one": Ones, "constant": Constant,
    "identity": Identity, "random_normal": RandomNormal, "normal": RandomNormal,
    "random_uniform": RandomUniform, "uniform": RandomUniform,
    "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform, "he_normal": HeNormal, "lecun_uniform": LecunUniform,
    "lecun_normal": LecunNormal, "orthogonal": Orthogonal,
    "IdentityInitializer": Identity, "OrthogonalInitializer": Orthogonal,
}


def serialize(initializer):
    """Keras' config form of an initializer, ``{"class_name": ..., "config": ...}``, which get()
    turns back into it; None stays None. A custom initializer (an Initializer subclass or a
    function) gets Keras' full config (module, registered name), so that it is found again
    when registered or given in ``custom_objects``."""
    if initializer is None:
        return None
    if type(initializer) not in _CLASSES.values():
        return serialize_keras_object(initializer)
    return {"class_name": type(initializer).__name__, "config": initializer.get_config()}


def deserialize(config, custom_objects=None):
    name = config.get("class_name")
    cls = _CLASSES.get(name) or _ALIASES.get(name)
    if cls is None or not is_builtin_config(config):
        initializer = deserialize_keras_object(config, custom_objects=custom_objects)
        if not callable(initializer):
            raise ValueError(f"Unknown initializer: {config!r}")
        return initializer
    return cls.from_config(config.get("config", {}))


def get(identifier):
    """Resolves None, a name ("glorot_uniform", "GlorotUniform"), a get_config-style dict, an
    Initializer instance or any callable ``f(shape, dtype)`` to something callable."""
    if identifier is None:
        return None
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _ALIASES.get(identifier) or _CLASSES.get(identifier)
        if cls is None:
            cls = _ALIASES.get(identifier.lower())
        if cls is None:
            custom = custom_object(identifier)
            if custom is not None:
                return custom() if isinstance(custom, type) else custom
        if cls is None:
            raise ValueError(
                f"Could not interpret initializer identifier: {identifier!r}. Known names: "
                f"{sorted(k for k in _ALIASES if k.islower())}")
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r}")
