"""Differentiable embedding lookup: ``embedding(indices, table)`` gathers rows of the table
(one kernel call); its gradient scatter-adds into a dense table gradient (one call, threaded
by vocabulary range, deterministic)."""
import numpy as np

from .. import backend
from ..autograd import make_output
from .nn import _data

__all__ = ["embedding"]


def embedding(indices, table):
    """table[indices]: output shape indices.shape + (output_dim,). Indices must be integers in
    [0, input_dim); anything else raises ValueError naming the index."""
    T = _data(table)
    xp = backend.array_module(T)
    idx = _data(indices)
    if type(idx) is not np.ndarray or xp is not np:  # host indices for a GPU table, or back
        idx = backend.to_array_module(idx, xp)
    if idx.dtype.kind not in "iu":
        if idx.dtype.kind == "f" and bool(xp.all(xp.mod(idx, 1) == 0)):
            idx = idx.astype(np.int64)  # Keras casts float index tensors to int
        else:
            raise ValueError(f"[embedding] indices must be integers, got dtype {idx.dtype}")
    if idx.dtype not in (np.int32, np.int64):
        idx = idx.astype(np.int64)
    idx = xp.ascontiguousarray(idx)
    if T.ndim != 2:
        raise ValueError(f"[embedding] table must be 2-D (input_dim, output_dim), got shape "
                         f"{T.shape}")
    if not T.flags.c_contiguous:
        T = xp.ascontiguousarray(T)
    K = backend.kernels(T)
    D = T.shape[1]
    out = xp.empty((idx.size, D), dtype=T.dtype)
    K.embedding_forward(idx, T, out)

    def backward(g):
        g2 = xp.ascontiguousarray(g.reshape(idx.size, D), dtype=T.dtype)
        dtable = xp.empty_like(T)
        K.embedding_backward(idx, g2, dtable)
        return (None, dtable)

    return make_output(out.reshape(idx.shape + (D,)), (indices, table), backward, "embedding")
