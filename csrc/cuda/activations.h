// CUDA activations, the twins of csrc/cpu/activations.h (same layouts, same contract):
// data viewed as (rows, cols), cols the last axis; softmax normalises each row.
//   activation_forward:  y = act(x); y may be x.
//   activation_backward: dx = act'(.) * dy, ASSIGNED; dx may be dy. `a` is the input x for the
//     kinds that need it (activation_math::needs_input) and the output y for the others (null
//     for linear).
//   bias_activation_forward: z[r, :] += b (b may be null), then y = act(z); y may be z.
// `kind` is an Activation code (csrc/common/activation_math.h). Work is queued on `stream`.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace lamina::cuda {

template <class T>
void activation_forward(int kind, const T* x, T* y, std::int64_t rows, std::int64_t cols,
                        T alpha, cudaStream_t stream);

template <class T>
void activation_backward(int kind, const T* a, const T* dy, T* dx, std::int64_t rows,
                         std::int64_t cols, T alpha, cudaStream_t stream);

template <class T>
void bias_activation_forward(int kind, T* z, const T* b, T* y, std::int64_t rows,
                             std::int64_t cols, T alpha, cudaStream_t stream);

}  // namespace lamina::cuda
