// GEMM driver (contract in gemm.h): a GotoBLAS / BLIS-style blocked product around the per-ISA
// micro-kernels of csrc/cpu/simd/gemm_microkernels.cpp (tile sizes and blocking in
// csrc/cpu/gemm_kernels.h and that file).
//
// Two paths, chosen by shape only (never by the thread count):
//  - direct, for small products (the layers of a small model: 32x64x64 and the like): no
//    packing, the micro-kernel reads A in place through row/column strides (either transpose)
//    and B rows in place; a transposed B is first copied to a K x N row-major scratch (K*N
//    element moves against M*N*K multiply-adds).
//  - packed, for everything else: for each NC-wide column block and KC-deep slice of B, the
//    threads pack the KC x NC block of B together (NR-column micro-panels, in L3), then each
//    packs its own MC x KC blocks of A (MR-row micro-panels, in its private L2) and runs the
//    micro-kernel over its tiles; the KC x NR micro-panel of B stays in L1 across the MR tiles.
//
// Threads: one OpenMP region per call, entered only above kParallelGemmFlops. The threads form a
// tm x tn grid over tiles of C (rows split in whole MR tiles, columns in whole NR micro-panels),
// so a wide-and-short product splits its columns and a tall one its rows.
//
// Determinism: the tiles of C are the same MR x NR tiles whatever the thread count (the splits
// fall on tile boundaries), and every tile is computed by the same micro-kernel call sequence:
// k in order within each KC slice, KC slices in order, alpha and beta applied the same way. So
// results are bitwise identical for 1, 2 or any number of threads (tests/test_gemm.py checks it).
#include "cpu/gemm.h"

#include <algorithm>
#include <cstdlib>
#include <new>

#include "common/parallel.h"
#include "cpu/gemm_kernels.h"

namespace lamina {

namespace {

// Below this many flops (2 M N K) a product runs on the calling thread: ~2 MFLOP is ~20 us on one
// core, where a fork/join (0.6 us hot, 40 us cold) stops paying for itself.
constexpr std::int64_t kParallelGemmFlops = 2000000;
// Products with at most this many multiply-adds (M N K, ~100^3) take the direct path: measured on
// the dev machine, it beats packing up to about 200^3 on one thread (packing A and B is M K + K N
// moves that the direct kernel skips), but it is single-threaded, so it stops where threads start.
constexpr std::int64_t kDirectMaxMacs = kParallelGemmFlops / 2;

template <class T>
const GemmKernelsOf<T>& kernels_for();
template <>
const GemmKernelsOf<float>& kernels_for<float>() { return LAMINA_KERNEL_TABLE(gemm_kernels).f32; }
template <>
const GemmKernelsOf<double>& kernels_for<double>() { return LAMINA_KERNEL_TABLE(gemm_kernels).f64; }

// A grow-only, 64-byte aligned scratch buffer, one per thread (packing buffers and the transposed
// B of the direct path); never shrinks, freed at thread exit.
struct Scratch {
  void* data = nullptr;
  std::size_t bytes = 0;
  ~Scratch() { std::free(data); }
  template <class T>
  T* get(std::int64_t count) {
    const std::size_t need = (static_cast<std::size_t>(count) * sizeof(T) + 63) & ~std::size_t{63};
    if (need > bytes) {
      std::free(data);
      data = std::aligned_alloc(64, need);
      if (!data) throw std::bad_alloc();
      bytes = need;
    }
    return static_cast<T*>(data);
  }
};
thread_local Scratch tls_pack_a;  // MC x KC block of A (per thread)
thread_local Scratch tls_pack_b;  // KC x NC block of B (owned by the calling thread, shared)

template <class T>
void scale_c(std::int64_t M, std::int64_t N, T beta, T* C, std::int64_t ldc) {
  for (std::int64_t i = 0; i < M; ++i) {
    T* c = C + i * ldc;
    if (beta == T(0)) {
      std::fill(c, c + N, T(0));
    } else if (beta != T(1)) {
      for (std::int64_t j = 0; j < N; ++j) c[j] *= beta;
    }
  }
}

// Packs rows [i0, i0 + mc) x columns [p0, p0 + kc) of op(A) into MR-row micro-panels,
// A(i, k) at dst[panel * kc * MR + k * MR + i], zero-padding the last panel.
template <class T>
void pack_a(bool trans_a, const T* A, std::int64_t lda, std::int64_t i0, std::int64_t mc,
            std::int64_t p0, std::int64_t kc, int MR, T* dst) {
  for (std::int64_t ip = 0; ip < mc; ip += MR) {
    const int m = static_cast<int>(std::min<std::int64_t>(MR, mc - ip));
    T* d = dst + ip * kc;
    if (trans_a) {  // A stored (K, M): op(A)(i, k) = A[k * lda + i], rows of the panel contiguous
      const T* s = A + p0 * lda + i0 + ip;
      for (std::int64_t k = 0; k < kc; ++k) {
        const T* sk = s + k * lda;
        T* dk = d + k * MR;
        for (int i = 0; i < m; ++i) dk[i] = sk[i];
        for (int i = m; i < MR; ++i) dk[i] = T(0);
      }
    } else {  // A stored (M, K): read each row once, scatter with stride MR
      for (int i = 0; i < m; ++i) {
        const T* si = A + (i0 + ip + i) * lda + p0;
        for (std::int64_t k = 0; k < kc; ++k) d[k * MR + i] = si[k];
      }
      for (int i = m; i < MR; ++i) {
        for (std::int64_t k = 0; k < kc; ++k) d[k * MR + i] = T(0);
      }
    }
  }
}

// Packs NR-column micro-panels [panel0, panel1) of the block rows [p0, p0 + kc) x columns
// [j0, j0 + nc) of op(B): B(k, j) at dst[panel * kc * NR + k * NR + j], zero-padded.
template <class T>
void pack_b(bool trans_b, const T* B, std::int64_t ldb, std::int64_t p0, std::int64_t kc,
            std::int64_t j0, std::int64_t nc, int NR, std::int64_t panel0, std::int64_t panel1,
            T* dst) {
  for (std::int64_t p = panel0; p < panel1; ++p) {
    const std::int64_t jp = p * NR;
    const int n = static_cast<int>(std::min<std::int64_t>(NR, nc - jp));
    T* d = dst + jp * kc;
    if (!trans_b) {  // B stored (K, N): each k row of the panel is a contiguous run
      const T* s = B + p0 * ldb + j0 + jp;
      for (std::int64_t k = 0; k < kc; ++k) {
        const T* sk = s + k * ldb;
        T* dk = d + k * NR;
        for (int j = 0; j < n; ++j) dk[j] = sk[j];
        for (int j = n; j < NR; ++j) dk[j] = T(0);
      }
    } else {  // B stored (N, K): op(B)(k, j) = B[j * ldb + k]
      for (int j = 0; j < n; ++j) {
        const T* sj = B + (j0 + jp + j) * ldb + p0;
        for (std::int64_t k = 0; k < kc; ++k) d[k * NR + j] = sj[k];
      }
      for (int j = n; j < NR; ++j) {
        for (std::int64_t k = 0; k < kc; ++k) d[k * NR + j] = T(0);
      }
    }
  }
}

// [begin, end) of `parts` near-equal chunks of `units` units of `unit` elements, clamped to `total`.
inline void split_units(std::int64_t units, std::int64_t unit, std::int64_t total, int parts,
                        int part, std::int64_t* begin, std::int64_t* end) {
  *begin = std::min(total, units * part / parts * unit);
  *end = std::min(total, units * (part + 1) / parts * unit);
}

// The tm x tn thread grid (tm * tn == threads) whose per-thread block of C is the most square
// in tiles, so that neither dimension is cut into slivers.
inline void thread_grid(std::int64_t M, std::int64_t N, int MR, int NR, int threads, int* tm,
                        int* tn) {
  const double mt = static_cast<double>((M + MR - 1) / MR) * MR;
  const double nt = static_cast<double>((N + NR - 1) / NR) * NR;
  double best = -1;
  for (int a = 1; a <= threads; ++a) {
    if (threads % a) continue;
    const int b = threads / a;
    const double rows = mt / a, cols = nt / b;
    if (rows < MR || cols < NR) continue;
    const double score = std::min(rows, cols) / std::max(rows, cols);
    if (score > best) { best = score; *tm = a; *tn = b; }
  }
  if (best < 0) { *tm = M >= N ? threads : 1; *tn = threads / *tm; }
}

template <class T>
void gemm_direct(const GemmKernelsOf<T>& kern, bool trans_a, bool trans_b, std::int64_t M,
                 std::int64_t N, std::int64_t K, T alpha, const T* A, std::int64_t lda,
                 const T* B, std::int64_t ldb, T beta, T* C, std::int64_t ldc) {
  const int MR = kern.blocking.dmr, NR = kern.blocking.dnr;
  // A transposed B (stored N x K) is copied into K x NR column panels (the packed layout, whose
  // rows are NR apart): K*N moves against M*N*K multiply-adds, and no large-stride writes.
  const T* panels = nullptr;
  if (trans_b) {
    T* buf = tls_pack_b.get<T>(K * ((N + NR - 1) / NR) * NR);
    pack_b(trans_b, B, ldb, 0, K, 0, N, NR, 0, (N + NR - 1) / NR, buf);
    panels = buf;
  }
  const std::int64_t rsa = trans_a ? 1 : lda, csa = trans_a ? lda : 1;
  // Column panels outside, row tiles inside: the K x NR panel of B stays in L1 across them.
  for (std::int64_t j = 0; j < N; j += NR) {
    const int n = static_cast<int>(std::min<std::int64_t>(NR, N - j));
    const T* bj = panels ? panels + j * K : B + j;
    const std::int64_t ldbj = panels ? NR : ldb;
    for (std::int64_t i = 0; i < M; i += MR) {
      const int m = static_cast<int>(std::min<std::int64_t>(MR, M - i));
      kern.direct(K, A + i * rsa, rsa, csa, bj, ldbj, C + i * ldc + j, ldc, m, n, alpha, beta);
    }
  }
}

template <class T>
void gemm_packed(const GemmKernelsOf<T>& kern, int threads, bool trans_a, bool trans_b,
                 std::int64_t M, std::int64_t N, std::int64_t K, T alpha, const T* A,
                 std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C, std::int64_t ldc) {
  const GemmBlocking& bl = kern.blocking;
  const int MR = bl.mr, NR = bl.nr;
  const std::int64_t KC = bl.kc, MC = bl.mc, NC = std::min<std::int64_t>(bl.nc, (N + NR - 1) / NR * NR);
  T* packed_b = tls_pack_b.get<T>(KC * NC);
  int tm = 1, tn = 1;
  if (threads > 1) thread_grid(M, N, MR, NR, threads, &tm, &tn);

  auto body = [&](int tid, int nt) {
    const int ti = tid % tm, tj = tid / tm;
    std::int64_t m0, m1;
    split_units((M + MR - 1) / MR, MR, M, tm, ti, &m0, &m1);
    T* packed_a = tls_pack_a.get<T>(MC * KC);
    for (std::int64_t jc = 0; jc < N; jc += NC) {
      const std::int64_t nc = std::min(NC, N - jc);
      const std::int64_t panels = (nc + NR - 1) / NR;
      std::int64_t q0, q1;  // this thread's micro-panels of B for the kernel loop
      split_units(panels, 1, panels, tn, tj, &q0, &q1);
      for (std::int64_t pc = 0; pc < K; pc += KC) {
        const std::int64_t kc = std::min(KC, K - pc);
        const T beta_k = pc == 0 ? beta : T(1);
        std::int64_t b0, b1;  // this thread's share of the packing
        split_units(panels, 1, panels, nt, tid, &b0, &b1);
        pack_b(trans_b, B, ldb, pc, kc, jc, nc, NR, b0, b1, packed_b);
        if (nt > 1) {
#pragma omp barrier
        }
        for (std::int64_t ic = m0; ic < m1; ic += MC) {
          const std::int64_t mc = std::min(MC, m1 - ic);
          pack_a(trans_a, A, lda, ic, mc, pc, kc, MR, packed_a);
          for (std::int64_t q = q0; q < q1; ++q) {
            const std::int64_t jr = q * NR;
            const int n = static_cast<int>(std::min<std::int64_t>(NR, nc - jr));
            const T* bp = packed_b + jr * kc;
            T* cj = C + ic * ldc + jc + jr;
            for (std::int64_t ir = 0; ir < mc; ir += MR) {
              const int m = static_cast<int>(std::min<std::int64_t>(MR, mc - ir));
              kern.packed(kc, packed_a + ir * kc, bp, cj + ir * ldc, ldc, m, n, alpha, beta_k);
            }
          }
        }
        if (nt > 1) {  // nobody repacks B while another thread still reads it
#pragma omp barrier
        }
      }
    }
  };

  if (threads <= 1) {
    body(0, 1);
    return;
  }
#pragma omp parallel num_threads(threads)
  body(omp_get_thread_num(), omp_get_num_threads());
}

// Threads a product may use: called from inside a parallel region (a caller threading over
// images, say) the nested team would have one thread, so the product runs on the calling thread
// instead of sizing a thread grid that nobody would fill.
inline int available_threads() { return omp_in_parallel() ? 1 : max_threads(); }

// The direct path wins while packing would cost a sizeable share of the multiply-adds.
inline bool use_direct(std::int64_t M, std::int64_t N, std::int64_t K) {
  return M * N * K <= kDirectMaxMacs;
}

// One product on at most `max_threads` threads.
template <class T>
void gemm_one(int max_threads_, bool trans_a, bool trans_b, std::int64_t M, std::int64_t N,
              std::int64_t K, T alpha, const T* A, std::int64_t lda, const T* B, std::int64_t ldb,
              T beta, T* C, std::int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == T(0)) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  const GemmKernelsOf<T>& kern = kernels_for<T>();
  if (use_direct(M, N, K)) {
    gemm_direct(kern, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  const int threads = 2 * M * N * K < kParallelGemmFlops ? 1 : max_threads_;
  gemm_packed(kern, threads, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace

template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, T alpha,
          const T* A, std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C,
          std::int64_t ldc) {
  gemm_one<T>(available_threads(), trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C,
              ldc);
}

// Small products run one per thread over the batch (no parallel region per product); large ones
// run one after the other, each threaded. Either way each product is computed exactly as gemm()
// would compute it alone, so results do not depend on the batch split.
template <class T>
void gemm_batched(bool trans_a, bool trans_b, std::int64_t batch, std::int64_t M, std::int64_t N,
                  std::int64_t K, T alpha, const T* A, std::int64_t lda, std::int64_t stride_a,
                  const T* B, std::int64_t ldb, std::int64_t stride_b, T beta, T* C,
                  std::int64_t ldc, std::int64_t stride_c) {
  if (batch <= 0) return;
  const std::int64_t flops = 2 * M * N * std::max<std::int64_t>(K, 1);
  auto one = [&](std::int64_t p, int threads) {
    gemm_one<T>(threads, trans_a, trans_b, M, N, K, alpha, A + p * stride_a, lda,
                B + p * stride_b, ldb, beta, C + p * stride_c, ldc);
  };
  if (flops >= kParallelGemmFlops || batch == 1) {
    for (std::int64_t p = 0; p < batch; ++p) one(p, available_threads());
    return;
  }
  parallel_for(batch, flops * batch, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) one(p, 1);
  });
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
