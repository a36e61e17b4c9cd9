// The per-ISA table behind csrc/cpu/reduce.cpp (implemented in csrc/cpu/simd/reduce.cpp).
// Single-threaded pieces; the driver blocks and threads them.
#pragma once

#include <cstdint>

#include "common/isa.h"

namespace lamina {

template <class T>
struct ReduceKernelsFor {
  // Sum of x[0..n) in float64 vector lanes (the driver keeps n <= 4096 for accuracy).
  double (*sum)(const T* x, std::int64_t n);
  // acc[j] = sum_k x[k * stride + j] for j < width, k < n (assigned).
  void (*sum_columns)(const T* x, std::int64_t n, std::int64_t stride, std::int64_t width,
                      double* acc);
  // max of x[0..n), n >= 1; NaN if any element is NaN.
  T (*max)(const T* x, std::int64_t n);
  // acc[j] = max(acc[j], x[k * stride + j]) for j < width, k < n; NaN sticks.
  void (*max_columns)(const T* x, std::int64_t n, std::int64_t stride, std::int64_t width,
                      T* acc);
};

struct ReduceKernels {
  ReduceKernelsFor<float> f32;
  ReduceKernelsFor<double> f64;
};

}  // namespace lamina

LAMINA_DECLARE_KERNEL_TABLE(::lamina::ReduceKernels, reduce_kernels)
