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

from . import losses as losses_module, metrics as metrics_module
from . import optimizers as optimizers_module
from . import random as lamina_random
from .autograd import Tensor, backward, no_grad, recording
from .callbacks import CallbackList

__all__ = ["Trainer"]


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
        self._outputs = None  # compiled.CompiledOutputs, once matched to the outputs
        self._loss_tracker = metrics_module.Mean(name="loss")
        self._train_vars = None
        self._plan = None
        self._has_layer_losses = False

    # -- compile -----------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Sets the optimizer, losses and metrics: each of `loss`, `loss_weights`, `metrics`
        and `weighted_metrics` one value, a list (by output position) or a dict (by output
        name). The total loss is the SUM of weight x loss over the outputs (Keras 3).
        run_eagerly, jit_compile, steps_per_execution and auto_scale_loss are accepted and
        ignored: lamina always runs eagerly on its own kernels."""
        self.optimizer = optimizers_module.get(optimizer)
        for identifier in (loss.values() if isinstance(loss, dict) else
                           loss if isinstance(loss, (list, tuple)) else [loss]):
            losses_module.get(identifier)  # an unknown name fails here, not at fit
        for name, m in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if m is not None and not _is_structure(m):
                raise ValueError(f"compile: expected `{name}` to be a list, e.g. "
                                 f"{name}=[{m!r}]; got {type(m).__name__}")
        self.loss = loss
        self._compile_args = (loss, loss_weights, metrics, weighted_metrics)
        self._outputs = None
        names = self._known_output_names()
        if names is not None:
            self._match_outputs(names)
        self._loss_tracker = metrics_module.Mean(name="loss")
        self._train_vars = None
        self.compiled = True
        self.stop_training = False

    def _known_output_names(self):
        """The output names when known before any data (functional, Sequential)."""
        names = getattr(self, "output_names", None)
        return list(names) if names else None

    def _match_outputs(self, names):
        from .compiled import CompiledOutputs
        self._outputs = CompiledOutputs(names, *self._compile_args)

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
        self._output_struct_names = names
        self._match_outputs(names)

    @property
    def _single_output(self):
        return self._outputs is None or self._outputs.single

    def _flat_outputs(self, y_pred):
        """The model's outputs as a list in output order (from a list or a dict)."""
        if isinstance(y_pred, dict):
            names = self._outputs.names
            if set(y_pred) != set(names):
                raise ValueError(f"Model '{self.name}' returned outputs {sorted(y_pred)} but "
                                 f"was compiled for outputs {names}")
            return [y_pred[k] for k in names]
        if isinstance(y_pred, (list, tuple)):
            return list(y_pred)
        return [y_pred]

    def _flat_targets(self, y, role="y"):
        """Targets (or sample weights) as a list aligned with the outputs."""
        names = self._outputs.names
        if y is None:
            return [None] * len(names)
        if isinstance(y, dict):
            unknown = [k for k in y if k not in names]
            if unknown:
                raise ValueError(f"`{role}` has key(s) {unknown} that name no model output; "
                                 f"the outputs are {names}")
            return [y.get(k) for k in names]
        if isinstance(y, (list, tuple)) and len(names) > 1:
            if len(y) != len(names):
                raise ValueError(f"`{role}` is a list of {len(y)} but the model has "
                                 f"{len(names)} outputs {names}")
            return list(y)
        if role == "sample_weight":
            return [y] * len(names)
        if len(names) > 1:
            raise ValueError(f"The model has {len(names)} outputs {names}: pass `{role}` as a "
                             f"list or a dict keyed by these names")
        return [y]

    def _assert_compiled(self, method):
        if not getattr(self, "compiled", False) or self.optimizer is None:
            raise ValueError(f"You must call `compile()` before using the model "
                             f"(model.{method} was called on '{self.name}').")

    @property
    def metrics(self):
        """The loss tracker, the per-output loss trackers and the compiled metrics (built at
        the first batch)."""
        out = [self._loss_tracker]
        if self._outputs is not None:
            out.extend(self._outputs.loss_trackers)
            out.extend(self._outputs.all_metrics())
        return out

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def _update_metrics(self, y, y_pred, sample_weight):
        """`y`, `y_pred` (arrays) and `sample_weight` in the model's form: one of each for a
        single output, lists aligned with the outputs otherwise."""
        outs = self._outputs
        if outs.single:
            if outs.metrics is None:
                outs.build_metrics([y], [y_pred])
            for _, plain, weighted in outs.metrics:
                for m in plain:
                    m.update_state(y, y_pred)
                for m in weighted:
                    m.update_state(y, y_pred, sample_weight)
            return
        if not isinstance(sample_weight, list):
            sample_weight = [sample_weight] * len(outs.names)
        if outs.metrics is None:
            outs.build_metrics(y, y_pred)
        for i, plain, weighted in outs.metrics:
            yt, yp = y[i], y_pred[i]
            for m in plain:
                m.update_state(yt, yp)
            for m in weighted:
                m.update_state(yt, yp, sample_weight[i])

    def _logs(self):
        logs = {m.name: float(m.result()) for m in self.metrics}
        return dict(sorted(logs.items()))

    # -- one step ----------------------------------------------------------------------------
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss: the SUM over outputs of weight x loss(y, y_pred), plus the
        layers' losses (regularization). `y`, `y_pred` and `sample_weight` as the model
        returns and fit receives them (one array, a list or a dict). Differentiable: call it
        under a GradientTape in a train_step."""
        if self._outputs is None:
            self._resolve_outputs(y_pred)
        if self._outputs.single:
            if isinstance(y_pred, (list, tuple)) and len(y_pred) == 1:
                y_pred = y_pred[0]
            elif isinstance(y_pred, dict) and len(y_pred) == 1:
                y_pred = next(iter(y_pred.values()))
            if isinstance(y, (list, tuple)) and len(y) == 1 and _is_structure(y) and \
                    not np.isscalar(y[0]):
                y = y[0]
            elif isinstance(y, dict) and len(y) == 1:
                y = next(iter(y.values()))
            return self._total_loss(y, y_pred, sample_weight)
        preds = self._flat_outputs(y_pred)
        return self._total_loss(self._flat_targets(y), preds,
                                self._flat_targets(sample_weight, "sample_weight"))

    def _total_loss(self, y, y_pred, sample_weight):
        """compute_loss on the model's form (lists aligned with the outputs when there are
        several)."""
        total = None
        outs = self._outputs
        if outs.single:
            if outs.terms:
                _, fn, weight, _ = outs.terms[0]
                if y is None:
                    raise ValueError("compute_loss: the model was compiled with a loss but `y` "
                                     "is None")
                total = fn(y, y_pred, sample_weight)
                if weight is not None:
                    total = total * weight
        else:
            several = not isinstance(sample_weight, list)
            for i, fn, weight, tracker in outs.terms:
                yt = y[i]
                if yt is None:
                    raise ValueError(f"compute_loss: output '{outs.names[i]}' has a loss but no "
                                     f"target in `y`")
                value = fn(yt, y_pred[i], sample_weight if several else sample_weight[i])
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
        """The model's outputs: one Tensor, or a list in output order when there are
        several."""
        plan = self._plan
        if plan is not None:
            return plan(x, training)
        out = self(x, training=training)
        if self._outputs is None:
            self._resolve_outputs(out)
        return out if self._outputs.single else self._flat_outputs(out)

    def train_step(self, data):
        """One optimisation step on a batch ``(x, y[, sample_weight])``; returns the logs.
        Override it for a custom step (use ``self.compute_loss``, ``self.optimizer.apply`` and
        ``self.compute_metrics``)."""
        x, y, sample_weight = _unpack(data)
        if self._outputs is not None and not self._outputs.single:
            y = self._flat_targets(y)
            if sample_weight is not None:
                sample_weight = self._flat_targets(sample_weight, "sample_weight")
        self._fast_train_step(x, y, sample_weight)
        return self._logs()

    def _fast_train_step(self, x, y, sample_weight):
        tv = self._train_vars
        with recording():
            y_pred = self._forward(x, True)
            loss = self._total_loss(y, y_pred, sample_weight)
        grads = backward(loss, tv)
        self.optimizer.apply(grads, tv)
        tracker = self._loss_tracker
        n = _batch_len(y_pred)
        tracker.total += float(loss.data) * n
        tracker.count += n
        if self._outputs.single:
            self._update_metrics(y, y_pred.data, sample_weight)
        else:
            self._update_metrics(y, [p.data for p in y_pred], sample_weight)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Updates the compiled metrics and returns the logs (Keras' compute_metrics)."""
        if self._outputs is None:
            self._resolve_outputs(y_pred)
        if self._outputs.single:
            if _is_structure(y_pred):
                y_pred = self._flat_outputs(y_pred)[0]
            self._update_metrics(y, _data(y_pred), sample_weight)
        else:
            preds = [_data(p) for p in self._flat_outputs(y_pred)]
            sw = None if sample_weight is None else \
                self._flat_targets(sample_weight, "sample_weight")
            self._update_metrics(self._flat_targets(y), preds, sw)
        return self._logs()

    def test_step(self, data):
        x, y, sample_weight = _unpack(data)
        if self._outputs is not None and not self._outputs.single:
            y = self._flat_targets(y)
            if sample_weight is not None:
                sample_weight = self._flat_targets(sample_weight, "sample_weight")
        self._fast_test_step(x, y, sample_weight)
        return self._logs()

    def _fast_test_step(self, x, y, sample_weight):
        with no_grad():
            y_pred = self._forward(x, False)
            loss = self._total_loss(y, y_pred, sample_weight)
        tracker = self._loss_tracker
        n = _batch_len(y_pred)
        tracker.total += float(loss.data) * n
        tracker.count += n
        if self._outputs.single:
            self._update_metrics(y, y_pred.data, sample_weight)
        else:
            self._update_metrics(y, [p.data for p in y_pred], sample_weight)

    def predict_step(self, data):
        x, _, _ = _unpack(data)
        with no_grad():
            out = self(x, training=False)
        return _map_data(out)

    # -- data --------------------------------------------------------------------------------
    def _arrays(self, where, x, y=None, sample_weight=None):
        """x, y, sample_weight matched to the model's inputs and outputs (batching.Arrays)."""
        from .batching import Arrays
        arrays = Arrays(where)
        inputs = getattr(self, "inputs", None) if hasattr(self, "input_names") else None
        in_names = list(self.input_names) if inputs is not None else None
        dtypes = [t.dtype for t in inputs] if inputs is not None else None
        arrays.add("x", x, in_names, dtypes)
        if y is not None and (self._outputs is None or not self.built):
            arrays.check("train on" if where == "fit" else "run")
            self._ensure_outputs(arrays)
        out_names = self._outputs.names if self._outputs is not None else \
            self._known_output_names()
        if out_names is not None and len(out_names) == 1 and not _is_structure(y):
            out_names = None
        arrays.add("y", y, out_names, allow_missing=True)
        sw_names = out_names if _is_structure(sample_weight) else None
        arrays.add("sample_weight", sample_weight, sw_names, allow_missing=True)
        arrays.check("train on" if where == "fit" else "run")
        return arrays

    def _batch(self, arrays, cols, custom):
        """(x, y, sample_weight) of a batch: the user's structure for a custom step, the
        model's form otherwise."""
        from .batching import build
        form = arrays.user_form if custom else arrays.model_form
        return build(form("x"), cols), build(form("y"), cols), \
            build(form("sample_weight"), cols)

    def _ensure_outputs(self, arrays):
        """Builds a model that is not built yet and learns its outputs from one sample."""
        if self._outputs is not None and self.built:
            return
        from .batching import build
        x = build(arrays.model_form("x"), arrays.slice(0, 1))
        with no_grad():
            out = self(x, training=False)
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

    def _apply_class_weight(self, arrays, class_weight):
        from .batching import build
        cols = arrays.columns
        outs = self._outputs
        if outs.single:
            y = build(arrays.model_form("y"), cols)
            if isinstance(y, list):
                y = y[0]
            cw = _class_weights(y, class_weight)
            sw = build(arrays.model_form("sample_weight"), cols)
            arrays.replace("sample_weight", cw if sw is None else sw * cw, "class_weight")
            return
        if not all(isinstance(v, dict) for v in class_weight.values()):
            raise ValueError(f"fit: the model has {len(outs.names)} outputs {outs.names}: pass "
                             "`class_weight` as a dict keyed by output name, each a dict "
                             "{class: weight}")
        unknown = [k for k in class_weight if k not in outs.names]
        if unknown:
            raise ValueError(f"fit: `class_weight` has key(s) {unknown} that name no model "
                             f"output; the outputs are {outs.names}")
        ys = build(arrays.model_form("y"), cols)
        sw = build(arrays.model_form("sample_weight"), cols)
        per_output = sw if isinstance(sw, list) else [sw] * len(outs.names)
        new = []
        for i, name in enumerate(outs.names):
            w = per_output[i]
            if name in class_weight:
                cw = _class_weights(ys[i], class_weight[name])
                w = cw if w is None else w * cw
            new.append(w)
        from .batching import _Spec
        idx = [None if w is None else arrays._add(w, f"class_weight['{n}']")
               for w, n in zip(new, outs.names)]
        spec = _Spec("list", None, idx)
        arrays.specs["sample_weight"] = (spec, spec)

    # -- fit ---------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Trains for `epochs` epochs; returns the History (Keras 3 arguments). x, y and
        sample_weight may be lists or dicts (by input / output name) of arrays."""
        self._assert_compiled("fit")
        data = self._arrays("fit", x, y, sample_weight)
        n = data.n
        batch_size = self._batch_size(batch_size, "fit")
        if not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"fit: `epochs` must be a non-negative integer, got {epochs!r}")
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"fit: `validation_split` must be in [0, 1), got "
                             f"{validation_split}")
        if validation_split and validation_data is not None:
            validation_split = 0.0  # Keras: validation_data overrides validation_split
        self._plan = None
        self._ensure_outputs(data)
        self._check_targets(data, "fit")
        if class_weight:
            if data.model_form("y") is None:
                raise ValueError("fit: `class_weight` needs `y`")
            self._apply_class_weight(data, class_weight)
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
        steps = steps_per_epoch or -(-n // batch_size)
        verbose = _verbose(verbose)
        cbs = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                           verbose=verbose, epochs=epochs, steps=steps)
        self.stop_training = False
        self._prepare_step()
        custom_step = type(self).train_step is not Trainer.train_step
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
                val_logs = self._evaluate_arrays(val, validation_batch_size or batch_size,
                                                 validation_steps)
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
        if batch_size is None:
            return 32
        if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"{where}: `batch_size` must be a positive integer, got "
                             f"{batch_size!r}")
        return int(batch_size)

    # -- evaluate / predict ------------------------------------------------------------------
    def _evaluate_arrays(self, data, batch_size, steps=None, cbs=None):
        self.reset_metrics()
        n = data.n
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
            xb, yb, wb = self._batch(data, data.slice(s, s + batch_size), custom)
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
        data = self._arrays("evaluate", x, y, sample_weight)
        n = data.n
        batch_size = self._batch_size(batch_size, "evaluate")
        verbose = _verbose(verbose)
        nsteps = -(-n // batch_size) if steps is None else min(int(steps), -(-n // batch_size))
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
        values = [logs["loss"]] + [logs[m.name] for m in self.metrics[1:] if m.name in logs]
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs on x, batch by batch: one numpy array, or a list / dict of
        them for a model with several outputs."""
        data = self._arrays("predict", x)
        n = data.n
        batch_size = self._batch_size(batch_size, "predict")
        verbose = _verbose(verbose)
        total = -(-n // batch_size) if steps is None else min(int(steps), -(-n // batch_size))
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
            out = _map_data(self.predict_step((xb,)))
            outputs.append(out)
            if want_end:
                cbs.on_predict_batch_end(step, {"outputs": out})
            elif progbar is not None:
                progbar.progress(step + 1, dict)
        cbs.on_predict_end()
        return _concatenate(outputs)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        """One training step on one batch; returns the loss (and metrics) so far."""
        self._assert_compiled("train_on_batch")
        data = self._arrays("train_on_batch", x, y, sample_weight)
        self._ensure_outputs(data)
        self._check_targets(data, "train_on_batch")
        if class_weight:
            self._apply_class_weight(data, class_weight)
        if self._train_vars is None:  # compile() resets it; as in Keras, a change of
            self._prepare_step()      # `trainable` takes effect at the next compile or fit
        custom = type(self).train_step is not Trainer.train_step
        xb, yb, wb = self._batch(data, data.columns, custom)
        if custom:
            logs = self.train_step((xb, yb) if wb is None else (xb, yb, wb))
        else:
            self._fast_train_step(xb, yb, wb)
            logs = self._logs()
        return self._return_logs(_pythonify(logs), return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._assert_compiled("test_on_batch")
        data = self._arrays("test_on_batch", x, y, sample_weight)
        self._ensure_outputs(data)
        self._check_targets(data, "test_on_batch")
        if self._train_vars is None:
            self._prepare_step()
        self.reset_metrics()
        custom = type(self).test_step is not Trainer.test_step
        xb, yb, wb = self._batch(data, data.columns, custom)
        if custom:
            logs = self.test_step((xb, yb) if wb is None else (xb, yb, wb))
        else:
            self._fast_test_step(xb, yb, wb)
            logs = self._logs()
        return self._return_logs(_pythonify(logs), return_dict)

    def predict_on_batch(self, x):
        data = self._arrays("predict_on_batch", x)
        custom = type(self).predict_step is not Trainer.predict_step
        xb, _, _ = self._batch(data, data.columns, custom)
        return _map_data(self.predict_step((xb,)))

    def _return_logs(self, logs, return_dict):
        if return_dict:
            return logs
        values = [logs["loss"]] + [v for k, v in logs.items() if k != "loss"]
        return values[0] if len(values) == 1 else values


def _data(x):
    return x.data if isinstance(x, Tensor) else x


def _batch_len(y_pred):
    return (y_pred[0] if isinstance(y_pred, list) else y_pred).shape[0]


def _map_data(out):
    """Tensors -> arrays inside one output, a list or a dict of outputs."""
    if isinstance(out, Tensor):
        return out.data
    if isinstance(out, (list, tuple)):
        return [_map_data(o) for o in out]
    if isinstance(out, dict):
        return {k: _map_data(v) for k, v in out.items()}
    return out


def _concatenate(batches):
    first = batches[0]
    if isinstance(first, list):
        return [np.concatenate([b[i] for b in batches], axis=0) for i in range(len(first))]
    if isinstance(first, dict):
        return {k: np.concatenate([b[k] for b in batches], axis=0) for k in first}
    return np.concatenate(batches, axis=0)


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
