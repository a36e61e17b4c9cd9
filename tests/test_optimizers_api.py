"""Optimizers: Keras defaults and one step against Keras' formulas."""
import numpy as np
import pytest

import lamina as L
from lamina import optimizers as O


def _var(values):
    return L.Variable(np.array(values, "float32"), name="w")


def test_keras_defaults():
    assert O.get("rmsprop").get_config()["rho"] == 0.9
    adam = O.get("adam")
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon) == \
        (0.001, 0.9, 0.999, 1e-7)
    assert O.SGD().learning_rate == 0.01 and O.RMSprop().epsilon == 1e-7
    assert O.AdamW().weight_decay == 0.004
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier"):
        O.get("adamax2")


def test_sgd_momentum_and_adam_steps_follow_keras():
    w = _var([1.0, -2.0])
    g = np.array([0.5, 0.25], "float32")
    sgd = O.SGD(learning_rate=0.1, momentum=0.9)
    sgd.apply([g], [w])
    sgd.apply([g], [w])
    m1 = -0.1 * g
    m2 = 0.9 * m1 - 0.1 * g
    np.testing.assert_allclose(w.numpy(), np.array([1.0, -2.0]) + m1 + m2, rtol=1e-6)
    w = _var([1.0, -2.0])
    adam = O.Adam(learning_rate=0.01)
    adam.apply([g], [w])
    m, v = 0.1 * g, 0.001 * g * g
    alpha = 0.01 * np.sqrt(1 - 0.999) / (1 - 0.9)
    np.testing.assert_allclose(w.numpy(), np.array([1.0, -2.0]) - alpha * m /
                               (np.sqrt(v) + 1e-7), rtol=1e-5)
    assert adam.iterations == 1


def test_rmsprop_epsilon_inside_sqrt_and_clipvalue():
    w = _var([0.0])
    opt = O.RMSprop(learning_rate=0.1, clipvalue=0.5)
    opt.apply([np.array([3.0], "float32")], [w])
    g = 0.5
    v = 0.1 * g * g
    np.testing.assert_allclose(w.numpy(), [-0.1 * g / np.sqrt(v + 1e-7)], rtol=1e-5)


def test_learning_rate_settable_and_schedule():
    opt = O.SGD(learning_rate=0.5)
    opt.learning_rate = 0.25
    assert opt.learning_rate == 0.25
    opt = O.SGD(learning_rate=lambda step: 1.0 / (step + 1))
    w = _var([0.0])
    opt.apply([np.ones(1, "float32")], [w])
    opt.apply([np.ones(1, "float32")], [w])
    np.testing.assert_allclose(w.numpy(), [-1.5])
