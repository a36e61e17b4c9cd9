"""lamina._cuda: the CUDA kernels against the CPU kernels, and their argument checks.

Two parts:
  * Argument checks (need a CUDA build, no GPU): fake objects exposing a
    __cuda_array_interface__ dict show that every entry validates dtype, shape, layout and
    access the way lamina._cpu does, with the same messages, before making any CUDA call.
  * Kernels (need a GPU and cupy; skipped otherwise): every family runs the same case on numpy
    arrays through lamina._cpu (already tested against the numpy oracles in tests/test_*.py)
    and on cupy arrays through lamina.cuda.kernels(), and the results must agree, outputs
    pre-filled with NaN so an element the GPU forgot to write fails the comparison.
"""
import numpy as np
import pytest

import lamina as L
from lamina import _cpu

BUILT = L.cuda.is_built()
GPU = L.cuda.is_available()
needs_build = pytest.mark.skipif(not BUILT, reason="lamina was built without CUDA")
needs_gpu = pytest.mark.skipif(not GPU, reason=f"no usable GPU: {L.cuda.unavailable_reason()}")

ACT = _cpu.ACTIVATIONS


# ---------------------------------------------------------------------------------------------
# Argument checks without a GPU
# ---------------------------------------------------------------------------------------------

class FakeDeviceArray:
    """Exposes only a __cuda_array_interface__: enough for the checks, never dereferenced."""

    def __init__(self, shape, typestr="<f4", ptr=1 << 20, strides=None, read_only=False,
                 **extra):
        self.__cuda_array_interface__ = dict(shape=tuple(shape), typestr=typestr,
                                             data=(ptr, read_only), strides=strides, version=3,
                                             **extra)


def F(*shape, **kw):
    return FakeDeviceArray(shape, **kw)


def D(*shape, **kw):
    return FakeDeviceArray(shape, typestr="<f8", **kw)


@pytest.fixture
def cuda_mod():
    if not BUILT:
        pytest.skip("lamina was built without CUDA")
    from lamina import _cuda
    return _cuda


@needs_build
def test_numpy_array_is_rejected_with_a_type_error_naming_the_argument(cuda_mod):
    a = np.zeros((2, 2), np.float32)
    with pytest.raises(TypeError, match=r"\[gemm\] argument 'a': expected a cupy array .*numpy"):
        cuda_mod.gemm(a, a, a, stream=0)
    with pytest.raises(TypeError, match=r"\[reduce_sum\] argument 'x': expected a cupy array"):
        cuda_mod.reduce_sum([1.0, 2.0], a, 0, stream=0)


@needs_build
def test_stream_is_a_required_keyword(cuda_mod):
    with pytest.raises(TypeError):
        cuda_mod.gemm(F(2, 3), F(3, 4), F(2, 4))  # no stream: refused before any check


@needs_build
@pytest.mark.parametrize("call, error, message", [
    (lambda m: m.gemm(F(2, 3), F(4, 5), F(2, 5), stream=0), ValueError,
     r"\[gemm\] argument 'b': op\(a\) has shape \(2, 3\) so op\(b\) needs 3 rows, got b of "
     r"shape \(4, 5\)"),
    (lambda m: m.gemm(F(2, 3), D(3, 5), F(2, 5), stream=0), TypeError,
     r"\[gemm\] argument 'b': expected dtype float32, got float64"),
    (lambda m: m.gemm(F(2, 3), F(3, 5), F(2, 4), stream=0), ValueError,
     r"\[gemm\] argument 'c': expected shape \(2, 5\), got \(2, 4\)"),
    (lambda m: m.gemm(F(3, 2), F(3, 5), F(2, 5), True, True, stream=0), ValueError,
     r"argument 'b': op\(a\) has shape \(2, 3\).*\(transposed\)"),
    (lambda m: m.gemm(F(2, 3), F(3, 5), F(2, 5, read_only=True), stream=0), ValueError,
     r"\[gemm\] argument 'c': array is read-only"),
    (lambda m: m.gemm(F(2, 3, strides=(4, 8)), F(3, 5), F(2, 5), stream=0), ValueError,
     r"argument 'a': expected rows with unit stride"),
    (lambda m: m.gemm(F(2, 3, ptr=(1 << 20) + 2), F(3, 5), F(2, 5), stream=0), ValueError,
     r"argument 'a': array is not aligned"),
    (lambda m: m.gemm(F(2, 3, typestr="<i2"), F(3, 5), F(2, 5), stream=0), TypeError,
     r"argument 'a': unsupported dtype '<i2'"),
    (lambda m: m.gemm(F(2, 3, typestr=">f4"), F(3, 5), F(2, 5), stream=0), TypeError,
     r"argument 'a': unsupported dtype '>f4'"),
    (lambda m: m.gemm(F(2, 3, mask=F(2, 3)), F(3, 5), F(2, 5), stream=0), ValueError,
     r"argument 'a': masked arrays are not supported"),
    (lambda m: m.gemm_batched(F(2, 3, 4), F(3, 4, 5), F(2, 3, 5), stream=0), ValueError,
     r"\[gemm_batched\] argument 'b': expected a batch of 2 \(or 1\)"),
    (lambda m: m.activation_forward(F(4, 5), F(4, 6), ACT["relu"], stream=0), ValueError,
     r"\[activation_forward\] argument 'y': expected the shape of 'x' \(4, 5\), got \(4, 6\)"),
    (lambda m: m.activation_forward(F(4, 5), F(4, 5), 12, stream=0), ValueError,
     r"argument 'kind': expected an activation code in \[0, 12\)"),
    (lambda m: m.activation_forward(F(4, 5, strides=(4, 16)), F(4, 5), 1, stream=0), ValueError,
     r"argument 'x': expected a C-contiguous array"),
    (lambda m: m.activation_backward(None, None, F(4, 5), F(4, 5), ACT["gelu"], stream=0),
     ValueError, r"argument 'x': the 'gelu' activation needs its input x"),
    (lambda m: m.activation_backward(None, F(4, 5, ptr=1 << 21), F(4, 5),
                                     F(4, 5, ptr=(1 << 20) + 4), ACT["tanh"], stream=0),
     ValueError, r"argument 'dx': may be the same array as 'dy'"),
    (lambda m: m.dense_forward(F(8, 3), F(3, 4), F(5), None, F(8, 4), 0, stream=0), ValueError,
     r"\[dense_forward\] argument 'b': expected shape \(4,\), got \(5,\)"),
    (lambda m: m.dense_backward(F(8, 3), F(3, 4), None, None, F(8, 4), None, F(3, 4), None,
                                None, ACT["relu"], stream=0),
     ValueError, r"\[dense_backward\] argument 'y': the 'relu' activation differentiates"),
    (lambda m: m.reduce_sum(F(4, 5), F(5), 1, stream=0), ValueError,
     r"\[reduce_sum\] argument 'out': expected shape \(4,\)"),
    (lambda m: m.reduce_max(F(4, 0), F(4), 1, stream=0), ValueError,
     r"\[reduce_max\] argument 'x': cannot take the maximum over an empty axis"),
    (lambda m: m.sparse_categorical_crossentropy(F(6, 3), F(6), F(6), None, True, stream=0),
     TypeError, r"argument 'labels': expected dtype int32 or int64, got float32"),
    (lambda m: m.categorical_crossentropy(F(6, 3), F(6, 3), F(5), None, True, stream=0),
     ValueError, r"\[categorical_crossentropy\] argument 'loss': expected shape \(6,\)"),
    (lambda m: m.binary_crossentropy(F(6, 3), F(6, 3), F(6), None, False, 1.5, stream=0),
     ValueError, r"argument 'label_smoothing': expected a value in \[0, 1\]"),
    (lambda m: m.mean_squared_error(F(6, 3), F(6, 2), F(6), None, stream=0), ValueError,
     r"\[mean_squared_error\] argument 'y_true': expected the shape of 'y_pred'"),
    (lambda m: m.adam_step([F(3), F(4)], [F(3)], [F(3), F(4)], [F(3), F(4)], None, 1e-3, 0.9,
                           0.999, 1e-7, 1, stream=0),
     ValueError, r"\[adam_step\] argument 'grads': expected a list of 2 arrays"),
    (lambda m: m.adam_step([F(3), F(4)], [F(3), F(5)], [F(3), F(4)], [F(3), F(4)], None, 1e-3,
                           0.9, 0.999, 1e-7, 1, stream=0),
     ValueError, r"argument 'grads\[1\]': expected the shape of 'params\[1\]' \(4,\), got \(5,\)"),
    (lambda m: m.sgd_step([F(3)], [F(3)], None, 0.1, 0.9, False, stream=0), ValueError,
     r"\[sgd_step\] argument 'momenta': expected a list of arrays"),
    (lambda m: m.rmsprop_step([np.zeros(3, np.float32)], [F(3)], [F(3)], None, None, 1e-3, 0.9,
                              1e-7, 0.0, False, stream=0),
     TypeError, r"argument 'params\[0\]': expected a cupy array"),
    # Outputs sharing memory with inputs (the fakes share one address unless given another).
    (lambda m: m.gemm(F(2, 3), F(3, 5, ptr=1 << 24), F(2, 5), stream=0), ValueError,
     r"\[gemm\] argument 'c': must not share memory with 'a'"),
    (lambda m: m.gemm_batched(F(2, 3, 4, ptr=1 << 24), F(2, 4, 5), F(2, 3, 5), stream=0),
     ValueError, r"\[gemm_batched\] argument 'c': must not share memory with 'b'"),
    (lambda m: m.mean_squared_error(F(6, 3), F(6, 3, ptr=1 << 24), F(6, ptr=1 << 25),
                                    F(6, 3, ptr=(1 << 24) + 8), stream=0),
     ValueError, r"\[mean_squared_error\] argument 'grad': must not share memory with 'y_true'"),
    (lambda m: m.adadelta_step([F(3)], [F(3, ptr=1 << 24)], [F(3, ptr=1 << 25)],
                               [F(3, ptr=(1 << 25) + 4)], 1.0, 0.95, 1e-7, stream=0),
     ValueError, r"\[adadelta_step\] argument 'accumulated_deltas\[0\]': must not share memory "
                 r"with 'accumulated_grads\[0\]'"),
    (lambda m: m.lion_step([F(3)], [F(3, ptr=1 << 24)], [F(3)], 1e-3, 0.9, 0.99, stream=0),
     ValueError, r"\[lion_step\] argument 'ms\[0\]': must not share memory with 'params\[0\]'"),
    # Labels: the dtype message names the integer types; ignore_class is an integer or None.
    (lambda m: m.sparse_categorical_crossentropy(F(6, 3), F(6, typestr="|u1"), F(6), None, True,
                                                 stream=0),
     TypeError, r"argument 'labels': unsupported dtype '\|u1' \(expected int32 or int64\)"),
    (lambda m: m.sparse_categorical_crossentropy(F(6, 3), F(6, typestr="<i8", ptr=1 << 24),
                                                 F(6, ptr=1 << 25), None, True,
                                                 ignore_class=2.5, stream=0),
     TypeError, r"argument 'ignore_class': expected None or an integer, got float"),
])
def test_arguments_are_checked_before_any_cuda_call(cuda_mod, call, error, message):
    with pytest.raises(error, match=message):
        call(cuda_mod)


@needs_build
def test_interface_must_be_a_well_formed_dict(cuda_mod):
    class NotADict:
        __cuda_array_interface__ = [1, 2]

    with pytest.raises(ValueError, match=r"argument 'a': invalid __cuda_array_interface__: not a"):
        cuda_mod.gemm(NotADict(), F(3, 5), F(2, 5), stream=0)
    no_version = F(2, 3)
    del no_version.__cuda_array_interface__["version"]
    with pytest.raises(ValueError, match=r"invalid __cuda_array_interface__: no 'version'"):
        cuda_mod.gemm(no_version, F(3, 5), F(2, 5), stream=0)


@needs_build
def test_stream_entries_are_exactly_the_entries_taking_a_stream(cuda_mod):
    taking_stream = {name for name in dir(cuda_mod)
                     if callable(getattr(cuda_mod, name)) and "stream:" in
                     (getattr(cuda_mod, name).__doc__ or "").split("\n")[0]}
    assert set(cuda_mod.STREAM_ENTRIES) == taking_stream
    # Every CUDA entry has a CPU twin of the same name.
    assert all(hasattr(_cpu, name) for name in cuda_mod.STREAM_ENTRIES)
    assert cuda_mod.ACTIVATIONS == _cpu.ACTIVATIONS


@needs_build
def test_kernels_shim_passes_the_current_stream_and_names_missing_kernels(cuda_mod):
    """lamina.cuda's shim with a stand-in for cupy: the call reaches the C++ checks (so the
    stream keyword was accepted), and a kernel _cuda lacks is a clear AttributeError."""

    class Stream:
        ptr = 0

    class FakeCupy:
        class cuda:
            @staticmethod
            def get_current_stream():
                return Stream()

    K = L.cuda._StreamKernels(cuda_mod, FakeCupy)
    with pytest.raises(ValueError, match=r"\[gemm\] argument 'c': expected shape \(2, 5\)"):
        K.gemm(F(2, 3), F(3, 5), F(2, 4))
    with pytest.raises(ValueError, match=r"\[reduce_sum\] argument 'out'"):
        K.reduce_sum(F(4, 5), F(5), axis=1, mean=True)
    assert K.ACTIVATIONS == _cpu.ACTIVATIONS
    assert not hasattr(K, "conv2d_forward")
    with pytest.raises(AttributeError, match="no kernel 'conv2d_forward' yet"):
        K.conv2d_forward


def test_kernels_without_gpu_is_a_clear_error():
    if GPU:
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="CUDA is not available: "):
        L.cuda.kernels()


# ---------------------------------------------------------------------------------------------
# Kernels on the GPU, against lamina._cpu
# ---------------------------------------------------------------------------------------------

def _cupy():
    import cupy
    return cupy


def _to_gpu(a):
    if isinstance(a, np.ndarray):
        return _cupy().asarray(a)
    if isinstance(a, list):
        return [_to_gpu(x) for x in a]
    return a


def _copy(a):
    if isinstance(a, np.ndarray):
        return a.copy()
    if isinstance(a, list):
        return [_copy(x) for x in a]
    return a


def _flat(args):
    for a in args:
        if isinstance(a, list):
            yield from _flat(a)
        elif a is not None and hasattr(a, "shape"):
            yield a


def compare_with_cpu(name, *args, rtol, atol, **kwargs):
    """Runs lamina._cpu.<name> on numpy copies of `args` and the CUDA kernel on cupy copies, then
    compares every array argument afterwards (inputs unchanged, outputs equal)."""
    cpu_args, gpu_args = _copy(list(args)), _to_gpu(list(args))
    ret_cpu = getattr(_cpu, name)(*cpu_args, **kwargs)
    ret_gpu = getattr(L.cuda.kernels(), name)(*gpu_args, **kwargs)
    _cupy().cuda.get_current_stream().synchronize()
    for i, (c, g) in enumerate(zip(_flat(cpu_args), _flat(gpu_args))):
        np.testing.assert_allclose(_cupy().asnumpy(g), c, rtol=rtol, atol=atol, equal_nan=True,
                                   err_msg=f"{name}: array argument {i}")
    return ret_cpu, ret_gpu


def tol(dtype, f32=(5e-5, 5e-6), f64=(1e-10, 1e-12)):
    return dict(zip(("rtol", "atol"), f32 if np.dtype(dtype) == np.float32 else f64))


def nans(shape, dtype):
    return np.full(shape, np.nan, dtype=dtype)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


GEMM_SHAPES = [(1, 1, 1), (5, 3, 7), (130, 129, 9), (64, 300, 257), (1, 513, 1), (257, 1, 130),
               (4, 6, 0)]


@needs_gpu
@pytest.mark.parametrize("M, N, K", GEMM_SHAPES)
@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (True, False), (False, True),
                                              (True, True)])
@pytest.mark.parametrize("alpha, beta", [(1.0, 0.0), (0.5, 2.0)])
def test_gemm_matches_cpu(rng, dtype, M, N, K, trans_a, trans_b, alpha, beta):
    a = rng.standard_normal((K, M) if trans_a else (M, K)).astype(dtype)
    b = rng.standard_normal((N, K) if trans_b else (K, N)).astype(dtype)
    c = nans((M, N), dtype) if beta == 0 else rng.standard_normal((M, N)).astype(dtype)
    compare_with_cpu("gemm", a, b, c, trans_a, trans_b, alpha, beta,
                     **tol(dtype, f32=(1e-4, 1e-4)))


@needs_gpu
def test_gemm_accepts_column_slices(rng):
    cp = _cupy()
    wide = rng.standard_normal((33, 50)).astype(np.float32)
    b = rng.standard_normal((20, 7)).astype(np.float32)
    c = cp.zeros((33, 7), np.float32)
    L.cuda.kernels().gemm(cp.asarray(wide)[:, 5:25], cp.asarray(b), c)
    np.testing.assert_allclose(c.get(), wide[:, 5:25] @ b, rtol=1e-4, atol=1e-4)


@needs_gpu
@pytest.mark.parametrize("batch_a, batch_b", [(3, 3), (1, 3), (3, 1)])
def test_gemm_batched_matches_cpu(rng, dtype, batch_a, batch_b):
    a = rng.standard_normal((batch_a, 17, 9)).astype(dtype)
    b = rng.standard_normal((batch_b, 9, 140)).astype(dtype)
    c = nans((3, 17, 140), dtype)
    compare_with_cpu("gemm_batched", a, b, c, **tol(dtype, f32=(1e-4, 1e-4)))


@needs_gpu
def test_gemm_runs_on_the_current_cupy_stream(rng):
    cp = _cupy()
    a = cp.asarray(rng.standard_normal((300, 200)).astype(np.float32))
    b = cp.asarray(rng.standard_normal((200, 100)).astype(np.float32))
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        c = cp.empty((300, 100), np.float32)
        L.cuda.kernels().gemm(a, b, c)
        stream.synchronize()
    np.testing.assert_allclose(c.get(), a.get() @ b.get(), rtol=1e-4, atol=1e-4)


ACT_SHAPES = [(1, 1), (7, 33), (3, 4, 129)]
ACT_CASES = [(name, None) for name in ACT] + [("elu", 0.5), ("elu", -0.5), ("leaky_relu", 0.1),
                                              ("leaky_relu", -0.3)]


@needs_gpu
@pytest.mark.parametrize("shape", ACT_SHAPES)
@pytest.mark.parametrize("name, alpha", ACT_CASES)
def test_activations_match_cpu(rng, dtype, shape, name, alpha):
    code = ACT[name]
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    x.reshape(-1)[0] = 0  # the kink of relu and friends
    y = nans(shape, dtype)
    compare_with_cpu("activation_forward", x, y, code, alpha, **tol(dtype))
    _cpu.activation_forward(x, y, code, alpha)
    dy = rng.standard_normal(shape).astype(dtype)
    needs_x = _cpu.activation_needs_input(code, alpha)
    compare_with_cpu("activation_backward", x if needs_x else None, None if needs_x else y, dy,
                     nans(shape, dtype), code, alpha, **tol(dtype))


@needs_gpu
@pytest.mark.parametrize("name", ["relu", "softmax", "linear"])
def test_activations_in_place(rng, name):
    cp = _cupy()
    x = (3 * rng.standard_normal((5, 40))).astype(np.float32)
    expected = nans(x.shape, np.float32)
    _cpu.activation_forward(x, expected, ACT[name])
    xg = cp.asarray(x)
    L.cuda.kernels().activation_forward(xg, xg, ACT[name])
    np.testing.assert_allclose(xg.get(), expected, rtol=5e-5, atol=5e-6)


DENSE_SHAPES = [(1, 1, 1), (7, 5, 3), (130, 33, 257), (64, 784, 10)]


@needs_gpu
@pytest.mark.parametrize("N, F, U", DENSE_SHAPES)
@pytest.mark.parametrize("name, alpha", [("linear", None), ("relu", None), ("softmax", None),
                                         ("gelu", None), ("leaky_relu", -0.2), ("tanh", None)])
@pytest.mark.parametrize("bias, keep_z", [(True, True), (False, False), (True, False)])
def test_dense_matches_cpu(rng, dtype, N, F, U, name, alpha, bias, keep_z):
    code = ACT[name]
    x = rng.standard_normal((N, F)).astype(dtype)
    w = (rng.standard_normal((F, U)) / np.sqrt(F)).astype(dtype)
    b = rng.standard_normal(U).astype(dtype) if bias else None
    needs_z = _cpu.activation_needs_input(code, alpha)
    keep_z = keep_z or needs_z
    z = nans((N, U), dtype) if keep_z else None
    t = tol(dtype, f32=(2e-4, 2e-5))
    compare_with_cpu("dense_forward", x, w, b, z, nans((N, U), dtype), code, alpha, **t)
    z = nans((N, U), dtype) if keep_z else None
    y = nans((N, U), dtype)
    _cpu.dense_forward(x, w, b, z, y, code, alpha)
    dy = rng.standard_normal((N, U)).astype(dtype)
    compare_with_cpu("dense_backward", x, w, z if needs_z else None, None if needs_z else y, dy,
                     nans((N, F), dtype), nans((F, U), dtype),
                     nans(U, dtype) if bias else None,
                     None if code == 0 else nans((N, U), dtype), code, alpha, **t)


@needs_gpu
def test_dense_gradient_check_on_the_gpu(rng):
    """Float64 finite differences through lamina.ops.dense with cupy weights and inputs."""
    cp = _cupy()
    x0 = rng.standard_normal((3, 4))
    w0 = rng.standard_normal((4, 5))
    b0 = rng.standard_normal(5)
    r = cp.asarray(rng.standard_normal((3, 5)))
    xs = [L.Variable(cp.asarray(a)) for a in (x0, w0, b0)]
    with L.GradientTape() as tape:
        out = L.ops.nn.dense(xs[0], xs[1], xs[2], "gelu")
        total = L.ops.sum(L.ops.multiply(out, L.Tensor(r)))
    grads = tape.gradient(total, xs)
    eps = 1e-6
    for v, g in zip(xs, grads):
        assert isinstance(g.data, cp.ndarray)
        flat = v.data.reshape(-1)
        numeric = np.zeros(flat.size)
        for i in range(flat.size):
            keep = float(flat[i])
            values = []
            for step in (eps, -eps):
                flat[i] = keep + step
                values.append(float((L.ops.nn.dense(xs[0], xs[1], xs[2], "gelu").data * r).sum()))
            flat[i] = keep
            numeric[i] = (values[0] - values[1]) / (2 * eps)
        np.testing.assert_allclose(g.data.get().reshape(-1), numeric, rtol=1e-6, atol=1e-8)


@needs_gpu
@pytest.mark.parametrize("shape, axis", [((1,), 0), ((7,), 0), ((5, 33), 1), ((5, 33), 0),
                                         ((3, 4, 129), 1), ((3, 4, 129), -1), ((2, 0, 3), 1),
                                         ((100000,), 0)])
@pytest.mark.parametrize("mean", [False, True])
def test_reduce_sum_matches_cpu(rng, dtype, shape, axis, mean):
    x = rng.standard_normal(shape).astype(dtype)
    out_shape = shape[:axis % len(shape)] + shape[axis % len(shape) + 1:]
    compare_with_cpu("reduce_sum", x, nans(out_shape, dtype), axis, mean,
                     **tol(dtype, f32=(1e-5, 1e-5)))


@needs_gpu
@pytest.mark.parametrize("shape, axis", [((1,), 0), ((5, 33), 1), ((5, 33), 0), ((3, 4, 129), 1)])
def test_reduce_max_matches_cpu(rng, dtype, shape, axis):
    x = rng.standard_normal(shape).astype(dtype)
    x.reshape(-1)[-1] = np.nan  # NaN propagates
    out_shape = shape[:axis] + shape[axis + 1:]
    compare_with_cpu("reduce_max", x, nans(out_shape, dtype), axis, rtol=0, atol=0)


LOSS_SHAPES = [(1, 1), (5, 3), (32, 10), (4, 7, 5), (3, 100)]
DENSE_LOSSES = [
    ("categorical_crossentropy", (False, 0.0)), ("categorical_crossentropy", (True, 0.0)),
    ("categorical_crossentropy", (False, 0.1)), ("categorical_crossentropy", (True, 0.2)),
    ("binary_crossentropy", (False, 0.0)), ("binary_crossentropy", (True, 0.3)),
    ("mean_squared_error", ()), ("mean_absolute_error", ()), ("huber", (0.7,)), ("log_cosh", ()),
    ("mean_absolute_percentage_error", ()), ("mean_squared_logarithmic_error", ()),
    ("poisson", ()), ("kl_divergence", ()), ("hinge", ()), ("squared_hinge", ()),
]


@needs_gpu
@pytest.mark.parametrize("shape", LOSS_SHAPES)
@pytest.mark.parametrize("name, options", DENSE_LOSSES)
@pytest.mark.parametrize("with_grad", [True, False])
def test_losses_match_cpu(rng, dtype, shape, name, options, with_grad):
    probabilities = name in ("categorical_crossentropy", "binary_crossentropy") and \
        not options[0] or name in ("kl_divergence", "poisson", "mean_squared_logarithmic_error")
    y_pred = rng.uniform(1e-3, 1, shape) if probabilities else rng.standard_normal(shape) * 2
    y_true = rng.uniform(0, 1, shape)
    if name in ("hinge", "squared_hinge"):
        y_true = rng.integers(0, 2, shape).astype(float)
    rows = shape[:-1] if len(shape) > 2 else (shape[0],)
    compare_with_cpu(name, y_pred.astype(dtype), y_true.astype(dtype), nans(rows, dtype),
                     nans(shape, dtype) if with_grad else None, *options,
                     **tol(dtype, f32=(1e-4, 1e-5)))


@needs_gpu
@pytest.mark.parametrize("shape", LOSS_SHAPES)
@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("label_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("ignore_class", [None, 1])
def test_sparse_categorical_crossentropy_matches_cpu(rng, dtype, shape, from_logits, label_dtype,
                                                      ignore_class):
    y_pred = rng.standard_normal(shape) * 2 if from_logits else rng.uniform(1e-3, 1, shape)
    rows = shape[:-1] if len(shape) > 2 else (shape[0],)
    labels = rng.integers(0, shape[-1], rows).astype(label_dtype)
    compare_with_cpu("sparse_categorical_crossentropy", y_pred.astype(dtype), labels,
                     nans(rows, dtype), nans(shape, dtype), from_logits, ignore_class,
                     **tol(dtype, f32=(1e-4, 1e-5)))


@needs_gpu
def test_sparse_label_out_of_range_raises_and_writes_nothing():
    cp = _cupy()
    y_pred = cp.asarray(np.full((4, 3), 0.3, np.float32))
    labels = cp.asarray(np.array([0, 2, 3, 1], np.int64))
    loss = cp.full(4, 7.0, np.float32)
    with pytest.raises(ValueError, match=r"label 3 at index 2 is out of range for 3 classes"):
        L.cuda.kernels().sparse_categorical_crossentropy(y_pred, labels, loss, None, False)
    assert (loss.get() == 7.0).all()


OPTIMIZER_CASES = [
    ("sgd_step", ["momenta"], dict(lr=0.1, momentum=0.0, nesterov=False)),
    ("sgd_step", ["momenta"], dict(lr=0.1, momentum=0.9, nesterov=False, weight_decay=0.01)),
    ("sgd_step", ["momenta"], dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("rmsprop_step", ["velocities", "momenta", "average_grads"],
     dict(lr=1e-3, rho=0.9, epsilon=1e-7, momentum=0.0, centered=False)),
    ("rmsprop_step", ["velocities", "momenta", "average_grads"],
     dict(lr=1e-3, rho=0.9, epsilon=1e-7, momentum=0.5, centered=True)),
    ("adam_step", ["ms", "vs", "vhats"],
     dict(lr=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-7, step=3)),
    ("adam_step", ["ms", "vs", "vhats"],
     dict(lr=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-7, step=1, amsgrad=True,
          weight_decay=0.004)),
    ("adagrad_step", ["accumulators"], dict(lr=1e-2, epsilon=1e-7)),
    ("adamax_step", ["ms", "us"], dict(lr=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-7, step=2)),
    ("nadam_step", ["ms", "vs"],
     dict(lr=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-7, step=2, u_product=0.9 * 0.5)),
]


@needs_gpu
@pytest.mark.parametrize("name, slots, options", OPTIMIZER_CASES)
def test_optimizers_match_cpu_in_one_call_over_many_tensors(rng, name, slots, options):
    # Sizes around the 4096-element chunk, a scalar-like tensor, and both dtypes in one call.
    shapes = [(1,), (3, 5), (4096,), (4097,), (70, 300)]
    dtypes = [np.float32, np.float64, np.float32, np.float64, np.float32]
    params = [rng.standard_normal(s).astype(d) for s, d in zip(shapes, dtypes)]
    grads = [rng.standard_normal(s).astype(d) for s, d in zip(shapes, dtypes)]
    states = {k: [np.abs(rng.standard_normal(s)).astype(d) for s, d in zip(shapes, dtypes)]
              for k in slots}
    ret_cpu, ret_gpu = compare_with_cpu(name, params, grads, *states.values(), **options,
                                        rtol=1e-5, atol=1e-7)
    if name == "nadam_step":
        assert ret_gpu == pytest.approx(ret_cpu)
