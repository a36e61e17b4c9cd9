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

}  // namespace lamina
