"""What compile configured, per output: the CompileMetrics container (Keras 3's names and
results) and the masks of outputs weighing the losses and metrics."""
import numpy as np
import pytest

import lamina as L
from lamina import layers

T, VOCAB = 5, 7


def _masked_model(seed=0, sequential=True):
    """Embedding(mask_zero=True) -> LSTM(return_sequences=True): outputs (N, T, 2) whose mask
    (N, T) marks the padding."""
    L.utils.set_random_seed(seed)
    stack = [layers.Embedding(VOCAB, 3, mask_zero=True), layers.LSTM(2, return_sequences=True)]
    if sequential:
        model = L.Sequential([L.Input((T,), dtype="int32")] + stack)
    else:
        inp = L.Input((T,), dtype="int32")
        model = L.Model(inp, stack[1](stack[0](inp)))
    model.compile(optimizer=L.optimizers.SGD(0.0), loss="mse", metrics=["mae"],
                  weighted_metrics=["mae"])
    return model


def _masked_data():
    rng = np.random.default_rng(3)
    x = rng.integers(1, VOCAB, (6, T)).astype("int32")
    for i, n in enumerate([5, 3, 1, 4, 2, 5]):
        x[i, n:] = 0  # padding
    y = rng.standard_normal((6, T, 2)).astype("float32")
    return x, y


def _expected(model, x, y, w=None):
    """Keras 3's numbers: per-timestep losses weighted by mask (and w), a mean over the valid
    timesteps for the loss; weighted metrics divide by the total weight."""
    pred = model.predict(x, verbose=0)
    mask = (x != 0).astype("float64")
    w = np.ones(len(x)) if w is None else w
    se = ((pred - y) ** 2).mean(axis=-1)
    ae = np.abs(pred - y).mean(axis=-1)
    wm = mask * w[:, None]
    loss = (se * wm).sum() / mask.sum()
    mae = (ae * mask).sum() / mask.sum()
    weighted_mae = (ae * wm).sum() / wm.sum()
    return loss, mae, weighted_mae


@pytest.mark.parametrize("sequential", [True, False], ids=["sequential", "functional"])
def test_the_mask_of_the_output_weighs_loss_and_metrics(sequential):
    model = _masked_model(sequential=sequential)
    x, y = _masked_data()
    loss, mae, _ = _expected(model, x, y)
    logs = model.evaluate(x, y, batch_size=6, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(loss, rel=1e-5)
    assert logs["mae"] == pytest.approx(mae, rel=1e-5)
    # fit: the first step goes through the checked path, the next ones the fast path
    hist = model.fit(np.concatenate([x, x]), np.concatenate([y, y]), batch_size=6,
                     shuffle=False, epochs=1, verbose=0)
    assert hist.history["loss"][0] == pytest.approx(loss, rel=1e-5)
    assert hist.history["mae"][0] == pytest.approx(mae, rel=1e-5)
    # compute_loss reads the mask of the Tensor the model returned
    assert float(model.compute_loss(y=y, y_pred=model(x)).data) == pytest.approx(loss,
                                                                                 rel=1e-5)


def test_the_mask_combines_with_sample_weights():
    model = _masked_model()
    x, y = _masked_data()
    w = np.array([1.0, 2.0, 0.5, 0.0, 3.0, 1.0])
    loss, mae, weighted_mae = _expected(model, x, y, w)
    logs = model.evaluate(x, y, sample_weight=w, batch_size=6, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(loss, rel=1e-5)
    assert logs["mae"] == pytest.approx(mae, rel=1e-5)  # `metrics` ignore sample weights
    assert logs["weighted_mae"] == pytest.approx(weighted_mae, rel=1e-5)


def test_an_unmasked_output_keeps_the_plain_mean():
    L.utils.set_random_seed(0)
    model = L.Sequential([L.Input((T,), dtype="int32"), layers.Embedding(VOCAB, 3),
                          layers.LSTM(2, return_sequences=True)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = _masked_data()
    pred = model.predict(x, verbose=0)
    assert model.evaluate(x, y, batch_size=6, verbose=0) == pytest.approx(
        float(((pred - y) ** 2).mean()), rel=1e-5)


def test_compile_metrics_container_names_results_as_keras():
    inp = L.Input((3,))
    model = L.Model(inp, [layers.Dense(1, name="a")(inp), layers.Dense(1, name="b")(inp)])
    model.compile(optimizer="sgd", loss="mse", metrics=[["mae", "mae"], "mse"],
                  weighted_metrics=[["mae"], None])
    x, y = np.ones((4, 3), "float32"), np.ones((4, 1), "float32")
    assert model.metrics_names == ["loss", "compile_metrics", "a_loss", "b_loss"]
    cm = model.metrics[1]
    cm.update_state([y, y], model(x), sample_weight=np.ones(4))
    assert list(cm.result()) == ["a_mae", "a_mae_1", "b_mse", "a_weighted_mae"]
    assert [m.name for m in cm.metrics] == ["mae", "mae", "mse", "mae"]  # not renamed
    logs = model.evaluate(x, [y, y], verbose=0, return_dict=True)
    assert sorted(logs) == ["a_loss", "a_mae", "a_mae_1", "a_weighted_mae", "b_loss", "b_mse",
                            "loss"]
    cm.reset_state()
    assert all(float(m.result()) == 0.0 for m in cm.metrics)
