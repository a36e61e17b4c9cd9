"""Keras 3 losses: classes with a reduction and sample weights, functions with Keras' names.

The per-sample computation is the lead's fused loss ops (lamina.ops.losses): one kernel call
gives the loss of every sample and its gradient. A Loss object then weights and reduces:
"sum_over_batch_size" (the default: sum of weighted losses / number of losses, as Keras),
"sum", "mean" (sum / sum of weights) or "none"/None (per-sample losses).
"""
import numpy as np

from . import ops
from .autograd import Tensor
from .ops import losses as _loss_ops

__all__ = ["Loss", "LossFunctionWrapper", "CategoricalCrossentropy",
           "SparseCategoricalCrossentropy", "BinaryCrossentropy", "MeanSquaredError",
           "MeanAbsoluteError", "categorical_crossentropy", "sparse_categorical_crossentropy",
           "binary_crossentropy", "mean_squared_error", "mean_absolute_error", "get",
           "serialize", "deserialize"]

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)

categorical_crossentropy = _loss_ops.categorical_crossentropy
sparse_categorical_crossentropy = _loss_ops.sparse_categorical_crossentropy
binary_crossentropy = _loss_ops.binary_crossentropy
mean_squared_error = _loss_ops.mean_squared_error
mean_absolute_error = _loss_ops.mean_absolute_error
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error


def _weights_for(sample_weight, values):
    """sample_weight as an array broadcastable to the per-sample losses."""
    w = np.asarray(sample_weight.data if isinstance(sample_weight, Tensor) else sample_weight,
                   dtype=values.dtype)
    shape = values.shape
    if w.ndim == len(shape) + 1 and w.shape[-1] == 1:
        w = w.reshape(w.shape[:-1])
    if w.ndim < len(shape):
        w = w.reshape(w.shape + (1,) * (len(shape) - w.ndim))
    try:
        np.broadcast_shapes(w.shape, shape)
    except ValueError:
        raise ValueError(f"sample_weight of shape {tuple(w.shape)} does not match losses of "
                         f"shape {tuple(shape)}") from None
    return w


class Loss:
    """Base class: subclasses implement ``call(y_true, y_pred)`` returning per-sample losses."""

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"Invalid value for argument `reduction`. Expected one of "
                             f"{list(_REDUCTIONS)}. Received: reduction={reduction}")
        self.name = name or type(self).__name__.lower()
        self.reduction = reduction
        self.dtype = dtype

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None):
        values = self.call(y_true, y_pred)
        return reduce_values(values, sample_weight, self.reduction)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def reduce_values(values, sample_weight, reduction):
    """Weights per-sample losses (a Tensor) and reduces them as Keras' Loss.__call__ does."""
    if sample_weight is not None:
        w = _weights_for(sample_weight, values)
        values = values * w
    if reduction in ("none", None):
        return values
    if reduction == "sum":
        return ops.sum(values)
    if reduction in ("mean", "mean_with_sample_weight") and sample_weight is not None:
        total = float(np.broadcast_to(w, values.shape).sum())
        return ops.sum(values) / max(total, 1e-7)
    return ops.mean(values)


class LossFunctionWrapper(Loss):
    """A Loss from a function ``fn(y_true, y_pred, **kwargs)`` of per-sample losses."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction,
                         dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        config = super().get_config()
        config.update(self._fn_kwargs)
        return config


class CategoricalCrossentropy(LossFunctionWrapper):
    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy", dtype=None):
        super().__init__(categorical_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing = from_logits, label_smoothing


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(sparse_categorical_crossentropy, reduction=reduction, name=name,
                         dtype=dtype, from_logits=from_logits, ignore_class=ignore_class)
        self.from_logits, self.ignore_class = from_logits, ignore_class


class BinaryCrossentropy(LossFunctionWrapper):
    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        super().__init__(binary_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing = from_logits, label_smoothing


class MeanSquaredError(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsoluteError(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, reduction=reduction, name=name, dtype=dtype)


_CLASSES = {cls.__name__: cls for cls in (
    CategoricalCrossentropy, SparseCategoricalCrossentropy, BinaryCrossentropy,
    MeanSquaredError, MeanAbsoluteError)}
_NAMES = {
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "MAE": MeanAbsoluteError,
}


def serialize(loss):
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config):
    cls = _CLASSES.get(config.get("class_name"))
    if cls is None:
        raise ValueError(f"Unknown loss class_name: {config.get('class_name')!r}")
    return cls.from_config(config.get("config", {}))


def get(identifier):
    """A Loss for a name ("mse", "sparse_categorical_crossentropy", "BinaryCrossentropy"), a
    config dict, a Loss (as is) or a function of (y_true, y_pred) (wrapped, reduced to the
    mean); None stays None."""
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _NAMES.get(identifier) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"Could not interpret loss identifier: {identifier!r}. Known "
                             f"names: {sorted(k for k in _NAMES if k.islower())}")
        loss = cls()
        loss.name = identifier if identifier in _NAMES else loss.name
        return loss
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}")
