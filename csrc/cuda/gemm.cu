// SGEMM/DGEMM: one tiled shared-memory kernel with register blocking.
//
// Tiling: a block of 256 threads computes a 128 x 128 tile of C, walking K in steps of 8. Per
// step it stages op(A)[128 x 8] and op(B)[8 x 128] in shared memory (zero-filled past the edges,
// so edge tiles need no special path) and each thread accumulates an 8 x 8 sub-tile in
// registers. Thread (ty, tx) of the 16 x 16 grid owns rows ty + 16 i and columns tx + 16 j
// (i, j < 8): the 16 threads of a half-warp then read 16 consecutive floats of a shared row
// (no bank conflicts) and write 16 consecutive elements of C.
// The transposes are template parameters: each layout reads global memory along its
// contiguous axis when staging a tile.
//
// This is the plain, obviously-correct version (the classic 128x128x8 / 8x8 scheme). Not done
// yet, for a tuning session with a GPU: double-buffered tiles (cp.async on sm_80+), float4
// global and shared loads, a smaller tile for skinny shapes (dense layers with 10 units use
// 1/13 of a 128-wide tile), split-K for K >> M N, tensor cores (TF32/BF16).
#include "cuda/gemm.h"
#include "cuda/launch.h"

namespace lamina::cuda {

namespace {

using i64 = std::int64_t;

constexpr int kTileM = 128, kTileN = 128, kTileK = 8;
constexpr int kThreadM = 8, kThreadN = 8;
constexpr int kGridX = kTileN / kThreadN;       // 16 threads across the tile
constexpr int kGridY = kTileM / kThreadM;       // 16 threads down the tile
constexpr int kGemmThreads = kGridX * kGridY;   // 256
static_assert(kTileM * kTileK % kGemmThreads == 0 && kTileN * kTileK % kGemmThreads == 0,
              "every thread stages the same number of elements");
constexpr unsigned kMaxGridYZ = 65535;

// Grid: x = ceil(M / 128) row tiles, y = ceil(N / 128) column tiles, z = products of the batch
// (batch_offset + blockIdx.z is the product index). Block: 256 threads.
template <class T, bool TransA, bool TransB>
__global__ void __launch_bounds__(kGemmThreads)
    gemm_kernel(i64 M, i64 N, i64 K, T alpha, const T* __restrict__ A, i64 lda, i64 stride_a,
                const T* __restrict__ B, i64 ldb, i64 stride_b, T beta, T* __restrict__ C,
                i64 ldc, i64 stride_c, i64 batch_offset) {
  const i64 z = batch_offset + blockIdx.z;
  A += z * stride_a;
  B += z * stride_b;
  C += z * stride_c;
  const i64 m0 = static_cast<i64>(blockIdx.x) * kTileM;
  const i64 n0 = static_cast<i64>(blockIdx.y) * kTileN;

  __shared__ T As[kTileK][kTileM];  // As[k][m] = op(A)[m0 + m][k0 + k]
  __shared__ T Bs[kTileK][kTileN];  // Bs[k][n] = op(B)[k0 + k][n0 + n]

  const int tid = threadIdx.x;
  const int tx = tid % kGridX, ty = tid / kGridX;
  T acc[kThreadM][kThreadN];
#pragma unroll
  for (int i = 0; i < kThreadM; ++i) {
#pragma unroll
    for (int j = 0; j < kThreadN; ++j) acc[i][j] = T(0);
  }

  for (i64 k0 = 0; k0 < K; k0 += kTileK) {
#pragma unroll
    for (int s = 0; s < kTileM * kTileK / kGemmThreads; ++s) {
      const int idx = tid + s * kGemmThreads;  // < 1024
      // Consecutive threads take consecutive elements of A's stored rows.
      const int m = TransA ? idx % kTileM : idx / kTileK;  // < 128
      const int k = TransA ? idx / kTileM : idx % kTileK;  // < 8
      const i64 gm = m0 + m, gk = k0 + k;
      T v = T(0);
      if (gm < M && gk < K) v = TransA ? A[gk * lda + gm] : A[gm * lda + gk];
      As[k][m] = v;
    }
#pragma unroll
    for (int s = 0; s < kTileN * kTileK / kGemmThreads; ++s) {
      const int idx = tid + s * kGemmThreads;  // < 1024
      const int n = TransB ? idx / kTileK : idx % kTileN;  // < 128
      const int k = TransB ? idx % kTileK : idx / kTileN;  // < 8
      const i64 gk = k0 + k, gn = n0 + n;
      T v = T(0);
      if (gk < K && gn < N) v = TransB ? B[gn * ldb + gk] : B[gk * ldb + gn];
      Bs[k][n] = v;
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < kTileK; ++k) {
      T a[kThreadM], b[kThreadN];
#pragma unroll
      for (int i = 0; i < kThreadM; ++i) a[i] = As[k][ty + kGridY * i];
#pragma unroll
      for (int j = 0; j < kThreadN; ++j) b[j] = Bs[k][tx + kGridX * j];
#pragma unroll
      for (int i = 0; i < kThreadM; ++i) {
#pragma unroll
        for (int j = 0; j < kThreadN; ++j) acc[i][j] += a[i] * b[j];
      }
    }
    __syncthreads();  // the tiles are overwritten by the next step
  }

#pragma unroll
  for (int i = 0; i < kThreadM; ++i) {
    const i64 m = m0 + ty + kGridY * i;
    if (m >= M) continue;
#pragma unroll
    for (int j = 0; j < kThreadN; ++j) {
      const i64 n = n0 + tx + kGridX * j;
      if (n >= N) continue;
      T* c = C + m * ldc + n;
      *c = beta == T(0) ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *c;
    }
  }
}

template <class T, bool TransA, bool TransB>
void launch_gemm(i64 batch, i64 M, i64 N, i64 K, T alpha, const T* A, i64 lda, i64 stride_a,
                 const T* B, i64 ldb, i64 stride_b, T beta, T* C, i64 ldc, i64 stride_c,
                 cudaStream_t stream) {
  const i64 tiles_m = (M + kTileM - 1) / kTileM;
  const i64 tiles_n = (N + kTileN - 1) / kTileN;
  if (tiles_m > 0x7fffffff || tiles_n > kMaxGridYZ) {
    throw std::runtime_error("[gemm] C of shape (" + std::to_string(M) + ", " +
                             std::to_string(N) + ") is too large for one launch (at most " +
                             std::to_string(kMaxGridYZ * kTileN) + " columns)");
  }
  for (i64 z0 = 0; z0 < batch; z0 += kMaxGridYZ) {
    const i64 products = batch - z0 < kMaxGridYZ ? batch - z0 : kMaxGridYZ;
    const dim3 grid(static_cast<unsigned>(tiles_m), static_cast<unsigned>(tiles_n),
                    static_cast<unsigned>(products));
    launch("gemm_kernel", grid, dim3(kGemmThreads), 0, stream, gemm_kernel<T, TransA, TransB>,
           M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b, beta, C, ldc, stride_c, z0);
  }
}

}  // namespace

template <class T>
void gemm_batched(bool trans_a, bool trans_b, i64 batch, i64 M, i64 N, i64 K, T alpha,
                  const T* A, i64 lda, i64 stride_a, const T* B, i64 ldb, i64 stride_b, T beta,
                  T* C, i64 ldc, i64 stride_c, cudaStream_t stream) {
  if (batch <= 0 || M <= 0 || N <= 0) return;
  if (trans_a) {
    if (trans_b) {
      launch_gemm<T, true, true>(batch, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b, beta,
                                 C, ldc, stride_c, stream);
    } else {
      launch_gemm<T, true, false>(batch, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b,
                                  beta, C, ldc, stride_c, stream);
    }
  } else if (trans_b) {
    launch_gemm<T, false, true>(batch, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b, beta,
                                C, ldc, stride_c, stream);
  } else {
    launch_gemm<T, false, false>(batch, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b, beta,
                                 C, ldc, stride_c, stream);
  }
}

template <class T>
void gemm(bool trans_a, bool trans_b, i64 M, i64 N, i64 K, T alpha, const T* A, i64 lda,
          const T* B, i64 ldb, T beta, T* C, i64 ldc, cudaStream_t stream) {
  gemm_batched<T>(trans_a, trans_b, 1, M, N, K, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0,
                  stream);
}

template void gemm<float>(bool, bool, i64, i64, i64, float, const float*, i64, const float*, i64,
                          float, float*, i64, cudaStream_t);
template void gemm<double>(bool, bool, i64, i64, i64, double, const double*, i64, const double*,
                           i64, double, double*, i64, cudaStream_t);
template void gemm_batched<float>(bool, bool, i64, i64, i64, i64, float, const float*, i64, i64,
                                  const float*, i64, i64, float, float*, i64, i64, cudaStream_t);
template void gemm_batched<double>(bool, bool, i64, i64, i64, i64, double, const double*, i64,
                                   i64, const double*, i64, i64, double, double*, i64, i64,
                                   cudaStream_t);

}  // namespace lamina::cuda
