"""compile / fit / evaluate / predict, the training loop that Model carries.

Keras semantics: validation_split takes the LAST fraction of the samples before shuffling; the
samples are reshuffled every epoch with lamina.random's generator; the last partial batch is
kept; logs hold "loss", the metrics by name and their "val_" twins, sorted by name like Keras 3;
the loss in the logs is the running mean over the epoch, weighted by batch size.

A training step of a small model costs ~100 us, so the loop does the minimum per step: a batch
is one ``take`` on a pre-shuffled index array, the forward pass calls each layer's ``call``
directly once the first batch went through the checked ``__call__``, backward is one walk of the
tape, the optimizer one fused kernel call, the metrics a few vectorised numpy calls, and
callback hooks run only when some callback overrides them (the progress line is fed a function
that computes the logs only when it draws).
"""
import math

import numpy as np

from . import backend, losses as losses_module, metrics as metrics_module
from . import optimizers as optimizers_module
from . import random as lamina_random
from .autograd import Tensor, backward, no_grad, recording
from .callbacks import CallbackList

__all__ = ["Trainer"]


def _array(x, name):
    """x as a numpy array (Tensors unwrapped); lists and dicts of inputs are for the
    functional API, which lamina does not have yet."""
    if x is None:
        return None
    if isinstance(x, Tensor):
        x = x.data
    if isinstance(x, (dict, tuple)) or (isinstance(x, list) and x and
                                        isinstance(x[0], (np.ndarray, Tensor))):
        raise ValueError(f"`{name}`: lamina models take one array for now (multi-input and "
                         f"multi-output models come with the functional API); got "
                         f"{type(x).__name__}")
    if hasattr(x, "__cuda_array_interface__"):
        x = x.get()
    return np.asarray(x)


def _num_samples(arr):
    return arr.shape[0] if arr.ndim else 0


def _check_arrays(x, y, sample_weight, where):
    if x is None:
        raise ValueError(f"{where}: `x` is required")
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(f"{where}: `x` is empty (shape {x.shape}): there is nothing to "
                         f"{'train on' if where == 'fit' else 'run'}")
    n = x.shape[0]
    if y is not None and _num_samples(y) != n:
        raise ValueError(f"{where}: x has {n} samples but y has {_num_samples(y)} "
                         f"(x shape {x.shape}, y shape {y.shape})")
    if sample_weight is not None and _num_samples(sample_weight) != n:
        raise ValueError(f"{where}: x has {n} samples but sample_weight has "
                         f"{_num_samples(sample_weight)} (shape {sample_weight.shape})")
    return n


def _float_inputs(x):
    """Float inputs in the model's float type once, so no batch is cast during training."""
    if x.dtype.kind == "f" and x.dtype != np.dtype(backend.floatx()):
        x = x.astype(backend.floatx())
    return np.ascontiguousarray(x)


def _class_weights(y, class_weight):
    if y is None:
        raise ValueError("fit: `class_weight` needs `y`")
    if y.ndim > 2:
        raise ValueError(f"fit: `class_weight` is only supported for targets of rank <= 2, "
                         f"got y of shape {y.shape}")
    labels = y.argmax(axis=-1) if (y.ndim == 2 and y.shape[1] > 1) else y.reshape(-1)
    labels = np.rint(labels).astype(np.int64)
    table = np.ones(int(max(labels.max(initial=0), max(class_weight, default=0))) + 1,
                    dtype=np.float32)
    for k, w in class_weight.items():
        table[int(k)] = w
    return table[labels]


def _verbose(verbose):
    if verbose == "auto":
        return 1
    return int(verbose)


class Trainer:
    """Mixin with Keras' training API; Model inherits it."""

    def _init_trainer(self):
        self.compiled = False
        self.optimizer = None
        self.loss = None
        self.stop_training = False
        self.history = None
        self._loss_fn = None
        self._loss_weight = None
        self._metric_ids = []
        self._weighted_metric_ids = []
        self._compiled_metrics = None
        self._compiled_weighted_metrics = None
        self._loss_tracker = metrics_module.Mean(name="loss")
        self._train_vars = None
        self._plan = None

    # -- compile -----------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Sets the optimizer, loss and metrics. run_eagerly, jit_compile,
        steps_per_execution and auto_scale_loss are accepted and ignored: lamina always runs
        eagerly on its own kernels."""
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = loss
        self._loss_fn = losses_module.get(loss)
        if isinstance(loss_weights, (list, tuple)):
            if len(loss_weights) != 1:
                raise ValueError(f"compile: `loss_weights` has {len(loss_weights)} entries but "
                                 "the model has 1 output")
            loss_weights = loss_weights[0]
        elif isinstance(loss_weights, dict):
            loss_weights = list(loss_weights.values())[0] if loss_weights else None
        self._loss_weight = None if loss_weights in (None, 1, 1.0) else float(loss_weights)
        self._metric_ids = self._metric_list(metrics, "metrics")
        self._weighted_metric_ids = self._metric_list(weighted_metrics, "weighted_metrics")
        self._compiled_metrics = None
        self._compiled_weighted_metrics = None
        self._loss_tracker = metrics_module.Mean(name="loss")
        self._train_vars = None
        self.compiled = True
        self.stop_training = False

    @staticmethod
    def _metric_list(metrics, name):
        if metrics is None:
            return []
        if isinstance(metrics, dict):
            raise ValueError(f"compile: `{name}` as a dict needs a multi-output model "
                             "(functional API), which lamina does not have yet")
        if isinstance(metrics, (str, metrics_module.Metric)) or callable(metrics):
            raise ValueError(f"compile: expected `{name}` to be a list, e.g. "
                             f"{name}=[{metrics!r}]; got {type(metrics).__name__}")
        return list(metrics)

    def _assert_compiled(self, method):
        if not getattr(self, "compiled", False) or self.optimizer is None:
            raise ValueError(f"You must call `compile()` before using the model "
                             f"(model.{method} was called on '{self.name}').")

    @property
    def metrics(self):
        """The loss tracker and the compiled metrics (built at the first batch)."""
        out = [self._loss_tracker]
        out.extend(self._compiled_metrics or [])
        out.extend(self._compiled_weighted_metrics or [])
        return out

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def _build_metrics(self, y, y_pred):
        loss = self.loss
        self._compiled_metrics = [metrics_module.get_compile_metric(m, y, y_pred, loss)
                                  for m in self._metric_ids]
        self._compiled_weighted_metrics = []
        for m in self._weighted_metric_ids:
            metric = metrics_module.get_compile_metric(m, y, y_pred, loss)
            if any(metric.name == other.name for other in self._compiled_metrics):
                metric.name = "weighted_" + metric.name
            self._compiled_weighted_metrics.append(metric)

    def _update_metrics(self, y, y_pred, sample_weight):
        if self._compiled_metrics is None:
            self._build_metrics(y, y_pred)
        for m in self._compiled_metrics:
            m.update_state(y, y_pred)
        for m in self._compiled_weighted_metrics:
            m.update_state(y, y_pred, sample_weight)

    def _logs(self):
        logs = {m.name: float(m.result()) for m in self.metrics}
        return dict(sorted(logs.items()))

    # -- one step ----------------------------------------------------------------------------
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss of (y, y_pred), times its loss weight, plus the layers' losses
        (regularization). Differentiable: call it under a GradientTape in a train_step."""
        total = None
        if self._loss_fn is not None:
            if y is None:
                raise ValueError("compute_loss: the model was compiled with a loss but `y` is "
                                 "None")
            total = self._loss_fn(y, y_pred, sample_weight)
            if self._loss_weight is not None:
                total = total * self._loss_weight
        if self._has_layer_losses:
            for extra in self.losses:
                total = extra if total is None else total + extra
        if total is None:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        return total

    def _prepare_step(self):
        """Caches what every step needs: the trainable variables (the same list object each
        step, so the optimizer reuses its arrays) and whether layers add losses."""
        self._train_vars = self.trainable_weights
        self._has_layer_losses = any(
            v.regularizer is not None for v in self.weights) or any(
            getattr(layer, "activity_regularizer", None) is not None
            for layer in self._flat_sublayers())

    def _forward(self, x, training):
        plan = self._plan
        if plan is None:
            return self(x, training=training)
        for call, takes_training in plan:
            x = call(x, training=training) if takes_training else call(x)
        return x

    def train_step(self, data):
        """One optimisation step on a batch ``(x, y[, sample_weight])``; returns the logs.
        Override it for a custom step (use ``self.compute_loss``, ``self.optimizer.apply`` and
        ``self.compute_metrics``)."""
        x, y, sample_weight = _unpack(data)
        self._fast_train_step(x, y, sample_weight)
        return self._logs()

    def _fast_train_step(self, x, y, sample_weight):
        tv = self._train_vars
        with recording():
            y_pred = self._forward(x, True)
            loss = self.compute_loss(x, y, y_pred, sample_weight)
        grads = backward(loss, tv)
        self.optimizer.apply(grads, tv)
        tracker = self._loss_tracker
        tracker.total += float(loss.data) * x.shape[0]
        tracker.count += x.shape[0]
        self._update_metrics(y, y_pred.data, sample_weight)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Updates the compiled metrics and returns the logs (Keras' compute_metrics)."""
        if isinstance(y_pred, Tensor):
            y_pred = y_pred.data
        self._update_metrics(y, y_pred, sample_weight)
        return self._logs()

    def test_step(self, data):
        x, y, sample_weight = _unpack(data)
        self._fast_test_step(x, y, sample_weight)
        return self._logs()

    def _fast_test_step(self, x, y, sample_weight):
        with no_grad():
            y_pred = self._forward(x, False)
            loss = self.compute_loss(x, y, y_pred, sample_weight, training=False)
        tracker = self._loss_tracker
        tracker.total += float(loss.data) * x.shape[0]
        tracker.count += x.shape[0]
        self._update_metrics(y, y_pred.data, sample_weight)

    def predict_step(self, data):
        x, _, _ = _unpack(data)
        with no_grad():
            return self._forward(x, False).data

    # -- fit ---------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Trains for `epochs` epochs; returns the History (Keras 3 arguments)."""
        self._assert_compiled("fit")
        x = _array(x, "x")
        y = _array(y, "y")
        sample_weight = _array(sample_weight, "sample_weight")
        n = _check_arrays(x, y, sample_weight, "fit")
        batch_size = self._batch_size(batch_size, "fit")
        if not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"fit: `epochs` must be a non-negative integer, got {epochs!r}")
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"fit: `validation_split` must be in [0, 1), got "
                             f"{validation_split}")
        if validation_split and validation_data is not None:
            validation_split = 0.0  # Keras: validation_data overrides validation_split
        x = _float_inputs(x)
        if class_weight:
            cw = _class_weights(y, class_weight)
            sample_weight = cw if sample_weight is None else sample_weight * cw
        val = None
        if validation_split:
            split_at = int(math.floor(n * (1.0 - validation_split)))
            if split_at == 0 or split_at == n:
                raise ValueError(
                    f"fit: training data contains {n} samples, which is not sufficient to "
                    f"split it into a validation and training set as specified by "
                    f"`validation_split={validation_split}`. Either provide more data, or a "
                    "different value for the `validation_split` argument.")
            val = (x[split_at:], None if y is None else y[split_at:],
                   None if sample_weight is None else sample_weight[split_at:])
            x = x[:split_at]
            y = None if y is None else y[:split_at]
            sample_weight = None if sample_weight is None else sample_weight[:split_at]
            n = split_at
        elif validation_data is not None:
            val = self._validation_arrays(validation_data)
        steps = steps_per_epoch or -(-n // batch_size)
        verbose = _verbose(verbose)
        cbs = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                           verbose=verbose, epochs=epochs, steps=steps)
        self.stop_training = False
        self._plan = None
        self._build_from_batch(x)
        self._prepare_step()
        custom_step = type(self).train_step is not Trainer.train_step
        progbar = cbs.progbar if verbose else None
        want_begin = cbs.wants["on_train_batch_begin"]
        want_end = cbs.wants["on_train_batch_end"]
        gen = lamina_random.generator()
        starts = list(range(0, n, batch_size))
        num_batches = len(starts)
        logs = {}
        cbs.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            cbs.on_epoch_begin(epoch)
            order = gen.permutation(n) if shuffle else None
            for step in range(steps):
                if want_begin:
                    cbs.on_train_batch_begin(step)
                s = starts[step % num_batches]
                if order is None:
                    xb = x[s:s + batch_size]
                    yb = None if y is None else y[s:s + batch_size]
                    wb = None if sample_weight is None else sample_weight[s:s + batch_size]
                else:
                    idx = order[s:s + batch_size]
                    xb = x.take(idx, axis=0)
                    yb = None if y is None else y.take(idx, axis=0)
                    wb = None if sample_weight is None else sample_weight.take(idx, axis=0)
                if custom_step:
                    batch_logs = self.train_step((xb, yb) if wb is None else (xb, yb, wb))
                    if self._plan is None:
                        self._make_plan()
                else:
                    batch_logs = None
                    self._fast_train_step(xb, yb, wb)
                    if self._plan is None:
                        self._make_plan()
                if want_end:
                    cbs.on_train_batch_end(step, batch_logs if batch_logs is not None
                                           else self._logs())
                elif progbar is not None:
                    progbar.progress(step + 1, self._logs if batch_logs is None
                                     else (lambda bl=batch_logs: bl))
                if self.stop_training:
                    break
            logs = self._logs() if not custom_step or batch_logs is None else \
                dict(sorted(_pythonify(batch_logs).items()))
            if val is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self._evaluate_arrays(*val, validation_batch_size or batch_size,
                                                 validation_steps)
                logs.update({"val_" + k: v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        return cbs.history

    def _make_plan(self):
        """After the first checked batch: the bound ``call`` of each layer, so later steps
        skip the per-call checks (Sequential models only; others keep ``__call__``)."""
        layers = getattr(self, "_plan_layers", None)
        if layers is None:
            self._plan = None
            return
        from .layers.layer import _ACCEPTS_TRAINING, _accepts
        plan = []
        for layer in layers():
            if layer.activity_regularizer is not None or not layer.built:
                self._plan = None
                return
            cls = type(layer)
            takes = _ACCEPTS_TRAINING.get(cls)
            if takes is None:
                takes = _ACCEPTS_TRAINING[cls] = _accepts(layer.call, "training")
            plan.append((layer.call, takes))
        self._plan = plan

    def _validation_arrays(self, validation_data):
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError("fit: `validation_data` must be a tuple (x_val, y_val) or "
                             f"(x_val, y_val, val_sample_weight), got "
                             f"{type(validation_data).__name__}")
        vx = _array(validation_data[0], "validation_data[0]")
        vy = _array(validation_data[1], "validation_data[1]")
        vw = _array(validation_data[2], "validation_data[2]") if len(validation_data) == 3 \
            else None
        _check_arrays(vx, vy, vw, "fit (validation_data)")
        return _float_inputs(vx), vy, vw

    @staticmethod
    def _batch_size(batch_size, where):
        if batch_size is None:
            return 32
        if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"{where}: `batch_size` must be a positive integer, got "
                             f"{batch_size!r}")
        return int(batch_size)

    # -- evaluate / predict ------------------------------------------------------------------
    def _evaluate_arrays(self, x, y, sample_weight, batch_size, steps=None, cbs=None):
        self.reset_metrics()
        n = x.shape[0]
        total = -(-n // batch_size)
        if steps is not None:
            total = min(total, int(steps))
        custom = type(self).test_step is not Trainer.test_step
        progbar = cbs.progbar if cbs is not None else None
        want_begin = cbs is not None and cbs.wants["on_test_batch_begin"]
        want_end = cbs is not None and cbs.wants["on_test_batch_end"]
        batch_logs = None
        for step in range(total):
            if want_begin:
                cbs.on_test_batch_begin(step)
            s = step * batch_size
            xb = x[s:s + batch_size]
            yb = None if y is None else y[s:s + batch_size]
            wb = None if sample_weight is None else sample_weight[s:s + batch_size]
            if custom:
                batch_logs = self.test_step((xb, yb) if wb is None else (xb, yb, wb))
            else:
                self._fast_test_step(xb, yb, wb)
            if want_end:
                cbs.on_test_batch_end(step, batch_logs or self._logs())
            elif progbar is not None:
                progbar.progress(step + 1, self._logs)
        if custom and batch_logs is not None:
            return dict(sorted(_pythonify(batch_logs).items()))
        return self._logs()

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, **kwargs):
        """Loss and metrics on (x, y): a scalar when there are no metrics, else
        [loss, metric...] in metrics_names order; a dict with return_dict=True."""
        self._assert_compiled("evaluate")
        x = _float_inputs(_array(x, "x"))
        y = _array(y, "y")
        sample_weight = _array(sample_weight, "sample_weight")
        n = _check_arrays(x, y, sample_weight, "evaluate")
        batch_size = self._batch_size(batch_size, "evaluate")
        verbose = _verbose(verbose)
        nsteps = -(-n // batch_size) if steps is None else min(int(steps), -(-n // batch_size))
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                           epochs=1, steps=nsteps)
        self._plan = None
        self._build_from_batch(x)
        self._prepare_step()
        cbs.on_test_begin()
        logs = self._evaluate_arrays(x, y, sample_weight, batch_size, steps, cbs)
        cbs.on_test_end(logs)
        if return_dict:
            return logs
        values = [logs["loss"]] + [logs[m.name] for m in self.metrics[1:] if m.name in logs]
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs on x as one numpy array, batch by batch."""
        x = _float_inputs(_array(x, "x"))
        n = _check_arrays(x, None, None, "predict")
        batch_size = self._batch_size(batch_size, "predict")
        verbose = _verbose(verbose)
        total = -(-n // batch_size) if steps is None else min(int(steps), -(-n // batch_size))
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                           epochs=1, steps=total)
        want_end = cbs.wants["on_predict_batch_end"]
        progbar = cbs.progbar
        cbs.on_predict_begin()
        outputs = []
        for step in range(total):
            if cbs.wants["on_predict_batch_begin"]:
                cbs.on_predict_batch_begin(step)
            s = step * batch_size
            out = self.predict_step((x[s:s + batch_size],))
            if isinstance(out, Tensor):
                out = out.data
            outputs.append(out)
            if want_end:
                cbs.on_predict_batch_end(step, {"outputs": out})
            elif progbar is not None:
                progbar.progress(step + 1, dict)
        cbs.on_predict_end()
        return np.concatenate(outputs, axis=0)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        """One training step on one batch; returns the loss (and metrics) so far."""
        self._assert_compiled("train_on_batch")
        x = _float_inputs(_array(x, "x"))
        y = _array(y, "y")
        sample_weight = _array(sample_weight, "sample_weight")
        _check_arrays(x, y, sample_weight, "train_on_batch")
        if class_weight:
            cw = _class_weights(y, class_weight)
            sample_weight = cw if sample_weight is None else sample_weight * cw
        self._prepare_step()
        logs = self.train_step((x, y) if sample_weight is None else (x, y, sample_weight))
        return self._return_logs(_pythonify(logs), return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._assert_compiled("test_on_batch")
        x = _float_inputs(_array(x, "x"))
        y = _array(y, "y")
        sample_weight = _array(sample_weight, "sample_weight")
        _check_arrays(x, y, sample_weight, "test_on_batch")
        if self._train_vars is None:
            self._prepare_step()
        self.reset_metrics()
        logs = self.test_step((x, y) if sample_weight is None else (x, y, sample_weight))
        return self._return_logs(_pythonify(logs), return_dict)

    def predict_on_batch(self, x):
        out = self.predict_step((_float_inputs(_array(x, "x")),))
        return out.data if isinstance(out, Tensor) else out

    def _return_logs(self, logs, return_dict):
        if return_dict:
            return logs
        values = [logs["loss"]] + [v for k, v in logs.items() if k != "loss"]
        return values[0] if len(values) == 1 else values


def _pythonify(logs):
    return {k: float(v) if np.ndim(v) == 0 and not isinstance(v, str) else v
            for k, v in (logs or {}).items()}


def _unpack(data):
    """(x,), (x, y) or (x, y, sample_weight) -> (x, y, sample_weight)."""
    if isinstance(data, (tuple, list)):
        if len(data) == 1:
            return data[0], None, None
        if len(data) == 2:
            return data[0], data[1], None
        if len(data) == 3:
            return data[0], data[1], data[2]
    return data, None, None
