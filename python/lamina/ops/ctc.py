"""CTC: ``ctc_loss`` (differentiable, one kernel call computing the loss and its gradient in
log space) and ``ctc_decode`` (greedy, vectorised numpy; beam search, native prefix beam search),
with keras.ops' signatures and Keras' conventions: logits (batch, timesteps, classes), integer
targets (batch, max_label_length), 0 as the blank / mask index.

Labels and lengths must be integers (integral floats are accepted); a non-integer value (which
a cast would silently truncate), a mask_index outside the classes or lengths of the wrong size
raise a ValueError naming the argument.

Beyond Keras: a target entry equal to mask_index inside target_length is padding and is skipped,
so 0-padded targets with a full-length target_length (as Keras' ``losses.CTC`` passes them) give
the loss of the unpadded labels. A target that cannot be aligned in output_length steps gives
+inf (a zero gradient), or 0 with ``zero_infinity=True``; never NaN.
"""
import numpy as np

from .. import backend
from ..autograd import Tensor, make_output
from .nn import _data

__all__ = ["ctc_loss", "ctc_decode"]


def _host(x):
    """x's values as a numpy array. Labels and lengths are checked on the host (they are small,
    and lamina._cuda's ctc_loss reads them back to check them anyway); GPU logits stay put."""
    return backend.to_array_module(_data(x), np)


def _to(xp, a):
    """A host array in the array module `xp` (numpy arrays stay as they are)."""
    return a if xp is np else xp.asarray(a)


def _integers(a, where, what):
    """An integer array from integers or integral floats (Keras casts those); a non-integer
    float or another dtype is an error naming the first offending entry."""
    a = np.asarray(a)
    if a.dtype.kind in "iu":
        return a
    if a.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(a) | (np.mod(a, 1) != 0))
        if bad.size == 0:
            return a.astype(np.int64)
        at = [int(i) for i in np.unravel_index(bad[0], a.shape)]
        raise ValueError(f"[{where}] {what} must hold integers, got {a.flat[bad[0]].item()!r} "
                         f"at {at if len(at) > 1 else at[0]} (dtype {a.dtype})")
    raise ValueError(f"[{where}] {what} must hold integers, got dtype {a.dtype}")


def _lengths(v, batch, where, what):
    """(batch,) int64 lengths from a scalar or one entry per batch row."""
    a = _integers(_host(v), where, what)
    if a.ndim == 0:
        a = np.full((batch,), a)
    if a.shape != (batch,):
        raise ValueError(f"[{where}] {what} must be a scalar or have one entry per batch row: "
                         f"expected shape ({batch},), got {a.shape}")
    return np.ascontiguousarray(a, dtype=np.int64)


def ctc_loss(target, output, target_length, output_length, mask_index=0, zero_infinity=False):
    """Per-sample CTC loss (batch,): -log p(target | output) where output holds logits
    (batch, timesteps, classes) and target integer labels (batch, max_label_length)."""
    out = _data(output)
    if out.dtype.kind != "f":
        out = out.astype(backend.floatx())
    xp = backend.array_module(out)
    out = xp.ascontiguousarray(out)
    if out.ndim != 3:
        raise ValueError(f"[ctc_loss] output must be (batch, timesteps, classes) logits, got "
                         f"shape {out.shape}")
    B = out.shape[0]
    tgt = np.ascontiguousarray(_integers(_host(target), "ctc_loss", "target"), dtype=np.int64)
    tlen = _lengths(target_length, B, "ctc_loss", "target_length")
    olen = _lengths(output_length, B, "ctc_loss", "output_length")
    tgt, tlen, olen = _to(xp, tgt), _to(xp, tlen), _to(xp, olen)  # where the logits are
    K = backend.kernels(out)
    loss = xp.empty((B,), dtype=out.dtype)
    want_grad = isinstance(output, Tensor) and output.requires_grad
    grad = xp.empty_like(out) if want_grad else None
    K.ctc_loss(out, tgt, tlen, olen, int(mask_index), bool(zero_infinity), loss, grad)

    def backward(g):
        return (None, grad * g.reshape(B, 1, 1))

    return make_output(loss, (target, output), backward, "ctc_loss")


def ctc_decode(inputs, sequence_lengths, strategy="greedy", beam_width=100, top_paths=1,
               merge_repeated=True, mask_index=0):
    """Decodes CTC outputs as keras.ops.ctc_decode. Returns ``(decoded, log_probabilities)``:
    decoded int32 of shape (top_paths, batch, timesteps) (top_paths = 1 for "greedy"), each
    path's labels first and -1 after them (Keras' padding, to the full timesteps); for
    "greedy" the scores are (batch, 1), the negative sum over the valid steps of each step's
    maximum input; for "beam_search" (batch, top_paths), the log-probability of each path under
    log_softmax(inputs), best first. Scores are float64 for float64 inputs, else float32.
    mask_index None means the last class."""
    # Decoding runs on the host (numpy's greedy path, lamina._cpu's beam search; neither has a
    # CUDA kernel): GPU inputs are copied back once, and the results go back to their module.
    xp = backend.array_module(_data(inputs))
    x = _host(inputs)
    if x.ndim != 3:
        raise ValueError(f"[ctc_decode] inputs must be (batch, timesteps, classes), got shape "
                         f"{x.shape}")
    x = x.astype(np.float64 if x.dtype == np.float64 else np.float32, copy=False)
    B, T, C = x.shape
    lengths = _lengths(sequence_lengths, B, "ctc_decode", "sequence_lengths")
    if np.any(lengths < 0) or np.any(lengths > T):
        raise ValueError(f"[ctc_decode] sequence_lengths must lie in [0, {T}], got {lengths}")
    if mask_index is None:
        mask_index = C - 1
    if isinstance(mask_index, bool) or not isinstance(mask_index, (int, np.integer)) or \
            not 0 <= mask_index < C:
        raise ValueError(f"[ctc_decode] mask_index must be a class in [0, {C}) (the blank), "
                         f"got {mask_index!r}")
    if strategy == "greedy":
        best = x.argmax(axis=-1)
        valid = np.arange(T)[None, :] < lengths[:, None]
        keep = valid & (best != mask_index)
        if merge_repeated:
            keep[:, 1:] &= best[:, 1:] != best[:, :-1]
        decoded = np.full((B, T), -1, dtype=np.int32)
        rows, cols = np.nonzero(keep)
        decoded[rows, (np.cumsum(keep, axis=1) - 1)[rows, cols]] = best[rows, cols]
        scores = -np.where(valid, x.max(axis=-1), 0.0).sum(axis=1, keepdims=True)
        return _to(xp, decoded[None]), _to(xp, scores.astype(x.dtype))
    if strategy == "beam_search":
        x = np.ascontiguousarray(x)
        paths = np.empty((B, top_paths, T), dtype=np.int64)
        scores = np.empty((B, top_paths), dtype=x.dtype)
        from .. import _cpu
        _cpu.ctc_beam_search(x, lengths, int(mask_index), int(beam_width), int(top_paths),
                             bool(merge_repeated), paths, scores)
        return _to(xp, np.ascontiguousarray(paths.transpose(1, 0, 2), dtype=np.int32)), \
            _to(xp, scores)
    raise ValueError(f"[ctc_decode] invalid strategy {strategy!r}; expected 'greedy' or "
                     f"'beam_search'")
