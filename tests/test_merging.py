"""Merging layers: Keras' names, arguments and functional forms, numpy results, shapes at graph
build, broadcasting, errors, and float64 gradients through the tape."""
import numpy as np
import pytest

import lamina as L
from lamina import layers
from gradcheck import check_gradients

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 4)).astype("float32")
B = RNG.standard_normal((3, 4)).astype("float32")
C = RNG.standard_normal((3, 4)).astype("float32")


@pytest.mark.parametrize("cls,fn,expected", [
    (layers.Add, layers.add, lambda a, b, c: a + b + c),
    (layers.Multiply, layers.multiply, lambda a, b, c: a * b * c),
    (layers.Average, layers.average, lambda a, b, c: (a + b + c) / 3),
    (layers.Maximum, layers.maximum, lambda a, b, c: np.maximum(np.maximum(a, b), c)),
    (layers.Minimum, layers.minimum, lambda a, b, c: np.minimum(np.minimum(a, b), c)),
    (layers.Concatenate, layers.concatenate, lambda a, b, c: np.concatenate([a, b, c], -1)),
])
def test_merge_layers_match_numpy_eagerly_and_in_a_graph(cls, fn, expected):
    want = expected(A, B, C)
    np.testing.assert_allclose(cls()([A, B, C]).numpy(), want, rtol=1e-6)
    ins = [L.Input((4,)) for _ in range(3)]
    out = fn(ins)
    assert out.shape == (None,) + want.shape[1:]
    model = L.Model(ins, out)
    np.testing.assert_allclose(model.predict([A, B, C], verbose=0), want, rtol=1e-6)


def test_subtract_takes_exactly_two():
    np.testing.assert_allclose(layers.Subtract()([A, B]).numpy(), A - B, rtol=1e-6)
    with pytest.raises(ValueError, match="exactly 2 inputs, got 3"):
        layers.subtract([L.Input((4,)), L.Input((4,)), L.Input((4,))])


def test_concatenate_axis_and_shape_errors():
    x, y = L.Input((2, 3)), L.Input((5, 3))
    assert layers.concatenate([x, y], axis=1).shape == (None, 7, 3)
    with pytest.raises(ValueError, match=r"matching shapes except for the concatenation axis -1"
                                         r".*\(None, 2, 3\), \(None, 5, 3\)"):
        layers.Concatenate()([x, y])
    a = RNG.standard_normal((2, 2, 3))
    b = RNG.standard_normal((2, 5, 3))
    np.testing.assert_allclose(layers.Concatenate(axis=1)([a, b]).numpy(),
                               np.concatenate([a, b], 1), rtol=1e-6)


def test_elementwise_broadcasting_and_errors():
    x, y = L.Input((3, 4)), L.Input((1, 4))
    assert layers.add([x, y]).shape == (None, 3, 4)
    with pytest.raises(ValueError, match=r"incompatible shapes \(None, 3, 4\) and "
                                         r"\(None, 2, 4\)"):
        layers.multiply([x, L.Input((2, 4))])
    with pytest.raises(ValueError, match="should be called on a list of inputs"):
        layers.Add()(x)
    with pytest.raises(ValueError, match="at least 2 inputs, got 1"):
        layers.Add()([x])


def test_dot_two_and_three_dimensional_and_normalized():
    np.testing.assert_allclose(layers.Dot(axes=1)([A, B]).numpy(),
                               (A * B).sum(1, keepdims=True), rtol=1e-5)
    cos = (A * B).sum(1) / np.linalg.norm(A, axis=1) / np.linalg.norm(B, axis=1)
    np.testing.assert_allclose(layers.Dot(axes=1, normalize=True)([A, B]).numpy()[:, 0], cos,
                               rtol=1e-5)
    x = RNG.standard_normal((2, 3, 5)).astype("float32")
    y = RNG.standard_normal((2, 7, 5)).astype("float32")
    np.testing.assert_allclose(layers.Dot(axes=(2, 2))([x, y]).numpy(),
                               np.einsum("nak,nck->nac", x, y), rtol=1e-5, atol=1e-6)
    z = RNG.standard_normal((2, 3, 4)).astype("float32")
    np.testing.assert_allclose(layers.Dot(axes=1)([x, z]).numpy(),
                               np.einsum("nkb,nkd->nbd", x, z), rtol=1e-5, atol=1e-6)
    assert layers.dot([L.Input((3, 5)), L.Input((7, 5))], axes=2).shape == (None, 3, 7)
    with pytest.raises(ValueError, match=r"axis 1 of the first \(4\) must equal axis 1 of the "
                                         r"second \(5\)"):
        layers.Dot(axes=1)([L.Input((4,)), L.Input((5,))])


@pytest.mark.parametrize("layer", [layers.Add(), layers.Subtract(), layers.Multiply(),
                                   layers.Average(), layers.Maximum(), layers.Minimum(),
                                   layers.Concatenate(), layers.Dot(axes=1),
                                   layers.Dot(axes=1, normalize=True)],
                         ids=lambda layer: type(layer).__name__)
def test_gradients_float64(layer):
    a = RNG.standard_normal((3, 4))
    b = RNG.standard_normal((3, 4))
    check_gradients(lambda x, y: layer([x, y]), a, b)


def test_dot_three_dimensional_gradients_float64():
    x = RNG.standard_normal((2, 3, 4))
    y = RNG.standard_normal((2, 3, 5))
    check_gradients(lambda p, q: layers.Dot(axes=1)([p, q]), x, y)
