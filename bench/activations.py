"""activation_forward against numpy on a (1024, 1024) float32 array, per ISA.

Validates each kernel against the numpy expression first, then prints the median time of both
and their ratio. Run: PYTHONPATH=python python3 bench/activations.py
"""
import math
import time

import numpy as np

from lamina import _cpu

_erf = np.vectorize(math.erf, otypes=[np.float32])


def numpy_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


NUMPY = {
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": numpy_sigmoid,
    "tanh": np.tanh,
    "softplus": lambda x: np.logaddexp(x, np.float32(0)),
    "silu": lambda x: x * numpy_sigmoid(x),
    "gelu_tanh": lambda x: 0.5 * x * (1 + np.tanh(0.7978845608 * (x + 0.044715 * x**3))),
    "softmax": lambda x: (lambda e: e / e.sum(-1, keepdims=True))(
        np.exp(x - x.max(-1, keepdims=True))),
}


def median_time(fn, repeat=15):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def main():
    x = np.random.default_rng(0).standard_normal((1024, 1024)).astype(np.float32) * 3
    y = np.empty_like(x)
    print(f"(1024, 1024) float32, {_cpu.get_num_threads()} threads; times in ms")
    print(f"{'kind':10s} {'isa':8s} {'lamina':>8s} {'numpy':>8s} {'numpy/lamina':>13s}")
    for kind, ref in NUMPY.items():
        t_np = median_time(lambda: ref(x))
        for isa in _cpu.supported_isas():
            _cpu.set_isa(isa)
            code = _cpu.ACTIVATIONS[kind]
            _cpu.activation_forward(x, y, code)
            np.testing.assert_allclose(y, ref(x), rtol=1e-4, atol=1e-5)
            t = median_time(lambda: _cpu.activation_forward(x, y, code))
            print(f"{kind:10s} {isa:8s} {t * 1e3:8.3f} {t_np * 1e3:8.3f} {t_np / t:13.1f}")


if __name__ == "__main__":
    main()
