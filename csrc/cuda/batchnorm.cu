// Batch-normalization kernels (contract in batchnorm.h). Per-channel sums go through
// column_sums.h (fixed parts of the rows, 32 channels x 8 row lanes a block, double
// accumulation, parts added in order); a one-thread-per-channel kernel turns them into the
// statistics and the per-channel coefficients; an element-wise kernel applies them. The
// formulas are csrc/cpu/batchnorm.cpp's, operation for operation.
// Tuning (with a GPU): fuse the statistics' finishing kernel into the last block of the partial
// pass, and the two training passes into one (Welford) if measurements show the launches cost.
#include "cuda/batchnorm.h"
#include "cuda/column_sums.h"
#include "cuda/launch.h"

namespace lamina::cuda {

namespace {

using i64 = std::int64_t;

template <class T>
struct SumOp {
  const T* x;
  i64 C;
  __device__ void operator()(i64 r, i64 c, double* acc) const {
    acc[0] += static_cast<double>(x[r * C + c]);
  }
};

template <class T>
struct SquaredDeviationOp {
  const T* x;
  const double* mu;
  i64 C;
  __device__ void operator()(i64 r, i64 c, double* acc) const {
    const double d = static_cast<double>(x[r * C + c]) - mu[c];
    acc[0] += d * d;
  }
};

// acc[0] += dy, acc[1] += dy * (x - mean)
template <class T>
struct BackwardSumsOp {
  const T* x;
  const T* dy;
  const T* mean;
  i64 C;
  __device__ void operator()(i64 r, i64 c, double* acc) const {
    const double g = static_cast<double>(dy[r * C + c]);
    acc[0] += g;
    acc[1] += g * (static_cast<double>(x[r * C + c]) - static_cast<double>(mean[c]));
  }
};

// Grid for the per-channel kernels: grid_stride_blocks(C, 256) blocks of 256 threads,
// grid-stride over the channels.
#define LAMINA_FOR_EACH_CHANNEL(c, C)                                                        \
  for (i64 c = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; c < (C);             \
       c += static_cast<i64>(gridDim.x) * blockDim.x)

// mu[c] = sum of the parts / rows.
__global__ void batchnorm_mean_kernel(const double* __restrict__ partial, i64 parts, i64 C,
                                      double inv_rows, double* __restrict__ mu) {
  LAMINA_FOR_EACH_CHANNEL(c, C) { mu[c] = sum_of_parts<1>(partial, parts, 0, C, c) * inv_rows; }
}

// The batch statistics and the affine coefficients y = x * scale + shift.
template <class T>
__global__ void batchnorm_statistics_kernel(const double* __restrict__ partial, i64 parts, i64 C,
                                            double inv_rows, const double* __restrict__ mu,
                                            const T* __restrict__ gamma,
                                            const T* __restrict__ beta, T eps, T* __restrict__ mean,
                                            T* __restrict__ var, T* __restrict__ scale,
                                            T* __restrict__ shift) {
  LAMINA_FOR_EACH_CHANNEL(c, C) {
    const double v = sum_of_parts<1>(partial, parts, 0, C, c) * inv_rows;
    mean[c] = static_cast<T>(mu[c]);
    var[c] = static_cast<T>(v);
    const double s = (gamma ? static_cast<double>(gamma[c]) : 1.0) / sqrt(v + eps);
    scale[c] = static_cast<T>(s);
    shift[c] = static_cast<T>((beta ? static_cast<double>(beta[c]) : 0.0) - mu[c] * s);
  }
}

// The coefficients for given statistics (inference).
template <class T>
__global__ void batchnorm_inference_kernel(i64 C, const T* __restrict__ gamma,
                                           const T* __restrict__ beta,
                                           const T* __restrict__ mean, const T* __restrict__ var,
                                           T eps, T* __restrict__ scale, T* __restrict__ shift) {
  LAMINA_FOR_EACH_CHANNEL(c, C) {
    const double s = (gamma ? static_cast<double>(gamma[c]) : 1.0) /
                     sqrt(static_cast<double>(var[c]) + eps);
    scale[c] = static_cast<T>(s);
    shift[c] = static_cast<T>((beta ? static_cast<double>(beta[c]) : 0.0) -
                              static_cast<double>(mean[c]) * s);
  }
}

// dgamma, dbeta (when not null) and dx = a * dy + b * (x - mean) + c0 per channel.
template <class T>
__global__ void batchnorm_backward_coefficients_kernel(
    const double* __restrict__ partial, i64 parts, i64 C, double inv_rows, bool training,
    const T* __restrict__ gamma, const T* __restrict__ var, T eps, T* __restrict__ dgamma,
    T* __restrict__ dbeta, T* __restrict__ a, T* __restrict__ b, T* __restrict__ c0) {
  LAMINA_FOR_EACH_CHANNEL(c, C) {
    const double sum_dy = sum_of_parts<2>(partial, parts, 0, C, c);
    const double sum_dy_xc = sum_of_parts<2>(partial, parts, 1, C, c);
    const double inv_std = 1.0 / sqrt(static_cast<double>(var[c]) + eps);
    const double gm = gamma ? static_cast<double>(gamma[c]) : 1.0;
    if (dgamma) dgamma[c] = static_cast<T>(sum_dy_xc * inv_std);
    if (dbeta) dbeta[c] = static_cast<T>(sum_dy);
    a[c] = static_cast<T>(gm * inv_std);
    b[c] = training ? static_cast<T>(-gm * inv_std * inv_std * inv_std * sum_dy_xc * inv_rows)
                    : T(0);
    c0[c] = training ? static_cast<T>(-gm * inv_std * sum_dy * inv_rows) : T(0);
  }
}

#undef LAMINA_FOR_EACH_CHANNEL

// Grid for the element-wise kernels: grid_stride_blocks(rows * C, 256) blocks of 256 threads.
template <class T>
__global__ void batchnorm_affine_kernel(i64 n, i64 C, const T* __restrict__ x,
                                        const T* __restrict__ scale,
                                        const T* __restrict__ shift, T* __restrict__ y) {
  const i64 stride = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const i64 c = i % C;
    y[i] = x[i] * scale[c] + shift[c];
  }
}

template <class T>
__global__ void batchnorm_backward_apply_kernel(i64 n, i64 C, const T* __restrict__ x,
                                                const T* __restrict__ dy,
                                                const T* __restrict__ mean,
                                                const T* __restrict__ a,
                                                const T* __restrict__ b,
                                                const T* __restrict__ c0, T* __restrict__ dx) {
  const i64 stride = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const i64 c = i % C;
    dx[i] = a[c] * dy[i] + b[c] * (x[i] - mean[c]) + c0[c];
  }
}

// One stream-ordered scratch buffer carved into `doubles` doubles followed by `ts` T's.
template <class T>
struct Workspace {
  StreamScratch buffer;
  double* d;
  T* t;
  Workspace(i64 doubles, i64 ts, cudaStream_t stream, const char* where)
      : buffer(static_cast<std::size_t>(doubles) * sizeof(double) +
                   static_cast<std::size_t>(ts) * sizeof(T),
               stream, where),
        d(static_cast<double*>(buffer.get())),
        t(reinterpret_cast<T*>(d + doubles)) {}
};

unsigned channel_blocks(i64 C) { return grid_stride_blocks(C, kBlockThreads); }

}  // namespace

template <class T>
void batchnorm_forward_training(i64 rows, i64 C, const T* x, const T* gamma, const T* beta, T eps,
                                T* y, T* mean, T* var, cudaStream_t stream) {
  if (C <= 0) return;
  const i64 parts = row_parts(rows);
  const double inv_rows = rows > 0 ? 1.0 / static_cast<double>(rows) : 0.0;
  Workspace<T> ws(parts * C + C, 2 * C, stream, "batchnorm_forward_training");
  double* partial = ws.d;
  double* mu = ws.d + parts * C;
  T* scale = ws.t;
  T* shift = ws.t + C;
  column_partials<1>("column_partials_kernel (batchnorm sum)", rows, C, SumOp<T>{x, C}, partial,
                     stream);
  launch("batchnorm_mean_kernel", dim3(channel_blocks(C)), dim3(kBlockThreads), 0, stream,
         batchnorm_mean_kernel, partial, parts, C, inv_rows, mu);
  column_partials<1>("column_partials_kernel (batchnorm squared deviations)", rows, C,
                     SquaredDeviationOp<T>{x, mu, C}, partial, stream);
  launch("batchnorm_statistics_kernel", dim3(channel_blocks(C)), dim3(kBlockThreads), 0, stream,
         batchnorm_statistics_kernel<T>, partial, parts, C, inv_rows, mu, gamma, beta, eps, mean,
         var, scale, shift);
  launch("batchnorm_affine_kernel", dim3(grid_stride_blocks(rows * C, kBlockThreads)),
         dim3(kBlockThreads), 0, stream, batchnorm_affine_kernel<T>, rows * C, C, x, scale, shift,
         y);
}

template <class T>
void batchnorm_forward_inference(i64 rows, i64 C, const T* x, const T* gamma, const T* beta,
                                 const T* mean, const T* var, T eps, T* y, cudaStream_t stream) {
  if (C <= 0) return;
  Workspace<T> ws(0, 2 * C, stream, "batchnorm_forward_inference");
  T* scale = ws.t;
  T* shift = ws.t + C;
  launch("batchnorm_inference_kernel", dim3(channel_blocks(C)), dim3(kBlockThreads), 0, stream,
         batchnorm_inference_kernel<T>, C, gamma, beta, mean, var, eps, scale, shift);
  launch("batchnorm_affine_kernel", dim3(grid_stride_blocks(rows * C, kBlockThreads)),
         dim3(kBlockThreads), 0, stream, batchnorm_affine_kernel<T>, rows * C, C, x, scale, shift,
         y);
}

template <class T>
void batchnorm_backward(i64 rows, i64 C, const T* x, const T* gamma, const T* mean, const T* var,
                        T eps, const T* dy, bool training, T* dx, T* dgamma, T* dbeta,
                        cudaStream_t stream) {
  if (C <= 0) return;
  const i64 parts = row_parts(rows);
  const double inv_rows = rows > 0 ? 1.0 / static_cast<double>(rows) : 0.0;
  Workspace<T> ws(parts * 2 * C, 3 * C, stream, "batchnorm_backward");
  double* partial = ws.d;
  T* a = ws.t;
  T* b = ws.t + C;
  T* c0 = ws.t + 2 * C;
  column_partials<2>("column_partials_kernel (batchnorm backward sums)", rows, C,
                     BackwardSumsOp<T>{x, dy, mean, C}, partial, stream);
  launch("batchnorm_backward_coefficients_kernel", dim3(channel_blocks(C)), dim3(kBlockThreads),
         0, stream, batchnorm_backward_coefficients_kernel<T>, partial, parts, C, inv_rows,
         training, gamma, var, eps, dgamma, dbeta, a, b, c0);
  if (!dx) return;
  launch("batchnorm_backward_apply_kernel", dim3(grid_stride_blocks(rows * C, kBlockThreads)),
         dim3(kBlockThreads), 0, stream, batchnorm_backward_apply_kernel<T>, rows * C, C, x, dy,
         mean, a, b, c0, dx);
}

#define LAMINA_INSTANTIATE_BATCHNORM(T)                                                        \
  template void batchnorm_forward_training<T>(i64, i64, const T*, const T*, const T*, T, T*,   \
                                              T*, T*, cudaStream_t);                           \
  template void batchnorm_forward_inference<T>(i64, i64, const T*, const T*, const T*,         \
                                               const T*, const T*, T, T*, cudaStream_t);       \
  template void batchnorm_backward<T>(i64, i64, const T*, const T*, const T*, const T*, T,     \
                                      const T*, bool, T*, T*, T*, cudaStream_t);
LAMINA_INSTANTIATE_BATCHNORM(float)
LAMINA_INSTANTIATE_BATCHNORM(double)
#undef LAMINA_INSTANTIATE_BATCHNORM

}  // namespace lamina::cuda
