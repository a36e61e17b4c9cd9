"""Convolution layers with Keras 3's names, arguments, defaults, weight names and layouts
(channels_last data): Conv1D, Conv2D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose.

Each layer's call is one fused op (lamina.ops.conv): convolution, bias and relu in one kernel
call forward and one backward; other built-in activations follow as one activation op. Integer
arguments are checked when the layer is made, as Keras does.
"""
import importlib
import numbers

from .. import activations, constraints, initializers, ops, regularizers
from .layer import InputSpec, Layer

conv_ops = importlib.import_module("lamina.ops.conv")  # the module; ops.conv is the function

__all__ = ["Conv1D", "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose"]


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def positive_int(value, name, where):
    """`value` as an int > 0, or Keras' "Invalid value for argument" error."""
    if not _is_int(value) or value <= 0:
        raise ValueError(f"{where}: Invalid value for argument `{name}`. Expected a strictly "
                         f"positive integer. Received {name}={value!r}")
    return int(value)


def int_tuple(value, n, name, where, allow_zero=False):
    """An int or n ints as a tuple of n ints, each > 0 (>= 0 with allow_zero), as Keras'
    standardize_tuple checks them."""
    values = (value,) * n if _is_int(value) else value
    try:
        values = tuple(values)
    except TypeError:
        values = ()
    if len(values) != n or not all(_is_int(v) and (v >= 0 if allow_zero else v > 0)
                                   for v in values):
        raise ValueError(f"{where}: the `{name}` argument must be a tuple of {n} integers "
                         f"{'>= 0' if allow_zero else '> 0'}, received {name}={value!r}")
    return tuple(int(v) for v in values)


class _Conv(Layer):
    """What every convolution layer shares: argument checks, the bias, activation fusion,
    shapes. Subclasses own their kernels and those kernels' initializers, regularizers and
    constraints, under Keras' names (kernel_*, depthwise_*, pointwise_*)."""

    rank = 2
    allowed_padding = ("valid", "same")

    def __init__(self, kernel_size, strides, padding, data_format, dilation_rate, activation,
                 use_bias, bias_initializer, bias_regularizer, activity_regularizer,
                 bias_constraint, **kwargs):
        super().__init__(**kwargs)
        where = self._where
        r = self.rank
        self.kernel_size = int_tuple(kernel_size, r, "kernel_size", where)
        self.strides = int_tuple(strides, r, "strides", where)
        self.dilation_rate = int_tuple(dilation_rate, r, "dilation_rate", where)
        self.padding = str(padding).lower()
        if self.padding not in self.allowed_padding:
            raise ValueError(f"{where}: `padding` must be one of {list(self.allowed_padding)}, "
                             f"got {padding!r}")
        self.data_format = data_format or "channels_last"
        if self.data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"{where}: `data_format` must be 'channels_last' or "
                             f"'channels_first', got {data_format!r}")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{where}: `strides > 1` not supported in conjunction with "
                             f"`dilation_rate > 1`. Received: strides={self.strides} and "
                             f"dilation_rate={self.dilation_rate}")
        self.activation = activations.get(activation)
        self._fused = activations.FUSED.get(self.activation)
        self.use_bias = bool(use_bias)
        self.bias_initializer = initializers.get(bias_initializer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.bias_constraint = constraints.get(bias_constraint)
        self.input_spec = InputSpec(ndim=r + 2)

    @property
    def _where(self):
        return f"{type(self).__name__} '{self.name}'"

    @property
    def _channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def _in_channels(self, input_shape):
        c = input_shape[self._channel_axis]
        if c is None:
            raise ValueError(f"{self._where}: the channel axis of the input must be known, got "
                             f"input shape {tuple(input_shape)}")
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
                raise ValueError(f"{self._where}: the kernel {self.kernel_size} (dilation "
                                 f"{self.dilation_rate}) is larger than the input's spatial "
                                 f"size {tuple(self._spatial(input_shape))} with "
                                 f"padding='valid'; input shape {tuple(input_shape)}")

    def _add_kernel(self, name, shape, prefix):
        """The weight `name` with the `prefix`_initializer/_regularizer/_constraint settings."""
        return self.add_weight(shape=shape, initializer=getattr(self, f"{prefix}_initializer"),
                               name=name, regularizer=getattr(self, f"{prefix}_regularizer"),
                               constraint=getattr(self, f"{prefix}_constraint"))

    def _add_bias(self, size):
        if not self.use_bias:
            return None
        return self.add_weight(shape=(size,), initializer=self.bias_initializer, name="bias",
                               regularizer=self.bias_regularizer,
                               constraint=self.bias_constraint)

    def _config(self, kernel_prefixes, **extra):
        """Keras' config: the shared keys, `extra`, and the initializer, regularizer and
        constraint of each kernel prefix and of the bias."""
        config = super().get_config()
        config.update(extra)
        config.update({
            "kernel_size": self.kernel_size, "strides": self.strides, "padding": self.padding,
            "data_format": self.data_format, "dilation_rate": self.dilation_rate,
            "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
        })
        for prefix in kernel_prefixes + ("bias",):
            config[f"{prefix}_initializer"] = initializers.serialize(
                getattr(self, f"{prefix}_initializer"))
            config[f"{prefix}_regularizer"] = regularizers.serialize(
                getattr(self, f"{prefix}_regularizer"))
            config[f"{prefix}_constraint"] = constraints.serialize(
                getattr(self, f"{prefix}_constraint"))
        return config


class _ConvND(_Conv):
    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation,
                         use_bias, bias_initializer, bias_regularizer, activity_regularizer,
                         bias_constraint, **kwargs)
        self.filters = positive_int(filters, "filters", self._where)
        self.groups = positive_int(groups, "groups", self._where)
        if self.filters % self.groups:
            raise ValueError(f"{self._where}: the number of filters must be evenly divisible by "
                             f"the number of groups. Received: groups={self.groups}, "
                             f"filters={self.filters}")
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)

    def build(self, input_shape):
        self._check_spatial(input_shape)
        C = self._in_channels(input_shape)
        if C % self.groups:
            raise ValueError(f"{self._where}: the number of input channels must be evenly "
                             f"divisible by the number of groups. Received groups={self.groups}, "
                             f"but the input has {C} channels (full input shape is "
                             f"{tuple(input_shape)})")
        self.kernel = self._add_kernel("kernel", self.kernel_size + (C // self.groups,
                                                                     self.filters), "kernel")
        self.bias = self._add_bias(self.filters)
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
        return self._config(("kernel",), filters=self.filters, groups=self.groups)


class Conv1D(_ConvND):
    """1-D convolution over (batch, steps, channels); kernel (kernel_size, in/groups, filters).
    ``padding="causal"`` pads only the start of the sequence."""

    rank = 1
    allowed_padding = ("valid", "same", "causal")


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
    """One filter bank per input channel: kernel (kh, kw, channels, depth_multiplier), named
    "kernel" as in Keras 3 (``depthwise_kernel`` is the same weight); output channel
    c * depth_multiplier + m, bias (channels * multiplier,)."""

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation,
                         use_bias, bias_initializer, bias_regularizer, activity_regularizer,
                         bias_constraint, **kwargs)
        self.depth_multiplier = positive_int(depth_multiplier, "depth_multiplier", self._where)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.depthwise_constraint = constraints.get(depthwise_constraint)

    @property
    def depthwise_kernel(self):
        """Keras 2's name of ``kernel``."""
        return self.kernel

    def build(self, input_shape):
        self._check_spatial(input_shape)
        C = self._in_channels(input_shape)
        self.kernel = self._add_kernel("kernel", self.kernel_size + (C, self.depth_multiplier),
                                       "depthwise")
        self.bias = self._add_bias(C * self.depth_multiplier)
        self.input_spec = InputSpec(ndim=4, axes={self._channel_axis: C})
        self.built = True

    def call(self, inputs):
        y = conv_ops._depthwise(self._to_last(inputs), self.kernel, self.bias, self.strides,
                                self.padding, None, self.dilation_rate, self._fused)
        return self._from_last(self._activate(y))

    def compute_output_shape(self, input_shape):
        C = input_shape[self._channel_axis]
        return self._assemble(input_shape[0], self._output_spatial(input_shape),
                              None if C is None else C * self.depth_multiplier)

    def get_config(self):
        return self._config(("depthwise",), depth_multiplier=self.depth_multiplier)


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
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation,
                         use_bias, bias_initializer, bias_regularizer, activity_regularizer,
                         bias_constraint, **kwargs)
        self.filters = positive_int(filters, "filters", self._where)
        self.depth_multiplier = positive_int(depth_multiplier, "depth_multiplier", self._where)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.depthwise_constraint = constraints.get(depthwise_constraint)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.pointwise_constraint = constraints.get(pointwise_constraint)

    def build(self, input_shape):
        self._check_spatial(input_shape)
        C = self._in_channels(input_shape)
        M = self.depth_multiplier
        self.depthwise_kernel = self._add_kernel("depthwise_kernel",
                                                 self.kernel_size + (C, M), "depthwise")
        self.pointwise_kernel = self._add_kernel("pointwise_kernel", (1, 1, C * M, self.filters),
                                                 "pointwise")
        self.bias = self._add_bias(self.filters)
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
        return self._config(("depthwise", "pointwise"), filters=self.filters,
                            depth_multiplier=self.depth_multiplier)


class Conv2DTranspose(_Conv):
    """Transposed 2-D convolution: kernel (kh, kw, filters, in_channels), bias (filters,);
    output sizes and values as Keras (lamina.ops.conv.conv_transpose_geometry), with
    ``output_padding`` (each < its stride) added at the end of each axis."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 output_padding=None, data_format=None, dilation_rate=(1, 1), activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation,
                         use_bias, bias_initializer, bias_regularizer, activity_regularizer,
                         bias_constraint, **kwargs)
        self.filters = positive_int(filters, "filters", self._where)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.output_padding = None if output_padding is None else int_tuple(
            output_padding, 2, "output_padding", self._where, allow_zero=True)
        if self.output_padding is not None and any(
                p >= s for p, s in zip(self.output_padding, self.strides)):
            raise ValueError(f"{self._where}: `output_padding` must be < `strides`. "
                             f"output_padding={self.output_padding}, strides={self.strides}")

    def build(self, input_shape):
        C = self._in_channels(input_shape)
        self.kernel = self._add_kernel("kernel", self.kernel_size + (self.filters, C), "kernel")
        self.bias = self._add_bias(self.filters)
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
        return self._config(("kernel",), filters=self.filters,
                            output_padding=self.output_padding)
