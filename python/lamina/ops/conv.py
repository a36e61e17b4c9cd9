"""Differentiable convolution ops (channels last), with Keras' names where keras.ops has them:
``conv``, ``depthwise_conv``, ``separable_conv``, ``conv_transpose``; and the geometry the
convolution and pooling families share (``conv_pads``, ``conv_output_length``).

Every op is one kernel call forward and one backward (csrc/cpu/conv2d.h). 1-D ops run the 2-D
kernels on (N, 1, L, C) views. Keras' "same" padding is resolved here into explicit
before/after pads:

    pad_total = max((ceil(in / stride) - 1) * stride + (k - 1) * dilation + 1 - in, 0)
    pad_before = pad_total // 2

``conv2d(x, kernel, bias, strides, padding, dilation_rate, groups, activation)`` is the fused
op the Conv layers use: bias and relu are applied inside the kernel, other activations by the
activation op after it.
"""
import math

import numpy as np

from .. import backend
from ..autograd import Tensor, make_output
from .nn import _data, _float_input, activation as _activation, activation_code

__all__ = ["conv", "conv2d", "depthwise_conv", "separable_conv", "conv_transpose",
           "conv_output_length", "conv_pads"]


def _tuple(value, n, name):
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) != n:
        raise ValueError(f"Expected {name} to be an int or a tuple of {n} ints, got {value}")
    return value


def _padding_name(padding, allowed=("valid", "same")):
    p = str(padding).lower()
    if p not in allowed:
        raise ValueError(f"Invalid padding {padding!r}; expected one of {list(allowed)}")
    return p


def conv_pads(length, kernel, stride, dilation, padding):
    """(before, after) pads of one spatial axis for Keras' "valid", "same" or "causal"."""
    effective = (kernel - 1) * dilation + 1
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return effective - 1, 0
    total = max((math.ceil(length / stride) - 1) * stride + effective - length, 0)
    return total // 2, total - total // 2


def conv_output_length(length, kernel, stride, dilation, padding):
    """Keras' output length of a convolution or pooling axis (None stays None)."""
    if length is None:
        return None
    effective = (kernel - 1) * dilation + 1
    if padding in ("same", "causal"):
        return math.ceil(length / stride) if padding == "same" else (length - 1) // stride + 1
    return max((length - effective) // stride + 1, 0)


def _contiguous(a):
    """`a` as the C-contiguous array the kernels take (a copy only when it is not): Keras' ops
    accept any layout, e.g. a kernel that is a transposed view."""
    return a if a.flags.c_contiguous else backend.array_module(a).ascontiguousarray(a)


def _check_input(where, xd, rank):
    if xd.ndim != rank + 2:
        raise ValueError(f"[{where}] expected a {rank + 2}-D input (batch, "
                         f"{'length' if rank == 1 else 'height, width'}, channels), got shape "
                         f"{xd.shape}")


def _geometry(where, shape, kshape, strides, padding, dilation):
    """Pads as (top, bottom, left, right), with Keras-style errors before the kernel sees it."""
    padding = _padding_name(padding, ("valid", "same", "causal"))
    if any(s < 1 for s in strides):
        raise ValueError(f"[{where}] strides must be positive, got {tuple(strides)}")
    if any(d < 1 for d in dilation):
        raise ValueError(f"[{where}] dilation_rate must be positive, got {tuple(dilation)}")
    if any(s > 1 for s in strides) and any(d > 1 for d in dilation):
        raise ValueError(f"[{where}] strides > 1 together with dilation_rate > 1 are not "
                         f"supported (Keras), got strides={tuple(strides)}, "
                         f"dilation_rate={tuple(dilation)}")
    pads = []
    for axis, (n, k, s, d) in enumerate(zip(shape, kshape, strides, dilation)):
        if padding == "valid" and (k - 1) * d + 1 > n:
            raise ValueError(f"[{where}] the kernel ({(k - 1) * d + 1} with dilation) is larger "
                             f"than the input ({n}) along spatial axis {axis} with 'valid' "
                             f"padding: input shape has spatial size {tuple(shape)}, kernel "
                             f"{tuple(kshape)}")
        pads.extend(conv_pads(n, k, s, d, padding))
    return pads


def _channels_last(x, data_format):
    if data_format in (None, "channels_last"):
        return x, False
    if data_format != "channels_first":
        raise ValueError(f"Invalid data_format {data_format!r}; expected 'channels_last' or "
                         f"'channels_first'")
    from .math import transpose
    nd = _data(x).ndim
    return transpose(x, (0,) + tuple(range(2, nd)) + (1,)), True


def _channels_first(y):
    from .math import transpose
    nd = y.ndim
    return transpose(y, (0, nd - 1) + tuple(range(1, nd - 1)))


# -- convolution ---------------------------------------------------------------------------------

def conv2d(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1, groups=None,
           activation=None):
    """activation(conv(x, kernel) + bias), NHWC x (N, H, W, C), kernel (KH, KW, C/groups, K):
    one kernel call forward (bias and relu fused) and one backward. ``groups`` defaults to
    C // kernel.shape[2]; padding "valid" or "same" ("causal" is for 1-D convolutions)."""
    if str(padding).lower() == "causal":
        raise ValueError(f"[conv2d] padding='causal' is only for 1-D convolutions (inputs "
                         f"(batch, steps, channels)), got a 2-D convolution of an input of shape "
                         f"{tuple(_data(x).shape)}")
    return _conv2d(x, kernel, bias, strides, padding, dilation_rate, groups, activation)


def _conv2d(x, kernel, bias, strides, padding, dilation_rate, groups, activation):
    """conv2d, "causal" included: what the 1-D ops run on their (N, 1, L, C) views."""
    W = _contiguous(_data(kernel))
    x, xd = _float_input(x, W.dtype)
    _check_input("conv2d", xd, 2)
    if W.ndim != 4:
        raise ValueError(f"[conv2d] expected a 4-D kernel (kh, kw, in_channels/groups, filters), "
                         f"got shape {W.shape}")
    C = xd.shape[-1]
    if groups is None:
        if W.shape[2] == 0 or C % W.shape[2]:
            raise ValueError(f"[conv2d] input channels {C} (input shape {xd.shape}) do not match "
                             f"the kernel's input channels {W.shape[2]} (kernel shape {W.shape})")
        groups = C // W.shape[2]
    if W.shape[2] * groups != C:
        raise ValueError(f"[conv2d] input channels {C} (input shape {xd.shape}) do not match the "
                         f"kernel shape {W.shape} with groups={groups}: expected "
                         f"{W.shape[2] * groups} channels")
    if W.shape[3] % groups:
        raise ValueError(f"[conv2d] filters {W.shape[3]} are not divisible by groups={groups}")
    strides, dilation = _tuple(strides, 2, "strides"), _tuple(dilation_rate, 2, "dilation_rate")
    pads = _geometry("conv2d", xd.shape[1:3], W.shape[:2], strides, padding, dilation)
    code, _ = activation_code(activation)
    fused = code if code in (0, 1) else 0
    b = None if bias is None else _contiguous(_data(bias))
    if b is not None and (b.shape != (W.shape[3],) or b.dtype != W.dtype):
        raise ValueError(f"[conv2d] bias must have shape ({W.shape[3]},) and dtype {W.dtype}, "
                         f"got {b.shape} {b.dtype}")
    N, H, Wd, _ = xd.shape
    OH = (H + pads[0] + pads[1] - (W.shape[0] - 1) * dilation[0] - 1) // strides[0] + 1
    OW = (Wd + pads[2] + pads[3] - (W.shape[1] - 1) * dilation[1] - 1) // strides[1] + 1
    xp = backend.array_module(xd)
    K = backend.kernels(xd)
    y = xp.empty((N, OH, OW, W.shape[3]), dtype=W.dtype)
    geometry = (strides[0], strides[1], *pads, dilation[0], dilation[1], groups)
    K.conv2d_forward(xd, W, b, y, *geometry, fused)

    def backward(g):
        need_x, need_w, need_b = out._node.needs
        if not g.flags.c_contiguous:
            g = xp.ascontiguousarray(g)
        dx = xp.empty_like(xd) if need_x else None
        dW = xp.empty_like(W) if need_w else None
        db = xp.empty_like(b) if need_b else None
        # x and the kernel go in whatever is asked: the entry takes the shapes from them even
        # when only the bias gradient is computed.
        K.conv2d_backward(xd, W, y if fused else None, g, dx, dW, db, *geometry, fused)
        return dx, dW, db

    out = make_output(y, (x, kernel, bias), backward, "conv2d")
    return _activation(out, activation) if code != fused else out


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """keras.ops.conv for 1-D (N, L, C) and 2-D (N, H, W, C) inputs; kernel (*spatial,
    C/groups, filters); groups = C // kernel.shape[-2] as in Keras."""
    inputs, first = _channels_last(inputs, data_format)
    xd = _data(inputs)
    if xd.ndim == 3:
        y = _conv1d_as_2d(inputs, kernel, strides, padding, dilation_rate)
    elif xd.ndim == 4:
        y = conv2d(inputs, kernel, None, strides, padding, dilation_rate)
    else:
        raise ValueError(f"[conv] expected a 3-D or 4-D input, got shape {xd.shape} "
                         f"(3-D convolution is not implemented)")
    return _channels_first(y) if first else y


def _conv1d_as_2d(x, kernel, strides, padding, dilation_rate, bias=None, groups=None,
                  activation=None):
    """A 1-D convolution as the 2-D one on (N, 1, L, C) with a (1, k, ...) kernel."""
    from .math import reshape
    xd, kd = _data(x), _data(kernel)
    if kd.ndim != 3:
        raise ValueError(f"[conv] expected a 3-D kernel (kernel_size, in_channels, filters) for "
                         f"a 1-D input, got shape {kd.shape}")
    x4 = reshape(x, (xd.shape[0], 1) + xd.shape[1:])
    k4 = reshape(kernel, (1,) + kd.shape) if isinstance(kernel, Tensor) else kd.reshape((1,) + kd.shape)
    s = (1, _tuple(strides, 1, "strides")[0])
    d = (1, _tuple(dilation_rate, 1, "dilation_rate")[0])
    y = _conv2d(x4, k4, bias, s, padding, d, groups, activation)
    return reshape(y, (y.shape[0],) + y.shape[2:])


def conv1d(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1, groups=None,
           activation=None):
    """The fused 1-D op for Conv1D: x (N, L, C), kernel (k, C/groups, filters)."""
    _check_input("conv1d", _data(x), 1)
    return _conv1d_as_2d(x, kernel, strides, padding, dilation_rate, bias, groups, activation)


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    """keras.ops.depthwise_conv: kernel (*spatial, C, depth_multiplier); output channel
    c * depth_multiplier + m (the direct depthwise kernel, groups = C)."""
    return _depthwise(inputs, kernel, None, strides, padding, data_format, dilation_rate, None)


def _depthwise(inputs, kernel, bias, strides, padding, data_format, dilation_rate, activation):
    from .math import reshape
    inputs, first = _channels_last(inputs, data_format)
    xd, kd = _data(inputs), _data(kernel)
    one_d = xd.ndim == 3
    if kd.ndim != xd.ndim:
        raise ValueError(f"[depthwise_conv] expected a {xd.ndim}-D kernel (*spatial, channels, "
                         f"depth_multiplier) for an input of shape {xd.shape}, got {kd.shape}")
    C = xd.shape[-1]
    if kd.shape[-2] != C:
        raise ValueError(f"[depthwise_conv] input channels {C} (input shape {xd.shape}) do not "
                         f"match the kernel's {kd.shape[-2]} (kernel shape {kd.shape})")
    flat = kd.shape[:-2] + (1, C * kd.shape[-1])
    k2 = reshape(kernel, flat) if isinstance(kernel, Tensor) else kd.reshape(flat)
    if one_d:
        y = _conv1d_as_2d(inputs, k2, strides, padding, dilation_rate, bias, C, activation)
    else:
        y = conv2d(inputs, k2, bias, strides, padding, dilation_rate, C, activation)
    return _channels_first(y) if first else y


def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid",
                   data_format=None, dilation_rate=1):
    """keras.ops.separable_conv: depthwise_conv, then a 1x1 conv with pointwise_kernel."""
    inputs, first = _channels_last(inputs, data_format)
    y = depthwise_conv(inputs, depthwise_kernel, strides, padding, None, dilation_rate)
    y = conv(y, pointwise_kernel, 1, "valid")
    return _channels_first(y) if first else y


def conv_transpose_geometry(length, kernel, stride, dilation, padding, output_padding=None):
    """One axis of Keras' transposed convolution: (output length, (before, after) pads).

    The padding is Keras' own conversion for its JAX backend (backend_utils.py,
    _convert_conv_transpose_padding_args_from_keras_to_jax): the input, dilated by the stride,
    is padded by (left, right) and correlated with the flipped kernel. That is the input
    gradient of a convolution with pads (k - 1 - left, k - 1 - right), k the dilated kernel;
    the second may be negative: trailing output cells no window reaches (zeros). A length of
    None (an unknown dimension) gives None."""
    k = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(k, stride) - k if output_padding is None else output_padding
        left, right = k - 1, k - 1 + extra
    else:
        total = stride + k - 2 if output_padding is None else k + k % 2 - 2 + output_padding
        left = min(total // 2 + total % 2, k - 1)
        right = total - left
    out = None if length is None else (length - 1) * stride + 2 - k + left + right
    return out, (k - 1 - left, k - 1 - right)


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None,
                   data_format=None, dilation_rate=1):
    """keras.ops.conv_transpose (1-D and 2-D): kernel (*spatial, filters, in_channels), output
    sizes and values as Keras (conv_transpose_geometry). The forward pass is the convolution's
    input gradient, its backward the convolution itself and the convolution's kernel gradient:
    the same kernels, roles swapped."""
    from .math import reshape
    inputs, first = _channels_last(inputs, data_format)
    kd = _contiguous(_data(kernel))
    inputs, xd = _float_input(inputs, kd.dtype)
    if xd.ndim == 3:
        if kd.ndim != 3:
            raise ValueError(f"[conv_transpose] expected a 3-D kernel (kernel_size, filters, "
                             f"in_channels) for a 1-D input, got shape {kd.shape}")
        x4 = reshape(inputs, (xd.shape[0], 1) + xd.shape[1:])
        k4 = reshape(kernel, (1,) + kd.shape) if isinstance(kernel, Tensor) \
            else kd.reshape((1,) + kd.shape)
        s = (1,) + _tuple(strides, 1, "strides")
        d = (1,) + _tuple(dilation_rate, 1, "dilation_rate")
        op = None if output_padding is None else (0,) + _tuple(output_padding, 1,
                                                               "output_padding")
        y = conv_transpose(x4, k4, s, padding, op, None, d)
        y = reshape(y, (y.shape[0],) + y.shape[2:])
        return _channels_first(y) if first else y
    _check_input("conv_transpose", xd, 2)
    if kd.ndim != 4 or kd.shape[3] != xd.shape[3]:
        raise ValueError(f"[conv_transpose] input channels {xd.shape[3]} (input shape "
                         f"{xd.shape}) do not match the kernel shape {kd.shape}: expected "
                         f"(kh, kw, filters, {xd.shape[3]})")
    padding = _padding_name(padding)
    strides, dilation = _tuple(strides, 2, "strides"), _tuple(dilation_rate, 2, "dilation_rate")
    if min(strides) < 1 or min(dilation) < 1 or min(kd.shape[:2]) < 1:
        raise ValueError(f"[conv_transpose] strides, dilation_rate and kernel size must be "
                         f"positive, got strides={strides}, dilation_rate={dilation}, kernel "
                         f"shape {kd.shape}")
    paddings = (None, None)
    if output_padding is not None:
        paddings = _tuple(output_padding, 2, "output_padding")
        if min(paddings) < 0:
            raise ValueError(f"[conv_transpose] output_padding must be >= 0, got "
                             f"{output_padding!r}")
    out_hw, pads = [], []
    for n, k, s, d, p in zip(xd.shape[1:3], kd.shape[:2], strides, dilation, paddings):
        length, axis_pads = conv_transpose_geometry(n, k, s, d, padding, p)
        out_hw.append(length)
        pads.extend(axis_pads)
    N = xd.shape[0]
    xp = backend.array_module(xd)
    K = backend.kernels(xd)
    y_shape = (N, out_hw[0], out_hw[1], kd.shape[2])
    geometry = (strides[0], strides[1], *pads, dilation[0], dilation[1], 1)
    empty = 0 in y_shape or 0 in xd.shape
    if empty:  # nothing to scatter, or nowhere to put it (Keras returns the empty shape too)
        y = xp.zeros(y_shape, dtype=kd.dtype)
    else:
        y = xp.empty(y_shape, dtype=kd.dtype)
        K.conv2d_backward(None, kd, None, xd, y, None, None, *geometry, 0)

    def backward(g):
        need_x, need_w = out._node.needs
        if not g.flags.c_contiguous:
            g = xp.ascontiguousarray(g)
        if empty:
            return (xp.zeros_like(xd) if need_x else None,
                    xp.zeros_like(kd) if need_w else None)
        dx = dW = None
        if need_x:
            dx = xp.empty_like(xd)
            K.conv2d_forward(g, kd, None, dx, *geometry, 0)
        if need_w:
            dW = xp.empty_like(kd)
            K.conv2d_backward(g, None, None, xd, None, dW, None, *geometry, 0)
        return dx, dW

    out = make_output(y, (inputs, kernel), backward, "conv_transpose")
    return _channels_first(out) if first else out
