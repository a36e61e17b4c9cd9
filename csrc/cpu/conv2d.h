// 2-D convolution, channels last: the forward pass and the fused backward pass.
//
// Layouts (ConvGeometry in conv2d_kernels.h):
//   x (N, H, W, C)   kernel w (KH, KW, C / G, K) as Keras stores it   bias b (K,)   y (N, OH, OW, K)
// with y[n, oh, ow, k] = act(b[k] + sum over kh, kw, c of
//   x[n, oh*SH - PT + kh*DH, ow*SW - PL + kw*DW, (k / (K/G)) * (C/G) + c] * w[kh, kw, c, k])
// (cells outside the image read zero). act is 0 (linear) or 1 (relu); other activations are
// separate ops.
//
// Algorithm, chosen by shape:
//   - C / G == 1 with G > 1 (depthwise): direct loops vectorised over channels
//     (simd/conv2d.cpp says why GEMM loses there).
//   - 1x1, stride 1, no padding, G == 1: in NHWC the input already is the (N*H*W, C) matrix, so
//     the convolution is one GEMM with no copy.
//   - everything else: im2col over a chunk of images (a few MB of columns, so that the copy is
//     still in cache when the GEMM packs it), one lamina::gemm per group per chunk. The column
//     order (kh, kw, c) matches the kernel's (KH, KW, C/G, K) layout, so the kernel is the GEMM's
//     B operand as stored, with no transposition.
// GEMMs are called outside any parallel region: lamina::gemm threads itself.
#pragma once

#include <cstdint>

#include "cpu/conv2d_kernels.h"

namespace lamina {

// y = act(conv(x, w) + b); b may be null. y is assigned.
template <class T>
void conv2d_forward(const ConvGeometry& g, const T* x, const T* w, const T* b, int act, T* y);

// The whole backward pass in one call. dy is the gradient of y; for act == relu, y (the forward
// output) masks it. Writes (assigns) whichever of dx (N, H, W, C), dw (KH, KW, C/G, K), db (K,)
// is not null. x is read only for dw; w only for dx; y only for relu.
template <class T>
void conv2d_backward(const ConvGeometry& g, const T* x, const T* w, const T* y, const T* dy,
                     int act, T* dx, T* dw, T* db);

}  // namespace lamina
