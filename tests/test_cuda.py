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
import re

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
    assert not hasattr(K, "ctc_beam_search")  # decoding stays on the host (ops/ctc.py)
    with pytest.raises(AttributeError, match="no kernel 'ctc_beam_search' yet"):
        K.ctc_beam_search


class Arrays:
    """Makes the arguments of one call for either module: zero-filled numpy arrays for
    lamina._cpu, fake device arrays (each at its own address) for lamina._cuda. ``alias``
    gives an array sharing the memory of another, on both."""

    def __init__(self, device):
        self.device = device
        self._next = 1 << 24

    def __call__(self, *shape, dtype=np.float32):
        if self.device == "cpu":
            return np.zeros(shape, dtype)
        self._next += 1 << 24
        return FakeDeviceArray(shape, typestr=np.dtype(dtype).str, ptr=self._next)

    def alias(self, of, *shape):
        if self.device == "cpu":
            return of.reshape(-1)[:int(np.prod(shape))].reshape(shape)
        iface = of.__cuda_array_interface__
        return FakeDeviceArray(shape, typestr=iface["typestr"], ptr=iface["data"][0])


I32, I64, F64 = np.int32, np.int64, np.float64
VALID = (1, 1, 0, 0, 0, 0, 1, 1, 1)  # strides, pads (top, bottom, left, right), dilation, groups
POOL2 = (2, 2, 2, 2, 0, 0, 0, 0)     # pool, strides, pads

# (entry, arguments for an Arrays maker, the message both modules must raise): every entry of
# the conv, pooling, batch-norm, embedding and CTC families, through checks of shapes, dtypes,
# geometry, optional arguments and memory overlap.
TWIN_CHECKS = [
    ("conv2d_forward", lambda A: (A(2, 5, 5, 3), A(3, 3, 3, 4), None, A(2, 3, 3, 5), *VALID, 0),
     r"\[conv2d_forward\] argument 'y': expected shape \(2, 3, 3, 4\), got \(2, 3, 3, 5\)"),
    ("conv2d_forward", lambda A: (A(2, 5, 5, 3), A(3, 3, 3, 4), None, A(2, 3, 3, 4), 1, 1, 0, 0,
                                  0, 0, 1, 1, 2, 0),
     r"argument 'kernel': input has 3 channels and groups=2"),
    ("conv2d_forward", lambda A: (A(2, 5, 5, 3), A(3, 3, 3, 4), None, A(2, 3, 3, 4), 0, 1, 0, 0,
                                  0, 0, 1, 1, 1, 0),
     r"argument 'strides': expected positive strides, got \(0, 1\)"),
    ("conv2d_forward", lambda A: (A(2, 5, 5, 3), A(3, 3, 3, 4), A(5), A(2, 3, 3, 4), *VALID, 0),
     r"argument 'bias': expected shape \(4,\), got \(5,\)"),
    ("conv2d_forward", lambda A: (A(2, 5, 5, 3), A(3, 3, 3, 4), None, A(2, 3, 3, 4), *VALID, 2),
     r"argument 'activation': expected 0 \(linear\) or 1 \(relu\), got 2"),
    ("conv2d_forward", lambda A: (A(1, 2, 2, 1), A(3, 3, 1, 1), None, A(1, 1, 1, 1), *VALID, 0),
     r"argument 'kernel': the dilated kernel \(3, 3\) is larger than the padded input"),
    ("conv2d_forward", lambda A: (A(2, 5, 5, 3), A(3, 3, 3, 4, dtype=F64), None, A(2, 3, 3, 4),
                                  *VALID, 0),
     r"argument 'kernel': expected dtype float32, got float64"),
    ("conv2d_backward", lambda A: (None, A(3, 3, 3, 4), None, A(2, 3, 3, 4), None, A(3, 3, 3, 4),
                                   None, *VALID, 0),
     r"\[conv2d_backward\] argument 'x': needed to compute dkernel"),
    ("conv2d_backward", lambda A: (A(2, 5, 5, 3), None, None, A(2, 3, 3, 4), A(2, 5, 5, 3), None,
                                   None, *VALID, 0),
     r"argument 'kernel': needed to compute dx"),
    ("conv2d_backward", lambda A: (A(2, 5, 5, 3), A(3, 3, 3, 4), None, A(2, 3, 3, 4), None, None,
                                   A(4), *VALID, 1),
     r"argument 'y': needed for the relu derivative"),
    ("conv2d_backward", lambda A: (A(2, 5, 5, 3), A(3, 3, 3, 4), None, A(2, 3, 3, 4), None, None,
                                   A(3), *VALID, 0),
     r"argument 'dbias': expected shape \(4,\), got \(3,\)"),
    ("conv2d_backward", lambda A: (A(2, 5, 5, 3), A(3, 3, 3, 4), None, A(2, 3, 3, 4),
                                   A(2, 5, 5, 3, dtype=F64), None, None, *VALID, 0),
     r"argument 'dx': expected dtype float32, got float64"),
    ("conv2d_backward", lambda A: (A(2, 5, 5, 3), A(3, 3, 3, 4), None, A(2, 3, 3, 4),
                                   A(2, 5, 4, 3), None, None, *VALID, 0),
     r"argument 'dx': expected the shape of 'x' \(2, 5, 5, 3\), got \(2, 5, 4, 3\)"),
    ("conv2d_backward", lambda A: (lambda dy: (A(2, 5, 5, 3), A(3, 3, 3, 4), None, dy, None, None,
                                               A.alias(dy, 4), *VALID, 0))(A(2, 3, 3, 4)),
     r"argument 'dbias': must not share memory with 'dy'"),
    ("max_pool2d_forward", lambda A: (A(2, 5, 5, 3), A(2, 3, 3, 3), None, 2, 2, 2, 2, 2, 0, 0, 0),
     r"\[max_pool2d_forward\] argument 'padding': expected pads in \[0, pool size\), got "
     r"\(2, 0, 0, 0\) for pool \(2, 2\)"),
    ("max_pool2d_forward", lambda A: (A(2, 5, 5, 3), A(2, 2, 2, 3), A(2, 2, 2, 3), *POOL2),
     r"argument 'argmax': expected dtype int32, got float32"),
    ("max_pool2d_forward", lambda A: (A(2, 5, 5, 3), A(2, 3, 2, 3), None, *POOL2),
     r"argument 'y': expected shape \(2, 2, 2, 3\), got \(2, 3, 2, 3\)"),
    ("max_pool2d_backward", lambda A: (A(2, 2, 2, 3), A(2, 2, 3, 3, dtype=I32), A(2, 5, 5, 3),
                                       *POOL2),
     r"\[max_pool2d_backward\] argument 'argmax': expected the shape of 'dy'"),
    ("max_pool2d_backward", lambda A: (A(2, 2, 2, 3), A(2, 2, 2, 3, dtype=I32), A(2, 5, 5, 4),
                                       *POOL2),
     r"argument 'dy': expected shape \(2, 2, 2, 4\), got \(2, 2, 2, 3\)"),
    ("avg_pool2d_forward", lambda A: (A(1, 1, 1, 2), A(1, 1, 1, 2), 2, 2, 1, 1, 0, 0, 0, 0),
     r"\[avg_pool2d_forward\] argument 'pool_size': the pool \(2, 2\) is larger than the "
     r"padded input \(1, 1\)"),
    ("avg_pool2d_forward", lambda A: (A(2, 5, 5, 3), A(2, 2, 2, 3, dtype=F64), *POOL2),
     r"argument 'y': expected dtype float32, got float64"),
    ("avg_pool2d_backward", lambda A: (A(2, 2, 2, 3), A(2, 5, 5, 3), 0, 2, 2, 2, 0, 0, 0, 0),
     r"\[avg_pool2d_backward\] argument 'pool_size': expected positive sizes, got \(0, 2\)"),
    ("avg_pool2d_backward", lambda A: (lambda dy: (dy, A.alias(dy, 2, 5, 5, 3), *POOL2))(
        A(2, 5, 5, 3)),
     r"argument 'dy': expected shape \(2, 2, 2, 3\), got \(2, 5, 5, 3\)"),
    ("batchnorm_forward_training", lambda A: (A(0, 3), None, None, 1e-3, A(0, 3), A(3), A(3)),
     r"\[batchnorm_forward_training\] argument 'x': batch statistics need at least one row"),
    ("batchnorm_forward_training", lambda A: (A(4, 3), None, None, 0.0, A(4, 3), A(3), A(3)),
     r"argument 'epsilon': expected > 0, got 0"),
    ("batchnorm_forward_training", lambda A: (A(4, 3), A(3, dtype=F64), None, 1e-3, A(4, 3), A(3),
                                              A(3)),
     r"argument 'gamma': expected dtype float32, got float64"),
    ("batchnorm_forward_training", lambda A: (lambda x: (x, None, None, 1e-3, A.alias(x, 4, 3),
                                                         A(3), A(3)))(A(4, 3)),
     r"argument 'y': must not share memory with 'x'"),
    ("batchnorm_forward_inference", lambda A: (A(4, 3), None, None, A(4), A(3), 1e-3, A(4, 3)),
     r"\[batchnorm_forward_inference\] argument 'mean': expected shape \(3,\), got \(4,\)"),
    ("batchnorm_forward_inference", lambda A: (A(4, 3, 2), None, None, A(3), A(3), 1e-3,
                                               A(4, 3, 2)),
     r"argument 'x': expected a 2-D array, got shape \(4, 3, 2\)"),
    ("batchnorm_backward", lambda A: (A(4, 3), None, A(3), A(3), 1e-3, A(4, 3), True, A(4, 2),
                                      None, None),
     r"\[batchnorm_backward\] argument 'dx': expected the shape of 'x' \(4, 3\), got \(4, 2\)"),
    ("batchnorm_backward", lambda A: (A(4, 3), None, A(3), A(3), -1.0, A(4, 3), True, None, None,
                                      None),
     r"argument 'epsilon': expected >= 0"),
    ("embedding_forward", lambda A: (A(6), A(10, 4), A(6, 4)), r"\[embedding_forward\] "
     r"argument 'indices': expected dtype int32 or int64, got float32"),
    ("embedding_forward", lambda A: (A(2, 3, dtype=I64), A(10, 4), A(6, 5)),
     r"argument 'out': expected shape \(6, 4\), got \(6, 5\)"),
    ("embedding_backward", lambda A: (A(6, dtype=I32), A(6, 4), A(40)),
     r"\[embedding_backward\] argument 'dtable': expected a 2-D array"),
    ("embedding_backward", lambda A: (A(6, dtype=I32), A(6, 4, dtype=F64), A(10, 4)),
     r"argument 'grad': expected dtype float32, got float64"),
    ("ctc_loss", lambda A: (A(2, 5, 4), A(3, 2, dtype=I64), A(2, dtype=I64), A(2, dtype=I64), 0,
                            False, A(2), None),
     r"\[ctc_loss\] argument 'targets': expected 2 rows \(the batch of logits\)"),
    ("ctc_loss", lambda A: (A(2, 5, 4), A(2, 2, dtype=I64), A(2, dtype=I64), A(2, dtype=I64), 4,
                            False, A(2), None),
     r"argument 'mask_index': expected a class in \[0, 4\), got 4"),
    ("ctc_loss", lambda A: (A(2, 5, 4), A(2, 2, dtype=I64), A(2, dtype=I32), A(2, dtype=I64), 0,
                            False, A(2), None),
     r"argument 'target_length': expected dtype int64, got int32"),
    ("ctc_loss", lambda A: (A(2, 5, 4), A(2, 2, dtype=I32), A(2, dtype=I32), A(2, dtype=I32), 0,
                            True, A(2), A(2, 5, 3)),
     r"argument 'grad': expected the shape of 'logits' \(2, 5, 4\), got \(2, 5, 3\)"),
]


@needs_build
@pytest.mark.parametrize("name, make, message", TWIN_CHECKS,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(TWIN_CHECKS)])
def test_conv_pool_norm_embedding_ctc_check_arguments_like_the_cpu(cuda_mod, name, make,
                                                                   message):
    """The CUDA entries run lamina._cpu's own checks (bindings/*_args.h): the same call raises
    the same exception with the same message on both, before any CUDA call."""
    with pytest.raises((TypeError, ValueError)) as on_cpu:
        getattr(_cpu, name)(*make(Arrays("cpu")))
    assert re.search(message, str(on_cpu.value)), str(on_cpu.value)
    with pytest.raises(on_cpu.type) as on_gpu:
        getattr(cuda_mod, name)(*make(Arrays("cuda")), stream=0)
    assert str(on_gpu.value) == str(on_cpu.value)


@needs_build
def test_new_entries_reject_host_arrays(cuda_mod):
    x = np.zeros((2, 5, 5, 3), np.float32)
    with pytest.raises(TypeError, match=r"\[conv2d_forward\] argument 'x': expected a cupy "
                                        r"array .*numpy"):
        cuda_mod.conv2d_forward(x, F(3, 3, 3, 4), None, F(2, 3, 3, 4), *VALID, 0, stream=0)
    with pytest.raises(TypeError, match=r"\[ctc_loss\] argument 'logits': expected a cupy"):
        cuda_mod.ctc_loss(np.zeros((2, 5, 4), np.float32), F(2, 2), F(2), F(2), 0, False, F(2),
                          None, stream=0)


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


def assert_matches_cpu(name, *args, rtol, atol, **kwargs):
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
    assert_matches_cpu("gemm", a, b, c, trans_a, trans_b, alpha, beta,
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
    assert_matches_cpu("gemm_batched", a, b, c, **tol(dtype, f32=(1e-4, 1e-4)))


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
    assert_matches_cpu("activation_forward", x, y, code, alpha, **tol(dtype))
    _cpu.activation_forward(x, y, code, alpha)
    dy = rng.standard_normal(shape).astype(dtype)
    needs_x = _cpu.activation_needs_input(code, alpha)
    assert_matches_cpu("activation_backward", x if needs_x else None, None if needs_x else y, dy,
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
    assert_matches_cpu("dense_forward", x, w, b, z, nans((N, U), dtype), code, alpha, **t)
    z = nans((N, U), dtype) if keep_z else None
    y = nans((N, U), dtype)
    _cpu.dense_forward(x, w, b, z, y, code, alpha)
    dy = rng.standard_normal((N, U)).astype(dtype)
    assert_matches_cpu("dense_backward", x, w, z if needs_z else None, None if needs_z else y, dy,
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
    assert_matches_cpu("reduce_sum", x, nans(out_shape, dtype), axis, mean,
                     **tol(dtype, f32=(1e-5, 1e-5)))


@needs_gpu
@pytest.mark.parametrize("shape, axis", [((1,), 0), ((5, 33), 1), ((5, 33), 0), ((3, 4, 129), 1)])
def test_reduce_max_matches_cpu(rng, dtype, shape, axis):
    x = rng.standard_normal(shape).astype(dtype)
    x.reshape(-1)[-1] = np.nan  # NaN propagates
    out_shape = shape[:axis] + shape[axis + 1:]
    assert_matches_cpu("reduce_max", x, nans(out_shape, dtype), axis, rtol=0, atol=0)


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
    assert_matches_cpu(name, y_pred.astype(dtype), y_true.astype(dtype), nans(rows, dtype),
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
    assert_matches_cpu("sparse_categorical_crossentropy", y_pred.astype(dtype), labels,
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
    ret_cpu, ret_gpu = assert_matches_cpu(name, params, grads, *states.values(), **options,
                                        rtol=1e-5, atol=1e-7)
    if name == "nadam_step":
        assert ret_gpu == pytest.approx(ret_cpu)


# -- convolution, pooling, batch normalization, embedding, CTC ----------------------------------

# (N, H, W, C, KH, KW, K, strides, pads (top, bottom, left, right), dilation, groups): every
# kernel (implicit GEMM, depthwise direct), size 1, odd sizes, strides, asymmetric and negative
# after-pads, dilation, groups, channel counts past one 64-wide tile, several kernel-gradient
# parts (P > 512 pixels), and several tiles in every direction.
CONV_GPU_CASES = [
    (1, 1, 1, 1, 1, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1),
    (2, 7, 6, 3, 3, 3, 5, (1, 1), (1, 1, 1, 1), (1, 1), 1),
    (2, 9, 8, 4, 3, 2, 6, (2, 2), (1, 1, 0, 1), (1, 1), 1),
    (1, 10, 11, 2, 3, 3, 3, (1, 1), (2, 2, 2, 2), (2, 2), 1),
    (2, 8, 8, 6, 3, 3, 4, (1, 2), (1, 1, 1, 0), (1, 1), 2),
    (2, 6, 7, 4, 3, 3, 8, (1, 1), (1, 1, 1, 1), (1, 1), 4),      # depthwise, multiplier 2
    (1, 9, 9, 3, 3, 3, 3, (2, 2), (0, 0, 0, 0), (1, 1), 3),      # depthwise, strided
    (1, 9, 6, 3, 3, 3, 6, (1, 1), (2, 2, 1, 1), (2, 1), 3),      # depthwise, dilated
    (3, 5, 5, 70, 1, 1, 67, (1, 1), (0, 0, 0, 0), (1, 1), 1),    # 1x1, > 64 channels each way
    (1, 5, 6, 3, 3, 3, 2, (2, 2), (2, -1, 2, -1), (1, 1), 1),    # negative after-pads
    (2, 17, 17, 5, 5, 5, 70, (1, 1), (2, 2, 2, 2), (1, 1), 1),   # R = 125, P = 578, K = 70
    (2, 4, 4, 17, 4, 4, 3, (1, 1), (0, 0, 0, 0), (1, 1), 1),     # kernel == input
    (40, 16, 16, 8, 3, 3, 16, (1, 1), (1, 1, 1, 1), (1, 1), 1),  # dkernel in 20 parts
    (8, 32, 32, 8, 3, 3, 8, (1, 1), (1, 1, 1, 1), (1, 1), 8),    # depthwise dkernel in parts
]
CONV_IDS = ["x".join(map(str, c[:7])) + f"-s{c[7][0]}{c[7][1]}-d{c[9][0]}{c[9][1]}-g{c[10]}"
            for c in CONV_GPU_CASES]


def _conv_case(rng, dtype, case):
    N, H, W, C, KH, KW, K, s, pads, d, G = case
    x = rng.standard_normal((N, H, W, C)).astype(dtype)
    w = rng.standard_normal((KH, KW, C // G, K)).astype(dtype)
    OH = (H + pads[0] + pads[1] - (KH - 1) * d[0] - 1) // s[0] + 1
    OW = (W + pads[2] + pads[3] - (KW - 1) * d[1] - 1) // s[1] + 1
    return x, w, (N, OH, OW, K), (*s, *pads, *d, G)


def conv_tol(dtype):
    return tol(dtype, f32=(1e-4, 1e-3), f64=(1e-9, 1e-9))


@needs_gpu
@pytest.mark.parametrize("case", CONV_GPU_CASES, ids=CONV_IDS)
@pytest.mark.parametrize("act", [0, 1], ids=["linear", "relu"])
def test_conv2d_forward_matches_cpu(rng, dtype, case, act):
    x, w, y_shape, geometry = _conv_case(rng, dtype, case)
    b = rng.standard_normal(y_shape[-1]).astype(dtype)
    assert_matches_cpu("conv2d_forward", x, w, b, nans(y_shape, dtype), *geometry, act,
                     **conv_tol(dtype))
    assert_matches_cpu("conv2d_forward", x, w, None, nans(y_shape, dtype), *geometry, act,
                     **conv_tol(dtype))


# Which gradients one backward call asks for (dx, dkernel, dbias), as the ops do: dx alone is
# conv_transpose's forward (no x), dkernel alone its kernel gradient (no kernel).
CONV_GRADS = [(True, True, True), (True, False, False), (False, True, False),
              (False, False, True)]


@needs_gpu
@pytest.mark.parametrize("case", CONV_GPU_CASES, ids=CONV_IDS)
@pytest.mark.parametrize("act", [0, 1], ids=["linear", "relu"])
@pytest.mark.parametrize("want", CONV_GRADS, ids=["all", "dx", "dkernel", "dbias"])
def test_conv2d_backward_matches_cpu(rng, dtype, case, act, want):
    x, w, y_shape, geometry = _conv_case(rng, dtype, case)
    y = nans(y_shape, dtype)
    _cpu.conv2d_forward(x, w, rng.standard_normal(y_shape[-1]).astype(dtype), y, *geometry, act)
    dy = rng.standard_normal(y_shape).astype(dtype)
    need_dx, need_dk, need_db = want
    assert_matches_cpu("conv2d_backward", x if need_dk or need_db else None,
                     w if need_dx or need_db else None, y if act else None, dy,
                     nans(x.shape, dtype) if need_dx else None,
                     nans(w.shape, dtype) if need_dk else None,
                     nans(y_shape[-1], dtype) if need_db else None, *geometry, act,
                     **conv_tol(dtype))


@needs_gpu
@pytest.mark.parametrize("case", [CONV_GPU_CASES[-2], CONV_GPU_CASES[-1]], ids=CONV_IDS[-2:])
def test_conv2d_backward_is_deterministic(rng, case):
    """The kernel and bias gradients sum fixed parts in a fixed order: the same bits twice."""
    cp = _cupy()
    x, w, y_shape, geometry = _conv_case(rng, np.float32, case)
    dy = cp.asarray(rng.standard_normal(y_shape).astype(np.float32))
    xg, wg = cp.asarray(x), cp.asarray(w)
    runs = []
    for _ in range(2):
        dx, dk, db = cp.empty_like(xg), cp.empty_like(wg), cp.empty(y_shape[-1], np.float32)
        L.cuda.kernels().conv2d_backward(xg, wg, None, dy, dx, dk, db, *geometry, 0)
        runs.append([a.get() for a in (dx, dk, db)])
    for first, second in zip(*runs):
        assert np.array_equal(first, second)


@needs_gpu
def test_conv2d_backward_with_an_empty_output_zeroes_the_gradients(rng):
    """K == 0 output channels: nothing flows back, every gradient is assigned 0 (as on the CPU)."""
    cp = _cupy()
    x = cp.asarray(rng.standard_normal((2, 5, 5, 3)).astype(np.float32))
    w = cp.zeros((3, 3, 3, 0), np.float32)
    dx, dk = cp.full(x.shape, np.nan, np.float32), cp.full(w.shape, np.nan, np.float32)
    L.cuda.kernels().conv2d_backward(x, w, None, cp.zeros((2, 3, 3, 0), np.float32), dx, dk,
                                     cp.zeros(0, np.float32), *VALID, 0)
    assert (dx.get() == 0).all()


# (N, H, W, C, pool, strides, pads): size 1, odd sizes, "same" pads (not counted in the
# average), overlapping windows (stride < pool), a global pool, mixed.
POOL_GPU_CASES = [
    (1, 1, 1, 1, (1, 1), (1, 1), (0, 0, 0, 0)),
    (2, 6, 7, 3, (2, 2), (2, 2), (0, 0, 0, 0)),
    (2, 7, 7, 5, (3, 3), (2, 2), (1, 1, 1, 1)),
    (1, 8, 9, 4, (3, 2), (1, 1), (1, 1, 0, 1)),
    (3, 5, 6, 33, (5, 6), (5, 6), (0, 0, 0, 0)),
    (2, 9, 5, 2, (4, 3), (3, 1), (2, 1, 1, 1)),
    (2, 16, 16, 300, (2, 2), (2, 2), (0, 0, 0, 0)),
]
POOL_IDS = [f"{c[1]}x{c[2]}x{c[3]}-p{c[4][0]}{c[4][1]}-s{c[5][0]}{c[5][1]}" for c in POOL_GPU_CASES]


def _pool_case(rng, dtype, case, data="normal"):
    N, H, W, C, pool, strides, pads = case
    if data == "ties":  # few distinct values: the first maximum must win, as on the CPU
        x = rng.integers(0, 3, (N, H, W, C)).astype(dtype)
    else:
        x = rng.standard_normal((N, H, W, C)).astype(dtype)
    if data == "nan":  # the window's first NaN is its maximum and takes the gradient
        x.reshape(-1)[rng.choice(x.size, max(1, x.size // 7), replace=False)] = np.nan
    OH = (H + pads[0] + pads[1] - pool[0]) // strides[0] + 1
    OW = (W + pads[2] + pads[3] - pool[1]) // strides[1] + 1
    return x, (N, OH, OW, C), (*pool, *strides, *pads)


@needs_gpu
@pytest.mark.parametrize("case", POOL_GPU_CASES, ids=POOL_IDS)
@pytest.mark.parametrize("data", ["normal", "ties", "nan"])
def test_max_pool2d_matches_cpu(rng, dtype, case, data):
    x, y_shape, geometry = _pool_case(rng, dtype, case, data)
    assert_matches_cpu("max_pool2d_forward", x, nans(y_shape, dtype),
                     np.full(y_shape, -7, np.int32), *geometry, **tol(dtype))
    assert_matches_cpu("max_pool2d_forward", x, nans(y_shape, dtype), None, *geometry,
                     **tol(dtype))
    y, argmax = nans(y_shape, dtype), np.full(y_shape, -7, np.int32)
    _cpu.max_pool2d_forward(x, y, argmax, *geometry)
    dy = rng.standard_normal(y_shape).astype(dtype)
    assert_matches_cpu("max_pool2d_backward", dy, argmax, nans(x.shape, dtype), *geometry,
                     **tol(dtype))


@needs_gpu
@pytest.mark.parametrize("case", POOL_GPU_CASES, ids=POOL_IDS)
def test_avg_pool2d_matches_cpu(rng, dtype, case):
    x, y_shape, geometry = _pool_case(rng, dtype, case)
    assert_matches_cpu("avg_pool2d_forward", x, nans(y_shape, dtype), *geometry, **tol(dtype))
    dy = rng.standard_normal(y_shape).astype(dtype)
    assert_matches_cpu("avg_pool2d_backward", dy, nans(x.shape, dtype), *geometry, **tol(dtype))


@needs_gpu
def test_max_pool2d_backward_ignores_an_argmax_outside_its_window(rng):
    """The gather cannot write outside dx: an index naming no cell of its window adds nothing
    (lamina._cpu refuses such an index on the host instead; pool2d.h says why)."""
    cp = _cupy()
    dy = cp.ones((1, 2, 2, 1), np.float32)
    argmax = cp.asarray(np.array([0, 10 ** 6, -3, 15], np.int32).reshape(1, 2, 2, 1))
    dx = cp.full((1, 4, 4, 1), np.nan, np.float32)
    L.cuda.kernels().max_pool2d_backward(dy, argmax, dx, 2, 2, 2, 2, 0, 0, 0, 0)
    expected = np.zeros((4, 4), np.float32)
    expected[0, 0] = expected[3, 3] = 1
    np.testing.assert_array_equal(dx.get().reshape(4, 4), expected)


BN_SHAPES = [(1, 1), (7, 5), (300, 33), (3000, 70)]  # 3000 rows: 12 fixed parts


@needs_gpu
@pytest.mark.parametrize("rows, C", BN_SHAPES)
@pytest.mark.parametrize("affine", [True, False], ids=["gamma-beta", "none"])
def test_batchnorm_matches_cpu(rng, dtype, rows, C, affine):
    x = (3 * rng.standard_normal((rows, C)) + 1).astype(dtype)
    gamma = rng.standard_normal(C).astype(dtype) if affine else None
    beta = rng.standard_normal(C).astype(dtype) if affine else None
    t = tol(dtype, f32=(1e-4, 1e-5))
    assert_matches_cpu("batchnorm_forward_training", x, gamma, beta, 1e-3, nans(x.shape, dtype),
                     nans(C, dtype), nans(C, dtype), **t)
    mean, var = nans(C, dtype), nans(C, dtype)
    _cpu.batchnorm_forward_training(x, gamma, beta, 1e-3, nans(x.shape, dtype), mean, var)
    assert_matches_cpu("batchnorm_forward_inference", x, gamma, beta, mean, var, 1e-3,
                     nans(x.shape, dtype), **t)
    dy = rng.standard_normal(x.shape).astype(dtype)
    for training in (True, False):
        assert_matches_cpu("batchnorm_backward", x, gamma, mean, var, 1e-3, dy, training,
                         nans(x.shape, dtype), nans(C, dtype), nans(C, dtype), **t)
    assert_matches_cpu("batchnorm_backward", x, gamma, mean, var, 1e-3, dy, True, None,
                     nans(C, dtype), None, **t)


@needs_gpu
def test_batchnorm_with_no_rows_matches_cpu(dtype):
    x = np.zeros((0, 4), dtype)
    stats = np.ones(4, dtype)
    assert_matches_cpu("batchnorm_forward_inference", x, None, None, stats, stats, 1e-3,
                     nans(x.shape, dtype), **tol(dtype))
    assert_matches_cpu("batchnorm_backward", x, None, stats, stats, 1e-3, x, True,
                     nans(x.shape, dtype), nans(4, dtype), nans(4, dtype), **tol(dtype))


# (index shape, V, D): size 1, repeated indices (V small), D past 256 threads, V past 1024
# blocks (3 rows a block).
EMBEDDING_CASES = [((1,), 1, 1), ((7,), 10, 7), ((3, 5), 10, 300), ((1000,), 3000, 7),
                   ((2000,), 5, 3)]


@needs_gpu
@pytest.mark.parametrize("shape, V, D", EMBEDDING_CASES)
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64], ids=["i32", "i64"])
def test_embedding_matches_cpu(rng, dtype, shape, V, D, index_dtype):
    idx = rng.integers(0, V, shape).astype(index_dtype)
    n = idx.size
    table = rng.standard_normal((V, D)).astype(dtype)
    assert_matches_cpu("embedding_forward", idx, table, nans((n, D), dtype), **tol(dtype))
    grad = rng.standard_normal((n, D)).astype(dtype)
    assert_matches_cpu("embedding_backward", idx, grad, nans((V, D), dtype), **tol(dtype))


@needs_gpu
@pytest.mark.parametrize("name", ["embedding_forward", "embedding_backward"])
def test_embedding_index_out_of_range_raises_the_cpu_message_and_writes_nothing(name):
    cp = _cupy()
    idx = np.array([[0, 2], [4, 1]], np.int64)
    table, rows = np.zeros((4, 3), np.float32), np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError) as on_cpu:
        getattr(_cpu, name)(idx, table, rows)
    out = cp.full((4, 3), 7.0, np.float32)
    args = (cp.asarray(idx), cp.asarray(table), out) if name == "embedding_forward" else \
        (cp.asarray(idx), cp.asarray(rows), out)
    with pytest.raises(ValueError) as on_gpu:
        getattr(L.cuda.kernels(), name)(*args)
    assert str(on_gpu.value) == str(on_cpu.value)
    assert "index 4 at flat position 2" in str(on_gpu.value)
    assert (out.get() == 7.0).all()


def _ctc_case(rng, dtype, B, T, C, L, label_dtype):
    """Random targets with repeats and blank padding inside the lengths, lengths from 0 to the
    maximum, and (with B > 1) a sample too long to align in its steps."""
    targets = rng.integers(1, C, (B, L)) if C > 1 else np.zeros((B, L), np.int64)
    if L >= 2:
        targets[0, :2] = targets[0, 0]        # a repeat: needs a blank in between
    if B > 2 and L >= 3:
        targets[2, 1] = 0                     # padding inside the length: skipped
    tlen = rng.integers(0, L + 1, B)
    olen = rng.integers(0, T + 1, B)
    tlen[0], olen[0] = L, T
    if B > 1 and L >= 2 and C > 2:
        targets[1, :2] = [1, 2]
        tlen[1], olen[1] = L, 1               # cannot align: +inf (or 0) and a zero gradient
    logits = (2 * rng.standard_normal((B, T, C))).astype(dtype)
    return logits, targets.astype(label_dtype), tlen.astype(label_dtype), olen.astype(label_dtype)


# (B, T, C, L): size 1, small, classes past 256 threads, states past 256 threads (L = 140).
CTC_CASES = [(1, 1, 2, 1), (3, 6, 4, 2), (5, 30, 7, 5), (4, 50, 40, 20), (2, 8, 300, 3),
             (2, 300, 5, 140)]


@needs_gpu
@pytest.mark.parametrize("B, T, C, Lmax", CTC_CASES)
@pytest.mark.parametrize("zero_infinity", [False, True], ids=["inf", "zero_infinity"])
@pytest.mark.parametrize("label_dtype", [np.int32, np.int64], ids=["i32", "i64"])
def test_ctc_loss_matches_cpu(rng, dtype, B, T, C, Lmax, zero_infinity, label_dtype):
    logits, targets, tlen, olen = _ctc_case(rng, dtype, B, T, C, Lmax, label_dtype)
    t = tol(dtype, f32=(1e-4, 1e-5), f64=(1e-9, 1e-11))
    for grad in (nans(logits.shape, dtype), None):
        assert_matches_cpu("ctc_loss", logits, targets, tlen, olen, 0, zero_infinity,
                         nans(B, dtype), grad, **t)


@needs_gpu
def test_ctc_loss_with_another_blank_and_an_empty_sequence(rng, dtype):
    logits, targets, tlen, olen = _ctc_case(rng, dtype, 3, 6, 5, 3, np.int64)
    targets[targets == 4] = 3  # class 4 is the blank here
    olen[2], tlen[2] = 0, 0    # no steps, no labels: loss 0
    assert_matches_cpu("ctc_loss", logits, targets, tlen, olen, 4, False, nans(3, dtype),
                     nans(logits.shape, dtype), **tol(dtype, f32=(1e-4, 1e-5)))


@needs_gpu
@pytest.mark.parametrize("bad", ["label", "target_length", "output_length"])
def test_ctc_bad_data_raises_the_cpu_message(rng, bad):
    logits, targets, tlen, olen = _ctc_case(rng, np.float32, 2, 5, 4, 2, np.int64)
    if bad == "label":
        targets[1, 0], tlen[1] = 9, 2
    elif bad == "target_length":
        tlen[1] = 3
    else:
        olen[0] = 6
    with pytest.raises(ValueError) as on_cpu:
        _cpu.ctc_loss(logits, targets, tlen, olen, 0, False, nans(2, np.float32), None)
    loss = _cupy().full(2, 7.0, np.float32)
    with pytest.raises(ValueError) as on_gpu:
        L.cuda.kernels().ctc_loss(*_to_gpu([logits, targets, tlen, olen]), 0, False, loss, None)
    assert str(on_gpu.value) == str(on_cpu.value)
    assert (loss.get() == 7.0).all()


@needs_gpu
def test_new_kernels_run_on_the_current_cupy_stream(rng):
    cp = _cupy()
    x, w, y_shape, geometry = _conv_case(rng, np.float32, CONV_GPU_CASES[2])
    expected = nans(y_shape, np.float32)
    _cpu.conv2d_forward(x, w, None, expected, *geometry, 1)
    pooled = nans((y_shape[0], y_shape[1] // 2, y_shape[2] // 2, y_shape[3]), np.float32)
    _cpu.max_pool2d_forward(expected, pooled, None, 2, 2, 2, 2, 0, 0, 0, 0)
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        y = cp.empty(y_shape, np.float32)
        p = cp.empty(pooled.shape, np.float32)
        L.cuda.kernels().conv2d_forward(cp.asarray(x), cp.asarray(w), None, y, *geometry, 1)
        L.cuda.kernels().max_pool2d_forward(y, p, None, 2, 2, 2, 2, 0, 0, 0, 0)
        stream.synchronize()
    np.testing.assert_allclose(y.get(), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(p.get(), pooled, rtol=1e-4, atol=1e-4)


# -- the ops on cupy arrays --------------------------------------------------------------------

def assert_op_matches_cpu(fn, inputs, rng, rtol=1e-4, atol=1e-4):
    """Runs fn(*Variables) on numpy inputs and on cupy copies, backpropagates the same random
    cotangent through every output, and compares outputs and input gradients. The GPU run's
    results must be cupy arrays (nothing fell back to the host)."""
    cp = _cupy()
    probe = fn(*[L.Tensor(a) for a in inputs])
    outs = probe if isinstance(probe, (list, tuple)) else [probe]
    weights = [rng.standard_normal(o.shape).astype(o.dtype) for o in outs]
    results = []
    for move in (lambda a: a, _to_gpu):
        xs = [L.Variable(move(a)) if np.issubdtype(a.dtype, np.floating) else L.Tensor(move(a))
              for a in inputs]
        with L.GradientTape() as tape:
            out = fn(*xs)
            out = out if isinstance(out, (list, tuple)) else [out]
            total = None
            for o, w in zip(out, weights):
                term = L.ops.sum(L.ops.multiply(o, L.Tensor(move(w))))
                total = term if total is None else L.ops.add(total, term)
        trainable = [x for x in xs if isinstance(x, L.Variable)]
        grads = tape.gradient(total, trainable)
        results.append(([o.data for o in out], [None if g is None else g.data for g in grads]))
    (cpu_out, cpu_grads), (gpu_out, gpu_grads) = results
    for c, g in zip(cpu_out + cpu_grads, gpu_out + gpu_grads):
        assert (c is None) == (g is None)
        if c is None:
            continue
        assert isinstance(g, cp.ndarray), type(g)
        np.testing.assert_allclose(g.get(), c, rtol=rtol, atol=atol, equal_nan=True)


def _images(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


OP_CASES = [
    ("conv2d", lambda r: [_images(r, 2, 7, 7, 3), _images(r, 3, 3, 3, 4), _images(r, 4)],
     lambda x, k, b: L.ops.conv2d(x, k, b, strides=2, padding="same", activation="relu")),
    ("conv-1d", lambda r: [_images(r, 2, 9, 3), _images(r, 3, 3, 5)],
     lambda x, k: L.ops.conv(x, k, strides=1, padding="same", dilation_rate=2)),
    ("depthwise_conv", lambda r: [_images(r, 2, 6, 6, 3), _images(r, 3, 3, 3, 2)],
     lambda x, k: L.ops.depthwise_conv(x, k, padding="same")),
    ("separable_conv", lambda r: [_images(r, 2, 6, 6, 3), _images(r, 3, 3, 3, 2),
                                  _images(r, 1, 1, 6, 4)],
     lambda x, d, p: L.ops.separable_conv(x, d, p)),
    ("conv_transpose", lambda r: [_images(r, 2, 4, 5, 3), _images(r, 3, 3, 6, 3)],
     lambda x, k: L.ops.conv_transpose(x, k, strides=2, padding="same")),
    ("max_pool", lambda r: [_images(r, 2, 7, 6, 3)],
     lambda x: L.ops.max_pool(x, 3, strides=2, padding="same")),
    ("average_pool-1d", lambda r: [_images(r, 2, 9, 3)],
     lambda x: L.ops.average_pool(x, 2, padding="same")),
    ("global_pools", lambda r: [_images(r, 2, 5, 4, 3)],
     lambda x: [L.ops.global_average_pool(x), L.ops.global_max_pool(x, keepdims=True)]),
    ("batch_norm_train", lambda r: [_images(r, 6, 3, 4), _images(r, 4), _images(r, 4)],
     lambda x, g, b: L.ops.batch_norm_train(x, g, b)[0]),
    ("batch_normalization", lambda r: [_images(r, 6, 4, 3), np.abs(_images(r, 4)),
                                       _images(r, 4)],
     lambda x, v, s: L.ops.batch_normalization(x, L.ops.mean(x, axis=(0, 2)), v, axis=1,
                                               scale=s)),
    ("embedding", lambda r: [r.integers(0, 10, (3, 4)), _images(r, 10, 5)],
     lambda i, t: L.ops.embedding(i, t)),
    ("ctc_loss", lambda r: [r.integers(1, 5, (3, 4)), _images(r, 3, 9, 5)],
     lambda t, x: L.ops.ctc_loss(t, x, np.array([4, 2, 3]), np.array([9, 7, 9]))),
]


@needs_gpu
@pytest.mark.parametrize("name, make, fn", OP_CASES, ids=[c[0] for c in OP_CASES])
def test_ops_run_on_cupy_arrays_like_on_numpy(rng, name, make, fn):
    assert_op_matches_cpu(fn, make(rng), rng)


@needs_gpu
@pytest.mark.parametrize("strategy", ["greedy", "beam_search"])
def test_ctc_decode_takes_cupy_inputs(rng, strategy):
    cp = _cupy()
    x = rng.standard_normal((3, 8, 5)).astype(np.float32)
    lengths = np.array([8, 5, 0])
    on_cpu = L.ops.ctc_decode(x, lengths, strategy=strategy, beam_width=4, top_paths=2)
    on_gpu = L.ops.ctc_decode(cp.asarray(x), cp.asarray(lengths), strategy=strategy,
                              beam_width=4, top_paths=2)
    for c, g in zip(on_cpu, on_gpu):
        assert isinstance(g, cp.ndarray)
        np.testing.assert_allclose(g.get(), c, rtol=1e-6)


def _tiny_convnet():
    layers = L.layers
    return L.Sequential([
        L.Input((8, 8, 3)),
        layers.Conv2D(4, 3, padding="same", activation="relu"),
        layers.BatchNormalization(),
        layers.MaxPooling2D(2),
        layers.Conv2D(6, 3, strides=2, padding="valid"),
        layers.Flatten(),
        layers.Dense(5),
    ])


@needs_gpu
def test_a_convnet_trains_one_step_on_the_gpu_like_on_the_cpu(rng):
    """Conv2D, BatchNormalization, MaxPooling2D and Dense inside `with L.device("gpu")`: the
    weights are cupy arrays, the step runs on lamina._cuda, and the weights after one SGD step
    (moving statistics included) equal the CPU run's."""
    cp = _cupy()
    x = rng.standard_normal((16, 8, 8, 3)).astype(np.float32)
    y = rng.integers(0, 5, 16)

    def one_step(model, xb, yb):
        with L.GradientTape() as tape:
            logits = model(xb, training=True)
            loss = L.ops.mean(L.ops.sparse_categorical_crossentropy(yb, logits,
                                                                    from_logits=True))
        params = model.trainable_weights
        L.optimizers.SGD(0.1).apply(tape.gradient(loss, params), params)
        return float(loss.numpy()) if hasattr(loss, "numpy") else float(loss.data)

    with L.device("cpu"):
        cpu_model = _tiny_convnet()
    initial = cpu_model.get_weights()
    cpu_loss = one_step(cpu_model, L.Tensor(x), y)
    with L.device("gpu"):
        gpu_model = _tiny_convnet()
        assert all(isinstance(v.data, cp.ndarray) for v in gpu_model.weights)
        for v, w in zip(gpu_model.weights, initial):
            v.data[...] = cp.asarray(w)
        gpu_loss = one_step(gpu_model, L.Tensor(cp.asarray(x)), cp.asarray(y))
    assert gpu_loss == pytest.approx(cpu_loss, rel=1e-4)
    for v, w in zip(gpu_model.weights, cpu_model.get_weights()):
        assert isinstance(v.data, cp.ndarray)
        np.testing.assert_allclose(v.data.get(), w, rtol=1e-4, atol=1e-4, err_msg=v.path)
