// General matrix multiply, row-major:  C = alpha * op(A) * op(B) + beta * C.
//
// Shapes: op(A) is (M, K), op(B) is (K, N), C is (M, N). A is stored (M, K) with leading
// dimension lda, or (K, M) when trans_a; likewise B is (K, N) or (N, K) when trans_b. Leading
// dimensions are in elements and at least the stored row length.
// C is written, never read, when beta == 0 (a NaN-filled C does not leak). K == 0 scales C by beta.
// Every caller in lamina (dense, convolution, recurrent) goes through these two entry points.
#pragma once

#include <cstdint>

namespace lamina {

template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, T alpha,
          const T* A, std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C,
          std::int64_t ldc);

// `batch` independent products; operand i starts at A + i * stride_a (and so on). A stride of 0
// reuses one operand for every product (e.g. shared weights).
template <class T>
void gemm_batched(bool trans_a, bool trans_b, std::int64_t batch, std::int64_t M, std::int64_t N,
                  std::int64_t K, T alpha, const T* A, std::int64_t lda, std::int64_t stride_a,
                  const T* B, std::int64_t ldb, std::int64_t stride_b, T beta, T* C,
                  std::int64_t ldc, std::int64_t stride_c);

// The double micro-tile in use: wide (8 x 24 on AVX-512) or standard (12 x 16). Chosen at load
// from the CPU (wide on AMD); switching it is for tests and benchmarks, not thread-safe against
// running products.
void set_gemm_f64_wide(bool wide);
bool gemm_f64_wide();

}  // namespace lamina
