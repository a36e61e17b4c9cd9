"""Small user-facing helpers with Keras' names."""
import random as _py_random

import numpy as np

from . import random as _lamina_random

__all__ = ["set_random_seed"]


def set_random_seed(seed):
    """Seeds Python's, numpy's and lamina's random generators (keras.utils.set_random_seed):
    the same seed then gives the same training run, bit for bit, on the same machine and number
    of threads."""
    if not isinstance(seed, (int, np.integer)):
        raise TypeError(f"set_random_seed: expected an integer seed, got {type(seed).__name__}")
    _py_random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    _lamina_random.seed(int(seed))
