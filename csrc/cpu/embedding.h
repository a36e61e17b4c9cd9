// Embedding lookup on the CPU: a row gather forward and a scatter-add backward.
//
// indices: n integers (int32 or int64, any shape flattened), table (V, D), out / grad (n, D).
// Both entry points first check every index and, if one is outside [0, V), return its position
// without touching any output (the binding turns that into a ValueError); otherwise -1.
// Forward assigns out[i] = table[indices[i]]. Backward ASSIGNS dtable = sum over i of grad[i]
// scattered to row indices[i] (rows never indexed are zero). The scatter is threaded without
// atomics or races: each thread owns a contiguous range of vocabulary rows and scans all
// indices, adding only those in its range, in index order, so the result is deterministic.
#pragma once

#include <cstdint>

namespace lamina {

template <class I, class T>
std::int64_t embedding_forward(std::int64_t n, const I* indices, std::int64_t V, std::int64_t D,
                               const T* table, T* out);

template <class I, class T>
std::int64_t embedding_backward(std::int64_t n, const I* indices, std::int64_t V,
                                std::int64_t D, const T* grad, T* dtable);

}  // namespace lamina
