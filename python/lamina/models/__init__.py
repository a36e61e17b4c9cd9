"""Models: Model (the base carrying compile / fit / evaluate / predict), Sequential, and Keras'
model functions: save_model / load_model (the .keras archive), clone_model, model_from_json."""
from ..saving import load_model, save_model
from .cloning import clone_model
from .model import Model, model_from_json
from .sequential import Sequential

__all__ = ["Model", "Sequential", "clone_model", "load_model", "model_from_json",
           "save_model"]
