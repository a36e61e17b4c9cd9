"""Reverse-mode automatic differentiation, define-by-run.

A ``Tensor`` holds one backend array (``.data``: numpy, later cupy). When an op runs while
gradients are being recorded and one of its inputs requires a gradient, the op attaches a
``Node`` to its output: the inputs, which of them need gradients, and a backward function that
maps the output gradient to input gradients. ``backward`` walks those nodes in reverse
topological order and sums the gradients of a tensor used by several consumers.

Ops are coarse (a whole dense layer, a whole loss), so a small model's step records a handful
of nodes and the walk costs a few microseconds.
"""
import numpy as np

from . import backend, device

__all__ = ["Tensor", "Variable", "GradientTape", "backward", "recording", "no_grad",
           "is_recording", "convert_to_tensor"]


class _State:
    __slots__ = ("depth",)

    def __init__(self):
        self.depth = 0  # > 0 while a GradientTape or a training step records


_state = _State()


def is_recording():
    return _state.depth > 0


class recording:
    """Context manager: ops record nodes for backward while it is active."""

    __slots__ = ()

    def __enter__(self):
        _state.depth += 1
        return self

    def __exit__(self, *exc):
        _state.depth -= 1
        return False


class no_grad:
    """Context manager: no op records, even inside a GradientTape (inference, metrics)."""

    __slots__ = ("saved",)

    def __enter__(self):
        self.saved = _state.depth
        _state.depth = 0
        return self

    def __exit__(self, *exc):
        _state.depth = self.saved
        return False


class Node:
    """One recorded op: ``backward(grad_out) -> tuple of input grads`` (None where not needed).

    ``needs[i]`` says whether input i wants a gradient, so backward can skip work (a first dense
    layer computes no dx). Multi-output ops set ``n_out`` > 1; backward then receives a list of
    output gradients with None for outputs that received none.
    """

    __slots__ = ("backward", "inputs", "needs", "n_out", "name")

    def __init__(self, backward_fn, inputs, needs, n_out=1, name=""):
        self.backward = backward_fn
        self.inputs = inputs
        self.needs = needs
        self.n_out = n_out
        self.name = name


class Tensor:
    """An array plus, when produced by a recorded op, the node that made it (a Keras mask
    beside it is kept by lamina.masking)."""

    __slots__ = ("data", "_node", "_index", "_requires_grad", "__weakref__")
    __array_priority__ = 100  # numpy defers binary operators to Tensor

    def __init__(self, data, requires_grad=False):
        self.data = data
        self._node = None
        self._index = 0
        self._requires_grad = requires_grad

    # -- array facts -------------------------------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    @property
    def requires_grad(self):
        return self._requires_grad

    def numpy(self):
        """A numpy copy of the value (from the GPU too)."""
        data = self.data
        if type(data) is np.ndarray:
            return data.copy()
        return data.get()

    def __array__(self, dtype=None, copy=None):
        data = self.data if type(self.data) is np.ndarray else self.data.get()
        return data if dtype is None else data.astype(dtype, copy=False)

    def __dlpack__(self, *args, **kwargs):
        """DLPack export of the value (numpy or cupy array), for torch.from_dlpack and friends."""
        return self.data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self.data.__dlpack_device__()

    def __len__(self):
        return len(self.data)

    def __float__(self):
        return float(self.data)

    def __int__(self):
        return int(self.data)

    def __bool__(self):
        return bool(self.data)

    def __repr__(self):
        grad = ", requires_grad=True" if self._requires_grad else ""
        return f"<Tensor shape={self.shape} dtype={self.dtype}{grad}>\n{self.data!r}"

    __hash__ = object.__hash__

    # -- operators, differentiable through lamina.ops ------------------------------------------
    def __add__(self, other):
        return _ops().add(self, other)

    def __radd__(self, other):
        return _ops().add(other, self)

    def __sub__(self, other):
        return _ops().subtract(self, other)

    def __rsub__(self, other):
        return _ops().subtract(other, self)

    def __mul__(self, other):
        return _ops().multiply(self, other)

    def __rmul__(self, other):
        return _ops().multiply(other, self)

    def __truediv__(self, other):
        return _ops().divide(self, other)

    def __rtruediv__(self, other):
        return _ops().divide(other, self)

    def __matmul__(self, other):
        return _ops().matmul(self, other)

    def __rmatmul__(self, other):
        return _ops().matmul(other, self)

    def __pow__(self, other):
        return _ops().power(self, other)

    def __neg__(self):
        return _ops().negative(self)

    def __getitem__(self, key):
        return _ops().getitem(self, key)

    def __eq__(self, other):
        return Tensor(self.data == _raw(other))

    def __ne__(self, other):
        return Tensor(self.data != _raw(other))

    def __lt__(self, other):
        return Tensor(self.data < _raw(other))

    def __le__(self, other):
        return Tensor(self.data <= _raw(other))

    def __gt__(self, other):
        return Tensor(self.data > _raw(other))

    def __ge__(self, other):
        return Tensor(self.data >= _raw(other))

    @property
    def T(self):
        return _ops().transpose(self)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops().reshape(self, shape)


def _ops():
    from . import ops
    return ops


def _raw(x):
    return x.data if isinstance(x, Tensor) else x


class Variable(Tensor):
    """A weight: a Tensor whose array is updated in place (optimizers keep references to it).

    ``Variable(initializer, shape=None, dtype=None, trainable=True, name=None)`` as in Keras:
    `initializer` is an array-like value or a callable ``initializer(shape, dtype)``.
    """

    __slots__ = ("name", "_trainable", "path", "regularizer", "constraint")

    def __init__(self, initializer, shape=None, dtype=None, trainable=True, name=None):
        if callable(initializer):
            if shape is None:
                raise ValueError(f"Variable '{name}': a callable initializer needs a shape")
            value = initializer(tuple(shape), dtype=dtype or backend.floatx())
        else:
            value = initializer
        xp = backend.array_module(value) if hasattr(value, "__cuda_array_interface__") else np
        value = xp.ascontiguousarray(xp.asarray(value, dtype=dtype or getattr(value, "dtype", None)
                                                or backend.floatx()))
        if value.dtype.kind == "f" and dtype is None and value.dtype != np.dtype(backend.floatx()) \
                and not isinstance(initializer, np.ndarray):
            value = value.astype(backend.floatx())
        if shape is not None and tuple(value.shape) != tuple(shape):
            raise ValueError(f"Variable '{name}': initial value has shape {tuple(value.shape)}, "
                             f"expected {tuple(shape)}")
        source = initializer.data if isinstance(initializer, Tensor) else initializer
        if value is source or (isinstance(source, np.ndarray) and
                               np.may_share_memory(value, source)):
            # A Variable owns its array (optimizers update it in place): training must not
            # write into the array the caller passed, as Keras' Variable copies it too.
            value = value.copy()
        value = device.place(value)  # inside `with lamina.device(...)`: on that device
        super().__init__(value, requires_grad=trainable)
        self.name = name or "variable"
        self.path = self.name
        self._trainable = bool(trainable)
        self.regularizer = None
        self.constraint = None

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        self._requires_grad = self._trainable

    @property
    def value(self):
        return self

    def assign(self, value):
        """Writes `value` into this variable's array in place (shape must match)."""
        value = _raw(value)
        if tuple(np.shape(value)) != self.data.shape:
            raise ValueError(f"Variable '{self.name}': cannot assign a value of shape "
                             f"{tuple(np.shape(value))} to a variable of shape {self.data.shape}")
        self.data[...] = value
        return self

    def assign_add(self, value):
        self.data += _raw(value)
        return self

    def assign_sub(self, value):
        self.data -= _raw(value)
        return self

    def __repr__(self):
        return (f"<Variable name={self.name} shape={self.shape} dtype={self.dtype} "
                f"trainable={self._trainable}>\n{self.data!r}")


def convert_to_tensor(x, dtype=None):
    """A Tensor for `x` (a Tensor is returned as is, arrays are wrapped without copying)."""
    if isinstance(x, Tensor):
        if dtype is not None and x.dtype != np.dtype(dtype):
            return _ops().cast(x, dtype)
        return x
    if type(x) is not np.ndarray and not hasattr(x, "__cuda_array_interface__"):
        x = np.asarray(x)
        if dtype is None and x.dtype == np.float64:
            dtype = backend.floatx()
    if dtype is not None and x.dtype != np.dtype(dtype):
        x = x.astype(dtype)
    return Tensor(x)


def make_output(data, inputs, backward_fn, name=""):
    """The output Tensor of an op; records a node when recording and an input needs a gradient.

    `inputs` is a tuple whose Tensors may need gradients (other entries are ignored);
    `backward_fn(grad)` returns one gradient (or None) per entry of `inputs`.
    """
    out = Tensor(data)
    if _state.depth:
        needs = tuple(isinstance(t, Tensor) and t._requires_grad for t in inputs)
        if True in needs:
            out._node = Node(backward_fn, inputs, needs, 1, name)
            out._requires_grad = True
    return out


def make_outputs(datas, inputs, backward_fn, name=""):
    """Several output Tensors from one op (e.g. a recurrent layer's sequence and states);
    backward_fn receives a list with one gradient or None per output."""
    outs = [Tensor(d) for d in datas]
    if _state.depth:
        needs = tuple(isinstance(t, Tensor) and t._requires_grad for t in inputs)
        if True in needs:
            node = Node(backward_fn, inputs, needs, len(outs), name)
            for i, o in enumerate(outs):
                o._node = node
                o._index = i
                o._requires_grad = True
    return outs


def _topological_nodes(root):
    """Nodes reachable from `root` in depth-first post-order: every node after all the nodes
    that produced its inputs, so the reversed list visits consumers before producers."""
    order = []
    visited = set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        for t, need in zip(node.inputs, node.needs):
            if need:
                parent = t._node
                if parent is not None and parent not in visited:
                    stack.append((parent, False))
    return order


def _accumulate(store, key, grad):
    prev = store.get(key)
    # Never add in place: a backward function may hand the same array to several inputs.
    store[key] = grad if prev is None else prev + grad


def backward(target, sources, output_gradient=None):
    """Gradients of `target` with respect to each tensor in `sources` (arrays, None where
    `target` does not depend on a source).

    `output_gradient` defaults to ones (so a scalar loss gets d loss / d source).
    """
    if not isinstance(target, Tensor):
        raise TypeError(f"backward: expected a Tensor target, got {type(target).__name__}")
    sources = list(sources)
    wanted = {s: None for s in sources if isinstance(s, Tensor)}
    root = target._node
    if root is None:
        if target in wanted:
            seed = output_gradient if output_gradient is not None else \
                backend.array_module(target.data).ones_like(target.data)
            return [seed if s is target else None for s in sources]
        return [None] * len(sources)
    xp = backend.array_module(target.data)
    seed = xp.ones_like(target.data) if output_gradient is None else _raw(output_gradient)
    pending = {root: [None] * root.n_out}
    pending[root][target._index] = seed
    if target in wanted:
        wanted[target] = seed
    for node in reversed(_topological_nodes(root)):
        grads_out = pending.pop(node, None)
        if grads_out is None:
            continue
        if node.n_out == 1:
            if grads_out[0] is None:
                continue
            grads_in = node.backward(grads_out[0])
        else:
            grads_in = node.backward(grads_out)
        for t, need, g in zip(node.inputs, node.needs, grads_in):
            if not need or g is None:
                continue
            if t in wanted:
                _accumulate(wanted, t, g)
            parent = t._node
            if parent is not None:
                slots = pending.get(parent)
                if slots is None:
                    slots = pending[parent] = [None] * parent.n_out
                prev = slots[t._index]
                slots[t._index] = g if prev is None else prev + g
    return [wanted.get(s) if isinstance(s, Tensor) else None for s in sources]


class GradientTape:
    """Keras/TensorFlow-style tape:

        with lamina.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_weights)

    Records ops while active; ``gradient`` returns Tensors (None for unconnected sources) in
    the structure of `sources`: one Tensor, a list, a tuple or a dict (nested too), as in
    TensorFlow.
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self.persistent = persistent
        self._used = False
        self._watched = []

    def __enter__(self):
        _state.depth += 1
        return self

    def __exit__(self, *exc):
        _state.depth -= 1
        return False

    def watch(self, tensor):
        """Makes ops record gradients with respect to a constant tensor."""
        for t in (tensor if isinstance(tensor, (list, tuple)) else [tensor]):
            if not isinstance(t, Tensor):
                raise TypeError(f"GradientTape.watch: expected a Tensor, got {type(t).__name__}")
            t._requires_grad = True
            self._watched.append(t)

    def gradient(self, target, sources, output_gradients=None):
        if self._used and not self.persistent:
            raise RuntimeError("GradientTape.gradient can only be called once on a "
                               "non-persistent tape (create it with persistent=True)")
        self._used = True
        srcs = _flatten_sources(sources)
        grads = iter(backward(target, srcs, output_gradients))
        return _pack_like(sources, lambda: next(grads))


def _flatten_sources(struct):
    """The tensors of a Tensor, list, tuple or dict (values in key order) of them, nested."""
    if isinstance(struct, dict):
        return [t for v in struct.values() for t in _flatten_sources(v)]
    if isinstance(struct, (list, tuple)):
        return [t for v in struct for t in _flatten_sources(v)]
    return [struct]


def _pack_like(struct, next_grad):
    """`struct` with each tensor replaced by the next gradient (a Tensor, or None)."""
    if isinstance(struct, dict):
        return {k: _pack_like(v, next_grad) for k, v in struct.items()}
    if isinstance(struct, list):
        return [_pack_like(v, next_grad) for v in struct]
    if isinstance(struct, tuple):
        return tuple(_pack_like(v, next_grad) for v in struct)
    g = next_grad()
    return None if g is None else Tensor(g)
