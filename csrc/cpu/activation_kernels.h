// The per-ISA table behind csrc/cpu/activations.cpp (implemented in
// csrc/cpu/simd/activations.cpp, compiled once per ISA). Single-threaded, over contiguous
// memory; the driver splits the work between threads and checks nothing beyond its contract.
#pragma once

#include <cstdint>

#include "common/isa.h"

namespace lamina {

template <class T>
struct ActivationKernelsFor {
  // y[i] = act(x[i]) for i < n; `kind` is an element-wise Activation code (not softmax).
  // y may be x.
  void (*forward)(int kind, const T* x, T* y, std::int64_t n, T alpha);
  // dx[i] = act'(.) * dy[i]; reads y for the from-output kinds, x for the others. dx may be dy.
  void (*backward)(int kind, const T* x, const T* y, const T* dy, T* dx, std::int64_t n,
                   T alpha);
  // Row-wise softmax of `rows` rows of `cols`. y may be x.
  void (*softmax_forward)(const T* x, T* y, std::int64_t rows, std::int64_t cols);
  // dx = y * (dy - sum(dy * y)) per row. dx may be dy.
  void (*softmax_backward)(const T* y, const T* dy, T* dx, std::int64_t rows, std::int64_t cols);
  // Dense epilogue over `rows` rows of `cols`: z[r, :] += b (b may be null), y = act(z) (any
  // kind, softmax included). y may be z.
  void (*bias_forward)(int kind, T* z, const T* b, T* y, std::int64_t rows, std::int64_t cols,
                       T alpha);
};

struct ActivationKernels {
  ActivationKernelsFor<float> f32;
  ActivationKernelsFor<double> f64;
};

}  // namespace lamina

LAMINA_DECLARE_KERNEL_TABLE(::lamina::ActivationKernels, activation_kernels)
