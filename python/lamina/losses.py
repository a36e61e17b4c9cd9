"""Keras 3 losses: classes with a reduction and sample weights, functions with Keras' names.

The per-sample computation is the lead's fused loss ops (lamina.ops.losses): one kernel call
gives the loss of every sample and its gradient. A Loss object then weights and reduces as
Keras 3's Loss does (keras/src/losses/loss.py): "sum_over_batch_size" (the default) and "mean"
divide the sum of the weighted losses by their number, "mean_with_sample_weight" by the sum of
the sample weights, "sum" sums, "none"/None returns the weighted per-sample losses. A mask on
the losses (lamina.masking, set by ``sparse_categorical_crossentropy(ignore_class=...)``) is
merged into the sample weights as Keras' apply_mask does: masked entries count for nothing, and
"mean"/"sum_over_batch_size" divide by the number of valid entries.
"""
import numpy as np

from . import backend, ops
from .autograd import Tensor
from .masking import get_mask
from .ops import losses as _loss_ops
from .saving.serialization_lib import (custom_object, deserialize_keras_object,
                                       is_builtin_config, serialize_keras_object)

__all__ = ["Loss", "LossFunctionWrapper", "CategoricalCrossentropy",
           "SparseCategoricalCrossentropy", "BinaryCrossentropy", "MeanSquaredError",
           "MeanAbsoluteError", "categorical_crossentropy", "sparse_categorical_crossentropy",
           "binary_crossentropy", "mean_squared_error", "mean_absolute_error",
           "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "Huber", "LogCosh",
           "Poisson", "KLDivergence", "Hinge", "SquaredHinge", "CategoricalHinge",
           "CosineSimilarity", "CTC", "mean_absolute_percentage_error",
           "mean_squared_logarithmic_error", "huber", "log_cosh", "poisson", "kl_divergence",
           "hinge", "squared_hinge", "categorical_hinge", "cosine_similarity", "ctc", "get",
           "serialize", "deserialize"]

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)

categorical_crossentropy = _loss_ops.categorical_crossentropy
sparse_categorical_crossentropy = _loss_ops.sparse_categorical_crossentropy
binary_crossentropy = _loss_ops.binary_crossentropy
mean_squared_error = _loss_ops.mean_squared_error
mean_absolute_error = _loss_ops.mean_absolute_error
mean_absolute_percentage_error = _loss_ops.mean_absolute_percentage_error
mean_squared_logarithmic_error = _loss_ops.mean_squared_logarithmic_error
huber = _loss_ops.huber
log_cosh = _loss_ops.log_cosh
poisson = _loss_ops.poisson
kl_divergence = _loss_ops.kl_divergence
hinge = _loss_ops.hinge
squared_hinge = _loss_ops.squared_hinge
categorical_hinge = _loss_ops.categorical_hinge
cosine_similarity = _loss_ops.cosine_similarity
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kl_divergence


def ctc(y_true, y_pred):
    """Keras' CTC loss function: y_true (batch, max_label_length) integer labels padded with 0
    (the blank), y_pred (batch, timesteps, classes) logits; every label row and every frame
    counts (padding labels equal to the blank are skipped), per-sample losses."""
    labels = y_true.data if isinstance(y_true, Tensor) else np.asarray(y_true)
    logits = y_pred.data if isinstance(y_pred, Tensor) else np.asarray(y_pred)
    if labels.ndim != 2 or logits.ndim != 3 or labels.shape[0] != logits.shape[0]:
        raise ValueError(f"[CTC] expected y_true (batch, max_label_length) and y_pred "
                         f"(batch, timesteps, classes), got y_true {tuple(labels.shape)} and "
                         f"y_pred {tuple(logits.shape)}")
    batch = labels.shape[0]
    label_length = np.full(batch, labels.shape[1], dtype=np.int64)
    logit_length = np.full(batch, logits.shape[1], dtype=np.int64)
    return ops.ctc_loss(y_true, y_pred, label_length, logit_length, mask_index=0)


def _same_rank(x1, x2):
    """Keras' squeeze_or_expand_to_same_rank: when the ranks differ by one and the longer one
    ends in an axis of 1, squeeze it (or expand the shorter one when that one is 1-D)."""
    r1, r2 = len(x1.shape), len(x2.shape)
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1:
            x2 = ops.expand_dims(x2, -1) if isinstance(x2, Tensor) else x2[..., None]
        else:
            x1 = ops.squeeze(x1, -1) if isinstance(x1, Tensor) else x1[..., 0]
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1:
            x1 = ops.expand_dims(x1, -1) if isinstance(x1, Tensor) else x1[..., None]
        else:
            x2 = ops.squeeze(x2, -1) if isinstance(x2, Tensor) else x2[..., 0]
    return x1, x2


def _weights_array(sample_weight, values, where):
    """sample_weight as an array of the losses' dtype and array module, of a rank that
    broadcasts against `values`: Keras' rank matching, then (lamina) per-sample weights of a
    lower rank get trailing axes of 1, so (batch,) weights apply to (batch, steps) losses."""
    w = sample_weight.data if isinstance(sample_weight, Tensor) else sample_weight
    w = backend.array_module(values.data).asarray(w, dtype=values.dtype)
    values, w = _same_rank(values, w)
    if w.ndim < values.ndim:
        w = w.reshape(w.shape + (1,) * (values.ndim - w.ndim))
    try:
        np.broadcast_shapes(w.shape, values.shape)
    except ValueError:
        raise ValueError(f"[{where}] sample_weight of shape {tuple(w.shape)} does not match "
                         f"losses of shape {tuple(values.shape)}") from None
    return values, w


class Loss:
    """Base class: subclasses implement ``call(y_true, y_pred)`` returning per-sample losses."""

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or type(self).__name__.lower()
        self.reduction = standardize_reduction(reduction)
        self.dtype = dtype

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None):
        values = self.call(y_true, y_pred)
        mask = get_mask(values)
        if sample_weight is None and mask is None:
            return reduce_values(values, None, self.reduction)
        return reduce_weighted_values(values, sample_weight, mask, self.reduction,
                                      where=self.name)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def standardize_reduction(reduction):
    """`reduction` if Keras 3 knows it, else Keras' ValueError."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"Invalid value for argument `reduction`. Expected one of "
                         f"{list(_REDUCTIONS)}. Received: reduction={reduction}")
    return reduction


def reduce_values(values, sample_weight=None, reduction="sum_over_batch_size"):
    """Keras' reduce_values on already weighted losses (a Tensor): "none"/None, a scalar or an
    empty (0,) array come back as they are; "sum" sums; "mean_with_sample_weight" with weights
    divides the sum by the sum of `sample_weight` (0 when that is 0); "sum_over_batch_size",
    "mean" (and "mean_with_sample_weight" without weights) divide by the number of losses."""
    if reduction is None or reduction == "none" or values.shape in ((), (0,)):
        return values
    if reduction == "sum":
        return ops.sum(values)
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        total = float(backend.array_module(sample_weight).sum(sample_weight))
        if total == 0.0:  # Keras' divide_no_nan
            return ops.where(np.asarray(False), ops.sum(values), 0.0)
        return ops.sum(values) / total
    return ops.mean(values)


def reduce_weighted_values(values, sample_weight=None, mask=None,
                           reduction="sum_over_batch_size", where="loss"):
    """Keras' reduce_weighted_values: merges `mask` (boolean, the losses' shape) into
    `sample_weight` as apply_mask does, weights the losses (a Tensor) and reduces them."""
    reduction = standardize_reduction(reduction)
    weights = None
    if sample_weight is not None:
        values, weights = _weights_array(sample_weight, values, where)
    if mask is not None:
        m = backend.array_module(values.data).asarray(mask, dtype=values.dtype)
        if reduction in ("mean", "sum_over_batch_size"):
            # Valid entries get weight total / valid, so the mean over all entries is the mean
            # over the valid ones (0 when none is valid: divide_no_nan).
            valid = float(m.sum())
            m = m * (m.size / valid if valid else 0.0)
        if weights is None:
            values, weights = _same_rank(values, m)
        else:
            m, weights = _same_rank(m, weights)
            weights = weights * m
    values = values * weights
    return reduce_values(values, weights, reduction)


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
        if type(self) is LossFunctionWrapper:  # the named losses know their function
            config["fn"] = serialize_keras_object(self.fn)
        return config

    @classmethod
    def from_config(cls, config):
        if "fn" in config:
            config = dict(config, fn=deserialize_keras_object(config["fn"]))
        return cls(**config)


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


class MeanAbsolutePercentageError(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error",
                 dtype=None):
        super().__init__(mean_absolute_percentage_error, reduction=reduction, name=name,
                         dtype=dtype)


class MeanSquaredLogarithmicError(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_logarithmic_error",
                 dtype=None):
        super().__init__(mean_squared_logarithmic_error, reduction=reduction, name=name,
                         dtype=dtype)


class Huber(LossFunctionWrapper):
    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss",
                 dtype=None):
        super().__init__(huber, reduction=reduction, name=name, dtype=dtype, delta=delta)
        self.delta = delta


class LogCosh(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(log_cosh, reduction=reduction, name=name, dtype=dtype)


class Poisson(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(poisson, reduction=reduction, name=name, dtype=dtype)


class KLDivergence(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, reduction=reduction, name=name, dtype=dtype)


class Hinge(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(hinge, reduction=reduction, name=name, dtype=dtype)


class SquaredHinge(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, reduction=reduction, name=name, dtype=dtype)


class CategoricalHinge(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, reduction=reduction, name=name, dtype=dtype)


class CosineSimilarity(LossFunctionWrapper):
    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity",
                 dtype=None):
        super().__init__(cosine_similarity, reduction=reduction, name=name, dtype=dtype,
                         axis=axis)


class CTC(LossFunctionWrapper):
    """Connectionist temporal classification (keras.losses.CTC): y_true integer labels padded
    with 0 (the blank), y_pred logits (batch, timesteps, classes)."""

    def __init__(self, reduction="sum_over_batch_size", name="ctc", dtype=None):
        super().__init__(ctc, reduction=reduction, name=name, dtype=dtype)


_CLASSES = {cls.__name__: cls for cls in (
    CategoricalCrossentropy, SparseCategoricalCrossentropy, BinaryCrossentropy,
    MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, Huber, LogCosh, Poisson, KLDivergence, Hinge, SquaredHinge,
    CategoricalHinge, CosineSimilarity, CTC)}
_NAMES = {
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "MAE": MeanAbsoluteError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError,
    "huber": Huber, "huber_loss": Huber, "log_cosh": LogCosh, "logcosh": LogCosh,
    "poisson": Poisson, "kl_divergence": KLDivergence, "kld": KLDivergence,
    "KLD": KLDivergence, "hinge": Hinge, "squared_hinge": SquaredHinge,
    "categorical_hinge": CategoricalHinge, "cosine_similarity": CosineSimilarity,
    "ctc": CTC,
}


def serialize(loss):
    """{"class_name", "config"} for lamina's losses; Keras' full config (module, registered
    name) for a custom Loss class or a loss function."""
    if type(loss) not in _CLASSES.values():
        return serialize_keras_object(loss)
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config, custom_objects=None):
    """The Loss (or loss function) a config describes; custom ones from the registry, the
    active custom_object_scope or `custom_objects`."""
    cls = _CLASSES.get(config.get("class_name"))
    if cls is None or not is_builtin_config(config):
        loss = deserialize_keras_object(config, custom_objects=custom_objects)
        if not callable(loss):
            raise ValueError(f"Unknown loss class_name: {config.get('class_name')!r}")
        return loss
    return cls.from_config(config.get("config", {}))


def get(identifier):
    """A Loss for a name ("mse", "sparse_categorical_crossentropy", "BinaryCrossentropy"), a
    config dict, a Loss (as is) or a function of (y_true, y_pred) (wrapped, reduced to the
    mean); None stays None."""
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        return get(deserialize(identifier))
    if isinstance(identifier, str):
        cls = _NAMES.get(identifier) or _CLASSES.get(identifier)
        if cls is None and custom_object(identifier) is not None:
            return get(custom_object(identifier))
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
