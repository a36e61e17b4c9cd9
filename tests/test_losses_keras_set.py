"""The rest of Keras' common losses through lamina.losses: classes, string names, values
against numpy formulas, gradients through the fused kernels, CTC as keras.losses.CTC."""
import numpy as np
import pytest

import lamina as L
from lamina import losses
from gradcheck import check_gradients

rng = np.random.default_rng(3)
P = np.abs(rng.standard_normal((6, 4))) + 0.1
T = np.abs(rng.standard_normal((6, 4))) + 0.1


def _huber(t, p, d=1.0):
    e = np.abs(p - t)
    return np.mean(np.where(e <= d, 0.5 * e * e, d * e - 0.5 * d * d), axis=-1)


ORACLES = {
    "mape": lambda t, p: 100 * np.mean(np.abs((t - p) / np.maximum(np.abs(t), 1e-7)), -1),
    "msle": lambda t, p: np.mean((np.log1p(np.maximum(p, 1e-7)) -
                                  np.log1p(np.maximum(t, 1e-7))) ** 2, -1),
    "huber": _huber,
    "log_cosh": lambda t, p: np.mean(np.log(np.cosh(p - t)), -1),
    "poisson": lambda t, p: np.mean(p - t * np.log(p + 1e-7), -1),
    "kl_divergence": lambda t, p: np.sum(np.clip(t, 1e-7, 1) *
                                         np.log(np.clip(t, 1e-7, 1) / np.clip(p, 1e-7, 1)), -1),
    "hinge": lambda t, p: np.mean(np.maximum(1 - t * p, 0), -1),
    "squared_hinge": lambda t, p: np.mean(np.maximum(1 - t * p, 0) ** 2, -1),
    "cosine_similarity": lambda t, p: -np.sum(
        t / np.linalg.norm(t, axis=-1, keepdims=True) *
        p / np.linalg.norm(p, axis=-1, keepdims=True), -1),
}


@pytest.mark.parametrize("name", sorted(ORACLES))
def test_named_loss_matches_formula_and_reduces_like_keras(name):
    loss = losses.get(name)
    t = T if name not in ("hinge", "squared_hinge") else np.sign(T - 1)
    np.testing.assert_allclose(loss(t, P).data, ORACLES[name](t, P).mean(), rtol=1e-10)
    fn = getattr(losses, {"mape": "mean_absolute_percentage_error",
                          "msle": "mean_squared_logarithmic_error"}.get(name, name))
    check_gradients(lambda p: fn(t, p), P, rtol=1e-5, atol=1e-6)


def test_categorical_hinge_and_class_names():
    t = np.eye(4)[[0, 1, 2, 3, 1, 0]]
    pos = np.sum(t * P, -1)
    neg = np.max((1 - t) * P, -1)
    np.testing.assert_allclose(losses.CategoricalHinge()(t, P).data,
                               np.maximum(neg - pos + 1, 0).mean(), rtol=1e-10)
    assert losses.get("Huber").delta == 1.0 and losses.Huber(2.0).delta == 2.0
    assert isinstance(losses.get("kld"), losses.KLDivergence)


def test_ctc_class_matches_ops_and_trains():
    labels = np.array([[1, 2, 0], [3, 3, 1]])
    logits = rng.standard_normal((2, 8, 5))
    per_sample = L.ops.ctc_loss(labels, logits, np.array([3, 3]), np.array([8, 8])).data
    np.testing.assert_allclose(losses.CTC()(labels, logits).data, per_sample.mean())
    assert np.isfinite(per_sample).all()
    check_gradients(lambda z: losses.ctc(labels, z), logits, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"\[CTC\].*\(2, 3\).*\(2, 5\)"):
        losses.CTC()(labels, logits[:, 0])
