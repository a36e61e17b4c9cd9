"""Metrics: Keras 3 arithmetic, weighting, and compile's resolution of "accuracy"."""
import numpy as np
import pytest

import lamina as L
from lamina import metrics as M


def test_mean_weighted_and_reset():
    m = M.Mean()
    m.update_state([1.0, 2.0, 3.0])
    m.update_state([10.0], sample_weight=[2.0])
    assert float(m.result()) == pytest.approx((1 + 2 + 3 + 20) / 5)
    m.reset_state()
    assert float(m.result()) == 0.0


def test_accuracies():
    y_pred = np.array([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5], [0.4, 0.5, 0.1]])
    labels = np.array([1, 0, 0, 0])
    onehot = np.eye(3)[labels]
    s = M.SparseCategoricalAccuracy()
    s.update_state(labels, y_pred)
    assert float(s.result()) == 0.5
    s.update_state(labels[:2, None], y_pred[:2])  # (n, 1) labels accepted
    assert float(s.result()) == pytest.approx(4 / 6)
    c = M.CategoricalAccuracy()
    c.update_state(onehot, y_pred, sample_weight=[1, 1, 0, 0])
    assert float(c.result()) == 1.0
    b = M.BinaryAccuracy(threshold=0.5)
    b.update_state([[1], [0], [1], [0]], [[0.7], [0.6], [0.4], [0.1]])
    assert float(b.result()) == 0.5
    a = M.Accuracy()
    a.update_state([1, 2, 3, 4], [1, 2, 0, 4])
    assert float(a.result()) == 0.75


def test_top_k():
    y_pred = np.array([[0.1, 0.5, 0.4], [0.6, 0.3, 0.1]])
    m = M.SparseTopKCategoricalAccuracy(k=2)
    m.update_state([2, 2], y_pred)
    assert float(m.result()) == 0.5
    t = M.TopKCategoricalAccuracy(k=1)
    t.update_state(np.eye(3)[[1, 0]], y_pred)
    assert float(t.result()) == 1.0


def test_regression_metrics():
    y_true = np.array([[0.0, 1.0], [2.0, 2.0]])
    y_pred = np.array([[1.0, 1.0], [2.0, 4.0]])
    mse, mae, rmse = M.MeanSquaredError(), M.MeanAbsoluteError(), M.RootMeanSquaredError()
    for m in (mse, mae, rmse):
        m.update_state(y_true, y_pred)
    assert float(mse.result()) == pytest.approx(5 / 4)
    assert float(mae.result()) == pytest.approx(3 / 4)
    assert float(rmse.result()) == pytest.approx(np.sqrt(5 / 4))


@pytest.mark.parametrize("y_true_shape,y_pred_shape,loss,expected", [
    ((8,), (8, 10), None, M.SparseCategoricalAccuracy),
    ((8, 1), (8, 10), None, M.SparseCategoricalAccuracy),
    ((8, 10), (8, 10), None, M.CategoricalAccuracy),
    ((8, 1), (8, 1), None, M.BinaryAccuracy),
    ((8, 3), (8, 3), "binary_crossentropy", M.BinaryAccuracy),
    ((8,), (8, 10), "sparse_categorical_crossentropy", M.SparseCategoricalAccuracy),
])
def test_compile_accuracy_resolution(y_true_shape, y_pred_shape, loss, expected):
    m = M.get_compile_metric("accuracy", np.zeros(y_true_shape), np.zeros(y_pred_shape), loss)
    assert type(m) is expected and m.name == "accuracy"
    assert M.get_compile_metric("acc", np.zeros(y_true_shape), np.zeros(y_pred_shape),
                                loss).name == "acc"


def test_get_names():
    m = M.get_compile_metric("mse", None, None)
    assert isinstance(m, M.MeanSquaredError) and m.name == "mse"
    assert isinstance(M.get("mae"), M.MeanAbsoluteError)
    with pytest.raises(ValueError, match="Could not interpret metric identifier: 'nope'"):
        M.get("nope")


@pytest.mark.parametrize("metric,fn", [
    (M.BinaryAccuracy, lambda t, p: (t == (p > 0.5)).astype(float)),
    (M.Accuracy, lambda t, p: (t == p).astype(float)),
    (M.MeanSquaredError, lambda t, p: (t - p) ** 2),
    (M.MeanAbsoluteError, lambda t, p: np.abs(t - p)),
])
def test_one_dimensional_targets_against_n_by_1_outputs_average_over_samples(metric, fn):
    # Keras 3 expands y_true (N,) to (N, 1): one value per sample, so batches of different
    # sizes give the mean over all samples, not the mean of batch means.
    y1, p1 = np.ones(4), np.full((4, 1), 0.9)
    y2, p2 = np.zeros(1), np.full((1, 1), 0.9)
    if metric is M.Accuracy:
        p1, p2 = np.array([[1.0], [1.0], [0.0], [1.0]]), np.array([[1.0]])
    m = metric()
    m.update_state(y1, p1)
    m.update_state(y2, p2)
    expected = np.concatenate([fn(y1, p1[:, 0]), fn(y2, p2[:, 0])]).mean()
    assert float(m.result()) == pytest.approx(expected, rel=1e-6)
    w = np.array([1.0, 2.0, 0.0, 1.0])
    m.reset_state()
    m.update_state(y1, p1, sample_weight=w)  # (N,) weights against (N,) labels, (N, 1) outputs
    m.update_state(y2, p2, sample_weight=[3.0])
    values = np.concatenate([fn(y1, p1[:, 0]), fn(y2, p2[:, 0])])
    weights = np.concatenate([w, [3.0]])
    assert float(m.result()) == pytest.approx((values * weights).sum() / weights.sum(),
                                              rel=1e-6)


def test_binary_accuracy_of_the_audit():
    m = M.BinaryAccuracy()
    m.update_state(np.ones(4), np.full((4, 1), 0.9))
    m.update_state(np.zeros(1), np.full((1, 1), 0.9))
    assert float(m.result()) == pytest.approx(0.8)


def test_squeeze_or_expand_to_same_rank_is_keras_rule():
    f = M.squeeze_or_expand_to_same_rank
    shapes = lambda a, b: (a.shape, b.shape)  # noqa: E731
    assert shapes(*f(np.zeros(3), np.zeros((3, 1)))) == ((3, 1), (3, 1))
    assert shapes(*f(np.zeros((3, 1)), np.zeros(3))) == ((3, 1), (3, 1))
    assert shapes(*f(np.zeros((3, 4, 1)), np.zeros((3, 4)))) == ((3, 4), (3, 4))
    assert shapes(*f(np.zeros((3, 4)), np.zeros((3, 4, 1)))) == ((3, 4), (3, 4))
    assert shapes(*f(np.zeros((3, 2)), np.zeros(3))) == ((3, 2), (3,))


def test_mean_metric_reads_the_mask_of_a_tensor_output():
    from lamina.layers.embedding import set_mask
    y_true = np.zeros((2, 3, 1))
    y_pred = L.Tensor(np.array([[[1.0], [2.0], [9.0]], [[3.0], [9.0], [9.0]]]))
    set_mask(y_pred, np.array([[True, True, False], [True, False, False]]))
    m = M.MeanAbsoluteError()
    m.update_state(y_true, y_pred)
    assert float(m.result()) == pytest.approx((1 + 2 + 3) / 3)
    m.reset_state()
    m.update_state(y_true, y_pred, sample_weight=np.array([1.0, 3.0]))
    assert float(m.result()) == pytest.approx((1 + 2 + 3 * 3) / (2 + 3))
    m.reset_state()
    m.update_state(y_true, y_pred.data)  # a plain array has no mask
    assert float(m.result()) == pytest.approx(33 / 6)
