"""Differentiable per-sample losses over lamina's fused loss kernels.

Each function takes ``(y_true, y_pred, ...)`` as Keras' loss functions do and returns the loss
of every sample, reduced over the last axis (shape ``y_pred.shape[:-1]``). The kernel computes
the loss and its gradient in one pass; backward only scales the saved gradient by the upstream
gradient of each sample. ``y_true`` is a constant (no gradient flows into targets).

Numerics follow Keras 3: probabilities are renormalised (categorical) and clipped to
[1e-7, 1 - 1e-7] before the log; ``from_logits=True`` uses log-softmax / log-sigmoid.
"""
import numpy as np

from .. import backend
from ..autograd import Tensor, is_recording, make_output
from ..masking import set_mask
from .dtypes import kernel_input

__all__ = ["categorical_crossentropy", "sparse_categorical_crossentropy",
           "binary_crossentropy", "mean_squared_error", "mean_absolute_error",
           "mean_absolute_percentage_error", "mean_squared_logarithmic_error", "huber",
           "log_cosh", "poisson", "kl_divergence", "hinge", "squared_hinge",
           "categorical_hinge", "cosine_similarity"]


def _prediction(y_pred, where):
    """y_pred as the kernels take it: float32/float64 (ops.dtypes.kernel_input: float16 is
    computed in float32, integers in floatx), C-contiguous, at least 1-D, not empty."""
    p = y_pred.data if isinstance(y_pred, Tensor) else y_pred
    if not hasattr(p, "__cuda_array_interface__"):  # cupy stays cupy
        p = np.asarray(p)
    p, _ = kernel_input(p, where, "y_pred")
    if p.ndim == 0:
        raise ValueError(f"[{where}] argument 'y_pred': expected at least 1 axis, got a scalar")
    if p.size == 0:
        raise ValueError(f"[{where}] argument 'y_pred': empty prediction of shape {p.shape}")
    if not p.flags.c_contiguous:
        p = backend.array_module(p).ascontiguousarray(p)
    return p


def _dense_target(y_true, p, where):
    """y_true as a float array of p's shape (a (N,) target for a (N, 1) prediction is reshaped,
    as Keras' loss wrapper expands it)."""
    t = y_true.data if isinstance(y_true, Tensor) else y_true
    xp = backend.array_module(p)
    t = xp.asarray(t, dtype=p.dtype)
    if t.shape != p.shape:
        if t.size == p.size and (t.ndim == p.ndim - 1 or p.ndim == t.ndim - 1):
            t = t.reshape(p.shape)
        else:
            raise ValueError(f"[{where}] y_true and y_pred have incompatible shapes: y_true "
                             f"{tuple(t.shape)}, y_pred {tuple(p.shape)}")
    return xp.ascontiguousarray(t)


def _row_loss(kernel_name, y_pred, p, target, where, *args):
    """Calls the fused kernel on (rows, C) views and wraps the per-row loss as a Tensor."""
    xp = backend.array_module(p)
    K = backend.kernels(p)
    classes = p.shape[-1]
    p2 = p.reshape(-1, classes)
    rows = p2.shape[0]
    loss = xp.empty((rows,), dtype=p.dtype)
    want_grad = is_recording() and isinstance(y_pred, Tensor) and y_pred.requires_grad
    grad = xp.empty_like(p2) if want_grad else None
    getattr(K, kernel_name)(p2, target, loss, grad, *args)
    out_shape = p.shape[:-1]

    def backward(g):
        dp = (grad * g.reshape(rows, 1)).reshape(p.shape)
        return (dp if dp.dtype == y_pred.dtype else dp.astype(y_pred.dtype),)

    return make_output(loss.reshape(out_shape), (y_pred,), backward, where)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """-sum(y_true * log(p)) over the classes of each sample (y_true one-hot or probabilities)."""
    where = "categorical_crossentropy"
    p = _prediction(y_pred, where)
    if axis not in (-1, p.ndim - 1):
        raise ValueError(f"[{where}] only the last axis holds classes in lamina, got axis={axis}")
    t = _dense_target(y_true, p, where)
    return _row_loss(where, y_pred, p, t.reshape(-1, p.shape[-1]), where, bool(from_logits),
                     float(label_smoothing))


def _class_labels(labels, where):
    """Integer labels as the kernel takes them (int32 or int64). Float labels are accepted when
    they hold whole numbers, as Keras casts them; a NaN, an infinity or 2.5 raises instead of
    silently becoming some class (a cast would turn NaN into INT64_MIN). Costs O(1) array calls,
    and only for float labels."""
    kind = labels.dtype.kind
    if kind == "i" and labels.dtype.itemsize in (4, 8):
        return labels
    if kind in "iub":  # int8/16, uint8..64, bool: as Keras, any integer labels work
        return labels.astype(np.int64)
    if kind != "f":
        raise TypeError(f"[{where}] argument 'y_true': expected integer class labels, got dtype "
                        f"{labels.dtype}")
    lo, hi = labels.min(), labels.max()  # NaN propagates: both comparisons below are False
    ints = labels.astype(np.int64) if (lo > -2.0 ** 62 and hi < 2.0 ** 62) else None
    if ints is None or bool((ints != labels).any()):
        xp = backend.array_module(labels)
        bad = ~(xp.abs(labels) < 2.0 ** 62) | (xp.trunc(labels) != labels)
        i = int(bad.reshape(-1).argmax())
        raise ValueError(f"[{where}] argument 'y_true': label {labels.reshape(-1)[i]!s} at index "
                         f"{i} is not a class index (float labels must hold finite whole "
                         f"numbers that fit in int64)")
    return ints


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    """Cross-entropy against integer class labels of shape y_pred.shape[:-1] (a trailing axis
    of 1 is accepted). A label outside [0, classes) raises ValueError, as does a float label
    that is not a whole number (NaN, inf, 2.5).

    ignore_class (Keras): rows whose label equals it get loss 0 and gradient 0, and the result
    carries the valid-row mask (lamina.masking) so that a Loss leaves those rows out of its
    reduction, as Keras' does. Any integer works, -1 and 255 included."""
    where = "sparse_categorical_crossentropy"
    p = _prediction(y_pred, where)
    if axis not in (-1, p.ndim - 1):
        raise ValueError(f"[{where}] only the last axis holds classes in lamina, got axis={axis}")
    labels = y_true.data if isinstance(y_true, Tensor) else y_true
    xp = backend.array_module(p)
    labels = xp.asarray(labels)
    if labels.ndim == p.ndim and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    if labels.shape != p.shape[:-1]:
        raise ValueError(f"[{where}] y_true has shape {tuple(labels.shape)} but y_pred has "
                         f"shape {tuple(p.shape)}: expected labels of shape "
                         f"{tuple(p.shape[:-1])}")
    labels = xp.ascontiguousarray(_class_labels(labels, where))
    if ignore_class is not None:
        if isinstance(ignore_class, (bool, np.bool_)) or not isinstance(
                ignore_class, (int, np.integer)):
            raise TypeError(f"[{where}] argument 'ignore_class': expected None or an integer, "
                            f"got {ignore_class!r}")
        ignore_class = int(ignore_class)
    out = _row_loss(where, y_pred, p, labels.reshape(-1), where, bool(from_logits), ignore_class)
    if ignore_class is not None:
        set_mask(out, labels != ignore_class)
    return out


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Mean over the last axis of the elementwise binary cross-entropy."""
    where = "binary_crossentropy"
    p = _prediction(y_pred, where)
    t = _dense_target(y_true, p, where)
    return _row_loss(where, y_pred, p, t.reshape(-1, p.shape[-1]), where, bool(from_logits),
                     float(label_smoothing))


def _pointwise(where, y_true, y_pred, *args):
    """A loss of (y_true, y_pred) per element, averaged (or summed) over the last axis."""
    p = _prediction(y_pred, where)
    t = _dense_target(y_true, p, where)
    return _row_loss(where, y_pred, p, t.reshape(-1, p.shape[-1]), where, *args)


def mean_squared_error(y_true, y_pred):
    """Mean over the last axis of (y_true - y_pred) ** 2."""
    return _pointwise("mean_squared_error", y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    """Mean over the last axis of |y_true - y_pred|."""
    return _pointwise("mean_absolute_error", y_true, y_pred)


def mean_absolute_percentage_error(y_true, y_pred):
    """100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7)) over the last axis."""
    return _pointwise("mean_absolute_percentage_error", y_true, y_pred)


def mean_squared_logarithmic_error(y_true, y_pred):
    """mean((log(max(y_pred, 1e-7) + 1) - log(max(y_true, 1e-7) + 1)) ** 2)."""
    return _pointwise("mean_squared_logarithmic_error", y_true, y_pred)


def huber(y_true, y_pred, delta=1.0):
    """Quadratic within `delta` of the target, linear beyond (Keras' Huber), last-axis mean."""
    return _pointwise("huber", y_true, y_pred, float(delta))


def log_cosh(y_true, y_pred):
    """mean(log(cosh(y_pred - y_true))) over the last axis."""
    return _pointwise("log_cosh", y_true, y_pred)


def poisson(y_true, y_pred):
    """mean(y_pred - y_true * log(y_pred + 1e-7)) over the last axis."""
    return _pointwise("poisson", y_true, y_pred)


def kl_divergence(y_true, y_pred):
    """sum(t * log(t / p)) over the last axis with t and p clipped to [1e-7, 1]."""
    return _pointwise("kl_divergence", y_true, y_pred)


def hinge(y_true, y_pred):
    """mean(max(1 - y_true * y_pred, 0)); labels in {0, 1} are mapped to {-1, 1} as Keras."""
    return _pointwise("hinge", y_true, y_pred)


def squared_hinge(y_true, y_pred):
    """mean(max(1 - y_true * y_pred, 0) ** 2); labels in {0, 1} become {-1, 1}."""
    return _pointwise("squared_hinge", y_true, y_pred)


def categorical_hinge(y_true, y_pred):
    """max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0) per sample."""
    return _pointwise("categorical_hinge", y_true, y_pred)


def cosine_similarity(y_true, y_pred, axis=-1):
    """-sum(l2_normalize(y_true) * l2_normalize(y_pred)) over the last axis (Keras' loss)."""
    if axis != -1:
        raise ValueError(f"[cosine_similarity] lamina reduces the last axis, got axis={axis}")
    return _pointwise("cosine_similarity", y_true, y_pred)
