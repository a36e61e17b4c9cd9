"""Callbacks with Keras 3's hooks: History, the progress display, EarlyStopping, schedules.

``CallbackList`` notes once which hooks any of its callbacks overrides, so fit() skips building
per-batch logs and calling batch hooks when nobody listens: a small model's step costs ~100 us
and must not pay for hooks that do nothing.
"""
import math
import os
import sys
import warnings

import numpy as np

from .progbar import Progbar

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping",
           "ModelCheckpoint", "LambdaCallback", "TerminateOnNaN", "LearningRateScheduler",
           "ReduceLROnPlateau", "CSVLogger"]

_BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin",
                "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end")


class Callback:
    """Base class: override any of the hooks. ``self.model`` and ``self.params`` are set by fit."""

    def __init__(self):
        self.params = None
        self._model = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self._model = model

    @property
    def model(self):
        return self._model

    def on_batch_begin(self, batch, logs=None):
        """Same as on_train_batch_begin (Keras keeps it for backward compatibility)."""

    def on_batch_end(self, batch, logs=None):
        """Same as on_train_batch_end."""

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def on_predict_batch_begin(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        pass

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass


def _overrides(cb, hook):
    """Whether `cb` does something in `hook` (train batch hooks count on_batch_* too)."""
    cls = type(cb)
    if getattr(cls, hook) is not getattr(Callback, hook):
        return True
    if hook == "on_train_batch_begin":
        return cls.on_batch_begin is not Callback.on_batch_begin
    if hook == "on_train_batch_end":
        return cls.on_batch_end is not Callback.on_batch_end
    return False


class CallbackList:
    """Calls each hook on every callback in order; adds History and ProgbarLogger like Keras."""

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None,
                 **params):
        self.callbacks = list(callbacks) if callbacks else []
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks: expected lamina.callbacks.Callback instances, got "
                                f"{type(cb).__name__}")
        self.history = None
        self.progbar = None
        for cb in self.callbacks:
            if isinstance(cb, History):
                self.history = cb
            elif isinstance(cb, ProgbarLogger):
                self.progbar = cb
        if self.history is None and add_history:
            self.history = History()
            self.callbacks.append(self.history)
        if self.progbar is None and add_progbar:
            self.progbar = ProgbarLogger()
            self.callbacks.append(self.progbar)
        self.params = params
        self.model = None
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)
        self._refresh_hooks()

    def _refresh_hooks(self):
        # Batch hooks that someone other than the progress bar overrides (the progress bar is
        # fed directly, with logs computed only when it draws).
        others = [cb for cb in self.callbacks if cb is not self.progbar]
        self.wants = {hook: any(_overrides(cb, hook) for cb in others) for hook in _BATCH_HOOKS}

    def append(self, callback):
        self.callbacks.append(callback)
        self._refresh_hooks()

    def set_params(self, params):
        self.params = params
        for cb in self.callbacks:
            cb.set_params(params)

    def set_model(self, model):
        self.model = model
        for cb in self.callbacks:
            cb.set_model(model)

    def _call(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call("on_predict_batch_end", batch, logs)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._call("on_test_end", logs)

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", logs)

    def __iter__(self):
        return iter(self.callbacks)


class History(Callback):
    """Records the logs of every epoch: ``history.history["loss"]`` is a list, one per epoch."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        if self.model is not None:
            self.model.history = self


class ProgbarLogger(Callback):
    """Prints Keras' progress lines (see lamina.progbar). fit() adds one when verbose != 0.

    The trainer feeds it through ``progress(step, logs_fn)`` so that per-batch logs are computed
    only when the line is drawn; ``on_*_batch_end`` with a logs dict works as in Keras too.
    """

    def __init__(self, count_mode="steps", stream=None):
        super().__init__()
        self.verbose = 1
        self.epochs = 1
        self.stream = stream
        self._bar = None
        self._mode = "train"
        self._target = None

    def set_params(self, params):
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else int(verbose)
        self.epochs = params.get("epochs", 1)
        self._target = params.get("steps")

    def _new_bar(self, target):
        self._close()
        if self.verbose:
            self._bar = Progbar(target, verbose=self.verbose, stream=self.stream or sys.stdout)

    def _close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def progress(self, step, logs_fn):
        """Step `step` (1-based) finished; `logs_fn()` gives the running logs when drawn."""
        bar = self._bar
        if bar is not None:
            bar.logs_fn = logs_fn
            bar.update(step)

    def _finish(self, step, logs):
        if self._bar is not None:
            self._bar.finish(step, logs)
            self._bar = None

    # training
    def on_train_begin(self, logs=None):
        self._mode = "train"

    def on_epoch_begin(self, epoch, logs=None):
        if self.verbose and self.epochs > 1:
            (self.stream or sys.stdout).write(f"Epoch {epoch + 1}/{self.epochs}\n")
        self._new_bar(self._target)
        self._seen = 0

    def on_train_batch_end(self, batch, logs=None):
        self._seen = batch + 1
        self.progress(batch + 1, lambda: logs or {})

    def on_epoch_end(self, epoch, logs=None):
        bar = self._bar
        self._finish(self._bar_steps(bar), logs)

    def _bar_steps(self, bar):
        if bar is None:
            return 0
        if bar.target:
            return bar.target
        return bar._bar.n if bar._bar is not None else 0

    def on_train_end(self, logs=None):
        self._close()

    # evaluation outside fit, prediction
    def on_test_begin(self, logs=None):
        if self._mode != "train" or self._bar is None:
            self._mode = "test"
            self._new_bar(self.params.get("steps") if self.params else None)

    def on_test_batch_end(self, batch, logs=None):
        if self._mode == "test":
            self.progress(batch + 1, lambda: logs or {})

    def on_test_end(self, logs=None):
        if self._mode == "test":
            self._finish(self._bar_steps(self._bar), logs)

    def on_predict_begin(self, logs=None):
        self._mode = "predict"
        self._new_bar(self.params.get("steps") if self.params else None)

    def on_predict_batch_end(self, batch, logs=None):
        self.progress(batch + 1, dict)

    def on_predict_end(self, logs=None):
        self._finish(self._bar_steps(self._bar), {})


def _scalar(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class EarlyStopping(Callback):
    """Stops training when `monitor` has stopped improving (Keras 3 arguments and behaviour)."""

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor = monitor
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.min_delta = abs(min_delta)
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"EarlyStopping mode {mode} is unknown, fallback to auto mode.")
            mode = "auto"
        self.mode = mode
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def _set_direction(self):
        mode = self.mode
        if mode == "auto":
            name = self.monitor.removeprefix("val_")
            mode = "min" if ("loss" in name or "error" in name or name in ("mse", "mae")) \
                else "max"
            if name.endswith("accuracy") or name in ("acc", "auc"):
                mode = "max"
        self._better = np.less if mode == "min" else np.greater
        self._sign = -1 if mode == "min" else 1

    def on_train_begin(self, logs=None):
        self._set_direction()
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self._sign < 0 else -math.inf
        self.best_weights = None
        self.best_epoch = 0

    def _improved(self, value, reference):
        return bool(self._better(value - self._sign * self.min_delta, reference))

    def on_epoch_end(self, epoch, logs=None):
        current = _scalar((logs or {}).get(self.monitor))
        if current is None:
            warnings.warn(
                f"Early stopping conditioned on metric `{self.monitor}` which is not available."
                f" Available metrics are: {','.join(list((logs or {}).keys()))}", stacklevel=2)
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._improved(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improved(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            sys.stdout.write(f"Epoch {self.stopped_epoch + 1}: early stopping\n")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                sys.stdout.write("Restoring model weights from the end of the best epoch: "
                                 f"{self.best_epoch + 1}.\n")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Saves the model after each epoch, or only when `monitor` improved with
    save_best_only=True (Keras 3): the whole model (``model.save``, a ``.keras`` archive that
    ``lamina.models.load_model`` reads, optimizer state included) by default, or with
    ``save_weights_only=True`` the weights alone (``model.save_weights``, an .npz). `filepath`
    may hold ``{epoch}`` and the logs' names (``"ckpt-{epoch:02d}-{val_loss:.2f}.keras"``)."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__()
        self.filepath = str(filepath)
        if not save_weights_only:
            if self.filepath.endswith((".h5", ".hdf5")):
                from .saving.saving_lib import legacy_h5_error
                raise legacy_h5_error("ModelCheckpoint", self.filepath)
            if not self.filepath.endswith(".keras"):
                raise ValueError(f"ModelCheckpoint: The filepath provided must end in `.keras` "
                                 f"(Keras model format). Received: filepath={self.filepath}")
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self._stopper = EarlyStopping(monitor=monitor, mode=mode)
        self._stopper._set_direction()
        self.best = initial_value_threshold if initial_value_threshold is not None else (
            math.inf if self._stopper._sign < 0 else -math.inf)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            current = _scalar(logs.get(self.monitor))
            if current is None:
                warnings.warn(f"Can save best model only with {self.monitor} available.",
                              stacklevel=2)
                return
            if not self._stopper._better(current, self.best):
                return
            if self.verbose > 0:
                sys.stdout.write(f"\nEpoch {epoch + 1}: {self.monitor} improved from "
                                 f"{self.best:.5f} to {current:.5f}, saving model to {path}\n")
            self.best = current
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path, overwrite=True)


class LambdaCallback(Callback):
    """A callback from plain functions: on_epoch_end=lambda epoch, logs: ..., and so on."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        given = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end,
                     on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end, **kwargs)
        # Only the given hooks become attributes of a per-instance subclass, so CallbackList
        # still sees the others as not overridden.
        attrs = {}
        for hook, fn in given.items():
            if fn is None:
                continue
            if not hasattr(Callback, hook):
                raise TypeError(f"LambdaCallback: unknown hook {hook!r}")
            attrs[hook] = staticmethod(fn)
        self.__class__ = type("LambdaCallback", (LambdaCallback,), attrs)


class TerminateOnNaN(Callback):
    """Stops training as soon as a batch's loss is NaN or infinite."""

    def on_train_batch_end(self, batch, logs=None):
        loss = _scalar((logs or {}).get("loss"))
        if loss is not None and (math.isnan(loss) or math.isinf(loss)):
            sys.stdout.write(f"Batch {batch}: Invalid loss, terminating training\n")
            self.model.stop_training = True


def _optimizer_of(model, who):
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "learning_rate"):
        raise ValueError(f"{who}: the model's optimizer has no `learning_rate` attribute")
    return optimizer


class LearningRateScheduler(Callback):
    """Sets the learning rate at the start of each epoch to ``schedule(epoch, lr)``."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = _optimizer_of(self.model, "LearningRateScheduler")
        lr = float(optimizer.learning_rate)
        try:
            lr = self.schedule(epoch, lr)
        except TypeError:  # a schedule of the epoch alone
            lr = self.schedule(epoch)
        if not isinstance(lr, (float, int, np.floating, np.integer)):
            raise ValueError(f"The output of the `schedule` function should be a float. Got: {lr}")
        optimizer.learning_rate = float(lr)
        if self.verbose > 0:
            sys.stdout.write(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning "
                             f"rate to {float(lr)}.\n")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class ReduceLROnPlateau(Callback):
    """Multiplies the learning rate by `factor` when `monitor` has not improved for `patience`
    epochs (Keras 3 arguments)."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
        super().__init__()
        if factor >= 1.0:
            raise ValueError(
                f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}")
        self.monitor, self.factor, self.patience = monitor, factor, patience
        self.verbose, self.min_delta, self.cooldown, self.min_lr = verbose, min_delta, cooldown, \
            min_lr
        self._stopper = EarlyStopping(monitor=monitor, mode=mode, min_delta=min_delta)
        self.wait = 0
        self.cooldown_counter = 0
        self.best = None

    def on_train_begin(self, logs=None):
        self._stopper._set_direction()
        self.best = math.inf if self._stopper._sign < 0 else -math.inf
        self.wait = 0
        self.cooldown_counter = 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = _optimizer_of(self.model, "ReduceLROnPlateau")
        logs["learning_rate"] = float(optimizer.learning_rate)
        current = _scalar(logs.get(self.monitor))
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` "
                          "which is not available.", stacklevel=2)
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._stopper._improved(current, self.best):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = float(optimizer.learning_rate)
                if old > self.min_lr:
                    new = max(old * self.factor, self.min_lr)
                    optimizer.learning_rate = new
                    if self.verbose > 0:
                        sys.stdout.write(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing "
                                         f"learning rate to {new}.\n")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class CSVLogger(Callback):
    """Writes one CSV row of logs per epoch."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.sep, self.append = str(filename), separator, append
        self._file = None
        self._keys = None

    def on_train_begin(self, logs=None):
        import os
        exists = self.append and os.path.exists(self.filename)
        self._file = open(self.filename, "a" if self.append else "w")
        self._keys = None
        self._header_written = exists

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._keys is None:
            self._keys = sorted(logs)
            if not self._header_written:
                self._file.write(self.sep.join(["epoch"] + self._keys) + "\n")
        self._file.write(self.sep.join([str(epoch)] + [str(logs.get(k, "NA"))
                                                       for k in self._keys]) + "\n")
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None
