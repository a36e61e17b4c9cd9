"""Every lamina._cpu entry that writes refuses an output sharing memory with one of its inputs
(or another output), csrc/bindings/overlap.h: a kernel reading what it already overwrote gives
a silently wrong result. One case per kernel family not covered beside its own tests (gemm:
test_gemm.py, losses: test_losses.py, optimizers: test_optimizers.py, activations / dense /
reduce: their own files)."""
import numpy as np
import pytest

from lamina import _cpu

GEOMETRY = (1, 1, 0, 0, 0, 0)  # strides (1, 1), no padding


def _conv_forward():
    x = np.ones((1, 4, 4, 2))
    return lambda: _cpu.conv2d_forward(x, np.ones((3, 3, 2, 2)), None,
                                       x.reshape(-1)[:8].reshape(1, 2, 2, 2), *GEOMETRY, 1, 1, 1,
                                       0)


def _conv_backward():
    x, w, dy = np.ones((1, 4, 4, 2)), np.ones((3, 3, 2, 2)), np.ones((1, 2, 2, 2))
    return lambda: _cpu.conv2d_backward(x, w, None, dy, None, w, None, *GEOMETRY, 1, 1, 1, 0)


def _max_pool():
    x = np.ones((1, 4, 4, 1))
    return lambda: _cpu.max_pool2d_forward(x, x.reshape(-1)[8:12].reshape(1, 2, 2, 1), None,
                                           2, 2, 2, 2, 0, 0, 0, 0)


def _avg_pool_backward():
    dx = np.ones((1, 4, 4, 1))
    return lambda: _cpu.avg_pool2d_backward(dx.reshape(-1)[:4].reshape(1, 2, 2, 1), dx,
                                            2, 2, 2, 2, 0, 0, 0, 0)


def _lstm():
    N, T, U = 2, 3, 4
    x = np.ones((N, T, U))
    return lambda: _cpu.lstm_sequence_forward(
        x, np.ones((U, 4 * U)), np.ones((U, 4 * U)), None, np.zeros((N, U)), np.zeros((N, U)),
        None, None, 3, 2, np.empty((N, T, 4 * U)), x, np.empty((N, T, U)))


def _gru_backward():
    N, T, U = 2, 3, 4
    gates = np.ones((N, T, 3 * U))
    dgates = np.empty((N, T, 3 * U))
    return lambda: _cpu.gru_sequence_backward(
        np.ones((N, T, U)), np.ones((U, 3 * U)), np.ones((U, 3 * U)), np.zeros((N, U)), None,
        None, 3, 2, True, gates, np.ones((N, T, U)), np.ones((N, T, U)), np.ones((N, T, U)), None,
        None, np.empty((U, 3 * U)), np.empty((U, 3 * U)), None, np.empty((N, U)), dgates,
        dgates)


def _ctc():
    logits = np.zeros((2, 5, 4))
    targets, lengths = np.ones((2, 2), np.int32), np.full(2, 2, np.int32)
    return lambda: _cpu.ctc_loss(logits, targets, lengths, np.full(2, 5, np.int32), 0, False,
                                 np.empty(2), logits)


def _embedding():
    table = np.ones((10, 3))
    return lambda: _cpu.embedding_forward(np.array([1, 2]), table, table[4:6])


def _batchnorm():
    x = np.ones((4, 3))
    return lambda: _cpu.batchnorm_forward_training(x, None, None, 1e-3, x, np.empty(3),
                                                   np.empty(3))


def _batchnorm_backward():
    x, dy = np.ones((4, 3)), np.ones((4, 3))
    mean, var = np.zeros(3), np.ones(3)
    return lambda: _cpu.batchnorm_backward(x, None, mean, var, 1e-3, dy, True, np.empty((4, 3)),
                                           mean, None)


@pytest.mark.parametrize("call, message", [
    (_conv_forward, r"\[conv2d_forward\] argument 'y': must not share memory with 'x'"),
    (_conv_backward, r"\[conv2d_backward\] argument 'dkernel': must not share memory with "
                     r"'kernel'"),
    (_max_pool, r"\[max_pool2d_forward\] argument 'y': must not share memory with 'x'"),
    (_avg_pool_backward, r"\[avg_pool2d_backward\] argument 'dx': must not share memory with "
                         r"'dy'"),
    (_lstm, r"\[lstm_sequence_forward\] argument 'h_seq': must not share memory with 'x'"),
    (_gru_backward, r"\[gru_sequence_backward\] argument 'ds': must not share memory with "
                    r"'dgates'"),
    (_ctc, r"\[ctc_loss\] argument 'grad': must not share memory with 'logits'"),
    (_embedding, r"\[embedding_forward\] argument 'out': must not share memory with 'table'"),
    (_batchnorm, r"\[batchnorm_forward_training\] argument 'y': must not share memory with 'x'"),
    (_batchnorm_backward, r"\[batchnorm_backward\] argument 'dgamma': must not share memory "
                          r"with 'mean'"),
], ids=["conv2d_forward", "conv2d_backward", "max_pool2d", "avg_pool2d_backward", "lstm",
        "gru_backward", "ctc_loss", "embedding", "batchnorm", "batchnorm_backward"])
def test_output_sharing_memory_with_an_input_is_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()()


def test_index_arguments_name_the_integer_types():
    with pytest.raises(TypeError, match=r"\[embedding_forward\] argument 'indices': unsupported "
                                        r"dtype uint8 \(expected int32 or int64\)"):
        _cpu.embedding_forward(np.array([1, 2], np.uint8), np.ones((10, 3)), np.empty((2, 3)))
