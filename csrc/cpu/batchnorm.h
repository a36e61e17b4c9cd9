// Batch normalization over the last axis: x, y, dy, dx are (rows, C) row-major (an NHWC tensor
// is rows = N*H*W; another axis is moved last by the op). gamma and beta may be null (Keras'
// scale=False / center=False: 1 and 0). Statistics are per channel, variance biased (divided by
// rows) as Keras uses it for both normalization and the moving average.
//
// Training forward computes mean and variance of the batch in two passes (mean, then squared
// deviations: no cancellation), writes them to mean/var, and y = (x - mean) * gamma / sqrt(var +
// eps) + beta. Inference forward uses the given mean/var. The backward pass is fused: one pass
// for sum(dy) and sum(dy * (x - mean)), one for dx; with training == true it differentiates
// through the batch statistics, otherwise they are constants. All outputs are assigned.
#pragma once

#include <cstdint>

namespace lamina {

template <class T>
void batchnorm_forward_training(std::int64_t rows, std::int64_t C, const T* x, const T* gamma,
                                const T* beta, T eps, T* y, T* mean, T* var);

template <class T>
void batchnorm_forward_inference(std::int64_t rows, std::int64_t C, const T* x, const T* gamma,
                                 const T* beta, const T* mean, const T* var, T eps, T* y);

// mean/var: the statistics the forward pass used. dx, dgamma, dbeta may be null.
template <class T>
void batchnorm_backward(std::int64_t rows, std::int64_t C, const T* x, const T* gamma,
                        const T* mean, const T* var, T eps, const T* dy, bool training, T* dx,
                        T* dgamma, T* dbeta);

}  // namespace lamina
