// Embedding gather and deterministic scatter-add (contract in embedding.h).
#include "cuda/embedding.h"
#include "cuda/launch.h"

namespace lamina::cuda {

namespace {

using i64 = std::int64_t;

// Blocks of the backward pass: each owns ceil(V / blocks) rows.
constexpr i64 kMaxRowBlocks = 1024;

// Grid: grid_stride_blocks(n * D, 256) blocks of 256 threads, grid-stride over out's elements.
template <class I, class T>
__global__ void embedding_forward_kernel(i64 n, const I* __restrict__ indices, i64 V, i64 D,
                                         const T* __restrict__ table, T* __restrict__ out) {
  const i64 total = n * D;
  const i64 stride = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 e = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
    const i64 i = e / D, j = e - i * D;
    const i64 v = static_cast<i64>(indices[i]);
    out[e] = (v >= 0 && v < V) ? table[v * D + j] : T(0);
  }
}

// Grid: ceil(V / rows_per_block) blocks of 256 threads; block b owns table rows
// [b * rows_per_block, (b + 1) * rows_per_block). The indices are staged 256 at a time in
// shared memory and every thread walks them in order.
template <class I, class T>
__global__ void __launch_bounds__(kBlockThreads)
    embedding_backward_kernel(i64 n, const I* __restrict__ indices, i64 V, i64 D,
                              i64 rows_per_block, const T* __restrict__ grad,
                              T* __restrict__ dtable) {
  const int tid = threadIdx.x;
  const i64 v0 = static_cast<i64>(blockIdx.x) * rows_per_block;
  const i64 v1 = v0 + rows_per_block < V ? v0 + rows_per_block : V;
  for (i64 v = v0; v < v1; ++v) {
    for (i64 j = tid; j < D; j += kBlockThreads) dtable[v * D + j] = T(0);
  }
  __shared__ i64 chunk[kBlockThreads];
  for (i64 i0 = 0; i0 < n; i0 += kBlockThreads) {
    chunk[tid] = i0 + tid < n ? static_cast<i64>(indices[i0 + tid]) : -1;
    __syncthreads();
    const i64 count = n - i0 < kBlockThreads ? n - i0 : kBlockThreads;
    for (i64 k = 0; k < count; ++k) {
      const i64 v = chunk[k];
      if (v < v0 || v >= v1) continue;  // another block's row, or an invalid index
      const T* src = grad + (i0 + k) * D;
      T* dst = dtable + v * D;
      for (i64 j = tid; j < D; j += kBlockThreads) dst[j] += src[j];
    }
    __syncthreads();  // the chunk is overwritten next
  }
}

}  // namespace

template <class I, class T>
void embedding_forward(i64 n, const I* indices, i64 V, i64 D, const T* table, T* out,
                       cudaStream_t stream) {
  launch("embedding_forward_kernel", dim3(grid_stride_blocks(n * D, kBlockThreads)),
         dim3(kBlockThreads), 0, stream, embedding_forward_kernel<I, T>, n, indices, V, D, table,
         out);
}

template <class I, class T>
void embedding_backward(i64 n, const I* indices, i64 V, i64 D, const T* grad, T* dtable,
                        cudaStream_t stream) {
  if (V <= 0 || D <= 0) return;
  const i64 blocks = V < kMaxRowBlocks ? V : kMaxRowBlocks;
  const i64 rows_per_block = (V + blocks - 1) / blocks;
  const i64 used = (V + rows_per_block - 1) / rows_per_block;
  launch("embedding_backward_kernel", dim3(static_cast<unsigned>(used)), dim3(kBlockThreads), 0,
         stream, embedding_backward_kernel<I, T>, n, indices, V, D, rows_per_block, grad, dtable);
}

#define LAMINA_INSTANTIATE_EMBEDDING(I, T)                                                     \
  template void embedding_forward<I, T>(i64, const I*, i64, i64, const T*, T*, cudaStream_t);  \
  template void embedding_backward<I, T>(i64, const I*, i64, i64, const T*, T*, cudaStream_t);
LAMINA_INSTANTIATE_EMBEDDING(std::int32_t, float)
LAMINA_INSTANTIATE_EMBEDDING(std::int64_t, float)
LAMINA_INSTANTIATE_EMBEDDING(std::int32_t, double)
LAMINA_INSTANTIATE_EMBEDDING(std::int64_t, double)
#undef LAMINA_INSTANTIATE_EMBEDDING

}  // namespace lamina::cuda
