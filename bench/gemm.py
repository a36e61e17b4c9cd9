"""lamina.gemm against numpy (OpenBLAS) side by side, at 2 threads and 1 thread.

Each thread count runs in its own subprocess, so that the BLAS thread count is fixed before numpy
is imported (threadpoolctl is used when installed). OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which
some machines set for old OpenBLAS builds and which slow a current numpy, are removed from the
workers' environment; the table header names the OpenBLAS kernel that then runs.

Both libraries write into a preallocated C; times are the best of several runs, taken in
alternating blocks separated by a pause so that one library's spinning idle threads do not
slow the other (2 cores).
'peak' is the FMA peak (bench/peak.py: independent FMA chains, no memory traffic) at the same thread count.
--runs N repeats the whole measurement N times (the thread counts taking turns) and keeps each
library's best figure per row, marking with * the rows whose runs differ by more than 15%: on a
shared machine one run can land in a slow moment. The path column names the algorithm lamina ran
(_cpu.gemm_path: direct, packed, column stream, column tiles, transposed).

    PYTHONPATH=python python3 bench/gemm.py [--quick] [--runs N]
"""
import json
import os
import subprocess
import sys
import time

import numpy as np

SQUARES = [32, 64, 128, 256, 512, 1024, 2048]
# (M, N, K, trans_a, trans_b, note)
SHAPES = [(n, n, n, False, False, "") for n in SQUARES] + [
    (32, 512, 784, False, False, "dense fwd"),
    (128, 10, 64, False, False, "dense fwd"),
    (64, 10, 128, True, False, "dense dW=x^T dy"),
    (128, 64, 10, False, True, "dense dx=dy W^T"),
    (64, 1024, 256, False, False, ""),
    (4096, 256, 256, False, False, ""),
    (32, 64, 64, False, False, "dense fwd"),
    (64, 64, 32, True, False, "dense dW=x^T dy"),
    (32, 64, 64, False, True, "dense dx=dy W^T"),
    (784, 512, 32, True, False, "dense dW=x^T dy"),
    (32, 784, 512, False, True, "dense dx=dy W^T"),
    (1024, 1024, 1024, True, False, ""),
    (1024, 1024, 1024, False, True, ""),
    (1024, 1024, 1024, True, True, ""),
    # Narrow C: output layers of 1 and 10 units, forward and both gradients.
    (128, 1, 64, False, False, "dense fwd, 1 unit"),
    (512, 1, 256, True, False, "dense dW, 1 unit"),
    (256, 10, 512, False, False, "dense fwd"),
    (2048, 10, 256, False, False, "dense fwd"),
    (784, 10, 128, True, False, "dense dW=x^T dy"),
    (128, 784, 10, False, True, "dense dx=dy W^T"),
    (256, 10, 1024, False, False, "dense fwd, rows 4 KiB apart"),
    (256, 1, 1024, False, False, "dense fwd, 1 unit, rows 4 KiB apart"),
    (1024, 4, 256, False, False, "dense fwd, 4 units"),
    # Tall C of few columns: a 1x1 convolution or a Dense(32-64) at a large batch, and the kernel
    # gradient of a first convolution (few rows, a deep K).
    (6272, 64, 576, False, False, "tall, 1x1 conv fwd"),
    (4096, 32, 256, False, False, "tall, dense fwd"),
    (16, 64, 21632, True, False, "conv dW=x^T dy"),
]


PAUSE = 0.12  # seconds: longer than the BLAS / OpenMP idle spin


def timeit(fn, budget):
    """Best time per call. Calls under ~20 us are timed in runs of n, so that the timer's own cost
    (~0.1 us a reading) does not weigh on a 1 us product; both libraries are timed alike."""
    fn()
    t = time.perf_counter()
    fn()
    n = max(1, int(2e-5 / max(time.perf_counter() - t, 1e-7)))
    best, reps, t_end = float("inf"), 0, time.perf_counter() + budget
    while reps < 3 or time.perf_counter() < t_end:
        t = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t) / n)
        reps += 1
    return best


def worker(threads, quick):
    from lamina import _cpu
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import peak

    blas = "unknown"
    try:
        import threadpoolctl
        threadpoolctl.threadpool_limits(threads)
        info = [i for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
        if info:
            blas = f"{info[0].get('internal_api')} {info[0].get('version')} " \
                   f"kernel {info[0].get('architecture')}, {info[0].get('num_threads')} threads"
    except ImportError:
        pass
    _cpu.set_num_threads(threads)
    rng = np.random.default_rng(0)
    budget = 0.05 if quick else 0.25
    rows = []
    for dtype in (np.float32, np.float64):
        pk = peak.fma_peak_gflops(dtype, threads, 0.1 if quick else 0.3)
        for M, N, K, ta, tb, note in SHAPES:
            if quick and M * N * K > 512 ** 3:
                continue
            a = rng.standard_normal((K, M) if ta else (M, K)).astype(dtype)
            b = rng.standard_normal((N, K) if tb else (K, N)).astype(dtype)
            A, B = (a.T if ta else a), (b.T if tb else b)
            c1, c2 = np.empty((M, N), dtype), np.empty((M, N), dtype)
            lam = lambda: _cpu.gemm(a, b, c1, ta, tb)
            ref = lambda: np.matmul(A, B, out=c2)
            lam(), ref()
            tol = 1e-3 if dtype == np.float32 else 1e-10
            assert np.allclose(c1, c2, rtol=tol, atol=tol * np.sqrt(K)), (M, N, K, ta, tb)
            # Alternate blocks of each so that machine noise hits both alike, with a pause between
            # blocks: OpenBLAS' and libgomp's idle threads spin for a while after a call, and on
            # 2 cores a spinning thread of one library halves the other's threaded run.
            tl = tn = float("inf")
            for _ in range(2):
                time.sleep(PAUSE)
                tl = min(tl, timeit(lam, budget / 2))
                time.sleep(PAUSE)
                tn = min(tn, timeit(ref, budget / 2))
            flops = 2.0 * M * N * K
            rows.append(dict(dtype=np.dtype(dtype).name, M=M, N=N, K=K, ta=ta, tb=tb, note=note,
                             path=_cpu.gemm_path(a, b, ta, tb), lamina=flops / tl / 1e9,
                             numpy=flops / tn / 1e9, peak=pk))
    print(json.dumps(dict(threads=threads, blas=blas, isa=_cpu.isa(), rows=rows)))


def case_name(r):
    t = ("A^T " if r["ta"] else "") + ("B^T" if r["tb"] else "")
    return f"{r['M']}x{r['N']}x{r['K']} {t}".strip()


SPREAD = 1.15  # runs whose figures differ by more than this are marked


def best_of(runs):
    """One worker result from several of the same thread count: each row's best figure per
    library, `spread` set where the runs disagree by more than SPREAD."""
    merged = dict(runs[0], rows=[])
    for rows in zip(*(r["rows"] for r in runs)):
        best = dict(rows[0])
        for key in ("lamina", "numpy", "peak"):
            best[key] = max(r[key] for r in rows)
        best["spread"] = any(max(r[key] for r in rows) > SPREAD * min(r[key] for r in rows)
                             for key in ("lamina", "numpy"))
        merged["rows"].append(best)
    return merged


def main():
    quick = "--quick" in sys.argv
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 1
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    by_threads = {2: [], 1: []}
    for _ in range(runs):
        for threads in (2, 1):
            env_t = dict(env, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
                         MKL_NUM_THREADS=str(threads))
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker",
                                  str(threads)] + (["--quick"] if quick else []), env=env_t,
                                 check=True, capture_output=True, text=True).stdout
            by_threads[threads].append(json.loads(out.strip().splitlines()[-1]))
    results = [best_of(by_threads[t]) for t in (2, 1)]
    from peak import cpu_model
    print(f"GEMM, lamina ({results[0]['isa']}) vs numpy {np.__version__}; CPU: {cpu_model()}")
    print(f"numpy BLAS: {results[0]['blas']}")
    print("C = op(A) op(B), M x N x K; GFLOP/s = 2MNK / best time; ratio = lamina / numpy; "
          "%peak = lamina / the FMA peak of bench/peak.py at this thread count"
          + (f"; best of {runs} runs, * where they differ by more than "
             f"{round(100 * (SPREAD - 1))}%" if runs > 1 else "") + "\n")
    for res in results:
        print(f"threads = {res['threads']}")
        print(f"| {'dtype':7} | {'case (MxNxK)':22} | {'lamina GF/s':>11} | {'numpy GF/s':>10} | "
              f"{'ratio':>5} | {'%peak':>5} | {'path':13} | note")
        print(f"|{'-' * 9}|{'-' * 24}|{'-' * 13}|{'-' * 12}|{'-' * 7}|{'-' * 7}|{'-' * 15}|------")
        for r in res["rows"]:
            mark = "*" if r.get("spread") else " "
            print(f"| {r['dtype']:7} | {case_name(r):22} | {r['lamina']:11.1f} | {r['numpy']:10.1f} | "
                  f"{r['lamina'] / r['numpy']:5.2f} | {100 * r['lamina'] / r['peak']:4.0f}% | "
                  f"{r['path']:13} |{mark}{r['note']}")
        print()


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        worker(int(sys.argv[2]), "--quick" in sys.argv)
    else:
        main()
