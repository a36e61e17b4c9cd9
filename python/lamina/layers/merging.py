"""Merging layers (Keras 3 names and arguments): Add, Subtract, Multiply, Average, Maximum,
Minimum, Concatenate, Dot, and their functional forms ``add([a, b])``, ``concatenate([...])``...

Each takes a list of tensors and computes with lamina.ops, so gradients come from the tape.
The element-wise ones accept shapes that broadcast along axes of size 1, as Keras does; a
mismatch is reported when the graph is built, with both shapes.

Masks (Keras 3): the element-wise layers give their output the OR of their inputs' masks when
every input is masked (else no mask); Concatenate masks a step that is valid in any input along
the feature axis, and joins the masks along any other axis (an unmasked input counts as all
valid); Dot gives no mask.
"""
from .. import backend, ops
from .layer import Layer

__all__ = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
           "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot"]


def _broadcast_shape(layer, a, b):
    """Keras' _compute_elemwise_op_output_shape: None matches anything, 1 broadcasts."""
    if len(a) < len(b):
        a, b = b, a
    out = list(a[:len(a) - len(b)])
    for i, j in zip(a[len(a) - len(b):], b):
        if i is None or j is None:
            out.append(None)
        elif i == 1:
            out.append(j)
        elif j == 1 or i == j:
            out.append(i)
        else:
            raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}): inputs have "
                             f"incompatible shapes {tuple(a)} and {tuple(b)}")
    return tuple(out)


class _Merge(Layer):
    """Base of the merging layers: a list of at least `min_inputs` tensors in."""

    min_inputs = 2
    max_inputs = None

    def _check_list(self, shapes):
        if not isinstance(shapes, (list, tuple)) or not shapes or \
                not isinstance(shapes[0], (list, tuple)):
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) should be called on "
                             f"a list of inputs, got one input of shape {shapes}")
        n = len(shapes)
        if n < self.min_inputs or (self.max_inputs is not None and n > self.max_inputs):
            want = (f"exactly {self.min_inputs}" if self.max_inputs == self.min_inputs
                    else f"at least {self.min_inputs}")
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) should be called on "
                             f"{want} inputs, got {n}")

    def build(self, input_shape):
        self._check_list(input_shape)
        self.compute_output_shape(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        self._check_list(input_shape)
        shape = tuple(input_shape[0])
        for other in input_shape[1:]:
            shape = _broadcast_shape(self, shape, tuple(other))
        return shape

    def _merge(self, inputs):
        raise NotImplementedError

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) should be called on "
                             f"a list of inputs")
        return self._merge(list(inputs))

    def compute_mask(self, inputs, mask=None):
        """Keras' Merge.compute_mask: OR of the inputs' masks, None unless all are masked."""
        masks = self._input_masks(inputs, mask)
        if masks is None or any(m is None for m in masks):
            return None
        xp = backend.array_module(masks[0])  # masks live where the data does (cupy on a GPU)
        out = backend.to_array_module(masks[0], xp, bool)
        for m in masks[1:]:
            out = xp.logical_or(out, backend.to_array_module(m, xp, bool))
        return out

    def _input_masks(self, inputs, mask):
        if mask is None:
            return None
        if not isinstance(mask, (list, tuple)) or not isinstance(inputs, (list, tuple)) or \
                len(mask) != len(inputs):
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}): `mask` should be a "
                             f"list with one entry per input, got {type(mask).__name__} for "
                             f"{len(inputs) if isinstance(inputs, (list, tuple)) else 1} "
                             f"input(s)")
        return None if all(m is None for m in mask) else list(mask)


class Add(_Merge):
    """Sum of the inputs."""

    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = ops.add(out, x)
        return out


class Subtract(_Merge):
    """inputs[0] - inputs[1] (exactly two inputs)."""

    max_inputs = 2

    def _merge(self, xs):
        if len(xs) != 2:
            raise ValueError(f"Layer '{self.name}' (Subtract) should be called on exactly 2 "
                             f"inputs, got {len(xs)}")
        return ops.subtract(xs[0], xs[1])


class Multiply(_Merge):
    """Element-wise product of the inputs."""

    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = ops.multiply(out, x)
        return out


class Average(_Merge):
    """Element-wise mean of the inputs."""

    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = ops.add(out, x)
        return ops.multiply(out, 1.0 / len(xs))


class Maximum(_Merge):
    """Element-wise maximum of the inputs."""

    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = ops.maximum(out, x)
        return out


class Minimum(_Merge):
    """Element-wise minimum of the inputs."""

    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = ops.minimum(out, x)
        return out


class Concatenate(_Merge):
    """Joins the inputs along `axis` (default the last); the other axes must match."""

    min_inputs = 1

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def compute_output_shape(self, input_shape):
        self._check_list(input_shape)
        shapes = [tuple(s) for s in input_shape]
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes) or not -rank <= self.axis < rank:
            raise ValueError(f"Layer '{self.name}' (Concatenate) with axis={self.axis}: inputs "
                             f"must have the same rank and include the axis, got shapes "
                             f"{shapes}")
        axis = self.axis % rank
        out = list(shapes[0])
        for s in shapes[1:]:
            for i in range(rank):
                if i == axis:
                    continue
                if out[i] is not None and s[i] is not None and out[i] != s[i]:
                    raise ValueError(
                        f"Layer '{self.name}' (Concatenate) requires inputs with matching "
                        f"shapes except for the concatenation axis {self.axis}; got shapes "
                        f"{shapes}")
                if out[i] is None:
                    out[i] = s[i]
        sizes = [s[axis] for s in shapes]
        out[axis] = None if any(d is None for d in sizes) else sum(sizes)
        return tuple(out)

    def _merge(self, xs):
        if len(xs) == 1:
            return xs[0]
        return ops.concatenate(xs, axis=self.axis % xs[0].ndim)

    def compute_mask(self, inputs, mask=None):
        """Keras' Concatenate.compute_mask: each input's mask broadcast to the input's shape
        (all True where an input has none), joined along `axis`, then any() over the last
        axis."""
        masks = self._input_masks(inputs, mask)
        if masks is None:
            return None
        xp = backend.array_module(next(m for m in masks if m is not None))
        full = []
        for x, m in zip(inputs, masks):
            shape = tuple(x.shape)
            if m is None:
                full.append(xp.ones(shape, bool))
            else:
                m = backend.to_array_module(m, xp, bool)
                full.append(xp.broadcast_to(m[..., None], shape) if m.ndim < len(shape) else m)
        return xp.concatenate(full, axis=self.axis % len(full[0].shape)).any(axis=-1)

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config


class Dot(_Merge):
    """Dot product of two batches of samples along `axes` (an int or a pair), optionally of
    L2-normalised samples (cosine proximity), as Keras' Dot: 2-D inputs (N, d) give (N, 1);
    3-D inputs (N, a, b) and (N, c, d) contract one axis each with a batched GEMM."""

    max_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axes, int):
            axes = (axes, axes)
        axes = tuple(int(a) for a in axes)
        if len(axes) != 2:
            raise ValueError(f"Dot '{self.name}': `axes` must be an int or a pair, got {axes}")
        self.axes = axes
        self.normalize = bool(normalize)

    def _resolved_axes(self, shape_a, shape_b):
        axes = []
        for a, shape in zip(self.axes, (shape_a, shape_b)):
            rank = len(shape)
            if not -rank < a < rank or a % rank == 0:
                raise ValueError(f"Dot '{self.name}': axis {a} is out of range (or the batch "
                                 f"axis) for an input of shape {tuple(shape)}")
            axes.append(a % rank)
        return axes

    def compute_output_shape(self, input_shape):
        self._check_list(input_shape)
        if len(input_shape) != 2:
            raise ValueError(f"Dot '{self.name}' should be called on exactly 2 inputs")
        a, b = (tuple(s) for s in input_shape)
        if len(a) not in (2, 3) or len(b) not in (2, 3) or len(a) != len(b):
            raise ValueError(f"Dot '{self.name}': lamina supports two inputs of rank 2 or two "
                             f"of rank 3, got shapes {a} and {b}")
        ia, ib = self._resolved_axes(a, b)
        if a[ia] is not None and b[ib] is not None and a[ia] != b[ib]:
            raise ValueError(f"Dot '{self.name}': incompatible input shapes {a} and {b}: axis "
                             f"{ia} of the first ({a[ia]}) must equal axis {ib} of the second "
                             f"({b[ib]})")
        if len(a) == 2:
            return (a[0], 1)
        return (a[0], a[3 - ia], b[3 - ib])

    def _merge(self, xs):
        if len(xs) != 2:
            raise ValueError(f"Dot '{self.name}' should be called on exactly 2 inputs")
        x, y = xs
        ia, ib = self._resolved_axes(x.shape, y.shape)
        if self.normalize:
            x = _l2_normalize(x, ia)
            y = _l2_normalize(y, ib)
        if x.ndim == 2:
            return ops.sum(ops.multiply(x, y), axis=1, keepdims=True)
        # (N, a, b) . (N, c, d): bring the contracted axis of x last and of y first.
        if ia == 1:
            x = ops.transpose(x, (0, 2, 1))
        if ib == 2:
            y = ops.transpose(y, (0, 2, 1))
        return ops.matmul(x, y)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        config = super().get_config()
        config.update({"axes": self.axes, "normalize": self.normalize})
        return config


def _l2_normalize(x, axis):
    norm = ops.sum(ops.multiply(x, x), axis=axis, keepdims=True)
    return ops.divide(x, ops.sqrt(ops.maximum(norm, 1e-12)))


def add(inputs, **kwargs):
    """``Add(**kwargs)(inputs)``."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """``Concatenate(axis=axis, **kwargs)(inputs)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, normalize=False, **kwargs):
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
