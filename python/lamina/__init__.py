"""lamina: Keras' way of working (layers, models, compile / fit / evaluate / predict) over native
kernels: C++ with OpenMP and AVX2/AVX-512 chosen at run time, CUDA on NVIDIA GPUs.

    import lamina as L
    model = L.Sequential([L.Input((64,)), L.layers.Dense(64, activation="relu"),
                          L.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=10)
"""
from . import _cpu  # noqa: F401  (the native module; fails loudly if the build is missing)
from . import backend, cuda, device, ops, random, utils
from .autograd import GradientTape, Tensor, Variable
from .backend import get_num_threads, set_num_threads

__version__ = "0.1.0"

__all__ = ["backend", "cuda", "device", "ops", "random", "utils", "GradientTape", "Tensor", "Variable",
           "get_num_threads", "set_num_threads"]

# The Keras-facing API (front branch): layers, models, training pieces.
from . import (activations, callbacks, constraints, datasets, initializers, layers,  # noqa: E402
               losses, metrics, models, optimizers, regularizers, saving)
from .layers import Input  # noqa: E402
from .models import Model, Sequential  # noqa: E402

__all__ += ["activations", "callbacks", "constraints", "datasets", "initializers", "layers",
            "losses", "metrics", "models", "optimizers", "regularizers", "saving", "Input",
            "Model", "Sequential"]
