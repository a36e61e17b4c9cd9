// CUDA 2-D max and average pooling, channels last: the twin of csrc/cpu/pool2d.h (same layouts,
// same numerics, same arguments plus a stream). ConvGeometry with K == C, (KH, KW) the pool
// size, DH == DW == 1, G == 1: x (N, H, W, C), y (N, OH, OW, C). Padding cells never count: max
// ignores them, the average divides by the number of valid cells in its window.
// Max pooling writes, per output element, the flat index ih * W + iw of the first maximum of its
// window (int32); NaN propagates (a window holding a NaN gives NaN, its first NaN is the argmax
// and takes the gradient), as on the CPU.
// The backward passes are gathers: one thread per dx element sums over the windows that contain
// its cell, in output order (the CPU's order), so nothing is scattered and nothing needs an
// atomic. max_pool2d_backward adds dy where the window's argmax names this cell: an argmax that
// names no cell of its window (which the forward pass never writes) contributes nothing, so no
// index can address memory outside dx; unlike lamina._cpu, its range is not checked on the host
// (that would copy argmax back and synchronise the stream on every backward pass).
// All outputs are assigned; work is queued on `stream`.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "common/conv_geometry.h"

namespace lamina::cuda {

template <class T>
void max_pool2d_forward(const ConvGeometry& g, const T* x, T* y, std::int32_t* argmax,
                        cudaStream_t stream);
template <class T>
void max_pool2d_backward(const ConvGeometry& g, const T* dy, const std::int32_t* argmax, T* dx,
                         cudaStream_t stream);
template <class T>
void avg_pool2d_forward(const ConvGeometry& g, const T* x, T* y, cudaStream_t stream);
template <class T>
void avg_pool2d_backward(const ConvGeometry& g, const T* dy, T* dx, cudaStream_t stream);

}  // namespace lamina::cuda
