"""Keras loss classes: reductions, sample weights, names."""
import numpy as np
import pytest

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
