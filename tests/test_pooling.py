"""Pooling: the max/average kernels against the numpy oracle (valid and "same" windows, odd
sizes, overlapping windows, batch 1) on every ISA; gradients; 1-D and global pooling; errors."""
import importlib
import re

import numpy as np
import pytest

import lamina as L
from lamina import _cpu, ops

import reference as ref
from conftest import tolerance
from gradcheck import check_gradients

conv_ops = importlib.import_module("lamina.ops.conv")
rng = np.random.default_rng(3)

# (N, H, W, C, pool, strides, padding)
CASES = [
    (2, 6, 6, 3, (2, 2), (2, 2), "valid"),
    (1, 7, 5, 4, (2, 2), (2, 2), "same"),
    (2, 7, 8, 5, (3, 3), (1, 1), "same"),     # overlapping windows
    (3, 9, 7, 2, (3, 2), (2, 3), "valid"),
    (1, 5, 5, 17, (3, 3), (2, 2), "same"),
    (2, 4, 6, 1, (4, 6), (1, 1), "valid"),    # window == image
    (1, 6, 3, 3, (2, 3), (3, 1), "same"),
]


def _pads(case):
    N, H, W, C, pool, s, padding = case
    return (conv_ops.conv_pads(H, pool[0], s[0], 1, padding)
            + conv_ops.conv_pads(W, pool[1], s[1], 1, padding))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("with_nan", [False, True], ids=["numbers", "nan"])
def test_pool_kernels_match_oracle(case, with_nan, dtype, isa):
    """with_nan: NaNs scattered through x, and at the first and the last cell of a window.
    Max pooling must give NaN wherever the NaN sits (np.max) and send the gradient to the
    window's first NaN (np.argmax), with and without the saved argmax."""
    N, H, W, C, pool, s, padding = case
    x = rng.standard_normal((N, H, W, C)).astype(dtype)
    if with_nan:
        x[rng.random(x.shape) < 0.15] = np.nan
        x[0, -1, -1, 0] = x[0, 0, 0, -1] = np.nan
    pads = _pads(case)
    geometry = (*pool, *s, *pads)
    rtol, atol = tolerance(dtype)

    ymax, max_back = ref.max_pool2d(x, pool, s, pads)
    y = np.empty(ymax.shape, dtype)
    argmax = np.empty(ymax.shape, np.int32)
    _cpu.max_pool2d_forward(x, y, argmax, *geometry)
    np.testing.assert_array_equal(y, ymax.astype(dtype))
    y2 = np.empty_like(y)
    _cpu.max_pool2d_forward(x, y2, None, *geometry)
    np.testing.assert_array_equal(y2, y)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = np.full_like(x, np.nan)
    _cpu.max_pool2d_backward(dy, argmax, dx, *geometry)
    np.testing.assert_allclose(dx, max_back(dy), rtol=rtol, atol=atol)

    yavg, avg_back = ref.avg_pool2d(x, pool, s, pads)
    y = np.empty(yavg.shape, dtype)
    _cpu.avg_pool2d_forward(x, y, *geometry)
    np.testing.assert_allclose(y, yavg, rtol=rtol, atol=atol)
    dx = np.full_like(x, np.nan)
    _cpu.avg_pool2d_backward(dy, dx, *geometry)
    np.testing.assert_allclose(dx, avg_back(dy), rtol=rtol, atol=atol)


def test_max_pool_ties_go_to_the_first_maximum():
    x = np.zeros((1, 2, 2, 1), np.float32)
    y = ops.max_pool(x, 2)
    assert y.shape == (1, 1, 1, 1)
    import lamina as L
    v = L.Variable(x)
    with L.GradientTape() as tape:
        out = ops.sum(ops.max_pool(v, 2))
    g = tape.gradient(out, v).data
    np.testing.assert_array_equal(g.ravel(), [1, 0, 0, 0])


def test_max_pool_nan_does_not_depend_on_its_position():
    import lamina as L
    for cells in ([np.nan, 1, 1, 1], [1, 1, 1, np.nan], [1, np.nan, 2, np.nan]):
        v = L.Variable(np.array(cells, np.float32).reshape(1, 2, 2, 1))
        with L.GradientTape() as tape:
            y = ops.max_pool(v, 2)
            loss = ops.sum(y)
        assert np.isnan(y.data).all()
        grad = tape.gradient(loss, v).data.ravel()
        first_nan = int(np.argmax(np.isnan(cells)))
        np.testing.assert_array_equal(grad, np.eye(4)[first_nan])
    x = np.array([[1.0, np.nan, 3.0], [np.inf, -np.inf, 2.0]]).reshape(1, 2, 3, 1)
    np.testing.assert_array_equal(ops.global_max_pool(x).data, [[np.nan]])
    np.testing.assert_array_equal(ops.max_pool(x[:, 1:], (1, 2), 1).data.ravel(), [np.inf, 2.0])


def test_same_average_pool_counts_only_valid_cells():
    # Keras/TF: a 3x3 "same" window at a corner averages its 4 valid cells, not 9
    x = np.arange(16, dtype=np.float64).reshape(1, 4, 4, 1)
    y = ops.average_pool(x, 3, strides=1, padding="same").data[0, :, :, 0]
    assert y[0, 0] == np.mean([0, 1, 4, 5])
    assert y[1, 1] == np.mean(x[0, :3, :3, 0])


@pytest.mark.parametrize("case", [CASES[i] for i in (1, 2, 3, 6)])
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_op_gradients(case, kind):
    N, H, W, C, pool, s, padding = case
    # distinct values so that no maximum is tied within finite-difference reach
    x = rng.permutation(N * H * W * C).reshape(N, H, W, C) * 0.1
    fn = ops.max_pool if kind == "max" else ops.average_pool
    check_gradients(lambda x: fn(x, pool, s, padding), x)


def test_pool_1d_and_keras_shapes():
    x = rng.standard_normal((2, 9, 3))
    assert ops.max_pool(x, 2).shape == (2, 4, 3)               # strides default to pool_size
    assert ops.average_pool(x, 2, padding="same").shape == (2, 5, 3)
    assert ops.max_pool(x, 3, strides=1).shape == (2, 7, 3)
    expect = x[:, :8].reshape(2, 4, 2, 3).max(axis=2)
    np.testing.assert_array_equal(ops.max_pool(x, 2).data, expect)
    check_gradients(lambda x: ops.average_pool(x, 3, 2, "same"), x)


def test_global_pools():
    x = rng.standard_normal((2, 5, 3, 4))
    np.testing.assert_allclose(ops.global_average_pool(x).data, x.mean(axis=(1, 2)), rtol=1e-12)
    np.testing.assert_array_equal(ops.global_max_pool(x).data, x.max(axis=(1, 2)))
    assert ops.global_average_pool(x, keepdims=True).shape == (2, 1, 1, 4)
    x1 = rng.standard_normal((2, 6, 3))
    np.testing.assert_allclose(ops.global_average_pool(x1).data, x1.mean(axis=1), rtol=1e-12)
    check_gradients(lambda x: ops.global_average_pool(x), x)
    check_gradients(lambda x: ops.global_max_pool(x), x)


def test_pool_errors():
    x = np.ones((1, 3, 3, 2))
    with pytest.raises(ValueError, match=r"\[max_pool\] pool_size \(4, 4\) is larger than the "
                                         r"input's spatial size \(3, 3\) with 'valid' padding"):
        ops.max_pool(x, 4)
    with pytest.raises(ValueError, match=r"\[average_pool\] pool_size and strides must be "
                                         r"positive, got \(2, 2\) and \(0, 1\)"):
        ops.average_pool(x, 2, strides=(0, 1))
    with pytest.raises(ValueError, match=r"\[max_pool\] expected a 3-D or 4-D input"):
        ops.max_pool(np.ones((3, 3)), 2)
    y = np.empty((1, 1, 1, 2))
    with pytest.raises(ValueError, match=r"\[max_pool2d_forward\] argument 'padding': expected "
                                         r"pads in \[0, pool size\)"):
        _cpu.max_pool2d_forward(x, y, None, 2, 2, 2, 2, 2, 0, 0, 0)
    with pytest.raises(ValueError, match=r"\[avg_pool2d_forward\] argument 'y': expected shape "
                                         r"\(1, 1, 1, 2\), got \(1, 2, 2, 2\)"):
        _cpu.avg_pool2d_forward(x, np.empty((1, 2, 2, 2)), 2, 2, 2, 2, 0, 0, 0, 0)
    bad = np.full((1, 1, 1, 2), 9, np.int32)
    with pytest.raises(ValueError, match=r"\[max_pool2d_backward\] argument 'argmax': index 9 "
                                         r"outside \[0, 9\)"):
        _cpu.max_pool2d_backward(np.ones((1, 1, 1, 2)), bad, np.empty_like(x), 2, 2, 2, 2, 0, 0,
                                 0, 0)


def test_pools_say_when_a_spatial_axis_is_empty():
    import lamina as L
    cases = [(L.layers.GlobalAveragePooling2D(), (1, 0, 5, 3), "global_average_pool"),
             (L.layers.GlobalMaxPooling1D(), (2, 0, 3), "global_max_pool"),
             (L.layers.MaxPooling2D(padding="same"), (1, 4, 0, 3), "max_pool"),
             (L.layers.AveragePooling1D(padding="same"), (1, 0, 3), "average_pool")]
    for layer, shape, where in cases:
        with pytest.raises(ValueError, match=rf"\[{where}\] the input has an empty spatial axis: "
                                             rf"shape {re.escape(str(shape))}"):
            layer(np.ones(shape, np.float32))
    # an empty batch is fine
    assert L.layers.GlobalAveragePooling2D()(np.ones((0, 5, 5, 3), np.float32)).shape == (0, 3)
    assert ops.max_pool(np.ones((0, 4, 4, 3)), 2).shape == (0, 2, 2, 3)


def test_pooling_layers_keras_shapes():
    import lamina as L
    x = rng.standard_normal((2, 9, 7, 3)).astype(np.float32)
    cases = [
        (L.layers.MaxPooling2D(), (2, 4, 3, 3)),
        (L.layers.MaxPooling2D(2, padding="same"), (2, 5, 4, 3)),
        (L.layers.AveragePooling2D((3, 2), strides=(2, 1)), (2, 4, 6, 3)),
        (L.layers.AveragePooling2D(3, strides=2, padding="same"), (2, 5, 4, 3)),
        (L.layers.GlobalAveragePooling2D(), (2, 3)),
        (L.layers.GlobalMaxPooling2D(keepdims=True), (2, 1, 1, 3)),
    ]
    for layer, expect in cases:
        assert layer(x).shape == expect == layer.compute_output_shape(x.shape), layer
        assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()
    np.testing.assert_allclose(L.layers.GlobalAveragePooling2D()(x).data, x.mean(axis=(1, 2)),
                               rtol=1e-6)
    x1 = rng.standard_normal((2, 9, 3)).astype(np.float32)
    for layer, expect in [(L.layers.MaxPooling1D(), (2, 4, 3)),
                          (L.layers.AveragePooling1D(3, 1, "same"), (2, 9, 3)),
                          (L.layers.GlobalMaxPooling1D(), (2, 3)),
                          (L.layers.GlobalAveragePooling1D(), (2, 3))]:
        assert layer(x1).shape == expect == layer.compute_output_shape(x1.shape), layer
    with pytest.raises(ValueError, match=r"MaxPooling2D '.*': the `pool_size` argument must be a "
                                         r"tuple of 2 integers > 0, received pool_size=0"):
        L.layers.MaxPooling2D(0)
    with pytest.raises(ValueError, match=r"the `strides` argument must be a tuple of 1 integers "
                                         r"> 0, received strides=1.5"):
        L.layers.AveragePooling1D(2, strides=1.5)


@pytest.mark.parametrize("data_format, keepdims", [("channels_last", False),
                                                   ("channels_last", True),
                                                   ("channels_first", False)])
def test_global_average_pooling_1d_averages_the_unmasked_steps(data_format, keepdims):
    # Keras: with a mask, the mean over the steps whose mask is True; the mask stops here.
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 5, 4))
    mask = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [0, 1, 0, 1, 0]], bool)
    expect = np.stack([x[i][mask[i]].mean(0) for i in range(3)])
    if keepdims:
        expect = expect[:, None, :]
    xin = x if data_format == "channels_last" else x.transpose(0, 2, 1)
    layer = L.layers.GlobalAveragePooling1D(data_format=data_format, keepdims=keepdims,
                                            dtype="float64")
    out = layer(xin, mask=mask)
    np.testing.assert_allclose(out.data, expect, rtol=1e-12)
    assert layer.compute_mask(xin, mask) is None
    check_gradients(lambda v: layer(v, mask=mask), xin)


def test_global_average_pooling_1d_takes_the_mask_of_an_embedding():
    ids = np.array([[1, 2, 0, 0], [3, 0, 0, 0]])
    emb = L.layers.Embedding(5, 3, mask_zero=True)
    out = L.layers.GlobalAveragePooling1D()(emb(ids))
    table = emb.get_weights()[0]
    np.testing.assert_allclose(out.data, [table[[1, 2]].mean(0), table[[3]].mean(0)], rtol=1e-6)
    assert L.layers.masking.get_mask(out) is None
