// GEMM driver (contract in gemm.h): a GotoBLAS / BLIS-style blocked product around the per-ISA
// micro-kernels of csrc/cpu/simd/gemm_microkernels.cpp (tile sizes and blocking in
// csrc/cpu/gemm_kernels.h and that file).
//
// Two paths, chosen by shape only (never by the thread count):
//  - direct, for small products (the layers of a small model: 32x64x64 and the like) and for a
//    narrow C at any size (an output layer: 256x10x512; a tall C of up to 128 float columns):
//    no packing, the micro-kernel reads A in place through row/column strides (either
//    transpose) and B rows in place; a transposed B is first copied to K x NR panels (K*N
//    element moves against M*N*K multiply-adds). The last one or two columns of a C that is not
//    a whole number of half vectors wide are dot products (the dot tiles: A rows against B
//    columns, vectorised along k). Two variants compute C's transpose instead: a transposed A
//    and a C of 1 to 16 columns take the column products (vectors down the columns of C,
//    use_col_tiles), and a transposed B with few rows of C runs as C^T = op(B)^T op(A)^T
//    (gemm_transposed).
//  - packed, for everything else: for each NC-wide column block and KC-deep slice of B, pack the
//    KC x NC block of B (NR-column micro-panels, in L2/L3), then for each MC x KC block of A pack
//    it (MR-row micro-panels, in L2) and run the micro-kernel over its tiles; the KC x NR
//    micro-panel of B stays in L1 across the MR tiles. Packing is per-ISA code (in-register
//    transposes for A and for a transposed B), next to the micro-kernels. Where the ISA's table
//    has a packed_first tile (the wide double tile), the first column panel's tiles pack A's
//    panels on the way, reading A in place, instead of a packing pass of its own.
//
// Threads: one OpenMP region per call, entered only above kParallelGemmFlops. The threads form a
// tm x tn grid over tiles of C (rows split in whole MR tiles, columns in whole NR micro-panels)
// and each runs the single-thread algorithm on its block with its own packing buffers: no
// barriers, at the price of packing A tn times or B tm times (the grid picks the cheaper).
// An earlier version packed B cooperatively with two barriers per KC x NC block; on this 2-core
// shared VM a preempted thread turned each barrier into a scheduler-slice wait.
//
// Determinism: every element of C is one FMA chain over k in order within each KC slice, the KC
// slices in order, alpha and beta applied the same way, whichever tile or thread computes it. So
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
// moves that the direct kernel skips); above ~100^3 the packed path's blocking wins on 2 threads.
constexpr std::int64_t kDirectMaxMacs = kParallelGemmFlops / 2;
// The direct path itself splits across threads from here (64^3 is 0.52 MFLOP, ~5 us on one
// core). Measured on the 2-core Zen 4 dev machine in a quiet moment: 64^3 float 103 -> 147
// GFLOP/s, double 53 -> 77-84 on two threads. Below it stay the products of a small model's
// step (32x64x64 is 0.26 MFLOP): threading those made the digits MLP's fit step slower
// (67-70 -> 101-110 us per step), while with this threshold it is unchanged (69-71 us). A busy
// second core still turns any fork/join into a wait for a scheduler slice.
constexpr std::int64_t kParallelDirectFlops = 500000;
// A C of at most this many direct column panels (128 floats, 64 doubles) takes the direct path at
// any size, its row tiles outside (direct_cols), while B (K x N) fits in the L2
// (kDirectTallMaxBBytes; a quarter of it when A is transposed): packing A would cost more than it
// saves, since each packed element of A serves only N / lanes FMAs (4 at N = 64 floats), and a tall
// A (a 1x1 convolution, a Dense layer of up to 128 units at a large batch) comes from memory, while
// a row tile of A read in place stays in L1 across the few panels. Zen 4, packed -> direct
// (GFLOP/s, best of 3 alternated processes), one thread: float 25088x64x288 74 -> 93, 6272x64x576
// 75 -> 102, 4096x32x256 93 -> 113, 4096x64x256 102 -> 113, 25088x128x288 88 -> 97, 256x128x256 108
// -> 115, 128^3 106 -> 113; double 4096x64x256 49 -> 54, 1024x64x256 50 -> 57. Two threads (rows
// split, below): float 134 -> 176, 159 -> 205, 189 -> 222, 202 -> 218, 175 -> 190, 205 -> 225, 180
// -> 205; double 99 -> 109, 100 -> 113. B must fit because every row tile reads all of it: with a
// deep K (a weight gradient x^T dy over a large batch, 288x64x25088 A^T) B came from memory per
// tile, at half the packed path's rate. The limit was a quarter of the L2 until the double rows
// whose B is 0.3-1 MiB measured (one thread, us, packed -> direct): 6272x64x576 10211 -> 8955,
// 4096x64x1024 13411 -> 10500, 4096x64x1536 20098 -> 16289 (two threads 10028 -> 8030); float
// 4096x128x1024 11568 -> 10130, 2048x64x4096 12095 -> 9665. Beyond the 1 MiB L2 it lost (float
// 1024x128x4096 10512 -> 11913), and so did a transposed A from 512 KiB (double 2048x64x1024 A^T
// 6795 -> 8328: rows of the stored A that alias in L1, read one line per row tile and k), which
// keeps the old limit.
constexpr int kDirectRowOuterPanels = 4;
constexpr std::int64_t kDirectTallMaxBBytes = 1 << 20;
constexpr std::int64_t kDirectTallMaxBBytesTransA = 256 << 10;
// Up to four panels, a C of at most kDirectFewRowTiles row tiles takes the direct path whatever
// B's size: it reads B from memory once (a B larger than the L2 in slices of k, direct_k_slice)
// where the packed path would copy all of it for a few rows. Float A^T 9x32x21632 (a first
// convolution's kernel gradient) 53 -> 62 GFLOP/s, 16x64x21632 88 -> 113, 32x64x25088 86-92 ->
// 103-107; float 32x64x2048 95 -> 103. Up to two panels until the slices: four read B from
// memory once per 8-row tile (float 16x128x2048 87 -> 75); with them, one thread, us (packed ->
// direct): double A^T 16x64x21632 1319 -> 868, 9x64x21632 1579 -> 863, 32x64x25088 3211 ->
// 2080-2547; float 32x128x25088 2460 -> 2179; double 24x48x5000 248 -> 202.
constexpr int kDirectFewRowPanels = 4;
constexpr std::int64_t kDirectFewRowTiles = 2;
// The direct path on several threads splits the rows of C when there are at least this many
// row tiles per thread (a tall C: each thread then reads only its rows of A), else the columns.
constexpr std::int64_t kDirectRowSplitTiles = 8;
// Packed path: at most this many rows of C per thread read a non-transposed B in place.
constexpr std::int64_t kInPlaceBMaxRows = 96;

// Which double tile runs: the wide one (8 x 24) on AMD CPUs, where it measured faster, the
// standard one (12 x 16) elsewhere; set_gemm_f64_tile() overrides it (tests run both).
bool default_f64_wide() {
#if defined(LAMINA_X86_ISAS) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  return __builtin_cpu_is("amd");
#else
  return false;
#endif
}
bool g_gemm_f64_wide = default_f64_wide();

template <class T>
const GemmKernelsOf<T>& kernels_for();
template <>
const GemmKernelsOf<float>& kernels_for<float>() { return LAMINA_KERNEL_TABLE(gemm_kernels).f32; }
template <>
const GemmKernelsOf<double>& kernels_for<double>() { return LAMINA_KERNEL_TABLE(gemm_kernels).f64; }

// The packed path's kernels: for double, the wide tile where chosen (the direct path keeps the
// standard table: its transposed-B panels are cut for the standard tile's widths).
template <class T>
const GemmKernelsOf<T>& packed_kernels_for() { return kernels_for<T>(); }
template <>
const GemmKernelsOf<double>& packed_kernels_for<double>() {
  const GemmKernels& table = LAMINA_KERNEL_TABLE(gemm_kernels);
  return g_gemm_f64_wide ? table.f64_wide : table.f64;
}

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
thread_local Scratch tls_pack_b;  // KC x NC block of B (per thread), or the direct path's B^T
thread_local Scratch tls_pack_dot;  // the dot columns' B^T rows (next to the direct path's B^T)

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

// [begin, end) of `parts` near-equal chunks of `units` units of `unit` elements, at most `total`.
inline void split_units(std::int64_t units, std::int64_t unit, std::int64_t total, int parts,
                        int part, std::int64_t* begin, std::int64_t* end) {
  *begin = std::min(total, units * part / parts * unit);
  *end = std::min(total, units * (part + 1) / parts * unit);
}

// The tm x tn thread grid (tm * tn == threads) that packs the least: each thread packs the rows
// of A and the columns of B that its block of C needs, so splitting the columns of C tn ways
// packs A tn times, and splitting the rows packs B tm times. Every block keeps at least one MR x
// NR tile (square products split the columns: tm = 1, tn = 2 on two threads).
inline void thread_grid(std::int64_t M, std::int64_t N, int MR, int NR, int threads, int* tm,
                        int* tn) {
  double best = -1;
  for (int a = 1; a <= threads; ++a) {
    if (threads % a) continue;
    const int b = threads / a;
    if ((M + MR - 1) / MR < a || (N + NR - 1) / NR < b) continue;
    const double extra = static_cast<double>(M) * (b - 1) + static_cast<double>(N) * (a - 1);
    if (best < 0 || extra < best) { best = extra; *tm = a; *tn = b; }
  }
  if (best < 0) { *tm = M >= N ? threads : 1; *tn = threads / *tm; }
}

// Columns [nd, n1) of the block [n0, n1) that take the dot kernel: the last r = (n1 - n0) %
// dot_unit, which would fill only part of the direct kernel's narrowest vector, when A runs along
// k (not transposed) and either r <= dot_max or K is deep enough for r dot columns to pay. Per row
// of C, r dot columns cost about r (K / lanes + 4) vector steps (K / lanes FMAs each, then the lane
// sum and the store), where the part-filled vector costs 0.4 K to 0.6 K (a masked half vector,
// whose 16-row tile is load-bound, or the unused lanes of a one-vector tile): dots when
// 2 r (K / lanes + 4) < K. Measured on Zen 4, one thread, float (us, masked vector -> dots):
// 128x1x64 1.82 -> 0.82, 128x2x64 1.80 -> 1.06 (0.76 since the tile keeps its A vector in a
// register), 128x3x64 1.63 -> 0.95, 128x7x64 1.63 -> 2.23, 128x12x64 2.50 -> 2.77,
// 256x3x1024 66 -> 19, 256x7x1024 66 -> 40, 256x12x1024 95 -> 88, 1024x4x256 45 -> 24. (A pair
// tile, 8 rows x 2 columns in one vector built by masked broadcasts, measured slower still: its
// merges serialise.) n0 is a multiple of the direct tile's width (whole panels per thread), so
// the split does not depend on the thread count.
// With A transposed (col_tail, below) the last r = (n1 - n0) % lanes columns, up to
// kGemmColStreamMaxN of them that would fill part of a half vector, are a column product
// instead (col_stream: A streamed once more, r FMAs per element of it).
template <class T>
std::int64_t dot_columns_begin(const GemmKernelsOf<T>& kern, bool trans_a, bool col_tail,
                               std::int64_t n0, std::int64_t n1, std::int64_t K) {
  const int unit = kern.blocking.dot_unit;
  if (unit == 0) return n1;
  if (trans_a) {
    const std::int64_t r = (n1 - n0) % kern.blocking.lanes;
    return col_tail && r > 0 && r < unit && r <= kGemmColStreamMaxN ? n1 - r : n1;
  }
  const std::int64_t rest = (n1 - n0) % unit;
  const bool dots =
      rest <= kern.blocking.dot_max || 2 * rest * (K / kern.blocking.lanes + 4) < K;
  return dots ? n1 - rest : n1;
}

// dst[j * ldd + k] = src[k * lds + j] for k < K and j < n <= 7: the dot columns of B, copied out
// as B^T rows. The column count is a template argument, so each k is one unrolled run of moves
// (a run-time inner loop cost ~40 ns of a 2.2 us float 128x10x64).
template <int W, class T>
void copy_columns_transposed_w(const T* src, std::int64_t lds, std::int64_t K, T* dst,
                               std::int64_t ldd) {
  for (std::int64_t k = 0; k < K; ++k) {
    for (int j = 0; j < W; ++j) dst[j * ldd + k] = src[k * lds + j];
  }
}

template <class T>
void copy_columns_transposed(const T* src, std::int64_t lds, std::int64_t K, int n, T* dst,
                             std::int64_t ldd) {
  switch (n) {
    case 1: copy_columns_transposed_w<1>(src, lds, K, dst, ldd); break;
    case 2: copy_columns_transposed_w<2>(src, lds, K, dst, ldd); break;
    case 3: copy_columns_transposed_w<3>(src, lds, K, dst, ldd); break;
    default:
      for (std::int64_t k = 0; k < K; ++k) {
        for (int j = 0; j < n; ++j) dst[j * ldd + k] = src[k * lds + j];
      }
  }
}

// The B operand of a direct block, prepared once for all its rows: for the direct kernel's
// columns [n0, nd), B read in place or, transposed, packed into K x PNR micro-panels (in-register
// transposes; K * N moves against M * N * K multiply-adds, and no large-stride reads in the
// kernel); for the dot columns [nd, n1), B^T rows: a transposed B read in place, or the few
// columns of B copied out transposed.
template <class T>
struct DirectB {
  std::int64_t n0, nd, n1;
  const T* panels = nullptr;  // transposed B, packed (else B is read in place)
  const T* bt = nullptr;      // B^T rows of the dot columns
  std::int64_t ldbt = 0;
};

template <class T>
DirectB<T> prepare_direct_b(const GemmKernelsOf<T>& kern, bool trans_a, bool trans_b,
                            bool col_tail, std::int64_t n0, std::int64_t n1, std::int64_t K,
                            const T* B, std::int64_t ldb) {
  DirectB<T> p;
  p.n0 = n0;
  p.n1 = n1;
  p.nd = dot_columns_begin(kern, trans_a, col_tail, n0, n1, K);
  const int PNR = kern.blocking.nr;
  if (trans_b && p.n0 < p.nd) {
    T* buf = tls_pack_b.get<T>(K * ((p.nd - n0 + PNR - 1) / PNR) * PNR);
    kern.pack_b(true, B + n0 * ldb, ldb, K, p.nd - n0, buf);
    p.panels = buf;
  }
  if (p.nd < n1 && !trans_a) {
    if (trans_b) {
      p.bt = B + p.nd * ldb;
      p.ldbt = ldb;
    } else {
      // Rows 64 bytes more than a multiple of 64 apart: never in one L1 set with each other (nor,
      // at K a multiple of 1024 floats, with the rows of A beside them).
      const std::int64_t ld = (K + 15) / 16 * 16 + 64 / static_cast<std::int64_t>(sizeof(T));
      T* buf = tls_pack_dot.get<T>((n1 - p.nd) * ld);
      copy_columns_transposed(B + p.nd, ldb, K, static_cast<int>(n1 - p.nd), buf, ld);
      p.bt = buf;
      p.ldbt = ld;
    }
  }
  return p;
}

// Rows [m0, m1) of C over the dot columns [b.nd, b.n1) of `b` (A not transposed, rows lda apart):
// the columns in groups of up to 4 outside (their B^T rows stay in L1), row tiles inside. Each
// vector load of a dot tile takes a whole cache line of a row, used once, so the tiles read A in
// place whatever its row stride; but rows 4 KiB apart share one L1 set, whose 8 ways then hold
// the lines the prefetcher brings for at most 4 to 6 rows: those go 4 rows a tile. Float
// 256x1x1024, one thread (us, 16 / 8 / 4 rows a tile): 35 / 13.5 / 11.8, against 10.6 for any
// with K = 1000.
template <class T>
void dot_rows(const GemmKernelsOf<T>& kern, const DirectB<T>& b, bool alias, std::int64_t m0,
              std::int64_t m1, std::int64_t K, T alpha, const T* A, std::int64_t lda, T beta,
              T* C, std::int64_t ldc) {
  for (std::int64_t j = b.nd; j < b.n1; j += 4) {
    const int n = static_cast<int>(std::min<std::int64_t>(4, b.n1 - j));
    const int rows = std::min(kern.blocking.dot_rows / n, alias ? 4 : kern.blocking.dot_rows);
    for (std::int64_t i = m0; i < m1; i += rows) {
      const int m = static_cast<int>(std::min<std::int64_t>(rows, m1 - i));
      kern.dot(K, A + i * lda, lda, b.bt + (j - b.nd) * b.ldbt, b.ldbt, C + i * ldc + j, ldc, m,
               n, alpha, beta);
    }
  }
}

// Rows [m0, m1) of C over the direct kernel's columns [b.n0, b.nd), A(i, k) = A[i * rsa + k * csa],
// in row tiles of MR (at most the kernel's dmr).
// Over at most kDirectRowOuterPanels column panels the row tiles run outside (a tile's rows of A,
// read in place, are still in L1 for its other panels, and B's few columns stay in L2): a tall A
// is read from memory once. Wider, the column panels run outside and the row tiles inside (the
// K x NR panel of B stays in L1 across them).
template <class T>
void direct_cols(const GemmKernelsOf<T>& kern, const DirectB<T>& b, int MR, std::int64_t m0,
                 std::int64_t m1, std::int64_t K, T alpha, const T* A, std::int64_t rsa,
                 std::int64_t csa, const T* B, std::int64_t ldb, T beta, T* C, std::int64_t ldc) {
  const int NR = kern.blocking.dnr, PNR = kern.blocking.nr;
  auto tile = [&](std::int64_t i, std::int64_t j) {
    const int m = static_cast<int>(std::min<std::int64_t>(MR, m1 - i));
    const int n = static_cast<int>(std::min<std::int64_t>(NR, b.nd - j));
    const std::int64_t jj = j - b.n0;
    const T* bj = b.panels ? b.panels + (jj / PNR) * PNR * K + jj % PNR : B + j;
    const std::int64_t ldbj = b.panels ? PNR : ldb;
    kern.direct(K, A + i * rsa, rsa, csa, bj, ldbj, C + i * ldc + j, ldc, m, n, alpha, beta);
  };
  if (b.nd - b.n0 <= kDirectRowOuterPanels * NR) {
    for (std::int64_t i = m0; i < m1; i += MR) {
      for (std::int64_t j = b.n0; j < b.nd; j += NR) tile(i, j);
    }
  } else {
    for (std::int64_t j = b.n0; j < b.nd; j += NR) {
      for (std::int64_t i = m0; i < m1; i += MR) tile(i, j);
    }
  }
}

// Whether A's rows alias in L1: rows a multiple of 4 KiB apart all map to one of the L1's 64 sets
// (8 ways), so a tile reading more than 8 of them at the same k evicts each line before its next
// use (a direct tile reads each line for 8 or 16 steps of k). The direct tiles then take 8 rows
// (kAliasRows), the dot tiles 4 (see dot_rows), reading A in place, and the packed path packs A in
// a pass of its own rather than in its first tiles (packed_first). Float 256x10x1024 ran at 174 us
// in 16-row tiles, 80 through a copy of each tile's rows at a padded stride, 67 in place in 8-row
// tiles (256x10x1000: 58); double 128x8x512 28 -> 18.5 (the copy, K * sizeof(T) bytes a row,
// left L1 for L2 before the tile read it). Results are identical either way (the same values,
// summed in the same order).
inline bool rows_alias(bool trans_a, std::int64_t K, std::int64_t row_bytes) {
  return !trans_a && K >= 64 && row_bytes % 4096 == 0;
}
constexpr int kAliasRows = 8;

// The tail columns [b.nd, b.n1) of a transposed A's direct product are a column product of their
// own (gemm_col_block, A streamed row by row, r FMAs per element) where the direct kernel
// would spend a half vector, one issue slot per 1-4 multiply-adds, on each row and k. A C of more
// than kColTailMinRows rows (one or two tiles pay more for the stream's accumulator passes than
// they save: float 8x18x128 0.60 -> 0.71 us, 16x18x128 1.01 either way, 32x18x128 1.90 ->
// 1.64). Zen 4, one thread, us (half vector -> column product): float 64x17x128 A^T 4.02 ->
// 2.84, 100x18x128 5.81 -> 4.65, 100x50x128 13.4 -> 12.3, 64x33x256 11.8 -> 10.1, 512x20x256
// 55.8 -> 46.4, 4096x36x256 872 -> 696, 2000x17x1000 879 -> 664, A^T B^T 100x18x128 6.73 -> 4.93;
// double 64x17x128 6.20 -> 5.48, 100x50x128 25.2 -> 24.1, 2000x17x300 on two threads 229 -> 201.
constexpr std::int64_t kColTailMinRows = 16;

// Rows [m0, m1) of a column product (all N columns).
template <class T>
void gemm_col_block(const GemmKernelsOf<T>& kern, bool trans_b, std::int64_t m0, std::int64_t m1,
                    std::int64_t N, std::int64_t K, T alpha, const T* A, std::int64_t lda,
                    const T* B, std::int64_t ldb, T beta, T* C, std::int64_t ldc) {
  const std::int64_t rsb = trans_b ? 1 : ldb, csb = trans_b ? ldb : 1;
  if (N <= kGemmColStreamMaxN) {
    const std::int64_t lanes = kern.blocking.lanes, mv = (m1 - m0 + lanes - 1) / lanes * lanes;
    kern.col_stream(K, A + m0, lda, B, rsb, csb, C + m0 * ldc, ldc, m1 - m0, static_cast<int>(N),
                    alpha, beta, tls_pack_a.get<T>(N * mv));
    return;
  }
  const std::int64_t rows = gemm_col_vectors(static_cast<int>(N)) * kern.blocking.lanes;
  for (std::int64_t i = m0; i < m1; i += rows) {
    const int m = static_cast<int>(std::min(rows, m1 - i));
    kern.col(K, A + i, lda, B, rsb, csb, C + i * ldc, ldc, m, static_cast<int>(N), alpha, beta);
  }
}

// Rows [m0, m1) x columns [n0, n1) of C on the calling thread, in slices of kc (see
// direct_k_slice) along k; col_tail: the last columns may be a column product (see
// dot_columns_begin and kColTailMinRows).
template <class T>
void gemm_direct_block(const GemmKernelsOf<T>& kern, bool trans_a, bool trans_b, bool col_tail,
                       std::int64_t m0, std::int64_t m1, std::int64_t n0, std::int64_t n1,
                       std::int64_t K, std::int64_t kc, T alpha, const T* A, std::int64_t lda,
                       const T* B, std::int64_t ldb, T beta, T* C, std::int64_t ldc) {
  const std::int64_t rsa = trans_a ? 1 : lda, csa = trans_a ? lda : 1;
  for (std::int64_t pc = 0; pc < K; pc += kc) {
    const std::int64_t k = std::min(kc, K - pc);
    const T beta_k = pc == 0 ? beta : T(1);
    const T* a = A + pc * csa;
    const T* bk = trans_b ? B + pc : B + pc * ldb;
    const DirectB<T> b = prepare_direct_b(kern, trans_a, trans_b, col_tail, n0, n1, k, bk, ldb);
    const bool alias = rows_alias(trans_a, k, lda * static_cast<std::int64_t>(sizeof(T)));
    if (b.nd < b.n1 && trans_a) {
      gemm_col_block(kern, trans_b, m0, m1, b.n1 - b.nd, k, alpha, a, lda,
                     trans_b ? bk + b.nd * ldb : bk + b.nd, ldb, beta_k, C + b.nd, ldc);
    } else if (b.nd < b.n1) {
      dot_rows(kern, b, alias, m0, m1, k, alpha, a, lda, beta_k, C, ldc);
    }
    if (b.n0 == b.nd) continue;
    const int rows = alias ? std::min(kern.blocking.dmr, kAliasRows) : kern.blocking.dmr;
    direct_cols(kern, b, rows, m0, m1, k, alpha, a, rsa, csa, bk, ldb, beta_k, C, ldc);
  }
}

// The slice of k a direct product runs in: all of K while B fits the L2, else slices of
// kDirectSliceBBytes of B, so that a C of more rows than one tile reads (the few-row products of
// use_direct) reads B from memory once instead of once per tile, its later tiles finding the
// slice in L2 (each element of C is then one FMA chain per slice, the slices added in order; the
// slice depends on the shape only, never on the threads). A C of at most kDirectOneReadRows rows
// (the direct tiles' fewest on any ISA) reads B once anyway. Zen 4, one thread, us (B read whole
// -> in slices): double A^T 16x64x21632 (a convolution's kernel gradient) 1109 -> 850, 9x64x21632
// 1057 -> 863, 32x64x25088 4009 -> 2080; float 32x128x25088 2850 -> 2086.
constexpr std::int64_t kDirectSliceBBytes = 256 << 10;
constexpr std::int64_t kDirectOneReadRows = 4;
inline std::int64_t direct_k_slice(std::int64_t M, std::int64_t N, std::int64_t K,
                                   std::int64_t elem_bytes) {
  if (M <= kDirectOneReadRows || K * N * elem_bytes <= kDirectTallMaxBBytes) return K;
  return std::max<std::int64_t>(64, kDirectSliceBBytes / (N * elem_bytes) / 8 * 8);
}

// A transposed and a narrow C take the column products (col and col_stream in gemm_kernels.h):
// vectors down the columns of C, B broadcast. A row-wise tile of a C of 1 to 4 columns (the
// weight gradient x^T dy of a Dense(1) layer) would fill 1 to 4 lanes of a vector (float
// 512x1x256, one thread: 32 -> 6.2 us); those stream A. Up to the ISA's col_max_n columns the
// column tiles take C where the direct kernel's vectors would run part-empty (a 10-class output
// layer's x^T dy fills 10 of 16 float lanes) by more than their transposed stores cost: N rows of
// C^T padded to whole tiles, each k plus ~kColStoreSteps steps for the store, against M rows of
// the direct kernel's lanes over N. Zen 4, one thread, us (direct -> column tiles): float
// 64x10x128 A^T 2.44 -> 1.76, 784x10x128 27.7 -> 19.6, 64x12x128 2.44 -> 2.08, 64x6x128 1.50 ->
// 1.22, 64x10x512 9.15 -> 5.98, 64x15x512 9.16 -> 8.84 (A^T B^T alike); double 64x5x128 2.43 ->
// 2.18, 64x10x512 13.8 -> 11.7, 64x7x512 9.15 -> 8.30. The rule's losers, left direct: float
// 64x16x128 2.43 / 2.80, 64x15x128 2.46 / 2.55, 64x12x32 0.73 / 0.78, 256x10x16 1.37 / 1.59;
// double 64x8x128 2.45 / 2.62. Rows of the stored A 4 KiB apart, where a tile's strips of every
// row share one L1 set, stay direct beyond kGemmColStreamMaxN columns.
constexpr std::int64_t kColStoreSteps = 16;
inline bool use_col_tiles(const GemmBlocking& bl, bool trans_a, std::int64_t M, std::int64_t N,
                          std::int64_t K, std::int64_t row_bytes) {
  if (!trans_a || N > bl.col_max_n) return false;
  if (N <= kGemmColStreamMaxN) return true;
  if (rows_alias(false, K, row_bytes)) return false;
  const std::int64_t L = bl.lanes, H = bl.dot_unit > 0 ? bl.dot_unit : L, r = N % L;
  const std::int64_t direct_lanes = N / L * L + (r == 0 ? 0 : r <= H ? H : L);
  const std::int64_t tile = gemm_col_vectors(static_cast<int>(N)) * L;
  const std::int64_t col_rows = (M + tile - 1) / tile * tile;
  return N * col_rows * (K + kColStoreSteps) < M * direct_lanes * K;
}

// A column product (A transposed, use_col_tiles) on `threads` threads, rows split in whole
// vectors.
template <class T>
void gemm_columns(const GemmKernelsOf<T>& kern, int threads, bool trans_b, std::int64_t M,
                  std::int64_t N, std::int64_t K, T alpha, const T* A, std::int64_t lda,
                  const T* B, std::int64_t ldb, T beta, T* C, std::int64_t ldc) {
  const std::int64_t lanes = kern.blocking.lanes, units = (M + lanes - 1) / lanes;
  if (threads <= 1 || units < 2) {
    gemm_col_block(kern, trans_b, 0, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    std::int64_t m0, m1;
    split_units(units, lanes, M, omp_get_num_threads(), omp_get_thread_num(), &m0, &m1);
    if (m0 < m1) {
      gemm_col_block(kern, trans_b, m0, m1, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    }
  }
}

// The direct path on `threads` threads: whole NR column panels per thread when there are enough
// (each packs its own columns of a transposed B), else whole MR row tiles.
template <class T>
void gemm_direct(const GemmKernelsOf<T>& kern, int threads, bool trans_a, bool trans_b,
                 std::int64_t M, std::int64_t N, std::int64_t K, T alpha, const T* A,
                 std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C, std::int64_t ldc) {
  const std::int64_t kc = direct_k_slice(M, N, K, sizeof(T));
  const bool col_tail = trans_a && M > kColTailMinRows;
  if (threads <= 1) {
    gemm_direct_block(kern, trans_a, trans_b, col_tail, 0, M, 0, N, K, kc, alpha, A, lda, B, ldb,
                      beta, C, ldc);
    return;
  }
  const int MR = kern.blocking.dmr, NR = kern.blocking.dnr;
  const std::int64_t col_panels = (N + NR - 1) / NR, row_tiles = (M + MR - 1) / MR;
  const bool split_cols =
      (col_panels >= threads && row_tiles < kDirectRowSplitTiles * threads) ||
      col_panels >= row_tiles;
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    std::int64_t m0 = 0, m1 = M, n0 = 0, n1 = N;
    if (split_cols) {
      split_units(col_panels, NR, N, nt, t, &n0, &n1);
    } else {
      split_units(row_tiles, MR, M, nt, t, &m0, &m1);
    }
    if (m0 < m1 && n0 < n1) {
      gemm_direct_block(kern, trans_a, trans_b, col_tail, m0, m1, n0, n1, K, kc, alpha, A, lda, B,
                        ldb, beta, C, ldc);
    }
  }
}

template <class T>
void gemm_packed(const GemmKernelsOf<T>& kern, int threads, bool trans_a, bool trans_b,
                 std::int64_t M, std::int64_t N, std::int64_t K, T alpha, const T* A,
                 std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C, std::int64_t ldc) {
  const GemmBlocking& bl = kern.blocking;
  const int MR = bl.mr, NR = bl.nr;
  const std::int64_t KC = bl.kc, MC = bl.mc;
  int tm = 1, tn = 1;
  if (threads > 1) thread_grid(M, N, MR, NR, threads, &tm, &tn);

  // Each thread computes its own block of C, rows [m0, m1) x columns [n0, n1) (whole tiles), and
  // packs what that block needs into its own buffers: no barrier anywhere, so a thread that the
  // OS preempts (2 cores, shared machine) delays only its own block, never the other's.
  auto body = [&](int tid) {
    const int ti = tid % tm, tj = tid / tm;
    std::int64_t m0, m1, n0, n1;
    split_units((M + MR - 1) / MR, MR, M, tm, ti, &m0, &m1);
    split_units((N + NR - 1) / NR, NR, N, tn, tj, &n0, &n1);
    if (m0 >= m1 || n0 >= n1) return;
    // A thread with few rows reads each B micro-panel only a few times: packing it (a copy of
    // the whole K x N operand) would cost about as much as those reads, so a non-transposed B
    // is read in place (a KC x NR slice of rows, one stride apart). float only: measured
    // 32x512x784 115 -> 129 GF/s, 64x1024x256 134 -> 156 (1 thread); double reads twice the
    // cache lines per FMA and measured no better (46-55 GF/s either way).
    const bool in_place_b = !trans_b && sizeof(T) == 4 && m1 - m0 <= kInPlaceBMaxRows;
    const std::int64_t NC = std::min<std::int64_t>(bl.nc, (n1 - n0 + NR - 1) / NR * NR);
    T* packed_a = tls_pack_a.get<T>(MC * KC);
    T* packed_b = tls_pack_b.get<T>(KC * NC);
    for (std::int64_t jc = n0; jc < n1; jc += NC) {
      const std::int64_t nc = std::min(NC, n1 - jc);
      for (std::int64_t pc = 0; pc < K; pc += KC) {
        const std::int64_t kc = std::min(KC, K - pc);
        const T beta_k = pc == 0 ? beta : T(1);
        // In place: only a partial last panel (its loads would run past the row) is packed.
        const std::int64_t full = in_place_b ? nc / NR * NR : 0;
        if (full < nc) {
          kern.pack_b(trans_b, trans_b ? B + (jc + full) * ldb + pc : B + pc * ldb + jc + full,
                      ldb, kc, nc - full, packed_b + full * kc);
        }
        for (std::int64_t ic = m0; ic < m1; ic += MC) {
          const std::int64_t mc = std::min(MC, m1 - ic);
          const T* a_block = trans_a ? A + pc * lda + ic : A + ic * lda + pc;
          const std::int64_t row_bytes = lda * static_cast<std::int64_t>(sizeof(T));
          // Rows that alias in L1 (rows_alias) keep the packing pass: read in place by the
          // first tiles, all of a tile's rows would share one set and miss on every k.
          const bool fuse = kern.packed_first && !rows_alias(trans_a, kc, row_bytes);
          if (!fuse) kern.pack_a(trans_a, a_block, lda, mc, kc, packed_a);
          for (std::int64_t jr = 0; jr < nc; jr += NR) {
            const int n = static_cast<int>(std::min<std::int64_t>(NR, nc - jr));
            const bool here = jr < full;
            const T* bp = here ? B + pc * ldb + jc + jr : packed_b + jr * kc;
            const std::int64_t ldbp = here ? ldb : NR;
            T* cj = C + ic * ldc + jc + jr;
            for (std::int64_t ir = 0; ir < mc; ir += MR) {
              const int m = static_cast<int>(std::min<std::int64_t>(MR, mc - ir));
              if (fuse && jr == 0) {
                kern.packed_first(kc, trans_a ? a_block + ir : a_block + ir * lda,
                                  trans_a ? 1 : lda, trans_a ? lda : 1, packed_a + ir * kc, bp,
                                  ldbp, cj + ir * ldc, ldc, m, n, alpha, beta_k);
              } else {
                kern.packed(kc, packed_a + ir * kc, bp, ldbp, cj + ir * ldc, ldc, m, n, alpha,
                            beta_k);
              }
            }
          }
        }
      }
    }
  };

  if (threads <= 1) {
    body(0);
    return;
  }
#pragma omp parallel num_threads(threads)
  body(omp_get_thread_num());
}

// Threads a product may use: called from inside a parallel region (a caller threading over
// images, say) the nested team would have one thread, so the product runs on the calling thread
// instead of sizing a thread grid that nobody would fill.
inline int available_threads() { return omp_in_parallel() ? 1 : max_threads(); }

// The direct path wins while packing would cost a sizeable share of the multiply-adds, and at
// any size when C is narrow: the packed tile is NR columns wide, so N = 10 fills 10 of its 32
// float columns and N = 40 two panels to 62%, while the direct kernel covers a narrow C with
// whole, half and dot tiles. Below 80% of the packed lanes, direct measured 1.5-3x faster on
// the Zen 4 dev machine, one thread: float 256x10x512 91 -> 31 us, 2048x10x256 352 -> 130,
// 256x40x512 173 -> 102; double 256x10x512 142 -> 95 (transposed operands alike). And a C of at
// most four direct panels (kDirectRowOuterPanels) goes direct whatever its lanes fill while B
// stays in L2, or with few rows (kDirectFewRowPanels, kDirectFewRowTiles).
inline bool use_direct(bool trans_a, std::int64_t M, std::int64_t N, std::int64_t K,
                       int packed_nr, const GemmBlocking& direct, std::int64_t elem_bytes) {
  if (M * N * K <= kDirectMaxMacs) return true;
  const std::int64_t max_b = trans_a ? kDirectTallMaxBBytesTransA : kDirectTallMaxBBytes;
  if (N <= kDirectRowOuterPanels * direct.dnr && K * N * elem_bytes <= max_b) return true;
  if (N <= kDirectFewRowPanels * direct.dnr && M <= kDirectFewRowTiles * direct.dmr) return true;
  const std::int64_t padded = (N + packed_nr - 1) / packed_nr * packed_nr;
  return N < 2 * packed_nr && 5 * N < 4 * padded;
}

// A transposed B, a C of few rows (at most kDirectRowOuterPanels direct panels) and many columns
// (dx = dy W^T of a wide layer: 32x784x512 B^T) runs as its transpose, C^T = op(B)^T op(A)^T:
// the N rows of C^T come from the rows of B read in place, so the product takes the tall direct
// path (B' = op(A)^T, at most kDirectTallMaxBBytes, prepared once), into a scratch C^T that is
// then transposed into C. Run as it is, the product would transpose all of B (N K moves at ~0.5
// cycle each, in the packed path's pack_b or the direct path's panels); its transpose moves
// op(A) (M K, when A is not already transposed) and C (M N, written, read and written again).
// It pays when 1.5 times those moves are fewer than B's: Zen 4, one thread, us (as it is ->
// transposed): double 32x784x512 B^T 548 -> 457, 16x4096x1024 5306 -> 2652, 8x512x64 15.2 ->
// 10.7, 16x64x64 3.20 -> 2.82; float 32x784x512 282 -> 227, 64x1024x256 331 -> 304, 16x64x64
// 1.63 -> 1.50, A^T B^T 64x1024x1024 1399 -> 1176; two threads double 32x784x512 283 -> 239,
// float 146 -> 122. With a C of four panels and fewer columns, the margin's reason: float
// 128x512x256 B^T on two threads 158 -> 169 (its moves 98k against B's 131k).
template <class T>
bool transposed_product_pays(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N,
                             std::int64_t K, const GemmBlocking& direct) {
  if (!trans_b || M > kDirectRowOuterPanels * direct.dnr) return false;
  if (K * M * static_cast<std::int64_t>(sizeof(T)) > kDirectTallMaxBBytes) return false;
  return 3 * ((trans_a ? 0 : M * K) + M * N) < 2 * N * K;
}

thread_local Scratch tls_ct;  // C^T of a transposed product (shared by the team of one call)

// C = alpha op(A) op(B) + beta C as C^T = alpha op(B)^T op(A)^T (see transposed_product_pays):
// each thread computes whole direct row tiles of C^T (columns of C) and transposes them into C.
template <class T>
void gemm_transposed(const GemmKernelsOf<T>& kern, int threads, bool trans_a, std::int64_t M,
                     std::int64_t N, std::int64_t K, T alpha, const T* A, std::int64_t lda,
                     const T* B, std::int64_t ldb, T beta, T* C, std::int64_t ldc) {
  T* ct = tls_ct.get<T>(N * M);
  auto part = [&](std::int64_t r0, std::int64_t r1) {
    gemm_direct_block(kern, false, !trans_a, false, r0, r1, 0, M, K, K, alpha, B, ldb, A, lda,
                      T(0), ct, M);
    kern.transpose_c(M, r1 - r0, ct + r0 * M, M, beta, C + r0, ldc);
  };
  const std::int64_t MR = kern.blocking.dmr, tiles = (N + MR - 1) / MR;
  if (threads <= 1 || tiles < 2) {
    part(0, N);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    std::int64_t r0, r1;
    split_units(tiles, MR, N, omp_get_num_threads(), omp_get_thread_num(), &r0, &r1);
    if (r0 < r1) part(r0, r1);
  }
}

// The algorithm for a product (M, N, K > 0), by its shape and A's row stride alone. The column
// products come before the transposed one: they compute a narrow C's transpose in registers,
// exactly N rows of it, where gemm_transposed's row tiles would pad them.
enum class Path { kDirect, kPacked, kColumns, kTransposed };

template <class T>
Path choose_path(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K,
                 std::int64_t lda) {
  const GemmBlocking& direct = kernels_for<T>().blocking;
  const bool direct_ok =
      use_direct(trans_a, M, N, K, packed_kernels_for<T>().blocking.nr, direct, sizeof(T));
  if (direct_ok && use_col_tiles(direct, trans_a, M, N, K, lda * std::int64_t{sizeof(T)})) {
    return Path::kColumns;
  }
  if (transposed_product_pays<T>(trans_a, trans_b, M, N, K, direct)) return Path::kTransposed;
  return direct_ok ? Path::kDirect : Path::kPacked;
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
  const GemmKernelsOf<T>& direct = kernels_for<T>();
  const int direct_threads = 2 * M * N * K < kParallelDirectFlops ? 1 : max_threads_;
  switch (choose_path<T>(trans_a, trans_b, M, N, K, lda)) {
    case Path::kColumns:
      gemm_columns(direct, direct_threads, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
      return;
    case Path::kTransposed:
      gemm_transposed(direct, direct_threads, trans_a, M, N, K, alpha, A, lda, B, ldb, beta, C,
                      ldc);
      return;
    case Path::kDirect:
      gemm_direct(direct, direct_threads, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta,
                  C, ldc);
      return;
    case Path::kPacked:
      break;
  }
  const int threads = 2 * M * N * K < kParallelGemmFlops ? 1 : max_threads_;
  gemm_packed(packed_kernels_for<T>(), threads, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb,
              beta, C, ldc);
}

// Column panels [p0, p1) of a prepacked B: the direct micro-kernel over each K x NR panel (rows
// NR apart, contiguous along k, so the hardware prefetcher streams it), A read in place. The
// panel stays in L1/L2 across the row tiles; every element of C is one FMA chain over all of K.
template <class T>
void prepacked_panels(const GemmKernelsOf<T>& kern, std::int64_t p0, std::int64_t p1,
                      std::int64_t M, std::int64_t N, std::int64_t K, T alpha, const T* A,
                      std::int64_t lda, const T* panels, T beta, T* C, std::int64_t ldc) {
  const int NR = kern.blocking.nr, DNR = kern.blocking.dnr, MR = kern.blocking.dmr;
  for (std::int64_t p = p0; p < p1; ++p) {
    const T* panel = panels + p * NR * K;
    for (std::int64_t j = p * NR; j < std::min<std::int64_t>(N, (p + 1) * NR); j += DNR) {
      const int n = static_cast<int>(std::min<std::int64_t>(DNR, N - j));
      const T* b = panel + (j - p * NR);
      for (std::int64_t i = 0; i < M; i += MR) {
        const int m = static_cast<int>(std::min<std::int64_t>(MR, M - i));
        kern.direct(K, A + i * lda, lda, 1, b, NR, C + i * ldc + j, ldc, m, n, alpha, beta);
      }
    }
  }
}

}  // namespace

template <class T>
void gemm_pack_b(bool trans_b, std::int64_t K, std::int64_t N, const T* B, std::int64_t ldb,
                 PackedB<T>* packed) {
  const GemmKernelsOf<T>& kern = kernels_for<T>();
  const std::int64_t NR = kern.blocking.nr;
  const std::int64_t panels = N > 0 ? (N + NR - 1) / NR : 0;
  packed->k_ = K;
  packed->n_ = N;
  packed->nr_ = NR;
  packed->kernels_ = &kern;
  packed->panels_.resize(static_cast<std::size_t>(std::max<std::int64_t>(0, K) * panels * NR));
  if (K <= 0 || N <= 0) return;
  T* dst = packed->panels_.data();
  // Panels are independent: threads take whole ones. The work estimate is the bytes moved (a
  // move with its transpose costs more than a flop): a 128 x 512 kernel (256 KB) splits, which
  // measured 56 -> 33 us on two threads of the dev machine, one that is ~10x smaller does not.
  parallel_for(panels, K * N * static_cast<std::int64_t>(sizeof(T)),
               [&](std::int64_t p0, std::int64_t p1) {
    const std::int64_t j0 = p0 * NR, j1 = std::min(N, p1 * NR);
    kern.pack_b(trans_b, trans_b ? B + j0 * ldb : B + j0, ldb, K, j1 - j0, dst + j0 * K);
  });
}

template <class T>
void gemm_prepacked(std::int64_t M, T alpha, const T* A, std::int64_t lda, const PackedB<T>& B,
                    T beta, T* C, std::int64_t ldc) {
  const std::int64_t K = B.k_, N = B.n_;
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == T(0)) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  const auto& kern = *static_cast<const GemmKernelsOf<T>*>(B.kernels_);
  const std::int64_t panels = (N + kern.blocking.nr - 1) / kern.blocking.nr;
  const int threads = 2 * M * N * K < kParallelDirectFlops
                          ? 1
                          : static_cast<int>(std::min<std::int64_t>(available_threads(), panels));
  if (threads <= 1) {
    prepacked_panels(kern, 0, panels, M, N, K, alpha, A, lda, B.panels_.data(), beta, C, ldc);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    std::int64_t p0, p1;
    split_units(panels, 1, panels, omp_get_num_threads(), omp_get_thread_num(), &p0, &p1);
    prepacked_panels(kern, p0, p1, M, N, K, alpha, A, lda, B.panels_.data(), beta, C, ldc);
  }
}

template <class T>
void gemm_prepacked_panels(std::int64_t p0, std::int64_t p1, std::int64_t M, T alpha, const T* A,
                           std::int64_t lda, const PackedB<T>& B, T beta, T* C, std::int64_t ldc) {
  const std::int64_t K = B.k_, N = B.n_;
  p0 = std::max<std::int64_t>(p0, 0);
  p1 = std::min(p1, B.panels());
  if (M <= 0 || p0 >= p1) return;
  if (K <= 0 || alpha == T(0)) {
    const std::int64_t j0 = p0 * B.nr_, j1 = std::min(N, p1 * B.nr_);
    scale_c(M, j1 - j0, beta, C + j0, ldc);
    return;
  }
  const auto& kern = *static_cast<const GemmKernelsOf<T>*>(B.kernels_);
  prepacked_panels(kern, p0, p1, M, N, K, alpha, A, lda, B.panels_.data(), beta, C, ldc);
}

template <class T>
const char* gemm_path(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K,
                      std::int64_t lda) {
  if (M <= 0 || N <= 0 || K <= 0) return "scale";
  switch (choose_path<T>(trans_a, trans_b, M, N, K, lda)) {
    case Path::kColumns: return N <= kGemmColStreamMaxN ? "column stream" : "column tiles";
    case Path::kTransposed: return "transposed";
    case Path::kDirect: return "direct";
    case Path::kPacked: break;
  }
  return "packed";
}

void set_gemm_f64_wide(bool wide) { g_gemm_f64_wide = wide; }
bool gemm_f64_wide() { return g_gemm_f64_wide; }

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
                                std::int64_t);                                                 \
  template void gemm_pack_b<T>(bool, std::int64_t, std::int64_t, const T*, std::int64_t,       \
                               PackedB<T>*);                                                   \
  template void gemm_prepacked<T>(std::int64_t, T, const T*, std::int64_t, const PackedB<T>&,  \
                                  T, T*, std::int64_t);                                        \
  template void gemm_prepacked_panels<T>(std::int64_t, std::int64_t, std::int64_t, T, const T*, \
                                         std::int64_t, const PackedB<T>&, T, T*, std::int64_t);  \
  template const char* gemm_path<T>(bool, bool, std::int64_t, std::int64_t, std::int64_t,       \
                                    std::int64_t);
LAMINA_INSTANTIATE_GEMM(float)
LAMINA_INSTANTIATE_GEMM(double)
#undef LAMINA_INSTANTIATE_GEMM

}  // namespace lamina
