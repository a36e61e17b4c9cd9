// Axis reductions. Two shapes of work:
//   inner == 1 (the reduced axis is the last one): one warp per output, lanes stride along the
//     contiguous row and combine with shuffles (reduce_rows_kernel);
//   inner > 1: one thread per output column, walking down the axis; neighbouring threads read
//     neighbouring columns, so every step is one coalesced row read (reduce_columns_kernel).
// Simple and deterministic (a fixed order for given shapes). A long axis with few outputs (a
// full sum of a large array) leaves most of the GPU idle: a split-axis two-pass version is the
// tuning step once measured.
#include "cuda/launch.h"
#include "cuda/reduce.h"

namespace lamina::cuda {

namespace {

using i64 = std::int64_t;

template <class T>
struct SumOp {
  using Acc = double;
  __device__ static Acc init() { return 0.0; }
  __device__ static Acc add(Acc a, T v) { return a + static_cast<double>(v); }
  __device__ static Acc warp(Acc a) { return warp_sum(a); }
  __device__ static T finish(Acc a, i64 n, bool mean) {
    return static_cast<T>(mean ? a / static_cast<double>(n) : a);
  }
};

template <class T>
struct MaxOp {
  using Acc = T;
  __device__ static Acc init() { return -INFINITY; }
  __device__ static Acc add(Acc a, T v) { return nan_max(a, v); }
  __device__ static Acc warp(Acc a) { return warp_max(a); }
  __device__ static T finish(Acc a, i64, bool) { return a; }
};

// out[r] = op over x[r, 0:n]. Grid: grid_stride_blocks(rows, 8) blocks of 256 threads; warp w
// takes rows w, w + 8 * gridDim.x, ... (warp-uniform loop).
template <class T, class Op>
__global__ void reduce_rows_kernel(const T* x, T* out, i64 rows, i64 n, bool mean) {
  const int lane = threadIdx.x % kWarpSize;
  const i64 warp = static_cast<i64>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarpSize;
  const i64 warps = static_cast<i64>(gridDim.x) * kWarpsPerBlock;
  for (i64 r = warp; r < rows; r += warps) {
    const T* xr = x + r * n;
    typename Op::Acc acc = Op::init();
    for (i64 k = lane; k < n; k += kWarpSize) acc = Op::add(acc, xr[k]);
    acc = Op::warp(acc);
    if (lane == 0) out[r] = Op::finish(acc, n, mean);
  }
}

// out[o, j] = op over x[o, 0:n, j] for inner > 1. Grid: grid_stride_blocks(outer * inner, 256)
// blocks of 256 threads, grid-stride over the outer * inner outputs.
template <class T, class Op>
__global__ void reduce_columns_kernel(const T* x, T* out, i64 outer, i64 n, i64 inner,
                                      bool mean) {
  const i64 total = outer * inner;
  const i64 stride = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const i64 o = i / inner, j = i % inner;
    const T* col = x + o * n * inner + j;
    typename Op::Acc acc = Op::init();
    for (i64 k = 0; k < n; ++k) acc = Op::add(acc, col[k * inner]);
    out[i] = Op::finish(acc, n, mean);
  }
}

template <class T, class Op>
void reduce(const char* rows_name, const char* columns_name, const T* x, T* out, i64 outer, i64 n,
            i64 inner, bool mean, cudaStream_t stream) {
  if (inner == 1) {
    launch(rows_name, dim3(grid_stride_blocks(outer, kWarpsPerBlock)), dim3(kBlockThreads), 0,
           stream, reduce_rows_kernel<T, Op>, x, out, outer, n, mean);
  } else {
    launch(columns_name, dim3(grid_stride_blocks(outer * inner, kBlockThreads)),
           dim3(kBlockThreads), 0, stream, reduce_columns_kernel<T, Op>, x, out, outer, n, inner,
           mean);
  }
}

}  // namespace

template <class T>
void reduce_sum(const T* x, T* out, i64 outer, i64 n, i64 inner, bool mean,
                cudaStream_t stream) {
  reduce<T, SumOp<T>>("reduce_rows_kernel (sum)", "reduce_columns_kernel (sum)", x, out, outer, n,
                      inner, mean, stream);
}

template <class T>
void reduce_max(const T* x, T* out, i64 outer, i64 n, i64 inner, cudaStream_t stream) {
  reduce<T, MaxOp<T>>("reduce_rows_kernel (max)", "reduce_columns_kernel (max)", x, out, outer, n,
                      inner, false, stream);
}

template void reduce_sum<float>(const float*, float*, i64, i64, i64, bool, cudaStream_t);
template void reduce_sum<double>(const double*, double*, i64, i64, i64, bool, cudaStream_t);
template void reduce_max<float>(const float*, float*, i64, i64, i64, cudaStream_t);
template void reduce_max<double>(const double*, double*, i64, i64, i64, cudaStream_t);

}  // namespace lamina::cuda
