// CUDA 2-D convolution, channels last: the twin of csrc/cpu/conv2d.h (same layouts, same
// contract, same arguments plus a stream).
//   x (N, H, W, C)   kernel w (KH, KW, C / G, K)   bias b (K,)   y (N, OH, OW, K)
//   y[n, oh, ow, k] = act(b[k] + sum over kh, kw, c of
//     x[n, oh*SH - PT + kh*DH, ow*SW - PL + kw*DW, (k / (K/G)) * (C/G) + c] * w[kh, kw, c, k])
// (cells outside the image read zero; act 0 linear, 1 relu). The bottom/right pads enter only
// through OH/OW and may be negative (see the CPU header).
// conv2d_backward assigns whichever of dx (N, H, W, C), dw (KH, KW, C/G, K), db (K,) is not
// null; x is read only for dw, w only for dx, y (the forward output) only for relu, whose mask
// is applied as dy is read (no workspace). All pointers are device memory; work is queued on
// `stream` and nothing is synchronised. The kernel gradient over many pixels may take a
// stream-ordered scratch buffer for its partial sums (cudaMallocAsync, launch.h's
// StreamScratch). Results are deterministic: no floating-point atomics anywhere.
// Kernels and grids: csrc/cuda/conv2d.cu.
#pragma once

#include <cuda_runtime_api.h>

#include "common/conv_geometry.h"

namespace lamina::cuda {

template <class T>
void conv2d_forward(const ConvGeometry& g, const T* x, const T* w, const T* b, int act, T* y,
                    cudaStream_t stream);

template <class T>
void conv2d_backward(const ConvGeometry& g, const T* x, const T* w, const T* y, const T* dy,
                     int act, T* dx, T* dw, T* db, cudaStream_t stream);

}  // namespace lamina::cuda
