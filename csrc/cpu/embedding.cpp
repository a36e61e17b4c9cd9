// Embedding gather / scatter-add (contract in embedding.h).
#include "cpu/embedding.h"

#include <cstring>

#include "common/parallel.h"

namespace lamina {

namespace {

template <class I>
std::int64_t first_out_of_range(std::int64_t n, const I* idx, std::int64_t V) {
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t v = static_cast<std::int64_t>(idx[i]);
    if (v < 0 || v >= V) return i;
  }
  return -1;
}

}  // namespace

template <class I, class T>
std::int64_t embedding_forward(std::int64_t n, const I* indices, std::int64_t V, std::int64_t D,
                               const T* table, T* out) {
  const std::int64_t bad = first_out_of_range(n, indices, V);
  if (bad >= 0) return bad;
  parallel_for(n, n * D, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) {
      std::memcpy(out + i * D, table + static_cast<std::int64_t>(indices[i]) * D,
                  sizeof(T) * static_cast<size_t>(D));
    }
  });
  return -1;
}

template <class I, class T>
std::int64_t embedding_backward(std::int64_t n, const I* indices, std::int64_t V,
                                std::int64_t D, const T* grad, T* dtable) {
  const std::int64_t bad = first_out_of_range(n, indices, V);
  if (bad >= 0) return bad;
  // Each thread owns vocabulary rows [v0, v1): it zeroes them, then adds every grad row whose
  // index falls in its range. Work: the zeroing plus the additions, plus n compares per thread.
  parallel_for(V, V * D + n * D, [&](std::int64_t v0, std::int64_t v1) {
    std::memset(dtable + v0 * D, 0, sizeof(T) * static_cast<size_t>((v1 - v0) * D));
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t v = static_cast<std::int64_t>(indices[i]);
      if (v < v0 || v >= v1) continue;
      T* __restrict dst = dtable + v * D;
      const T* __restrict src = grad + i * D;
      for (std::int64_t j = 0; j < D; ++j) dst[j] += src[j];
    }
  });
  return -1;
}

#define LAMINA_INSTANTIATE_EMBEDDING(I, T)                                                      \
  template std::int64_t embedding_forward<I, T>(std::int64_t, const I*, std::int64_t,          \
                                                std::int64_t, const T*, T*);                    \
  template std::int64_t embedding_backward<I, T>(std::int64_t, const I*, std::int64_t,         \
                                                 std::int64_t, const T*, T*);
LAMINA_INSTANTIATE_EMBEDDING(std::int32_t, float)
LAMINA_INSTANTIATE_EMBEDDING(std::int64_t, float)
LAMINA_INSTANTIATE_EMBEDDING(std::int32_t, double)
LAMINA_INSTANTIATE_EMBEDDING(std::int64_t, double)
#undef LAMINA_INSTANTIATE_EMBEDDING

}  // namespace lamina
