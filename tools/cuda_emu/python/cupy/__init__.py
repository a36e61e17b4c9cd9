"""A numpy-backed stand-in for cupy, for the CUDA emulation (tools/cuda_emu/README.md).

Arrays are numpy arrays in host memory that also expose ``__cuda_array_interface__``, so
lamina._cuda's bindings accept them as device arrays and the emulated kernels, which run on the
host, read and write them directly. It covers what lamina and tests/test_cuda*.py use: array
creation and conversion, ``get``/``asnumpy``, streams and devices that do nothing (every emulated
call finishes before it returns), and numpy's functions under cupy's names.

What it cannot catch: numpy and these arrays mix freely, so code that hands a GPU array to numpy
(which real cupy refuses) passes here. Not a cupy for anything but these tests.
"""
import numpy as np

__version__ = "0.0.0+lamina.cuda_emu"


class ndarray(np.ndarray):
    """numpy's array, seen by lamina as a device array (its module name starts with cupy)."""

    @property
    def __cuda_array_interface__(self):
        ai = self.__array_interface__
        return dict(shape=ai["shape"], typestr=ai["typestr"], data=ai["data"],
                    strides=ai["strides"], version=3)

    @property
    def device(self):
        return cuda.Device(0)

    def get(self, stream=None):
        return np.array(self).view(np.ndarray)


def _device(a):
    return a.view(ndarray) if isinstance(a, np.ndarray) else a


def asarray(a, dtype=None, order=None):
    if isinstance(a, ndarray) and (dtype is None or a.dtype == dtype):
        return a
    return np.array(a, dtype=dtype, copy=True, order=order or "K").view(ndarray)


array = asarray


def asnumpy(a, stream=None):
    return np.array(a).view(np.ndarray)


def ascontiguousarray(a, dtype=None):
    return np.ascontiguousarray(a, dtype=dtype).view(ndarray)


def from_dlpack(x):
    return np.from_dlpack(x).view(ndarray)


def __getattr__(name):
    """numpy's function of the same name, its array results as device arrays."""
    value = getattr(np, name)
    if not callable(value) or isinstance(value, type):
        return value

    def on_device(*args, **kwargs):
        result = value(*args, **kwargs)
        if isinstance(result, tuple):
            return tuple(_device(r) for r in result)
        return _device(result)

    on_device.__name__ = name
    return on_device


class _Stream:
    """A stream handle: a distinct non-zero ptr, a context that makes it current."""

    _current = []
    _count = 0

    def __init__(self, null=False, non_blocking=False, ptr=None):
        if ptr is None:
            _Stream._count += 1
            ptr = 0 if null else 0x1000 * _Stream._count
        self.ptr = ptr

    def synchronize(self):
        pass

    def use(self):
        _Stream._current[:] = [self]
        return self

    def __enter__(self):
        _Stream._current.append(self)
        return self

    def __exit__(self, *exc):
        _Stream._current.pop()


class _Device:
    def __init__(self, device=0):
        self.id = int(getattr(device, "id", device))

    def synchronize(self):
        pass

    def use(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


class cuda:
    """cupy.cuda: streams and devices. One device, 0."""

    Stream = _Stream
    Device = _Device

    @staticmethod
    def get_current_stream():
        return _Stream._current[-1] if _Stream._current else _null_stream

    @staticmethod
    def get_device_id():
        return 0

    class runtime:
        @staticmethod
        def getDeviceCount():
            return 1


_null_stream = _Stream(null=True)
