// CUDA embedding lookup, the twin of csrc/cpu/embedding.h: indices n integers (int32 or int64),
// table (V, D), out / grad (n, D), device memory. The indices are checked by the caller first
// (cuda::find_invalid_label, which synchronises the stream, so that an index outside [0, V)
// raises before anything is written, as on the CPU); the kernels still trust nothing: a bad
// index reads a zero row and is never scattered.
//   embedding_forward:  out[i] = table[indices[i]] (assigned).
//   embedding_backward: dtable ASSIGNED = sum over i of grad[i] added to row indices[i] (rows
//     never indexed are zero), deterministic without atomics: each block owns a range of table
//     rows, zeroes them and scans all n indices in order, adding the grad rows that fall in its
//     range; thread t owns columns t, t + 256, ... so no two threads touch one element and every
//     element's sum runs in index order. Cost: every block reads all n indices (at most 1024
//     blocks: 1024 * n index reads, from L2), plus the n * D additions; fine for vocabularies
//     and batches of training size, the first thing to replace (sort by index, then segmented
//     sums) if bench/ shows it.
// Work is queued on `stream`.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace lamina::cuda {

template <class I, class T>
void embedding_forward(std::int64_t n, const I* indices, std::int64_t V, std::int64_t D,
                       const T* table, T* out, cudaStream_t stream);

template <class I, class T>
void embedding_backward(std::int64_t n, const I* indices, std::int64_t V, std::int64_t D,
                        const T* grad, T* dtable, cudaStream_t stream);

}  // namespace lamina::cuda
