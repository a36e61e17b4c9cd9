// Per-ISA inner loops of the convolution family (csrc/cpu/simd/conv2d.cpp, compiled once per
// ISA): the bias + activation epilogue, the ReLU mask of the backward pass, column sums for the
// bias gradient, and the direct depthwise kernels. The drivers in conv2d.cpp pick a table with
// LAMINA_KERNEL_TABLE(conv2d_kernels).
#pragma once

#include <cstdint>

#include "common/conv_geometry.h"  // ConvGeometry
#include "common/isa.h"

namespace lamina {

// One register tile of the indirect convolution (simd/conv2d.cpp): mr output pixels (or, for the
// kernel gradient, mr (tap, channel) rows) x nc output channels.
template <class T>
struct ConvTile {
  int mr, nc;
  // y[i, j] = act(bias[j] + sum over q < ntaps, c < depth of ptrs[q * mr + i][c] *
  //   b[(taps[q] * depth + c) * nc + j]), assigned for i < m, j < n. b: packed kernel panel,
  //   (all taps * depth) x nc, zero past n; bias may be null (then 0); act 0 linear, 1 relu.
  //   Every pointer must be readable for depth elements (padding points at a zero row).
  void (*forward)(std::int64_t ntaps, const int* taps, std::int64_t depth, const T* const* ptrs,
                  const T* b, T* y, std::int64_t ldy, int m, int n, const T* bias, int act);
  // c[i * ldc + j] += sum over q < count of a[q][a_off + i] * b[q][b_off + j], i < m, j < n.
  void (*kernel_grad)(std::int64_t count, const T* const* a, std::int64_t a_off,
                      const T* const* b, std::int64_t b_off, T* c, std::int64_t ldc, int m,
                      int n);
};

template <class T>
struct ConvKernelsOf {
  // y[r, :] = act(y[r, :] + b) for rows [0, rows) of width cols (b may be null); act 0 linear,
  // 1 relu.
  void (*bias_act)(std::int64_t rows, std::int64_t cols, const T* b, int act, T* y);
  // dz = y > 0 ? dy : 0 over n elements.
  void (*relu_mask)(std::int64_t n, const T* y, const T* dy, T* dz);
  // acc[c] += sum over rows of a[r, c] (accumulated in double).
  void (*column_sums)(std::int64_t rows, std::int64_t cols, const T* a, double* acc);
  // Depthwise (C / G == 1, K == C * M): y = act(conv + b) for images [n0, n1).
  void (*depthwise_forward)(const ConvGeometry* g, const T* x, const T* w, const T* b, int act,
                            T* y, std::int64_t n0, std::int64_t n1);
  // dx (assigned) for images [n0, n1).
  void (*depthwise_backward_input)(const ConvGeometry* g, const T* dy, const T* w, T* dx,
                                   std::int64_t n0, std::int64_t n1);
  // dw (KH, KW, 1, K) += contribution of output pixels [p0, p1) of the (N, OH, OW) grid, in
  // order.
  void (*depthwise_backward_kernel)(const ConvGeometry* g, const T* x, const T* dy, T* dw,
                                    std::int64_t p0, std::int64_t p1);
  // [0] the wide tile (many output channels), [1] the narrow one (nc of [1] <= nc of [0]).
  ConvTile<T> tiles[2];
};

struct ConvKernels {
  ConvKernelsOf<float> f32;
  ConvKernelsOf<double> f64;
};

}  // namespace lamina

LAMINA_DECLARE_KERNEL_TABLE(::lamina::ConvKernels, conv2d_kernels)
