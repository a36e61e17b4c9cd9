"""Shared fixtures: every SIMD path this CPU supports, and float32/float64 tolerances."""
import numpy as np
import pytest

from lamina import _cpu

SUPPORTED_ISAS = list(_cpu.supported_isas())


@pytest.fixture(params=SUPPORTED_ISAS)
def isa(request):
    """Runs the test once per instruction set this CPU supports, then restores the default."""
    before = _cpu.isa()
    _cpu.set_isa(request.param)
    yield request.param
    _cpu.set_isa(before)


@pytest.fixture(params=[np.float32, np.float64], ids=["f32", "f64"])
def dtype(request):
    return request.param


def tolerance(dtype):
    """(rtol, atol) for comparing a kernel with its float64 numpy oracle."""
    return (2e-5, 2e-6) if np.dtype(dtype) == np.float32 else (1e-11, 1e-12)
