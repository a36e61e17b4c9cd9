"""Which dtype an op returns and which one its kernel computes in: Keras 3's rules over
lamina's float32/float64 kernels.

- ``result_type(*xs)``: Keras 3's promotion (keras/src/backend/common/dtypes.py, a lattice
  adapted from JAX) for arrays and Python scalars: int64 with float32 gives float32 (numpy says
  float64), uint8 with int8 gives int16, a Python float next to an int32 array gives floatx and
  next to a float16 array float16 (Python scalars are "weak"). Unlike Keras' JAX and torch
  backends, 64-bit results stay 64-bit: lamina computes float64 (its gradient checks need it).
- ``kernel_input(a, where, name)``: the one policy for ops over float kernels. float32 and
  float64 run as they are; float16 (and bfloat16) are computed in float32 and the result is
  returned in the input's dtype, as Keras returns float16 for float16 inputs; integers and bool
  are computed and returned in floatx, as Keras' float ops promote them.
"""
import functools

import numpy as np

from .. import backend

__all__ = ["result_type", "kernel_input"]

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)

# Keras' lattice: each type and the types immediately above it ("int"/"float": weak scalars).
_LATTICE = {
    "bool": ["int"],
    "uint8": ["int16", "uint16"], "uint16": ["int32", "uint32"], "uint32": ["int64", "uint64"],
    "uint64": ["float"],
    "int": ["uint8", "int8"],
    "int8": ["int16"], "int16": ["int32"], "int32": ["int64"], "int64": ["float"],
    "float": ["bfloat16", "float16"],
    "bfloat16": ["float32"], "float16": ["float32"], "float32": ["float64"], "float64": [],
}


def _upper_bounds():
    bounds = {}
    for node in _LATTICE:
        seen, todo = {node}, [node]
        while todo:
            for up in _LATTICE[todo.pop()]:
                if up not in seen:
                    seen.add(up)
                    todo.append(up)
        bounds[node] = seen
    return bounds


_UB = _upper_bounds()


@functools.lru_cache(maxsize=512)
def _least_upper_bound(names):
    common = set.intersection(*(_UB[n] for n in names))
    lub = [c for c in common if common <= _UB[c]]
    return lub[0]


def _name_and_weak(x):
    """Keras' (dtype name, weak) of an operand: a Python bool/int/float is weak."""
    kind = type(x)  # exact types: numpy's float64 and bool_ scalars are strong, as in Keras
    if kind is bool:
        return "bool", False
    if kind is int:
        return "int", True
    if kind is float:
        return "float", True
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        dtype = np.asarray(x).dtype
    return np.dtype(dtype).name, False


def _resolve(pairs, floatx):
    names = tuple(sorted({n for n, _ in pairs}))
    if any(n not in _UB for n in names):  # complex, strings...: numpy decides
        return np.result_type(*(n if n not in ("int", "float") else
                                {"int": np.int32, "float": np.float32}[n] for n in names))
    if len(names) == 1:
        out = names[0]
    else:
        out = _least_upper_bound(names)
    if out in ("int", "float"):  # only weak scalars: Keras resolves them with floatx's bits
        return np.dtype(f"{out}{np.dtype(floatx).itemsize * 8}")
    return np.dtype(out)


_RESULTS = {}  # (dtype or Python type of each operand..., floatx) -> dtype


def result_type(*xs):
    """The dtype Keras 3 gives an op over `xs` (arrays, Tensors' arrays or Python scalars)."""
    key = tuple(x.dtype if hasattr(x, "dtype") else type(x) for x in xs) + (backend.floatx(),)
    out = _RESULTS.get(key)
    if out is None:
        out = _resolve(tuple(_name_and_weak(x) for x in xs), backend.floatx())
        if all(k in (bool, int, float) or isinstance(k, np.dtype) for k in key[:-1]):
            _RESULTS[key] = out  # a list's dtype depends on its items: never cached
    return out


def kernel_input(a, where, name="x"):
    """(array to hand a float32/float64 kernel, dtype to return) for the array `a`."""
    dt = a.dtype
    if dt == _F32 or dt == _F64:
        return a, dt
    if dt.kind == "f" or dt.name == "bfloat16":
        return a.astype(_F32), dt
    if dt.kind in "iub":
        out = np.dtype(backend.floatx())
        return a.astype(out), out
    raise TypeError(f"[{where}] argument '{name}': expected a float, integer or bool array, got "
                    f"dtype {dt}")
