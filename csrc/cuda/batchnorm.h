// CUDA batch normalization over the last axis: the twin of csrc/cpu/batchnorm.h (same layouts,
// same numerics, same arguments plus a stream). x, y, dy, dx are (rows, C) row-major device
// arrays; gamma and beta may be null (1 and 0). Statistics per channel, variance biased, both
// accumulated in double over fixed parts of the rows added in part order (column_sums.h): the
// same bits on every run. Training forward: mean, then squared deviations (two passes, no
// cancellation), then y = x * scale + shift. The backward pass is fused as on the CPU: one pass
// for sum(dy) and sum(dy * (x - mean)), one for dx; with `training` it differentiates through
// the batch statistics. All outputs are assigned; dx, dgamma, dbeta may be null. Per-channel
// intermediates live in stream-ordered scratch (launch.h's StreamScratch); nothing synchronises.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace lamina::cuda {

template <class T>
void batchnorm_forward_training(std::int64_t rows, std::int64_t C, const T* x, const T* gamma,
                                const T* beta, T eps, T* y, T* mean, T* var,
                                cudaStream_t stream);

template <class T>
void batchnorm_forward_inference(std::int64_t rows, std::int64_t C, const T* x, const T* gamma,
                                 const T* beta, const T* mean, const T* var, T eps, T* y,
                                 cudaStream_t stream);

template <class T>
void batchnorm_backward(std::int64_t rows, std::int64_t C, const T* x, const T* gamma,
                        const T* mean, const T* var, T eps, const T* dy, bool training, T* dx,
                        T* dgamma, T* dbeta, cudaStream_t stream);

}  // namespace lamina::cuda
