"""lamina._cpu optimizer steps: several multi-tensor steps against the Keras-formula oracles."""
import re

import numpy as np
import pytest

import reference
from lamina import _cpu

# Odd sizes, a scalar-like tensor and one big enough to be split over threads mid-tensor.
SHAPES = [(7,), (3, 5), (1,), (2, 3, 4), (40001,)]
STEPS = 4


def make_lists(dtype, n_states, rng, shapes=SHAPES):
    params = [rng.normal(0, 1, s).astype(dtype) for s in shapes]
    states = [[np.abs(rng.normal(0, 0.1, s)).astype(dtype) for s in shapes]
              for _ in range(n_states)]
    return params, states


def grads_for(step, dtype, shapes=SHAPES):
    rng = np.random.default_rng(100 + step)
    return [rng.normal(0, 1, s).astype(dtype) for s in shapes]


def as64(arrays):
    return None if arrays is None else [a.astype(np.float64) for a in arrays]


def assert_lists_close(actual, expected, dtype):
    rtol, atol = (2e-5, 2e-6) if np.dtype(dtype) == np.float32 else (1e-12, 1e-13)
    for i, (a, e) in enumerate(zip(actual, expected)):
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=f"tensor {i}")


def check_steps(dtype, n_states, used, kernel, oracle, step_kwargs):
    """Runs STEPS steps of kernel and oracle from the same state; `used[k]` says whether state
    list k is passed (else None). step_kwargs(step) gives the hyperparameters of one step."""
    rng = np.random.default_rng(0)
    params, states = make_lists(dtype, n_states, rng)
    if kernel is _cpu.rmsprop_step:  # v >= a^2 at the start keeps the centred v - a^2 >= 0
        states[0] = [v + a * a for v, a in zip(states[0], states[2])]
    states = [s if u else None for s, u in zip(states, used)]
    params64, states64 = as64(params), [as64(s) for s in states]
    for step in range(1, STEPS + 1):
        grads = grads_for(step, dtype)
        out = kernel(params, grads, *states, **step_kwargs(step))
        out64 = oracle(params64, as64(grads), *states64, **step_kwargs(step))
        if out is not None:
            np.testing.assert_allclose(out, out64, rtol=1e-14)
    assert all(np.isfinite(p).all() for p in params)
    assert_lists_close(params, params64, dtype)
    for s, s64 in zip(states, states64):
        if s is not None:
            assert_lists_close(s, s64, dtype)


@pytest.mark.parametrize("momentum, nesterov, weight_decay", [
    (0.0, False, 0.0), (0.9, False, 0.0), (0.9, True, 0.0), (0.5, True, 0.01), (0.0, False, 0.1),
])
def test_sgd(momentum, nesterov, weight_decay, dtype):
    check_steps(dtype, 1, [momentum != 0], _cpu.sgd_step, reference.sgd_step,
                lambda step: dict(lr=0.05, momentum=momentum, nesterov=nesterov,
                                  weight_decay=weight_decay))


@pytest.mark.parametrize("momentum, centered, weight_decay", [
    (0.0, False, 0.0), (0.9, False, 0.0), (0.0, True, 0.0), (0.9, True, 0.004),
])
def test_rmsprop(momentum, centered, weight_decay, dtype):
    check_steps(dtype, 3, [True, momentum > 0, centered], _cpu.rmsprop_step,
                reference.rmsprop_step,
                lambda step: dict(lr=0.01, rho=0.9, epsilon=1e-7, momentum=momentum,
                                  centered=centered, weight_decay=weight_decay))


@pytest.mark.parametrize("amsgrad, weight_decay", [(False, 0.0), (True, 0.0), (False, 0.004),
                                                   (True, 0.01)])
def test_adam(amsgrad, weight_decay, dtype):
    check_steps(dtype, 3, [True, True, amsgrad], _cpu.adam_step, reference.adam_step,
                lambda step: dict(lr=0.01, beta1=0.9, beta2=0.999, epsilon=1e-7, step=step,
                                  amsgrad=amsgrad, weight_decay=weight_decay))


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_adagrad(weight_decay, dtype):
    check_steps(dtype, 1, [True], _cpu.adagrad_step, reference.adagrad_step,
                lambda step: dict(lr=0.01, epsilon=1e-7, weight_decay=weight_decay))


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_adamax(weight_decay, dtype):
    check_steps(dtype, 2, [True, True], _cpu.adamax_step, reference.adamax_step,
                lambda step: dict(lr=0.01, beta1=0.9, beta2=0.999, epsilon=1e-7, step=step,
                                  weight_decay=weight_decay))


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_adadelta(weight_decay, dtype):
    check_steps(dtype, 2, [True, True], _cpu.adadelta_step, reference.adadelta_step,
                lambda step: dict(lr=0.5, rho=0.95, epsilon=1e-7, weight_decay=weight_decay))


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_lion(weight_decay, dtype):
    check_steps(dtype, 1, [True], _cpu.lion_step, reference.lion_step,
                lambda step: dict(lr=0.01, beta1=0.9, beta2=0.99, weight_decay=weight_decay))


def test_lion_propagates_nan_like_keras(dtype):
    """Keras' Lion steps by sign(b1 m + (1 - b1) g), and sign(NaN) is NaN in numpy, TF, JAX and
    torch: a NaN gradient must poison its weight (so TerminateOnNaN sees it), not leave it be.
    A zero direction still leaves the weight unchanged."""
    params = [np.array([1.0, 2.0, 3.0, 4.0] * 5, dtype)]
    grads = [np.array([np.nan, 0.5, 0.0, -0.5] * 5, dtype)]
    ms = [np.zeros(20, dtype)]
    params64, grads64, ms64 = as64(params), as64(grads), as64(ms)
    _cpu.lion_step(params, grads, ms, lr=0.1, beta1=0.9, beta2=0.99)
    reference.lion_step(params64, grads64, ms64, lr=0.1, beta1=0.9, beta2=0.99)
    np.testing.assert_allclose(params[0], params64[0], rtol=1e-6)  # NaNs compare equal
    assert np.isnan(params[0][::4]).all()
    np.testing.assert_array_equal(params[0][2::4], 3.0)


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_nadam_carries_its_momentum_product(weight_decay, dtype):
    rng = np.random.default_rng(0)
    params, (ms, vs) = make_lists(dtype, 2, rng)
    params64, ms64, vs64 = as64(params), as64(ms), as64(vs)
    u, u64 = 1.0, 1.0
    for step in range(1, STEPS + 1):
        grads = grads_for(step, dtype)
        kw = dict(lr=0.01, beta1=0.9, beta2=0.999, epsilon=1e-7, step=step,
                  weight_decay=weight_decay)
        u = _cpu.nadam_step(params, grads, ms, vs, u_product=u, **kw)
        u64 = reference.nadam_step(params64, as64(grads), ms64, vs64, u_product=u64, **kw)
        np.testing.assert_allclose(u, u64, rtol=1e-14)
    assert_lists_close(params, params64, dtype)
    assert_lists_close(ms, ms64, dtype)
    assert_lists_close(vs, vs64, dtype)


def test_first_adam_step_moves_each_weight_by_lr():
    # Keras' bias correction: from zero state the first step is lr * g / (|g| + eps / sqrt(1 - b2)),
    # about lr in size whatever the gradient's scale.
    w = [np.zeros(5), np.zeros(2, np.float32)]
    g = [np.array([1.0, -2, 3, -4, 5]), np.array([0.5, -0.5], np.float32)]
    m = [np.zeros_like(x) for x in w]
    v = [np.zeros_like(x) for x in w]
    _cpu.adam_step(w, g, m, v, None, 0.001, 0.9, 0.999, 1e-7, 1)
    for wi, gi in zip(w, g):
        gi = gi.astype(np.float64)
        expected = -0.001 * gi / (np.abs(gi) + 1e-7 / np.sqrt(1e-3))
        np.testing.assert_allclose(wi, expected, rtol=1e-12 if wi.dtype == np.float64 else 1e-6)


def test_mixed_dtypes_in_one_call():
    w = [np.ones(3, np.float32), np.ones(4)]
    _cpu.sgd_step(w, [np.ones(3, np.float32), np.full(4, 2.0)], None, 0.5, 0.0, False)
    np.testing.assert_array_equal(w[0], 0.5)
    np.testing.assert_array_equal(w[1], 0.0)


def test_empty_lists_are_a_no_op():
    assert _cpu.adam_step([], [], [], [], None, 0.001, 0.9, 0.999, 1e-7, 1) is None
    # and lists that disagree in length are refused even when one of them is empty
    with pytest.raises(ValueError, match="grads"):
        _cpu.adam_step([np.zeros(3, np.float32)], [], [], [], None, 0.001, 0.9, 0.999, 1e-7, 1)


# ------------------------------------------------------------------------------ validation ----
def adam_args(n=3, dtype=np.float32):
    shapes = [(4,), (2, 3), (5,)][:n]
    make = lambda: [np.zeros(s, dtype) for s in shapes]  # noqa: E731
    return dict(params=make(), grads=make(), ms=make(), vs=make(), vhats=None)


ADAM_HYPER = dict(lr=0.001, beta1=0.9, beta2=0.999, epsilon=1e-7, step=1)


@pytest.mark.parametrize("mutate, error, message", [
    (lambda a: a["grads"].pop(), ValueError,
     "[adam_step] argument 'grads': expected a list of 3 arrays (one per param), got 2"),
    (lambda a: a["vs"].append(np.zeros(1, np.float32)), ValueError,
     "[adam_step] argument 'vs': expected a list of 3 arrays (one per param), got 4"),
    (lambda a: a["grads"].__setitem__(1, np.zeros((3, 2), np.float32)), ValueError,
     "[adam_step] argument 'grads[1]': expected the shape of 'params[1]' (2, 3), got (3, 2)"),
    (lambda a: a["ms"].__setitem__(2, np.zeros(5)), TypeError,
     "[adam_step] argument 'ms[2]': expected dtype float32, got float64"),
    (lambda a: a["params"].__setitem__(0, np.zeros(4, np.int32)), TypeError,
     "[adam_step] argument 'params[0]': expected dtype float32 or float64, got int32"),
    (lambda a: a["vs"].__setitem__(1, np.zeros((3, 2), np.float32).T), ValueError,
     "[adam_step] argument 'vs[1]': expected a C-contiguous array"),
    (lambda a: a["params"][2].setflags(write=False), ValueError,
     "[adam_step] argument 'params[2]': array is read-only"),
    (lambda a: a.__setitem__("ms", None), ValueError,
     "[adam_step] argument 'ms': expected a list of arrays (this configuration updates it), "
     "got None"),
    (lambda a: a.__setitem__("grads", np.zeros(3)), TypeError,
     "[adam_step] argument 'grads': expected a list of numpy arrays, got numpy.ndarray"),
])
def test_adam_validation_names_the_element(mutate, error, message):
    args = adam_args()
    before = [p.copy() for p in args["params"]]
    mutate(args)
    with pytest.raises(error) as info:
        _cpu.adam_step(**args, **ADAM_HYPER)
    assert str(info.value).startswith(message)
    for p, b in zip(args["params"], before):  # nothing written before the error
        np.testing.assert_array_equal(p, b)


def test_state_lists_required_by_the_configuration():
    w, g = [np.zeros(3)], [np.ones(3)]
    with pytest.raises(ValueError, match=r"\[adam_step\] argument 'vhats': expected a list"):
        _cpu.adam_step(w, g, [np.zeros(3)], [np.zeros(3)], None, amsgrad=True, **ADAM_HYPER)
    with pytest.raises(ValueError, match=r"\[sgd_step\] argument 'momenta': expected a list"):
        _cpu.sgd_step(w, g, None, 0.1, 0.9, False)
    with pytest.raises(ValueError, match=r"\[rmsprop_step\] argument 'average_grads'"):
        _cpu.rmsprop_step(w, g, [np.zeros(3)], None, None, 0.1, 0.9, 1e-7, 0.0, True)
    with pytest.raises(ValueError, match=r"\[adam_step\] argument 'step': expected the 1-based"):
        _cpu.adam_step(w, g, [np.zeros(3)], [np.zeros(3)], None, 0.001, 0.9, 0.999, 1e-7, 0)
    # State lists this configuration does not use may be None.
    _cpu.rmsprop_step(w, g, [np.zeros(3)], None, None, 0.1, 0.9, 1e-7, 0.0, False)


@pytest.mark.parametrize("mutate, message", [
    (lambda a: a["grads"].__setitem__(1, a["params"][1]),
     "argument 'grads[1]': must not share memory with 'params[1]'"),
    (lambda a: a["ms"].__setitem__(0, a["params"][0]),
     "argument 'ms[0]': must not share memory with 'params[0]'"),
    (lambda a: a["vs"].__setitem__(2, a["grads"][2]),
     "argument 'vs[2]': must not share memory with 'grads[2]'"),
    (lambda a: a["vs"].__setitem__(1, a["ms"][1]),
     "argument 'vs[1]': must not share memory with 'ms[1]'"),
])
def test_arrays_of_one_tensor_must_not_share_memory(mutate, message):
    # The update reads and writes them elementwise through restrict pointers.
    args = adam_args()
    mutate(args)
    with pytest.raises(ValueError, match=re.escape("[adam_step] " + message)):
        _cpu.adam_step(**args, **ADAM_HYPER)
