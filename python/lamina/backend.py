"""Which array module and which kernel module serve an array.

numpy arrays run on ``lamina._cpu`` (C++, OpenMP, AVX2/AVX-512 chosen at import); cupy arrays
will run on ``lamina._cuda`` (see lamina.cuda). Everything above this module (autograd, ops)
asks here instead of importing a kernel module itself.
"""
import os

import numpy as np

from . import _cpu

__all__ = ["kernels", "array_module", "to_array_module", "info", "set_num_threads", "get_num_threads",
           "floatx", "set_floatx", "set_isa"]

_ISAS = ("generic", "avx2", "avx512")
_floatx = "float32"


def _apply_forced_isa():
    forced = os.environ.get("LAMINA_CPU_ISA")
    if not forced:
        return
    if forced not in _ISAS:
        raise ValueError(f"LAMINA_CPU_ISA={forced!r}: expected one of {', '.join(_ISAS)}")
    if forced not in _cpu.supported_isas():
        raise ValueError(f"LAMINA_CPU_ISA={forced!r}: this CPU supports only "
                         f"{', '.join(_cpu.supported_isas())}")
    _cpu.set_isa(forced)


_apply_forced_isa()


def kernels(array):
    """The kernel module for `array`: lamina._cpu for numpy, lamina._cuda for cupy."""
    if type(array) is np.ndarray:
        return _cpu
    if type(array).__module__.startswith("cupy"):
        from . import cuda
        return cuda.kernels()
    return _cpu


def array_module(array):
    """numpy for numpy arrays, cupy for cupy arrays."""
    if type(array) is np.ndarray or not type(array).__module__.startswith("cupy"):
        return np
    import cupy
    return cupy


def to_array_module(a, xp, dtype=None):
    """`a` as an array of `xp` (numpy or cupy), e.g. labels for the module of the logits: a GPU
    array is copied to the host for numpy, anything else to the current GPU for cupy; no copy
    when `a` already is one (of `dtype`, when given)."""
    if xp is np:
        if hasattr(a, "__cuda_array_interface__"):
            a = a.get()
        return np.asarray(a, dtype=dtype)
    return xp.asarray(a, dtype=dtype)


def set_isa(name):
    """Forces the SIMD path: 'generic', 'avx2' or 'avx512' (must be supported by the CPU)."""
    _cpu.set_isa(name)


def set_num_threads(n):
    """Threads the CPU kernels use (defaults to OMP_NUM_THREADS or the core count)."""
    _cpu.set_num_threads(int(n))


def get_num_threads():
    return _cpu.get_num_threads()


def floatx():
    """The default float dtype of weights and inputs ('float32', as in Keras)."""
    return _floatx


def set_floatx(value):
    global _floatx
    if value not in ("float32", "float64"):
        raise ValueError(f"set_floatx: expected 'float32' or 'float64', got {value!r}")
    _floatx = value


def info():
    """What lamina runs on: SIMD path in use, what the CPU supports, threads, CUDA."""
    from . import cuda
    return {
        "isa": _cpu.isa(),
        "best_isa": _cpu.best_isa(),
        "supported_isas": list(_cpu.supported_isas()),
        "num_threads": _cpu.get_num_threads(),
        "openmp": _cpu.openmp_version,
        "cuda_built": cuda.is_built(),
        "cuda_available": cuda.is_available(),
        "floatx": _floatx,
    }
