// Convolution inner loops, compiled once per ISA (see simd.h). Plain loops that GCC vectorises
// over the contiguous channel axis of NHWC data; `omp simd` asks for it where a reduction or a
// conditional would otherwise keep the loop scalar.
//
// Why a direct depthwise kernel instead of im2col + GEMM: with one input channel per group (and
// several groups) the GEMM of each group has an inner dimension of KH * KW (9 for 3x3) and a single output column
// per channel, so packing costs more than the multiply-adds; looping over the output pixels and
// vectorising across channels touches each input once per tap at full vector width.
#include "cpu/simd/simd.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "cpu/conv2d_kernels.h"

namespace lamina::LAMINA_ISA_NS {
namespace {

using i64 = std::int64_t;

template <class T>
void bias_act(i64 rows, i64 cols, const T* b, int act, T* y) {
  for (i64 r = 0; r < rows; ++r) {
    T* yr = y + r * cols;
    if (b) {
#pragma omp simd
      for (i64 c = 0; c < cols; ++c) yr[c] += b[c];
    }
    if (act == 1) {
#pragma omp simd
      for (i64 c = 0; c < cols; ++c) yr[c] = yr[c] > T(0) ? yr[c] : T(0);
    }
  }
}

template <class T>
void relu_mask(i64 n, const T* y, const T* dy, T* dz) {
#pragma omp simd
  for (i64 i = 0; i < n; ++i) dz[i] = y[i] > T(0) ? dy[i] : T(0);
}

template <class T>
void column_sums(i64 rows, i64 cols, const T* a, double* acc) {
  for (i64 r = 0; r < rows; ++r) {
    const T* ar = a + r * cols;
#pragma omp simd
    for (i64 c = 0; c < cols; ++c) acc[c] += static_cast<double>(ar[c]);
  }
}

template <class T>
void depthwise_forward(const ConvGeometry* gp, const T* x, const T* w, const T* b, int act, T* y,
                       i64 n0, i64 n1) {
  const ConvGeometry& g = *gp;
  const i64 K = g.K, C = g.C, M = K / C;
  for (i64 n = n0; n < n1; ++n) {
    for (i64 oh = 0; oh < g.OH; ++oh) {
      for (i64 ow = 0; ow < g.OW; ++ow) {
        T* yo = y + ((n * g.OH + oh) * g.OW + ow) * K;
        for (i64 k = 0; k < K; ++k) yo[k] = b ? b[k] : T(0);
        for (i64 kh = 0; kh < g.KH; ++kh) {
          const i64 ih = oh * g.SH - g.PT + kh * g.DH;
          if (ih < 0 || ih >= g.H) continue;
          for (i64 kw = 0; kw < g.KW; ++kw) {
            const i64 iw = ow * g.SW - g.PL + kw * g.DW;
            if (iw < 0 || iw >= g.W) continue;
            const T* xi = x + ((n * g.H + ih) * g.W + iw) * C;
            const T* wk = w + (kh * g.KW + kw) * K;
            if (M == 1) {
#pragma omp simd
              for (i64 k = 0; k < K; ++k) yo[k] += xi[k] * wk[k];
            } else {
              for (i64 c = 0; c < C; ++c) {
                const T xv = xi[c];
                const T* wc = wk + c * M;
                T* yc = yo + c * M;
#pragma omp simd
                for (i64 m = 0; m < M; ++m) yc[m] += xv * wc[m];
              }
            }
          }
        }
        if (act == 1) {
#pragma omp simd
          for (i64 k = 0; k < K; ++k) yo[k] = yo[k] > T(0) ? yo[k] : T(0);
        }
      }
    }
  }
}

template <class T>
void depthwise_backward_input(const ConvGeometry* gp, const T* dy, const T* w, T* dx, i64 n0,
                              i64 n1) {
  const ConvGeometry& g = *gp;
  const i64 K = g.K, C = g.C, M = K / C;
  for (i64 n = n0; n < n1; ++n) {
    T* dxn = dx + n * g.H * g.W * C;
    for (i64 i = 0; i < g.H * g.W * C; ++i) dxn[i] = T(0);
    for (i64 oh = 0; oh < g.OH; ++oh) {
      for (i64 ow = 0; ow < g.OW; ++ow) {
        const T* go = dy + ((n * g.OH + oh) * g.OW + ow) * K;
        for (i64 kh = 0; kh < g.KH; ++kh) {
          const i64 ih = oh * g.SH - g.PT + kh * g.DH;
          if (ih < 0 || ih >= g.H) continue;
          for (i64 kw = 0; kw < g.KW; ++kw) {
            const i64 iw = ow * g.SW - g.PL + kw * g.DW;
            if (iw < 0 || iw >= g.W) continue;
            T* di = dxn + (ih * g.W + iw) * C;
            const T* wk = w + (kh * g.KW + kw) * K;
            if (M == 1) {
#pragma omp simd
              for (i64 k = 0; k < K; ++k) di[k] += go[k] * wk[k];
            } else {
              for (i64 c = 0; c < C; ++c) {
                T s = T(0);
#pragma omp simd reduction(+ : s)
                for (i64 m = 0; m < M; ++m) s += go[c * M + m] * wk[c * M + m];
                di[c] += s;
              }
            }
          }
        }
      }
    }
  }
}

template <class T>
void depthwise_backward_kernel(const ConvGeometry* gp, const T* x, const T* dy, T* dw, i64 p0,
                               i64 p1) {
  const ConvGeometry& g = *gp;
  const i64 K = g.K, C = g.C, M = K / C;
  i64 n = p0 / (g.OH * g.OW), oh = p0 / g.OW % g.OH, ow = p0 % g.OW;
  for (i64 p = p0; p < p1; ++p) {
    const T* go = dy + p * K;
    for (i64 kh = 0; kh < g.KH; ++kh) {
      const i64 ih = oh * g.SH - g.PT + kh * g.DH;
      if (ih < 0 || ih >= g.H) continue;
      for (i64 kw = 0; kw < g.KW; ++kw) {
        const i64 iw = ow * g.SW - g.PL + kw * g.DW;
        if (iw < 0 || iw >= g.W) continue;
        const T* xi = x + ((n * g.H + ih) * g.W + iw) * C;
        T* dwk = dw + (kh * g.KW + kw) * K;
        if (M == 1) {
#pragma omp simd
          for (i64 k = 0; k < K; ++k) dwk[k] += xi[k] * go[k];
        } else {
          for (i64 c = 0; c < C; ++c) {
            const T xv = xi[c];
#pragma omp simd
            for (i64 m = 0; m < M; ++m) dwk[c * M + m] += xv * go[c * M + m];
          }
        }
      }
    }
    if (++ow == g.OW) {
      ow = 0;
      if (++oh == g.OH) {
        oh = 0;
        ++n;
      }
    }
  }
}


// -- indirect convolution tiles ------------------------------------------------------------------
//
// The 3x3 (and every other non-depthwise) convolution as an implicit GEMM that reads its A
// operand in place through row pointers instead of through an im2col copy (the "indirect
// convolution" of Dukhan, XNNPACK). One output tile is MR output pixels x NV vectors of output
// channels; for each tap the driver hands MR pointers (to the input pixel each output pixel reads
// through that tap, or to a zero row for padding), and the tile broadcasts input channels from
// them against one row of the packed kernel panel. All taps accumulate in registers, so each
// output is stored once, with bias and relu applied on the way out.
//
// Vec<T>: the few vector operations the tiles need, per ISA.
template <class T>
struct Vec;

#if defined(__AVX512F__)
template <>
struct Vec<float> {
  using V = __m512;
  using M = __mmask16;
  static constexpr int L = 16;
  static M mask(int n) { return n >= L ? M(0xFFFF) : n <= 0 ? M(0) : M((1u << n) - 1u); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V loadm(const float* p, M m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static void storem(float* p, M m, V v) { _mm512_mask_storeu_ps(p, m, v); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V zero() { return _mm512_setzero_ps(); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
};
template <>
struct Vec<double> {
  using V = __m512d;
  using M = __mmask8;
  static constexpr int L = 8;
  static M mask(int n) { return n >= L ? M(0xFF) : n <= 0 ? M(0) : M((1u << n) - 1u); }
  static V load(const double* p) { return _mm512_loadu_pd(p); }
  static V loadm(const double* p, M m) { return _mm512_maskz_loadu_pd(m, p); }
  static void store(double* p, V v) { _mm512_storeu_pd(p, v); }
  static void storem(double* p, M m, V v) { _mm512_mask_storeu_pd(p, m, v); }
  static V set1(double x) { return _mm512_set1_pd(x); }
  static V zero() { return _mm512_setzero_pd(); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static V max(V a, V b) { return _mm512_max_pd(a, b); }
};
// 32 zmm: the wide tile keeps 6 x 4 accumulators (+ 4 kernel vectors + 1 broadcast), so each
// broadcast input value feeds 4 FMAs and 64 float output channels fit in one tile; the narrow
// tile (8 x 2) serves 32 or fewer channels.
#define CONV_TILE_WIDE 6, 4
#define CONV_TILE_NARROW 8, 2
#elif defined(__AVX2__)
template <>
struct Vec<float> {
  using V = __m256;
  using M = __m256i;
  static constexpr int L = 8;
  static M mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V loadm(const float* p, M m) { return _mm256_maskload_ps(p, m); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static void storem(float* p, M m, V v) { _mm256_maskstore_ps(p, m, v); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V zero() { return _mm256_setzero_ps(); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
};
template <>
struct Vec<double> {
  using V = __m256d;
  using M = __m256i;
  static constexpr int L = 4;
  static M mask(int n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
  }
  static V load(const double* p) { return _mm256_loadu_pd(p); }
  static V loadm(const double* p, M m) { return _mm256_maskload_pd(p, m); }
  static void store(double* p, V v) { _mm256_storeu_pd(p, v); }
  static void storem(double* p, M m, V v) { _mm256_maskstore_pd(p, m, v); }
  static V set1(double x) { return _mm256_set1_pd(x); }
  static V zero() { return _mm256_setzero_pd(); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static V max(V a, V b) { return _mm256_max_pd(a, b); }
};
// 16 ymm: 6 x 2 accumulators + 2 kernel vectors + 1 broadcast.
#define CONV_TILE_WIDE 6, 2
#define CONV_TILE_NARROW 8, 1
#else
template <class T>
struct Vec {
  using V = T;
  using M = bool;
  static constexpr int L = 1;
  static M mask(int n) { return n > 0; }
  static V load(const T* p) { return *p; }
  static V loadm(const T* p, M m) { return m ? *p : T(0); }
  static void store(T* p, V v) { *p = v; }
  static void storem(T* p, M m, V v) {
    if (m) *p = v;
  }
  static V set1(T x) { return x; }
  static V zero() { return T(0); }
  static V fma(V a, V b, V c) { return a * b + c; }
  static V add(V a, V b) { return a + b; }
  static V max(V a, V b) { return a > b ? a : b; }
};
#define CONV_TILE_WIDE 4, 8
#define CONV_TILE_NARROW 4, 4
#endif

// y[i, j] = act(bias[j] + sum over taps q and channels c of ptrs[q * MR + i][c] * b[(taps[q] *
// depth + c) * NC + j]) for i < m, j < n, NC = NV * L. b is the packed kernel panel ((taps *
// depth) x NC, zero-padded past n); rows i >= m read valid (zero) rows and are not stored.
template <class T, int MR, int NV>
void conv_tile(i64 ntaps, const int* taps, i64 depth, const T* const* ptrs, const T* b, T* y,
               i64 ldy, int m, int n, const T* bias, int act) {
  using W = Vec<T>;
  using V = typename W::V;
  constexpr int L = W::L, NC = NV * L;
  V acc[MR][NV];
  _Pragma("GCC unroll 16") for (int i = 0; i < MR; ++i) {
    _Pragma("GCC unroll 8") for (int v = 0; v < NV; ++v) acc[i][v] = W::zero();
  }
  for (i64 q = 0; q < ntaps; ++q) {
    const T* pa[MR];
    _Pragma("GCC unroll 16") for (int i = 0; i < MR; ++i) pa[i] = ptrs[q * MR + i];
    const T* bq = b + static_cast<i64>(taps[q]) * depth * NC;
    for (i64 c = 0; c < depth; ++c) {
      V bv[NV];
      _Pragma("GCC unroll 8") for (int v = 0; v < NV; ++v) bv[v] = W::load(bq + v * L);
      _Pragma("GCC unroll 16") for (int i = 0; i < MR; ++i) {
        const V a = W::set1(pa[i][c]);
        _Pragma("GCC unroll 8") for (int v = 0; v < NV; ++v) acc[i][v] = W::fma(a, bv[v], acc[i][v]);
      }
      bq += NC;
    }
  }
  typename W::M mk[NV];
  V bb[NV];
  _Pragma("GCC unroll 8") for (int v = 0; v < NV; ++v) {
    mk[v] = W::mask(n - v * L);
    bb[v] = bias ? W::loadm(bias + v * L, mk[v]) : W::zero();
  }
  const V zero = W::zero();
  _Pragma("GCC unroll 16") for (int i = 0; i < MR; ++i) {
    if (i >= m) break;
    T* yi = y + i * ldy;
    _Pragma("GCC unroll 8") for (int v = 0; v < NV; ++v) {
      V r = W::add(acc[i][v], bb[v]);
      if (act == 1) r = W::max(r, zero);
      if (n >= NC) {
        W::store(yi + v * L, r);
      } else if (v * L < n) {
        W::storem(yi + v * L, mk[v], r);
      }
    }
  }
}

// c[i * ldc + j] += sum over q of a[q][a_off + i] * b[q][b_off + j] for i < m, j < n (the
// kernel gradient: rows are (tap, channel) pairs, the sum runs over output pixels). FULL: m ==
// MR (rows read at fixed offsets); otherwise rows past m re-read row m - 1 and are not stored.
template <class T, int MR, int NV, bool FULL>
void conv_dw_tile_impl(i64 count, const T* const* a, i64 a_off, const T* const* b, i64 b_off,
                       T* c, i64 ldc, int m, int n) {
  using W = Vec<T>;
  using V = typename W::V;
  constexpr int L = W::L, NC = NV * L;
  V acc[MR][NV];
  _Pragma("GCC unroll 16") for (int i = 0; i < MR; ++i) {
    _Pragma("GCC unroll 8") for (int v = 0; v < NV; ++v) acc[i][v] = W::zero();
  }
  typename W::M mk[NV];
  _Pragma("GCC unroll 8") for (int v = 0; v < NV; ++v) mk[v] = W::mask(n - v * L);
  i64 off[MR];
  _Pragma("GCC unroll 16") for (int i = 0; i < MR; ++i) off[i] = FULL ? i : (i < m ? i : m - 1);
  for (i64 q = 0; q < count; ++q) {
    const T* aq = a[q] + a_off;
    const T* bq = b[q] + b_off;
    V bv[NV];
    _Pragma("GCC unroll 8") for (int v = 0; v < NV; ++v) {
      bv[v] = n >= NC ? W::load(bq + v * L) : W::loadm(bq + v * L, mk[v]);
    }
    _Pragma("GCC unroll 16") for (int i = 0; i < MR; ++i) {
      const V av = W::set1(FULL ? aq[i] : aq[off[i]]);
      _Pragma("GCC unroll 8") for (int v = 0; v < NV; ++v) acc[i][v] = W::fma(av, bv[v], acc[i][v]);
    }
  }
  _Pragma("GCC unroll 16") for (int i = 0; i < MR; ++i) {
    if (i >= m) break;
    T* ci = c + i * ldc;
    _Pragma("GCC unroll 8") for (int v = 0; v < NV; ++v) {
      if (n >= NC) {
        W::store(ci + v * L, W::add(W::load(ci + v * L), acc[i][v]));
      } else if (v * L < n) {
        W::storem(ci + v * L, mk[v], W::add(W::loadm(ci + v * L, mk[v]), acc[i][v]));
      }
    }
  }
}

template <class T, int MR, int NV>
void conv_dw_tile(i64 count, const T* const* a, i64 a_off, const T* const* b, i64 b_off, T* c,
                  i64 ldc, int m, int n) {
  if (m == MR) {
    conv_dw_tile_impl<T, MR, NV, true>(count, a, a_off, b, b_off, c, ldc, m, n);
  } else {
    conv_dw_tile_impl<T, MR, NV, false>(count, a, a_off, b, b_off, c, ldc, m, n);
  }
}

template <class T, int MR, int NV>
constexpr ConvTile<T> tile() {
  return {MR, NV * Vec<T>::L, conv_tile<T, MR, NV>, conv_dw_tile<T, MR, NV>};
}

template <class T>
constexpr ConvKernelsOf<T> table() {
  return {bias_act<T>,          relu_mask<T>,
          column_sums<T>,       depthwise_forward<T>,
          depthwise_backward_input<T>, depthwise_backward_kernel<T>,
          {tile<T, CONV_TILE_WIDE>(), tile<T, CONV_TILE_NARROW>()}};
}

}  // namespace

extern const ConvKernels conv2d_kernels = {table<float>(), table<double>()};

}  // namespace lamina::LAMINA_ISA_NS
