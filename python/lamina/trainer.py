"""compile / fit / evaluate / predict, the training loop that Model carries.

Keras semantics: validation_split takes the LAST fraction of the samples before shuffling (and
class_weight weighs only the training part); the samples are reshuffled every epoch with
lamina.random's generator; the last partial batch is kept; logs hold "loss", the metrics by
name and their "val_" twins, sorted by name like Keras 3; the loss in the logs is the running
mean over the epoch, weighted by batch size. ``model.metrics`` is Keras 3's list: the loss
tracker, the CompileMetrics container (compiled.py) and the per-output loss trackers.

A training step of a small model costs ~100 us, so the loop does the minimum per step: a batch
is one ``take`` on a pre-shuffled index array, the forward pass calls each layer's ``call``
directly once the first batch went through the checked ``__call__``, backward is one walk of the
tape, the optimizer one fused kernel call, the metrics a few vectorised numpy calls, and
callback hooks run only when some callback overrides them (the progress line is fed a function
that computes the logs only when it draws).
"""
import math

import numpy as np

from . import losses as losses_module, metrics as metrics_module
from . import optimizers as optimizers_module
from . import random as lamina_random
from .autograd import backward, no_grad, recording
from .batching import (Arrays, apply_class_weight, build, concatenate_batches, map_data,
                       pythonify_logs, unpack)
from .callbacks import CallbackList
from .compiled import CompiledOutputs, CompileMetrics, check_metric_identifiers
from .layers.layer import _accepts

__all__ = ["Trainer"]


def _verbose(verbose, where):
    if verbose == "auto":
        return 1
    if isinstance(verbose, (bool, int, np.integer)) and 0 <= verbose <= 2:
        return int(verbose)
    raise ValueError(f"{where}: `verbose` must be 'auto', 0, 1 or 2, got {verbose!r}")


def _count(value, name, where, minimum=1):
    """`value` as an int >= `minimum` (1: "positive", 0: "non-negative"), else a ValueError
    naming the argument: a 0 or negative count would divide by zero or silently run nothing."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        kind = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{where}: `{name}` must be a {kind} integer, got {value!r}")
    return int(value)


def _validation_epochs(validation_freq):
    """Keras' validation_freq: validate every N epochs (an int), or after the listed epochs
    (1-based), as a predicate on the 0-based epoch."""
    if isinstance(validation_freq, (list, tuple)) and all(
            isinstance(e, (int, np.integer)) and not isinstance(e, bool)
            for e in validation_freq):
        epochs = {int(e) for e in validation_freq}
        return lambda epoch: epoch + 1 in epochs
    if isinstance(validation_freq, bool) or not isinstance(
            validation_freq, (int, np.integer)) or validation_freq < 1:
        raise ValueError(f"fit: `validation_freq` must be a positive integer or a list of "
                         f"epochs, got {validation_freq!r}")
    return lambda epoch: (epoch + 1) % validation_freq == 0


def _is_structure(v):
    return isinstance(v, (list, tuple, dict))


class Trainer:
    """Mixin with Keras' training API; Model inherits it."""

    def _init_trainer(self):
        self.compiled = False
        self.optimizer = None
        self.loss = None
        self.stop_training = False
        self.history = None
        self._compile_args = None
        self._compile_config = None  # compile()'s other arguments, for get_compile_config
        self._outputs = None  # compiled.CompiledOutputs, once matched to the outputs
        self._loss_tracker = metrics_module.Mean(name="loss")
        self._train_vars = None
        self._plan = None
        self._has_layer_losses = False
        self._pending_loss = None

    # -- compile -----------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Sets the optimizer, losses and metrics: each of `loss`, `loss_weights`, `metrics`
        and `weighted_metrics` one value, a list (by output position) or a dict (by output
        name). The total loss is the SUM of weight x loss over the outputs (Keras 3).
        run_eagerly, jit_compile, steps_per_execution and auto_scale_loss are accepted and
        ignored: lamina always runs eagerly on its own kernels. Everything is checked before
        anything changes: a compile that raises leaves the model as it was."""
        new_optimizer = optimizers_module.get(optimizer)
        for identifier in (loss.values() if isinstance(loss, dict) else
                           loss if isinstance(loss, (list, tuple)) else [loss]):
            losses_module.get(identifier)  # an unknown name fails here, not at fit
        for name, m in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if m is not None and not _is_structure(m):
                raise ValueError(f"compile: expected `{name}` to be a list, e.g. "
                                 f"{name}=[{m!r}]; got {type(m).__name__}")
            check_metric_identifiers(m, name)
        args = (loss, loss_weights, metrics, weighted_metrics)
        names = self._known_output_names()
        outputs = None if names is None else CompiledOutputs(names, *args)
        self.optimizer = new_optimizer
        self.loss = loss
        self._compile_args = args
        self._compile_config = dict(loss=loss, loss_weights=loss_weights, metrics=metrics,
                                    weighted_metrics=weighted_metrics, run_eagerly=run_eagerly,
                                    steps_per_execution=steps_per_execution,
                                    jit_compile=jit_compile, auto_scale_loss=auto_scale_loss)
        self._outputs = outputs
        self._loss_tracker = metrics_module.Mean(name="loss")
        self._train_vars = None
        self._plan = None
        self._pending_loss = None
        self.compiled = True
        self.stop_training = False

    def get_compile_config(self):
        """compile()'s arguments (the optimizer as it is now), for saving; None when not
        compiled."""
        if not getattr(self, "compiled", False) or getattr(self, "_compile_config", None) is None:
            return None
        return {"optimizer": self.optimizer, **self._compile_config}

    def compile_from_config(self, config):
        """compile() with a saved compile config (its objects deserialized), then the
        optimizer built on the trainable weights, as Keras does; skipped with Keras' warning
        when the model overrides compile()."""
        if type(self).compile is not Trainer.compile:
            import warnings
            warnings.warn("`compile()` was not called as part of model loading because the "
                          "model's `compile()` method is custom. All subclassed Models that "
                          "have `compile()` overridden should also override "
                          "`get_compile_config()` and `compile_from_config(config)`.",
                          stacklevel=2)
            return
        from .saving.serialization_lib import deserialize_keras_object
        self.compile(**deserialize_keras_object(config))
        if self.built and self.trainable_weights:
            self.optimizer.build(self.trainable_weights)

    def _known_output_names(self):
        """The output names when known before any data (functional)."""
        names = getattr(self, "output_names", None)
        return list(names) if names else None

    def _input_signature(self):
        """(names, dtypes, shapes) of the model's inputs when it knows them before any data,
        else None (a subclassed model takes `x` in whatever structure its `call` wants)."""
        return None

    def _resolve_outputs(self, y_pred):
        """For a model whose outputs are only known from a call (subclassed): names from the
        structure it returned."""
        if self._outputs is not None:
            return
        if isinstance(y_pred, dict):
            names = sorted(y_pred)
        elif isinstance(y_pred, (list, tuple)):
            names = [f"output_{i + 1}" for i in range(len(y_pred))]
        else:
            names = ["output_1"]
        self._outputs = CompiledOutputs(names, *self._compile_args)

    def _model_outputs(self, out):
        """What the model returned, in the training loop's form: one Tensor for a single output
        (also when the model returns it in a list or dict of one), a list in output order
        otherwise."""
        if self._outputs is None:
            self._resolve_outputs(out)
        if self._outputs.single:
            if isinstance(out, (list, tuple)) and len(out) == 1:
                return out[0]
            if isinstance(out, dict) and len(out) == 1:
                return next(iter(out.values()))
            return out
        return self._outputs.flat_outputs(out)

    def _model_targets(self, y, role="y"):
        """Targets (or sample weights) in the user's structure -> the loop's form."""
        if y is None:
            return None
        flat = self._outputs.flat_targets(y, role)
        return flat[0] if self._outputs.single else flat

    def _assert_compiled(self, method):
        if not getattr(self, "compiled", False) or self.optimizer is None:
            raise ValueError(f"You must call `compile()` before using the model "
                             f"(model.{method} was called on '{self.name}').")

    # -- metrics -----------------------------------------------------------------------------
    @property
    def metrics(self):
        """Keras 3's order: the loss tracker, the compiled metrics (one CompileMetrics
        container, whose ``metrics`` lists them) and the per-output loss trackers."""
        if not getattr(self, "compiled", False):
            return []
        out = [self._loss_tracker]
        outs = self._outputs
        if outs is not None:
            if outs.compile_metrics is not None:
                out.append(outs.compile_metrics)
            out.extend(outs.loss_trackers)
        return out

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def get_metrics_result(self):
        """The values of ``metrics`` as a dict; a container's dict of results is merged in."""
        logs = {}
        for m in self.metrics:
            result = m.result()
            if isinstance(result, dict):
                logs.update(result)
            else:
                logs[m.name] = result
        return logs

    def _logs(self):
        return pythonify_logs(self.get_metrics_result())

    def _values_in_order(self, logs):
        """Keras' _flatten_metrics_in_order: the values in ``metrics`` order (a container's
        metrics by their own names), then the rest by sorted key; one value alone is returned
        as is."""
        names = []
        for m in self.metrics:
            for name in ([s.name for s in m.metrics] if isinstance(m, CompileMetrics)
                         else [m.name]):
                if name not in names:
                    names.append(name)
        values = [logs[k] for k in names if k in logs]
        values += [logs[k] for k in sorted(logs) if k not in names]
        return values[0] if len(values) == 1 else values

    def _track(self, loss, y, y_pred, sample_weight):
        """After a step: the loss tracker (weighted by batch size) and the compiled metrics."""
        tracker = self._loss_tracker
        outs = self._outputs
        n = (y_pred if outs.single else y_pred[0]).shape[0]
        tracker.total += float(loss.data) * n
        tracker.count += n
        cm = outs.compile_metrics
        if cm is None:
            return
        if outs.single:
            cm.update_single(y, y_pred, sample_weight)
        else:
            if not isinstance(sample_weight, list):
                sample_weight = [sample_weight] * len(outs.names)
            cm.update_flat(y, y_pred, sample_weight)

    # -- one step ----------------------------------------------------------------------------
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss: the SUM over outputs of weight x loss(y, y_pred), plus the
        layers' losses (regularization). `y`, `y_pred` and `sample_weight` as the model
        returns and fit receives them (one array, a list or a dict). Differentiable: call it
        under a GradientTape in a train_step.

        Beyond Keras: when a custom step then calls ``compute_metrics`` without having updated
        the ``loss`` tracker itself, compute_metrics records this loss, so "loss" in the logs
        is the real one (Keras would report 0)."""
        if self._outputs is None:
            self._resolve_outputs(y_pred)
        y_pred = self._model_outputs(y_pred)
        total = self._total_loss(self._model_targets(y), y_pred,
                                 self._model_targets(sample_weight, "sample_weight"))
        n = (y_pred if self._outputs.single else y_pred[0]).shape[0]
        self._pending_loss = (float(total.data), n, self._loss_tracker.count)
        return total

    def _total_loss(self, y, y_pred, sample_weight):
        """compute_loss on the loop's form (lists aligned with the outputs when there are
        several)."""
        total = None
        outs = self._outputs
        if outs.single:
            if outs.terms:
                _, fn, weight, _ = outs.terms[0]
                if y is None:
                    raise ValueError("compute_loss: the model was compiled with a loss but `y` "
                                     "is None")
                total = outs.output_loss(fn, y, y_pred, sample_weight)
                if weight is not None:
                    total = total * weight
        else:
            several = not isinstance(sample_weight, list)
            for i, fn, weight, tracker in outs.terms:
                yt = y[i]
                if yt is None:
                    raise ValueError(f"compute_loss: output '{outs.names[i]}' has a loss but no "
                                     f"target in `y`")
                value = outs.output_loss(fn, yt, y_pred[i],
                                         sample_weight if several else sample_weight[i])
                if tracker is not None:
                    n = y_pred[i].shape[0]
                    tracker.total += float(value.data) * n
                    tracker.count += n
                if weight is not None:
                    value = value * weight
                total = value if total is None else total + value
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
        """The model's outputs in the loop's form (see _model_outputs)."""
        plan = self._plan
        if plan is not None:
            return plan(x, training)
        return self._model_outputs(self(x, training=training))

    def train_step(self, data):
        """One optimisation step on a batch ``(x, y[, sample_weight])``; returns the logs.
        Override it for a custom step (use ``self.compute_loss``, ``self.optimizer.apply`` and
        ``self.compute_metrics``, or update each of ``self.metrics``). Where only
        ``compute_loss`` or ``compute_metrics`` is overridden, the step calls them as Keras'
        does, with x, y and sample_weight in the structure given to fit."""
        x, y, sample_weight = unpack(data)
        if not self._keras_step_hooks():
            self._fast_train_step(x, self._model_targets(y),
                                  self._model_targets(sample_weight, "sample_weight"))
            return self._logs()
        tv = self._train_vars if self._train_vars is not None else self.trainable_weights
        with recording():
            y_pred = self(x, training=True)
            loss = self._call_compute_loss(x, y, y_pred, sample_weight, True)
        self.optimizer.apply(backward(loss, tv), tv)
        return self._track_and_compute_metrics(loss, x, y, y_pred, sample_weight)

    def _keras_step_hooks(self):
        """Whether a subclass overrides compute_loss or compute_metrics (then the default
        steps call them, the Keras way, instead of the fused fast step)."""
        cls = type(self)
        return cls.compute_loss is not Trainer.compute_loss or \
            cls.compute_metrics is not Trainer.compute_metrics

    def _custom(self, step):
        """Whether fit / evaluate run `step` ("train_step", "test_step") with the user's
        structures rather than the fast step on the loop's form."""
        return getattr(type(self), step) is not getattr(Trainer, step) or \
            self._keras_step_hooks()

    def _call_compute_loss(self, x, y, y_pred, sample_weight, training):
        if _accepts(self.compute_loss, "training"):
            return self.compute_loss(x, y, y_pred, sample_weight, training=training)
        return self.compute_loss(x, y, y_pred, sample_weight)  # Keras < 3.3 signature

    def _track_and_compute_metrics(self, loss, x, y, y_pred, sample_weight):
        self._pending_loss = None
        n = self._model_outputs(y_pred)
        n = (n if self._outputs.single else n[0]).shape[0]
        self._loss_tracker.update_state(float(loss.data), sample_weight=n)
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def _fast_train_step(self, x, y, sample_weight):
        tv = self._train_vars
        with recording():
            y_pred = self._forward(x, True)
            loss = self._total_loss(y, y_pred, sample_weight)
        grads = backward(loss, tv)
        self.optimizer.apply(grads, tv)
        self._track(loss, y, y_pred, sample_weight)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Updates the compiled metrics and returns the values of ``metrics`` (Keras'
        compute_metrics)."""
        if self._outputs is None:
            self._resolve_outputs(y_pred)
        pending, self._pending_loss = self._pending_loss, None
        if pending is not None and pending[2] == self._loss_tracker.count:
            self._loss_tracker.update_state(pending[0], sample_weight=pending[1])
        cm = self._outputs.compile_metrics
        if cm is not None:
            cm.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def test_step(self, data):
        x, y, sample_weight = unpack(data)
        if not self._keras_step_hooks():
            self._fast_test_step(x, self._model_targets(y),
                                 self._model_targets(sample_weight, "sample_weight"))
            return self._logs()
        with no_grad():
            y_pred = self(x, training=False)
            loss = self._call_compute_loss(x, y, y_pred, sample_weight, False)
        return self._track_and_compute_metrics(loss, x, y, y_pred, sample_weight)

    def _fast_test_step(self, x, y, sample_weight):
        with no_grad():
            y_pred = self._forward(x, False)
            loss = self._total_loss(y, y_pred, sample_weight)
        self._track(loss, y, y_pred, sample_weight)

    def predict_step(self, data):
        x, _, _ = unpack(data)
        with no_grad():
            out = self(x, training=False)
        return map_data(out)

    # -- data --------------------------------------------------------------------------------
    def _arrays(self, where, x, y=None, sample_weight=None):
        """x, y, sample_weight matched to the model's inputs and outputs (batching.Arrays)."""
        arrays = Arrays(where)
        signature = self._input_signature()
        in_names, dtypes, shapes = signature if signature is not None else (None, None, None)
        arrays.add("x", x, in_names, dtypes)
        if shapes is not None:
            arrays.check_shapes("x", shapes, self.name, in_names)
        if y is not None and (self._outputs is None or not self.built):
            arrays.check("train on" if where == "fit" else "run")
            self._ensure_outputs(arrays)
        model_out_names = self._outputs.names if self._outputs is not None else \
            self._known_output_names()
        out_names = model_out_names
        if out_names is not None and len(out_names) == 1 and not _is_structure(y):
            out_names = None
        arrays.add("y", y, out_names, allow_missing=True)
        # A list or dict of sample weights is matched to the outputs, also where `y` is one
        # array: [w] for a single output is w, as [y] is y.
        sw_names = model_out_names if _is_structure(sample_weight) else None
        arrays.add("sample_weight", sample_weight, sw_names, allow_missing=True)
        arrays.check("train on" if where == "fit" else "run")
        return arrays

    def _batch(self, arrays, cols, custom):
        """(x, y, sample_weight) of a batch: the user's structure for a custom step, the
        model's form otherwise."""
        form = arrays.user_form if custom else arrays.model_form
        return build(form("x"), cols), build(form("y"), cols), \
            build(form("sample_weight"), cols)

    def _ensure_outputs(self, arrays):
        """Builds a model that is not built yet and learns its outputs from one sample."""
        if self._outputs is not None and self.built:
            return
        x = build(arrays.model_form("x"), arrays.slice(0, 1))
        try:
            with no_grad():
                out = self(x, training=False)
        except ValueError as e:
            raise ValueError(f"{arrays.where}: model '{self.name}' cannot run on `x` "
                             f"({arrays.describe('x')}); on its first sample: {e}") from e
        self._resolve_outputs(out)

    def _check_targets(self, arrays, where):
        """Every output with a loss has a target (when any target was given)."""
        outs = self._outputs
        spec = arrays.model_form("y")
        if spec is None or outs.single:
            return
        if spec.kind == "one":
            raise ValueError(f"{where}: the model has {len(outs.names)} outputs {outs.names}; "
                             f"pass `y` as a list or a dict keyed by these names")
        for i, *_ in outs.terms:
            if i >= len(spec.index) or spec.index[i] is None:
                raise ValueError(f"{where}: output '{outs.names[i]}' has a loss but `y` has no "
                                 f"target for it; the outputs are {outs.names}")

    # -- fit ---------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Trains for `epochs` epochs; returns the History (Keras 3 arguments). x, y and
        sample_weight may be lists or dicts (by input / output name) of arrays."""
        self._assert_compiled("fit")
        verbose = _verbose(verbose, "fit")
        data = self._arrays("fit", x, y, sample_weight)
        n = data.n
        batch_size = self._batch_size(batch_size, "fit")
        epochs = _count(epochs, "epochs", "fit", minimum=0)
        initial_epoch = _count(initial_epoch, "initial_epoch", "fit", minimum=0)
        validates = _validation_epochs(validation_freq)
        for name, value in (("steps_per_epoch", steps_per_epoch),
                            ("validation_steps", validation_steps),
                            ("validation_batch_size", validation_batch_size)):
            if value is not None:
                _count(value, name, "fit")
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"fit: `validation_split` must be in [0, 1), got "
                             f"{validation_split}")
        if validation_split and validation_data is not None:
            validation_split = 0.0  # Keras: validation_data overrides validation_split
        self._plan = None
        self._ensure_outputs(data)
        self._check_targets(data, "fit")
        if class_weight and data.model_form("y") is None:
            raise ValueError("fit: `class_weight` needs `y`")
        val = None
        if validation_split:
            split_at = int(math.floor(n * (1.0 - validation_split)))
            if split_at == 0 or split_at == n:
                raise ValueError(
                    f"fit: training data contains {n} samples, which is not sufficient to "
                    f"split it into a validation and training set as specified by "
                    f"`validation_split={validation_split}`. Either provide more data, or a "
                    "different value for the `validation_split` argument.")
            data, val = data.split(split_at)
            n = split_at
        elif validation_data is not None:
            val = self._validation_arrays(validation_data)
        if class_weight:  # the training part only: validation losses stay unweighted (Keras)
            apply_class_weight(data, self._outputs, class_weight)
        steps = steps_per_epoch or -(-n // batch_size)
        cbs = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                           verbose=verbose, epochs=epochs, steps=steps)
        self.stop_training = False
        self._prepare_step()
        custom_step = self._custom("train_step")
        progbar = cbs.progbar if verbose else None
        want_begin = cbs.wants["on_train_batch_begin"]
        want_end = cbs.wants["on_train_batch_end"]
        gen = lamina_random.generator()
        starts = list(range(0, n, batch_size))
        num_batches = len(starts)
        columns = data.columns
        form = data.user_form if custom_step else data.model_form
        x_spec, y_spec, w_spec = form("x"), form("y"), form("sample_weight")
        logs = {}
        batch_logs = None
        planned = False
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
                    cols = [a[s:s + batch_size] for a in columns]
                else:
                    idx = order[s:s + batch_size]
                    cols = [a.take(idx, axis=0) for a in columns]
                xb = x_spec.build(cols)
                yb = None if y_spec is None else y_spec.build(cols)
                wb = None if w_spec is None else w_spec.build(cols)
                if custom_step:
                    batch_logs = self.train_step((xb, yb) if wb is None else (xb, yb, wb))
                else:
                    self._fast_train_step(xb, yb, wb)
                if not planned:
                    self._make_plan()
                    planned = True
                if want_end:
                    cbs.on_train_batch_end(step, self._logs() if batch_logs is None
                                           else pythonify_logs(batch_logs))
                elif progbar is not None:
                    progbar.progress(step + 1, self._logs if batch_logs is None
                                     else (lambda bl=batch_logs: pythonify_logs(bl)))
                if self.stop_training:
                    break
            logs = self._logs() if not custom_step or batch_logs is None else \
                pythonify_logs(batch_logs)
            if val is not None and validates(epoch):
                # As Keras' fit validates through evaluate(callbacks=callbacks): the test
                # hooks run (the progress bar stays on the epoch's line).
                cbs.on_test_begin()
                val_logs = self._evaluate_arrays(val, validation_batch_size or batch_size,
                                                 validation_steps, cbs, feed_progbar=False)
                cbs.on_test_end(val_logs)
                logs.update({"val_" + k: v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        return cbs.history

    def _make_plan(self):
        """After the first checked batch: the model's unchecked forward function (each layer's
        ``call`` directly), when the model offers one."""
        make = getattr(self, "_fast_forward", None)
        self._plan = None if make is None else make()

    def _validation_arrays(self, validation_data):
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError("fit: `validation_data` must be a tuple (x_val, y_val) or "
                             f"(x_val, y_val, val_sample_weight), got "
                             f"{type(validation_data).__name__}")
        vw = validation_data[2] if len(validation_data) == 3 else None
        val = self._arrays("fit (validation_data)", validation_data[0], validation_data[1], vw)
        self._check_targets(val, "fit (validation_data)")
        return val

    @staticmethod
    def _batch_size(batch_size, where):
        return 32 if batch_size is None else _count(batch_size, "batch_size", where)

    # -- evaluate / predict ------------------------------------------------------------------
    def _evaluate_arrays(self, data, batch_size, steps=None, cbs=None, feed_progbar=True):
        self.reset_metrics()
        n = data.n
        total = -(-n // batch_size)
        if steps is not None:
            total = min(total, int(steps))
        custom = self._custom("test_step")
        progbar = cbs.progbar if cbs is not None and feed_progbar else None
        want_begin = cbs is not None and cbs.wants["on_test_batch_begin"]
        want_end = cbs is not None and cbs.wants["on_test_batch_end"]
        batch_logs = None
        for step in range(total):
            if want_begin:
                cbs.on_test_batch_begin(step)
            s = step * batch_size
            xb, yb, wb = self._batch(data, data.slice(s, s + batch_size), custom)
            if custom:
                batch_logs = self.test_step((xb, yb) if wb is None else (xb, yb, wb))
            else:
                self._fast_test_step(xb, yb, wb)
            if want_end:
                cbs.on_test_batch_end(step, pythonify_logs(batch_logs) if batch_logs
                                      else self._logs())
            elif progbar is not None:
                progbar.progress(step + 1, self._logs)
        if custom and batch_logs is not None:
            return pythonify_logs(batch_logs)
        return self._logs()

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, **kwargs):
        """Loss and metrics on (x, y): a scalar when there are no metrics, else
        [loss, metric...] in metrics_names order; a dict with return_dict=True."""
        kwargs.pop("_use_cached_eval_dataset", None)  # Keras' private argument from fit
        if kwargs:
            raise ValueError(f"evaluate: Arguments not recognized: {kwargs}")
        self._assert_compiled("evaluate")
        verbose = _verbose(verbose, "evaluate")
        data = self._arrays("evaluate", x, y, sample_weight)
        n = data.n
        batch_size = self._batch_size(batch_size, "evaluate")
        nsteps = -(-n // batch_size) if steps is None else \
            min(_count(steps, "steps", "evaluate"), -(-n // batch_size))
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                           epochs=1, steps=nsteps)
        self._plan = None
        self._ensure_outputs(data)
        self._check_targets(data, "evaluate")
        self._prepare_step()
        cbs.on_test_begin()
        logs = self._evaluate_arrays(data, batch_size, steps, cbs)
        cbs.on_test_end(logs)
        if return_dict:
            return logs
        return self._values_in_order(logs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs on x, batch by batch: one numpy array, or a list / dict of
        them in the structure the model returns."""
        verbose = _verbose(verbose, "predict")
        data = self._arrays("predict", x)
        n = data.n
        batch_size = self._batch_size(batch_size, "predict")
        total = -(-n // batch_size) if steps is None else \
            min(_count(steps, "steps", "predict"), -(-n // batch_size))
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                           epochs=1, steps=total)
        want_end = cbs.wants["on_predict_batch_end"]
        progbar = cbs.progbar
        custom = type(self).predict_step is not Trainer.predict_step
        cbs.on_predict_begin()
        outputs = []
        for step in range(total):
            if cbs.wants["on_predict_batch_begin"]:
                cbs.on_predict_batch_begin(step)
            s = step * batch_size
            xb, _, _ = self._batch(data, data.slice(s, s + batch_size), custom)
            out = map_data(self.predict_step((xb,)))
            outputs.append(out)
            if want_end:
                cbs.on_predict_batch_end(step, {"outputs": out})
            elif progbar is not None:
                progbar.progress(step + 1, dict)
        cbs.on_predict_end()
        return concatenate_batches(outputs)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        """One training step on one batch; returns this batch's loss (and metrics), in the
        order of evaluate. The metrics are reset first, in train_on_batch and test_on_batch
        alike, as Keras 3 does since keras-team/keras#22617 (they used to accumulate across
        calls, so the loss reported was a running mean over every earlier batch)."""
        self._assert_compiled("train_on_batch")
        data = self._arrays("train_on_batch", x, y, sample_weight)
        self._ensure_outputs(data)
        self._check_targets(data, "train_on_batch")
        if class_weight:
            apply_class_weight(data, self._outputs, class_weight, "train_on_batch")
        if self._train_vars is None:  # compile() resets it; as in Keras, a change of
            self._prepare_step()      # `trainable` takes effect at the next compile or fit
        self.reset_metrics()
        custom = self._custom("train_step")
        xb, yb, wb = self._batch(data, data.columns, custom)
        if custom:
            logs = pythonify_logs(self.train_step((xb, yb) if wb is None else (xb, yb, wb)))
        else:
            self._fast_train_step(xb, yb, wb)
            logs = self._logs()
        return logs if return_dict else self._values_in_order(logs)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._assert_compiled("test_on_batch")
        data = self._arrays("test_on_batch", x, y, sample_weight)
        self._ensure_outputs(data)
        self._check_targets(data, "test_on_batch")
        if self._train_vars is None:
            self._prepare_step()
        self.reset_metrics()
        custom = self._custom("test_step")
        xb, yb, wb = self._batch(data, data.columns, custom)
        if custom:
            logs = pythonify_logs(self.test_step((xb, yb) if wb is None else (xb, yb, wb)))
        else:
            self._fast_test_step(xb, yb, wb)
            logs = self._logs()
        return logs if return_dict else self._values_in_order(logs)

    def predict_on_batch(self, x):
        data = self._arrays("predict_on_batch", x)
        custom = type(self).predict_step is not Trainer.predict_step
        xb, _, _ = self._batch(data, data.columns, custom)
        return map_data(self.predict_step((xb,)))
