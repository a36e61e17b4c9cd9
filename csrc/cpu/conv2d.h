// 2-D convolution, channels last: the forward pass and the fused backward pass.
//
// Layouts (ConvGeometry in common/conv_geometry.h):
//   x (N, H, W, C)   kernel w (KH, KW, C / G, K) as Keras stores it   bias b (K,)   y (N, OH, OW, K)
// with y[n, oh, ow, k] = act(b[k] + sum over kh, kw, c of
//   x[n, oh*SH - PT + kh*DH, ow*SW - PL + kw*DW, (k / (K/G)) * (C/G) + c] * w[kh, kw, c, k])
// (cells outside the image read zero). act is 0 (linear) or 1 (relu); other activations are
// separate ops. The bottom/right pads enter only through OH/OW and may be negative: trailing
// input cells no window reads (their dx is zero), as a transposed convolution's output_padding
// past the kernel's reach needs.
//
// Algorithm, chosen by shape:
//   - C / G == 1 with G > 1 (depthwise): direct loops vectorised over channels
//     (simd/conv2d.cpp says why GEMM loses there); the kernel gradient sums fixed parts of the
//     output pixels (at most 64, of at least 256 pixels) in order, as the bias gradient does
//     for every algorithm, so neither depends on the thread count.
//   - 1x1, stride 1, no padding, G == 1: in NHWC the input already is the (N*H*W, C) matrix, so
//     the convolution is one GEMM with no copy.
//   - everything else: an indirect convolution (an implicit GEMM with no im2col copy; see
//     ConvTile in conv2d_kernels.h and simd/conv2d.cpp). Tiles of MR output pixels x NC output
//     channels read each tap's input row in place through a pointer (a zero row for padding),
//     against the kernel packed once per call into NC-wide panels; all taps accumulate in
//     registers and bias + relu are applied as the tile is stored. With fewer than 4 input
//     channels per group (a first layer) each tile's patches are gathered into im2col rows
//     first. The backward pass uses the same tiles:
//       dx (stride 1): the convolution of dz with the kernel transposed per tap, each dx pixel
//         written once (no zero fill, no col2im scatter). Strided: dcol = dz w^T by GEMM, then
//         the col2im scatter (the transposed convolution would mostly multiply zeros).
//       dkernel: a reduction over output pixels, rows (tap, channel) x output channels, in
//         fixed 2048-pixel parts (threads take whole parts) summed in order, so the result does
//         not depend on the thread count.
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
