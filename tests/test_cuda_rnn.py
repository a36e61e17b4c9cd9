"""lamina._cuda's recurrent kernels (csrc/cuda/rnn.cu) and lamina.ops lstm / gru / simple_rnn on
cupy arrays against lamina._cpu (itself tested against the numpy oracles in tests/test_rnn.py).

  * Argument checks (need a CUDA build, no GPU): both modules run the same checking code
    (csrc/bindings/rnn_args.h), so a bad call raises the same error with the same message, and
    the entries have the same signatures plus the keyword-only `stream`.
  * Kernels (need a GPU): every entry over a grid of odd shapes (size 1 included), masks (a
    leading masked step, a fully masked row), recurrent dropout, initial states, activation
    pairs, GRU reset_after both ways, float32 and float64. Outputs are pre-filled with NaN, every
    array argument is compared afterwards (inputs unchanged, outputs equal) and a failure names
    the argument. The backward runs on the CPU forward's outputs, so it is tested on its own.
  * Ops (need a GPU and cupy): the differentiable ops on cupy arrays (go_backwards, masks given
    as numpy or cupy arrays, states, recurrent dropout, gradients) against the numpy run, and
    one training step of LSTM and GRU models under `with L.device("gpu")` against the CPU step,
    and the Keras layers on a cupy batch with a cupy mask, cupy initial states and dropout.
"""
import re
import zlib

import numpy as np
import pytest

import lamina as L
from lamina import _cpu, ops
from lamina.ops import rnn as rnn_ops
from test_cuda import BUILT, GPU, FakeDeviceArray

ACT = dict(rnn_ops.RNN_ACTIVATIONS)


class Cupy:
    """The device under test: cupy arrays through lamina.cuda.kernels() (cupy's current
    stream)."""

    @staticmethod
    def available():
        return GPU

    @staticmethod
    def kernels():
        return L.cuda.kernels()

    @staticmethod
    def to_device(a):
        import cupy
        return cupy.asarray(a)

    @staticmethod
    def to_host(a):
        return a.get()

    @staticmethod
    def synchronize():
        import cupy
        cupy.cuda.get_current_stream().synchronize()


DEVICE = Cupy


@pytest.fixture
def device():
    if not DEVICE.available():
        pytest.skip(f"no usable GPU: {L.cuda.unavailable_reason()}")
    return DEVICE


@pytest.fixture
def cuda_mod():
    if not BUILT:
        pytest.skip("lamina was built without CUDA")
    from lamina import _cuda
    return _cuda


ENTRIES = ["lstm_sequence_forward", "lstm_sequence_backward", "gru_sequence_forward",
           "gru_sequence_backward", "simple_rnn_sequence_forward", "simple_rnn_sequence_backward"]


def arg_names(name):
    """The argument names of lamina._cpu.<name>, from its signature line."""
    signature = getattr(_cpu, name).__doc__.split("\n")[0]
    return re.findall(r"(\w+): ", signature[signature.index("(") + 1:])


# ---------------------------------------------------------------------------------------------
# Argument checks without a GPU
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ENTRIES)
def test_signatures_are_the_cpu_ones_plus_stream(cuda_mod, name):
    cpu = getattr(_cpu, name).__doc__.split("\n")[0]
    gpu = getattr(cuda_mod, name).__doc__.split("\n")[0]
    assert gpu == cpu.replace(") -> None", ", *, stream: typing.SupportsInt | "
                                            "typing.SupportsIndex) -> None")
    assert name in cuda_mod.STREAM_ENTRIES


def a(*shape, dtype="f4"):
    """An array argument of a check case: numpy zeros for _cpu, a fake device array for _cuda."""
    return ("array", shape, dtype)


def view(index, offset, *shape):
    """An array sharing the memory of argument `index`, `offset` elements in."""
    return ("view", index, offset, shape)


def build(case, device):
    """The arguments of a check case for _cpu (device=False) or _cuda (device=True). Arrays get
    disjoint memory unless a case asks for a view."""
    out, base = [], 1 << 30
    for arg in case:
        if isinstance(arg, tuple) and arg and arg[0] == "array":
            _, shape, dtype = arg
            if device:
                out.append(FakeDeviceArray(shape, typestr="<" + dtype, ptr=base))
                base += 1 << 24
            else:
                out.append(np.zeros(shape, np.dtype(dtype)))
        elif isinstance(arg, tuple) and arg and arg[0] == "view":
            _, index, offset, shape = arg
            src = out[index]
            if device:
                iface = src.__cuda_array_interface__
                itemsize = int(iface["typestr"][2])
                out.append(FakeDeviceArray(shape, typestr=iface["typestr"],
                                           ptr=iface["data"][0] + offset * itemsize))
            else:
                size = int(np.prod(shape))
                out.append(src.reshape(-1)[offset:offset + size].reshape(shape))
        else:
            out.append(arg)
    return out


# N=2, T=3, F=4, U=2: x, kernel, recurrent_kernel for LSTM (G=8), GRU (G=6), SimpleRNN (G=2).
LSTM_IN = [a(2, 3, 4), a(4, 8), a(2, 8)]
GRU_IN = [a(2, 3, 4), a(4, 6), a(2, 6)]
SIMPLE_IN = [a(2, 3, 4), a(4, 2), a(2, 2)]
TANH, SIGMOID = ACT["tanh"], ACT["sigmoid"]

CHECK_CASES = [
    ("lstm_sequence_forward",
     LSTM_IN + [None, a(2, 2), a(2, 2), None, None, TANH, SIGMOID, a(2, 3, 8), a(2, 3, 2),
                a(2, 3, 3)],
     ValueError, r"\[lstm_sequence_forward\] argument 'c_seq': expected shape \(2, 3, 2\), got "
                 r"\(2, 3, 3\)"),
    ("lstm_sequence_forward",
     [a(2, 3, 4), a(4, 8, dtype="f8"), a(2, 8), None, a(2, 2), a(2, 2), None, None, TANH,
      SIGMOID, a(2, 3, 8), a(2, 3, 2), a(2, 3, 2)],
     TypeError, r"argument 'kernel': expected dtype float32, got float64"),
    ("lstm_sequence_forward",
     LSTM_IN + [None, a(2, 2), a(2, 2), None, None, 4, SIGMOID, a(2, 3, 8), a(2, 3, 2),
                a(2, 3, 2)],
     ValueError, r"argument 'activation': unsupported activation code 4 \(expected one of the "
                 r"element-wise kinds: linear 0, relu 1, .*softsign 14\)"),
    ("lstm_sequence_forward",
     LSTM_IN + [a(8), a(2, 2), a(2, 2), a(2, 4), None, TANH, SIGMOID, a(2, 3, 8), a(2, 3, 2),
                a(2, 3, 2)],
     ValueError, r"argument 'mask': expected shape \(2, 3\), got \(2, 4\)"),
    ("lstm_sequence_backward",
     LSTM_IN + [a(2, 2), a(2, 2), None, a(2, 8), TANH, SIGMOID, a(2, 3, 8), a(2, 3, 2),
                a(2, 3, 2), None, a(2, 2), None, None, a(4, 8), a(2, 8), a(8), a(2, 2),
                view(3, 0, 2, 2), a(2, 3, 8)],
     ValueError, r"\[lstm_sequence_backward\] argument 'dc0': must not share memory with "
                 r"'h0'"),
    ("lstm_sequence_backward",
     LSTM_IN + [a(2, 2), a(2, 2), None, a(2, 6), TANH, SIGMOID, a(2, 3, 8), a(2, 3, 2),
                a(2, 3, 2), None, None, None, None, a(4, 8), a(2, 8), None, a(2, 2), a(2, 2),
                a(2, 3, 8)],
     ValueError, r"argument 'recurrent_mask': expected shape \(2, 8\), got \(2, 6\)"),
    ("gru_sequence_forward",
     GRU_IN + [a(6), a(2, 2), None, None, TANH, SIGMOID, True, a(2, 3, 6), a(2, 3, 2),
               a(2, 3, 2)],
     ValueError, r"\[gru_sequence_forward\] argument 'bias': expected shape \(2, 6\), got "
                 r"\(6,\)"),
    ("gru_sequence_forward",
     GRU_IN + [None, a(2, 2), None, a(2, 6), TANH, SIGMOID, False, a(2, 3, 6),
               view(6, 0, 2, 3, 2), a(2, 3, 2)],
     ValueError, r"argument 'rh': must not share memory with 'recurrent_mask'"),
    ("gru_sequence_backward",
     GRU_IN + [a(2, 2), None, None, TANH, SIGMOID, True, a(2, 3, 6), a(2, 3, 2), a(2, 3, 2),
               None, a(2, 2), None, a(4, 6), a(2, 6), None, a(2, 2), a(2, 3, 6), a(2, 3, 5)],
     ValueError, r"\[gru_sequence_backward\] argument 'ds': expected shape \(2, 3, 6\)"),
    ("gru_sequence_backward",
     GRU_IN + [a(2, 2), None, a(2, 6), TANH, SIGMOID, False, a(2, 3, 6), a(2, 3, 2),
               a(2, 3, 2), None, a(2, 2), None, a(4, 6), a(2, 6), view(5, 4, 6), a(2, 2),
               a(2, 3, 6), None],
     ValueError, r"argument 'dbias': must not share memory with 'recurrent_mask'"),
    ("simple_rnn_sequence_forward",
     [a(2, 0, 4), a(4, 2), a(2, 2), None, a(2, 2), None, None, TANH, a(2, 0, 2), a(2, 0, 2)],
     ValueError, r"\[simple_rnn_sequence_forward\] argument 'x': expected at least one "
                 r"timestep, got shape \(2, 0, 4\)"),
    ("simple_rnn_sequence_forward",
     [a(2, 3, 4), a(4, 0), a(0, 0), None, a(2, 0), None, None, TANH, a(2, 3, 0), a(2, 3, 0)],
     ValueError, r"argument 'recurrent_kernel': expected at least one unit, got shape "
                 r"\(0, 0\)"),
    ("simple_rnn_sequence_backward",
     SIMPLE_IN + [a(2, 2), None, None, TANH, a(2, 3, 2), None, a(2, 2), None, a(4, 2),
                  a(2, 2), None, a(2, 2), a(2, 3, 3)],
     ValueError, r"\[simple_rnn_sequence_backward\] argument 'gates': expected shape "
                 r"\(2, 3, 2\), got \(2, 3, 3\)"),
    ("simple_rnn_sequence_backward",
     [a(2, 3, 4, dtype="i4"), a(4, 2), a(2, 2), a(2, 2), None, None, TANH, a(2, 3, 2), None,
      a(2, 2), None, a(4, 2), a(2, 2), None, a(2, 2), a(2, 3, 2)],
     TypeError, r"argument 'x': expected dtype float32 or float64, got int32"),
]


@pytest.mark.parametrize("name, case, error, message", CHECK_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CHECK_CASES)])
def test_arguments_are_checked_like_the_cpu(cuda_mod, name, case, error, message):
    with pytest.raises(error, match=message) as cpu_error:
        getattr(_cpu, name)(*build(case, device=False))
    with pytest.raises(error) as gpu_error:
        getattr(cuda_mod, name)(*build(case, device=True), stream=0)
    assert str(gpu_error.value) == str(cpu_error.value)


def test_a_host_array_is_refused_by_name(cuda_mod):
    args = build(SIMPLE_IN + [None, a(2, 2), None, None, TANH, a(2, 3, 2), a(2, 3, 2)], True)
    args[4] = np.zeros((2, 2), np.float32)
    with pytest.raises(TypeError, match=r"\[simple_rnn_sequence_forward\] argument 'h0': "
                                         r"expected a cupy array .*numpy"):
        cuda_mod.simple_rnn_sequence_forward(*args, stream=0)


# ---------------------------------------------------------------------------------------------
# Kernels on the GPU, against lamina._cpu
# ---------------------------------------------------------------------------------------------

def nans(shape, dtype):
    return np.full(shape, np.nan, dtype=dtype)


def assert_matches_cpu(device, name, args, rtol, atol):
    """Runs lamina._cpu.<name> on numpy copies of `args` and the device's kernel on device
    copies, then compares every array argument (inputs unchanged, outputs equal, NaN where
    both left the NaN fill)."""
    cpu_args = [x.copy() if isinstance(x, np.ndarray) else x for x in args]
    dev_args = [device.to_device(x) if isinstance(x, np.ndarray) else x for x in args]
    getattr(_cpu, name)(*cpu_args)
    getattr(device.kernels(), name)(*dev_args)
    device.synchronize()
    for arg, c, g in zip(arg_names(name), cpu_args, dev_args):
        if isinstance(c, np.ndarray):
            np.testing.assert_allclose(device.to_host(g), c, rtol=rtol, atol=atol, equal_nan=True,
                                       err_msg=f"{name}: argument '{arg}'")


GATES = {"lstm": 4, "gru": 3, "gru_v1": 3, "simple": 1}
SHAPES = [(1, 1, 1, 1), (3, 5, 4, 6), (2, 7, 3, 17), (5, 3, 130, 33), (70, 2, 3, 5)]  # N T F U
# Each variant switches several options at once (a full product would be thousands of cases);
# together they cover every option both ways.
VARIANTS = {
    "plain": dict(acts=("tanh", "sigmoid"), masked=False, dropout=False, bias=True, h0=True,
                  dh_seq=True, dh_last=True, dx=True),
    "masked_dropout_zero_states": dict(acts=("tanh", "sigmoid"), masked=True, dropout=True,
                                       bias=False, h0=False, dh_seq=False, dh_last=True,
                                       dx=False),
    "relu_hard_sigmoid_masked": dict(acts=("relu", "hard_sigmoid"), masked=True, dropout=False,
                                     bias=True, h0=True, dh_seq=True, dh_last=False, dx=True),
    "gelu_swish_masked_dropout": dict(acts=("gelu", "swish"), masked=True, dropout=True,
                                      bias=True, h0=True, dh_seq=True, dh_last=True, dx=True),
}


def kernel_tol(dtype):
    return dict(rtol=2e-4, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-11)


def make_inputs(rng, cell, N, T, F, U, dtype, v):
    """Forward inputs of one case, as in the CPU entry's argument order."""
    G = GATES[cell] * U

    def normal(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(dtype)

    x = normal(N, T, F)
    W = normal(F, G, scale=1 / np.sqrt(F))
    R = normal(U, G, scale=1 / np.sqrt(U))
    bias_shape = (2, G) if cell == "gru" else (G,)
    b = normal(*bias_shape, scale=0.3) if v["bias"] else None
    h0 = normal(N, U, scale=0.5) if v["h0"] else np.zeros((N, U), dtype)
    c0 = normal(N, U, scale=0.5) if v["h0"] else np.zeros((N, U), dtype)
    mask = None
    if v["masked"]:
        m = rng.random((N, T)) > 0.3
        m[0, 0] = False  # a leading masked step
        if N > 1:
            m[1, :] = False  # a fully masked row keeps its initial state
        mask = m.astype(dtype)
    rmask = None
    if v["dropout"]:
        rmask = ((rng.random((N, G)) > 0.4) / 0.6).astype(dtype)
    return dict(x=x, W=W, R=R, b=b, h0=h0, c0=c0, mask=mask, rmask=rmask)


def forward_args(cell, i, v, N, T, U, dtype):
    """(entry, arguments) of the forward with NaN-filled outputs."""
    G = GATES[cell] * U
    act, ract = ACT[v["acts"][0]], ACT[v["acts"][1]]
    common = [i["x"], i["W"], i["R"], i["b"], i["h0"]]
    if cell == "lstm":
        return "lstm_sequence_forward", common + [
            i["c0"], i["mask"], i["rmask"], act, ract, nans((N, T, G), dtype),
            nans((N, T, U), dtype), nans((N, T, U), dtype)]
    if cell in ("gru", "gru_v1"):
        return "gru_sequence_forward", common + [
            i["mask"], i["rmask"], act, ract, cell == "gru", nans((N, T, G), dtype),
            nans((N, T, U), dtype), nans((N, T, U), dtype)]
    return "simple_rnn_sequence_forward", common + [
        i["mask"], i["rmask"], act, nans((N, T, G), dtype), nans((N, T, U), dtype)]


def backward_args(rng, cell, i, v, fwd, N, T, F, U, dtype):
    """(entry, arguments) of the backward from the CPU forward's outputs `fwd` (the forward's
    argument list after the call), with NaN-filled outputs."""
    G = GATES[cell] * U
    act, ract = ACT[v["acts"][0]], ACT[v["acts"][1]]
    dh_seq = rng.standard_normal((N, T, U)).astype(dtype) if v["dh_seq"] else None
    dh_last = rng.standard_normal((N, U)).astype(dtype) if v["dh_last"] else None
    dx = nans((N, T, F), dtype) if v["dx"] else None
    db = None
    if v["bias"]:
        db = nans((2, G) if cell == "gru" else (G,), dtype)
    x, W, R, h0 = i["x"], i["W"], i["R"], i["h0"]
    if cell == "lstm":
        gates, h_seq, c_seq = fwd[-3:]
        dc_last = rng.standard_normal((N, U)).astype(dtype) if v["dh_last"] else None
        return "lstm_sequence_backward", [
            x, W, R, h0, i["c0"], i["mask"], i["rmask"], act, ract, gates, h_seq, c_seq, dh_seq,
            dh_last, dc_last, dx, nans((F, G), dtype), nans((U, G), dtype), db,
            nans((N, U), dtype), nans((N, U), dtype), nans((N, T, G), dtype)]
    if cell in ("gru", "gru_v1"):
        gates, rh, h_seq = fwd[-3:]
        return "gru_sequence_backward", [
            x, W, R, h0, i["mask"], i["rmask"], act, ract, cell == "gru", gates, rh, h_seq,
            dh_seq, dh_last, dx, nans((F, G), dtype), nans((U, G), dtype), db,
            nans((N, U), dtype), nans((N, T, G), dtype),
            nans((N, T, G), dtype) if cell == "gru" else None]
    gates, h_seq = fwd[-2:]  # gates: the pre-activations, overwritten with their gradients
    return "simple_rnn_sequence_backward", [
        x, W, R, h0, i["mask"], i["rmask"], act, h_seq, dh_seq, dh_last, dx,
        nans((F, G), dtype), nans((U, G), dtype), db, nans((N, U), dtype), gates]


@pytest.mark.parametrize("cell", list(GATES))
@pytest.mark.parametrize("shape", SHAPES, ids=["x".join(map(str, s)) for s in SHAPES])
@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_kernels_match_cpu(device, cell, shape, variant, dtype):
    N, T, F, U = shape
    v = VARIANTS[variant]
    rng = np.random.default_rng(zlib.crc32(repr((cell, shape, variant)).encode()))
    inputs = make_inputs(rng, cell, N, T, F, U, dtype, v)
    name, args = forward_args(cell, inputs, v, N, T, U, dtype)
    assert_matches_cpu(device, name, args, **kernel_tol(dtype))
    getattr(_cpu, name)(*args)  # the CPU forward's outputs feed both backward runs
    name, args = backward_args(rng, cell, inputs, v, args, N, T, F, U, dtype)
    assert_matches_cpu(device, name, args, **kernel_tol(dtype))


@pytest.mark.parametrize("cell", list(GATES))
def test_kernels_run_on_the_current_cupy_stream(device, cell):
    """A non-blocking stream: forward then backward queued on it, synchronised once."""
    cupy = pytest.importorskip("cupy")
    v = VARIANTS["masked_dropout_zero_states"]
    N, T, F, U = 3, 4, 5, 6
    rng = np.random.default_rng(5)
    inputs = make_inputs(rng, cell, N, T, F, U, np.float32, v)
    name, args = forward_args(cell, inputs, v, N, T, U, np.float32)
    expected = [x.copy() if isinstance(x, np.ndarray) else x for x in args]
    getattr(_cpu, name)(*expected)
    stream = cupy.cuda.Stream(non_blocking=True)
    with stream:
        dev = [cupy.asarray(x) if isinstance(x, np.ndarray) else x for x in args]
        getattr(L.cuda.kernels(), name)(*dev)
        stream.synchronize()
    for arg, want, got in zip(arg_names(name), expected, dev):
        if isinstance(want, np.ndarray):
            np.testing.assert_allclose(got.get(), want, equal_nan=True, err_msg=arg,
                                       **kernel_tol(np.float32))


# ---------------------------------------------------------------------------------------------
# Ops on cupy arrays
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def cupy_device(device):
    return pytest.importorskip("cupy")


OPS = {"lstm": (rnn_ops.lstm, {}), "gru": (rnn_ops.gru, {}),
       "gru_v1": (rnn_ops.gru, {"reset_after": False}), "simple": (rnn_ops.simple_rnn, {})}


def op_case(rng, cell, N=3, T=5, F=4, U=6):
    G = GATES[cell] * U
    arrays = {"x": rng.standard_normal((N, T, F)),
              "kernel": rng.standard_normal((F, G)) * 0.5,
              "recurrent_kernel": rng.standard_normal((U, G)) * 0.5,
              "bias": rng.standard_normal((2, G) if cell == "gru" else (G,)) * 0.2,
              "h0": rng.standard_normal((N, U)) * 0.5}
    if cell == "lstm":
        arrays["c0"] = rng.standard_normal((N, U)) * 0.5
    mask = rng.random((N, T)) > 0.3
    mask[0, 0] = False
    mask[1, :] = False
    rmask = ((rng.random((N, U)) > 0.3) / 0.7)  # one mask for every gate
    return arrays, mask, rmask


def run_op(cell, arrays, weights, mask, rmask, to_array, **kw):
    """Outputs and gradients of every input of one op call (float64)."""
    op, extra = OPS[cell]
    vs = [L.Variable(to_array(a)) for a in arrays.values()]
    r = [to_array(w) for w in weights]
    with L.GradientTape() as tape:
        outs = op(*vs, mask=mask, recurrent_mask=rmask, **extra, **kw)
        loss = ops.sum(ops.multiply(outs[0], L.Tensor(r[0])))
        for o, w in zip(outs[1:], r[1:]):
            loss = ops.add(loss, ops.sum(ops.multiply(o, L.Tensor(w))))
    grads = tape.gradient(loss, vs)
    return [o.data for o in outs] + [g.data for g in grads]


@pytest.mark.parametrize("cell", list(OPS))
@pytest.mark.parametrize("go_backwards, masked, return_sequences, zero_output_for_mask, dropout",
                         [(False, False, True, False, False), (True, True, True, False, True),
                          (False, True, False, False, True), (True, True, True, True, False)])
@pytest.mark.parametrize("mask_on_gpu", [False, True])
def test_ops_on_cupy_match_numpy(cupy_device, cell, go_backwards, masked, return_sequences,
                                 zero_output_for_mask, dropout, mask_on_gpu):
    """Masks and recurrent-dropout masks may come from the host (as the layers make them) or
    from the GPU; the op runs where x lives."""
    cupy = cupy_device
    rng = np.random.default_rng(11)
    arrays, mask, rmask = op_case(rng, cell)
    mask = mask if masked else None
    rmask = rmask if dropout else None
    N, T, _ = arrays["x"].shape
    U = arrays["h0"].shape[1]
    out_shape = (N, T, U) if return_sequences else (N, U)
    weights = [rng.standard_normal(out_shape)] + [rng.standard_normal((N, U))
                                                  for _ in range(2 if cell == "lstm" else 1)]
    kw = dict(go_backwards=go_backwards, return_sequences=return_sequences,
              zero_output_for_mask=zero_output_for_mask)
    want = run_op(cell, arrays, weights, mask, rmask, np.asarray, **kw)
    gpu_mask = cupy.asarray(mask) if (mask is not None and mask_on_gpu) else mask
    gpu_rmask = cupy.asarray(rmask) if (rmask is not None and mask_on_gpu) else rmask
    got = run_op(cell, arrays, weights, gpu_mask, gpu_rmask, cupy.asarray, **kw)
    names = ["output", "h", "c"][:len(want) - len(arrays)] + list(arrays)
    for name, g, w in zip(names, got, want):
        assert isinstance(g, cupy.ndarray), name
        np.testing.assert_allclose(g.get(), w, rtol=1e-9, atol=1e-11, err_msg=name)


def train_step(cell, place, weights, x, y, mask, seed):
    """One Adam step of recurrent op -> dense -> MSE with input and recurrent dropout, on
    `place`; returns the loss and the updated weights on the host."""
    op, extra = OPS[cell]
    with L.device(place):
        params = [L.Variable(w.copy()) for w in weights]  # a Variable may share w's memory
        xs, ys = L.device.to_device(x), L.device.to_device(y)
    opt = L.optimizers.Adam(1e-2)
    rmask = np.random.default_rng(seed).random((x.shape[0], weights[1].shape[1])) > 0.25
    rmask = (rmask / 0.75).astype(np.float32)  # made on the host, as the layers do
    with L.GradientTape() as tape:
        xd = ops.nn.dropout(L.Tensor(xs), 0.2, noise_shape=(None, 1, None), seed=seed)
        out = op(xd, *params[:3], mask=mask, recurrent_mask=rmask, return_sequences=False,
                 **extra)[0]
        pred = ops.nn.dense(out, params[3], params[4], None)
        loss = ops.mean(ops.losses.mean_squared_error(L.Tensor(ys), pred))
    grads = tape.gradient(loss, params)
    opt.apply_gradients(zip(grads, params))
    return float(L.device.to_device(loss.data, "cpu")), [
        L.device.to_device(p.data, "cpu") for p in params]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_one_training_step_on_the_gpu_matches_the_cpu(cupy_device, cell):
    rng = np.random.default_rng(3)
    N, T, F, U, out = 8, 6, 5, 7, 3
    G = GATES[cell] * U
    weights = [(rng.standard_normal(s) * 0.4).astype(np.float32)
               for s in [(F, G), (U, G), (2, G) if cell == "gru" else (G,), (U, out), (out,)]]
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    y = rng.standard_normal((N, out)).astype(np.float32)
    mask = rng.random((N, T)) > 0.2
    loss_cpu, after_cpu = train_step(cell, "cpu", weights, x, y, mask, seed=9)
    loss_gpu, after_gpu = train_step(cell, "gpu", weights, x, y, mask, seed=9)
    assert loss_gpu == pytest.approx(loss_cpu, rel=1e-5)
    for before, c, g in zip(weights, after_cpu, after_gpu):
        assert not np.allclose(c, before)  # the step moved every weight
        np.testing.assert_allclose(g, c, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("layer, states", [(L.layers.LSTM, 2), (L.layers.GRU, 1),
                                           (L.layers.SimpleRNN, 1)])
def test_layer_on_cupy_with_mask_dropout_and_states(cupy_device, layer, states):
    """The Keras layer on a cupy batch: a cupy mask, raw cupy initial states (one array for a
    one-state layer), input and recurrent dropout (drawn on the host from the layer's seed, as
    on the CPU)."""
    cupy = cupy_device
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 5, 3)).astype(np.float32)
    mask = rng.random((4, 5)) > 0.3
    h0 = [rng.standard_normal((4, 6)).astype(np.float32) for _ in range(states)]
    results = []
    for place, to_array in (("cpu", np.asarray), ("gpu", cupy.asarray)):
        L.utils.set_random_seed(1)  # the same initial weights on both devices
        with L.device(place):
            rnn = layer(6, return_sequences=True, dropout=0.3, recurrent_dropout=0.2, seed=5)
            initial = [to_array(h) for h in h0]
            out = rnn(L.Tensor(to_array(x)), mask=to_array(mask),
                      initial_state=initial if states > 1 else initial[0], training=True)
        results.append(L.device.to_device(out.data, "cpu"))
    np.testing.assert_allclose(results[1], results[0], rtol=1e-5, atol=1e-6)
