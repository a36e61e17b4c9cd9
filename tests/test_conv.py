"""Convolution: the conv2d kernels against the float64 numpy oracle over strides, paddings,
dilations, groups, odd sizes and batch 1, on every ISA; the ops' finite-difference gradients;
the error messages; the Conv layers' Keras shapes."""
import numpy as np
import pytest

import lamina as L
import importlib

from lamina import _cpu, ops

# lamina.ops.conv the function (keras.ops.conv) shadows the module of the same name.
conv_ops = importlib.import_module("lamina.ops.conv")

import reference as ref
from conftest import tolerance
from gradcheck import check_gradients

rng = np.random.default_rng(7)

# (N, H, W, C, KH, KW, K, strides, padding, dilation, groups): every algorithm (depthwise direct,
# 1x1 GEMM, im2col + GEMM) and odd sizes, batch 1, asymmetric "same" pads, groups.
CASES = [
    (2, 7, 6, 3, 3, 3, 5, (1, 1), "valid", (1, 1), 1),
    (1, 9, 8, 4, 3, 2, 6, (2, 1), "same", (1, 1), 1),
    (3, 8, 8, 5, 1, 1, 7, (1, 1), "valid", (1, 1), 1),     # pointwise: one GEMM
    (2, 8, 7, 5, 1, 1, 3, (2, 2), "same", (1, 1), 1),      # 1x1 strided: im2col
    (2, 10, 9, 4, 3, 3, 4, (1, 1), "same", (2, 3), 1),     # dilation
    (1, 11, 10, 6, 3, 3, 9, (3, 2), "same", (1, 1), 3),    # groups
    (2, 6, 7, 4, 2, 4, 8, (1, 1), "valid", (1, 1), 2),
    (2, 7, 7, 5, 3, 3, 5, (2, 2), "same", (1, 1), 5),      # depthwise
    (1, 9, 6, 3, 3, 3, 6, (1, 1), "same", (2, 1), 3),      # depthwise, multiplier 2, dilated
    (3, 5, 5, 1, 3, 3, 16, (1, 1), "valid", (1, 1), 1),    # one channel: direct kernel
    (1, 4, 4, 17, 4, 4, 3, (1, 1), "valid", (1, 1), 1),    # kernel == input
    (2, 5, 4, 2, 5, 2, 3, (1, 1), "same", (1, 1), 1),      # even kernel, asymmetric pads
]


def _pads(case):
    N, H, W, C, KH, KW, K, s, padding, d, G = case
    return (conv_ops.conv_pads(H, KH, s[0], d[0], padding)
            + conv_ops.conv_pads(W, KW, s[1], d[1], padding))


def _geometry(case):
    N, H, W, C, KH, KW, K, s, padding, d, G = case
    return (s[0], s[1], *_pads(case), d[0], d[1], G)


def _arrays(case, dtype):
    N, H, W, C, KH, KW, K, s, padding, d, G = case
    x = rng.standard_normal((N, H, W, C)).astype(dtype)
    w = rng.standard_normal((KH, KW, C // G, K)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype)
    return x, w, b


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("relu", [False, True], ids=["linear", "relu"])
def test_conv2d_kernels_match_oracle(case, relu, dtype, isa):
    x, w, b = _arrays(case, dtype)
    geometry = _geometry(case)
    pads = _pads(case)
    s, d, G = case[7], case[9], case[10]
    expect = ref.conv2d(x, w, b, s, pads, d, G, relu=relu)
    y = np.empty(expect.shape, dtype)
    _cpu.conv2d_forward(x, w, b, y, *geometry, int(relu))
    rtol, atol = tolerance(dtype)
    np.testing.assert_allclose(y, expect, rtol=rtol * 10, atol=atol * 10)

    dy = rng.standard_normal(y.shape).astype(dtype)
    dz = dy * (y > 0) if relu else dy
    dx_ref, dw_ref, db_ref = ref.conv2d_backward(x, w, dz, s, pads, d, G)
    dx, dw, db = np.empty_like(x), np.empty_like(w), np.empty_like(b)
    dx[...] = np.nan  # the kernel assigns: nothing of the old contents may leak through
    dw[...] = np.nan
    _cpu.conv2d_backward(x, w, y, dy, dx, dw, db, *geometry, int(relu))
    scale = 30 if dtype == np.float32 else 10
    np.testing.assert_allclose(dx, dx_ref, rtol=rtol * scale, atol=atol * scale)
    np.testing.assert_allclose(dw, dw_ref, rtol=rtol * scale, atol=atol * scale)
    np.testing.assert_allclose(db, db_ref, rtol=rtol * scale, atol=atol * scale)


def test_conv2d_batch_chunks_and_threads_agree():
    """A batch large enough to be split into several im2col chunks gives the per-image result."""
    x = rng.standard_normal((40, 24, 24, 32)).astype(np.float32)
    w = rng.standard_normal((3, 3, 32, 16)).astype(np.float32)
    y = ops.conv(x, w, padding="same").data
    for n in (0, 17, 39):
        np.testing.assert_allclose(y[n], ref.conv2d(x[n:n + 1], w, pads=(1, 1, 1, 1))[0],
                                   rtol=1e-4, atol=1e-4)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx, dw, db = np.empty_like(x), np.empty_like(w), np.empty(16, np.float32)
    _cpu.conv2d_backward(x, w, None, dy, dx, dw, db, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0)
    dx_ref, dw_ref, _ = ref.conv2d_backward(x, w, dy, pads=(1, 1, 1, 1))
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(dw, dw_ref, rtol=1e-4, atol=1e-2)


# Shapes for the indirect-convolution tiles: more output channels than the narrow tile holds
# (wide tiles, several panels, a channel tail), input channels at or past the tile's rows (the
# kernel gradient reads x in place) and below 4 (patches gathered into im2col rows), pixel
# counts that leave a partial last tile, and more than one 2048-pixel part of the kernel
# gradient. (N, H, W, C, KH, KW, K, strides, padding, dilation, groups)
TILE_CASES = [
    (2, 9, 11, 16, 3, 3, 70, (1, 1), "same", (1, 1), 1),    # wide tile, 3 panels, tail
    (3, 7, 5, 1, 3, 3, 32, (1, 1), "valid", (1, 1), 1),     # one channel: gathered patches
    (2, 6, 7, 3, 3, 3, 40, (1, 1), "same", (1, 2), 1),      # three channels, dilated
    (1, 8, 9, 24, 3, 3, 20, (2, 1), "same", (1, 1), 2),     # groups, Cg >= rows, strided dx
    (3, 31, 29, 9, 3, 3, 17, (1, 1), "same", (1, 1), 1),    # > 2048 pixels: several parts
    (1, 5, 5, 13, 5, 5, 33, (1, 1), "same", (1, 1), 1),     # taps mostly padding
]


@pytest.mark.parametrize("case", TILE_CASES)
def test_conv2d_tiles_match_oracle(case, dtype, isa):
    x, w, b = _arrays(case, dtype)
    geometry, pads = _geometry(case), _pads(case)
    s, d, G = case[7], case[9], case[10]
    rtol, atol = tolerance(dtype)
    scale = 30 if dtype == np.float32 else 10
    expect = ref.conv2d(x, w, b, s, pads, d, G, relu=True)
    y = np.full(expect.shape, np.nan, dtype)
    _cpu.conv2d_forward(x, w, b, y, *geometry, 1)
    np.testing.assert_allclose(y, expect, rtol=rtol * scale, atol=atol * scale)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx_ref, dw_ref, db_ref = ref.conv2d_backward(x, w, dy * (y > 0), s, pads, d, G)
    dx, dw, db = (np.full_like(a, np.nan) for a in (x, w, b))
    _cpu.conv2d_backward(x, w, y, dy, dx, dw, db, *geometry, 1)
    np.testing.assert_allclose(dx, dx_ref, rtol=rtol * scale, atol=atol * scale * 10)
    np.testing.assert_allclose(dw, dw_ref, rtol=rtol * scale, atol=atol * scale * 100)
    np.testing.assert_allclose(db, db_ref, rtol=rtol * scale, atol=atol * scale * 100)


def test_conv2d_results_do_not_depend_on_thread_count():
    """The kernel gradient sums fixed 2048-pixel parts in order, and every output pixel is one
    tile call: 1 and 2 threads give bitwise the same results."""
    case = TILE_CASES[4]
    x, w, b = _arrays(case, np.float32)
    geometry = _geometry(case)
    y = np.empty((3, 31, 29, 17), np.float32)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    results = []
    before = L.get_num_threads() if hasattr(L, "get_num_threads") else None
    try:
        for threads in (1, 2):
            L.set_num_threads(threads)
            _cpu.conv2d_forward(x, w, b, y, *geometry, 1)
            dx, dw, db = np.empty_like(x), np.empty_like(w), np.empty_like(b)
            _cpu.conv2d_backward(x, w, y, dy, dx, dw, db, *geometry, 1)
            results.append((y.copy(), dx, dw, db))
    finally:
        if before is not None:
            L.set_num_threads(before)
    for a, b_ in zip(*results):
        assert np.array_equal(a, b_)


# Depthwise shapes whose kernel and bias gradients span several fixed parts (one 3x3
# multiplier-1 case, one multiplier-3 case with strides), and a single image (parts within it).
DEPTHWISE_PARTS = [(6, 21, 19, 24, 3, 3, 24, (1, 1), "same", (1, 1), 24),
                   (3, 17, 18, 5, 3, 2, 15, (2, 1), "same", (1, 1), 5),
                   (1, 40, 45, 8, 5, 5, 8, (1, 1), "valid", (1, 1), 8)]


@pytest.mark.parametrize("case", DEPTHWISE_PARTS)
def test_depthwise_gradients_do_not_depend_on_thread_count(case, dtype):
    """The depthwise kernel gradient and the bias gradient sum fixed parts of the pixels in
    order: 1 and 2 threads give the same bits (and the oracle's values)."""
    x, w, b = _arrays(case, dtype)
    geometry, pads = _geometry(case), _pads(case)
    s, d, G = case[7], case[9], case[10]
    y = ref.conv2d(x, w, b, s, pads, d, G).astype(dtype)
    dy = rng.standard_normal(y.shape).astype(dtype)
    results = []
    before = L.get_num_threads()
    try:
        for threads in (1, 2):
            L.set_num_threads(threads)
            dw, db = np.full_like(w, np.nan), np.full_like(b, np.nan)
            _cpu.conv2d_backward(x, w, None, dy, None, dw, db, *geometry, 0)
            results.append((dw, db))
    finally:
        L.set_num_threads(before)
    for one, two in zip(*results):
        assert np.array_equal(one, two)
    _, dw_ref, db_ref = ref.conv2d_backward(x, w, dy, s, pads, d, G)
    rtol, atol = tolerance(dtype)
    np.testing.assert_allclose(results[0][0], dw_ref, rtol=rtol * 30, atol=atol * 3000)
    np.testing.assert_allclose(results[0][1], db_ref, rtol=rtol * 30, atol=atol * 3000)


@pytest.mark.parametrize("case", [CASES[i] for i in (0, 1, 2, 4, 5, 7, 8, 11)])
def test_conv2d_op_gradients(case):
    N, H, W, C, KH, KW, K, s, padding, d, G = case
    x, w, b = (a.astype(np.float64) for a in _arrays(case, np.float64))
    x = x[:1, :6, :6]  # finite differences cost two forward passes per element
    for act in (None, "relu"):
        check_gradients(lambda x, w, b: ops.conv2d(x, w, b, s, padding, d, G, act), x, w, b)


# Each op with a bias, asked for the bias gradient alone: the kernel entry still needs x and the
# kernel for its shapes. (fn(x, kernel, bias), x shape, kernel shape)
BIAS_ONLY = {
    "conv2d": (lambda x, k, b: ops.conv2d(x, k, b, 1, "same"), (2, 5, 5, 1), (3, 3, 1, 2)),
    "conv1d": (lambda x, k, b: conv_ops.conv1d(x, k, b, 2, "causal"), (2, 7, 3), (3, 3, 2)),
    "depthwise": (lambda x, k, b: conv_ops._depthwise(x, k, b, 1, "valid", None, 1, None),
                  (1, 6, 5, 3), (3, 3, 3, 2)),
    "pointwise": (lambda x, k, b: ops.conv2d(x, k, b), (2, 4, 4, 3), (1, 1, 3, 5)),
}


@pytest.mark.parametrize("name", list(BIAS_ONLY))
def test_gradient_of_the_bias_alone(name):
    fn, x_shape, k_shape = BIAS_ONLY[name]
    x, k = rng.standard_normal(x_shape), rng.standard_normal(k_shape)
    b = L.Variable(np.zeros(k_shape[-1] * (k_shape[-2] if name == "depthwise" else 1)))
    with L.GradientTape() as tape:
        y = fn(x, k, b)
        loss = ops.sum(y)
    (db,) = tape.gradient(loss, [b])
    # d sum(y) / d b = the number of output pixels per channel
    np.testing.assert_array_equal(db.data, np.full(b.shape, np.prod(y.shape[:-1]), np.float64))


def test_ops_accept_non_contiguous_kernels():
    """Keras' ops take any layout: a transposed view of a kernel is copied, not refused."""
    x = rng.standard_normal((2, 6, 5, 3))
    kv = L.Variable(rng.standard_normal((3, 3, 4, 3)))  # (kh, kw, out, in): transpose to conv
    k = ops.transpose(kv, (0, 1, 3, 2))
    assert not k.data.flags.c_contiguous
    dense_k = np.ascontiguousarray(k.data)
    np.testing.assert_allclose(ops.conv(x, k).data, ops.conv(x, dense_k).data, rtol=1e-14)
    kt = rng.standard_normal((3, 3, 3, 4)).transpose(0, 1, 3, 2)  # (kh, kw, filters, in)
    np.testing.assert_allclose(ops.conv_transpose(x, kt, 2, "same").data,
                               ops.conv_transpose(x, kt.copy(), 2, "same").data, rtol=1e-14)
    kd = rng.standard_normal((3, 3, 2, 3)).transpose(0, 1, 3, 2)  # (kh, kw, C, multiplier)
    np.testing.assert_allclose(ops.depthwise_conv(x, kd).data,
                               ops.depthwise_conv(x, kd.copy()).data, rtol=1e-14)
    b = rng.standard_normal(8)[::2]  # a strided bias
    np.testing.assert_allclose(ops.conv2d(x, dense_k, b).data,
                               ops.conv2d(x, dense_k, b.copy()).data, rtol=1e-14)
    check_gradients(lambda kv: ops.conv(x[:1, :4, :4], ops.transpose(kv, (0, 1, 3, 2))),
                    kv.numpy())


def test_conv1d_and_keras_conv_op():
    x = rng.standard_normal((2, 9, 3))
    w = rng.standard_normal((3, 3, 4))
    y = ops.conv(x, w, strides=2, padding="same")
    pads = (0, 0) + conv_ops.conv_pads(9, 3, 2, 1, "same")
    expect = ref.conv2d(x[:, None], w[None], strides=(1, 2), pads=pads)[:, 0]
    np.testing.assert_allclose(y.data, expect, rtol=1e-12)
    check_gradients(lambda x, w: ops.conv(x, w, 2, "same"), x, w)
    check_gradients(lambda x, w: conv_ops.conv1d(x, w, None, 1, "causal", 2), x, w)


def test_conv_channels_first_is_a_transpose():
    x = rng.standard_normal((2, 3, 6, 5))  # (N, C, H, W)
    w = rng.standard_normal((3, 3, 3, 4))
    y = ops.conv(x, w, data_format="channels_first", padding="same")
    expect = ops.conv(x.transpose(0, 2, 3, 1), w, padding="same").data.transpose(0, 3, 1, 2)
    np.testing.assert_allclose(y.data, expect, rtol=1e-12)


def test_depthwise_conv_matches_keras_channel_order():
    x = rng.standard_normal((2, 6, 5, 3))
    k = rng.standard_normal((3, 3, 3, 2))  # (kh, kw, channels, multiplier)
    y = ops.depthwise_conv(x, k, strides=1, padding="same").data
    for c in range(3):
        for m in range(2):
            single = ref.conv2d(x[..., c:c + 1], k[:, :, c:c + 1, m:m + 1], pads=(1, 1, 1, 1))
            np.testing.assert_allclose(y[..., c * 2 + m], single[..., 0], rtol=1e-12)
    check_gradients(lambda x, k: ops.depthwise_conv(x, k, 2, "same"), x[:1], k)


def test_separable_conv_gradients():
    x = rng.standard_normal((1, 5, 5, 2))
    dk = rng.standard_normal((3, 3, 2, 2))
    pk = rng.standard_normal((1, 1, 4, 3))
    y = ops.separable_conv(x, dk, pk, padding="same")
    expect = ops.conv(ops.depthwise_conv(x, dk, padding="same"), pk)
    np.testing.assert_allclose(y.data, expect.data, rtol=1e-12)
    check_gradients(lambda x, dk, pk: ops.separable_conv(x, dk, pk, 1, "valid"), x, dk, pk)


def _keras_transpose_pads(k, s, d, padding, output_padding):
    """Keras' _convert_conv_transpose_padding_args_from_keras_to_jax (backend_utils.py): the
    (left, right) padding of the stride-dilated input before the flipped-kernel correlation."""
    k = (k - 1) * d + 1
    if padding == "valid":
        output_padding = max(k, s) - k if output_padding is None else output_padding
        return k - 1, k - 1 + output_padding
    pad_len = s + k - 2 if output_padding is None else k + k % 2 - 2 + output_padding
    left = min(pad_len // 2 + pad_len % 2, k - 1)
    return left, pad_len - left


def _conv_transpose_scatter(x, k, strides, padding, output_padding, dilation):
    """The transposed convolution by its definition: input pixel (i, j) adds k[a, b] @ x[i, j]
    at (i * s + a * d, j * s + b * d) of the full output, which Keras' padding then crops (or
    extends with zeros): output o is full cell o + (dilated k - 1 - left)."""
    N, H, W, C = x.shape
    KH, KW, F, _ = k.shape
    ek = [(KH - 1) * dilation[0] + 1, (KW - 1) * dilation[1] + 1]
    full = np.zeros((N, (H - 1) * strides[0] + ek[0], (W - 1) * strides[1] + ek[1], F))
    for i in range(H):
        for j in range(W):
            for a in range(KH):
                for b in range(KW):
                    full[:, i * strides[0] + a * dilation[0], j * strides[1] + b * dilation[1]] \
                        += x[:, i, j] @ k[a, b].T
    out = full
    for axis, (n, kk, s, d) in enumerate(zip((H, W), (KH, KW), strides, dilation)):
        op = None if output_padding is None else output_padding[axis]
        left, right = _keras_transpose_pads(kk, s, d, padding, op)
        length = (n - 1) * s + 2 - ek[axis] + left + right
        offset = ek[axis] - 1 - left
        shifted = np.zeros(out.shape[:1 + axis] + (offset + length,) + out.shape[2 + axis:])
        keep = min(out.shape[1 + axis], offset + length)
        index = [slice(None)] * 4
        index[1 + axis] = slice(0, keep)
        shifted[tuple(index)] = out[tuple(index)]
        index[1 + axis] = slice(offset, offset + length)
        out = shifted[tuple(index)]
    return out


def _transpose_grid():
    """(input hw, kernel, strides, dilation, padding, output_padding): even and odd kernels,
    dilated ones, every output_padding the layer accepts (< strides), and None."""
    grid = [((6, 6), (2, 2), (1, 1), (1, 1), "same", (0, 0)),   # the reported case
            ((3, 4), (4, 2), (2, 2), (1, 1), "same", (1, 0)),
            ((1, 2), (2, 2), (1, 1), (1, 1), "same", (0, 0)),   # an empty output row
            ((3, 3), (2, 2), (1, 1), (3, 1), "same", (0, 0)),   # dilated even kernel
            ((4, 3), (3, 3), (3, 2), (1, 1), "valid", (2, 1))]
    r = np.random.default_rng(11)
    while len(grid) < 40:
        s = tuple(int(v) for v in r.integers(1, 4, 2))
        d = (1, 1) if max(s) > 1 else tuple(int(v) for v in r.integers(1, 3, 2))
        op = None if r.random() < 0.3 else tuple(int(r.integers(0, v)) for v in s)
        grid.append((tuple(int(v) for v in r.integers(1, 5, 2)),
                     tuple(int(v) for v in r.integers(1, 5, 2)), s, d,
                     str(r.choice(["valid", "same"])), op))
    return grid


@pytest.mark.parametrize("hw,kernel,strides,dilation,padding,output_padding", _transpose_grid())
def test_conv_transpose_matches_keras(hw, kernel, strides, dilation, padding, output_padding):
    x = rng.standard_normal((2,) + hw + (3,))
    k = rng.standard_normal(kernel + (2, 3))  # (kh, kw, filters, in_channels)
    expect = _conv_transpose_scatter(x, k, strides, padding, output_padding, dilation)
    y = ops.conv_transpose(x, k, strides, padding, output_padding, dilation_rate=dilation)
    assert y.shape == expect.shape
    np.testing.assert_allclose(y.data, expect, rtol=1e-12, atol=1e-12)
    layer = L.layers.Conv2DTranspose(2, kernel, strides, padding, output_padding,
                                     dilation_rate=dilation, dtype="float64")
    assert layer.compute_output_shape(x.shape) == expect.shape
    layer.build(x.shape)
    bias = rng.standard_normal(2)
    layer.set_weights([k, bias])
    np.testing.assert_allclose(layer(x).data, expect + bias, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", [0, 1, 3, 4, 7])
def test_conv_transpose_gradients(case):
    hw, kernel, strides, dilation, padding, output_padding = _transpose_grid()[case]
    x = rng.standard_normal((1,) + hw + (2,))
    k = rng.standard_normal(kernel + (3, 2))
    check_gradients(lambda x, k: ops.conv_transpose(x, k, strides, padding, output_padding,
                                                    dilation_rate=dilation), x, k)


def test_conv_transpose_errors():
    x, k = np.ones((1, 4, 4, 2)), np.ones((3, 3, 5, 2))
    with pytest.raises(ValueError, match=r"\[conv_transpose\] output_padding must be >= 0, got "
                                         r"-1"):
        ops.conv_transpose(x, k, 2, "same", -1)
    with pytest.raises(ValueError, match=r"\[conv_transpose\] input channels 2 .* do not match "
                                         r"the kernel shape \(3, 3, 2, 5\)"):
        ops.conv_transpose(x, np.ones((3, 3, 2, 5)))
    with pytest.raises(ValueError, match=r"Conv2DTranspose '.*': the `output_padding` argument "
                                         r"must be a tuple of 2 integers >= 0, received "
                                         r"output_padding=-1"):
        L.layers.Conv2DTranspose(4, 3, strides=2, output_padding=-1)
    with pytest.raises(ValueError, match=r"`output_padding` must be < `strides`"):
        L.layers.Conv2DTranspose(4, 3, strides=2, output_padding=(1, 2))


def test_conv_transpose_1d():
    x = rng.standard_normal((2, 5, 3))
    k = rng.standard_normal((3, 4, 3))
    y = ops.conv_transpose(x, k, 2, "same")
    assert y.shape == (2, 10, 4)
    check_gradients(lambda x, k: ops.conv_transpose(x, k, 2, "valid"), x[:1], k)


def test_same_padding_is_keras_formula():
    # pad_total = max((ceil(in/s) - 1) * s + (k - 1) * d + 1 - in, 0), pad_before = total // 2
    assert conv_ops.conv_pads(7, 3, 2, 1, "same") == (1, 1)
    assert conv_ops.conv_pads(8, 3, 2, 1, "same") == (0, 1)
    assert conv_ops.conv_pads(5, 4, 1, 1, "same") == (1, 2)
    assert conv_ops.conv_pads(10, 3, 1, 3, "same") == (3, 3)
    assert conv_ops.conv_pads(5, 1, 3, 1, "same") == (0, 0)
    for n in range(1, 12):
        for k in (1, 2, 3, 5):
            for s in (1, 2, 3):
                x = np.zeros((1, n, 1, 1))
                y = ops.conv(x, np.zeros((k, 1, 1, 1)), (s, 1), "same")
                assert y.shape[1] == -(-n // s) == conv_ops.conv_output_length(n, k, s, 1, "same")


# -- errors --------------------------------------------------------------------------------------

def test_channel_mismatch_message():
    with pytest.raises(ValueError, match=r"\[conv2d\] input channels 3 .*\(2, 5, 5, 3\).* "
                                         r"do not match the kernel's input channels 2"):
        ops.conv(np.ones((2, 5, 5, 3)), np.ones((3, 3, 2, 4)))
    with pytest.raises(ValueError, match=r"\[conv2d\] input channels 4 .*groups=4: expected 8"):
        ops.conv2d(np.ones((1, 5, 5, 4)), np.ones((3, 3, 2, 4)), groups=4)


def test_kernel_larger_than_input_with_valid_padding():
    with pytest.raises(ValueError, match=r"\[conv2d\] the kernel \(5 with dilation\) is larger "
                                         r"than the input \(4\).*'valid'"):
        ops.conv(np.ones((1, 4, 9, 1)), np.ones((5, 3, 1, 1)))
    with pytest.raises(ValueError, match=r"kernel \(5 with dilation\) is larger than the input "
                                         r"\(3\)"):
        ops.conv(np.ones((1, 8, 3, 1)), np.ones((3, 3, 1, 1)), dilation_rate=2)
    # "same" pads such an input: no error
    assert ops.conv(np.ones((1, 4, 4, 1)), np.ones((5, 5, 1, 1)), padding="same").shape == \
        (1, 4, 4, 1)


def test_bad_strides_and_padding_messages():
    x, w = np.ones((1, 5, 5, 1)), np.ones((3, 3, 1, 1))
    with pytest.raises(ValueError, match=r"\[conv2d\] strides must be positive, got \(0, 1\)"):
        ops.conv(x, w, strides=(0, 1))
    with pytest.raises(ValueError, match=r"strides > 1 together with dilation_rate > 1"):
        ops.conv(x, w, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match=r"Invalid padding 'full'"):
        ops.conv(x, w, padding="full")
    with pytest.raises(ValueError, match=r"Expected strides to be an int or a tuple of 2 ints"):
        ops.conv(x, w, strides=(1, 1, 1))


def test_kernel_geometry_is_bounded_so_sizes_cannot_overflow():
    # (KH - 1) * dilation = 2 * 2^62 wraps int64 to a negative extent: refused up front
    x, w, b = np.ones((1, 5, 5, 1)), np.ones((3, 3, 1, 1)), np.zeros(1)
    y = np.empty((1, 3, 3, 1))
    big = 2 ** 62
    for geometry, arg in [((1, 1, 0, 0, 0, 0, big, 1, 1), "dilation"),
                          ((big, 1, 0, 0, 0, 0, 1, 1, 1), "strides"),
                          ((1, 1, 0, -big, 0, 0, 1, 1, 1), "padding")]:
        with pytest.raises(ValueError, match=rf"\[conv2d_forward\] argument '{arg}': expected "
                                             rf".* of at most 2\^31"):
            _cpu.conv2d_forward(x, w, b, y, *geometry, 0)


def test_causal_padding_is_for_1d_convolutions_only():
    x2, k2 = np.ones((1, 5, 5, 1)), np.ones((3, 3, 1, 1))
    for call in (lambda: ops.conv(x2, k2, padding="causal"),
                 lambda: ops.conv2d(x2, k2, padding="causal"),
                 lambda: ops.depthwise_conv(x2, k2, padding="causal")):
        with pytest.raises(ValueError, match=r"\[conv2d\] padding='causal' is only for 1-D "
                                             r"convolutions .* input of shape \(1, 5, 5, 1\)"):
            call()
    # 1-D: output t sees inputs t-2..t
    y = ops.conv(np.arange(1.0, 6.0).reshape(1, 5, 1), np.ones((3, 1, 1)), padding="causal")
    np.testing.assert_array_equal(y.data.ravel(), [1, 3, 6, 9, 12])
    y = ops.depthwise_conv(np.arange(1.0, 6.0).reshape(1, 5, 1), np.ones((2, 1, 1)), 1, "causal")
    np.testing.assert_array_equal(y.data.ravel(), [1, 3, 5, 7, 9])


def test_kernel_entry_checks_every_shape():
    x = np.ones((1, 5, 5, 2), np.float32)
    w = np.ones((3, 3, 2, 4), np.float32)
    y = np.empty((1, 3, 3, 4), np.float32)
    geometry = (1, 1, 0, 0, 0, 0, 1, 1, 1)
    with pytest.raises(ValueError, match=r"\[conv2d_forward\] argument 'y': expected shape "
                                         r"\(1, 3, 3, 4\), got \(1, 3, 3, 5\)"):
        _cpu.conv2d_forward(x, w, None, np.empty((1, 3, 3, 5), np.float32), *geometry, 0)
    with pytest.raises(TypeError, match=r"\[conv2d_forward\] argument 'kernel': expected dtype "
                                        r"float32, got float64"):
        _cpu.conv2d_forward(x, w.astype(np.float64), None, y, *geometry, 0)
    with pytest.raises(ValueError, match=r"argument 'strides': expected positive strides, got "
                                         r"\(0, 1\)"):
        _cpu.conv2d_forward(x, w, None, y, 0, 1, 0, 0, 0, 0, 1, 1, 1, 0)
    with pytest.raises(ValueError, match=r"argument 'kernel': the dilated kernel \(5, 5\) is "
                                         r"larger than the padded input \(5, 4\)"):
        _cpu.conv2d_forward(np.ones((1, 5, 4, 2), np.float32), w, None, y, 1, 1, 0, 0, 0, 0, 2, 2,
                            1, 0)
    with pytest.raises(ValueError, match=r"argument 'bias': expected shape \(4,\)"):
        _cpu.conv2d_forward(x, w, np.ones(3, np.float32), y, *geometry, 0)
    with pytest.raises(ValueError, match=r"argument 'x': expected a C-contiguous array"):
        _cpu.conv2d_forward(np.ones((1, 5, 10, 2), np.float32)[:, :, ::2], w, None, y,
                            *geometry, 0)
    with pytest.raises(ValueError, match=r"\[conv2d_backward\] argument 'y': needed for the relu"):
        _cpu.conv2d_backward(x, w, None, y, None, np.empty_like(w), None, *geometry, 1)
    with pytest.raises(ValueError, match=r"argument 'activation': expected 0 \(linear\) or 1"):
        _cpu.conv2d_forward(x, w, None, y, *geometry, 3)


# -- layers --------------------------------------------------------------------------------------

@pytest.mark.parametrize("padding,strides,expect", [
    ("valid", 1, (2, 26, 25, 8)), ("same", 1, (2, 28, 27, 8)),
    ("valid", 2, (2, 13, 13, 8)), ("same", 2, (2, 14, 14, 8)), ("same", 3, (2, 10, 9, 8)),
])
def test_conv2d_layer_keras_shapes_and_weights(padding, strides, expect):
    layer = L.layers.Conv2D(8, 3, strides=strides, padding=padding, activation="relu")
    x = rng.standard_normal((2, 28, 27, 3)).astype(np.float32)
    y = layer(x)
    assert y.shape == expect == layer.compute_output_shape((2, 28, 27, 3))
    assert [w.shape for w in layer.weights] == [(3, 3, 3, 8), (8,)]
    assert [w.path.split("/")[-1] for w in layer.weights] == ["kernel", "bias"]
    k = rng.standard_normal((3, 3, 3, 8)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    layer.set_weights([k, b])
    s = (strides, strides)
    pads = conv_ops.conv_pads(28, 3, strides, 1, padding) + conv_ops.conv_pads(27, 3, strides, 1,
                                                                               padding)
    np.testing.assert_allclose(layer(x).data, ref.conv2d(x, k, b, s, pads, relu=True),
                               rtol=1e-4, atol=1e-4)


def test_conv_layers_shapes_weights_and_configs():
    x = rng.standard_normal((2, 9, 8, 4)).astype(np.float32)
    cases = [
        (L.layers.Conv2D(6, (3, 2), groups=2, dilation_rate=2), [(3, 2, 2, 6), (6,)],
         (2, 5, 6, 6)),
        (L.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same"),
         [(3, 3, 4, 2), (8,)], (2, 9, 8, 8)),
        (L.layers.SeparableConv2D(5, 3, strides=2), [(3, 3, 4, 1), (1, 1, 4, 5), (5,)],
         (2, 4, 3, 5)),
        (L.layers.Conv2DTranspose(3, 3, strides=2, padding="same"), [(3, 3, 3, 4), (3,)],
         (2, 18, 16, 3)),
        (L.layers.Conv2DTranspose(3, 3, strides=2), [(3, 3, 3, 4), (3,)], (2, 19, 17, 3)),
        (L.layers.Conv2D(5, 1, use_bias=False), [(1, 1, 4, 5)], (2, 9, 8, 5)),
    ]
    for layer, weights, out in cases:
        y = layer(x)
        assert [w.shape for w in layer.weights] == weights, layer
        assert y.shape == out == layer.compute_output_shape(x.shape), layer
        config = layer.get_config()
        clone = type(layer).from_config(config)
        assert clone.get_config() == config


def test_conv1d_layer():
    x = rng.standard_normal((2, 10, 3)).astype(np.float32)
    for padding, expect in (("valid", 8), ("same", 10), ("causal", 10)):
        layer = L.layers.Conv1D(4, 3, padding=padding)
        assert layer(x).shape == (2, expect, 4) == layer.compute_output_shape((2, 10, 3))
        assert layer.kernel.shape == (3, 3, 4)
    # causal: output t sees only inputs <= t
    layer = L.layers.Conv1D(1, 3, padding="causal", use_bias=False)
    layer.build((None, 10, 3))
    y0 = layer(x).data
    x2 = x.copy()
    x2[:, 6:] += 1
    np.testing.assert_array_equal(layer(x2).data[:, :6], y0[:, :6])


def test_conv_layer_errors():
    with pytest.raises(ValueError, match=r"Conv2D '.*': the number of input channels must be "
                                         r"evenly divisible by the number of groups. Received "
                                         r"groups=2, but the input has 3 channels"):
        L.layers.Conv2D(4, 3, groups=2)(np.ones((1, 5, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r"number of filters must be evenly divisible"):
        L.layers.Conv2D(5, 3, groups=2)
    with pytest.raises(ValueError, match=r"`strides > 1` not supported in conjunction with "
                                         r"`dilation_rate > 1`"):
        L.layers.Conv2D(4, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match=r"the kernel \(5, 5\) .* is larger than the input's "
                                         r"spatial size \(4, 4\) with padding='valid'"):
        L.layers.Conv2D(4, 5)(np.ones((1, 4, 4, 1), np.float32))
    with pytest.raises(ValueError, match=r"`padding` must be one of \['valid', 'same'\]"):
        L.layers.Conv2D(4, 3, padding="causal")
    layer = L.layers.Conv2D(4, 3)
    layer(np.ones((1, 5, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r"conv2_?d"):
        layer(np.ones((1, 5, 5, 2), np.float32))


@pytest.mark.parametrize("make,match", [
    (lambda: L.layers.SeparableConv2D(4, 3, depth_multiplier=0),
     r"Invalid value for argument `depth_multiplier`. Expected a strictly positive integer. "
     r"Received depth_multiplier=0"),
    (lambda: L.layers.DepthwiseConv2D(3, depth_multiplier=-1), r"`depth_multiplier`"),
    (lambda: L.layers.DepthwiseConv2D(3, depth_multiplier=1.5), r"`depth_multiplier`"),
    (lambda: L.layers.Conv2D(0, 3), r"Conv2D '.*': Invalid value for argument `filters`"),
    (lambda: L.layers.Conv2D(4.0, 3), r"Received filters=4.0"),
    (lambda: L.layers.SeparableConv2D(0, 3), r"SeparableConv2D '.*': .*`filters`"),
    (lambda: L.layers.Conv2DTranspose(-2, 3), r"Conv2DTranspose '.*': .*`filters`"),
    (lambda: L.layers.Conv1D(4, 3, groups=0), r"Invalid value for argument `groups`"),
    (lambda: L.layers.Conv2D(4, 3, groups=2.0), r"Received groups=2.0"),
    (lambda: L.layers.Conv2D(5, 3, groups=2), r"number of filters must be evenly divisible"),
    (lambda: L.layers.Conv2D(4, 0),
     r"the `kernel_size` argument must be a tuple of 2 integers > 0, received kernel_size=0"),
    (lambda: L.layers.Conv2D(4, (3, 3, 3)), r"`kernel_size` argument must be a tuple of 2"),
    (lambda: L.layers.Conv1D(4, 3, strides=(1, 1)), r"`strides` argument must be a tuple of 1"),
    (lambda: L.layers.DepthwiseConv2D(3, strides=(1, 0)), r"received strides=\(1, 0\)"),
    (lambda: L.layers.SeparableConv2D(4, 3, dilation_rate=0), r"received dilation_rate=0"),
    (lambda: L.layers.Conv2DTranspose(4, 2.5), r"received kernel_size=2.5"),
])
def test_conv_layer_arguments_are_checked_at_construction(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_depthwise_conv2d_weight_is_keras_kernel():
    layer = L.layers.DepthwiseConv2D(3, depth_multiplier=2)
    layer.build((None, 6, 6, 3))
    assert layer.kernel.shape == (3, 3, 3, 2)
    assert [w.path.split("/")[-1] for w in layer.weights] == ["kernel", "bias"]
    assert layer.weights[0] is layer.kernel
    assert layer.depthwise_kernel is layer.kernel  # the Keras 2 name still reads it
    assert "depthwise_initializer" in layer.get_config()


# Every conv layer with every regularizer and constraint it takes set.
CONFIG_LAYERS = [
    lambda: L.layers.Conv2D(4, 3, kernel_regularizer="l2", bias_regularizer=L.regularizers.L1(0.3),
                            activity_regularizer="l1", kernel_constraint="non_neg",
                            bias_constraint=L.constraints.MaxNorm(3.0, axis=0), groups=1,
                            kernel_initializer="he_normal"),
    lambda: L.layers.Conv1D(4, 3, padding="causal", kernel_regularizer=L.regularizers.L1L2(0.1, 0.2),
                            kernel_constraint=L.constraints.UnitNorm(axis=1)),
    lambda: L.layers.DepthwiseConv2D(3, depth_multiplier=2, depthwise_regularizer="l2",
                                     depthwise_constraint=L.constraints.MinMaxNorm(0.5, 2.0),
                                     bias_regularizer="l1", activity_regularizer="l2"),
    lambda: L.layers.SeparableConv2D(5, 3, depthwise_regularizer="l1",
                                     pointwise_regularizer="l2", pointwise_constraint="non_neg",
                                     depthwise_constraint="max_norm", bias_constraint="non_neg",
                                     pointwise_initializer="ones"),
    lambda: L.layers.Conv2DTranspose(3, 3, strides=2, output_padding=1, kernel_regularizer="l2",
                                     kernel_constraint="unit_norm", activity_regularizer="l1"),
]


@pytest.mark.parametrize("make", CONFIG_LAYERS)
def test_conv_layer_config_round_trips_every_setting(make):
    layer = make()
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    for key, value in config.items():
        if key.endswith(("_regularizer", "_constraint")) and value is not None:
            setting = getattr(clone, key)
            assert type(setting) is type(getattr(layer, key)), key
            assert setting.get_config() == getattr(layer, key).get_config(), key
    assert config["activity_regularizer"] == (None if layer.activity_regularizer is None else
                                              L.regularizers.serialize(layer.activity_regularizer))
    rank = 1 if isinstance(layer, L.layers.Conv1D) else 2
    x = rng.standard_normal((2,) + (7,) * rank + (4,)).astype(np.float32)
    y = layer(x)
    clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x).data, y.data)


def test_conv2d_from_config_keeps_its_kernel_regularizer():
    config = L.layers.Conv2D(4, 3, kernel_regularizer="l2").get_config()
    assert config["kernel_regularizer"] == {"class_name": "L2", "config": {"l2": 0.01}}
    layer = L.layers.Conv2D.from_config(config)
    assert isinstance(layer.kernel_regularizer, L.regularizers.L2)
    layer.build((None, 5, 5, 2))
    assert layer.kernel.regularizer is layer.kernel_regularizer


@pytest.mark.parametrize("layer_type", ["Conv2D", "DepthwiseConv2D"])
def test_fit_with_a_frozen_first_kernel_trains_the_bias(layer_type):
    """Only the first layer's bias needs a gradient: the conv backward still has its shapes."""
    make = getattr(L.layers, layer_type)
    first = make(3, padding="same") if layer_type == "DepthwiseConv2D" else make(2, 3)
    model = L.Sequential([L.Input((6, 6, 2)), first, L.layers.Flatten(), L.layers.Dense(1)])
    first.kernel.trainable = False
    kernel = first.kernel.numpy().copy()
    model.compile(optimizer="sgd", loss="mse")
    x = rng.standard_normal((8, 6, 6, 2)).astype(np.float32)
    model.fit(x, rng.standard_normal((8, 1)).astype(np.float32), epochs=1, verbose=0)
    np.testing.assert_array_equal(first.kernel.numpy(), kernel)
    assert np.any(first.bias.numpy() != 0)


def test_conv_layer_trains_with_its_gradients():
    layer = L.layers.Conv2D(3, 3, padding="same", activation="tanh", dtype="float64")
    x = rng.standard_normal((2, 5, 5, 2))
    layer.build(x.shape)
    k, b = layer.kernel.numpy(), layer.bias.numpy()
    check_gradients(lambda x, k, b: ops.tanh(ops.conv2d(x, k, b, 1, "same")), x, k, b)
    with L.GradientTape() as tape:
        loss = ops.sum(layer(x))
    gk, gb = tape.gradient(loss, [layer.kernel, layer.bias])
    assert gk.shape == (3, 3, 2, 3) and gb.shape == (3,)


def test_image_reshaping_layers():
    x = rng.standard_normal((2, 3, 4, 2)).astype(np.float32)
    zp = L.layers.ZeroPadding2D(((1, 2), (0, 3)))
    y = zp(x)
    assert y.shape == (2, 6, 7, 2) == zp.compute_output_shape(x.shape)
    np.testing.assert_array_equal(y.data[:, 1:4, 0:4], x)
    assert np.all(y.data[:, 0] == 0) and np.all(y.data[:, :, 4:] == 0)
    check_gradients(lambda x: L.layers.ZeroPadding2D(1, dtype="float64")(x), x)
    up = L.layers.UpSampling2D((2, 3))
    y = up(x)
    assert y.shape == (2, 6, 12, 2) == up.compute_output_shape(x.shape)
    np.testing.assert_array_equal(y.data[:, ::2, ::3], x)
    np.testing.assert_array_equal(y.data[:, 1::2, 2::3], x)
    check_gradients(lambda x: L.layers.UpSampling2D((2, 3), dtype="float64")(x), x)
    # the layers are made of the ops (ops.pad, ops.repeat), which also run on cupy arrays
    v = L.Variable(x)
    with L.GradientTape():
        assert zp(v)._node.name == "pad" and up(v)._node.name == "repeat"
    first = L.layers.ZeroPadding2D(((1, 0), (0, 2)), data_format="channels_first")
    np.testing.assert_array_equal(first(x).data, np.pad(x, ((0, 0), (0, 0), (1, 0), (0, 2))))
    first = L.layers.UpSampling2D(2, data_format="channels_first")
    np.testing.assert_array_equal(first(x).data, x.repeat(2, 2).repeat(2, 3))
    sd = L.layers.SpatialDropout2D(0.5, seed=1)
    assert sd(x, training=False) is not None
    np.testing.assert_array_equal(sd(x, training=False).data, x)
    y = sd(np.ones((4, 3, 3, 16)), training=True).data
    # whole feature maps are dropped or kept together
    per_map = y.reshape(4, 9, 16)
    assert np.all(per_map.min(axis=1) == per_map.max(axis=1))
    assert set(np.unique(per_map)) <= {0.0, 2.0}


def test_digits_cnn_example_reaches_097(monkeypatch):
    """examples/digits_cnn.py (seeded): a convnet with batch norm and pooling learns the digits."""
    import pathlib
    import runpy
    import sys
    path = pathlib.Path(__file__).resolve().parents[1] / "examples" / "digits_cnn.py"
    monkeypatch.setattr(sys, "argv", [str(path)])
    example = runpy.run_path(str(path))
    assert example["main"]() >= 0.97
