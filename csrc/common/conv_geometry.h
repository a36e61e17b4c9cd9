// The geometry of one 2-D convolution or pooling, channels last: plain integers, usable from the
// CPU drivers, the SIMD loops, the CUDA kernels (passed by value) and the bindings that check it.
#pragma once

#include <cstdint>

namespace lamina {

// x (N, H, W, C)   y (N, OH, OW, K)   kernel (KH, KW, C / G, K)   (pooling: K == C, G == 1)
// Input row ih of output row oh and tap kh is oh * SH - PT + kh * DH (likewise for columns);
// rows outside [0, H) are zero padding. Output channel k belongs to group k / (K / G).
struct ConvGeometry {
  std::int64_t N, H, W, C, OH, OW, K, KH, KW, SH, SW, PT, PL, DH, DW, G;
};

#if defined(__CUDACC__)
#define LAMINA_GEOMETRY_FN __host__ __device__ __forceinline__
#else
#define LAMINA_GEOMETRY_FN inline
#endif

// Pixel p of an (N, A, B) grid (output pixels: A = OH, B = OW; input pixels: A = H, B = W):
// p = (n * A + a) * B + b.
struct GridPixel {
  std::int64_t n, a, b;
};

LAMINA_GEOMETRY_FN GridPixel grid_pixel(std::int64_t p, std::int64_t A, std::int64_t B) {
  const std::int64_t n = p / (A * B), rest = p - n * A * B;
  const std::int64_t a = rest / B;
  return {n, a, rest - a * B};
}

}  // namespace lamina
