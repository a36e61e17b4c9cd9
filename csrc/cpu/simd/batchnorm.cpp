// Batch-normalization loops over (rows, C) data, compiled once per ISA (see simd.h). Channels are
// the contiguous axis, so each row is one vectorised pass; statistics accumulate in double so
// that float32 batches of 10^5 rows keep their variance exact to float precision.
#include "cpu/simd/simd.h"
#include "cpu/batchnorm_kernels.h"

namespace lamina::LAMINA_ISA_NS {
namespace {

using i64 = std::int64_t;

template <class T>
void sum(i64 rows, i64 C, const T* x, double* acc) {
  for (i64 r = 0; r < rows; ++r) {
    const T* xr = x + r * C;
#pragma omp simd
    for (i64 c = 0; c < C; ++c) acc[c] += static_cast<double>(xr[c]);
  }
}

template <class T>
void sum_sq_dev(i64 rows, i64 C, const T* x, const double* mean, double* acc) {
  for (i64 r = 0; r < rows; ++r) {
    const T* xr = x + r * C;
#pragma omp simd
    for (i64 c = 0; c < C; ++c) {
      const double d = static_cast<double>(xr[c]) - mean[c];
      acc[c] += d * d;
    }
  }
}

template <class T>
void affine(i64 rows, i64 C, const T* x, const T* scale, const T* shift, T* y) {
  for (i64 r = 0; r < rows; ++r) {
    const T* xr = x + r * C;
    T* yr = y + r * C;
#pragma omp simd
    for (i64 c = 0; c < C; ++c) yr[c] = xr[c] * scale[c] + shift[c];
  }
}

template <class T>
void backward_sums(i64 rows, i64 C, const T* x, const T* dy, const double* mean, double* sum_dy,
                   double* sum_dy_xc) {
  for (i64 r = 0; r < rows; ++r) {
    const T* xr = x + r * C;
    const T* gr = dy + r * C;
#pragma omp simd
    for (i64 c = 0; c < C; ++c) {
      const double g = static_cast<double>(gr[c]);
      sum_dy[c] += g;
      sum_dy_xc[c] += g * (static_cast<double>(xr[c]) - mean[c]);
    }
  }
}

template <class T>
void backward_apply(i64 rows, i64 C, const T* x, const T* dy, const double* mean, const T* a,
                    const T* b, const T* c, T* dx) {
  for (i64 r = 0; r < rows; ++r) {
    const T* xr = x + r * C;
    const T* gr = dy + r * C;
    T* dr = dx + r * C;
#pragma omp simd
    for (i64 j = 0; j < C; ++j) {
      dr[j] = a[j] * gr[j] + b[j] * (xr[j] - static_cast<T>(mean[j])) + c[j];
    }
  }
}

template <class T>
constexpr BatchNormKernelsOf<T> table() {
  return {sum<T>, sum_sq_dev<T>, affine<T>, backward_sums<T>, backward_apply<T>};
}

}  // namespace

extern const BatchNormKernels batchnorm_kernels = {table<float>(), table<double>()};

}  // namespace lamina::LAMINA_ISA_NS
