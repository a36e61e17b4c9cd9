"""Models: Model (the base carrying compile / fit / evaluate / predict), Sequential, and Keras'
model functions: clone_model, model_from_json."""
from .cloning import clone_model
from .model import Model, model_from_json
from .sequential import Sequential

__all__ = ["Model", "Sequential", "clone_model", "model_from_json"]
