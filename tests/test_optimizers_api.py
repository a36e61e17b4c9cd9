"""Optimizers: Keras defaults and one step against Keras' formulas."""
import numpy as np
import pytest

import lamina as L
from lamina import optimizers as O
import reference


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


# --- every optimizer, several steps, against Keras' apply() on numpy ---------------------------
# Keras' apply: grads / loss_scale_factor, then _clip_gradients (clipnorm, global_clipnorm or
# clipvalue), then _apply_weight_decay (w -= w * wd * lr), then update_step. The reference.*_step
# oracles apply the decay and the update; the clipping is written out here.
def _clip(grads, clipnorm=None, global_clipnorm=None, clipvalue=None):
    if clipnorm:
        return [g * clipnorm / max(np.sqrt((g * g).sum()), clipnorm) for g in grads]
    if global_clipnorm:
        norm = np.sqrt(sum((g * g).sum() for g in grads))
        return [g * global_clipnorm * min(1 / norm, 1 / global_clipnorm) for g in grads]
    if clipvalue:
        return [np.clip(g, -clipvalue, clipvalue) for g in grads]
    return grads


def _oracle(name, hyper):
    """(slot names and initial values, step(params, grads, slots, lr, t, wd)) in Keras' terms."""
    b1, b2 = hyper.get("beta_1", 0.9), hyper.get("beta_2", 0.999)
    eps = hyper.get("epsilon", 1e-7)
    if name == "sgd":
        mom = hyper.get("momentum", 0.0)
        return ["m"], lambda p, g, s, lr, t, wd: reference.sgd_step(
            p, g, s["m"] if mom else None, lr, mom, hyper.get("nesterov", False), wd)
    if name == "rmsprop":
        return ["v", "m", "a"], lambda p, g, s, lr, t, wd: reference.rmsprop_step(
            p, g, s["v"], s["m"], s["a"], lr, hyper.get("rho", 0.9), eps,
            hyper.get("momentum", 0.0), hyper.get("centered", False), wd)
    if name in ("adam", "adamw"):
        return ["m", "v", "vh"], lambda p, g, s, lr, t, wd: reference.adam_step(
            p, g, s["m"], s["v"], s["vh"], lr, b1, b2, eps, t, hyper.get("amsgrad", False), wd)
    if name == "adagrad":
        return [("acc", hyper.get("initial_accumulator_value", 0.1))], \
            lambda p, g, s, lr, t, wd: reference.adagrad_step(p, g, s["acc"], lr, eps, wd)
    if name == "adamax":
        return ["m", "u"], lambda p, g, s, lr, t, wd: reference.adamax_step(
            p, g, s["m"], s["u"], lr, b1, b2, eps, t, wd)
    if name == "nadam":
        state = {"u": 1.0}

        def step(p, g, s, lr, t, wd):
            state["u"] = reference.nadam_step(p, g, s["m"], s["v"], lr, b1, b2, eps, t,
                                              state["u"], wd)
        return ["m", "v"], step
    if name == "adadelta":
        return ["a", "d"], lambda p, g, s, lr, t, wd: reference.adadelta_step(
            p, g, s["a"], s["d"], lr, hyper.get("rho", 0.95), eps, wd)
    if name == "lion":
        return ["m"], lambda p, g, s, lr, t, wd: reference.lion_step(
            p, g, s["m"], lr, b1, hyper.get("beta_2", 0.99), wd)
    raise AssertionError(name)


CASES = [
    ("sgd", dict(learning_rate=0.1, momentum=0.9, nesterov=True)),
    ("rmsprop", dict(learning_rate=0.01, momentum=0.5, centered=True)),
    ("adam", dict(learning_rate=0.01, amsgrad=True)),
    ("adamw", dict(learning_rate=0.01)),
    ("adagrad", {}),
    ("adagrad", dict(learning_rate=0.1, initial_accumulator_value=0.5, epsilon=1e-6)),
    ("adamax", {}),
    ("adamax", dict(learning_rate=0.02, beta_1=0.8, beta_2=0.99)),
    ("nadam", {}),
    ("nadam", dict(learning_rate=0.02, beta_1=0.8, beta_2=0.99)),
    ("adadelta", dict(learning_rate=1.0)),
    ("lion", dict(learning_rate=0.01)),
]
COMMON = [{}, dict(weight_decay=0.1), dict(clipnorm=0.5), dict(global_clipnorm=0.7),
          dict(clipvalue=0.3), dict(loss_scale_factor=4.0)]


@pytest.mark.parametrize("common", COMMON, ids=lambda c: next(iter(c), "plain"))
@pytest.mark.parametrize("name, hyper", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_optimizer_steps_follow_keras(name, hyper, common, dtype):
    cls = {"sgd": O.SGD, "rmsprop": O.RMSprop, "adam": O.Adam, "adamw": O.AdamW,
           "adagrad": O.Adagrad, "adamax": O.Adamax, "nadam": O.Nadam, "adadelta": O.Adadelta,
           "lion": O.Lion}[name]
    opt = cls(**hyper, **common)
    rng = np.random.default_rng(5)
    shapes = [(3, 4), (4,), (1,)]
    start = [rng.normal(0, 1, s) for s in shapes]
    variables = [L.Variable(w.astype(dtype), name=f"w{i}") for i, w in enumerate(start)]
    params = [w.copy() for w in start]
    slot_names, step = _oracle(name, hyper)
    slots = {}
    for entry in slot_names:
        slot, value = entry if isinstance(entry, tuple) else (entry, 0.0)
        slots[slot] = [np.full(s, value) for s in shapes]
    lr = hyper.get("learning_rate", 0.001)
    wd = common.get("weight_decay") or (0.004 if name == "adamw" else 0.0)
    for t in range(1, 5):
        grads = [rng.normal(0, 1, s) for s in shapes]
        opt.apply([g.astype(dtype) for g in grads], variables)
        grads = [g / common.get("loss_scale_factor", 1.0) for g in grads]
        step(params, _clip(grads, common.get("clipnorm"), common.get("global_clipnorm"),
                           common.get("clipvalue")), slots, lr, t, wd)
    rtol, atol = (2e-4, 2e-5) if dtype == np.float32 else (1e-10, 1e-12)
    for v, w in zip(variables, params):
        assert v.dtype == dtype
        np.testing.assert_allclose(v.numpy(), w, rtol=rtol, atol=atol)
    assert opt.iterations == 4


@pytest.mark.parametrize("name, cls, defaults", [
    ("adagrad", O.Adagrad, dict(learning_rate=0.001, initial_accumulator_value=0.1,
                                epsilon=1e-7)),
    ("adamax", O.Adamax, dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)),
    ("nadam", O.Nadam, dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)),
    ("adadelta", O.Adadelta, dict(learning_rate=0.001, rho=0.95, epsilon=1e-7)),
    ("lion", O.Lion, dict(learning_rate=0.001, beta_1=0.9, beta_2=0.99)),
])
def test_new_optimizers_by_name_with_keras_defaults(name, cls, defaults):
    for identifier in (name, name.upper(), cls.__name__):
        opt = O.get(identifier)
        assert type(opt) is cls and opt.name == name
    config = O.get(name).get_config()
    for key, value in defaults.items():
        assert config[key] == value, key
    again = O.deserialize(O.serialize(cls(learning_rate=0.5, weight_decay=0.01)))
    assert type(again) is cls and again.learning_rate == 0.5 and again.weight_decay == 0.01
    assert getattr(L.optimizers, cls.__name__) is cls


def test_model_compiles_and_trains_with_the_new_names():
    x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5]], "float32")
    for name in ("adagrad", "adamax", "nadam", "adadelta", "lion"):
        model = L.Sequential([L.Input((3,)), L.layers.Dense(1)])
        model.compile(optimizer=name, loss="mse")
        model.fit(x, y, epochs=2, verbose=0)
        assert type(model.optimizer).__name__.lower() == name


def test_numpy_scalars_are_numbers():
    sgd = O.SGD(learning_rate=np.float32(0.1), momentum=np.float32(0.9), nesterov=np.bool_(True))
    assert sgd.momentum == pytest.approx(0.9) and type(sgd.momentum) is float
    assert sgd.learning_rate == pytest.approx(0.1) and type(sgd.learning_rate) is float
    O.SGD(momentum=np.array(0.5))
    adam = O.Adam(learning_rate=np.float64(0.01), beta_1=np.float32(0.8), beta_2=np.array(0.99),
                  epsilon=np.float16(1e-4), weight_decay=np.float32(0.01),
                  clipnorm=np.int64(2))
    assert (adam.beta_1, adam.beta_2, adam.clipnorm) == (pytest.approx(0.8), 0.99, 2.0)
    O.Lion(beta_1=np.float32(0.5))
    O.RMSprop(rho=np.float32(0.8), momentum=np.float64(0.1))
    adam.learning_rate = np.float32(0.5)
    assert adam.learning_rate == 0.5


@pytest.mark.parametrize("make, error, message", [
    (lambda: O.SGD(momentum=1.5), ValueError, "`momentum` must be a float between [0, 1]."),
    (lambda: O.SGD(momentum="0.9"), ValueError, "`momentum` must be a float between [0, 1]."),
    (lambda: O.Adam(beta_1="0.9"), TypeError, "[Adam] argument `beta_1` must be a number, got "
                                              "'0.9'"),
    (lambda: O.Adagrad(learning_rate=None), TypeError,
     "[Adagrad] argument `learning_rate` must be a number, got None"),
    (lambda: O.Lion(beta_1=0.0), ValueError, "Argument `beta_1` must be in the [0, 1] range. "
                                             "Otherwise, the optimizer degenerates to SignSGD. "
                                             "Received: beta_1=0.0."),
    (lambda: O.Nadam(clipnorm=1.0, clipvalue=1.0), ValueError,
     "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set."),
    (lambda: O.Adamax(use_ema=True), NotImplementedError, "Adamax: use_ema and "
                                                          "gradient_accumulation_steps are not "
                                                          "supported by lamina yet"),
])
def test_bad_arguments(make, error, message):
    with pytest.raises(error) as info:
        make()
    assert str(info.value).startswith(message)


def test_global_clipnorm_with_a_nan_norm_gives_nan_like_keras():
    w = _var([1.0, 2.0])
    opt = O.SGD(learning_rate=0.1, global_clipnorm=1.0)
    opt.apply([np.array([np.inf, 1.0], "float32")], [w])
    assert np.isnan(w.numpy()).all()


def test_a_variable_listed_twice_is_refused():
    w = L.Variable(np.ones(3, np.float32), name="w")
    opt = L.optimizers.Adam()
    with pytest.raises(ValueError, match=r"Adam: variable 'w' appears more than once in the "
                                         r"variables to update \(2 given\)"):
        opt.apply_gradients([(np.ones(3, np.float32), w), (np.ones(3, np.float32), w)])
    np.testing.assert_array_equal(w.numpy(), 1.0)
    opt.apply_gradients([(np.ones(3, np.float32), w)])  # still usable
    assert opt.iterations == 1
