"""Callbacks: hooks, History, EarlyStopping, schedules, NaN termination, ModelCheckpoint."""
import numpy as np
import pytest

import lamina as L
from lamina import callbacks as C
from lamina import layers
from lamina.models import load_model
from example_models import X, Y, assert_same_outputs, sequential


def _regression(optimizer="sgd"):
    L.utils.set_random_seed(0)
    model = L.Sequential([L.Input((2,)), layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    x = np.random.default_rng(0).standard_normal((64, 2)).astype("float32")
    return model, x, x.sum(axis=1, keepdims=True)


def test_hooks_order_and_batch_hooks_detection():
    events = []

    class Log(C.Callback):
        def on_train_begin(self, logs=None):
            events.append("train_begin")

        def on_epoch_end(self, epoch, logs=None):
            events.append(("epoch_end", epoch, sorted(logs)))

        def on_train_batch_end(self, batch, logs=None):
            events.append(("batch", batch))

    model, x, y = _regression()
    model.fit(x, y, batch_size=32, epochs=2, verbose=0, callbacks=[Log()])
    assert events == ["train_begin", ("batch", 0), ("batch", 1), ("epoch_end", 0, ["loss"]),
                      ("batch", 0), ("batch", 1), ("epoch_end", 1, ["loss"])]
    cbs = C.CallbackList([C.EarlyStopping()], add_history=True, add_progbar=True)
    assert not cbs.wants["on_train_batch_end"]
    assert C.CallbackList([Log()]).wants["on_train_batch_end"]


def test_early_stopping_stops_and_restores_best():
    model, x, y = _regression()
    stopper = C.EarlyStopping(monitor="loss", patience=1, min_delta=1e9,
                              restore_best_weights=True)
    history = model.fit(x, y, epochs=20, verbose=0, callbacks=[stopper])
    # Nothing ever improves by 1e9: training stops after patience epochs past the first.
    assert len(history.epoch) == 2 and stopper.stopped_epoch == 1
    assert stopper.best == history.history["loss"][0]


def test_early_stopping_baseline_and_mode_auto():
    stopper = C.EarlyStopping(monitor="val_accuracy")
    stopper.on_train_begin()
    assert stopper._sign == 1
    # A constant loss (learning rate 0): without a baseline the first epoch counts as an
    # improvement and resets the wait; an unreachable baseline does not reset it.
    model, x, y = _regression(optimizer=L.optimizers.SGD(learning_rate=0.0))
    stopper = C.EarlyStopping(monitor="loss", patience=2)
    assert len(model.fit(x, y, epochs=10, verbose=0, callbacks=[stopper]).epoch) == 3
    stopper = C.EarlyStopping(monitor="loss", baseline=-1.0, patience=2)
    assert len(model.fit(x, y, epochs=10, verbose=0, callbacks=[stopper]).epoch) == 2


def test_learning_rate_scheduler_and_reduce_on_plateau():
    model, x, y = _regression()
    sched = C.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[sched])
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.1 / 3])
    model, x, y = _regression()
    model.optimizer.learning_rate = 0.5
    plateau = C.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=1e9)
    model.fit(x, y, epochs=3, verbose=0, callbacks=[plateau])
    assert model.optimizer.learning_rate == pytest.approx(0.125)


def test_terminate_on_nan_and_lambda_callback():
    model, x, y = _regression(optimizer=L.optimizers.SGD(learning_rate=1e30))
    ends = []
    history = model.fit(x, y * 1e20, epochs=5, batch_size=8, verbose=0,
                        callbacks=[C.TerminateOnNaN(),
                                   C.LambdaCallback(on_epoch_end=lambda e, l: ends.append(e))])
    assert len(history.epoch) == 1 and ends == [0]


def test_history_params_and_model():
    model, x, y = _regression()
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert history.params == {"verbose": 0, "epochs": 2, "steps": 4}
    assert history.model is model and model.history is history


def test_model_checkpoint_saves_the_whole_model_by_default(tmp_path):
    model = sequential()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    checkpoint = L.callbacks.ModelCheckpoint(str(tmp_path / "ckpt" / "e{epoch}.keras"),
                                             monitor="loss")
    assert checkpoint.save_weights_only is False
    model.fit(X, Y, epochs=2, verbose=0, callbacks=[checkpoint])
    loaded = load_model(tmp_path / "ckpt" / "e2.keras")
    assert loaded.optimizer.iterations == model.optimizer.iterations
    assert_same_outputs(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    with pytest.raises(ValueError, match=r"The filepath provided must end in `\.keras` \(Keras "
                                         r"model format\)\. Received: filepath=w\.npz"):
        L.callbacks.ModelCheckpoint("w.npz")
    with pytest.raises(ValueError, match=r"ModelCheckpoint: .*`\.h5` / `\.hdf5` is Keras' "
                                         r"legacy HDF5 format"):
        L.callbacks.ModelCheckpoint("m.h5")
    weights_only = L.callbacks.ModelCheckpoint(str(tmp_path / "w.npz"), save_weights_only=True,
                                               monitor="loss")
    model.fit(X, Y, epochs=1, verbose=0, callbacks=[weights_only])
    other = sequential()
    other.load_weights(tmp_path / "w.npz")
    assert_same_outputs(other.predict(X, verbose=0), model.predict(X, verbose=0))


def test_validation_in_fit_calls_the_test_hooks_like_keras():
    """Keras 3's fit validates through evaluate(callbacks=...): on_test_begin, the test batch
    hooks and on_test_end(val logs without the val_ prefix) run before on_epoch_end."""
    events = []

    class Log(C.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            events.append("epoch_begin")

        def on_train_batch_end(self, batch, logs=None):
            events.append("train_batch")

        def on_test_begin(self, logs=None):
            events.append("test_begin")

        def on_test_batch_begin(self, batch, logs=None):
            events.append(("test_batch_begin", batch))

        def on_test_batch_end(self, batch, logs=None):
            events.append(("test_batch_end", batch, sorted(logs)))

        def on_test_end(self, logs=None):
            events.append(("test_end", sorted(logs)))

        def on_epoch_end(self, epoch, logs=None):
            events.append(("epoch_end", sorted(logs)))

    model, x, y = _regression()
    model.fit(x, y, batch_size=32, epochs=2, verbose=0, validation_split=0.5,
              validation_batch_size=16, validation_freq=2, callbacks=[Log()])
    epoch = ["epoch_begin", "train_batch"]
    assert events == epoch + [("epoch_end", ["loss"])] + epoch + [
        "test_begin", ("test_batch_begin", 0), ("test_batch_end", 0, ["loss"]),
        ("test_batch_begin", 1), ("test_batch_end", 1, ["loss"]), ("test_end", ["loss"]),
        ("epoch_end", ["loss", "val_loss"])]


def test_progress_of_validation_in_fit_stays_on_the_epoch_line(capsys):
    model, x, y = _regression()
    model.fit(x, y, batch_size=32, epochs=1, verbose=1, validation_split=0.5,
              validation_batch_size=8)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "val_loss" in out and "1/1" in out
