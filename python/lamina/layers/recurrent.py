"""Recurrent layers with Keras 3's names, arguments, defaults and weight layouts: RNN, LSTM,
GRU, SimpleRNN.

As in Keras 3, ``LSTM(u)`` is ``RNN(LSTMCell(u))`` with the cell's arguments on the layer, and
its weights are the cell's: kernel (features, gates * units), recurrent_kernel
(units, gates * units), bias. A built-in cell (layers/rnn_cells.py) runs its whole sequence in
one fused op (one kernel call forward, one backward), whatever the mask, direction, dropout or
state arguments; stacked built-in cells (``RNN([cell, cell])``, ``StackedRNNCells``) run one
fused op per cell. Any other cell (a Layer with ``state_size`` and
``call(inputs, states) -> (output, new_states)``) runs the generic path: a Python loop over the
timesteps calling the cell on lamina.ops, correct but slow; it is the one place lamina runs
Python per timestep.

Masks come from ``mask=`` or from the layer that produced the input (Embedding(mask_zero=True),
Masking; Layer.__call__ passes them): a masked step carries the states and repeats the previous
output. With return_sequences the output keeps the input's mask (as given, also after
go_backwards, as Keras).
"""
import numpy as np

from .. import backend, ops, regularizers
from ..autograd import Tensor
from ..saving.serialization_lib import serialize_keras_object
from .layer import InputSpec, Layer, snake_case, unique_name
from .rnn_cells import (GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells, _call_cell,
                        _FusedCell, _output_size, deserialize_cell, initial_cell_state,
                        state_sizes)

__all__ = ["RNN", "LSTM", "GRU", "SimpleRNN"]


def _flatten(states):
    out = []
    for s in states:
        if isinstance(s, (list, tuple)):
            out.extend(_flatten(s))
        else:
            out.append(s)
    return out


def _nest(flat, state_size):
    """The flat states regrouped like a cell's state_size (Keras passes a cell its states in
    that structure: [h] for an int, [h, c] for [u, u], [[h1, c1], h2] for stacked cells)."""
    if not isinstance(state_size, (list, tuple)):
        return list(flat)
    out, k = [], 0
    for size in state_size:
        if isinstance(size, (list, tuple)):
            n = len(_flatten(size))
            out.append(_nest(flat[k:k + n], size))
            k += n
        else:
            out.append(flat[k])
            k += 1
    return out


def _select(keep, new, old):
    """new where keep (batch, 1) is True, else old, through nested state lists."""
    if isinstance(new, (list, tuple)):
        return [_select(keep, n, o) for n, o in zip(new, old)]
    return ops.where(keep, new, old)


class RNN(Layer):
    """A recurrent layer over a cell (or a list of cells, stacked): Keras 3's ``RNN(cell,
    return_sequences=False, return_state=False, go_backwards=False, stateful=False,
    unroll=False, zero_output_for_mask=False)``.

    With return_state the call returns [output] + the final states, cell by cell. A stateful
    layer starts each call from the previous call's final states (batch row i continues row
    i), so every call must bring the same batch size; ``reset_states()`` forgets them (and
    the batch size)."""

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        activity_regularizer = kwargs.pop("activity_regularizer", None)
        kwargs.pop("time_major", None)
        super().__init__(**kwargs)
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        if not callable(getattr(cell, "call", None)) or \
                getattr(cell, "state_size", None) is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': `cell` must have a `call` "
                             f"method and a `state_size` attribute (an LSTMCell, GRUCell, "
                             f"SimpleRNNCell, a list of cells or your own cell Layer); got "
                             f"{cell!r}")
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)  # accepted; the fused kernels have nothing to unroll
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.supports_masking = True
        self.states = None
        self.input_spec = InputSpec(ndim=3)

    _UNTRACKED = frozenset({"states"})

    @property
    def state_size(self):
        """The sizes of the states, flat (cell by cell for stacked cells)."""
        return state_sizes(self.cell)

    def _where(self):
        return f"{type(self).__name__} '{self.name}'"

    def _cells(self):
        return list(self.cell.cells) if isinstance(self.cell, StackedRNNCells) else [self.cell]

    def _fused_cells(self):
        """The cells when each runs a fused whole-sequence op, else None (generic loop)."""
        cells = self._cells()
        return cells if all(isinstance(c, _FusedCell) for c in cells) else None

    # -- building ----------------------------------------------------------------------------
    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{self._where()}: expected inputs of shape (batch, timesteps, "
                             f"features), got shape {tuple(input_shape)}")
        if input_shape[-1] is None:
            raise ValueError(f"{self._where()}: the last axis of the input must be known, got "
                             f"input shape {tuple(input_shape)}")
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell.build((input_shape[0], input_shape[-1]))
            self.cell.built = True
        self.input_spec = InputSpec(ndim=3, axes={-1: int(input_shape[-1])})
        self.built = True

    # -- calling -----------------------------------------------------------------------------
    def call(self, sequences, initial_state=None, mask=None, training=False):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if mask is not None:
            mask = mask.data if isinstance(mask, Tensor) else mask
            # A cupy mask stays on the GPU (numpy cannot read it); anything else becomes numpy.
            mask = mask.astype(bool) if hasattr(mask, "__cuda_array_interface__") else \
                np.asarray(mask, bool)
        states = self._initial_states(sequences.shape[0], initial_state)
        cells = self._fused_cells()
        if cells is not None:
            output, new_states = self._run_fused(cells, sequences, states, mask, training)
        else:
            output, new_states = self._run_loop(sequences, states, mask, training)
        if self.stateful:
            self.states = [s.data.copy() for s in new_states]
        if self.return_state:
            return [output] + list(new_states)
        return output

    def _run_fused(self, cells, x, states, mask, training):
        """Each cell over the whole sequence in one op; a stack runs cell after cell (the
        first reverses the sequence when go_backwards, the others follow its order)."""
        new_states, k = [], 0
        for i, cell in enumerate(cells):
            n = cell._STATES
            last = i == len(cells) - 1
            m = mask if (mask is None or i == 0 or not self.go_backwards) else mask[:, ::-1]
            x, s = cell.run_sequence(x, states[k:k + n], mask=m,
                                     go_backwards=self.go_backwards and i == 0,
                                     return_sequences=self.return_sequences or not last,
                                     zero_output_for_mask=self.zero_output_for_mask and last,
                                     training=training)
            new_states.extend(s)
            k += n
        return x, new_states

    def _run_loop(self, x, states, mask, training):
        """The generic path (a user's cell): Keras' rnn() loop, one cell call per timestep."""
        batch, steps = x.shape[0], x.shape[1]
        cell = self.cell
        if any(s is None for s in states):
            zeros = _flatten(initial_cell_state(cell, batch, self.dtype))
            states = [z if s is None else s for s, z in zip(states, zeros)]
        states = _nest(states, cell.state_size)
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        try:
            return self._loop_steps(cell, x, states, mask, training, order)
        finally:  # each sequence draws its own dropout masks (Keras' RNN resets them too)
            for reset in ("reset_dropout_mask", "reset_recurrent_dropout_mask"):
                if hasattr(cell, reset):
                    getattr(cell, reset)()

    def _loop_steps(self, cell, x, states, mask, training, order):
        """_run_loop's steps: one cell call per timestep, masked steps carrying the states."""
        outputs, prev = [], None
        for t in order:
            out, new = _call_cell(cell, ops.getitem(x, (slice(None), t)), list(states),
                                  training)
            if mask is not None:
                keep = mask[:, t:t + 1]
                if prev is None:
                    prev = backend.array_module(out.data).zeros(out.shape, dtype=out.dtype)
                out = ops.where(keep, out, 0.0 if self.zero_output_for_mask else prev)
                new = _select(keep, new, states)
            outputs.append(out)
            prev, states = out, new
        output = ops.stack(outputs, axis=1) if self.return_sequences else outputs[-1]
        return output, _flatten(states)

    def _initial_states(self, batch, initial_state):
        """The flat list of starting states (None: zeros)."""
        sizes = self.state_size
        if initial_state is not None:
            if isinstance(initial_state, Tensor) or hasattr(initial_state, "ndim"):
                initial_state = [initial_state]  # one array (numpy or cupy), not a list
            flat = _flatten(list(initial_state))
            if len(flat) != len(sizes):
                raise ValueError(f"{self._where()}: expected {len(sizes)} initial state(s), "
                                 f"got {len(flat)}")
            for i, (s, size) in enumerate(zip(flat, sizes)):
                if tuple(np.shape(s)) != (batch, size):
                    raise ValueError(f"{self._where()}: initial state {i} has shape "
                                     f"{tuple(np.shape(s))}, expected ({batch}, {size})")
            return flat
        if self.stateful:
            if self.states is None:
                self.states = [np.zeros((batch, size), dtype=self.dtype) for size in sizes]
            elif self.states[0].shape[0] != batch:
                raise ValueError(
                    f"{self._where()}: stateful=True carries the states of a batch of "
                    f"{self.states[0].shape[0]} samples into the next call, but this call has "
                    f"a batch of {batch}. A stateful layer needs the same batch size at every "
                    f"call: choose a batch_size that divides the number of samples (no partial "
                    f"last batch), or call reset_states() before changing the batch size.")
            return list(self.states)
        return [None] * len(sizes)

    def reset_states(self):
        """Stateful layers: forget the carried states (zeros, of any batch size, next call)."""
        self.states = None

    reset_state = reset_states

    # -- inspection --------------------------------------------------------------------------
    def compute_mask(self, inputs, mask=None):
        """Keras: the input's mask with return_sequences (None otherwise), None for states."""
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self.state_size)
        return output_mask

    def compute_output_shape(self, input_shape):
        batch, steps = input_shape[0], input_shape[1]
        size = _output_size(self.cell)
        out = (batch, steps, size) if self.return_sequences else (batch, size)
        if self.return_state:
            return [out] + [(batch, s) for s in self.state_size]
        return out

    def get_config(self):
        config = super().get_config()
        config.update({"return_sequences": self.return_sequences,
                       "return_state": self.return_state, "go_backwards": self.go_backwards,
                       "stateful": self.stateful, "unroll": self.unroll,
                       "zero_output_for_mask": self.zero_output_for_mask,
                       "cell": serialize_keras_object(self.cell)})
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """custom_objects maps the class name of a cell of your own to its class."""
        config = dict(config)
        cell = deserialize_cell(config.pop("cell"), custom_objects)
        return cls(cell, **config)


class _CellLayer(RNN):
    """LSTM, GRU and SimpleRNN: an RNN over its own built-in cell, whose arguments are the
    layer's (and readable on it: ``layer.units``, ``layer.kernel``, ...)."""

    _CELL = None

    def _init_with_cell(self, units, cell_args, kwargs):
        kwargs.pop("use_cudnn", None)
        kwargs.pop("implementation", None)
        # The layer's name now, so that the cell's argument errors can name the layer.
        kwargs["name"] = kwargs.get("name") or unique_name(snake_case(type(self).__name__))
        cell = self._CELL(units, **cell_args, dtype=kwargs.get("dtype"),
                          trainable=kwargs.get("trainable", True),
                          name=snake_case(self._CELL.__name__),
                          _owner=f"{type(self).__name__} '{kwargs['name']}'")
        RNN.__init__(self, cell, **kwargs)

    def get_config(self):
        config = super().get_config()
        cell_config = config.pop("cell")["config"]
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key, None)
        config.update(cell_config)
        config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


def _cell_property(name):
    return property(lambda self: getattr(self.cell, name), doc=f"The cell's `{name}`.")


for _name in ("units", "activation", "recurrent_activation", "use_bias", "unit_forget_bias",
              "reset_after", "kernel_initializer", "recurrent_initializer", "bias_initializer",
              "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
              "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout",
              "recurrent_dropout", "seed", "kernel", "recurrent_kernel", "bias"):
    setattr(_CellLayer, _name, _cell_property(_name))
del _name


class LSTM(_CellLayer):
    """Long short-term memory (Keras 3): ``RNN(LSTMCell(units, ...))``. Weights kernel
    (features, 4 units), recurrent_kernel (units, 4 units), bias (4 units,), gates i, f, c, o;
    unit_forget_bias starts the forget gate's bias at 1. With return_state the call returns
    [output, h, c].

    `activation` and `recurrent_activation`: one of ``RECURRENT_ACTIVATIONS`` (layers/
    rnn_cells.py), by name or as the lamina.activations function; a callable of your own has no
    fused kernel and raises a ValueError."""

    _CELL = LSTMCell

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, unroll=False,
                 **kwargs):
        self._init_with_cell(units, dict(
            activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer, unit_forget_bias=unit_forget_bias,
            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
            dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed), dict(
            return_sequences=return_sequences, return_state=return_state,
            go_backwards=go_backwards, stateful=stateful, unroll=unroll,
            activity_regularizer=activity_regularizer, **kwargs))


class GRU(_CellLayer):
    """Gated recurrent unit (Keras 3): ``RNN(GRUCell(units, ...))``. Gates z, r, h;
    reset_after=True (the default) applies the reset gate after the recurrent product and has
    bias (2, 3 units) [input; recurrent], reset_after=False has bias (3 units,).
    recurrent_dropout drops h_{t-1} in the three recurrent products only (Keras 3's GRUCell).
    Activations as LSTM's."""

    _CELL = GRUCell

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, reset_after=True, **kwargs):
        self._init_with_cell(units, dict(
            activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer, reset_after=reset_after,
            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
            dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed), dict(
            return_sequences=return_sequences, return_state=return_state,
            go_backwards=go_backwards, stateful=stateful, unroll=unroll,
            activity_regularizer=activity_regularizer, **kwargs))


class SimpleRNN(_CellLayer):
    """Fully connected recurrence h_t = activation(x_t kernel + h_{t-1} recurrent_kernel + b)
    (Keras 3): ``RNN(SimpleRNNCell(units, ...))``. Activation as LSTM's."""

    _CELL = SimpleRNNCell

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, seed=None, **kwargs):
        self._init_with_cell(units, dict(
            activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
            dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed), dict(
            return_sequences=return_sequences, return_state=return_state,
            go_backwards=go_backwards, stateful=stateful, unroll=unroll,
            activity_regularizer=activity_regularizer, **kwargs))
