"""Small data sets bundled with lamina, loaded like keras.datasets (``load_data()``)."""
from . import digits

__all__ = ["digits"]
