// Per-ISA loops of the pooling family (csrc/cpu/simd/pool2d.cpp). Geometry as in
// common/conv_geometry.h with K == C, (KH, KW) the pool size, DH == DW == 1, G == 1.
#pragma once

#include <cstdint>

#include "common/conv_geometry.h"
#include "common/isa.h"

namespace lamina {

template <class T>
struct PoolKernelsOf {
  // y = max over the window's valid cells (NaN if one is NaN); argmax (may be null) = ih * W +
  // iw of the first maximum (the first NaN), per output element. Images [n0, n1).
  void (*max_forward)(const ConvGeometry* g, const T* x, T* y, std::int32_t* argmax,
                      std::int64_t n0, std::int64_t n1);
  // dx (assigned) = dy scattered to argmax.
  void (*max_backward)(const ConvGeometry* g, const T* dy, const std::int32_t* argmax, T* dx,
                       std::int64_t n0, std::int64_t n1);
  // y = mean over the window's valid cells (padding is not counted, as Keras/TensorFlow).
  void (*avg_forward)(const ConvGeometry* g, const T* x, T* y, std::int64_t n0, std::int64_t n1);
  // dx (assigned).
  void (*avg_backward)(const ConvGeometry* g, const T* dy, T* dx, std::int64_t n0,
                       std::int64_t n1);
};

struct PoolKernels {
  PoolKernelsOf<float> f32;
  PoolKernelsOf<double> f64;
};

}  // namespace lamina

LAMINA_DECLARE_KERNEL_TABLE(::lamina::PoolKernels, pool2d_kernels)
