"""Recurrent layers with Keras 3's names, arguments, defaults and weight layouts: LSTM, GRU,
SimpleRNN, Bidirectional, TimeDistributed.

Each recurrent layer runs its whole sequence through one fused op (lamina.ops.lstm / gru /
simple_rnn: one kernel call forward, one backward), whatever the mask, direction or state
arguments. Masks come from ``mask=`` or from the layer that produced the input
(Embedding(mask_zero=True), Masking).
"""
import numpy as np

from .. import activations, constraints, initializers, ops, random, regularizers
from ..autograd import Tensor
from ..ops import rnn as rnn_ops
from .embedding import get_mask, set_mask
from .layer import InputSpec, Layer

__all__ = ["LSTM", "GRU", "SimpleRNN", "Bidirectional", "TimeDistributed"]


def _activation_name(act, where):
    """Keras activation (name or function) -> the recurrent kernels' name."""
    if act is None:
        return "linear"
    name = act if isinstance(act, str) else activations.serialize(activations.get(act))
    if name not in rnn_ops.RNN_ACTIVATIONS:
        raise ValueError(f"{where}: activation {name!r} is not supported by the recurrent "
                         f"kernels; expected one of "
                         f"{sorted(k for k in rnn_ops.RNN_ACTIVATIONS if k)}")
    return name


class _RNN(Layer):
    """What LSTM, GRU and SimpleRNN share: arguments, weights, masks, states, dropout."""

    _GATES = 1
    _STATES = 1
    _RECURRENT_DROPOUT = True

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, zero_output_for_mask=False,
                 **kwargs):
        kwargs.pop("use_cudnn", None)
        kwargs.pop("time_major", None)
        super().__init__(**kwargs)
        if not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"{type(self).__name__} '{self.name}': `units` must be a positive "
                             f"integer, got {units!r}")
        where = f"{type(self).__name__} '{self.name}'"
        self.units = int(units)
        self.activation = _activation_name(activation, where)
        self.recurrent_activation = _activation_name(recurrent_activation, where)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        for arg, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"{where}: `{arg}` must be in [0, 1), got {rate}")
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        if self.recurrent_dropout > 0 and not self._RECURRENT_DROPOUT:
            raise NotImplementedError(
                f"{where}: recurrent_dropout > 0 is not supported by lamina's fused GRU kernel "
                "yet (LSTM and SimpleRNN support it; dropout on the inputs works everywhere)")
        self.seed = seed
        self._seed_generator = random.SeedGenerator(seed) if seed is not None else None
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)  # accepted; the fused kernel has nothing to unroll
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True
        self.states = None
        self.input_spec = InputSpec(ndim=3)

    _UNTRACKED = frozenset({"_seed_generator", "states"})

    # -- weights -----------------------------------------------------------------------------
    def _bias_shape(self):
        return (self._GATES * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        features = input_shape[-1]
        if features is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': the last axis of the input "
                             f"must be known, got input shape {tuple(input_shape)}")
        G = self._GATES * self.units
        self.kernel = self.add_weight(shape=(features, G), initializer=self.kernel_initializer,
                                      name="kernel", regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, G), initializer=self.recurrent_initializer,
            name="recurrent_kernel", regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint)
        self.bias = self.add_weight(shape=self._bias_shape(), initializer=self._bias_initializer(),
                                    name="bias", regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        self.input_spec = InputSpec(ndim=3, axes={-1: int(features)})
        self.built = True

    # -- calling -----------------------------------------------------------------------------
    def _run(self, x, states, mask, recurrent_mask):
        raise NotImplementedError

    def call(self, inputs, initial_state=None, mask=None, training=False):
        if mask is None:
            mask = get_mask(inputs)
        if mask is not None:
            mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask, bool)
        x = inputs
        if training and self.dropout > 0:
            x = ops.dropout(x, self.dropout, noise_shape=(None, 1, None),
                            seed=self._seed_generator)
        states = self._initial_states(inputs, initial_state)
        recurrent_mask = None
        if training and self.recurrent_dropout > 0:
            # One keep mask per sample and unit for the whole sequence, as Keras' cells.
            gen = random._rng(self._seed_generator)
            keep = gen.random((inputs.shape[0], self.units)) >= self.recurrent_dropout
            recurrent_mask = (keep / (1.0 - self.recurrent_dropout)).astype(self.dtype)
        outs = self._run(x, states, mask, recurrent_mask)
        output, new_states = outs[0], list(outs[1:])
        if self.stateful:
            self.states = [s.data.copy() for s in new_states]
        if mask is not None and self.return_sequences:
            set_mask(output, mask[:, ::-1] if self.go_backwards else mask)
        if self.return_state:
            return [output] + new_states
        return output

    def _initial_states(self, inputs, initial_state):
        batch = inputs.shape[0]
        if initial_state is not None:
            if isinstance(initial_state, (Tensor, np.ndarray)):
                initial_state = [initial_state]
            initial_state = list(initial_state)
            if len(initial_state) != self._STATES:
                raise ValueError(f"{type(self).__name__} '{self.name}': expected "
                                 f"{self._STATES} initial state(s), got {len(initial_state)}")
            for i, s in enumerate(initial_state):
                if tuple(np.shape(s)) != (batch, self.units):
                    raise ValueError(f"{type(self).__name__} '{self.name}': initial state {i} "
                                     f"has shape {tuple(np.shape(s))}, expected "
                                     f"({batch}, {self.units})")
            return initial_state
        if self.stateful:
            if self.states is None or self.states[0].shape[0] != batch:
                self.states = [np.zeros((batch, self.units), dtype=self.dtype)
                               for _ in range(self._STATES)]
            return list(self.states)
        return [None] * self._STATES

    def reset_states(self):
        """Stateful layers: forget the carried states (zeros at the next call)."""
        self.states = None

    reset_state = reset_states

    def compute_mask(self, inputs, mask=None):
        if mask is None or not self.return_sequences:
            return None
        return mask

    def compute_output_shape(self, input_shape):
        batch, steps = input_shape[0], input_shape[1]
        out = (batch, steps, self.units) if self.return_sequences else (batch, self.units)
        if self.return_state:
            return [out] + [(batch, self.units)] * self._STATES
        return out

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units, "activation": self.activation,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed, "return_sequences": self.return_sequences,
            "return_state": self.return_state, "go_backwards": self.go_backwards,
            "stateful": self.stateful, "unroll": self.unroll,
        })
        return config


class LSTM(_RNN):
    """Long short-term memory (Keras 3): kernel (features, 4 units), recurrent_kernel
    (units, 4 units), bias (4 units,), gates i, f, c, o; unit_forget_bias starts the forget
    gate's bias at 1. With return_state the call returns [output, h, c]."""

    _GATES = 4
    _STATES = 2

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, **kwargs):
        super().__init__(units, activation=activation,
                         recurrent_activation=recurrent_activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, U = self.bias_initializer, self.units

        def init(shape, dtype=None):
            parts = [base((U,), dtype=dtype), np.ones((U,), dtype=dtype),
                     base((2 * U,), dtype=dtype)]
            return np.concatenate([np.asarray(p) for p in parts]).astype(dtype)

        return init

    def _run(self, x, states, mask, recurrent_mask):
        return rnn_ops.lstm(x, self.kernel, self.recurrent_kernel, self.bias, states[0],
                            states[1], mask=mask, go_backwards=self.go_backwards,
                            return_sequences=self.return_sequences,
                            activation=self.activation,
                            recurrent_activation=self.recurrent_activation,
                            zero_output_for_mask=self.zero_output_for_mask,
                            recurrent_mask=recurrent_mask)

    def get_config(self):
        config = super().get_config()
        config.update({"recurrent_activation": self.recurrent_activation,
                       "unit_forget_bias": self.unit_forget_bias})
        return config


class GRU(_RNN):
    """Gated recurrent unit (Keras 3): gates z, r, h; reset_after=True (the default) applies
    the reset gate after the recurrent product and has bias (2, 3 units) [input; recurrent],
    reset_after=False has bias (3 units,)."""

    _GATES = 3
    _STATES = 1
    _RECURRENT_DROPOUT = False

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", reset_after=True, **kwargs):
        super().__init__(units, activation=activation,
                         recurrent_activation=recurrent_activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, **kwargs)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _run(self, x, states, mask, recurrent_mask):
        return rnn_ops.gru(x, self.kernel, self.recurrent_kernel, self.bias, states[0],
                           mask=mask, go_backwards=self.go_backwards,
                           return_sequences=self.return_sequences,
                           reset_after=self.reset_after, activation=self.activation,
                           recurrent_activation=self.recurrent_activation,
                           zero_output_for_mask=self.zero_output_for_mask)

    def get_config(self):
        config = super().get_config()
        config.update({"recurrent_activation": self.recurrent_activation,
                       "reset_after": self.reset_after})
        return config


class SimpleRNN(_RNN):
    """Fully connected recurrence h_t = activation(x_t kernel + h_{t-1} recurrent_kernel + b)."""

    _GATES = 1
    _STATES = 1

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", **kwargs):
        super().__init__(units, activation=activation, recurrent_activation="sigmoid",
                         use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, **kwargs)

    def _run(self, x, states, mask, recurrent_mask):
        return rnn_ops.simple_rnn(x, self.kernel, self.recurrent_kernel, self.bias, states[0],
                                  mask=mask, go_backwards=self.go_backwards,
                                  return_sequences=self.return_sequences,
                                  activation=self.activation,
                                  zero_output_for_mask=self.zero_output_for_mask,
                                  recurrent_mask=recurrent_mask)


_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy backwards over the sequence and merges the
    two outputs (merge_mode "concat", "sum", "mul", "ave", or None for a list). Weights: the
    forward layer's, then the backward layer's (Keras' order)."""

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if not isinstance(layer, _RNN):
            raise ValueError(f"Bidirectional: expected a recurrent layer (LSTM, GRU, SimpleRNN), "
                             f"got {layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Bidirectional: invalid merge_mode {merge_mode!r}; expected one of "
                             f"{_MERGE_MODES}")
        super().__init__(**kwargs)
        config = layer.get_config()
        if backward_layer is None:
            bw_config = dict(config, go_backwards=not layer.go_backwards,
                             name="backward_" + layer.name)
            backward_layer = type(layer)(**bw_config)
        elif backward_layer.go_backwards == layer.go_backwards:
            raise ValueError("Bidirectional: backward_layer.go_backwards must be the opposite of "
                             "layer.go_backwards")
        self.forward_layer = type(layer)(**dict(config, name="forward_" + layer.name))
        self.backward_layer = backward_layer
        # Keras: masked steps output zeros in both directions, so the merge lines up.
        self.forward_layer.zero_output_for_mask = layer.return_sequences
        self.backward_layer.zero_output_for_mask = layer.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.supports_masking = True
        self._initial_weights = weights

    def build(self, input_shape):
        self.forward_layer.build(input_shape)
        self.forward_layer.built = True
        self.backward_layer.build(input_shape)
        self.backward_layer.built = True
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def call(self, inputs, initial_state=None, mask=None, training=False):
        if mask is None:
            mask = get_mask(inputs)
        fw_state = bw_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            fw_state, bw_state = initial_state[:half], initial_state[half:]
        fw = self.forward_layer(inputs, initial_state=fw_state, mask=mask, training=training)
        bw = self.backward_layer(inputs, initial_state=bw_state, mask=mask, training=training)
        fw_states = bw_states = []
        if self.return_state:
            fw, fw_states = fw[0], fw[1:]
            bw, bw_states = bw[0], bw[1:]
        if self.return_sequences:
            bw = ops.getitem(bw, (slice(None), slice(None, None, -1)))
        if self.merge_mode == "concat":
            out = ops.concatenate([fw, bw], axis=-1)
        elif self.merge_mode == "sum":
            out = ops.add(fw, bw)
        elif self.merge_mode == "mul":
            out = ops.multiply(fw, bw)
        elif self.merge_mode == "ave":
            out = ops.multiply(ops.add(fw, bw), 0.5)
        else:
            out = [fw, bw]
        if mask is not None and self.return_sequences and self.merge_mode is not None:
            set_mask(out, mask)
        if self.return_state:
            return (out if isinstance(out, list) else [out]) + list(fw_states) + list(bw_states)
        return out

    def compute_output_shape(self, input_shape):
        shape = self.forward_layer.compute_output_shape(input_shape)
        states = []
        if self.return_state:
            shape, states = shape[0], shape[1:]
        if self.merge_mode == "concat":
            out = tuple(shape[:-1]) + (shape[-1] * 2,)
        elif self.merge_mode is None:
            out = [tuple(shape), tuple(shape)]
        else:
            out = tuple(shape)
        if self.return_state:
            return (out if isinstance(out, list) else [out]) + list(states) * 2
        return out

    def reset_states(self):
        self.forward_layer.reset_states()
        self.backward_layer.reset_states()

    def get_config(self):
        config = super().get_config()
        config.update({"layer": {"class_name": type(self.forward_layer).__name__,
                                 "config": self.forward_layer.get_config()},
                       "merge_mode": self.merge_mode})
        return config


class TimeDistributed(Layer):
    """Applies `layer` to every timestep: (batch, timesteps, ...) is folded into one batch of
    batch * timesteps samples, so the wrapped layer runs once, not once per step."""

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed: expected a Layer, got {layer!r}")
        super().__init__(**kwargs)
        self.layer = layer
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(f"TimeDistributed '{self.name}': expected inputs of rank >= 3 "
                             f"(batch, timesteps, ...), got shape {tuple(input_shape)}")
        inner = (None,) + tuple(input_shape[2:])
        if not self.layer.built:
            self.layer.build(inner)
            self.layer.built = True
        self.built = True

    def call(self, inputs, training=False):
        shape = inputs.shape
        folded = ops.reshape(inputs, (shape[0] * shape[1],) + tuple(shape[2:]))
        out = self.layer(folded, training=training)
        out = ops.reshape(out, (shape[0], shape[1]) + tuple(out.shape[1:]))
        mask = get_mask(inputs)
        if mask is not None:
            set_mask(out, mask)
        return out

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None,) + tuple(input_shape[2:]))
        return (input_shape[0], input_shape[1]) + tuple(inner[1:])

    def get_config(self):
        config = super().get_config()
        config["layer"] = {"class_name": type(self.layer).__name__,
                           "config": self.layer.get_config()}
        return config
