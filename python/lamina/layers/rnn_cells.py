"""Recurrent cells with Keras 3's names, arguments and weights: SimpleRNNCell, LSTMCell,
GRUCell, and StackedRNNCells.

A cell owns the weights of one recurrent layer (kernel (features, gates * units),
recurrent_kernel (units, gates * units), bias) and, unlike a Keras cell, also knows how to run
a WHOLE sequence in one fused op (``run_sequence``: lamina.ops.lstm / gru / simple_rnn, one
kernel call forward and one backward). ``RNN(cell)`` and LSTM / GRU / SimpleRNN call that, so
``RNN(LSTMCell(u))`` and ``LSTM(u)`` compute the same thing at the same speed with the same
weights. Calling a cell on one step, ``cell(x_t, states)``, runs the same op on a sequence of
length one (Keras' cell API).

Activations: the element-wise activations lamina has kernel formulas for, by Keras name or as
the lamina.activations function (see ``RECURRENT_ACTIVATIONS``). A user's own callable has no
fused recurrent kernel and is refused with the list of names that work.

Dropout (Keras 3's cells): `dropout` drops input features with one mask per sample for the
whole sequence; `recurrent_dropout` drops h_{t-1} where it enters the recurrent products, with
one mask per sample and gate for the whole sequence (LSTM 4, GRU 3, SimpleRNN 1); the state
update itself (LSTM c and h, GRU h = z h_{t-1} + (1 - z) hh) reads the undropped h_{t-1}.
Keras additionally draws separate input masks per gate when recurrent_dropout > 0 (its
"implementation 1"); lamina keeps one input mask for all gates there too.
"""
import numpy as np

from .. import (activations, backend, constraints, initializers, ops, random,
               regularizers)
from ..ops import rnn as rnn_ops
from ..saving.serialization_lib import deserialize_keras_object, serialize_keras_object
from .layer import Layer

__all__ = ["SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells", "RECURRENT_ACTIVATIONS",
           "recurrent_activation_name"]

# Keras names of the activations the fused recurrent kernels evaluate.
RECURRENT_ACTIVATIONS = tuple(sorted(k for k in rnn_ops.RNN_ACTIVATIONS if k))


def recurrent_activation_name(act, where, arg):
    """The Keras name of an activation given as a name, None (linear) or a lamina.activations
    function; anything else (a user's callable, an unknown name) raises a ValueError naming
    the layer, the argument and the names that work."""
    if act is None:
        return "linear"
    name = act if isinstance(act, str) else None
    if name is None and callable(act):  # one of lamina.activations' functions, by its name
        candidate = getattr(act, "__name__", None)
        try:
            if isinstance(candidate, str) and activations.get(candidate) is act:
                name = candidate
        except (ValueError, TypeError):
            pass
    if name is None or name not in rnn_ops.RNN_ACTIVATIONS:
        kind = "the callable" if callable(act) and not isinstance(act, str) else "activation"
        raise ValueError(
            f"{where}: `{arg}`={act!r} is not supported: {kind} has no fused recurrent kernel. "
            f"The recurrent layers take one of {list(RECURRENT_ACTIVATIONS)}, as a name or as "
            f"the lamina.activations function")
    return name


def _check_rate(where, arg, rate):
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"{where}: `{arg}` must be in [0, 1), got {rate}")
    return float(rate)


class _FusedCell(Layer):
    """What SimpleRNNCell, LSTMCell and GRUCell share: arguments, weights, dropout masks, the
    one-step call and the Keras config."""

    _GATES = 1
    _STATES = 1

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        kwargs.pop("implementation", None)  # Keras' loop variants; the fused kernel is one
        owner = kwargs.pop("_owner", None)  # the LSTM / GRU / SimpleRNN layer, for errors
        super().__init__(**kwargs)
        where = owner or f"{type(self).__name__} '{self.name}'"
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"{where}: `units` must be a positive integer, got {units!r}")
        self.units = int(units)
        self._act = recurrent_activation_name(activation, where, "activation")
        self._ract = recurrent_activation_name(recurrent_activation, where,
                                               "recurrent_activation")
        self.activation = activations.get(self._act)
        self.recurrent_activation = activations.get(self._ract)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = _check_rate(where, "dropout", dropout)
        self.recurrent_dropout = _check_rate(where, "recurrent_dropout", recurrent_dropout)
        self.seed = seed
        self._seed_generator = random.SeedGenerator(seed) if seed is not None else None
        # Step-by-step use (the cell API, `call`): the dropout masks drawn at the first step,
        # kept until reset_dropout_mask() / reset_recurrent_dropout_mask(), as Keras'
        # DropoutRNNCell keeps them (an RNN layer resets them after each sequence).
        self._in_step = False
        self._step_dropout_mask = None
        self._step_recurrent_mask = None
        self.state_size = self.units if self._STATES == 1 else [self.units] * self._STATES
        self.output_size = self.units

    _UNTRACKED = frozenset({"_seed_generator"})

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
        self.built = True

    # -- running -----------------------------------------------------------------------------
    def _dropped(self, x, training):
        """(x with input dropout, the (batch, gates * units) recurrent keep mask or None):
        masks drawn for this whole sequence, or inside a step call the step masks."""
        if not training:
            return x, None
        if self._in_step:
            return self._step_dropped(x)
        if self.dropout > 0:
            x = ops.dropout(x, self.dropout, noise_shape=(None, 1, None),
                            seed=self._seed_generator)
        recurrent_mask = None
        if self.recurrent_dropout > 0:
            gen = random._rng(self._seed_generator)
            keep = gen.random((x.shape[0], self._GATES * self.units)) >= self.recurrent_dropout
            recurrent_mask = (keep / (1.0 - self.recurrent_dropout)).astype(self.dtype)
        return x, recurrent_mask

    def _step_dropped(self, x):
        """_dropped for one step, x (batch, 1, features): the masks of the first step of the
        sequence, drawn again only after a reset or for another batch size."""
        batch = x.shape[0]
        if self.dropout > 0:
            m = self._step_dropout_mask
            if m is None or m.shape[0] != batch:
                keep = random._rng(self._seed_generator).random((batch, 1, x.shape[-1]))
                m = ((keep >= self.dropout) / (1.0 - self.dropout)).astype(self.dtype)
                m = self._step_dropout_mask = backend.to_array_module(
                    m, backend.array_module(x.data))
            x = ops.multiply(x, m)
        rmask = None
        if self.recurrent_dropout > 0:
            rmask = self._step_recurrent_mask
            if rmask is None or rmask.shape[0] != batch:
                keep = random._rng(self._seed_generator).random((batch,
                                                                 self._GATES * self.units))
                rmask = self._step_recurrent_mask = (
                    (keep >= self.recurrent_dropout) / (1.0 - self.recurrent_dropout)
                ).astype(self.dtype)
        return x, rmask

    def reset_dropout_mask(self):
        """Forgets the input dropout mask of step-by-step calls (Keras' DropoutRNNCell)."""
        self._step_dropout_mask = None

    def reset_recurrent_dropout_mask(self):
        """Forgets the recurrent dropout mask of step-by-step calls."""
        self._step_recurrent_mask = None

    def run_sequence(self, x, states, mask=None, go_backwards=False, return_sequences=False,
                     zero_output_for_mask=False, training=False):
        """The cell over a whole sequence x (batch, timesteps, features) in one fused op;
        states is a list (None entries start at zeros). Returns (output, new states)."""
        raise NotImplementedError

    def call(self, inputs, states, training=False):
        """One step (Keras' cell API): inputs (batch, features), states a list (or, for a
        one-state cell, a tensor); returns (output, new states) in the same form."""
        nested = isinstance(states, (list, tuple))
        state_list = list(states) if nested else [states]
        self._in_step = True
        try:
            out, new = self.run_sequence(ops.expand_dims(inputs, 1), state_list,
                                         training=training)
        finally:
            self._in_step = False
        return out, (new if nested or self._STATES > 1 else new[0])

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, self.units), dtype=self.dtype)
                for _ in range(self._STATES)]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units, "activation": self._act,
            "recurrent_activation": self._ract, "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        })
        return config


class SimpleRNNCell(_FusedCell):
    """h_t = activation(x_t kernel + h_{t-1} recurrent_kernel + bias)."""

    _GATES = 1
    _STATES = 1

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, **kwargs)

    def run_sequence(self, x, states, mask=None, go_backwards=False, return_sequences=False,
                     zero_output_for_mask=False, training=False):
        x, rmask = self._dropped(x, training)
        out, h = rnn_ops.simple_rnn(x, self.kernel, self.recurrent_kernel, self.bias, states[0],
                                    mask=mask, go_backwards=go_backwards,
                                    return_sequences=return_sequences, activation=self._act,
                                    zero_output_for_mask=zero_output_for_mask,
                                    recurrent_mask=rmask)
        return out, [h]

    def get_config(self):
        config = super().get_config()
        del config["recurrent_activation"]
        return config


class LSTMCell(_FusedCell):
    """Long short-term memory: gates i, f, c, o; states [h, c]; unit_forget_bias starts the
    forget gate's bias at 1."""

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

    def run_sequence(self, x, states, mask=None, go_backwards=False, return_sequences=False,
                     zero_output_for_mask=False, training=False):
        x, rmask = self._dropped(x, training)
        out, h, c = rnn_ops.lstm(x, self.kernel, self.recurrent_kernel, self.bias, states[0],
                                 states[1], mask=mask, go_backwards=go_backwards,
                                 return_sequences=return_sequences, activation=self._act,
                                 recurrent_activation=self._ract,
                                 zero_output_for_mask=zero_output_for_mask,
                                 recurrent_mask=rmask)
        return out, [h, c]

    def get_config(self):
        config = super().get_config()
        config["unit_forget_bias"] = self.unit_forget_bias
        return config


class GRUCell(_FusedCell):
    """Gated recurrent unit: gates z, r, h; reset_after=True (the default) applies the reset
    gate after the recurrent product and has bias (2, 3 units) [input; recurrent];
    reset_after=False has bias (3 units,)."""

    _GATES = 3
    _STATES = 1

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

    def run_sequence(self, x, states, mask=None, go_backwards=False, return_sequences=False,
                     zero_output_for_mask=False, training=False):
        x, rmask = self._dropped(x, training)
        out, h = rnn_ops.gru(x, self.kernel, self.recurrent_kernel, self.bias, states[0],
                             mask=mask, go_backwards=go_backwards,
                             return_sequences=return_sequences, reset_after=self.reset_after,
                             activation=self._act, recurrent_activation=self._ract,
                             zero_output_for_mask=zero_output_for_mask, recurrent_mask=rmask)
        return out, [h]

    def get_config(self):
        config = super().get_config()
        config["reset_after"] = self.reset_after
        return config


class StackedRNNCells(Layer):
    """Cells applied one after the other at each step (the output of one is the input of the
    next); states are each cell's states in order. Over a whole sequence, ``RNN`` runs built-in
    cells layer by layer, each in one fused op: the same result, since a cell's step t reads
    only the previous cell's step t."""

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        cells = list(cells)
        if not cells:
            raise ValueError("StackedRNNCells: expected a non-empty list of cells")
        for cell in cells:
            if not hasattr(cell, "call") or getattr(cell, "state_size", None) is None:
                raise ValueError(f"StackedRNNCells: every cell needs a `call` method and a "
                                 f"`state_size` attribute; got {cell!r}")
        self.cells = cells

    @property
    def state_size(self):
        return [c.state_size for c in self.cells]

    @property
    def output_size(self):
        last = self.cells[-1]
        size = getattr(last, "output_size", None)
        if size is None:
            size = last.state_size
            size = size[0] if isinstance(size, (list, tuple)) else size
        return size

    def build(self, input_shape):
        shape = tuple(input_shape)
        for cell in self.cells:
            if isinstance(cell, Layer) and not cell.built:
                cell.build(shape)
                cell.built = True
            shape = (shape[0], _output_size(cell))
        self.built = True

    def call(self, inputs, states, training=False):
        """One step: states is a list with each cell's states (a list, or one tensor)."""
        new_states = []
        for cell, s in zip(self.cells, states):
            nested = isinstance(s, (list, tuple))
            inputs, s = _call_cell(cell, inputs, list(s) if nested else [s], training)
            new_states.append(s if nested else s[0])
        return inputs, new_states

    def reset_dropout_mask(self):
        for cell in self.cells:
            if hasattr(cell, "reset_dropout_mask"):
                cell.reset_dropout_mask()

    def reset_recurrent_dropout_mask(self):
        for cell in self.cells:
            if hasattr(cell, "reset_recurrent_dropout_mask"):
                cell.reset_recurrent_dropout_mask()

    def get_initial_state(self, batch_size=None):
        return [initial_cell_state(c, batch_size, self.dtype) for c in self.cells]

    def get_config(self):
        config = super().get_config()
        config["cells"] = [serialize_keras_object(c) for c in self.cells]
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        cells = [deserialize_cell(c, custom_objects) for c in config.pop("cells")]
        return cls(cells, **config)


# -- helpers shared with layers/recurrent.py --------------------------------------------------
CELLS = {c.__name__: c for c in (SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells)}


def deserialize_cell(config, custom_objects=None):
    """A cell from its config (serialize_keras_object's form, or {"class_name", "config"}):
    lamina's cells, a registered class, or a class in custom_objects."""
    if isinstance(config, Layer):
        return config
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or CELLS.get(name)
    if cls is None:
        return deserialize_keras_object(config, custom_objects=custom_objects)
    if cls is StackedRNNCells:  # its cells may be the user's: they need custom_objects too
        return cls.from_config(dict(config["config"]), custom_objects)
    return cls.from_config(dict(config["config"]))


def state_sizes(cell):
    """The cell's state sizes as a flat list (a nested state_size is flattened)."""
    def leaves(size):
        if isinstance(size, (list, tuple)):
            return [leaf for s in size for leaf in leaves(s)]
        return [size]
    return leaves(cell.state_size)


def _output_size(cell):
    size = getattr(cell, "output_size", None)
    if size is None:
        size = state_sizes(cell)[0]
    return size


def initial_cell_state(cell, batch_size, dtype):
    """A cell's zero states: its get_initial_state, else zeros for each size of its
    (flattened) state_size."""
    fn = getattr(cell, "get_initial_state", None)
    if fn is not None:
        return fn(batch_size=batch_size)
    return [ops.zeros((batch_size, s), dtype=dtype) for s in state_sizes(cell)]


def _call_cell(cell, inputs, states, training):
    """One step of any cell, its states given as a list (as Keras' RNN passes them); returns
    (output, new states as a list)."""
    kwargs = {"training": training} if _takes_training(cell) else {}
    out, new = cell(inputs, states, **kwargs)
    return out, (list(new) if isinstance(new, (list, tuple)) else [new])


def _takes_training(cell):
    from .layer import _accepts
    return _accepts(cell.call, "training")
