"""Sequential: a plain stack of layers, each feeding the next."""
import numpy as np

from ..autograd import no_grad
from ..layers.core import InputLayer
from ..layers.auto_config import as_shape
from ..layers.layer import _ACCEPTS_TRAINING, Layer, SymbolicTensor, _accepts, _context
from ..saving.serialization_lib import deserialize_keras_object, serialize_keras_object
from .model import Model

__all__ = ["Sequential"]


class Sequential(Model):
    """``Sequential([Input((64,)), Dense(64, activation="relu"), Dense(10)])``.

    Given an Input (or a first layer with ``input_shape=``), the model builds at once and
    ``summary()`` works before any data; otherwise it builds on its first batch.
    """

    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(trainable=trainable, name=name)
        self._stack = []
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_rebuild()

    def compute_mask(self, inputs, mask=None):
        """A model used as a layer passes masks on: the layers inside attach their outputs'
        masks as it runs (as Keras' Functional computes them through its graph), so there is
        nothing to add here and no reason to warn that the mask is dropped."""
        return None

    def add(self, layer, rebuild=True):
        if isinstance(layer, SymbolicTensor) and isinstance(layer.layer, InputLayer):
            layer = layer.layer
        if not isinstance(layer, Layer):
            raise ValueError("Only instances of `lamina.layers.Layer` can be added to a "
                             f"Sequential model. Received: {layer!r} (of type {type(layer)})")
        if isinstance(layer, InputLayer) and self._stack:
            if isinstance(self._stack[0], InputLayer):
                raise ValueError(f"Sequential model '{self.name}' has already been configured "
                                 "to use an input layer; cannot add another InputLayer")
            raise ValueError("An InputLayer can only be the first layer of a Sequential model")
        if not self._stack and not isinstance(layer, InputLayer) and \
                getattr(layer, "_input_shape_arg", None) is not None:
            self._stack.append(InputLayer(batch_shape=layer._input_shape_arg))
        if any(layer is other for other in self._stack):
            raise ValueError(f"Layer '{layer.name}' is already in Sequential model "
                             f"'{self.name}'")
        if any(layer.name == other.name for other in self._stack):
            raise ValueError(f"All layers added to a Sequential model should have unique "
                             f"names. Name '{layer.name}' is already the name of a layer in "
                             f"model '{self.name}'. Update the `name` argument to pass a "
                             f"unique name.")
        self._stack.append(layer)
        self.built = False
        self._plan = None
        if rebuild:
            self._maybe_rebuild()

    def pop(self, rebuild=True):
        layers = self.layers
        if not layers:
            raise TypeError(f"There are no layers in the model '{self.name}'.")
        layer = self._stack.pop()
        self.built = False
        self._plan = None
        if rebuild:
            self._maybe_rebuild()
        return layer

    def _maybe_rebuild(self):
        if self._stack and isinstance(self._stack[0], InputLayer) and len(self._stack) > 1:
            self.build(self._stack[0].batch_shape)

    @property
    def layers(self):
        return [layer for layer in self._stack if not isinstance(layer, InputLayer)]

    def _fast_forward(self):
        """A function(x, training) calling each layer's ``call`` directly (no checks), for
        fit's steps after the first; None where a layer needs the checked path. The training
        flag is set once in the call context, for sublayers called without ``training=``."""
        plan = []
        for layer in self.layers:
            if layer.activity_regularizer is not None or not layer.built:
                return None
            if layer._passes_masks:  # a Keras mask flows through it: keep __call__'s masks
                plan.append((layer.__call__, True))
                continue
            cls = type(layer)
            takes = _ACCEPTS_TRAINING.get(cls)
            if takes is None:
                takes = _ACCEPTS_TRAINING[cls] = _accepts(layer.call, "training")
            plan.append((layer.call, takes))

        context = _context

        def forward(x, training):
            outer = context.training
            context.training = training
            try:
                for call, takes_training in plan:
                    x = call(x, training=training) if takes_training else call(x)
            finally:
                context.training = outer
            return x
        return forward

    @property
    def output_names(self):
        layers = self.layers
        return [layers[-1].name] if layers else []

    def _input_signature(self):
        first = self._stack[0] if self._stack else None
        if isinstance(first, InputLayer):
            return [first.name], [np.dtype(first.dtype)], [first.batch_shape]
        shape = getattr(self, "_build_input_shape", None) if self.built else None
        return ["input_layer"], None, [shape]

    @property
    def input_shape(self):
        if self._stack and isinstance(self._stack[0], InputLayer):
            return self._stack[0].batch_shape
        return getattr(self, "_build_input_shape", None)

    @property
    def output_shape(self):
        layers = self.layers
        return getattr(layers[-1], "_output_shape", None) if layers else None

    def build(self, input_shape=None):
        """Builds every layer from the input shape, passing each one's output shape on."""
        if input_shape is None:
            if self._stack and isinstance(self._stack[0], InputLayer):
                input_shape = self._stack[0].batch_shape
            else:
                raise ValueError(f"Sequential model '{self.name}' cannot be built: it has no "
                                 "Input and no input_shape was given")
        shape = tuple(input_shape)
        self._build_input_shape = shape
        for layer in self.layers:
            if not layer.built:
                layer.build(shape)
                layer.built = True
                layer._build_input_shape = shape
            if layer.input_spec is not None:
                layer.input_spec.check(shape, layer.name)
            try:
                out = layer.compute_output_shape(shape)
            except NotImplementedError:
                probe = tuple(1 if d is None else d for d in shape)
                with no_grad():
                    out = (None,) + tuple(layer(np.zeros(probe, dtype=layer.dtype)).shape[1:])
            layer._output_shape = tuple(out)
            shape = tuple(out)
        self.built = True

    def call(self, inputs, training=None):
        x = inputs
        for layer in self.layers:
            x = layer(x, training=training)
        return x

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = tuple(layer.compute_output_shape(shape))
        return shape

    def _maybe_build(self, inputs):
        if not self.built:
            self.build((None,) + tuple(inputs.shape[1:]))

    _UNTRACKED = Model._UNTRACKED

    # -- configuration -----------------------------------------------------------------------
    def get_config(self):
        """Keras 3's Sequential config: name, trainable, dtype, each layer (its Input first) as
        serialize_keras_object writes it, and the input shape it was built with."""
        config = self._base_config(auto=False)
        config["layers"] = [serialize_keras_object(layer) for layer in self._stack]
        if self.built and getattr(self, "_build_input_shape", None) is not None:
            config["build_input_shape"] = self._build_input_shape
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """The Sequential model of ``get_config()`` (also a bare list of layer configs)."""
        if isinstance(config, dict):
            layer_configs = config["layers"]
            kwargs = {k: config[k] for k in ("name", "trainable") if k in config}
            build_input_shape = config.get("build_input_shape")
        else:
            layer_configs, kwargs, build_input_shape = config, {}, None
        model = cls(**kwargs)
        for layer_config in layer_configs:
            model.add(deserialize_keras_object(layer_config, custom_objects=custom_objects),
                      rebuild=False)
        model._maybe_rebuild()
        if not model.built and build_input_shape:
            model.build(as_shape(build_input_shape))
        return model

    def _saved_children(self):
        named = [(layer.name, layer) for layer in self._stack]
        ids = {id(layer) for _, layer in named}
        return named + [(k, v) for k, v in super()._saved_children() if id(v) not in ids]
