"""Differentiable array moves with keras.ops' names: ``pad`` and ``repeat`` (what ZeroPadding
and UpSampling layers are made of). They run on the array module of their input (numpy or
cupy), so they work on either device; each records one tape node.
"""
import numpy as np

from .. import backend
from ..autograd import Tensor, make_output

__all__ = ["pad", "repeat"]

# Modes whose padded cells copy cells of the input (their gradient adds back into those cells).
_COPY_MODES = ("edge", "reflect", "symmetric", "wrap")


def _data(x):
    a = x.data if isinstance(x, Tensor) else x
    return a if hasattr(a, "ndim") else np.asarray(a)


def _pad_widths(pad_width, ndim):
    """Keras/numpy pad_width (int, (before, after), or one pair per axis) as ndim pairs."""
    try:
        widths = np.broadcast_to(np.asarray(pad_width), (ndim, 2))
    except ValueError:
        widths = None
    if widths is None or widths.dtype.kind not in "iu" or (widths < 0).any():
        raise ValueError(f"[pad] pad_width must be non-negative integers: an int, a (before, "
                         f"after) pair or one pair per axis of the {ndim}-D input, got "
                         f"{pad_width!r}")
    return [(int(a), int(b)) for a, b in widths]


def _scatter_add(xp, shape, axis, index, g):
    """The gradient of ``take(x, index, axis)``: g added back into `shape` at `index`."""
    out = xp.zeros(shape, dtype=g.dtype)
    xp.add.at(xp.moveaxis(out, axis, 0), xp.asarray(index), xp.moveaxis(g, axis, 0))
    return out


def pad(x, pad_width, mode="constant", constant_values=None):
    """keras.ops.pad: ``mode`` "constant" (``constant_values``, default 0), "edge", "reflect",
    "symmetric" or "wrap", as numpy.pad. Differentiable in x: the gradient of a constant pad is
    the inner slice; the copying modes add their padded cells' gradients back where they were
    copied from."""
    a = _data(x)
    xp = backend.array_module(a)
    widths = _pad_widths(pad_width, a.ndim)
    shape = a.shape
    if mode == "constant":
        if constant_values is not None and not np.isscalar(constant_values):
            raise ValueError(f"[pad] constant_values must be a scalar, got {constant_values!r}")
        out = xp.pad(a, widths, mode="constant",
                     constant_values=0 if constant_values is None else constant_values)
        inner = tuple(slice(b, b + n) for (b, _), n in zip(widths, shape))
        return make_output(out, (x,), lambda g: (g[inner],), "pad")
    if mode not in _COPY_MODES:
        raise ValueError(f"[pad] mode must be 'constant' or one of {list(_COPY_MODES)}, got "
                         f"{mode!r}")
    if constant_values is not None:
        raise ValueError(f"[pad] constant_values is only for mode='constant', got mode={mode!r}")
    # Per padded axis, the source index of every output cell: numpy.pad of the indices.
    sources = []
    out = a
    for axis, (n, w) in enumerate(zip(shape, widths)):
        if w == (0, 0):
            continue
        if n == 0:
            raise ValueError(f"[pad] mode={mode!r} cannot pad the empty axis {axis} of an input "
                             f"of shape {shape}")
        index = np.pad(np.arange(n), w, mode=mode)
        sources.append((axis, index))
        out = xp.take(out, xp.asarray(index), axis=axis)

    def backward(g):
        for axis, index in reversed(sources):
            reduced = g.shape[:axis] + (shape[axis],) + g.shape[axis + 1:]
            g = _scatter_add(xp, reduced, axis, index, g)
        return (g,)

    return make_output(out, (x,), backward, "pad")


def repeat(x, repeats, axis=None):
    """keras.ops.repeat: each element `repeats` times along `axis` (the flattened input when
    None); `repeats` an int or one count per element of that axis. Differentiable in x: the
    gradient sums each element's copies."""
    a = _data(x)
    xp = backend.array_module(a)
    shape = a.shape
    if axis is None:
        a = a.reshape(-1)
        axis = 0
    else:
        if not -a.ndim <= axis < a.ndim:
            raise ValueError(f"[repeat] axis {axis} is out of range for an input of shape "
                             f"{shape}")
        axis %= a.ndim
    n = a.shape[axis]
    counts = np.asarray(repeats.get() if hasattr(repeats, "get") else repeats)
    if counts.dtype.kind not in "iu" or counts.ndim > 1 or (counts < 0).any() or \
            counts.ndim == 1 and counts.shape[0] not in (1, n):
        raise ValueError(f"[repeat] repeats must be a non-negative int or one per element of "
                         f"axis {axis} (length {n}), got {repeats!r}")
    out = xp.repeat(a, int(counts.reshape(-1)[0]) if counts.size == 1 else xp.asarray(counts),
                    axis=axis)

    def backward(g):
        if counts.size == 1:  # every element r times: copies are adjacent, sum them
            r = int(counts.reshape(-1)[0])
            grouped = g.reshape(g.shape[:axis] + (n, r) + g.shape[axis + 1:])
            dx = grouped.sum(axis=axis + 1)
        else:
            reduced = g.shape[:axis] + (n,) + g.shape[axis + 1:]
            dx = _scatter_add(xp, reduced, axis, np.repeat(np.arange(n), counts), g)
        return (dx.reshape(shape),)

    return make_output(out, (x,), backward, "repeat")
