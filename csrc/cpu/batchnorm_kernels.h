// Per-ISA loops of batch normalization over rows of C channels (csrc/cpu/simd/batchnorm.cpp).
// x, y, dy, dx are (rows, C) row-major; per-channel statistics are accumulated in double.
#pragma once

#include <cstdint>

#include "common/isa.h"

namespace lamina {

template <class T>
struct BatchNormKernelsOf {
  // acc[c] += sum over rows of x[r, c]
  void (*sum)(std::int64_t rows, std::int64_t C, const T* x, double* acc);
  // acc[c] += sum over rows of (x[r, c] - mean[c])^2
  void (*sum_sq_dev)(std::int64_t rows, std::int64_t C, const T* x, const double* mean,
                     double* acc);
  // y = x * scale + shift (per channel)
  void (*affine)(std::int64_t rows, std::int64_t C, const T* x, const T* scale, const T* shift,
                 T* y);
  // sum_dy[c] += sum dy;  sum_dy_xc[c] += sum dy * (x - mean)
  void (*backward_sums)(std::int64_t rows, std::int64_t C, const T* x, const T* dy,
                        const double* mean, double* sum_dy, double* sum_dy_xc);
  // dx = a * dy + b * (x - mean) + c (per channel)
  void (*backward_apply)(std::int64_t rows, std::int64_t C, const T* x, const T* dy,
                         const double* mean, const T* a, const T* b, const T* c, T* dx);
};

struct BatchNormKernels {
  BatchNormKernelsOf<float> f32;
  BatchNormKernelsOf<double> f64;
};

}  // namespace lamina

LAMINA_DECLARE_KERNEL_TABLE(::lamina::BatchNormKernels, batchnorm_kernels)
