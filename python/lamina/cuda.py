"""CUDA support: present when lamina was built with nvcc (LAMINA_CUDA=AUTO|ON); usable when cupy
imports and a GPU is visible. Without any of these lamina runs on the CPU."""
import importlib

__all__ = ["is_built", "is_available", "device_count", "kernels"]


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


def is_available():
    """True when the CUDA module, cupy and at least one GPU are all present."""
    if device_count() == 0:
        return False
    try:
        import cupy  # noqa: F401
    except ImportError:
        return False
    return True


def kernels():
    mod = _module()
    if mod is None or not is_available():
        raise RuntimeError("lamina was asked to run on the GPU but CUDA is not available "
                           f"(built with CUDA: {mod is not None}, GPUs: {device_count()}, "
                           "cupy importable: needs `pip install lamina[cuda]`)")
    return mod
