"""Keras layers: ``lamina.layers.Dense(64, activation="relu")`` and friends."""
from .core import Activation, Dense, Input, InputLayer
from .layer import InputSpec, Layer
from .regularization import Dropout
from .reshaping import Flatten, Reshape

__all__ = ["Layer", "InputSpec", "Input", "InputLayer", "Dense", "Activation", "Dropout",
           "Flatten", "Reshape"]
