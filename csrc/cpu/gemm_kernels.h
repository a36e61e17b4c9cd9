// The per-ISA half of GEMM: register-blocked micro-kernels and their blocking sizes, one table per
// instruction set (csrc/cpu/simd/gemm_microkernels.cpp, compiled once per ISA). The portable
// driver (csrc/cpu/gemm.cpp) packs, blocks and threads around them.
//
// All matrices are row-major. A micro-kernel updates one tile of C, at most MR x NR:
//     C[i][j] = alpha * sum_k A(i, k) * B(k, j) + beta * C[i][j]     for i < m, j < n
// `packed` and `direct` accumulate k = 0, 1, ..., K-1 in that order with fused multiply-adds,
// then scale once (`dot` below splits the sum across vector lanes).
// C is never read when beta == 0. Rows i >= m and columns j >= n of C are never touched.
//
// packed:  A is an MR-row micro-panel, A(i, k) = a[k * MR + i], zero-padded to MR rows;
//          B(k, j) = b[k * ldb + j] for all NR columns (whole vectors are loaded): a packed
//          micro-panel (ldb = NR, zero-padded) or, for a product of few rows, B read in place
//          (ldb its leading dimension, only where all NR columns exist).
// packed_first: `packed` for the first tile of a row panel, with A read in place (A(i, k) =
//          a[i * rsa + k * csa], rows i < m only) and packed on the way: ap[k * MR + i] receives
//          A(i, k) for the tiles that follow (rows m..MR-1 of ap hold copies of row m - 1, read
//          only by tiles of the same m). Same sums in the same order as pack_a + packed. Null
//          where it does not pay (the driver then runs pack_a first).
// direct:  operands read in place: A(i, k) = a[i * rsa + k * csa] (both transposes through the
//          strides), B(k, j) = b[k * ldb + j] (unit stride along j). Reads only i < m, j < n, so
//          it is safe at the end of an array. Used for small products, where packing costs more
//          than it saves.
// dot:     for narrow C: m rows x n <= 4 columns, each element a dot product of an A row and a
//          row of Bt = B^T, both contiguous along k: A(i, k) = a[i * lda + k], B(k, j) =
//          bt[j * ldbt + k]; m is at most dot_rows / n. Vectorised along k, so the order of the
//          additions differs from `direct` (the sum is split across vector lanes); each element of
//          C still comes out the same whichever call or thread computes it.
// col:     for a narrow C with A transposed: m rows x n columns, kGemmColStreamMaxN < n <=
//          col_max_n (of the ISA's blocking), A(i, k) = a[k * lda + i] (vectors along i, down the
//          columns of C), B(k, j) = b[k * rsb + j * csb] (either transpose); m is at most
//          gemm_col_vectors(n) vectors of rows. Each element is one FMA chain over k in order;
//          the tile's C^T is transposed into C.
// col_stream: the same product for any m rows and n <= kGemmColStreamMaxN columns, in one pass
//          over A, which it reads whole along i, a few rows of the stored A at a time, against
//          accumulators kept in acc (m x n elements) between them. Each element is one FMA chain
//          over k in order.
// pack_a:  the mc x kc block of op(A) whose (0, 0) element is at `a` (A(i, k) = a[i * lda + k],
//          or a[k * lda + i] when trans) into ceil(mc / MR) packed A micro-panels, panel p at
//          dst + p * MR * kc, zero-padded to MR rows.
// pack_b:  the kc x nc block of op(B) at `b` (B(k, j) = b[k * ldb + j], or b[j * ldb + k] when
//          trans) into ceil(nc / NR) packed B micro-panels, panel p at dst + p * NR * kc.
// transpose_c: C (m x n) = T^T + beta C for T n x m (rows ldt apart): a transposed product's
//          scratch C^T into C; C is not read when beta == 0.
// Packing lives here, not in the portable driver, so that it runs with this ISA's vectors
// (in-register transposes for the strided cases).
#pragma once

#include <cstdint>

#include "common/isa.h"

namespace lamina {

// Column products (A transposed, a narrow C): up to kGemmColStreamMaxN columns streamed
// (col_stream), wider in column tiles (col) of gemm_col_vectors(n) vectors of rows: 10 to 16
// accumulators, enough to cover the FMA latency, and with the loaded A vectors at most 16
// vector registers up to 12 columns (AVX2's col_max_n; AVX-512 has 32 for 16).
constexpr int kGemmColStreamMaxN = 4;
constexpr int kGemmColMaxN = 16;
constexpr int gemm_col_vectors(int n) { return n <= 6 ? 2 : 1; }

// Register and cache blocking for one element type on one ISA (see the ISA file for why).
struct GemmBlocking {
  int mr, nr;      // packed micro-kernel tile
  int kc, mc, nc;  // cache blocks: KC x NR panel of B in L1, MC x KC block of A in L2, KC x NC in L3
  int dmr, dnr;    // direct micro-kernel tile
  int lanes;       // elements per vector
  int dot_unit;    // the direct kernel's narrowest vector (elements; 0: no dot kernel)
  int dot_max;     // the last N % dot_unit columns of C take the dot kernel when at most this many
  int dot_rows;    // rows of a one-column dot tile; n columns take dot_rows / n
  int col_max_n;   // the widest C of the column products (kGemmColStreamMaxN to kGemmColMaxN)
};

template <class T>
struct GemmKernelsOf {
  GemmBlocking blocking;
  void (*packed)(std::int64_t K, const T* a, const T* b, std::int64_t ldb, T* c, std::int64_t ldc,
                 int m, int n, T alpha, T beta);
  void (*packed_first)(std::int64_t K, const T* a, std::int64_t rsa, std::int64_t csa, T* ap,
                       const T* b, std::int64_t ldb, T* c, std::int64_t ldc, int m, int n,
                       T alpha, T beta);
  void (*direct)(std::int64_t K, const T* a, std::int64_t rsa, std::int64_t csa, const T* b,
                 std::int64_t ldb, T* c, std::int64_t ldc, int m, int n, T alpha, T beta);
  void (*dot)(std::int64_t K, const T* a, std::int64_t lda, const T* bt, std::int64_t ldbt, T* c,
              std::int64_t ldc, int m, int n, T alpha, T beta);
  void (*col)(std::int64_t K, const T* a, std::int64_t lda, const T* b, std::int64_t rsb,
              std::int64_t csb, T* c, std::int64_t ldc, int m, int n, T alpha, T beta);
  void (*col_stream)(std::int64_t K, const T* a, std::int64_t lda, const T* b, std::int64_t rsb,
                     std::int64_t csb, T* c, std::int64_t ldc, std::int64_t m, int n, T alpha,
                     T beta, T* acc);
  void (*pack_a)(bool trans, const T* a, std::int64_t lda, std::int64_t mc, std::int64_t kc,
                 T* dst);
  void (*pack_b)(bool trans, const T* b, std::int64_t ldb, std::int64_t kc, std::int64_t nc,
                 T* dst);
  void (*transpose_c)(std::int64_t m, std::int64_t n, const T* t, std::int64_t ldt, T beta, T* c,
                      std::int64_t ldc);
};

struct GemmKernels {
  GemmKernelsOf<float> f32;
  GemmKernelsOf<double> f64;
  GemmKernelsOf<double> f64_wide;  // an alternative double tile (gemm.cpp chooses per CPU)
};

}  // namespace lamina

LAMINA_DECLARE_KERNEL_TABLE(::lamina::GemmKernels, gemm_kernels)
