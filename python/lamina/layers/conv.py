"""Convolution layers with Keras 3's names, arguments, defaults and weight layouts
(channels_last data): Conv1D, Conv2D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose.

Each layer's call is one fused op (lamina.ops.conv): convolution, bias and relu in one kernel
call forward and one backward; other built-in activations follow as one activation op.
"""
import importlib

import numpy as np

from .. import activations, constraints, initializers, ops, regularizers
from .layer import InputSpec, Layer

conv_ops = importlib.import_module("lamina.ops.conv")  # the module; ops.conv is the function

__all__ = ["Conv1D", "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose"]


def _tuple(value, n, name, layer):
    if isinstance(value, (int, np.integer)):
        value = (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) != n or any(v < 1 for v in value):
        raise ValueError(f"{layer}: `{name}` must be a positive int or a tuple of {n} positive "
                         f"ints, got {value}")
    return value


def _serialize_init(init):
    return initializers.serialize(init) if isinstance(init, initializers.Initializer) else None


class _Conv(Layer):
    """What every convolution layer shares: argument checks, activation fusion, shapes."""

    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        where = f"{type(self).__name__} '{self.name}'"
        r = self.rank
        if filters is not None and (not isinstance(filters, (int, np.integer)) or filters <= 0):
            raise ValueError(f"{where}: `filters` must be a positive integer, got {filters!r}")
        self.filters = None if filters is None else int(filters)
        self.kernel_size = _tuple(kernel_size, r, "kernel_size", where)
        self.strides = _tuple(strides, r, "strides", where)
        self.dilation_rate = _tuple(dilation_rate, r, "dilation_rate", where)
        self.padding = str(padding).lower()
        allowed = ("valid", "same", "causal") if r == 1 else ("valid", "same")
        if self.padding not in allowed:
            raise ValueError(f"{where}: `padding` must be one of {list(allowed)}, got "
                             f"{padding!r}")
        self.data_format = data_format or "channels_last"
        if self.data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"{where}: `data_format` must be 'channels_last' or "
                             f"'channels_first', got {data_format!r}")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{where}: `strides > 1` not supported in conjunction with "
                             f"`dilation_rate > 1`. Received: strides={self.strides} and "
                             f"dilation_rate={self.dilation_rate}")
        self.groups = int(groups)
        if self.groups < 1:
            raise ValueError(f"{where}: `groups` must be a positive integer, got {groups!r}")
        if self.filters is not None and self.filters % self.groups:
            raise ValueError(f"{where}: the number of filters must be evenly divisible by the "
                             f"number of groups. Received: groups={self.groups}, "
                             f"filters={self.filters}")
        self.activation = activations.get(activation)
        self._fused = activations.FUSED.get(self.activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.input_spec = InputSpec(ndim=r + 2)

    @property
    def _channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def _in_channels(self, input_shape):
        c = input_shape[self._channel_axis]
        if c is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': the channel axis of the "
                             f"input must be known, got input shape {tuple(input_shape)}")
        return int(c)

    def _spatial(self, input_shape):
        return input_shape[1:-1] if self.data_format == "channels_last" else input_shape[2:]

    def _output_spatial(self, input_shape):
        return tuple(conv_ops.conv_output_length(n, k, s, d, self.padding)
                     for n, k, s, d in zip(self._spatial(input_shape), self.kernel_size,
                                           self.strides, self.dilation_rate))

    def _assemble(self, batch, spatial, channels):
        if self.data_format == "channels_last":
            return (batch,) + tuple(spatial) + (channels,)
        return (batch, channels) + tuple(spatial)

    def _activate(self, y):
        return y if self._fused is not None else self.activation(y)

    def _to_last(self, x):
        if self.data_format == "channels_last":
            return x
        return ops.transpose(x, (0,) + tuple(range(2, self.rank + 2)) + (1,))

    def _from_last(self, y):
        if self.data_format == "channels_last":
            return y
        return ops.transpose(y, (0, self.rank + 1) + tuple(range(1, self.rank + 1)))

    def _check_spatial(self, input_shape):
        if self.padding != "valid":
            return
        for n, k, d in zip(self._spatial(input_shape), self.kernel_size, self.dilation_rate):
            if n is not None and (k - 1) * d + 1 > n:
                raise ValueError(f"{type(self).__name__} '{self.name}': the kernel "
                                 f"{self.kernel_size} (dilation {self.dilation_rate}) is larger "
                                 f"than the input's spatial size {tuple(self._spatial(input_shape))}"
                                 f" with padding='valid'; input shape {tuple(input_shape)}")

    def _base_config(self):
        config = super().get_config()
        config.update({
            "kernel_size": self.kernel_size, "strides": self.strides, "padding": self.padding,
            "data_format": self.data_format, "dilation_rate": self.dilation_rate,
            "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
            "bias_initializer": _serialize_init(self.bias_initializer),
        })
        return config


class _ConvND(_Conv):
    def build(self, input_shape):
        self._check_spatial(input_shape)
        C = self._in_channels(input_shape)
        if C % self.groups:
            raise ValueError(f"{type(self).__name__} '{self.name}': the number of input "
                             f"channels must be evenly divisible by the number of groups. "
                             f"Received groups={self.groups}, but the input has {C} channels "
                             f"(full input shape is {tuple(input_shape)})")
        self.kernel = self.add_weight(
            shape=self.kernel_size + (C // self.groups, self.filters),
            initializer=self.kernel_initializer, name="kernel",
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = self.add_weight(
            shape=(self.filters,), initializer=self.bias_initializer, name="bias",
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint) if self.use_bias else None
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={self._channel_axis: C})
        self.built = True

    def call(self, inputs):
        x = self._to_last(inputs)
        fn = conv_ops.conv1d if self.rank == 1 else conv_ops.conv2d
        y = fn(x, self.kernel, self.bias, self.strides, self.padding, self.dilation_rate,
               self.groups, self._fused if self._fused is not None else None)
        return self._from_last(self._activate(y))

    def compute_output_shape(self, input_shape):
        return self._assemble(input_shape[0], self._output_spatial(input_shape), self.filters)

    def get_config(self):
        config = self._base_config()
        config.update({"filters": self.filters, "groups": self.groups,
                       "kernel_initializer": _serialize_init(self.kernel_initializer)})
        return config


class Conv1D(_ConvND):
    """1-D convolution over (batch, steps, channels); kernel (kernel_size, in/groups, filters).
    ``padding="causal"`` pads only the start of the sequence."""

    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         groups, activation, use_bias, kernel_initializer, bias_initializer,
                         **kwargs)


class Conv2D(_ConvND):
    """2-D convolution over (batch, height, width, channels); kernel (kh, kw, in/groups,
    filters), bias (filters,)."""

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         groups, activation, use_bias, kernel_initializer, bias_initializer,
                         **kwargs)


class DepthwiseConv2D(_Conv):
    """One filter bank per input channel: depthwise_kernel (kh, kw, channels,
    depth_multiplier), output channel c * depth_multiplier + m, bias (channels * multiplier,)."""

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(None, kernel_size, strides, padding, data_format, dilation_rate, 1,
                         activation, use_bias, depthwise_initializer, bias_initializer,
                         depthwise_regularizer, bias_regularizer, activity_regularizer,
                         depthwise_constraint, bias_constraint, **kwargs)
        if not isinstance(depth_multiplier, (int, np.integer)) or depth_multiplier < 1:
            raise ValueError(f"DepthwiseConv2D '{self.name}': `depth_multiplier` must be a "
                             f"positive integer, got {depth_multiplier!r}")
        self.depth_multiplier = int(depth_multiplier)

    def build(self, input_shape):
        self._check_spatial(input_shape)
        C = self._in_channels(input_shape)
        self.depthwise_kernel = self.add_weight(
            shape=self.kernel_size + (C, self.depth_multiplier),
            initializer=self.kernel_initializer, name="kernel",
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = self.add_weight(
            shape=(C * self.depth_multiplier,), initializer=self.bias_initializer, name="bias",
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint) if self.use_bias else None
        self.input_spec = InputSpec(ndim=4, axes={self._channel_axis: C})
        self.built = True

    def call(self, inputs):
        y = conv_ops._depthwise(self._to_last(inputs), self.depthwise_kernel, self.bias,
                                self.strides, self.padding, None, self.dilation_rate,
                                self._fused)
        return self._from_last(self._activate(y))

    def compute_output_shape(self, input_shape):
        C = input_shape[self._channel_axis]
        return self._assemble(input_shape[0], self._output_spatial(input_shape),
                              None if C is None else C * self.depth_multiplier)

    def get_config(self):
        config = self._base_config()
        config.update({"depth_multiplier": self.depth_multiplier,
                       "depthwise_initializer": _serialize_init(self.kernel_initializer)})
        return config


class SeparableConv2D(_Conv):
    """Depthwise convolution then a 1x1 convolution: depthwise_kernel (kh, kw, channels,
    depth_multiplier), pointwise_kernel (1, 1, channels * depth_multiplier, filters), bias
    (filters,)."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, 1,
                         activation, use_bias, depthwise_initializer, bias_initializer,
                         depthwise_regularizer, bias_regularizer, activity_regularizer,
                         depthwise_constraint, bias_constraint, **kwargs)
        self.depth_multiplier = int(depth_multiplier)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.pointwise_constraint = constraints.get(pointwise_constraint)

    def build(self, input_shape):
        self._check_spatial(input_shape)
        C = self._in_channels(input_shape)
        self.depthwise_kernel = self.add_weight(
            shape=self.kernel_size + (C, self.depth_multiplier),
            initializer=self.kernel_initializer, name="depthwise_kernel",
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.pointwise_kernel = self.add_weight(
            shape=(1, 1, C * self.depth_multiplier, self.filters),
            initializer=self.pointwise_initializer, name="pointwise_kernel",
            regularizer=self.pointwise_regularizer, constraint=self.pointwise_constraint)
        self.bias = self.add_weight(
            shape=(self.filters,), initializer=self.bias_initializer, name="bias",
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint) if self.use_bias else None
        self.input_spec = InputSpec(ndim=4, axes={self._channel_axis: C})
        self.built = True

    def call(self, inputs):
        y = conv_ops._depthwise(self._to_last(inputs), self.depthwise_kernel, None,
                                self.strides, self.padding, None, self.dilation_rate, None)
        y = conv_ops.conv2d(y, self.pointwise_kernel, self.bias, 1, "valid", 1, 1, self._fused)
        return self._from_last(self._activate(y))

    def compute_output_shape(self, input_shape):
        return self._assemble(input_shape[0], self._output_spatial(input_shape), self.filters)

    def get_config(self):
        config = self._base_config()
        config.update({"filters": self.filters, "depth_multiplier": self.depth_multiplier,
                       "depthwise_initializer": _serialize_init(self.kernel_initializer),
                       "pointwise_initializer": _serialize_init(self.pointwise_initializer)})
        return config


class Conv2DTranspose(_Conv):
    """Transposed 2-D convolution: kernel (kh, kw, filters, in_channels), bias (filters,);
    output sizes and values as Keras (lamina.ops.conv.conv_transpose_geometry), with
    ``output_padding`` (each < its stride) added at the end of each axis."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 output_padding=None, data_format=None, dilation_rate=(1, 1), activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, 1,
                         activation, use_bias, kernel_initializer, bias_initializer, **kwargs)
        self.output_padding = None if output_padding is None else \
            tuple(int(p) for p in ((output_padding,) * 2 if np.isscalar(output_padding)
                                   else output_padding))
        if self.output_padding is not None:
            if len(self.output_padding) != 2 or min(self.output_padding) < 0:
                raise ValueError(f"Conv2DTranspose '{self.name}': the `output_padding` argument "
                                 f"must be a tuple of 2 integers >= 0, received "
                                 f"output_padding={output_padding!r}")
            if any(p >= s for p, s in zip(self.output_padding, self.strides)):
                raise ValueError(f"Conv2DTranspose '{self.name}': `output_padding` must be < "
                                 f"`strides`. output_padding={self.output_padding}, "
                                 f"strides={self.strides}")

    def build(self, input_shape):
        C = self._in_channels(input_shape)
        self.kernel = self.add_weight(
            shape=self.kernel_size + (self.filters, C), initializer=self.kernel_initializer,
            name="kernel", regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint)
        self.bias = self.add_weight(
            shape=(self.filters,), initializer=self.bias_initializer, name="bias",
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint) if self.use_bias else None
        self.input_spec = InputSpec(ndim=4, axes={self._channel_axis: C})
        self.built = True

    def call(self, inputs):
        y = ops.conv_transpose(self._to_last(inputs), self.kernel, self.strides, self.padding,
                               self.output_padding, None, self.dilation_rate)
        if self.bias is not None:
            y = ops.add(y, self.bias)
        if self._fused not in (None, "linear"):
            y = ops.activation(y, self._fused)
        return self._from_last(self._activate(y))

    def compute_output_shape(self, input_shape):
        paddings = self.output_padding or (None, None)
        spatial = tuple(conv_ops.conv_transpose_geometry(n, k, s, d, self.padding, p)[0]
                        for n, k, s, d, p in zip(self._spatial(input_shape), self.kernel_size,
                                                 self.strides, self.dilation_rate, paddings))
        return self._assemble(input_shape[0], spatial, self.filters)

    def get_config(self):
        config = self._base_config()
        config.update({"filters": self.filters, "output_padding": self.output_padding,
                       "kernel_initializer": _serialize_init(self.kernel_initializer)})
        return config
