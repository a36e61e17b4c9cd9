"""lamina's random state: one numpy Generator for initializers, dropout and shuffling.

``lamina.utils.set_random_seed(seed)`` reseeds it, so a seeded script gives the same run, bit for
bit, on the same machine and thread count.
"""
import numpy as np

from . import backend

__all__ = ["generator", "seed", "SeedGenerator", "normal", "uniform", "randint", "shuffle"]

_generator = np.random.default_rng()


def generator():
    """The global numpy Generator (reseeded by lamina.utils.set_random_seed)."""
    return _generator


def seed(value):
    global _generator
    _generator = np.random.default_rng(value)


class SeedGenerator:
    """A private stream of randomness, as keras.random.SeedGenerator: seeded, or drawn from the
    global generator when seed is None."""

    def __init__(self, seed=None):
        if seed is None:
            seed = int(_generator.integers(0, 2**63 - 1))
        self.seed = seed
        self.generator = np.random.default_rng(seed)


def _rng(seed):
    if seed is None:
        return _generator
    if isinstance(seed, SeedGenerator):
        return seed.generator
    return np.random.default_rng(seed)


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    out = _rng(seed).normal(mean, stddev, size=shape)
    return out.astype(dtype or backend.floatx())


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    out = _rng(seed).uniform(minval, maxval, size=shape)
    return out.astype(dtype or backend.floatx())


def randint(shape, minval, maxval, dtype="int32", seed=None):
    return _rng(seed).integers(minval, maxval, size=shape).astype(dtype)


def shuffle(x, axis=0, seed=None):
    return _rng(seed).permutation(np.asarray(x), axis=axis)
