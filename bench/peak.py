"""This machine's floating-point peak, measured.

"FMA peak" is the machine's real ceiling for the active ISA: every thread runs a loop of
independent vector FMA chains with no memory traffic (lamina._cpu.fma_throughput, compiled per
ISA like the kernels), timed natively. "GEMM in-cache" is lamina's packed GEMM on a
cache-resident problem (M = MC rows per thread, K = KC, N wide enough to amortise packing): what
the micro-kernel sustains with its loads, i.e. the ceiling of the blocked GEMM. The "nominal"
figure is threads x 2 FMA units x lanes x 2 flops x the clock /proc/cpuinfo reports, which is
the base or a hypervisor's clock, not the turbo clock the cores run at.

    PYTHONPATH=python python3 bench/peak.py
"""
import os
import platform
import re
import time

import numpy as np

from lamina import _cpu

# Cache-resident shape per thread: the MC x KC block of A in L2, B's KC x NR panels in L1.
ROWS_PER_THREAD, K, N = 384, 256, 2048


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def cpu_mhz():
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"cpu MHz\s*:\s*([\d.]+)", f.read())
        return float(m.group(1)) if m else None
    except OSError:
        return None


def nominal_peak_gflops(dtype, threads):
    """cores x 2 FMA units x lanes x 2 flops x the reported clock, for the active ISA."""
    mhz = cpu_mhz()
    if mhz is None:
        return None
    vector_bytes = {"avx512": 64, "avx2": 32}.get(_cpu.isa(), 16)
    lanes = vector_bytes // np.dtype(dtype).itemsize
    return threads * 2 * lanes * 2 * mhz / 1000.0


def measured_peak_gflops(dtype, threads, seconds=0.4):
    """Best rate of lamina.gemm on a cache-resident product with `threads` threads."""
    before = _cpu.get_num_threads()
    _cpu.set_num_threads(threads)
    try:
        M = ROWS_PER_THREAD * threads
        rng = np.random.default_rng(0)
        a = rng.standard_normal((M, K)).astype(dtype)
        b = rng.standard_normal((K, N)).astype(dtype)
        c = np.empty((M, N), dtype)
        _cpu.gemm(a, b, c)
        best, end = float("inf"), time.perf_counter() + seconds
        while time.perf_counter() < end:
            t = time.perf_counter()
            _cpu.gemm(a, b, c)
            best = min(best, time.perf_counter() - t)
        return 2.0 * M * N * K / best / 1e9
    finally:
        _cpu.set_num_threads(before)


def fma_peak_gflops(dtype, threads, seconds=0.3):
    """Best rate of `threads` threads running independent FMA chains (no memory traffic)."""
    name = np.dtype(dtype).name
    iterations = 2_000_000
    best, end = 0.0, time.perf_counter() + seconds
    while True:
        best = max(best, _cpu.fma_throughput(name, iterations, threads)[0])
        if time.perf_counter() >= end:
            return best / 1e9


def main():
    print(f"CPU: {cpu_model()}, {os.cpu_count()} logical CPUs, lamina ISA {_cpu.isa()}")
    print(f"{'dtype':8} {'threads':>7} {'FMA peak GFLOP/s':>17} {'GEMM in-cache':>14} "
          f"{'nominal':>8}")
    for dtype in (np.float32, np.float64):
        for threads in (1, 2):
            nominal = nominal_peak_gflops(dtype, threads)
            print(f"{np.dtype(dtype).name:8} {threads:7d} {fma_peak_gflops(dtype, threads):17.1f} "
                  f"{measured_peak_gflops(dtype, threads):14.1f} "
                  f"{nominal if nominal else float('nan'):8.1f}")


if __name__ == "__main__":
    main()
