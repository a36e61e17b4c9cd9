// Convolution inner loops, compiled once per ISA (see simd.h). Plain loops that GCC vectorises
// over the contiguous channel axis of NHWC data; `omp simd` asks for it where a reduction or a
// conditional would otherwise keep the loop scalar.
//
// Why a direct depthwise kernel instead of im2col + GEMM: with one input channel per group (and
// several groups) the GEMM of each group has an inner dimension of KH * KW (9 for 3x3) and a single output column
// per channel, so packing costs more than the multiply-adds; looping over the output pixels and
// vectorising across channels touches each input once per tap at full vector width.
#include "cpu/simd/simd.h"
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
void depthwise_backward_kernel(const ConvGeometry* gp, const T* x, const T* dy, T* dw, i64 n0,
                               i64 n1) {
  const ConvGeometry& g = *gp;
  const i64 K = g.K, C = g.C, M = K / C;
  for (i64 n = n0; n < n1; ++n) {
    for (i64 oh = 0; oh < g.OH; ++oh) {
      for (i64 ow = 0; ow < g.OW; ++ow) {
        const T* go = dy + ((n * g.OH + oh) * g.OW + ow) * K;
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
      }
    }
  }
}

template <class T>
constexpr ConvKernelsOf<T> table() {
  return {bias_act<T>,          relu_mask<T>,
          column_sums<T>,       depthwise_forward<T>,
          depthwise_backward_input<T>, depthwise_backward_kernel<T>};
}

}  // namespace

extern const ConvKernels conv2d_kernels = {table<float>(), table<double>()};

}  // namespace lamina::LAMINA_ISA_NS
