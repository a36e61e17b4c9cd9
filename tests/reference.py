"""numpy oracles for lamina's kernels: plain, obviously-correct float64 formulas.

Each kernel family's tests compare the native kernel against the function here of the same name.
"""
import numpy as np


def gemm(a, b, c, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
    a = a.T if trans_a else a
    b = b.T if trans_b else b
    out = alpha * (a.astype(np.float64) @ b.astype(np.float64))
    if beta != 0.0:
        out = out + beta * c.astype(np.float64)
    return out
