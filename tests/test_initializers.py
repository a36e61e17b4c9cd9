"""Keras 3 initializers: defaults, fan computation, statistics, seeding, resolution."""
import numpy as np
import pytest

import lamina
from lamina import initializers as I


def test_compute_fans_dense_and_conv_kernel():
    assert I.compute_fans((64, 10)) == (64, 10)
    assert I.compute_fans((3, 3, 16, 32)) == (3 * 3 * 16, 3 * 3 * 32)
    assert I.compute_fans((7,)) == (7, 7)
    assert I.compute_fans(()) == (1, 1)


def test_glorot_uniform_limit_and_variance():
    w = I.GlorotUniform(seed=1)((200, 300))
    limit = np.sqrt(6.0 / (200 + 300))
    assert w.dtype == np.float32 and w.shape == (200, 300)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    assert np.var(w) == pytest.approx(limit**2 / 3, rel=0.03)


@pytest.mark.parametrize("cls,scale,fan", [(I.HeNormal, 2.0, "in"), (I.LecunNormal, 1.0, "in"),
                                           (I.GlorotNormal, 1.0, "avg")])
def test_truncated_normal_variance_is_corrected(cls, scale, fan):
    shape = (3, 3, 40, 60)
    fan_in, fan_out = I.compute_fans(shape)
    n = fan_in if fan == "in" else (fan_in + fan_out) / 2
    w = cls(seed=3)(shape)
    stddev = np.sqrt(scale / n) / 0.87962566103423978
    assert np.abs(w).max() <= 2 * stddev + 1e-6  # truncated at two standard deviations
    assert np.var(w) == pytest.approx(scale / n, rel=0.05)


def test_he_uniform_limit():
    w = I.HeUniform(seed=0)((50, 20))
    assert np.abs(w).max() <= np.sqrt(6.0 / 50)


def test_random_defaults_match_keras():
    assert I.RandomNormal().get_config() == {"mean": 0.0, "stddev": 0.05, "seed": None}
    assert I.RandomUniform().get_config() == {"minval": -0.05, "maxval": 0.05, "seed": None}
    assert I.TruncatedNormal().stddev == 0.05
    assert I.VarianceScaling().get_config() == {"scale": 1.0, "mode": "fan_in",
                                                "distribution": "truncated_normal",
                                                "seed": None}
    assert np.abs(I.TruncatedNormal(seed=0)((1000,))).max() <= 0.1


def test_orthogonal_is_orthogonal_with_gain():
    w = I.Orthogonal(gain=2.0, seed=0)((6, 4))
    np.testing.assert_allclose(w.T @ w, 4.0 * np.eye(4), atol=1e-5)
    w = I.Orthogonal(seed=0)((3, 5))
    np.testing.assert_allclose(w @ w.T, np.eye(3), atol=1e-5)


def test_constant_zeros_ones_identity():
    assert (I.get("zeros")((2, 3)) == 0).all() and (I.get("ones")((2,)) == 1).all()
    assert (I.Constant(0.5)((2, 2), dtype="float64") == 0.5).all()
    np.testing.assert_array_equal(I.Identity(gain=3)((2, 2)), 3 * np.eye(2))


def test_seeded_initializer_repeats_and_global_generator_follows_set_random_seed():
    a = I.GlorotUniform(seed=7)((4, 4))
    np.testing.assert_array_equal(a, I.GlorotUniform(seed=7)((4, 4)))
    lamina.utils.set_random_seed(5)
    b = I.GlorotUniform()((4, 4))
    lamina.utils.set_random_seed(5)
    np.testing.assert_array_equal(b, I.GlorotUniform()((4, 4)))


def test_get_resolves_names_dicts_instances_callables():
    assert isinstance(I.get("glorot_uniform"), I.GlorotUniform)
    assert isinstance(I.get("he_normal"), I.HeNormal)
    assert isinstance(I.get("HeNormal"), I.HeNormal)
    init = I.RandomNormal(stddev=0.2, seed=1)
    assert I.get(init) is init
    clone = I.get(I.serialize(init))
    assert isinstance(clone, I.RandomNormal) and clone.stddev == 0.2
    fn = lambda shape, dtype=None: np.zeros(shape)  # noqa: E731
    assert I.get(fn) is fn
    with pytest.raises(ValueError, match="Could not interpret initializer identifier: 'nope'"):
        I.get("nope")
