// Activation kernels: element-wise kinds as grid-stride loops over the flat array, softmax as
// one warp per row (rows are usually short: the class count), both over the shared formulas of
// csrc/common/activation_math.h.
//
// The kind is a runtime argument switched on per element: uniform across the grid, so no
// divergence, only a few instructions per element on memory-bound kernels. Templating on the
// kind is a tuning option.
#include "common/activation_math.h"
#include "cuda/activations.h"
#include "cuda/launch.h"

namespace lamina::cuda {

namespace {

using i64 = std::int64_t;
namespace am = activation_math;

// Grid: grid_stride_blocks(n, 256) blocks of 256 threads, grid-stride over the n elements.
template <class T>
__global__ void activation_forward_kernel(int kind, const T* x, T* y, i64 n, T alpha) {
  const i64 stride = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    y[i] = am::forward(kind, x[i], alpha);
  }
}

// Grid: as activation_forward_kernel. `a` is x or y (see activations.h); null for linear.
template <class T>
__global__ void activation_backward_kernel(int kind, const T* a, const T* dy, T* dx, i64 n,
                                           T alpha) {
  const i64 stride = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    dx[i] = am::backward(kind, a ? a[i] : T(0), dy[i], alpha);
  }
}

// z[r, c] += b[c] (when b), y[r, c] = act(z[r, c]) for an element-wise kind.
// Grid: grid_stride_blocks(rows * cols, 256) blocks of 256 threads, grid-stride.
template <class T>
__global__ void bias_activation_kernel(int kind, T* z, const T* b, T* y, i64 rows, i64 cols,
                                       T alpha) {
  const i64 n = rows * cols;
  const i64 stride = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    T v = z[i];
    if (b) {
      v += b[i % cols];
      z[i] = v;
    }
    y[i] = am::forward(kind, v, alpha);
  }
}

// Row-wise softmax; with b, z[r, :] += b first (then x is z). Each lane touches the same
// elements (c = lane + 32 k) in every pass, so y may be x.
// Grid: grid_stride_blocks(rows, 8) blocks of 256 threads = 8 warps; warp w takes rows
// w, w + 8 * gridDim.x, ... (the loop is warp-uniform, as the shuffles need).
template <class T>
__global__ void softmax_forward_kernel(T* x, const T* b, T* y, i64 rows, i64 cols) {
  const int lane = threadIdx.x % kWarpSize;
  const i64 warp = static_cast<i64>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarpSize;
  const i64 warps = static_cast<i64>(gridDim.x) * kWarpsPerBlock;
  for (i64 r = warp; r < rows; r += warps) {
    T* xr = x + r * cols;
    T* yr = y + r * cols;
    T m = -INFINITY;
    for (i64 c = lane; c < cols; c += kWarpSize) {
      T v = xr[c];
      if (b) {
        v += b[c];
        xr[c] = v;
      }
      m = nan_max(m, v);
    }
    m = warp_max(m);
    T s = T(0);
    for (i64 c = lane; c < cols; c += kWarpSize) {
      const T e = am::exp_t(xr[c] - m);
      yr[c] = e;
      s += e;
    }
    const T inv = T(1) / warp_sum(s);
    for (i64 c = lane; c < cols; c += kWarpSize) yr[c] *= inv;
  }
}

// dx = y * (dy - sum(dy * y)) per row; dx may be dy (the dot is complete before any write).
// Grid: as softmax_forward_kernel.
template <class T>
__global__ void softmax_backward_kernel(const T* y, const T* dy, T* dx, i64 rows, i64 cols) {
  const int lane = threadIdx.x % kWarpSize;
  const i64 warp = static_cast<i64>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarpSize;
  const i64 warps = static_cast<i64>(gridDim.x) * kWarpsPerBlock;
  for (i64 r = warp; r < rows; r += warps) {
    const T* yr = y + r * cols;
    const T* gr = dy + r * cols;
    T* dr = dx + r * cols;
    T dot = T(0);
    for (i64 c = lane; c < cols; c += kWarpSize) dot += gr[c] * yr[c];
    dot = warp_sum(dot);
    for (i64 c = lane; c < cols; c += kWarpSize) dr[c] = yr[c] * (gr[c] - dot);
  }
}

unsigned elementwise_blocks(i64 n) { return grid_stride_blocks(n, kBlockThreads); }
unsigned row_blocks(i64 rows) { return grid_stride_blocks(rows, kWarpsPerBlock); }

}  // namespace

template <class T>
void activation_forward(int kind, const T* x, T* y, i64 rows, i64 cols, T alpha,
                        cudaStream_t stream) {
  if (kind == am::kSoftmax) {
    if (cols <= 0) return;
    // The kernel writes x only when given a bias; none here, so the cast is never written through.
    launch("softmax_forward_kernel", dim3(row_blocks(rows)), dim3(kBlockThreads), 0, stream,
           softmax_forward_kernel<T>, const_cast<T*>(x), static_cast<const T*>(nullptr), y, rows,
           cols);
    return;
  }
  if (kind == am::kLinear && x == y) return;
  const i64 n = rows * cols;
  launch("activation_forward_kernel", dim3(elementwise_blocks(n)), dim3(kBlockThreads), 0,
         stream, activation_forward_kernel<T>, kind, x, y, n, alpha);
}

template <class T>
void activation_backward(int kind, const T* a, const T* dy, T* dx, i64 rows, i64 cols, T alpha,
                         cudaStream_t stream) {
  if (kind == am::kSoftmax) {
    if (cols <= 0) return;
    launch("softmax_backward_kernel", dim3(row_blocks(rows)), dim3(kBlockThreads), 0, stream,
           softmax_backward_kernel<T>, a, dy, dx, rows, cols);
    return;
  }
  if (kind == am::kLinear && dx == dy) return;
  const i64 n = rows * cols;
  launch("activation_backward_kernel", dim3(elementwise_blocks(n)), dim3(kBlockThreads), 0,
         stream, activation_backward_kernel<T>, kind, a, dy, dx, n, alpha);
}

template <class T>
void bias_activation_forward(int kind, T* z, const T* b, T* y, i64 rows, i64 cols, T alpha,
                             cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return;
  if (kind == am::kSoftmax) {
    launch("softmax_forward_kernel", dim3(row_blocks(rows)), dim3(kBlockThreads), 0, stream,
           softmax_forward_kernel<T>, z, b, y, rows, cols);
    return;
  }
  launch("bias_activation_kernel", dim3(elementwise_blocks(rows * cols)), dim3(kBlockThreads), 0,
         stream, bias_activation_kernel<T>, kind, z, b, y, rows, cols, alpha);
}

#define LAMINA_INSTANTIATE_ACTIVATIONS(T)                                                       \
  template void activation_forward<T>(int, const T*, T*, i64, i64, T, cudaStream_t);           \
  template void activation_backward<T>(int, const T*, const T*, T*, i64, i64, T, cudaStream_t); \
  template void bias_activation_forward<T>(int, T*, const T*, T*, i64, i64, T, cudaStream_t);
LAMINA_INSTANTIATE_ACTIVATIONS(float)
LAMINA_INSTANTIATE_ACTIVATIONS(double)
#undef LAMINA_INSTANTIATE_ACTIVATIONS

}  // namespace lamina::cuda
