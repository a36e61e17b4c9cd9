"""The functional API: ``Model(inputs, outputs)`` over the graph that symbolic calls record.

At construction the graph between the inputs and the outputs is mapped once, Keras' way
(depth-first from the outputs, then by depth, so ``layers`` and ``weights`` come in Keras'
order), and turned into a flat list of steps over a value array: ``(fn, mode, input indices,
output indices, node)``. Running the model is one pass over that list, so a graph costs no more
per layer than a Sequential stack.

Two step lists exist: the checked one calls each layer through ``Layer.__call__`` (building,
input checks, the training flag context, activity losses); the fast one, used by fit after
the first batch went through the checked path, calls each layer's ``call`` directly.
"""
import inspect

import numpy as np

from ..autograd import Tensor
from ..layers.layer import _ACCEPTS_TRAINING, _accepts, _context
from ..layers.symbolic import SymbolicTensor, flatten
from .graph_config import functional_get_config, layers_in_config
from .model import Model

__all__ = ["Functional"]

# Step modes: how a node's arguments and results map onto the value array.
_ONE = 0        # fn(v[i]) -> one tensor
_ONE_T = 1      # fn(v[i], training=t) -> one tensor
_LIST = 2       # fn([v[i], v[j], ...]) -> one tensor
_GENERAL = 3    # anything else: arguments rebuilt from the node, outputs flattened


def _structure_names(struct, tensors, what):
    """Names of the flat tensors: dict keys for a dict, else the producing layer's name
    (made unique with _1, _2 where a layer gives several)."""
    if isinstance(struct, dict):
        return sorted(struct)
    names, seen = [], {}
    for t in tensors:
        base = t.name if what == "input" else t.layer.name
        n = seen.get(base, 0)
        seen[base] = n + 1
        names.append(base if n == 0 else f"{base}_{n}")
    return names


def _check_struct(struct, what):
    if isinstance(struct, dict):
        for k, v in struct.items():
            if not isinstance(k, str):
                raise ValueError(f"Model: `{what}` dict keys must be strings, got {k!r}")
            if not isinstance(v, SymbolicTensor):
                raise ValueError(f"Model: `{what}['{k}']` must be a symbolic tensor (from "
                                 f"Input or a layer called on one), got {type(v).__name__}")
        return
    for i, t in enumerate(flatten(struct)):
        if not isinstance(t, SymbolicTensor):
            where = what if isinstance(struct, SymbolicTensor) or not isinstance(
                struct, (list, tuple)) else f"{what}[{i}]"
            raise ValueError(f"Model: `{where}` must be a symbolic tensor (from Input or a "
                             f"layer called on one), got {type(t).__name__}: {t!r}")


def _check_unique_names(layers):
    """Keras 3 refuses two layers (Inputs included) of one name in a model: names address
    layers in get_layer, the logs and saved configs."""
    counts = {}
    for layer in layers:
        counts[layer.name] = counts.get(layer.name, 0) + 1
    for name, count in counts.items():
        if count > 1:
            kinds = [type(layer).__name__ for layer in layers if layer.name == name]
            raise ValueError(f'Model: the name "{name}" is used {count} times in the model '
                             f'({", ".join(kinds)}). All layer names should be unique: give '
                             f'each layer its own `name=`.')


def map_graph(inputs, outputs):
    """Keras' map_graph: the nodes between `inputs` and `outputs` ordered by decreasing
    depth, and the layers in Keras' order (by decreasing depth, ties broken by the order a
    depth-first walk from the outputs first meets them)."""
    input_ids = {id(t) for t in inputs}
    finished, in_progress = set(), set()
    nodes_in_decreasing_depth = []
    layer_indices = {}
    reached_inputs = set()

    def visit(tensor):
        # Iterative depth-first walk with an explicit stack (deep graphs, no recursion limit).
        stack = [(tensor, False)]
        while stack:
            t, done = stack.pop()
            node = t.node
            if done:
                in_progress.discard(id(node))
                finished.add(id(node))
                nodes_in_decreasing_depth.append(node)
                continue
            if id(node) in finished:
                continue
            if id(node) in in_progress:
                raise ValueError(f"Model: the graph has a cycle through layer "
                                 f"'{node.layer.name}'")
            if node.layer not in layer_indices:
                layer_indices[node.layer] = len(layer_indices)
            in_progress.add(id(node))
            stack.append((t, True))
            if id(t) in input_ids:
                reached_inputs.add(id(t))
                continue
            if node.is_input:
                raise ValueError(
                    f"Model: output depends on Input '{t.name}' (shape {t.shape}), which is not "
                    f"among the model's inputs {[x.name for x in inputs]}: the graph is "
                    f"disconnected. Add it to `inputs` or take the output from the given "
                    f"inputs.")
            for parent in reversed(node.inputs):
                if id(parent.node) not in finished:
                    stack.append((parent, False))

    for out in outputs:
        visit(out)

    node_depth, layer_depth = {}, {}
    for node in reversed(nodes_in_decreasing_depth):
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(node.layer, 0))
        layer_depth[node.layer] = depth
        node_depth[id(node)] = depth
        if any(id(o) in input_ids for o in node.outputs) and node.inputs:
            continue  # an intermediate tensor given as a model input: its producers are outside
        for parent in node.parent_nodes:
            node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
    for t in inputs:
        layer = t.layer
        if layer not in layer_depth:
            layer_depth[layer] = 0
            layer_indices[layer] = -1
            nodes_in_decreasing_depth.append(t.node)
            node_depth[id(t.node)] = 0
    by_id = {id(n): n for n in nodes_in_decreasing_depth}
    nodes = sorted(by_id.values(), key=lambda n: -node_depth[id(n)])
    layers = sorted(layer_depth, key=lambda layer: (-layer_depth[layer], layer_indices[layer]))
    return nodes, layers


class Functional(Model):
    """A Model whose layers form a graph from ``inputs`` to ``outputs`` (each a symbolic
    tensor, a list or a dict of them)."""

    _UNTRACKED = Model._UNTRACKED | {"_inputs_struct", "_outputs_struct", "_graph_layers",
                                     "_nodes", "_checked_steps", "_fast_steps", "inputs",
                                     "outputs"}

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        _check_struct(inputs, "inputs")
        _check_struct(outputs, "outputs")
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        self.inputs = flatten(inputs)
        self.outputs = flatten(outputs)
        if not self.inputs:
            raise ValueError("Model: `inputs` is empty")
        if not self.outputs:
            raise ValueError("Model: `outputs` is empty")
        if len({id(t) for t in self.inputs}) != len(self.inputs):
            raise ValueError(f"Model: the same tensor appears twice in `inputs`: "
                             f"{[t.name for t in self.inputs]}")
        self.input_names = _structure_names(inputs, self.inputs, "input")
        self.output_names = _structure_names(outputs, self.outputs, "output")
        self._nodes, self._graph_layers = map_graph(self.inputs, self.outputs)
        _check_unique_names(self._graph_layers)
        self._compile_steps()
        self.built = True
        self._fast_steps = None

    def compute_mask(self, inputs, mask=None):
        """A model used as a layer passes masks on: the layers inside attach their outputs'
        masks as it runs (as Keras' Functional computes them through its graph), so there is
        nothing to add here and no reason to warn that the mask is dropped."""
        return None

    # -- structure ---------------------------------------------------------------------------
    @property
    def _layers(self):
        return self._graph_layers

    @property
    def layers(self):
        return list(self._graph_layers)

    @property
    def input(self):
        return self._inputs_struct

    @property
    def output(self):
        return self._outputs_struct

    @property
    def input_shape(self):
        shapes = [t.shape for t in self.inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    def _compile_steps(self):
        """Numbers every tensor of the graph (inputs first) and lists the steps."""
        index = {}
        for t in self.inputs:
            index[id(t)] = len(index)
        steps = []
        for node in self._nodes:
            if any(id(o) in index for o in node.outputs) and not node.inputs:
                continue  # an Input: its value is given
            if all(id(o) in index for o in node.outputs):
                continue  # an intermediate tensor given as a model input
            ins = [index[id(t)] for t in node.inputs]
            outs = []
            for o in node.outputs:
                index[id(o)] = len(index)
                outs.append(index[id(o)])
            steps.append((node, ins, outs))
        self._n_values = len(index)
        self._steps = steps
        self._output_index = [index[id(t)] for t in self.outputs]
        self._checked_steps = [self._step(node, ins, outs, checked=True)
                               for node, ins, outs in steps]

    @staticmethod
    def _step(node, ins, outs, checked):
        layer = node.layer
        if checked:
            fn, takes = layer.__call__, True
        else:
            cls = type(layer)
            takes = _ACCEPTS_TRAINING.get(cls)
            if takes is None:
                takes = _ACCEPTS_TRAINING[cls] = _accepts(layer.call, "training")
            fn = layer.call
        single_out = len(outs) == 1 and isinstance(node.output_struct, SymbolicTensor)
        simple_kwargs = not node.kwargs and len(node.args) == 1
        if single_out and simple_kwargs and isinstance(node.args[0], SymbolicTensor):
            return (fn, _ONE_T if takes else _ONE, ins[0], outs[0], None)
        if single_out and simple_kwargs and not takes and isinstance(node.args[0], list) and \
                len(node.args[0]) == len(ins) and \
                all(isinstance(a, SymbolicTensor) for a in node.args[0]):
            return (fn, _LIST, ins, outs[0], None)
        return (fn, _GENERAL, ins, outs, (node, takes, "training" in node.kwargs))

    def _run(self, steps, flat_inputs, training):
        values = [None] * self._n_values
        values[:len(flat_inputs)] = flat_inputs
        for fn, mode, i, o, extra in steps:
            if mode == _ONE:
                values[o] = fn(values[i])
            elif mode == _ONE_T:
                values[o] = fn(values[i], training=training)
            elif mode == _LIST:
                values[o] = fn([values[j] for j in i])
            else:
                node, takes, fixed = extra
                args, kwargs = node.pack_arguments([values[j] for j in i])
                if takes and not fixed:
                    kwargs["training"] = training
                result = fn(*args, **kwargs)
                if len(o) == 1 and isinstance(node.output_struct, SymbolicTensor):
                    values[o[0]] = result
                else:
                    for j, r in zip(o, flatten(result)):
                        values[j] = r
        return values

    # -- calling -----------------------------------------------------------------------------
    def _flatten_inputs(self, inputs):
        """The model's inputs as a flat list in ``self.inputs`` order, from one array, a list or
        a dict (by input name), with a clear error when they do not match."""
        n = len(self.inputs)
        if isinstance(inputs, dict):
            names = self.input_names
            unknown = [k for k in inputs if k not in names]
            missing = [k for k in names if k not in inputs]
            if unknown or missing:
                raise ValueError(
                    f"Model '{self.name}' expects inputs named {names}; "
                    + (f"unknown key(s) {unknown}" if unknown else "")
                    + ("; " if unknown and missing else "")
                    + (f"missing {missing}" if missing else ""))
            return [inputs[k] for k in names]
        if isinstance(inputs, (list, tuple)) and (n > 1 or (
                len(inputs) == 1 and not np.isscalar(inputs[0]) and
                np.ndim(inputs[0]) >= len(self.inputs[0].shape))):
            if len(inputs) != n:
                raise ValueError(
                    f"Model '{self.name}' expects {n} input(s) {self.input_names} with shapes "
                    f"{[t.shape for t in self.inputs]}, but received a list of "
                    f"{len(inputs)}")
            return list(inputs)
        if n != 1:
            raise ValueError(f"Model '{self.name}' expects {n} inputs {self.input_names} "
                             f"(a list or a dict by name), but received one "
                             f"{type(inputs).__name__}")
        return [inputs]

    def _convert_inputs(self, flat):
        out = []
        for x, t in zip(flat, self.inputs):
            if not isinstance(x, Tensor):
                a = np.asarray(x)
                if a.dtype != t.dtype and (a.dtype.kind == "f" or t.dtype.kind == "f"):
                    a = a.astype(t.dtype)
                x = Tensor(a)
            elif x.dtype.kind == "f" and t.dtype.kind == "f" and x.dtype != t.dtype:
                from .. import ops
                x = ops.cast(x, t.dtype)
            shape = x.shape  # the batch axis is not checked, as in Keras
            if len(shape) != len(t.shape) or any(
                    d is not None and d != s for d, s in zip(t.shape[1:], shape[1:])):
                raise ValueError(f"Input '{t.name}' of model '{self.name}' is incompatible: "
                                 f"expected shape {t.shape}, got {tuple(shape)}")
            out.append(x)
        return out

    def __call__(self, inputs, *args, **kwargs):
        from ..layers.symbolic import has_symbolic
        if isinstance(inputs, SymbolicTensor) or (
                type(inputs) in (list, tuple, dict) and has_symbolic(inputs)):
            return super().__call__(inputs, *args, **kwargs)
        flat = self._convert_inputs(self._flatten_inputs(inputs))
        return super().__call__(flat, *args, **kwargs)

    def call(self, inputs, training=None, mask=None):
        flat = inputs if (isinstance(inputs, list) and len(inputs) == len(self.inputs) and
                          all(isinstance(x, Tensor) for x in inputs)) else \
            self._convert_inputs(self._flatten_inputs(inputs))
        values = self._run(self._checked_steps, flat, training)
        return self._pack_outputs([values[i] for i in self._output_index])

    def _pack_outputs(self, flat):
        struct = self._outputs_struct
        if isinstance(struct, SymbolicTensor):
            return flat[0]
        if isinstance(struct, dict):
            return dict(zip(self.output_names, flat))
        return list(flat)

    def compute_output_shape(self, input_shape):
        shapes = input_shape if len(self.inputs) > 1 else [input_shape]
        if isinstance(input_shape, dict):
            shapes = [input_shape[k] for k in self.input_names]
        for s, t in zip(shapes, self.inputs):
            if len(s) != len(t.shape) or any(
                    d is not None and e is not None and d != e for d, e in zip(t.shape, s)):
                raise ValueError(f"Input '{t.name}' of model '{self.name}' is incompatible: "
                                 f"expected shape {t.shape}, got {tuple(s)}")

        def shape(t):
            return (shapes[0][0],) + tuple(t.shape[1:])

        struct = self._outputs_struct
        if isinstance(struct, SymbolicTensor):
            return shape(struct)
        if isinstance(struct, dict):
            return {k: shape(v) for k, v in struct.items()}
        return [shape(t) for t in self.outputs]

    def _maybe_build(self, inputs):
        pass

    def build(self, input_shape=None):
        self.built = True

    def _input_signature(self):
        return (list(self.input_names), [t.dtype for t in self.inputs],
                [t.shape for t in self.inputs])

    # -- the training fast path --------------------------------------------------------------
    def _fast_forward(self):
        """A function(x, training) -> outputs calling each layer's ``call`` directly (no
        checks), or None where a layer needs the checked path (activity regularizers). The
        training flag is set once in the call context for the whole pass, so that sublayers a
        layer calls without ``training=`` see it, as under the checked path."""
        for layer in self._graph_layers:
            if getattr(layer, "activity_regularizer", None) is not None or not layer.built:
                return None
        # Layers a Keras mask flows through keep __call__, which passes the masks on.
        steps = [self._step(node, ins, outs,
                            checked=isinstance(node.layer, Model) or node.layer._passes_masks)
                 for node, ins, outs in self._steps]
        index = self._output_index
        single = len(index) == 1
        out = index[0]
        run = self._run
        one_input = len(self.inputs) == 1
        context = _context

        def forward(x, training):
            outer = context.training
            context.training = training
            try:
                values = run(steps, [x] if one_input else x, training)
            finally:
                context.training = outer
            return values[out] if single else [values[i] for i in index]
        return forward

    # -- inspection --------------------------------------------------------------------------
    def _summary_rows(self):
        rows = []
        relevant = {id(n) for n in self._nodes}
        for layer in self._graph_layers:
            nodes = [n for n in layer._inbound_nodes if id(n) in relevant]
            shapes = [t.shape for n in nodes for t in n.outputs]
            shape = str(shapes[0]) if len(shapes) == 1 else \
                "[" + ", ".join(str(s) for s in shapes) + "]" if shapes else "?"
            connected = []
            for n in nodes:
                for t in n.inputs:
                    producer = t.layer
                    connected.append(f"{producer.name}[{producer._inbound_nodes.index(t.node)}]"
                                     f"[{t.index}]")
            rows.append((layer, [f"{layer.name} ({type(layer).__name__})", shape,
                                 layer.count_params(), connected or ["-"]]))
        return rows

    # -- configuration -----------------------------------------------------------------------
    def get_config(self):
        """Keras 3's functional config (see graph_config.py); a subclass whose constructor
        takes other arguments than Functional's gets Layer's (automatic) config instead."""
        if not _functional_like_constructor(type(self)):
            return self._base_config(auto=True)
        return functional_get_config(self)

    def _saved_children(self):
        named = [(layer.name, layer) for layer in layers_in_config(self)]
        ids = {id(layer) for _, layer in named}
        return named + [(k, v) for k, v in super()._saved_children() if id(v) not in ids]


def _functional_like_constructor(cls):
    return inspect.getfullargspec(cls.__init__).args[1:] == \
        inspect.getfullargspec(Functional.__init__).args[1:]
