"""Where arrays live: ``with lamina.device("gpu:0"):`` / ``lamina.device("cpu")``, as Keras'
``keras.device`` scope.

A placement is ``"cpu"`` or ``"gpu:N"`` (``"gpu"`` and ``"cuda:N"`` are accepted). Inside a scope,
new Variables (layer weights) are created on that device, and ``to_device`` moves arrays there;
on a GPU the scope also makes GPU N cupy's current device, so lamina's CUDA kernels and cupy's
allocations go there. Asking for the GPU without one raises a RuntimeError saying what is missing
(no CUDA build, no GPU, or no cupy).

Outside any scope ``current()`` is ``default()``: the first GPU when one is usable, else the CPU.
What follows that default automatically today: nothing yet (weights are still created on the CPU
outside an explicit scope), because the CUDA kernels of convolution, pooling, normalisation,
embedding and CTC have not run on a GPU yet; see python/lamina/cuda.py. Adopting it means
calling ``place(value)`` where weights are created (Variable does, inside a scope) and
``to_device(batch)`` where fit slices batches.

``lamina.device`` is this module and is also callable: ``lamina.device("gpu")`` is
``lamina.device.scope("gpu")``.
"""
import contextvars
import sys
import types

import numpy as np

from . import cuda

__all__ = ["scope", "current", "default", "explicit", "to_device", "place", "from_dlpack",
           "parse"]

_active = contextvars.ContextVar("lamina_device", default=None)


def parse(name):
    """'cpu' or 'gpu:N' for a placement name ('cpu', 'cpu:0', 'gpu', 'gpu:1', 'cuda:0', ...)."""
    if not isinstance(name, str):
        raise TypeError(f"lamina.device: expected a device name such as 'cpu' or 'gpu:0', got "
                        f"{type(name).__name__}")
    kind, _, index = name.strip().lower().partition(":")
    if kind == "cuda":
        kind = "gpu"
    if kind not in ("cpu", "gpu") or (index and not index.isdigit()):
        raise ValueError(f"lamina.device: unknown device {name!r}; expected 'cpu', 'gpu' or "
                         "'gpu:N'")
    if kind == "cpu":
        if index not in ("", "0"):
            raise ValueError(f"lamina.device: there is only one CPU device ('cpu:0'), got {name!r}")
        return "cpu"
    return f"gpu:{int(index or 0)}"


def _gpu_index(placement):
    return int(placement.partition(":")[2])


def _require_gpu(placement):
    reason = cuda.unavailable_reason()
    if reason is not None:
        raise RuntimeError(f"lamina.device({placement!r}): cannot use the GPU: {reason}. Use "
                           "lamina.device('cpu') (the default without a GPU).")
    count = cuda.device_count()
    if _gpu_index(placement) >= count:
        raise RuntimeError(f"lamina.device({placement!r}): only {count} GPU(s) visible "
                           f"(gpu:0 .. gpu:{count - 1})")


class scope:
    """Context manager placing new weights and moved arrays on one device (keras.device)."""

    def __init__(self, name):
        self.placement = parse(name)
        if self.placement != "cpu":
            _require_gpu(self.placement)
        self._tokens = []

    def __enter__(self):
        cupy_device = None
        if self.placement != "cpu":
            import cupy
            cupy_device = cupy.cuda.Device(_gpu_index(self.placement))
            cupy_device.__enter__()
        self._tokens.append((_active.set(self.placement), cupy_device))
        return self

    def __exit__(self, *exc):
        token, cupy_device = self._tokens.pop()
        _active.reset(token)
        if cupy_device is not None:
            cupy_device.__exit__(*exc)
        return False

    def __repr__(self):
        return f"lamina.device({self.placement!r})"


def default():
    """The placement used outside any scope: 'gpu:0' when a GPU is usable, else 'cpu'."""
    return "gpu:0" if cuda.is_available() else "cpu"


def explicit():
    """The placement of the innermost active scope, or None outside every scope."""
    return _active.get()


def current():
    """The placement in effect: the innermost scope's, else default()."""
    return _active.get() or default()


def _is_device_array(a):
    return hasattr(a, "__cuda_array_interface__")


def to_device(array, device=None):
    """`array` on `device` (default: current()): a numpy array for 'cpu', a cupy array on GPU N
    for 'gpu:N'. Returns the array itself when it is already there."""
    placement = parse(device) if device is not None else current()
    if placement == "cpu":
        if _is_device_array(array):
            return array.get() if hasattr(array, "get") else np.asarray(array)
        return np.asarray(array)
    _require_gpu(placement)
    import cupy
    index = _gpu_index(placement)
    if isinstance(array, cupy.ndarray) and array.device.id == index:
        return array
    with cupy.cuda.Device(index):
        return cupy.asarray(array)


def place(value):
    """The hook for code that creates arrays (Variable): `value` moved to the active scope's
    device, or unchanged outside any scope."""
    placement = _active.get()
    return value if placement is None else to_device(value, placement)


def from_dlpack(x):
    """An array sharing memory with `x` (any object with __dlpack__: torch, jax, cupy, numpy):
    a cupy array when `x` lives on a CUDA device, else a numpy array."""
    if hasattr(x, "__dlpack_device__"):
        device_type = int(x.__dlpack_device__()[0])
        if device_type in (2, 3, 13):  # kDLCUDA, kDLCUDAHost, kDLCUDAManaged
            if not cuda.is_available():
                raise RuntimeError(f"lamina.device.from_dlpack: the array is on a CUDA device "
                                   f"but {cuda.unavailable_reason()}")
            import cupy
            return cupy.from_dlpack(x)
    return np.from_dlpack(x)


class _CallableModule(types.ModuleType):
    """Makes ``lamina.device("gpu")`` work while ``lamina.device.current()`` stays a module
    function."""

    def __call__(self, name):
        return scope(name)


sys.modules[__name__].__class__ = _CallableModule
