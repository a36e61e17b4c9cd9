"""lamina._cpu losses: Keras 3 values and per-row gradients against the numpy oracles.

Every kernel writes loss[r] and grad[r, :] = d loss[r] / d y_pred[r, :]; the gradient is checked
against central differences of the float64 oracle, with a step (1e-8) small enough never to cross
a clip bound, so clipped elements must come out with the oracle's zero derivative.
"""
import zlib

import numpy as np
import pytest

import reference
from conftest import tolerance
from lamina import _cpu

SHAPES = [(1, 1), (5, 3), (32, 10), (4, 7, 5)]
FD_STEP = 1e-8

# (kernel name, keyword arguments); the oracle of the same name takes the same keywords.
LOSS_CASES = [
    ("categorical_crossentropy", dict(from_logits=False)),
    ("categorical_crossentropy", dict(from_logits=True)),
    ("categorical_crossentropy", dict(from_logits=False, label_smoothing=0.1)),
    ("categorical_crossentropy", dict(from_logits=True, label_smoothing=0.2)),
    ("binary_crossentropy", dict(from_logits=False)),
    ("binary_crossentropy", dict(from_logits=True)),
    ("binary_crossentropy", dict(from_logits=False, label_smoothing=0.1)),
    ("binary_crossentropy", dict(from_logits=True, label_smoothing=0.3)),
    ("mean_squared_error", {}),
    ("mean_absolute_error", {}),
    ("huber", dict(delta=0.7)),
    ("log_cosh", {}),
    ("mean_absolute_percentage_error", {}),
    ("mean_squared_logarithmic_error", {}),
    ("poisson", {}),
    ("kl_divergence", {}),
    ("hinge", {}),
    ("squared_hinge", {}),
    ("categorical_hinge", {}),
    ("cosine_similarity", {}),
]
# Oracles whose clip bound depends on the kernel's dtype.
DTYPE_AWARE = {"categorical_crossentropy", "binary_crossentropy", "sparse_categorical_crossentropy"}


def case_id(case):
    name, kwargs = case
    return name + "".join(f"-{k}={v}" for k, v in kwargs.items())


def sprinkle(x, values, rng):
    """Writes each of `values` at a few random positions of x (in place)."""
    flat = x.reshape(-1)
    for v in values:
        flat[rng.integers(0, flat.size, size=max(1, flat.size // 10))] = v


def make_inputs(name, kwargs, shape, rng):
    """float64 (y_pred, y_true) that exercise the loss, clip regions included."""
    C = shape[-1]
    logits = kwargs.get("from_logits", False)
    if name in ("categorical_crossentropy", "categorical_hinge"):
        t = np.eye(C)[rng.integers(0, C, size=shape[:-1])]
        soft = rng.dirichlet(np.ones(C), size=shape[:-1])
        t = np.where(rng.random(shape[:-1] + (1,)) < 0.5, t, soft)
        if logits or name == "categorical_hinge":
            return rng.normal(0, 3, shape), t
        y = rng.uniform(0.05, 1.0, shape)
        sprinkle(y, [0.0, 1e-9], rng)
        # Row sums >= 0.5 keep every finite-difference step (1e-8 / sum) from crossing a clip bound.
        y[..., -1] = np.maximum(y[..., -1], 0.5)
        y.reshape(-1, C)[0] = np.eye(C)[0]  # a row whose probabilities are all clipped
        return y, t
    if name == "binary_crossentropy":
        t = np.where(rng.random(shape) < 0.5, rng.integers(0, 2, shape), rng.random(shape))
        if logits:
            return rng.normal(0, 4, shape), t
        y = rng.uniform(0.0, 1.0, shape)
        sprinkle(y, [0.0, 1.0, 1e-9, 1 - 1e-9], rng)
        return y, t
    if name == "mean_absolute_percentage_error":
        return rng.normal(0, 2, shape), rng.uniform(0.5, 2, shape) * rng.choice([-1, 1], shape)
    if name == "mean_squared_logarithmic_error":
        return rng.uniform(-0.5, 3, shape), rng.uniform(-0.1, 3, shape)
    if name == "poisson":
        return rng.uniform(0.1, 3, shape), rng.uniform(0, 3, shape)
    if name == "kl_divergence":
        t = rng.uniform(0, 1, shape)
        sprinkle(t, [0.0], rng)
        return rng.uniform(-0.2, 1.3, shape), t
    if name in ("hinge", "squared_hinge"):
        return rng.normal(0, 1.5, shape), rng.integers(0, 2, shape).astype(np.float64)
    return rng.normal(0, 1.5, shape), rng.normal(0, 1.5, shape)


def oracle(name, y_pred, y_true, kwargs, dtype):
    extra = dict(dtype=dtype) if name in DTYPE_AWARE else {}
    return getattr(reference, name)(y_pred, y_true, **kwargs, **extra)


def oracle_grad(name, y_pred, y_true, kwargs, dtype):
    """Central differences of the float64 oracle: d loss[row] / d y_pred[row, c]."""
    y = np.array(y_pred, dtype=np.float64)
    grad = np.empty_like(y)
    flat, gflat = y.reshape(-1), grad.reshape(-1)
    C = y.shape[-1]
    for i in range(flat.size):
        row = i // C
        x = flat[i]
        flat[i] = x + FD_STEP
        up = np.ravel(oracle(name, y, y_true, kwargs, dtype))[row]
        flat[i] = x - FD_STEP
        down = np.ravel(oracle(name, y, y_true, kwargs, dtype))[row]
        flat[i] = x
        gflat[i] = (up - down) / (2 * FD_STEP)
    return grad


def run_kernel(name, y_pred, y_true, kwargs, with_grad=True):
    rows = y_pred.size // y_pred.shape[-1]
    loss = np.full(rows, np.nan, dtype=y_pred.dtype)
    grad = np.full_like(y_pred, np.nan) if with_grad else None
    getattr(_cpu, name)(y_pred, y_true, loss, grad, **kwargs)
    return loss, grad


def grad_tolerance(dtype, expected):
    scale = max(1.0, float(np.abs(expected).max()))
    return (2e-4, 2e-4 * scale) if np.dtype(dtype) == np.float32 else (1e-6, 1e-6 * scale)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("case", LOSS_CASES, ids=case_id)
def test_loss_and_gradient_match_oracle(case, shape, dtype):
    name, kwargs = case
    rng = np.random.default_rng(zlib.crc32(f"{name}{shape}".encode()))
    y64, t64 = make_inputs(name, kwargs, shape, rng)
    y, t = y64.astype(dtype), t64.astype(dtype)
    loss, grad = run_kernel(name, y, t, kwargs)

    expected = oracle(name, y, t, kwargs, dtype).reshape(-1)
    rtol, atol = tolerance(dtype)
    np.testing.assert_allclose(loss, expected, rtol=rtol * 10, atol=atol * 10)

    expected_grad = oracle_grad(name, y, t, kwargs, dtype)
    rtol, atol = grad_tolerance(dtype, expected_grad)
    np.testing.assert_allclose(grad, expected_grad, rtol=rtol, atol=atol)

    loss_only, _ = run_kernel(name, y, t, kwargs, with_grad=False)
    np.testing.assert_array_equal(loss_only, loss)


@pytest.mark.parametrize("from_logits", [False, True])
def test_rows_are_split_over_threads_like_one_thread(from_logits):
    # Large enough to open a parallel region: every row must still be its own computation.
    rng = np.random.default_rng(7)
    y = rng.uniform(0.05, 1, (4096, 33)) if not from_logits else rng.normal(0, 3, (4096, 33))
    t = np.eye(33)[rng.integers(0, 33, 4096)]
    loss, grad = run_kernel("categorical_crossentropy", y, t, dict(from_logits=from_logits))
    np.testing.assert_allclose(loss, reference.categorical_crossentropy(y, t, from_logits),
                               rtol=1e-12, atol=1e-13)
    before = _cpu.get_num_threads()
    try:
        _cpu.set_num_threads(1)
        loss1, grad1 = run_kernel("categorical_crossentropy", y, t, dict(from_logits=from_logits))
    finally:
        _cpu.set_num_threads(before)
    np.testing.assert_array_equal(loss1, loss)
    np.testing.assert_array_equal(grad1, grad)


def test_clipped_probabilities_have_zero_gradient(dtype):
    y = np.array([[0.0, 1.0, 1e-9, 0.5, 2.0, -0.1]], dtype=dtype)
    t = np.array([[1.0, 0.0, 0.3, 1.0, 0.0, 0.5]], dtype=dtype)
    _, grad = run_kernel("binary_crossentropy", y, t, dict(from_logits=False))
    np.testing.assert_array_equal(grad[0, [0, 1, 2, 4, 5]], 0)
    assert grad[0, 3] != 0
    # All of a row's renormalised probabilities clipped: nothing flows back.
    y = np.array([[1.0, 0.0, 0.0]], dtype=dtype)
    loss, grad = run_kernel("categorical_crossentropy", y, np.array([[0, 1, 0]], dtype),
                            dict(from_logits=False))
    np.testing.assert_array_equal(grad, 0)
    np.testing.assert_allclose(loss, -np.log(np.asarray(1e-7, dtype)), rtol=1e-6)


def test_keras_documented_values():
    # Examples from Keras' docstrings (keras/src/losses/losses.py).
    loss, _ = run_kernel("categorical_crossentropy", np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]]),
                         np.array([[0, 1.0, 0], [0, 0, 1]]), dict(from_logits=False))
    np.testing.assert_allclose(loss, [0.0513, 2.303], atol=1e-3)
    loss, _ = run_kernel("huber", np.array([[0.6, 0.4], [0.4, 0.6]]),
                         np.array([[0, 1.0], [0, 0]]), {})
    np.testing.assert_allclose(loss.mean(), 0.155, atol=1e-6)
    loss, _ = run_kernel("cosine_similarity", np.array([[1.0, 0], [1, 1], [-1, -1]]),
                         np.array([[0.0, 1], [1, 1], [1, 1]]), {})
    np.testing.assert_allclose(loss, [0, -1, 1], atol=1e-12)


def test_cosine_similarity_of_a_zero_vector_is_zero():
    y = np.zeros((1, 4))
    loss, grad = run_kernel("cosine_similarity", y, np.ones((1, 4)), {})
    assert loss[0] == 0
    np.testing.assert_allclose(grad, -0.5e7 * np.ones((1, 4)))  # -t^ / eps: norm clamped to eps


# ---------------------------------------------------------------------------- sparse labels ----
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("label_dtype", [np.int32, np.int64], ids=["i32", "i64"])
def test_sparse_matches_categorical_with_one_hot(shape, from_logits, label_dtype, dtype):
    rng = np.random.default_rng(len(shape) * 100 + shape[-1])
    C = shape[-1]
    labels = rng.integers(0, C, size=shape[:-1]).astype(label_dtype)
    y64, _ = make_inputs("categorical_crossentropy", dict(from_logits=from_logits), shape, rng)
    y = y64.astype(dtype)
    loss = np.full(labels.size, np.nan, dtype)
    grad = np.full_like(y, np.nan)
    _cpu.sparse_categorical_crossentropy(y, labels.reshape(-1), loss, grad, from_logits)

    expected = reference.sparse_categorical_crossentropy(y, labels, from_logits, dtype=dtype)
    rtol, atol = tolerance(dtype)
    np.testing.assert_allclose(loss, expected.reshape(-1), rtol=rtol * 10, atol=atol * 10)
    one_hot = np.eye(C, dtype=dtype)[labels]
    _, dense_grad = run_kernel("categorical_crossentropy", y, one_hot, dict(from_logits=from_logits))
    rtol, atol = grad_tolerance(dtype, dense_grad)
    np.testing.assert_allclose(grad, dense_grad, rtol=rtol, atol=atol)
    # Labels shaped like y_pred without its last axis are accepted too.
    loss2 = np.empty(shape[:-1], dtype)
    _cpu.sparse_categorical_crossentropy(y, labels, loss2, None, from_logits)
    np.testing.assert_array_equal(loss2.reshape(-1), loss)


@pytest.mark.parametrize("from_logits", [False, True])
def test_sparse_gradient_matches_finite_differences(from_logits):
    rng = np.random.default_rng(3)
    y, _ = make_inputs("categorical_crossentropy", dict(from_logits=from_logits), (6, 4), rng)
    labels = rng.integers(0, 4, 6)
    loss, grad = np.empty(6), np.empty_like(y)
    _cpu.sparse_categorical_crossentropy(y, labels, loss, grad, from_logits)
    expected = oracle_grad("sparse_categorical_crossentropy", y, labels,
                           dict(from_logits=from_logits), np.float64)
    np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("label_dtype", [np.int32, np.int64], ids=["i32", "i64"])
@pytest.mark.parametrize("bad", [12, 10, -1, -7])
def test_sparse_out_of_range_label_raises_and_writes_nothing(bad, label_dtype):
    y = np.random.default_rng(0).uniform(0.1, 1, (8, 10))
    labels = np.arange(8, dtype=label_dtype) % 10
    labels[5] = bad
    loss = np.full(8, 123.0)
    grad = np.full_like(y, 456.0)
    message = (f"[sparse_categorical_crossentropy] argument 'labels': label {bad} at index 5 is "
               f"out of range for 10 classes")
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _cpu.sparse_categorical_crossentropy(y, labels, loss, grad, False)
    assert np.all(loss == 123.0) and np.all(grad == 456.0)


def test_sparse_ignore_class_gives_zero_loss_and_gradient():
    rng = np.random.default_rng(1)
    y = rng.normal(0, 2, (6, 5))
    labels = np.array([0, 4, 255, 2, 255, 1])
    loss, grad = np.empty(6), np.empty_like(y)
    _cpu.sparse_categorical_crossentropy(y, labels, loss, grad, True, ignore_class=255)
    np.testing.assert_allclose(
        loss, reference.sparse_categorical_crossentropy(y, labels, True, ignore_class=255),
        rtol=1e-12, atol=1e-13)
    assert np.all(grad[[2, 4]] == 0) and np.all(grad[[0, 1, 3, 5]] != 0)


INT64_MIN = np.iinfo(np.int64).min


@pytest.mark.parametrize("ignore_class", [-1, 255, INT64_MIN, np.int64(-1), np.int32(255)])
def test_sparse_any_integer_ignore_class_is_ignored(ignore_class):
    # Keras' void classes are typically -1 or 255; no value is a sentinel for "none".
    y = np.random.default_rng(2).normal(0, 2, (4, 3))
    labels = np.array([0, int(ignore_class), 2, int(ignore_class)], np.int64)
    loss, grad = np.full(4, 9.0), np.full_like(y, 9.0)
    _cpu.sparse_categorical_crossentropy(y, labels, loss, grad, True, ignore_class=ignore_class)
    np.testing.assert_allclose(loss[[0, 2]], reference.sparse_categorical_crossentropy(
        y[[0, 2]], labels[[0, 2]], True), rtol=1e-12)
    assert np.all(loss[[1, 3]] == 0) and np.all(grad[[1, 3]] == 0)


@pytest.mark.parametrize("bad", [-1, INT64_MIN])
def test_sparse_without_ignore_class_every_label_value_is_checked(bad):
    # None means "no ignored class": -1 and INT64_MIN (what a cast NaN becomes) are then labels
    # like any other, out of range.
    y = np.full((2, 3), 1 / 3)
    loss = np.empty(2)
    with pytest.raises(ValueError, match=f"label {bad} at index 1 is out of range for 3 classes"):
        _cpu.sparse_categorical_crossentropy(y, np.array([0, bad]), loss, None, False)
    with pytest.raises(ValueError, match=f"label {bad} at index 1 is out of range"):
        _cpu.sparse_categorical_crossentropy(y, np.array([0, bad]), loss, None, False,
                                             ignore_class=7)


@pytest.mark.parametrize("ignore_class, error, message", [
    (2.0, TypeError, "argument 'ignore_class': expected None or an integer, got float"),
    (True, TypeError, "argument 'ignore_class': expected None or an integer, got bool"),
    ("255", TypeError, "argument 'ignore_class': expected None or an integer, got str"),
    (2 ** 63, ValueError, "argument 'ignore_class': expected an integer that fits in int64, got "
                          "9223372036854775808"),
])
def test_sparse_ignore_class_argument_is_checked(ignore_class, error, message):
    with pytest.raises(error, match=r"\[sparse_categorical_crossentropy\] " + message):
        _cpu.sparse_categorical_crossentropy(np.full((2, 3), 1 / 3), np.array([0, 1]),
                                             np.empty(2), None, False, ignore_class=ignore_class)


def test_sparse_labels_of_another_dtype_name_the_integer_types():
    with pytest.raises(TypeError, match=r"\[sparse_categorical_crossentropy\] argument 'labels': "
                                        r"unsupported dtype uint8 \(expected int32 or int64\)"):
        _cpu.sparse_categorical_crossentropy(np.full((2, 3), 1 / 3), np.array([0, 1], np.uint8),
                                             np.empty(2), None, False)
    with pytest.raises(TypeError, match=r"argument 'y_pred': unsupported dtype float16 "
                                        r"\(expected float32 or float64\)"):
        _cpu.mean_squared_error(np.ones((2, 3), np.float16), np.ones((2, 3)), np.empty(2), None)


@pytest.mark.parametrize("alias, message", [
    (lambda y, t, loss, grad: (y, t, y.reshape(-1)[:4], grad),
     "argument 'loss': must not share memory with 'y_pred'"),
    (lambda y, t, loss, grad: (y, t, loss, y),
     "argument 'grad': must not share memory with 'y_pred'"),
    (lambda y, t, loss, grad: (y, t, loss, t),
     "argument 'grad': must not share memory with 'y_true'"),
    (lambda y, t, loss, grad: (y, t, t.reshape(-1)[4:8], grad),
     "argument 'loss': must not share memory with 'y_true'"),
])
@pytest.mark.parametrize("name", ["mean_squared_error", "categorical_crossentropy",
                                  "categorical_hinge"])
def test_outputs_must_not_alias_inputs(name, alias, message):
    y, t = np.full((4, 3), 0.5), np.full((4, 3), 0.25)
    args = alias(y, t, np.empty(4), np.empty((4, 3)))
    extra = (False,) if name == "categorical_crossentropy" else ()
    with pytest.raises(ValueError, match=rf"\[{name}\] " + message):
        getattr(_cpu, name)(*args, *extra)
    assert np.all(y == 0.5) and np.all(t == 0.25)


def test_sparse_outputs_must_not_alias_the_labels_or_each_other():
    y = np.full((4, 3), 1 / 3)
    labels = np.zeros(12, np.int64)
    with pytest.raises(ValueError, match="argument 'loss': must not share memory with 'labels'"):
        _cpu.sparse_categorical_crossentropy(y, labels[:4], labels[2:6].view(np.float64), None,
                                             False)
    grad = np.empty((4, 3))
    with pytest.raises(ValueError, match="argument 'grad': must not share memory with 'loss'"):
        _cpu.sparse_categorical_crossentropy(y, labels[:4], grad.reshape(-1)[8:], grad, False)


# ------------------------------------------------------------------------------ validation ----
def call_bce(y_pred, y_true, loss, grad, **kwargs):
    _cpu.binary_crossentropy(y_pred, y_true, loss, grad, False, **kwargs)


@pytest.mark.parametrize("args, error, message", [
    ((np.ones((32, 1), np.float32), np.ones(32, np.float32), np.empty(32, np.float32), None),
     ValueError, "[binary_crossentropy] argument 'y_true': expected the shape of 'y_pred' "
                 "(32, 1), got (32,)"),
    ((np.ones((4, 3), np.float32), np.ones((4, 3)), np.empty(4, np.float32), None),
     TypeError, "[binary_crossentropy] argument 'y_true': expected dtype float32, got float64"),
    ((np.ones((4, 3)), np.ones((4, 3)), np.empty(3), None),
     ValueError, "[binary_crossentropy] argument 'loss': expected shape (4,), got (3,)"),
    ((np.ones((4, 3)), np.ones((4, 3)), np.empty(4), np.empty((4, 2))),
     ValueError, "[binary_crossentropy] argument 'grad': expected the shape of 'y_pred' (4, 3), "
                 "got (4, 2)"),
    ((np.ones((3, 4)).T, np.ones((4, 3)), np.empty(4), None),
     ValueError, "[binary_crossentropy] argument 'y_pred': expected a C-contiguous array"),
    ((np.ones((4, 0)), np.ones((4, 0)), np.empty(4), None),
     ValueError, "[binary_crossentropy] argument 'y_pred': expected at least 1 dimension with a "
                 "non-empty last axis, got shape (4, 0)"),
    ((np.ones((4, 3), np.int64), np.ones((4, 3)), np.empty(4), None),
     TypeError, "[binary_crossentropy] argument 'y_pred': expected dtype float32 or float64, "
                "got int64"),
    ((np.ones((1, 1)), [[1.0]], np.empty(1), None),
     TypeError, "[binary_crossentropy] argument 'y_true': expected a numpy array, got list"),
])
def test_invalid_arguments_raise(args, error, message):
    with pytest.raises(error) as info:
        call_bce(*args)
    assert str(info.value).startswith(message)


def test_read_only_outputs_and_bad_options_raise():
    y = np.full((2, 3), 0.5)
    loss = np.empty(2)
    loss.flags.writeable = False
    with pytest.raises(ValueError, match="argument 'loss': array is read-only"):
        _cpu.mean_squared_error(y, y, loss, None)
    with pytest.raises(ValueError, match=r"\[categorical_crossentropy\] argument "
                                         r"'label_smoothing': expected a value in \[0, 1\]"):
        _cpu.categorical_crossentropy(y, y, np.empty(2), None, False, label_smoothing=1.5)
    with pytest.raises(TypeError, match=r"argument 'labels': expected dtype int32 or int64"):
        _cpu.sparse_categorical_crossentropy(y, np.zeros(2), np.empty(2), None, False)
    with pytest.raises(ValueError, match=r"argument 'labels': expected shape \(2,\), got \(3,\)"):
        _cpu.sparse_categorical_crossentropy(y, np.zeros(3, np.int64), np.empty(2), None, False)
