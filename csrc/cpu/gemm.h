// General matrix multiply, row-major:  C = alpha * op(A) * op(B) + beta * C.
//
// Shapes: op(A) is (M, K), op(B) is (K, N), C is (M, N). A is stored (M, K) with leading
// dimension lda, or (K, M) when trans_a; likewise B is (K, N) or (N, K) when trans_b. Leading
// dimensions are in elements and at least the stored row length.
// C is written, never read, when beta == 0 (a NaN-filled C does not leak). K == 0 scales C by beta.
// Every caller in lamina (dense, convolution, recurrent) goes through these two entry points.
#pragma once

#include <cstdint>
#include <vector>

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

// A right-hand operand packed once for many products that share it: a recurrent kernel is one
// matrix for every timestep of a sequence. gemm_pack_b copies op(B) (K x N) into the column
// panels of the micro-kernels (K x NR each, zero-padded: the layout the packed path builds at
// every call); gemm_prepacked then computes C = alpha * A @ op(B) + beta * C for any A (M x K,
// read in place, row stride lda) without touching B's layout again. Packing is K * N moves, a
// product M * N * K multiply-adds: it pays from a few products of the same B on.
// A PackedB remembers the kernel table it was packed for (its panel width) and keeps using it,
// even if the active instruction set changes afterwards. Products of one PackedB may run
// concurrently (it is only read).
template <class T>
class PackedB {
 public:
  std::int64_t rows() const { return k_; }  // K
  std::int64_t cols() const { return n_; }  // N
  std::int64_t panel_width() const { return nr_; }  // columns per panel (gemm_prepacked_panels)
  std::int64_t panels() const { return nr_ > 0 ? (n_ + nr_ - 1) / nr_ : 0; }

 private:
  template <class U>
  friend void gemm_pack_b(bool, std::int64_t, std::int64_t, const U*, std::int64_t, PackedB<U>*);
  template <class U>
  friend void gemm_prepacked(std::int64_t, U, const U*, std::int64_t, const PackedB<U>&, U, U*,
                             std::int64_t);
  template <class U>
  friend void gemm_prepacked_panels(std::int64_t, std::int64_t, std::int64_t, U, const U*,
                                    std::int64_t, const PackedB<U>&, U, U*, std::int64_t);
  std::int64_t k_ = 0, n_ = 0, nr_ = 0;
  const void* kernels_ = nullptr;  // the GemmKernelsOf<T> it was packed for
  std::vector<T> panels_;          // ceil(N / NR) panels, panel p at p * NR * K
};

template <class T>
void gemm_pack_b(bool trans_b, std::int64_t K, std::int64_t N, const T* B, std::int64_t ldb,
                 PackedB<T>* packed);

// Threads itself over column panels when called outside a parallel region and large enough;
// results do not depend on the thread count.
template <class T>
void gemm_prepacked(std::int64_t M, T alpha, const T* A, std::int64_t lda, const PackedB<T>& B,
                    T beta, T* C, std::int64_t ldc);

// The same product restricted to the columns of panels [p0, p1) of B (columns p0 * NR up to
// min(N, p1 * NR), NR = B.panel_width()), on the calling thread: for callers that split one
// product's columns across their own threads. C points at column 0, as for gemm_prepacked; each
// element is computed exactly as gemm_prepacked computes it.
template <class T>
void gemm_prepacked_panels(std::int64_t p0, std::int64_t p1, std::int64_t M, T alpha, const T* A,
                           std::int64_t lda, const PackedB<T>& B, T beta, T* C, std::int64_t ldc);

// The algorithm gemm() runs for a product of this shape (alpha != 0) with A's rows lda apart, on
// the active instruction set: "direct", "packed", "column stream", "column tiles", "transposed"
// (csrc/cpu/gemm.cpp), or "scale" (an empty product: C = beta C). Never depends on the thread
// count. For tests, which check that their shapes reach the path they are meant for, and for
// benchmarks.
template <class T>
const char* gemm_path(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K,
                      std::int64_t lda);

// The double micro-tile in use: wide (8 x 24 on AVX-512) or standard (12 x 16). Chosen at load
// from the CPU (wide on AMD); switching it is for tests and benchmarks, not thread-safe against
// running products.
void set_gemm_f64_wide(bool wide);
bool gemm_f64_wide();

}  // namespace lamina
