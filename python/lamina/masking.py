"""Keras masks beside tensors (Keras 3: keras.src.backend.common.masking).

A boolean mask rides along with a Tensor: set by a layer (``Embedding(mask_zero=True)``,
``Masking``, passed on by ``Layer.__call__``, see layers/masking.py) or by an op
(``sparse_categorical_crossentropy(ignore_class=...)`` marks the rows a Loss leaves out of its
reduction). Losses and metrics read the mask of what they reduce.

The mask is kept in a table weakly keyed by the tensor (``set_mask`` / ``get_mask``), so it lives
exactly as long as the tensor and Tensor itself carries nothing. While no tensor carries a mask
the table is empty, and ``Layer.__call__`` pays one truth test for all of this.
"""
import weakref

import numpy as np

__all__ = ["get_mask", "set_mask", "get_keras_mask", "set_keras_mask"]

_masks = {}  # id(tensor) -> (weakref to tensor, boolean mask array)


def set_mask(tensor, mask):
    """Attaches a boolean mask (batch, timesteps, ...) to `tensor` (None removes it)."""
    key = id(tensor)
    if mask is None:
        _masks.pop(key, None)
        return tensor
    data = getattr(mask, "data", mask)
    if not hasattr(data, "__cuda_array_interface__"):
        data = np.asarray(data)
    if data.dtype != np.bool_:
        data = data.astype(bool)
    ref = weakref.ref(tensor, lambda _r, key=key: _masks.pop(key, None))
    _masks[key] = (ref, data)
    return tensor


def get_mask(tensor):
    """The mask attached to `tensor` by the layer that produced it, or None."""
    entry = _masks.get(id(tensor))
    if entry is None or entry[0]() is not tensor:
        return None
    return entry[1]


# Keras 3's names (keras.src.backend.common.masking).
get_keras_mask, set_keras_mask = get_mask, set_mask
