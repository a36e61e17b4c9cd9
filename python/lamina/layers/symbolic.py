"""Symbolic tensors and the graph nodes that layer calls on them record.

``Input(shape)`` returns a SymbolicTensor: a shape (batch axis None), a dtype and the node that
produced it. Calling a layer on symbolic tensors builds the layer from their shapes, infers the
output shape (``compute_output_shape``, or running the layer once on zeros when the layer has
none) and records a ``GraphNode``: the layer, the call's arguments with the symbolic tensors in
them, and the output tensors. A functional Model walks these nodes once, at construction, and
turns them into a flat list of steps (see models/functional.py).

A shape that does not fit is reported here, at graph-build time, naming the layer being called
and the layers (and shapes) its inputs come from.
"""
import numpy as np

from .. import backend
from ..autograd import no_grad

__all__ = ["SymbolicTensor", "GraphNode", "flatten", "has_symbolic", "symbolic_call"]


class SymbolicTensor:
    """A placeholder: shape (batch axis None), dtype, and the node (layer call) that made it;
    ``index`` is its position among that node's outputs."""

    __slots__ = ("shape", "dtype", "name", "node", "index")

    def __init__(self, shape, dtype=None, name=None, node=None, index=0):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = np.dtype(dtype or backend.floatx())
        self.name = name
        self.node = node
        self.index = index

    @property
    def layer(self):
        """The layer whose call produced this tensor."""
        return None if self.node is None else self.node.layer

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<SymbolicTensor shape={self.shape} dtype={self.dtype} name={self.name}>"

    def __bool__(self):
        raise TypeError("A symbolic tensor (from Input or a layer called on one) has no value; "
                        "it cannot be used in a Python condition")

    __hash__ = object.__hash__


class GraphNode:
    """One call of `layer` on symbolic tensors.

    ``args``/``kwargs`` are the call's arguments as given (symbolic tensors inside),
    ``inputs`` the symbolic tensors found in them in order, ``outputs`` the flat list of
    output tensors and ``output_struct`` what the call returned (one tensor, a list, a dict).
    """

    __slots__ = ("layer", "args", "kwargs", "inputs", "outputs", "output_struct")

    def __init__(self, layer, args, kwargs, inputs):
        self.layer = layer
        self.args = args
        self.kwargs = kwargs
        self.inputs = inputs
        self.outputs = []
        self.output_struct = None

    @property
    def is_input(self):
        return not self.inputs

    @property
    def parent_nodes(self):
        return [t.node for t in self.inputs if t.node is not None]

    def pack_arguments(self, values):
        """(args, kwargs) of this call with its input tensors replaced by `values` (in the
        order of ``inputs``)."""
        it = iter(values)
        return _replace(self.args, it), _replace(self.kwargs, it)


def flatten(struct):
    """The leaves of nested lists, tuples and dicts (dicts in sorted key order, as Keras)."""
    if isinstance(struct, (list, tuple)):
        out = []
        for v in struct:
            out.extend(flatten(v))
        return out
    if isinstance(struct, dict):
        out = []
        for k in sorted(struct):
            out.extend(flatten(struct[k]))
        return out
    return [struct]


def has_symbolic(struct):
    if isinstance(struct, SymbolicTensor):
        return True
    if isinstance(struct, (list, tuple)):
        return any(has_symbolic(v) for v in struct)
    if isinstance(struct, dict):
        return any(has_symbolic(v) for v in struct.values())
    return False


def _symbolic_leaves(struct):
    return [t for t in flatten(struct) if isinstance(t, SymbolicTensor)]


def _replace(struct, it):
    """`struct` with each symbolic tensor replaced by the next value of `it` (flatten order)."""
    if isinstance(struct, SymbolicTensor):
        return next(it)
    if isinstance(struct, (list, tuple)):
        return type(struct)(_replace(v, it) for v in struct)
    if isinstance(struct, dict):
        replaced = {k: _replace(struct[k], it) for k in sorted(struct)}
        return {k: replaced[k] for k in struct}
    return struct


def _shapes(struct):
    if isinstance(struct, SymbolicTensor):
        return struct.shape
    if isinstance(struct, (list, tuple)):
        return [_shapes(v) for v in struct]
    if isinstance(struct, dict):
        return {k: _shapes(v) for k, v in struct.items()}
    return tuple(np.shape(struct))


def _is_shape(s):
    return isinstance(s, (tuple, list)) and all(d is None or isinstance(d, (int, np.integer))
                                                 for d in s)


def _describe_sources(tensors):
    parts = []
    for t in tensors:
        layer = t.layer
        where = f"layer '{layer.name}' ({type(layer).__name__})" if layer is not None else \
            "a placeholder"
        parts.append(f"{where}, shape {t.shape}")
    return "; ".join(parts)


def _probe(layer, args, kwargs, sizes):
    """Runs `layer` once on zeros shaped like its symbolic arguments (None axes -> `sizes`)."""
    from ..autograd import Tensor

    def zeros(t):
        shape = tuple(sizes[0] if (d is None and i == 0) else sizes[1] if d is None else d
                      for i, d in enumerate(t.shape))
        return Tensor(np.zeros(shape, dtype=t.dtype))

    def fill(struct):
        if isinstance(struct, SymbolicTensor):
            return zeros(struct)
        if isinstance(struct, (list, tuple)):
            return type(struct)(fill(v) for v in struct)
        if isinstance(struct, dict):
            return {k: fill(v) for k, v in struct.items()}
        return struct

    kw = {k: fill(v) for k, v in kwargs.items()}
    kw["training"] = False
    with no_grad():
        out = layer(*fill(args), **kw)

    def spec(o):
        if isinstance(o, (list, tuple)):
            return type(o)(spec(v) for v in o)
        if isinstance(o, dict):
            return {k: spec(v) for k, v in o.items()}
        return (tuple(o.shape), o.dtype)

    return spec(out)


def _infer_outputs(layer, args, kwargs, inputs):
    """Output (shape, dtype) structure of `layer` called on these symbolic arguments."""
    shape = _shapes(args[0])
    try:
        out = layer.compute_output_shape(shape)
    except NotImplementedError:
        out = None
    if out is not None:
        dtype = np.dtype(layer.dtype)

        def attach(s):
            if _is_shape(s):
                return (tuple(s), dtype)
            if isinstance(s, dict):
                return {k: attach(v) for k, v in s.items()}
            return [attach(v) for v in s]

        return attach(out)
    # No compute_output_shape: run the layer on zeros; an axis unknown in the input (None)
    # gets two different sizes, and an output axis that changes with them is unknown too.
    first = _probe(layer, args, kwargs, (2, 3))
    dynamic = any(d is None for t in inputs for d in t.shape[1:])
    second = _probe(layer, args, kwargs, (3, 5)) if dynamic else None

    def merge(a, b):
        if isinstance(a, tuple) and len(a) == 2 and isinstance(a[1], np.dtype):
            s = a[0]
            s = tuple(None if (i == 0 or (b is not None and b[0][i] != d)) else d
                      for i, d in enumerate(s))
            return (s, a[1])
        if isinstance(a, dict):
            return {k: merge(v, None if b is None else b[k]) for k, v in a.items()}
        return [merge(v, None if b is None else b[i]) for i, v in enumerate(a)]

    return merge(first, second)


def symbolic_call(layer, args, kwargs):
    """Records `layer(*args, **kwargs)` on symbolic tensors; returns the symbolic outputs."""
    inputs = _symbolic_leaves(args[0]) + _symbolic_leaves(args[1:]) + _symbolic_leaves(kwargs)
    try:
        shape = _shapes(args[0])
        if not layer.built:
            layer.build(shape)
            layer.built = True
            layer._build_input_shape = shape
        spec = layer.input_spec
        if spec is not None:
            if isinstance(spec, (list, tuple)):
                for i, (s, t) in enumerate(zip(spec, flatten(args[0]))):
                    if s is not None and isinstance(t, SymbolicTensor):
                        s.check(t.shape, layer.name, i)
            elif isinstance(args[0], SymbolicTensor):
                spec.check(shape, layer.name)
        out = _infer_outputs(layer, args, kwargs, inputs)
    except (ValueError, TypeError) as e:
        raise type(e)(f"{e}\n  (while calling layer '{layer.name}' ({type(layer).__name__}) on "
                      f"the output of {_describe_sources(inputs)})") from None
    node = GraphNode(layer, args, kwargs, inputs)

    def make(o):
        if isinstance(o, tuple) and len(o) == 2 and isinstance(o[1], np.dtype):
            t = SymbolicTensor(o[0], o[1], name=layer.name, node=node, index=len(node.outputs))
            node.outputs.append(t)
            return t
        if isinstance(o, dict):
            return {k: make(o[k]) for k in sorted(o)}
        return [make(v) for v in o]

    node.output_struct = make(out)
    nodes = layer.__dict__.get("_inbound_nodes")
    if nodes is None:
        nodes = layer.__dict__["_inbound_nodes"] = []
    nodes.append(node)
    return node.output_struct
