"""Where lamina keeps Keras masks, and how a layer call passes them on.

Keras attaches a boolean mask to a layer's output (``Embedding(mask_zero=True)``, ``Masking``)
and every later layer that supports masking passes it on (``Layer.__call__``): a layer whose
``call`` takes ``mask`` receives it, and the output gets ``compute_mask(inputs, mask)``, the
input's mask unchanged unless the layer overrides compute_mask (an RNN without
return_sequences drops it, merging layers combine their inputs' masks). A layer that does not
support masking drops the mask, with a warning, as Keras does.

The mask is kept beside the output Tensor by lamina/masking.py (``set_mask`` / ``get_mask``).
"""

from ..masking import _masks, get_keras_mask, get_mask, set_keras_mask, set_mask  # noqa: F401

__all__ = ["get_mask", "set_mask", "get_keras_mask", "set_keras_mask", "input_mask",
           "attach_output_masks"]


def input_mask(inputs):
    """The mask of a layer's first argument: one tensor's mask, or for a list or tuple the list
    of its tensors' masks (None where a tensor has none); None when nothing is masked."""
    if type(inputs) in (list, tuple):
        masks = [get_mask(x) for x in inputs]
        return masks if any(m is not None for m in masks) else None
    return get_mask(inputs)


def attach_output_masks(outputs, masks):
    """Keras' _set_mask_metadata: attaches `masks` (one mask, or a list matching a list of
    outputs) to the outputs that carry none yet."""
    if type(outputs) in (list, tuple):
        if not isinstance(masks, (list, tuple)):
            masks = [masks]
        for out, m in zip(outputs, masks):
            if m is not None and get_mask(out) is None:
                set_mask(out, m)
    elif outputs is not None:
        if isinstance(masks, (list, tuple)):
            masks = masks[0] if masks else None
        if masks is not None and get_mask(outputs) is None:
            set_mask(outputs, masks)
