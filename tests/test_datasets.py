import numpy as np
import pytest

from lamina.datasets import digits


def test_digits_shapes_values_and_deterministic_split():
    (x, y), (xt, yt) = digits.load_data()
    assert x.shape == (1438, 8, 8) and xt.shape == (359, 8, 8)
    assert x.dtype == np.uint8 and y.dtype == np.uint8
    assert x.max() == 16 and set(np.unique(y)) == set(range(10))
    (x2, y2), _ = digits.load_data()
    np.testing.assert_array_equal(x, x2)
    (x3, _), _ = digits.load_data(seed=1)
    assert not np.array_equal(x, x3)
    (x4, _), (xt4, _) = digits.load_data(test_split=0.5)
    assert len(x4) + len(xt4) == 1797


def test_digits_bad_split():
    with pytest.raises(ValueError, match="test_split must be in"):
        digits.load_data(test_split=1.0)
