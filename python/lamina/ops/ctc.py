"""CTC: ``ctc_loss`` (differentiable, one kernel call computing the loss and its gradient in
log space) and ``ctc_decode`` (greedy, vectorised numpy; beam search, native prefix beam search),
with keras.ops' signatures and Keras' conventions: logits (batch, timesteps, classes), integer
targets (batch, max_label_length), 0 as the blank / mask index.

Beyond Keras: a target entry equal to mask_index inside target_length is padding and is skipped,
so 0-padded targets with a full-length target_length (as Keras' ``losses.CTC`` passes them) give
the loss of the unpadded labels. A target that cannot be aligned in output_length steps gives
+inf (a zero gradient), or 0 with ``zero_infinity=True``; never NaN.
"""
import numpy as np

from .. import backend
from ..autograd import Tensor, make_output

__all__ = ["ctc_loss", "ctc_decode"]


def _data(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _lengths(v, batch, what):
    a = np.asarray(_data(v))
    if a.ndim == 0:
        a = np.full((batch,), a)
    if a.dtype.kind not in "iu":
        if a.dtype.kind == "f" and np.all(np.mod(a, 1) == 0):
            a = a.astype(np.int64)
        else:
            raise ValueError(f"[ctc] {what} must be integers, got dtype {a.dtype}")
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
    tgt = np.asarray(_data(target))
    if tgt.dtype.kind == "f":
        tgt = tgt.astype(np.int64)
    tgt = np.ascontiguousarray(tgt, dtype=np.int64)
    tlen = _lengths(target_length, B, "target_length")
    olen = _lengths(output_length, B, "output_length")
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
    """Decodes CTC outputs (keras.ops.ctc_decode). Returns ``(decoded, log_probabilities)``:
    decoded (top_paths, batch, max_decoded_length) int64 padded with -1; for "greedy" the
    scores are (batch, 1), the negative sum of the per-step maximum inputs (as Keras); for
    "beam_search" (batch, top_paths) log-probabilities of each path under log_softmax(inputs)."""
    x = np.asarray(_data(inputs))
    if x.ndim != 3:
        raise ValueError(f"[ctc_decode] inputs must be (batch, timesteps, classes), got shape "
                         f"{x.shape}")
    B, T, C = x.shape
    lengths = _lengths(sequence_lengths, B, "sequence_lengths")
    if np.any(lengths < 0) or np.any(lengths > T):
        raise ValueError(f"[ctc_decode] sequence_lengths must lie in [0, {T}], got {lengths}")
    if mask_index is None:
        mask_index = C - 1
    if strategy == "greedy":
        best = x.argmax(axis=-1)
        valid = np.arange(T)[None, :] < lengths[:, None]
        keep = valid & (best != mask_index)
        if merge_repeated:
            keep[:, 1:] &= best[:, 1:] != best[:, :-1]
        counts = keep.sum(axis=1)
        decoded = np.full((B, int(counts.max(initial=0))), -1, dtype=np.int64)
        rows, cols = np.nonzero(keep)
        decoded[rows, (np.cumsum(keep, axis=1) - 1)[rows, cols]] = best[rows, cols]
        scores = -np.where(valid, x.max(axis=-1), 0.0).sum(axis=1, keepdims=True)
        return decoded[None], scores.astype(x.dtype if x.dtype.kind == "f" else np.float32)
    if strategy == "beam_search":
        xf = np.ascontiguousarray(x if x.dtype in (np.float32, np.float64) else
                                  x.astype(np.float32))
        paths = np.empty((B, top_paths, T), dtype=np.int64)
        scores = np.empty((B, top_paths), dtype=xf.dtype)
        from .. import _cpu
        _cpu.ctc_beam_search(xf, lengths, int(mask_index), int(beam_width), int(top_paths),
                             bool(merge_repeated), paths, scores)
        width = int((paths >= 0).sum(axis=2).max(initial=0))
        return np.ascontiguousarray(paths[:, :, :width].transpose(1, 0, 2)), scores
    raise ValueError(f"[ctc_decode] invalid strategy {strategy!r}; expected 'greedy' or "
                     f"'beam_search'")
