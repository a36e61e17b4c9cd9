"""CUDA support: present when lamina was built with nvcc (LAMINA_CUDA=AUTO|ON); usable when cupy
imports and a GPU is visible. Without any of these lamina runs on the CPU.

``kernels()`` returns lamina._cuda seen through a thin shim that passes cupy's current stream to
every kernel entry, so ops call ``K.gemm(a, b, c, ...)`` the same way on both backends and the
kernels queue behind whatever cupy queued on that stream.
"""
import importlib

__all__ = ["is_built", "is_available", "device_count", "kernels", "unavailable_reason"]


def _module():
    try:
        return importlib.import_module("lamina._cuda")
    except ImportError:
        return None


def is_built():
    """Whether this build of lamina contains the CUDA module."""
    return _module() is not None


def device_count():
    mod = _module()
    return mod.device_count() if mod is not None else 0


def _cupy():
    try:
        import cupy
    except ImportError:
        return None
    return cupy


def unavailable_reason():
    """Why the GPU cannot be used (None when it can): no CUDA build, no GPU, or no cupy."""
    if _module() is None:
        return ("this lamina was built without CUDA (rebuild with nvcc on the PATH, or "
                "LAMINA_CUDA=ON)")
    if device_count() == 0:
        return "no CUDA GPU is visible (no NVIDIA driver, or CUDA_VISIBLE_DEVICES hides them)"
    if _cupy() is None:
        return "cupy is not installed (`pip install lamina[cuda]`)"
    return None


def is_available():
    """True when the CUDA module, cupy and at least one GPU are all present."""
    return unavailable_reason() is None


class _StreamKernels:
    """lamina._cuda with cupy's current stream appended to every kernel call.

    Attributes are resolved once and cached on the instance, so a call costs one Python frame
    plus cupy's get_current_stream(). Entries lamina._cuda does not have yet raise an
    AttributeError that says so (ops that test ``hasattr`` fall back as for any module)."""

    def __init__(self, mod, cupy):
        self._mod = mod
        self._stream_entries = frozenset(mod.STREAM_ENTRIES)
        self._get_stream = cupy.cuda.get_current_stream

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            fn = getattr(self._mod, name)
        except AttributeError:
            raise AttributeError(
                f"lamina._cuda has no kernel {name!r} yet; the CUDA backend covers "
                f"{', '.join(sorted(self._stream_entries))}. Run this model on the CPU "
                "(`with lamina.device('cpu'):`).") from None
        if name in self._stream_entries:
            get_stream = self._get_stream

            def call(*args, **kwargs):
                return fn(*args, stream=get_stream().ptr, **kwargs)

            call.__name__ = name
            call.__doc__ = fn.__doc__
            value = call
        else:
            value = fn
        setattr(self, name, value)
        return value


_kernels = None


def kernels():
    """The CUDA kernel module (with cupy's current stream passed on every call)."""
    global _kernels
    if _kernels is None:
        reason = unavailable_reason()
        if reason is not None:
            raise RuntimeError("lamina was asked to run on the GPU but CUDA is not available: "
                               f"{reason} (built with CUDA: {is_built()}, GPUs: "
                               f"{device_count()})")
        _kernels = _StreamKernels(_module(), _cupy())
    return _kernels
