// GEMM micro-kernels for one ISA (this file is compiled once per ISA, see simd.h); the bodies are
// in gemm_ukernel.inc, instantiated here for float and double over this ISA's vector operations.
//
// C is row-major, so a tile row of C is NR contiguous elements: the kernels keep an MR x NR tile
// of C in vector registers, load NR elements of a B row per k as whole vectors and broadcast MR
// elements of A (an outer-product update), the row-major mirror of BLIS' column-major kernels.
//
// Register blocking (accumulators + B vectors + one broadcast must fit the register file):
//   AVX-512 (32 zmm): 12 x 2 vectors = 24 accumulators + 2 + 1; 12 x 32 float, 12 x 16 double.
//     Each k step is 24 FMAs against 2 vector loads and 12 broadcasts (folded into the FMAs as
//     {1toN} memory operands), so the two FMA ports, not the loads, are the limit.
//   AVX2 (16 ymm): 6 x 2 vectors = 12 accumulators + 2 + 1; 6 x 16 float, 6 x 8 double.
//   generic: 4 x 8 scalars, left to the compiler's auto-vectoriser (SSE2 on x86-64).
// The direct (unpacked, small-matrix) kernel uses fewer rows (8 / 4 / 4): it addresses A with a
// run-time stride per row, and 8 independent accumulators already cover the FMA latency (4
// cycles x 2 ports) when the tile is a single vector wide. Its last columns may take a half
// vector (256 bits on AVX-512, 128 on AVX2: on Zen 4 one issue slot where a masked full vector
// takes two), and a narrow C's last one or two columns the dot tiles (GREDUCE sums their lanes).
//
// Cache blocking (KC, MC, NC) for the dev machine (Intel Xeon, AVX-512, 48 KiB L1d, 2 MiB L2 per
// core, large shared L3), checked with bench/gemm.py; the reasoning is at each table. Blocking
// {mr, nr, kc, mc, nc, dmr, dnr, lanes, dot_unit, dot_max, dot_rows, col_max_n} is exported with
// the kernels so that the driver stays generic.
#include "cpu/simd/simd.h"


#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "cpu/gemm_kernels.h"

namespace lamina::LAMINA_ISA_NS {

#if defined(__AVX2__)
// In-register transposes for packing (d[k * ldd + r] = s[r * lds + k]): a panel row of A, or of a
// transposed B, runs along k in memory but must run along r in the micro-panel. Unaligned loads
// and stores; AVX2 suffices (the AVX-512 copy is compiled from the same code).
static inline void gemm_transpose8x8_ps(const float* s, std::int64_t lds, float* d,
                                        std::int64_t ldd) {
  const __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + lds);
  const __m256 r2 = _mm256_loadu_ps(s + 2 * lds), r3 = _mm256_loadu_ps(s + 3 * lds);
  const __m256 r4 = _mm256_loadu_ps(s + 4 * lds), r5 = _mm256_loadu_ps(s + 5 * lds);
  const __m256 r6 = _mm256_loadu_ps(s + 6 * lds), r7 = _mm256_loadu_ps(s + 7 * lds);
  const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  const __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
  _mm256_storeu_ps(d + ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
  _mm256_storeu_ps(d + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
  _mm256_storeu_ps(d + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
  _mm256_storeu_ps(d + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
  _mm256_storeu_ps(d + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
  _mm256_storeu_ps(d + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
  _mm256_storeu_ps(d + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
}

static inline void gemm_transpose4x4_ps(const float* s, std::int64_t lds, float* d,
                                        std::int64_t ldd) {
  __m128 r0 = _mm_loadu_ps(s), r1 = _mm_loadu_ps(s + lds);
  __m128 r2 = _mm_loadu_ps(s + 2 * lds), r3 = _mm_loadu_ps(s + 3 * lds);
  _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
  _mm_storeu_ps(d, r0);
  _mm_storeu_ps(d + ldd, r1);
  _mm_storeu_ps(d + 2 * ldd, r2);
  _mm_storeu_ps(d + 3 * ldd, r3);
}

static inline void gemm_transpose4x4_pd(const double* s, std::int64_t lds, double* d,
                                        std::int64_t ldd) {
  const __m256d r0 = _mm256_loadu_pd(s), r1 = _mm256_loadu_pd(s + lds);
  const __m256d r2 = _mm256_loadu_pd(s + 2 * lds), r3 = _mm256_loadu_pd(s + 3 * lds);
  const __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
  const __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
  _mm256_storeu_pd(d, _mm256_permute2f128_pd(t0, t2, 0x20));
  _mm256_storeu_pd(d + ldd, _mm256_permute2f128_pd(t1, t3, 0x20));
  _mm256_storeu_pd(d + 2 * ldd, _mm256_permute2f128_pd(t0, t2, 0x31));
  _mm256_storeu_pd(d + 3 * ldd, _mm256_permute2f128_pd(t1, t3, 0x31));
}
// Keeps a loaded vector in its register: GCC folds a load into every FMA that uses it as a memory
// operand, so a dot tile's A vector shared by two columns was read twice per k step (float
// 256x2x1024: 20 us, 10 zmm loads per 8 FMAs on Zen 4's one zmm load a cycle).
#define GKEEP(v) __asm__("" : "+v"(v))
#define GTRANS_F32_8 gemm_transpose8x8_ps
#define GTRANS_F32_4 gemm_transpose4x4_ps
#define GTRANS_F64_4 gemm_transpose4x4_pd
#endif

#if defined(__AVX512F__)
// 16 float vectors -> their 16 lane sums (see gemm_reduce8_ps below): 45 instructions, against
// ~9 per vector for _mm512_reduce_add_ps.
static inline __attribute__((always_inline)) __m512 gemm_reduce16_ps(const __m512* x) {
  // Lane 4q + s of the result sums input 4s + q.
  static constexpr int kOrder[16] = {0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15};
  __m512 y[8];  // halves of the 512 bits summed: y[p] = 8 lanes of input 2p, 8 of input 2p + 1
  for (int p = 0; p < 8; ++p) {
    const __m512 u = x[kOrder[2 * p]], v = x[kOrder[2 * p + 1]];
    y[p] = _mm512_add_ps(_mm512_shuffle_f32x4(u, v, 0x44), _mm512_shuffle_f32x4(u, v, 0xEE));
  }
  __m512 z[4];  // 128-bit blocks summed: block b of z[p] = 4 lanes of input 4p + b
  for (int p = 0; p < 4; ++p) {
    z[p] = _mm512_add_ps(_mm512_shuffle_f32x4(y[2 * p], y[2 * p + 1], 0x88),
                         _mm512_shuffle_f32x4(y[2 * p], y[2 * p + 1], 0xDD));
  }
  __m512 w[2];  // within blocks: 2 lanes per input
  for (int p = 0; p < 2; ++p) {
    w[p] = _mm512_add_ps(_mm512_shuffle_ps(z[2 * p], z[2 * p + 1], 0x44),
                         _mm512_shuffle_ps(z[2 * p], z[2 * p + 1], 0xEE));
  }
  return _mm512_add_ps(_mm512_shuffle_ps(w[0], w[1], 0x88), _mm512_shuffle_ps(w[0], w[1], 0xDD));
}
static inline __attribute__((always_inline)) __m512d gemm_reduce8_pd(const __m512d* x) {
  // Lane 2q + s of the result sums input 4s + q.
  static constexpr int kOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};
  __m512d y[4];
  for (int p = 0; p < 4; ++p) {
    const __m512d u = x[kOrder[2 * p]], v = x[kOrder[2 * p + 1]];
    y[p] = _mm512_add_pd(_mm512_shuffle_f64x2(u, v, 0x44), _mm512_shuffle_f64x2(u, v, 0xEE));
  }
  __m512d z[2];
  for (int p = 0; p < 2; ++p) {
    z[p] = _mm512_add_pd(_mm512_shuffle_f64x2(y[2 * p], y[2 * p + 1], 0x88),
                         _mm512_shuffle_f64x2(y[2 * p], y[2 * p + 1], 0xDD));
  }
  return _mm512_add_pd(_mm512_shuffle_pd(z[0], z[1], 0x00), _mm512_shuffle_pd(z[0], z[1], 0xFF));
}

#define GMR 12
#define GNV 2
#define GDMR 8
#define GDMR1 16
#define GDOT_ROWS 16

#define GT float
#define GV __m512
#define GL 16
#define GMASK __mmask16
#define GMASK_N(n) ((__mmask16)((1u << (n)) - 1u))
#define GLOAD(p) _mm512_loadu_ps(p)
#define GLOADM(p, m) _mm512_maskz_loadu_ps((m), (p))
#define GSTORE(p, v) _mm512_storeu_ps((p), (v))
#define GSTOREM(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#define GSET1(x) _mm512_set1_ps(x)
#define GSTORE1(p, v) _mm_store_ss((p), _mm512_castps512_ps128(v))
#define GZERO() _mm512_setzero_ps()
#define GFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define GMUL(a, b) _mm512_mul_ps((a), (b))
#define GREDUCE(x) gemm_reduce16_ps(x)
#define GHL 8
#define GVH __m256
#define GMASKH __mmask8
#define GMASKH_N(n) ((__mmask8)((1u << (n)) - 1u))
#define GLOADH(p) _mm256_loadu_ps(p)
#define GLOADHM(p, m) _mm256_maskz_loadu_ps((m), (p))
#define GSTOREH(p, v) _mm256_storeu_ps((p), (v))
#define GSTOREHM(p, m, v) _mm256_mask_storeu_ps((p), (m), (v))
#define GZEROH() _mm256_setzero_ps()
#define GFMAH(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define GMULH(a, b) _mm256_mul_ps((a), (b))
#define GSET1H(x) _mm256_set1_ps(x)
#define GNAME(x) x##_f32
#ifdef GTRANS_F32_8
#define GTRANS8 GTRANS_F32_8
#define GTRANS4 GTRANS_F32_4
#endif
#include "cpu/simd/gemm_ukernel.inc"
#include "cpu/simd/gemm_ukernel_undef.inc"

#define GT double
#define GV __m512d
#define GL 8
#define GMASK __mmask8
#define GMASK_N(n) ((__mmask8)((1u << (n)) - 1u))
#define GLOAD(p) _mm512_loadu_pd(p)
#define GLOADM(p, m) _mm512_maskz_loadu_pd((m), (p))
#define GSTORE(p, v) _mm512_storeu_pd((p), (v))
#define GSTOREM(p, m, v) _mm512_mask_storeu_pd((p), (m), (v))
#define GSET1(x) _mm512_set1_pd(x)
#define GSTORE1(p, v) _mm_store_sd((p), _mm512_castpd512_pd128(v))
#define GZERO() _mm512_setzero_pd()
#define GFMA(a, b, c) _mm512_fmadd_pd((a), (b), (c))
#define GMUL(a, b) _mm512_mul_pd((a), (b))
#define GREDUCE(x) gemm_reduce8_pd(x)
#define GHL 4
#define GVH __m256d
#define GMASKH __mmask8
#define GMASKH_N(n) ((__mmask8)((1u << (n)) - 1u))
#define GLOADH(p) _mm256_loadu_pd(p)
#define GLOADHM(p, m) _mm256_maskz_loadu_pd((m), (p))
#define GSTOREH(p, v) _mm256_storeu_pd((p), (v))
#define GSTOREHM(p, m, v) _mm256_mask_storeu_pd((p), (m), (v))
#define GZEROH() _mm256_setzero_pd()
#define GFMAH(a, b, c) _mm256_fmadd_pd((a), (b), (c))
#define GMULH(a, b) _mm256_mul_pd((a), (b))
#define GSET1H(x) _mm256_set1_pd(x)
#define GNAME(x) x##_f64
#ifdef GTRANS_F64_4
#define GTRANS4 GTRANS_F64_4
#endif
#include "cpu/simd/gemm_ukernel.inc"

// The wide double tile, 8 x 24 (3 vectors): 24 accumulators as in 12 x 16, but 11 loads per 24
// FMAs instead of 14 and row panels of 8, which divide the 32- and 64-row products of dense
// layers. Chosen on AMD Zen (see gemm.cpp), whose 32 KiB L1 the 12 x 16 kernel's B and A panels
// overflow either way: on the Zen 4 dev machine, one thread, it measured 1024^3 50.5 -> 52.6,
// 2048^3 50 -> 52.5, 32x512x784 40.3 -> 43.3 GFLOP/s. (On the Intel machine of an earlier round
// an 8 x 24 double tile measured far slower, 54-58 against 82-85, hence no switch there.)
#undef GMR
#undef GNV
#undef GNAME
#define GMR 8
#define GNV 3
#define GNAME(x) x##_f64w
#include "cpu/simd/gemm_ukernel.inc"
#undef GTRANS4

// KC: the KC x NR micro-panel of B is reused by every MR-row tile of the MC block and must stay
// in the 48 KiB L1d next to the streaming A micro-panel: 256 x 32 floats = 32 KiB (plus 12 KiB
// of A). MC: the MC x KC block of A (384 x 256 floats = 384 KiB) sits in the 2 MiB L2 with room
// for the C tiles and B panels passing through. NC: the KC x NC block of B (256 x 4096 floats =
// 4 MiB) lives in the large L3.
#define GEMM_BLOCKING_F32 {12, 32, 256, 384, 4096, 16, 32, 16, 8, 2, GDOT_ROWS, 16}
// double: NR = 16 doubles is the same 128 bytes of B per k as float, so KC = 256 keeps the B
// micro-panel at 32 KiB; the A micro-panel doubles to 24 KiB and overflows L1 a little, but
// KC = 128..192 measured no faster (the shorter K loop pays more C-tile updates). A block
// 384 x 256 x 8 = 768 KiB in L2; B block 256 x 2048 x 8 = 4 MiB in L3.
#define GEMM_BLOCKING_F64 {12, 16, 256, 384, 2048, 16, 16, 8, 4, 2, GDOT_ROWS, 16}
// The wide tile: B micro-panel 256 x 24 x 8 = 48 KiB (KC = 128 and 192 measured 1-5% slower on
// Zen 4), NC a multiple of 24.
// Only the packed path uses it: the small products keep the standard direct kernel (the 8 x 24
// direct tile measured 10-30% slower at 64^3 and on 128x10x64).
#define GEMM_BLOCKING_F64_WIDE {8, 24, 256, 384, 2040, 16, 16, 8, 4, 2, GDOT_ROWS, 16}
// The wide tile packs A inside its first column panel's tiles (packed_first): 8 rows cost 8
// stores (and 8 loads) per 24 FMAs there, and skipping the packing pass, whose reads of A wait
// on memory, pays. Zen 4, GFLOP/s, best of alternated processes, one thread: 4096x256x256 50.9
// -> 52.6, 6272x64x576 37.4 -> 41.4, 25088x128x288 41.3 -> 43.5, 1024x1000x1000 52.0 -> 53.6;
// two threads 93 -> 98, 60 -> 79, 77 -> 81, 94 -> 99. The 12 x 32 float tile pays 12 per 24
// FMAs and measured 2-9% slower with it (256^3, 4096x256x256), so it packs A apart, as does the
// 12 x 16 double tile (the same ratio; Intel CPUs, not measured with it).
#define GEMM_F64_WIDE                                                                       \
  {GEMM_BLOCKING_F64_WIDE, packed_f64w, packed_first_f64w, direct_f64, dot_f64, col_f64, \
   col_stream_f64, pack_a_f64w, pack_b_f64w, transpose_c_f64}

#elif defined(__AVX2__)

#define GMR 6
#define GNV 2
#define GDMR 4
#define GDMR1 8
#define GDOT_ROWS 8

static inline __m256i gemm_mask8(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline __m256i gemm_mask4(int n) {
  return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
}
// Transposing lane sums (the dot tiles' epilogue): n vectors of n lanes become one vector of their
// n sums, in log2(n) rounds of two shuffles and an add per pair (3 (n - 1) instructions instead
// of ~3 log2(n) per vector summed alone). Each round halves the lanes that still carry a partial
// sum of every input; inputs are taken in the order that leaves sum t in lane t.
static inline __attribute__((always_inline)) __m256 gemm_reduce8_ps(const __m256* x) {
  // Round 1 pairs the 128-bit halves: y[p] holds x[a] in lanes 0-3, x[b] in lanes 4-7.
  __m256 y[4];
  static constexpr int kOrder[8] = {0, 4, 1, 5, 2, 6, 3, 7};  // lane 4h + s <- input 2s + h
  for (int p = 0; p < 4; ++p) {
    const __m256 u = x[kOrder[2 * p]], v = x[kOrder[2 * p + 1]];
    y[p] = _mm256_add_ps(_mm256_permute2f128_ps(u, v, 0x20), _mm256_permute2f128_ps(u, v, 0x31));
  }
  __m256 w[2];
  for (int p = 0; p < 2; ++p) {
    w[p] = _mm256_add_ps(_mm256_shuffle_ps(y[2 * p], y[2 * p + 1], 0x44),
                         _mm256_shuffle_ps(y[2 * p], y[2 * p + 1], 0xEE));
  }
  return _mm256_add_ps(_mm256_shuffle_ps(w[0], w[1], 0x88), _mm256_shuffle_ps(w[0], w[1], 0xDD));
}
static inline __attribute__((always_inline)) __m256d gemm_reduce4_pd(const __m256d* x) {
  const __m256d y0 = _mm256_add_pd(_mm256_permute2f128_pd(x[0], x[2], 0x20),
                                   _mm256_permute2f128_pd(x[0], x[2], 0x31));
  const __m256d y1 = _mm256_add_pd(_mm256_permute2f128_pd(x[1], x[3], 0x20),
                                   _mm256_permute2f128_pd(x[1], x[3], 0x31));
  return _mm256_add_pd(_mm256_unpacklo_pd(y0, y1), _mm256_unpackhi_pd(y0, y1));
}

#define GT float
#define GV __m256
#define GL 8
#define GMASK __m256i
#define GMASK_N(n) gemm_mask8(n)
#define GLOAD(p) _mm256_loadu_ps(p)
#define GLOADM(p, m) _mm256_maskload_ps((p), (m))
#define GSTORE(p, v) _mm256_storeu_ps((p), (v))
#define GSTOREM(p, m, v) _mm256_maskstore_ps((p), (m), (v))
#define GSET1(x) _mm256_set1_ps(x)
#define GSTORE1(p, v) _mm_store_ss((p), _mm256_castps256_ps128(v))
#define GZERO() _mm256_setzero_ps()
#define GFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define GMUL(a, b) _mm256_mul_ps((a), (b))
#define GREDUCE(x) gemm_reduce8_ps(x)
#define GHL 4
#define GVH __m128
#define GMASKH __m128i
#define GMASKH_N(n) _mm_cmpgt_epi32(_mm_set1_epi32(n), _mm_setr_epi32(0, 1, 2, 3))
#define GLOADH(p) _mm_loadu_ps(p)
#define GLOADHM(p, m) _mm_maskload_ps((p), (m))
#define GSTOREH(p, v) _mm_storeu_ps((p), (v))
#define GSTOREHM(p, m, v) _mm_maskstore_ps((p), (m), (v))
#define GZEROH() _mm_setzero_ps()
#define GFMAH(a, b, c) _mm_fmadd_ps((a), (b), (c))
#define GMULH(a, b) _mm_mul_ps((a), (b))
#define GSET1H(x) _mm_set1_ps(x)
#define GNAME(x) x##_f32
#ifdef GTRANS_F32_8
#define GTRANS8 GTRANS_F32_8
#define GTRANS4 GTRANS_F32_4
#endif
#include "cpu/simd/gemm_ukernel.inc"
#include "cpu/simd/gemm_ukernel_undef.inc"

#define GT double
#define GV __m256d
#define GL 4
#define GMASK __m256i
#define GMASK_N(n) gemm_mask4(n)
#define GLOAD(p) _mm256_loadu_pd(p)
#define GLOADM(p, m) _mm256_maskload_pd((p), (m))
#define GSTORE(p, v) _mm256_storeu_pd((p), (v))
#define GSTOREM(p, m, v) _mm256_maskstore_pd((p), (m), (v))
#define GSET1(x) _mm256_set1_pd(x)
#define GSTORE1(p, v) _mm_store_sd((p), _mm256_castpd256_pd128(v))
#define GZERO() _mm256_setzero_pd()
#define GFMA(a, b, c) _mm256_fmadd_pd((a), (b), (c))
#define GMUL(a, b) _mm256_mul_pd((a), (b))
#define GREDUCE(x) gemm_reduce4_pd(x)
#define GHL 2
#define GVH __m128d
#define GMASKH __m128i
#define GMASKH_N(n) _mm_cmpgt_epi64(_mm_set1_epi64x(n), _mm_set_epi64x(1, 0))
#define GLOADH(p) _mm_loadu_pd(p)
#define GLOADHM(p, m) _mm_maskload_pd((p), (m))
#define GSTOREH(p, v) _mm_storeu_pd((p), (v))
#define GSTOREHM(p, m, v) _mm_maskstore_pd((p), (m), (v))
#define GZEROH() _mm_setzero_pd()
#define GFMAH(a, b, c) _mm_fmadd_pd((a), (b), (c))
#define GMULH(a, b) _mm_mul_pd((a), (b))
#define GSET1H(x) _mm_set1_pd(x)
#define GNAME(x) x##_f64
#ifdef GTRANS_F64_4
#define GTRANS4 GTRANS_F64_4
#endif
#include "cpu/simd/gemm_ukernel.inc"
#undef GTRANS4

// B micro-panel KC x NR: 256 x 16 floats = 16 KiB in L1d; A block 192 x 256 floats = 192 KiB,
// sized for the smaller L2 of AVX2-only CPUs (256 KiB - 1 MiB). Not tuned on such a CPU: on the
// dev machine this path runs (forced) at about 60% of the AVX-512 rate (114 vs 178 GFLOP/s f32).
#define GEMM_BLOCKING_F32 {6, 16, 256, 192, 4096, 8, 16, 8, 4, 2, GDOT_ROWS, 12}
#define GEMM_BLOCKING_F64 {6, 8, 256, 192, 2048, 8, 8, 4, 2, 1, GDOT_ROWS, 12}

#else  // portable

#define GMR 4
#define GNV 8
#define GDMR 4
#define GDMR1 4
#define GDOT_ROWS 4

#define GT float
#define GV float
#define GL 1
#define GMASK int
#define GMASK_N(n) (n)
#define GLOAD(p) (*(p))
#define GLOADM(p, m) ((m) ? *(p) : 0.0f)
#define GSTORE(p, v) (*(p) = (v))
#define GSTOREM(p, m, v) ((m) ? (void)(*(p) = (v)) : (void)0)
#define GSET1(x) (x)
#define GSTORE1(p, v) (*(p) = (v))
#define GZERO() 0.0f
#define GFMA(a, b, c) ((a) * (b) + (c))
#define GMUL(a, b) ((a) * (b))
#define GREDUCE(x) (x[0])
#define GHL 0
#define GVH GV
#define GMASKH GMASK
#define GMASKH_N(n) GMASK_N(n)
#define GLOADH(p) GLOAD(p)
#define GLOADHM(p, m) GLOADM(p, m)
#define GSTOREH(p, v) GSTORE(p, v)
#define GSTOREHM(p, m, v) GSTOREM(p, m, v)
#define GZEROH() GZERO()
#define GFMAH(a, b, c) GFMA(a, b, c)
#define GMULH(a, b) GMUL(a, b)
#define GSET1H(x) GSET1(x)
#define GNAME(x) x##_f32
#ifdef GTRANS_F32_8
#define GTRANS8 GTRANS_F32_8
#define GTRANS4 GTRANS_F32_4
#endif
#include "cpu/simd/gemm_ukernel.inc"
#undef GTRANS8
#undef GTRANS4
#undef GT
#undef GV
#undef GLOADM
#undef GZERO
#undef GNAME

#define GT double
#define GV double
#define GLOADM(p, m) ((m) ? *(p) : 0.0)
#define GZERO() 0.0
#define GNAME(x) x##_f64
#ifdef GTRANS_F64_4
#define GTRANS4 GTRANS_F64_4
#endif
#include "cpu/simd/gemm_ukernel.inc"
#undef GTRANS4

// Portable fallback: correctness first; blocking as for AVX2.
#define GEMM_BLOCKING_F32 {4, 8, 256, 128, 4096, 4, 8, 1, 0, 0, GDOT_ROWS, 4}
#define GEMM_BLOCKING_F64 {4, 8, 256, 128, 2048, 4, 8, 1, 0, 0, GDOT_ROWS, 4}

#endif

#ifndef GEMM_F64_WIDE  // no wide double tile on this ISA: the standard one serves both
#define GEMM_F64_WIDE                                                                 \
  {GEMM_BLOCKING_F64, packed_f64, nullptr, direct_f64, dot_f64, col_f64, col_stream_f64, \
   pack_a_f64, pack_b_f64, transpose_c_f64}
#endif

extern const GemmKernels gemm_kernels = {
    {GEMM_BLOCKING_F32, packed_f32, nullptr, direct_f32, dot_f32, col_f32, col_stream_f32,
     pack_a_f32, pack_b_f32, transpose_c_f32},
    {GEMM_BLOCKING_F64, packed_f64, nullptr, direct_f64, dot_f64, col_f64, col_stream_f64,
     pack_a_f64, pack_b_f64, transpose_c_f64},
    GEMM_F64_WIDE,
};

}  // namespace lamina::LAMINA_ISA_NS
