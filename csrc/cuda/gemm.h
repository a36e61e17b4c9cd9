// CUDA general matrix multiply, row-major, the twin of csrc/cpu/gemm.h:
//   C = alpha * op(A) * op(B) + beta * C
// op(A) is (M, K), op(B) is (K, N), C is (M, N); A is stored (M, K) with leading dimension lda,
// or (K, M) when trans_a; likewise B. Leading dimensions are in elements. C is written, never
// read, when beta == 0; K == 0 scales C by beta. All pointers are device memory; the work is
// queued on `stream` (nothing is synchronised). Throws std::runtime_error on a CUDA error.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace lamina::cuda {

template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, T alpha,
          const T* A, std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C,
          std::int64_t ldc, cudaStream_t stream);

// `batch` independent products; operand i starts at A + i * stride_a (and so on). A stride of 0
// shares one operand between all products.
template <class T>
void gemm_batched(bool trans_a, bool trans_b, std::int64_t batch, std::int64_t M, std::int64_t N,
                  std::int64_t K, T alpha, const T* A, std::int64_t lda, std::int64_t stride_a,
                  const T* B, std::int64_t ldb, std::int64_t stride_b, T beta, T* C,
                  std::int64_t ldc, std::int64_t stride_c, cudaStream_t stream);

}  // namespace lamina::cuda
