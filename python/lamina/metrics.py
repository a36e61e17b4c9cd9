"""Stateful metrics with Keras 3's names and arithmetic, on numpy arrays.

A metric accumulates over batches: ``update_state(y_true, y_pred, sample_weight=None)``,
``result()``, ``reset_state()``. Metrics run outside autograd on plain arrays and cost a few
numpy calls per batch (no Python loop over samples): a small model's training step is ~100 us,
so a metric must stay within a few microseconds.

The per-sample functions (``accuracy``, ``categorical_accuracy``, ...) return one value per
sample, as Keras' do; the classes average them, weighted by ``sample_weight`` when given, so
a result is the (weighted) mean over every sample seen, whatever the batch sizes. Labels (N,)
against outputs (N, 1) compare sample by sample (Keras' squeeze_or_expand_to_same_rank). A
mask that a masking layer attached to a ``y_pred`` Tensor weighs the masked entries 0.
"""
import numpy as np

from .autograd import Tensor
from .masking import get_mask as _tensor_mask
from .saving.serialization_lib import (custom_object, deserialize_keras_object,
                                       is_builtin_config, serialize_keras_object)

__all__ = [
    "Metric", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy",
    "CategoricalAccuracy", "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError",
    "RootMeanSquaredError", "accuracy", "binary_accuracy", "categorical_accuracy",
    "sparse_categorical_accuracy", "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy", "mean_squared_error", "mean_absolute_error", "get",
    "serialize", "deserialize",
]


def _to_numpy(x):
    """Accepts numpy arrays, lamina Tensors (``.data``) and anything array-like."""
    data = getattr(x, "data", None)
    if data is not None and not isinstance(x, np.ndarray):
        x = data
    if hasattr(x, "get") and not isinstance(x, (np.ndarray, dict)):  # cupy array
        x = x.get()
    return np.asarray(x)


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Keras 3's rule when two ranks differ by one and the longer ends in an axis of size 1:
    a rank-1 partner gains a trailing axis (with ``expand_rank_1``), else the axis of size 1 is
    dropped. So labels (N,) against outputs (N, 1) compare sample by sample."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2:
        return x1, x2
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2.reshape(x2.shape + (1,))
        else:
            x1 = x1.reshape(x1.shape[:-1])
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1.reshape(x1.shape + (1,))
        else:
            x2 = x2.reshape(x2.shape[:-1])
    return x1, x2


def get_mask(y_pred):
    """The Keras mask attached to `y_pred` (a Tensor that a masking layer produced), else
    None: plain arrays carry no mask."""
    return _tensor_mask(y_pred) if isinstance(y_pred, Tensor) else None


def apply_mask(sample_weight, mask, reduction="sum"):
    """Keras 3's losses.loss.apply_mask on numpy arrays: the mask becomes (part of) the sample
    weights. For the mean reductions valid entries weigh total/valid, so that a mean over all
    entries equals the mean over the valid ones."""
    if mask is None:
        return sample_weight
    mask = np.asarray(mask, dtype=np.float64)
    if reduction in ("mean", "sum_over_batch_size"):
        valid = mask.sum()
        mask = mask * (mask.size / valid if valid else 0.0)
    if sample_weight is None:
        return mask
    sample_weight = _to_numpy(sample_weight).astype(np.float64, copy=False)
    mask, sample_weight = squeeze_or_expand_to_same_rank(mask, sample_weight)
    if sample_weight.ndim < mask.ndim:  # per-sample weights against a per-timestep mask
        sample_weight = sample_weight.reshape(
            sample_weight.shape + (1,) * (mask.ndim - sample_weight.ndim))
    return sample_weight * mask


def reduce_to_samplewise_values(values, sample_weight):
    """Keras 3's reduction of metric values to one per sample (reduction_metrics.py): the
    weights are matched in rank to the values, the values averaged down to the weights' rank
    and multiplied by them, then both averaged over every axis but the first. Returns
    (per-sample values, per-sample weights or None)."""
    if sample_weight is not None:
        sample_weight = _to_numpy(sample_weight).astype(np.float64, copy=False)
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        w_ndim, v_ndim = sample_weight.ndim, values.ndim
        if v_ndim > w_ndim:
            values = values.mean(axis=tuple(range(w_ndim, v_ndim)))
        try:
            sample_weight = np.broadcast_to(sample_weight, values.shape)
        except ValueError:
            raise ValueError(f"sample_weight of shape {sample_weight.shape} cannot be matched "
                             f"to metric values of shape {values.shape}") from None
        values = values * sample_weight
        if w_ndim > 1:
            sample_weight = sample_weight.mean(axis=tuple(range(1, w_ndim)))
    if values.ndim > 1:
        values = values.mean(axis=tuple(range(1, values.ndim)))
    return values, sample_weight


# ---------------------------------------------------------------- per-sample metric functions

def accuracy(y_true, y_pred):
    y_true, y_pred = squeeze_or_expand_to_same_rank(_to_numpy(y_true), _to_numpy(y_pred))
    return np.mean(y_true == y_pred, axis=-1, dtype=np.float32)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    y_true, y_pred = squeeze_or_expand_to_same_rank(_to_numpy(y_true), _to_numpy(y_pred))
    return np.mean(y_true == (y_pred > threshold), axis=-1, dtype=np.float32)


def categorical_accuracy(y_true, y_pred):
    y_true, y_pred = _to_numpy(y_true), _to_numpy(y_pred)
    return (y_true.argmax(axis=-1) == y_pred.argmax(axis=-1)).astype(np.float32)


def _sparse_labels(y_true, y_pred):
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true.reshape(y_true.shape[:-1])
    return y_true


def sparse_categorical_accuracy(y_true, y_pred):
    y_true, y_pred = _to_numpy(y_true), _to_numpy(y_pred)
    labels = _sparse_labels(y_true, y_pred)
    return (labels == y_pred.argmax(axis=-1)).astype(np.float32)


def _in_top_k(labels, y_pred, k):
    """True where the label's score is among the k largest; ties at the boundary count as in
    the top k, like tf.math.in_top_k."""
    labels = labels.astype(np.intp, copy=False)
    flat = y_pred.reshape(-1, y_pred.shape[-1])
    target = np.take_along_axis(flat, labels.reshape(-1, 1), axis=-1)
    higher = (flat > target).sum(axis=-1)
    return (higher < k).reshape(labels.shape).astype(np.float32)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    y_true, y_pred = _to_numpy(y_true), _to_numpy(y_pred)
    return _in_top_k(y_true.argmax(axis=-1), y_pred, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    y_true, y_pred = _to_numpy(y_true), _to_numpy(y_pred)
    return _in_top_k(_sparse_labels(y_true, y_pred), y_pred, k)


def mean_squared_error(y_true, y_pred):
    y_true, y_pred = squeeze_or_expand_to_same_rank(_to_numpy(y_true), _to_numpy(y_pred))
    d = y_pred - y_true
    return np.mean(d * d, axis=-1)


def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = squeeze_or_expand_to_same_rank(_to_numpy(y_true), _to_numpy(y_pred))
    return np.mean(np.abs(y_pred - y_true), axis=-1)


# ---------------------------------------------------------------- stateful metric classes

class Metric:
    """Base class. Subclasses implement update_state, result and reset_state."""

    def __init__(self, name=None, dtype=None):
        self.name = name or _snake(type(self).__name__)
        self.dtype = dtype or "float32"

    def update_state(self, *args, **kwargs):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def reset_state(self):
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    @property
    def variables(self):
        return []

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class _Reduce(Metric):
    """Running total and count of per-sample values (Keras' Mean and Sum)."""

    def __init__(self, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = 0.0
        self.count = 0.0

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None):
        values = _to_numpy(values)
        if sample_weight is None:
            if values.ndim > 1:
                values = values.reshape(values.shape[0], -1).mean(axis=1)
            self.total += values.sum(dtype=np.float64)
            self.count += values.shape[0] if values.ndim else 1
            return
        if np.ndim(sample_weight) == 0 and values.ndim == 0:
            w = float(_to_numpy(sample_weight))
            self.total += float(values) * w
            self.count += w
            return
        values, sample_weight = reduce_to_samplewise_values(values, sample_weight)
        self.total += values.sum(dtype=np.float64)
        self.count += sample_weight.sum(dtype=np.float64)


class Mean(_Reduce):
    """Weighted mean of everything passed to update_state (Keras' loss tracker is one)."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def result(self):
        return np.float32(self.total / self.count) if self.count else np.float32(0.0)


class Sum(_Reduce):
    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def result(self):
        return np.float32(self.total)


class MeanMetricWrapper(Mean):
    """Mean over batches of ``fn(y_true, y_pred, **kwargs)``, one value per sample."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", "mean_metric"), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        mask = get_mask(y_pred)
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        if mask is not None:
            sample_weight = apply_mask(sample_weight, mask, reduction="sum")
        super().update_state(values, sample_weight)

    def get_config(self):
        config = super().get_config()
        config.update(self._fn_kwargs)
        if type(self) is MeanMetricWrapper:  # the named metrics know their function
            config["fn"] = serialize_keras_object(self._fn)
        return config

    @classmethod
    def from_config(cls, config):
        if "fn" in config:
            config = dict(config, fn=deserialize_keras_object(config["fn"]))
        return cls(**config)


class Accuracy(MeanMetricWrapper):
    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class BinaryAccuracy(MeanMetricWrapper):
    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold


class CategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        if sample_weight is None and type(y_true) is np.ndarray and \
                type(y_pred) is np.ndarray and y_true.ndim == 2 and y_pred.ndim == 2:
            self.total += int(np.count_nonzero(y_true.argmax(axis=-1) ==
                                               y_pred.argmax(axis=-1)))
            self.count += y_true.shape[0]
            return
        super().update_state(y_true, y_pred, sample_weight)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        # The training loop's case (unweighted numpy labels (N,) against (N, C)): count the
        # matches directly, a third of the generic path's cost.
        if sample_weight is None and type(y_true) is np.ndarray and \
                type(y_pred) is np.ndarray and y_true.ndim == 1 and y_pred.ndim == 2:
            self.total += int(np.count_nonzero(y_true == y_pred.argmax(axis=-1)))
            self.count += y_true.shape[0]
            return
        super().update_state(y_true, y_pred, sample_weight)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k


class MeanSquaredError(MeanMetricWrapper):
    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)


class RootMeanSquaredError(Mean):
    """sqrt of the (weighted) mean of squared errors over everything seen."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        mask = get_mask(y_pred)
        y_true, y_pred = squeeze_or_expand_to_same_rank(_to_numpy(y_true), _to_numpy(y_pred))
        d = y_pred - y_true
        if mask is not None:
            sample_weight = apply_mask(sample_weight, mask, reduction="sum")
        super().update_state(d * d, sample_weight)

    def result(self):
        return np.float32(np.sqrt(self.total / self.count)) if self.count else np.float32(0.0)


def _snake(name):
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and (not name[i - 1].isupper()
                                   or (i + 1 < len(name) and name[i + 1].islower())):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


_CLASSES = {
    cls.__name__: cls for cls in (
        Mean, Sum, Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
        TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, MeanSquaredError,
        MeanAbsoluteError, RootMeanSquaredError)
}
_FUNCTIONS = {
    "accuracy": Accuracy, "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "root_mean_squared_error": RootMeanSquaredError, "rmse": RootMeanSquaredError,
}


def serialize(metric):
    """{"class_name", "config"} for lamina's metrics; Keras' full config (module, registered
    name) for a custom Metric class or a metric function."""
    if type(metric) not in _CLASSES.values():
        return serialize_keras_object(metric)
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


def deserialize(config, custom_objects=None):
    """The Metric (or metric function) a config describes; custom ones from the registry, the
    active custom_object_scope or `custom_objects`."""
    cls = _CLASSES.get(config.get("class_name"))
    if cls is None or not is_builtin_config(config):
        metric = deserialize_keras_object(config, custom_objects=custom_objects)
        if not callable(metric) and not isinstance(metric, Metric):
            raise ValueError(f"Unknown metric class_name: {config.get('class_name')!r}")
        return metric
    return cls.from_config(config.get("config", {}))


def get(identifier):
    """A fresh Metric for a name ("mse", "categorical_accuracy", "MeanSquaredError"), a config
    dict, a Metric instance (returned as is) or a function ``f(y_true, y_pred)`` (wrapped)."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, dict):
        return get(deserialize(identifier))
    if isinstance(identifier, str):
        cls = _FUNCTIONS.get(identifier) or _CLASSES.get(identifier)
        if cls is None and custom_object(identifier) is not None:
            return get(custom_object(identifier))
        if cls is None:
            raise ValueError(
                f"Could not interpret metric identifier: {identifier!r}. Known names: "
                f"{sorted(_FUNCTIONS)}")
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")


def _loss_name(loss):
    if loss is None:
        return None
    if isinstance(loss, str):
        return {"bce": "binary_crossentropy", "cce": "categorical_crossentropy",
                "scce": "sparse_categorical_crossentropy"}.get(loss, loss).lower()
    name = getattr(loss, "name", None) or getattr(loss, "__name__", None)
    if name is None:
        name = _snake(type(loss).__name__)
    return name.lower()


def get_compile_metric(identifier, y_true, y_pred, loss=None):
    """The metric ``compile(metrics=[identifier])`` means for outputs shaped like y_pred.

    "accuracy"/"acc" is resolved as Keras 3 does from the shapes (binary when the output's last
    axis is 1; sparse categorical when y_true has one axis fewer, or a last axis of 1 against a
    wider output; otherwise categorical), except that a binary or sparse categorical
    cross-entropy loss decides first: a multi-label model trained with binary_crossentropy
    gets BinaryAccuracy, as Keras 2 did. The metric is named with the string the user wrote.
    """
    if identifier is None:
        return None
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        y_true_shape = np.shape(y_true)
        y_pred_shape = np.shape(y_pred)
        loss_name = _loss_name(loss)
        if loss_name == "binary_crossentropy":
            metric = BinaryAccuracy(name=identifier)
        elif loss_name == "sparse_categorical_crossentropy":
            metric = SparseCategoricalAccuracy(name=identifier)
        elif y_pred_shape[-1:] == (1,):
            metric = BinaryAccuracy(name=identifier)
        elif len(y_true_shape) < len(y_pred_shape) or (
                y_true_shape[-1:] == (1,) and y_pred_shape[-1] > 1):
            metric = SparseCategoricalAccuracy(name=identifier)
        else:
            metric = CategoricalAccuracy(name=identifier)
        return metric
    metric = get(identifier)
    if isinstance(identifier, str):
        metric.name = identifier
    return metric
