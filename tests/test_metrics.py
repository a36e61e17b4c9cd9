"""Metrics: Keras 3 arithmetic, weighting, and compile's resolution of "accuracy"."""
import numpy as np
import pytest

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
