// Reduction kernels, compiled once per ISA (see simd.h). `omp simd reduction` lets GCC keep one
// partial result per vector lane (reassociation that plain loops forbid without -ffast-math).
#include "cpu/simd/simd.h"

#include "cpu/reduce_kernels.h"

namespace lamina::LAMINA_ISA_NS {

namespace {

using i64 = std::int64_t;

template <class T>
double sum(const T* x, i64 n) {
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (i64 i = 0; i < n; ++i) s += static_cast<double>(x[i]);
  return s;
}

template <class T>
void sum_columns(const T* x, i64 n, i64 stride, i64 width, double* acc) {
#pragma omp simd
  for (i64 j = 0; j < width; ++j) acc[j] = 0.0;
  for (i64 k = 0; k < n; ++k) {
    const T* row = x + k * stride;
#pragma omp simd
    for (i64 j = 0; j < width; ++j) acc[j] += static_cast<double>(row[j]);
  }
}

template <class T>
T max(const T* x, i64 n) {
  T m = x[0];
  int nan = 0;
#pragma omp simd reduction(max : m) reduction(| : nan)
  for (i64 i = 0; i < n; ++i) {
    m = x[i] > m ? x[i] : m;
    nan |= x[i] != x[i];
  }
  return nan ? static_cast<T>(__builtin_nan("")) : m;
}

template <class T>
void max_columns(const T* x, i64 n, i64 stride, i64 width, T* acc) {
  for (i64 k = 0; k < n; ++k) {
    const T* row = x + k * stride;
#pragma omp simd
    for (i64 j = 0; j < width; ++j) {
      const T v = row[j];
      acc[j] = (v > acc[j] || v != v) ? v : acc[j];
    }
  }
}

template <class T>
constexpr ReduceKernelsFor<T> table_for() {
  return {sum<T>, sum_columns<T>, max<T>, max_columns<T>};
}

}  // namespace

extern const ReduceKernels reduce_kernels = {table_for<float>(), table_for<double>()};

}  // namespace lamina::LAMINA_ISA_NS
