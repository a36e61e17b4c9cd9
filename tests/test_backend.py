"""backend: ISA selection (LAMINA_CPU_ISA and set_isa), threads, CUDA availability."""
import os
import subprocess
import sys

import numpy as np
import pytest

import lamina as L
from lamina import _cpu
from conftest import SUPPORTED_ISAS


def test_info_reports_what_is_in_use():
    info = L.backend.info()
    assert info["isa"] == _cpu.isa() and info["isa"] in info["supported_isas"]
    assert info["best_isa"] == info["supported_isas"][-1]
    assert info["num_threads"] >= 1


def test_set_isa_switches_the_translation_unit(isa):
    unit, width = _cpu.isa_probe()
    assert unit == "isa_" + isa
    assert width == {"generic": 16, "avx2": 32, "avx512": 64}[isa]


def test_fma_throughput_runs_on_every_isa(isa):
    # bench/peak.py's probe: a positive rate and a finite checksum from every chain; not a timing
    # assertion (the rate depends on the machine and its load).
    for dtype in ("float32", "float64"):
        rate, checksum = _cpu.fma_throughput(dtype, 1000, 2)
        assert rate > 0 and np.isfinite(checksum) and checksum > 0


@pytest.mark.parametrize("args, message", [
    (("float16", 10, 1), "argument 'dtype': expected 'float32' or 'float64', got 'float16'"),
    (("float32", 0, 1), "argument 'iterations': expected >= 1, got 0"),
    (("float32", 10, 0), "argument 'threads': expected >= 1, got 0"),
])
def test_fma_throughput_rejects_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        _cpu.fma_throughput(*args)


def test_set_isa_rejects_unknown_names():
    with pytest.raises(ValueError, match="expected 'generic', 'avx2' or 'avx512', got 'sse9'"):
        _cpu.set_isa("sse9")


@pytest.mark.parametrize("name", SUPPORTED_ISAS)
def test_env_variable_forces_isa_at_import(name):
    env = dict(os.environ, LAMINA_CPU_ISA=name)
    out = subprocess.run([sys.executable, "-c", "import lamina; print(lamina.backend.info()['isa'])"],
                         env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == name


def test_env_variable_with_bad_name_is_a_clear_error():
    env = dict(os.environ, LAMINA_CPU_ISA="avx9000")
    out = subprocess.run([sys.executable, "-c", "import lamina"], env=env, capture_output=True,
                         text=True)
    assert out.returncode != 0 and "LAMINA_CPU_ISA='avx9000'" in out.stderr


def test_num_threads_round_trip():
    before = L.get_num_threads()
    L.set_num_threads(1)
    assert L.get_num_threads() == 1
    L.set_num_threads(before)
    with pytest.raises(ValueError, match="expected >= 1"):
        _cpu.set_num_threads(0)


def test_cuda_is_unavailable_without_gpu_and_says_why():
    if L.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        L.cuda.kernels()
    assert L.backend.kernels(np.ones(1)) is _cpu


def test_cuda_module_device_queries_when_built():
    if not L.cuda.is_built():
        pytest.skip("built without CUDA")
    from lamina import _cuda
    assert _cuda.runtime_version() >= 11000
    assert _cuda.device_count() == L.cuda.device_count() >= 0
    with pytest.raises(ValueError, match="device"):
        _cuda.device_info(_cuda.device_count())


def test_to_array_module_on_the_host():
    a = np.arange(3, dtype=np.int32)
    assert L.backend.to_array_module(a, np) is a  # no copy when it already is one
    b = L.backend.to_array_module([1.5, 2.5], np, dtype=np.float32)
    assert type(b) is np.ndarray and b.dtype == np.float32


def test_to_array_module_moves_between_host_and_gpu():
    if not L.cuda.is_available():
        pytest.skip("needs a GPU and cupy")
    import cupy
    on_gpu = L.backend.to_array_module(np.arange(4), cupy)
    assert isinstance(on_gpu, cupy.ndarray)
    assert L.backend.to_array_module(on_gpu, cupy) is on_gpu
    back = L.backend.to_array_module(on_gpu, np)
    assert type(back) is np.ndarray and back.tolist() == [0, 1, 2, 3]
