"""The UCI optical-recognition handwritten digits (8x8 images, 10 classes), bundled with lamina.

1,797 images of 8x8 pixels with values 0..16 and their labels 0..9, from scikit-learn's copy of
the test set of the UCI "Optical Recognition of Handwritten Digits" data set (Alpaydin &
Kaynak, CC BY 4.0; see data/README.md). No network access is needed.
"""
import gzip
import os

import numpy as np

__all__ = ["load_data"]

_PATH = os.path.join(os.path.dirname(__file__), "data", "digits.csv.gz")


def _read():
    with gzip.open(_PATH, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.uint8)
    return table[:, :64].reshape(-1, 8, 8), table[:, 64]


def load_data(test_split=0.2, seed=113):
    """Loads the digits as ``(x_train, y_train), (x_test, y_test)``.

    Like ``keras.datasets.mnist.load_data()`` this returns raw images: x is uint8 of shape
    (n, 8, 8) with values 0..16 (divide by 16 for [0, 1]; reshape to (n, 64) for a Dense
    network), y is uint8 of shape (n,) with the labels 0..9. The samples are shuffled with
    ``numpy.random.default_rng(seed)`` and the last ``test_split`` fraction is the test set, so
    the same seed always gives the same split.
    """
    if not 0.0 <= test_split < 1.0:
        raise ValueError(f"load_data: test_split must be in [0, 1), got {test_split}")
    x, y = _read()
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    n_train = len(x) - int(round(len(x) * test_split))
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])
