"""lamina.ops.losses: what the fused loss ops accept as targets before the kernels run."""
import re

import numpy as np
import pytest

import lamina as L
from lamina import ops
from lamina.masking import get_mask

UNIFORM = np.full((4, 3), 1 / 3, np.float32)
LOG3 = np.log(3.0)


@pytest.mark.parametrize("bad, shown", [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf"),
                                        (2.5, "2.5"), (1e30, "1e+30")])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_labels_must_hold_whole_numbers(bad, shown, dtype):
    # A cast would turn NaN and inf into INT64_MIN (and 2.5 into 2): a silent wrong class.
    labels = np.array([0, 1, bad, 2], dtype)
    message = (f"[sparse_categorical_crossentropy] argument 'y_true': label {shown} at index 2 "
               f"is not a class index")
    with pytest.raises(ValueError, match=re.escape(message)):
        ops.sparse_categorical_crossentropy(labels, UNIFORM)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8, np.int8, np.int16,
                                   np.uint16, np.int32, np.uint32, np.int64, np.uint64])
def test_labels_of_any_integer_or_whole_float_dtype_work(dtype):
    loss = ops.sparse_categorical_crossentropy(np.array([0, 1, 2, 1], dtype), UNIFORM)
    np.testing.assert_allclose(loss.data, LOG3, rtol=1e-6)


def test_ignore_class_marks_the_valid_rows():
    loss = ops.sparse_categorical_crossentropy(np.array([0, -1, 2, -1]), UNIFORM,
                                               ignore_class=-1)
    np.testing.assert_allclose(loss.data, [LOG3, 0, LOG3, 0], rtol=1e-6)
    np.testing.assert_array_equal(get_mask(loss), [True, False, True, False])
    plain = ops.sparse_categorical_crossentropy(np.array([0, 1, 2, 1]), UNIFORM)
    assert get_mask(plain) is None
    with pytest.raises(TypeError, match=r"argument 'ignore_class': expected None or an integer, "
                                        r"got 1.5"):
        ops.sparse_categorical_crossentropy(np.array([0, 1, 2, 1]), UNIFORM, ignore_class=1.5)


def test_ignore_class_uint8_segmentation_labels_with_255():
    labels = np.array([[0, 255], [2, 255]], np.uint8)
    probs = np.full((2, 2, 3), 1 / 3, np.float32)
    loss = ops.sparse_categorical_crossentropy(labels, probs, ignore_class=255)
    np.testing.assert_allclose(loss.data, [[LOG3, 0], [LOG3, 0]], rtol=1e-6)


def test_fit_with_a_nan_label_raises():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4)).astype("float32")
    y = rng.integers(0, 3, 16).astype("float32")
    model = L.Sequential([L.Input((4,)), L.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)  # whole-number float labels train
    with pytest.raises(ValueError, match=r"label nan at index 7 is not a class index"):
        model.fit(x, np.r_[y[:-1], np.nan], epochs=1, batch_size=8, verbose=0, shuffle=False)
