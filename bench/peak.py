"""This machine's floating-point peak, as seen by lamina's GEMM micro-kernel.

What it measures, honestly: no separate FMA loop is compiled at run time, so the "measured peak"
is lamina's own packed GEMM on a cache-resident problem (M = MC rows per thread, K = KC, N
wide enough that packing is amortised): the micro-kernel's best sustained rate, i.e. an upper
bound for what the blocked GEMM can reach and a lower bound for the hardware's true peak. The
"nominal peak" is cores x FMA units x lanes x 2 flops x the clock /proc/cpuinfo reports; that
clock is the base or a hypervisor's figure, not the turbo clock the cores actually run at, so
the measured figure can exceed it.

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


def main():
    print(f"CPU: {cpu_model()}, {os.cpu_count()} logical CPUs, lamina ISA {_cpu.isa()}")
    print(f"{'dtype':8} {'threads':>7} {'measured GFLOP/s':>17} {'nominal GFLOP/s':>16}")
    for dtype in (np.float32, np.float64):
        for threads in (1, 2):
            nominal = nominal_peak_gflops(dtype, threads)
            print(f"{np.dtype(dtype).name:8} {threads:7d} {measured_peak_gflops(dtype, threads):17.1f} "
                  f"{nominal if nominal else float('nan'):16.1f}")


if __name__ == "__main__":
    main()
