"""Keras loss classes: reductions, sample weights, names."""
import numpy as np
import pytest

import lamina as L
from lamina import losses


def test_reductions_and_sample_weight():
    y_true = np.array([[0.0, 1.0], [1.0, 1.0]], "float32")
    y_pred = np.array([[1.0, 1.0], [1.0, 3.0]], "float32")
    per_sample = np.array([0.5, 2.0])
    mse = losses.MeanSquaredError()
    assert float(mse(y_true, y_pred).data) == pytest.approx(per_sample.mean())
    assert float(losses.MeanSquaredError(reduction="sum")(y_true, y_pred).data) == 2.5
    none = losses.MeanSquaredError(reduction="none")(y_true, y_pred)
    np.testing.assert_allclose(none.data, per_sample)
    weighted = mse(y_true, y_pred, sample_weight=np.array([2.0, 0.0]))
    assert float(weighted.data) == pytest.approx(0.5 * 2 / 2)  # divided by the batch size


def test_crossentropies_match_numpy():
    p = np.array([[0.2, 0.3, 0.5], [0.7, 0.2, 0.1]], "float32")
    labels = np.array([2, 0])
    expected = -np.log(p[[0, 1], labels]).mean()
    assert float(losses.SparseCategoricalCrossentropy()(labels, p).data) == \
        pytest.approx(expected, rel=1e-5)
    assert float(losses.CategoricalCrossentropy()(np.eye(3)[labels], p).data) == \
        pytest.approx(expected, rel=1e-5)
    logits = np.log(p)
    assert float(losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits).data) \
        == pytest.approx(expected, rel=1e-5)


def test_get_names_and_errors():
    assert isinstance(losses.get("mse"), losses.MeanSquaredError)
    assert isinstance(losses.get("sparse_categorical_crossentropy"),
                      losses.SparseCategoricalCrossentropy)
    assert isinstance(losses.get("BinaryCrossentropy"), losses.BinaryCrossentropy)
    with pytest.raises(ValueError, match="Could not interpret loss identifier: 'nope'"):
        losses.get("nope")
    with pytest.raises(ValueError, match="Invalid value for argument `reduction`"):
        losses.MeanSquaredError(reduction="avg")


# --- reductions as Keras 3's Loss (keras/src/losses/loss.py) ---------------------------------
LOG3 = float(np.log(3.0))
UNIFORM = np.full((2, 3), 1 / 3, "float32")


@pytest.mark.parametrize("reduction, expected", [
    ("sum_over_batch_size", 0.5), ("mean", 0.5), ("mean_with_sample_weight", 1.0),
    ("sum", 1.0), ("none", [1.0, 0.0]), (None, [1.0, 0.0])])
def test_reductions_with_sample_weight_follow_keras(reduction, expected):
    # "mean" divides by the number of losses like "sum_over_batch_size"; only
    # "mean_with_sample_weight" divides by the sum of the weights.
    loss = losses.MeanSquaredError(reduction=reduction)
    value = loss(np.zeros((2, 1)), np.ones((2, 1), "float32"), sample_weight=[1.0, 0.0])
    np.testing.assert_allclose(value.data, expected, rtol=1e-6)


def test_mean_with_sample_weight_of_zero_weights_is_zero():
    loss = losses.MeanSquaredError(reduction="mean_with_sample_weight")
    assert float(loss(np.zeros((2, 1)), np.ones((2, 1), "float32"), sample_weight=[0, 0]).data) \
        == 0.0
    # Without weights it is the mean.
    assert float(loss(np.zeros((2, 1)), np.full((2, 1), 2.0, "float32")).data) == 4.0


@pytest.mark.parametrize("ignore_class", [-1, 255])
@pytest.mark.parametrize("reduction, expected, weighted", [
    ("sum_over_batch_size", LOG3, 2 * LOG3), ("mean", LOG3, 2 * LOG3),
    ("mean_with_sample_weight", LOG3, LOG3), ("sum", LOG3, 2 * LOG3),
    ("none", [LOG3, 0.0], [2 * LOG3, 0.0])])
def test_ignore_class_rows_leave_the_reduction_like_keras(ignore_class, reduction, expected,
                                                          weighted):
    # Keras masks ignored rows out: the mean is over the valid rows only (0.549 before).
    loss = losses.SparseCategoricalCrossentropy(ignore_class=ignore_class, reduction=reduction)
    labels = np.array([0, ignore_class])
    np.testing.assert_allclose(loss(labels, UNIFORM).data, expected, rtol=1e-6)
    np.testing.assert_allclose(loss(labels, UNIFORM, sample_weight=[2.0, 3.0]).data, weighted,
                               rtol=1e-6)


def test_ignore_class_with_every_row_ignored_gives_zero():
    loss = losses.SparseCategoricalCrossentropy(ignore_class=-1)
    assert float(loss(np.array([-1, -1]), UNIFORM).data) == 0.0


def test_ignore_class_gradient_reaches_only_the_valid_rows():
    pred = L.Variable(np.log(UNIFORM), name="logits")
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    with L.GradientTape() as tape:
        value = loss(np.array([1, -1]), pred)
    grad = tape.gradient(value, [pred])[0]
    grad = grad.data if hasattr(grad, "data") else grad
    np.testing.assert_allclose(grad[0], np.array([1 / 3, -2 / 3, 1 / 3]), rtol=1e-5)
    np.testing.assert_array_equal(grad[1], 0.0)


def test_keras_ignore_class_trains_through_fit():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = rng.integers(0, 3, 32)
    y[::4] = -1
    model = L.Sequential([L.Input((4,)), L.layers.Dense(3)])
    model.compile(optimizer="sgd",
                  loss=losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1))
    history = model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    logits = model.predict(x, verbose=0)
    valid = y != -1
    z = logits[valid] - logits[valid].max(-1, keepdims=True)
    # fit's logged loss is the one before the update; recompute after it with the same rule
    after = float(losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)(
        y, logits).data)
    expected = float(np.mean(np.log(np.exp(z).sum(-1)) - z[np.arange(valid.sum()), y[valid]]))
    assert after == pytest.approx(expected, rel=1e-5)
    assert np.isfinite(history.history["loss"][0])


def test_sample_weight_that_does_not_match_names_the_loss():
    with pytest.raises(ValueError, match=r"\[mean_squared_error\] sample_weight of shape \(3,\) "
                                         r"does not match losses of shape \(2,\)"):
        losses.MeanSquaredError()(np.zeros((2, 1)), np.ones((2, 1), "float32"),
                                  sample_weight=[1.0, 2.0, 3.0])


def test_unknown_reduction_is_refused_with_keras_message():
    with pytest.raises(ValueError, match=r"Invalid value for argument `reduction`. Expected one "
                                         r"of .*'mean_with_sample_weight'.*Received: "
                                         r"reduction=auto"):
        losses.SparseCategoricalCrossentropy(reduction="auto")
    with pytest.raises(ValueError, match="Invalid value for argument `reduction`"):
        losses.reduce_weighted_values(L.Tensor(np.ones(2)), None, None, "avg")
