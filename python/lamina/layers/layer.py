"""The Layer base class, with Keras 3's pattern.

``__init__`` stores arguments, ``build(input_shape)`` creates weights with ``add_weight``,
``call(inputs, training=None)`` computes with lamina.ops (so gradients come for free), and
``__call__`` builds on the first call from the input's shape and checks ``input_spec``, and
passes Keras masks on (layers/masking.py): a layer with ``supports_masking`` gives its output
``compute_mask(inputs, mask)``, by default the input's mask.

Sublayers and Variables assigned as attributes (also inside lists, tuples and dicts) are
tracked, so ``weights`` of a user's own composite layer includes theirs, in Keras' order: the
layer's own variables in creation order, then each sublayer's in assignment order.
"""
import inspect
import re
import warnings

import numpy as np

from .. import backend, initializers, regularizers
from ..autograd import Tensor, Variable, convert_to_tensor
from ..saving.serialization_lib import deserialization_error
from . import auto_config
from .auto_config import as_shape
from .masking import _masks, attach_output_masks, input_mask
from .symbolic import SymbolicTensor, has_symbolic, symbolic_call

__all__ = ["Layer", "InputSpec", "SymbolicTensor"]

_UIDS = {}


def unique_name(prefix):
    """"dense", then "dense_1", "dense_2", ... per prefix, as keras.backend.get_uid."""
    n = _UIDS.get(prefix, 0)
    _UIDS[prefix] = n + 1
    return prefix if n == 0 else f"{prefix}_{n}"


def snake_case(name):
    """Keras' layer-name rule: "Dense" -> "dense", "MaxPooling2D" -> "max_pooling2d",
    "Conv2DTranspose" -> "conv2d_transpose"."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


class _CallContext:
    """The `training` flag of the outermost call, inherited by nested layers that are called
    without one (Keras' call context)."""

    __slots__ = ("training",)

    def __init__(self):
        self.training = None


_context = _CallContext()


class InputSpec:
    """What a layer accepts: ndim, min_ndim, max_ndim and fixed sizes of given axes."""

    def __init__(self, ndim=None, min_ndim=None, max_ndim=None, axes=None, dtype=None,
                 shape=None, allow_last_axis_squeeze=False, name=None):
        self.ndim, self.min_ndim, self.max_ndim = ndim, min_ndim, max_ndim
        self.axes = dict(axes or {})
        self.dtype, self.shape, self.name = dtype, shape, name

    def check(self, shape, layer_name, index=0):
        where = f"Input {index} of layer '{layer_name}' is incompatible"
        rank = len(shape)
        if self.ndim is not None and rank != self.ndim:
            raise ValueError(f"{where}: expected ndim={self.ndim}, got ndim={rank} "
                             f"(shape {tuple(shape)})")
        if self.min_ndim is not None and rank < self.min_ndim:
            raise ValueError(f"{where}: expected min_ndim={self.min_ndim}, got ndim={rank} "
                             f"(shape {tuple(shape)})")
        if self.max_ndim is not None and rank > self.max_ndim:
            raise ValueError(f"{where}: expected max_ndim={self.max_ndim}, got ndim={rank} "
                             f"(shape {tuple(shape)})")
        for axis, size in self.axes.items():
            if size is None:
                continue
            if -rank <= axis < rank and shape[axis] is not None and shape[axis] != size:
                which = "last axis" if axis == -1 else f"axis {axis}"
                raise ValueError(f"{where}: expected {which} {size}, got shape {tuple(shape)}")


def _accepts(fn, arg):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return arg in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


_ACCEPTS_TRAINING = {}
_ACCEPTS_MASK = {}


def _shape_of(x):
    if isinstance(x, (Tensor, SymbolicTensor, np.ndarray)):
        return tuple(x.shape)
    if isinstance(x, (list, tuple)):
        return [_shape_of(v) for v in x]
    if isinstance(x, dict):
        return {k: _shape_of(v) for k, v in x.items()}
    return tuple(np.shape(x))


def _to_tensors(x, dtype):
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (list, tuple)):
        return type(x)(_to_tensors(v, dtype) for v in x)
    if isinstance(x, dict):
        return {k: _to_tensors(v, dtype) for k, v in x.items()}
    a = np.asarray(x)
    if a.dtype.kind == "f" and a.dtype != dtype:
        a = a.astype(dtype)
    return convert_to_tensor(a)


class Layer:
    """Base class of every layer (and of Model)."""

    # Attributes the tracker never walks (bookkeeping that may hold layers or variables).
    _UNTRACKED = frozenset()
    # Whether the class overrides compute_mask (set for every subclass): such a layer may make
    # a mask of its own (Embedding, Masking), so __call__ asks it even when no mask came in.
    _custom_compute_mask = False
    # Set once a mask went into or came out of a call: fit's fast path then keeps calling the
    # layer through __call__, so that the masks keep flowing (models/sequential.py,
    # models/functional.py).
    _passes_masks = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._custom_compute_mask = cls.compute_mask is not Layer.compute_mask

    def __new__(cls, *args, **kwargs):
        instance = super().__new__(cls)
        instance._auto_config, instance._auto_config_args_error = auto_config.capture(
            cls, args, kwargs)
        return instance

    def __init__(self, trainable=True, name=None, dtype=None, autocast=True,
                 activity_regularizer=None, **kwargs):
        input_shape = kwargs.pop("input_shape", None)
        input_dim = kwargs.pop("input_dim", None)
        batch_input_shape = kwargs.pop("batch_input_shape", None)
        kwargs.pop("input_dtype", None)
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unrecognized keyword arguments: "
                            f"{sorted(kwargs)}")
        if name is not None and (not isinstance(name, str) or "/" in name):
            raise ValueError(f"{type(self).__name__}: Argument `name` must be a string and "
                             f"cannot contain character `/`. Received: name={name!r} (of type "
                             f"{type(name)})")
        if isinstance(dtype, dict):  # Keras 3's serialized DTypePolicy
            dtype = (dtype.get("config") or {}).get("name")
        object.__setattr__(self, "_own_variables", [])
        self._created_trainable = set()  # ids of own variables created trainable
        self._name = name or unique_name(snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        self._dtype = np.dtype(dtype or backend.floatx()).name
        self.built = False
        self.input_spec = None
        # Keras 3: a layer that overrides compute_mask supports masking unless it says no;
        # layers that pass masks through unchanged (Dense, Dropout, ...) set it themselves.
        self.supports_masking = type(self)._custom_compute_mask
        self._activity_losses = []
        self.activity_regularizer = regularizers.get(activity_regularizer)
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            self._input_shape_arg = tuple(batch_input_shape)
        elif input_shape is not None:
            self._input_shape_arg = (None,) + tuple(input_shape)
        else:
            self._input_shape_arg = None

    # -- identity ----------------------------------------------------------------------------
    @property
    def name(self):
        return self._name

    @name.setter
    def name(self, value):
        self._name = value

    @property
    def dtype(self):
        return self._dtype

    @property
    def path(self):
        return self._name

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"

    # -- weights -----------------------------------------------------------------------------
    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True,
                   autocast=True, regularizer=None, constraint=None, aggregation="none",
                   name=None):
        """Creates a Variable owned by this layer (Keras 3's signature)."""
        shape = () if shape is None else tuple(int(d) for d in shape)
        dtype = np.dtype(dtype or self._dtype)
        if initializer is None:
            initializer = "glorot_uniform" if dtype.kind == "f" else "zeros"
        init = initializers.get(initializer)
        var = Variable(init, shape=shape, dtype=dtype.name, trainable=trainable,
                       name=name or "variable")
        var.path = f"{self.path}/{var.name}"
        var.regularizer = regularizers.get(regularizer)
        var.constraint = constraint
        if trainable:
            self._created_trainable.add(id(var))
        if not self._trainable:
            var.trainable = False
        self._own_variables.append(var)
        return var

    def _tracked(self, paths=False):
        """(variables assigned as attributes, sublayers) in assignment order; with
        ``paths=True`` each as (attribute path, object): ``"hidden"``, ``"blocks/0"``."""
        variables, layers = [], []
        seen = set()

        def visit(value, depth, path):
            if isinstance(value, Variable):
                if id(value) not in seen:
                    seen.add(id(value))
                    variables.append((path, value) if paths else value)
            elif isinstance(value, Layer):
                if id(value) not in seen and value is not self:
                    seen.add(id(value))
                    layers.append((path, value) if paths else value)
            elif depth < 3 and isinstance(value, (list, tuple)):
                for i, v in enumerate(value):
                    visit(v, depth + 1, paths and f"{path}/{i}")
            elif depth < 3 and isinstance(value, dict):
                for k, v in value.items():
                    visit(v, depth + 1, paths and f"{path}/{k}")

        for key, value in self.__dict__.items():
            if key not in self._UNTRACKED:
                visit(value, 0, key)
        return variables, layers

    def _saved_children(self):
        """(key, sublayer) pairs naming this layer's sublayers in saved files (see
        saving/saving_lib.py): attribute paths here; Sequential and functional models name
        their layers by ``name``."""
        return self._tracked(paths=True)[1]

    @property
    def _layers(self):
        return self._tracked()[1]

    def _all_variables(self):
        out, seen = [], set()
        own = self._own_variables + self._tracked()[0]
        for v in own:
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        for layer in self._layers:
            for v in layer.weights:
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    @property
    def weights(self):
        return self._all_variables()

    @property
    def variables(self):
        return self._all_variables()

    @property
    def trainable_weights(self):
        if not self._trainable:
            return []
        return [v for v in self._all_variables() if v.trainable]

    @property
    def non_trainable_weights(self):
        if not self._trainable:
            return self._all_variables()
        return [v for v in self._all_variables() if not v.trainable]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        value = bool(value)
        self._trainable = value
        for v in self._own_variables:
            if id(v) in self._created_trainable:
                v.trainable = value
        for layer in self._layers:
            layer.trainable = value

    def get_weights(self):
        """The weights as numpy arrays (copies), in the order of ``weights``."""
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights):
        """Writes numpy arrays into the weights, in the order of ``weights``."""
        params = self.weights
        weights = list(weights)
        if len(params) != len(weights):
            raise ValueError(
                f"Layer '{self.name}' expects {len(params)} weights "
                f"({', '.join(v.path for v in params) or 'none: is it built?'}), but "
                f"received {len(weights)}")
        for v, w in zip(params, weights):
            w = np.asarray(w)
            if tuple(w.shape) != tuple(v.shape):
                raise ValueError(
                    f"Layer '{self.name}' weight '{v.path}' has shape {tuple(v.shape)}, "
                    f"but the provided value has shape {tuple(w.shape)}")
        for v, w in zip(params, weights):
            v.assign(np.asarray(w, dtype=v.dtype))

    def count_params(self):
        return int(sum(int(np.prod(v.shape)) for v in self.weights))

    # -- losses ------------------------------------------------------------------------------
    def add_loss(self, loss):
        self._activity_losses.append(loss)

    @property
    def losses(self):
        """Activity losses of the last call plus the weight regularization penalties."""
        out = []
        for layer in [self] + self._flat_sublayers():
            out.extend(layer._activity_losses)
            for v in layer._own_variables:
                if v.regularizer is not None and v.trainable:
                    out.append(v.regularizer(v))
        return out

    def _flat_sublayers(self):
        out = []
        for layer in self._layers:
            out.append(layer)
            out.extend(layer._flat_sublayers())
        return out

    def _clear_losses(self):
        for layer in [self] + self._flat_sublayers():
            if layer._activity_losses:
                layer._activity_losses = []

    # -- building and calling ----------------------------------------------------------------
    def build(self, input_shape):
        self.built = True

    def call(self, inputs, *args, **kwargs):
        return inputs

    def compute_output_shape(self, input_shape):
        raise NotImplementedError(
            f"Layer '{self.name}' ({type(self).__name__}) does not implement "
            "compute_output_shape")

    def _maybe_build(self, inputs):
        if not self.built:
            shape = _shape_of(inputs)
            self.build(shape)
            self.built = True
            self._build_input_shape = shape

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, SymbolicTensor) or (
                type(inputs) in (list, tuple, dict) and has_symbolic(inputs)):
            return symbolic_call(self, (inputs,) + args, kwargs)
        inputs = _to_tensors(inputs, self._dtype)
        self._maybe_build(inputs)
        spec = self.input_spec
        if spec is not None:
            self._check_input(inputs, spec)
        cls = type(self)
        accepts = _ACCEPTS_TRAINING.get(cls)
        if accepts is None:
            accepts = _ACCEPTS_TRAINING[cls] = _accepts(self.call, "training")
        outer = _context.training
        training = kwargs.get("training")
        if accepts:
            if training is None:
                training = outer
            kwargs["training"] = training
        else:
            kwargs.pop("training", None)
        mask = kwargs.get("mask") if kwargs else None
        if mask is None and _masks:  # some live tensor carries a mask: is it one of ours?
            mask = input_mask(inputs)
            if mask is not None and self._call_takes_mask():
                kwargs["mask"] = mask
        _context.training = training if training is not None else outer
        try:
            outputs = self.call(inputs, *args, **kwargs)
        finally:
            _context.training = outer
        if self.activity_regularizer is not None:
            # One penalty per output tensor (a list with return_state, for example), not
            # divided by the batch size: Keras 3's (Keras 2 divided).
            outs = outputs if type(outputs) in (list, tuple) else [outputs]
            self._activity_losses = [self.activity_regularizer(out)
                                     for out in outs if isinstance(out, Tensor)]
        if mask is not None or (cls._custom_compute_mask and self.supports_masking):
            self._set_mask_metadata(inputs, outputs, mask)
        return outputs

    # -- masks (layers/masking.py) -----------------------------------------------------------
    def compute_mask(self, inputs, mask=None):
        """The mask of the output given the inputs and their mask (Keras: the input's mask)."""
        return mask

    def _call_takes_mask(self):
        cls = type(self)
        takes = _ACCEPTS_MASK.get(cls)
        if takes is None:
            takes = _ACCEPTS_MASK[cls] = _accepts(self.call, "mask")
        return takes

    def _set_mask_metadata(self, inputs, outputs, mask):
        """Keras' step after call: the output's mask from compute_mask where the layer supports
        masking; otherwise the mask stops here, with Keras' warning."""
        if mask is not None:
            self._passes_masks = True
        if not self.supports_masking:
            if mask is not None:
                warnings.warn(f"Layer '{self.name}' (of type {type(self).__name__}) was passed "
                              "an input with a mask attached to it. However, this layer does "
                              "not support masking and will therefore destroy the mask "
                              "information. Downstream layers will not see the mask.",
                              stacklevel=3)
            return
        out_mask = self.compute_mask(inputs, mask)
        if out_mask is not None:
            self._passes_masks = True
            attach_output_masks(outputs, out_mask)

    def _check_input(self, inputs, spec):
        if isinstance(spec, (list, tuple)):
            for i, (x, s) in enumerate(zip(inputs, spec)):
                if s is not None:
                    s.check(tuple(x.shape), self.name, i)
        else:
            spec.check(tuple(inputs.shape), self.name)

    # -- the graph: calls on symbolic tensors -----------------------------------------------
    @property
    def _inbound_nodes(self):
        return self.__dict__.setdefault("_inbound_nodes", [])

    def _single_node(self, what):
        nodes = self._inbound_nodes
        if not nodes:
            raise AttributeError(f"Layer '{self.name}' has never been called on a symbolic "
                                 f"tensor and thus has no defined {what}.")
        if len(nodes) > 1:
            raise AttributeError(
                f"Layer '{self.name}' has been called {len(nodes)} times (it is shared), so its "
                f"{what} is ambiguous; take the tensor each call returned instead.")
        return nodes[0]

    @property
    def output(self):
        """The symbolic output of this layer's only call on symbolic tensors."""
        return self._single_node("output").output_struct

    @property
    def input(self):
        """The symbolic input of this layer's only call on symbolic tensors."""
        return self._single_node("input").args[0]

    # -- configuration -----------------------------------------------------------------------
    def get_config(self):
        """The constructor arguments that recreate this layer (``from_config``): name,
        trainable, dtype (and activity_regularizer when set). A subclass that does not
        override get_config gets its ``__init__`` arguments too, when they are plain values
        (Keras' automatic config); otherwise it must implement get_config to be saved."""
        return self._base_config(auto=type(self).get_config is Layer.get_config)

    def _base_config(self, auto):
        config = {"name": self.name}
        base = {"trainable": self.trainable, "dtype": self.dtype}
        if self.activity_regularizer is not None:
            base["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        if not auto:
            config.update(base)
            return config
        if self._auto_config is None:
            raise auto_config.missing_config_error(type(self).__name__,
                                                   self._auto_config_args_error)
        config.update(self._auto_config)
        params = inspect.signature(type(self).__init__).parameters
        any_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
        for key, value in base.items():
            if any_kwargs or key in params:
                config[key] = value
        if not any_kwargs and "name" not in params:
            del config["name"]
        return config

    @classmethod
    def from_config(cls, config):
        """``cls(**config)``, with Keras' error naming the class and the config."""
        try:
            return cls(**config)
        except TypeError as e:
            if getattr(e, "lamina_deserialization", False):
                raise
            raise deserialization_error(f"Error when deserializing class '{cls.__name__}' "
                                        f"using config={config}.\n\nException encountered: "
                                        f"{e}") from e

    def get_build_config(self):
        """{"input_shape": the shape this layer was built with}, or None before it was built
        (or when it needs no shape)."""
        shape = self.__dict__.get("_build_input_shape")
        if self.built and shape is not None:
            return {"input_shape": shape}
        return None

    def build_from_config(self, config):
        """Builds the layer from ``get_build_config()``'s dict (on load, before the weights are
        assigned)."""
        if not config:
            return
        if config.get("input_shape") is not None:
            shape = as_shape(config["input_shape"])
            self.build(shape)
            self._build_input_shape = shape
        elif config.get("shapes_dict"):
            self.build(**{k: as_shape(v) for k, v in config["shapes_dict"].items()})
        self.built = True
