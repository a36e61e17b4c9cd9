"""Model: a Layer that trains (compile / fit / evaluate / predict), inspects itself (summary,
layers, get_layer) and saves its weights.

Three ways to make one, as in Keras: ``Model(inputs, outputs)`` (the functional API, which
returns a models.functional.Functional), Sequential, or a subclass that creates layers in
``__init__`` and computes in ``call``.
"""
import inspect
import json

import numpy as np

from ..autograd import no_grad
from ..layers.auto_config import as_shape
from ..layers.layer import Layer, _shape_of
from ..trainer import Trainer

__all__ = ["Model", "model_from_json"]


def _functional_args(args, kwargs):
    return len(args) == 2 or (len(args) == 1 and "outputs" in kwargs) or (
        "inputs" in kwargs and "outputs" in kwargs)


class Model(Trainer, Layer):
    def __new__(cls, *args, **kwargs):
        if cls is Model and _functional_args(args, kwargs):
            from .functional import Functional
            return Functional.__new__(Functional)
        return super().__new__(cls, *args, **kwargs)

    def __init__(self, *args, **kwargs):
        if args or "inputs" in kwargs or "outputs" in kwargs:
            from .functional import Functional
            if isinstance(self, Functional) or not _functional_args(args, kwargs):
                raise TypeError(f"Model: expected Model(inputs, outputs, name=None), got "
                                f"{len(args)} positional argument(s) and {sorted(kwargs)}")
            # A subclass calling super().__init__(inputs, outputs): it becomes functional too,
            # as in Keras (its own methods still come first).
            cls = type(self)
            self.__class__ = type(cls.__name__, (cls, Functional),
                                  {"__module__": cls.__module__, "_user_class": cls})
            Functional.__init__(self, *args, **kwargs)
            return
        super().__init__(**kwargs)
        self._init_trainer()

    _UNTRACKED = frozenset({"optimizer", "_outputs", "_loss_tracker", "_compile_args",
                            "_compile_config", "_train_vars", "_plan", "history", "loss"})

    # -- structure ---------------------------------------------------------------------------
    @property
    def layers(self):
        return self._layers

    def get_layer(self, name=None, index=None):
        """A layer by name or by index in ``layers``."""
        if index is not None and name is not None:
            raise ValueError("get_layer: provide only `name` or `index`, not both")
        if index is not None:
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(f"get_layer: was asked to retrieve layer at index {index} but "
                                 f"model '{self.name}' only has {len(self.layers)} layers.")
            return self.layers[index]
        if name is not None:
            for layer in self.layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"get_layer: no such layer: {name}. Existing layers are: "
                             f"{[layer.name for layer in self.layers]}.")
        raise ValueError("get_layer: provide either a layer `name` or an `index`")

    def build(self, input_shape=None):
        """Builds a subclassed model by running it once on zeros of `input_shape` (one shape,
        or a list / dict of shapes for several inputs; None axes become 1)."""
        if input_shape is None:
            raise ValueError(f"Model '{self.name}': build() needs an input_shape")
        shape = as_shape(input_shape)
        self.built = True  # the sublayers build themselves during this call
        self._build_input_shape = shape
        with no_grad():
            self(_zeros(shape, self.dtype), training=False)

    def _maybe_build(self, inputs):
        # A subclassed model's layers build on their first call; only a user's own build()
        # needs running here.
        if not self.built:
            self.built = True
            self._build_input_shape = _shape_of(inputs)
            if type(self).build is not Model.build:
                self.build(tuple(inputs.shape))

    def _build_from_batch(self, x):
        if not self.built:
            with no_grad():
                self(x[:1], training=False)

    def build_from_config(self, config):
        """Keras' Model.build_from_config: build() on the recorded input shape (a subclassed
        model runs once on zeros), with Keras' warning when that fails."""
        if not config or self.built:
            return
        try:
            self.build(as_shape(config["input_shape"]))
        except Exception as e:  # noqa: BLE001 (Keras warns and goes on)
            import warnings
            warnings.warn(f"Model '{self.name}' had a build config, but the model cannot be "
                          f"built automatically in `build_from_config(config)` ({e}). You "
                          f"should implement `def build_from_config(self, config)`, and you "
                          f"might also want to implement `def get_build_config(self)`.",
                          stacklevel=2)

    # -- configuration and saving ------------------------------------------------------------
    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A functional config (layers, input_layers, output_layers) rebuilds the graph when
        `cls` takes Functional's arguments; anything else is ``cls(**config)``."""
        from ..saving.serialization_lib import deserialization_error
        from .functional import Functional
        from .graph_config import functional_from_config
        functional_keys = ("name", "layers", "input_layers", "output_layers")
        argspec = inspect.getfullargspec(cls.__init__)
        functional_args = inspect.getfullargspec(Functional.__init__).args[1:]
        revivable = cls in (Functional, Model) or argspec.args[1:] == functional_args or (
            argspec.varargs == "args" and argspec.varkw == "kwargs")
        if all(k in config for k in functional_keys) and revivable:
            return functional_from_config(cls, config, custom_objects=custom_objects)
        try:
            return cls(**config)
        except TypeError as e:
            if getattr(e, "lamina_deserialization", False):
                raise
            raise deserialization_error(
                f"Unable to revive model from config. When overriding the `get_config()` "
                f"method, make sure that the returned config contains all items used as "
                f"arguments in the constructor to {cls}, which is the default behavior. You "
                f"can override this default behavior by defining a `from_config(cls, config)` "
                f"class method to specify how to create an instance of {cls.__name__} from its "
                f"config.\n\nReceived config={config}\n\nError encountered during "
                f"deserialization: {e}") from e

    def to_json(self, **kwargs):
        """The model's config (architecture, and compile config when compiled) as a JSON
        string; ``lamina.models.model_from_json`` reads it back. kwargs go to json.dumps."""
        from ..saving.serialization_lib import serialize_keras_object
        return json.dumps(serialize_keras_object(self), **kwargs)

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Saves the model as a ``.keras`` archive: architecture, weights and optimizer state
        (``lamina.saving.save_model``)."""
        from ..saving import save_model
        return save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    # -- inspection --------------------------------------------------------------------------
    def _summary_rows(self):
        """(layer, [name cell, shape, params]) per layer, in ``layers`` order."""
        return [(layer, [f"{layer.name} ({type(layer).__name__})", _shape_text(layer),
                         layer.count_params()]) for layer in self.layers]

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Prints Keras 3's table of layers, output shapes and parameter counts (and, for a
        functional model, what each layer is connected to). With ``expand_nested=True`` the
        layers of a nested model follow its row, indented and marked with "└ " as in Keras."""
        print_fn = print_fn or print
        body = self._summary_rows()
        graph = bool(body) and len(body[0][1]) == 4
        header = ("Layer (type)", "Output Shape", "Param #") + (("Connected to",) if graph else ())
        rows = [[[c] for c in header]]

        def add(layer, r, level):
            cells = [[r[0]], [r[1]], [f"{r[2]:,}"]]
            if graph:
                cells.append(list(r[3]) if len(r) > 3 else ["-"])
            rows.append(cells)
            nested = getattr(layer, "layers", None) if expand_nested else None
            if isinstance(layer, Model) and nested:
                prefix = "   " * (level + 1) + "└ "
                for sub in nested:
                    add(sub, [f"{prefix}{sub.name} ({type(sub).__name__})", _shape_text(sub),
                              sub.count_params()], level + 1)

        for layer, r in body:
            add(layer, r, 0)
        ncol = len(header)
        minimum = (33, 24, 15, 22)
        w = [max(minimum[i], max(len(line) for r in rows for line in r[i]) + 2)
             for i in range(ncol)]

        def line(left, mid, right, fill):
            return left + mid.join(fill * wi for wi in w) + right

        def row(cells, sep):
            height = max(len(c) for c in cells)
            out = []
            for k in range(height):
                parts = []
                for i, c in enumerate(cells):
                    text = c[k] if k < len(c) else ""
                    parts.append(text.rjust(w[i] - 1) + " " if i == 2 else
                                 " " + text.ljust(w[i] - 1))
                out.append(sep + sep.join(parts) + sep)
            return "\n".join(out)

        out = [f'Model: "{self.name}"', line("┏", "┳", "┓", "━"), row(rows[0], "┃"),
               line("┡", "╇", "┩", "━")]
        for i, r in enumerate(rows[1:]):
            out.append(row(r, "│"))
            if i < len(rows) - 2:
                out.append(line("├", "┼", "┤", "─"))
        out.append(line("└", "┴", "┘", "─"))
        trainable = sum(int(np.prod(v.shape)) for v in self.trainable_weights)
        total = self.count_params()
        nbytes = sum(v.data.nbytes for v in self.weights)
        tbytes = sum(v.data.nbytes for v in self.trainable_weights)
        out.append(f" Total params: {total:,} ({_fmt_bytes(nbytes)})")
        out.append(f" Trainable params: {trainable:,} ({_fmt_bytes(tbytes)})")
        out.append(f" Non-trainable params: {total - trainable:,} "
                   f"({_fmt_bytes(nbytes - tbytes)})")
        print_fn("\n".join(out))

    # -- weights on disk ---------------------------------------------------------------------
    def save_weights(self, filepath, overwrite=True):
        """Writes get_weights() to `filepath` as a numpy .npz archive (arr_0, arr_1, ... in
        the order of ``weights``). lamina writes .npz whatever the file's extension."""
        import os
        filepath = str(filepath)
        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"save_weights: {filepath} exists and overwrite=False")
        with open(filepath, "wb") as f:
            np.savez(f, *self.get_weights())

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """Reads weights written by save_weights (same architecture, same order), or the
        weights of a ``.keras`` archive written by ``save`` (matched by variable path)."""
        filepath = str(filepath)
        if filepath.endswith(".keras"):
            from ..saving.saving_lib import load_weights
            return load_weights(self, filepath)
        with np.load(filepath, allow_pickle=False) as archive:
            arrays = [archive[f"arr_{i}"] for i in range(len(archive.files))]
        if not self.built:
            raise ValueError(f"load_weights: model '{self.name}' is not built yet; build it "
                             "(call it on data, or give it an Input) before loading weights")
        params = self.weights
        if len(arrays) != len(params):
            raise ValueError(f"load_weights: {filepath} holds {len(arrays)} arrays but model "
                             f"'{self.name}' has {len(params)} weights")
        self.set_weights(arrays)


def _zeros(shape, dtype):
    """Zeros of `shape` (None axes -> 1), or a list / dict of them for a structure of shapes."""
    if isinstance(shape, dict):
        return {k: _zeros(v, dtype) for k, v in shape.items()}
    if isinstance(shape, list):
        return [_zeros(v, dtype) for v in shape]
    return np.zeros(tuple(1 if d is None else int(d) for d in shape), dtype=dtype)


def model_from_json(json_string, custom_objects=None):
    """The model whose config ``model.to_json()`` wrote (new weights; compiled when the JSON
    holds a compile config)."""
    from ..saving.serialization_lib import deserialize_keras_object
    return deserialize_keras_object(json.loads(json_string), custom_objects=custom_objects)


def _shape_text(layer):
    """A layer's output shape for the summary: from its build, else from its graph node."""
    shape = getattr(layer, "_output_shape", None)
    if shape is not None:
        return str(tuple(shape))
    nodes = layer.__dict__.get("_inbound_nodes") or []
    shapes = [t.shape for t in nodes[0].outputs] if nodes else []
    if len(shapes) == 1:
        return str(shapes[0])
    return "[" + ", ".join(str(s) for s in shapes) + "]" if shapes else "?"


def _fmt_bytes(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024
