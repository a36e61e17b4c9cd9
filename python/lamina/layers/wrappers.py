"""Layer wrappers with Keras 3's names and arguments: Bidirectional (a recurrent layer run
forwards and backwards) and TimeDistributed (a layer applied to every timestep)."""
from .. import ops
from ..autograd import Tensor
from ..saving.serialization_lib import deserialize_keras_object, serialize_keras_object
from .layer import Layer, _accepts
from .recurrent import RNN

__all__ = ["Bidirectional", "TimeDistributed"]

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _copy_rnn(layer, **overrides):
    """A fresh recurrent layer from `layer`'s config (weights not copied), with overrides."""
    config = dict(layer.get_config(), **overrides)
    cells = layer._cells()
    custom = {type(c).__name__: type(c) for c in cells}
    custom[type(layer.cell).__name__] = type(layer.cell)
    from_config = type(layer).from_config
    if not _accepts(from_config, "custom_objects"):  # a user's from_config(cls, config)
        return from_config(config)
    return from_config(config, custom_objects=custom)


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy backwards over the sequence and merges the
    two outputs (merge_mode "concat", "sum", "mul", "ave", or None for a list). Both copies are
    rebuilt from the layer's config, so its regularizers, constraints, dropout and activations
    hold in both directions. Weights: the forward layer's, then the backward layer's (Keras'
    order)."""

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if not isinstance(layer, RNN):
            raise ValueError(f"Bidirectional: expected a recurrent layer (LSTM, GRU, SimpleRNN, "
                             f"RNN), got {layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Bidirectional: invalid merge_mode {merge_mode!r}; expected one of "
                             f"{_MERGE_MODES}")
        super().__init__(**kwargs)
        self.forward_layer = _copy_rnn(layer, name="forward_" + layer.name)
        if backward_layer is None:
            backward_layer = _copy_rnn(layer, go_backwards=not layer.go_backwards,
                                       name="backward_" + layer.name)
        else:
            if not isinstance(backward_layer, RNN):
                raise ValueError(f"Bidirectional: `backward_layer` must be a recurrent layer, "
                                 f"got {backward_layer!r}")
            if backward_layer.go_backwards == layer.go_backwards:
                raise ValueError("Bidirectional: backward_layer.go_backwards must be the "
                                 "opposite of layer.go_backwards")
            for attr in ("return_sequences", "return_state"):
                if getattr(backward_layer, attr) != getattr(layer, attr):
                    raise ValueError(f"Bidirectional: forward layer and backward_layer must "
                                     f"have the same `{attr}`, got {getattr(layer, attr)} and "
                                     f"{getattr(backward_layer, attr)}")
        self.backward_layer = backward_layer
        # Keras: masked steps output zeros in both directions, so the merge lines up.
        self.forward_layer.zero_output_for_mask = layer.return_sequences
        self.backward_layer.zero_output_for_mask = layer.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.stateful = layer.stateful
        self.supports_masking = True
        self._initial_weights = weights

    def build(self, input_shape):
        for layer in (self.forward_layer, self.backward_layer):
            if not layer.built:
                layer.build(input_shape)
                layer.built = True
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def call(self, sequences, initial_state=None, mask=None, training=False):
        fw_state = bw_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            fw_state, bw_state = initial_state[:half], initial_state[half:]
        fw = self.forward_layer(sequences, initial_state=fw_state, mask=mask, training=training)
        bw = self.backward_layer(sequences, initial_state=bw_state, mask=mask, training=training)
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
        if self.return_state:
            return (out if isinstance(out, list) else [out]) + list(fw_states) + list(bw_states)
        return out

    def compute_mask(self, inputs, mask=None):
        """Keras: the input's mask on each sequence output, None on the states."""
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if self.return_sequences:
            output_mask = [mask, mask] if self.merge_mode is None else mask
        else:
            output_mask = [None, None] if self.merge_mode is None else None
        if self.return_state:
            states = [None] * (2 * len(self.forward_layer.state_size))
            return (output_mask if isinstance(output_mask, list) else [output_mask]) + states
        return output_mask

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

    reset_state = reset_states

    def get_config(self):
        config = super().get_config()
        config.update({"merge_mode": self.merge_mode,
                       "layer": serialize_keras_object(self.forward_layer),
                       "backward_layer": serialize_keras_object(self.backward_layer)})
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        spec = dict(config.pop("layer"))
        spec["config"] = dict(spec["config"])
        name = spec["config"].get("name", "")
        if name.startswith("forward_"):  # the wrapper names its copy forward_<name> again
            spec["config"]["name"] = name[len("forward_"):]
        layer = deserialize_keras_object(spec, custom_objects=custom_objects)
        backward = config.pop("backward_layer", None)
        if backward is not None:
            backward = deserialize_keras_object(backward, custom_objects=custom_objects)
        return cls(layer, backward_layer=backward, **config)


class TimeDistributed(Layer):
    """Applies `layer` to every timestep: (batch, timesteps, ...) is folded into one batch of
    batch * timesteps samples, so the wrapped layer runs once, not once per step. The input's
    mask passes through, and a wrapped layer whose call takes a mask gets it folded alike."""

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

    def call(self, inputs, training=False, mask=None):
        shape = inputs.shape
        folded = ops.reshape(inputs, (shape[0] * shape[1],) + tuple(shape[2:]))
        kwargs = {}
        if mask is not None and self.layer._call_takes_mask():
            # Keras 3 gives the wrapped layer each timestep's mask: folded like the inputs
            # (an LSTM over the words of each sentence gets each sentence's word mask).
            mask = mask.data if isinstance(mask, Tensor) else mask
            if tuple(mask.shape[:2]) != tuple(shape[:2]):
                raise ValueError(f"TimeDistributed '{self.name}': the mask's first two axes "
                                 f"{tuple(mask.shape[:2])} must be the inputs' (batch, "
                                 f"timesteps) {tuple(shape[:2])}")
            kwargs["mask"] = mask.reshape((shape[0] * shape[1],) + tuple(mask.shape[2:]))
        out = self.layer(folded, training=training, **kwargs)
        return ops.reshape(out, (shape[0], shape[1]) + tuple(out.shape[1:]))

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None,) + tuple(input_shape[2:]))
        return (input_shape[0], input_shape[1]) + tuple(inner[1:])

    def get_config(self):
        config = super().get_config()
        config["layer"] = serialize_keras_object(self.layer)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        layer = deserialize_keras_object(config.pop("layer"), custom_objects=custom_objects)
        return cls(layer, **config)
