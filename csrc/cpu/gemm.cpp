// Placeholder GEMM: correct and threaded, not yet blocked or vectorised (see gemm.h for the
// contract). The BLIS-style packed kernel replaces this file behind the same entry points.
#include "cpu/gemm.h"

#include "common/parallel.h"

namespace lamina {

template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, T alpha,
          const T* A, std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C,
          std::int64_t ldc) {
  parallel_for(M, 2 * M * N * K, [&](std::int64_t m0, std::int64_t m1) {
    for (std::int64_t i = m0; i < m1; ++i) {
      T* c = C + i * ldc;
      for (std::int64_t j = 0; j < N; ++j) c[j] = beta == T(0) ? T(0) : beta * c[j];
      for (std::int64_t k = 0; k < K; ++k) {
        const T a = alpha * (trans_a ? A[k * lda + i] : A[i * lda + k]);
        if (trans_b) {
          for (std::int64_t j = 0; j < N; ++j) c[j] += a * B[j * ldb + k];
        } else {
          const T* b = B + k * ldb;
          for (std::int64_t j = 0; j < N; ++j) c[j] += a * b[j];
        }
      }
    }
  });
}

template <class T>
void gemm_batched(bool trans_a, bool trans_b, std::int64_t batch, std::int64_t M, std::int64_t N,
                  std::int64_t K, T alpha, const T* A, std::int64_t lda, std::int64_t stride_a,
                  const T* B, std::int64_t ldb, std::int64_t stride_b, T beta, T* C,
                  std::int64_t ldc, std::int64_t stride_c) {
  for (std::int64_t p = 0; p < batch; ++p) {
    gemm<T>(trans_a, trans_b, M, N, K, alpha, A + p * stride_a, lda, B + p * stride_b, ldb, beta,
            C + p * stride_c, ldc);
  }
}

#define LAMINA_INSTANTIATE_GEMM(T)                                                              \
  template void gemm<T>(bool, bool, std::int64_t, std::int64_t, std::int64_t, T, const T*,     \
                        std::int64_t, const T*, std::int64_t, T, T*, std::int64_t);             \
  template void gemm_batched<T>(bool, bool, std::int64_t, std::int64_t, std::int64_t,          \
                                std::int64_t, T, const T*, std::int64_t, std::int64_t,         \
                                const T*, std::int64_t, std::int64_t, T, T*, std::int64_t,     \
                                std::int64_t);
LAMINA_INSTANTIATE_GEMM(float)
LAMINA_INSTANTIATE_GEMM(double)
#undef LAMINA_INSTANTIATE_GEMM

}  // namespace lamina
