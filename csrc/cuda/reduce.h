// CUDA reductions along one axis, the twins of csrc/cpu/reduce.h: x is a C-contiguous array
// viewed as (outer, n, inner);
//   reduce_sum: out[o, j] = sum_k x[o, k, j] (divided by n when `mean`; 0/0 = NaN for n == 0),
//     accumulated in float64 whatever T;
//   reduce_max: out[o, j] = max_k x[o, k, j], NaN propagates; n >= 1.
// out (outer, inner) is ASSIGNED. Queued on `stream`.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace lamina::cuda {

template <class T>
void reduce_sum(const T* x, T* out, std::int64_t outer, std::int64_t n, std::int64_t inner,
                bool mean, cudaStream_t stream);

template <class T>
void reduce_max(const T* x, T* out, std::int64_t outer, std::int64_t n, std::int64_t inner,
                cudaStream_t stream);

}  // namespace lamina::cuda
