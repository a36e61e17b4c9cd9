// Pooling loops, compiled once per ISA (see simd.h): each output pixel reduces its window of
// C-contiguous input vectors, so every loop runs across channels at full vector width.
#include "cpu/simd/simd.h"
#include "cpu/pool2d_kernels.h"

namespace lamina::LAMINA_ISA_NS {
namespace {

using i64 = std::int64_t;

// The valid window [k0, k1) of taps for output index o (padding cells are skipped).
inline void window(i64 o, i64 stride, i64 pad, i64 k, i64 in, i64* k0, i64* k1) {
  const i64 start = o * stride - pad;
  *k0 = start < 0 ? -start : 0;
  *k1 = start + k > in ? in - start : k;
}

// Whether cell value v replaces the window's running maximum m. NaN propagates, as numpy's max
// and PyTorch's max pooling do: a NaN takes over from a number and nothing takes over from a NaN,
// so the window's first NaN is its maximum (and its argmax takes the gradient). Among numbers the
// compare is strict: the first maximum wins ties. `!(v <= m)` is v > m or v NaN; `m == m` is m
// not NaN.
template <class T>
inline bool takes_over(T v, T m) {
  return !(v <= m) && m == m;
}

template <class T>
void max_forward(const ConvGeometry* gp, const T* x, T* y, std::int32_t* argmax, i64 n0, i64 n1) {
  const ConvGeometry& g = *gp;
  const i64 C = g.C;
  for (i64 n = n0; n < n1; ++n) {
    const T* xn = x + n * g.H * g.W * C;
    for (i64 oh = 0; oh < g.OH; ++oh) {
      i64 h0, h1;
      window(oh, g.SH, g.PT, g.KH, g.H, &h0, &h1);
      for (i64 ow = 0; ow < g.OW; ++ow) {
        i64 w0, w1;
        window(ow, g.SW, g.PL, g.KW, g.W, &w0, &w1);
        const i64 o = ((n * g.OH + oh) * g.OW + ow) * C;
        T* yo = y + o;
        const i64 ih0 = oh * g.SH - g.PT + h0, iw0 = ow * g.SW - g.PL + w0;
        const T* first = xn + (ih0 * g.W + iw0) * C;
        for (i64 c = 0; c < C; ++c) yo[c] = first[c];
        if (argmax) {
          std::int32_t* ao = argmax + o;
          const std::int32_t idx0 = static_cast<std::int32_t>(ih0 * g.W + iw0);
          for (i64 c = 0; c < C; ++c) ao[c] = idx0;
          for (i64 kh = h0; kh < h1; ++kh) {
            const i64 ih = oh * g.SH - g.PT + kh;
            for (i64 kw = w0; kw < w1; ++kw) {
              const i64 iw = ow * g.SW - g.PL + kw;
              const T* xi = xn + (ih * g.W + iw) * C;
              const std::int32_t idx = static_cast<std::int32_t>(ih * g.W + iw);
#pragma omp simd
              for (i64 c = 0; c < C; ++c) {
                const bool take = takes_over(xi[c], yo[c]);
                yo[c] = take ? xi[c] : yo[c];
                ao[c] = take ? idx : ao[c];
              }
            }
          }
        } else {
          for (i64 kh = h0; kh < h1; ++kh) {
            const i64 ih = oh * g.SH - g.PT + kh;
            for (i64 kw = w0; kw < w1; ++kw) {
              const T* xi = xn + (ih * g.W + ow * g.SW - g.PL + kw) * C;
#pragma omp simd
              for (i64 c = 0; c < C; ++c) {
                const T m = yo[c] > xi[c] ? yo[c] : xi[c];  // one max: xi if either is NaN
                yo[c] = yo[c] == yo[c] ? m : yo[c];          // and a NaN already there stays
              }
            }
          }
        }
      }
    }
  }
}

// Gathers instead of scattering: every valid cell of every window adds dy where the window's
// argmax names it. The compare is vectorised across channels, where a scatter would run one
// element at a time (3x faster on the 2x2 pools of a small convnet).
template <class T>
void max_backward(const ConvGeometry* gp, const T* dy, const std::int32_t* argmax, T* dx, i64 n0,
                  i64 n1) {
  const ConvGeometry& g = *gp;
  const i64 C = g.C, image = g.H * g.W * C;
  for (i64 n = n0; n < n1; ++n) {
    T* dxn = dx + n * image;
    for (i64 i = 0; i < image; ++i) dxn[i] = T(0);
    for (i64 oh = 0; oh < g.OH; ++oh) {
      i64 h0, h1;
      window(oh, g.SH, g.PT, g.KH, g.H, &h0, &h1);
      for (i64 ow = 0; ow < g.OW; ++ow) {
        i64 w0, w1;
        window(ow, g.SW, g.PL, g.KW, g.W, &w0, &w1);
        const i64 o = ((n * g.OH + oh) * g.OW + ow) * C;
        const T* go = dy + o;
        const std::int32_t* ao = argmax + o;
        for (i64 kh = h0; kh < h1; ++kh) {
          const i64 ih = oh * g.SH - g.PT + kh;
          for (i64 kw = w0; kw < w1; ++kw) {
            const i64 iw = ow * g.SW - g.PL + kw;
            const std::int32_t idx = static_cast<std::int32_t>(ih * g.W + iw);
            T* di = dxn + (ih * g.W + iw) * C;
#pragma omp simd
            for (i64 c = 0; c < C; ++c) di[c] += ao[c] == idx ? go[c] : T(0);
          }
        }
      }
    }
  }
}

template <class T>
void avg_forward(const ConvGeometry* gp, const T* x, T* y, i64 n0, i64 n1) {
  const ConvGeometry& g = *gp;
  const i64 C = g.C;
  for (i64 n = n0; n < n1; ++n) {
    const T* xn = x + n * g.H * g.W * C;
    for (i64 oh = 0; oh < g.OH; ++oh) {
      i64 h0, h1;
      window(oh, g.SH, g.PT, g.KH, g.H, &h0, &h1);
      for (i64 ow = 0; ow < g.OW; ++ow) {
        i64 w0, w1;
        window(ow, g.SW, g.PL, g.KW, g.W, &w0, &w1);
        T* yo = y + ((n * g.OH + oh) * g.OW + ow) * C;
        for (i64 c = 0; c < C; ++c) yo[c] = T(0);
        for (i64 kh = h0; kh < h1; ++kh) {
          const i64 ih = oh * g.SH - g.PT + kh;
          for (i64 kw = w0; kw < w1; ++kw) {
            const T* xi = xn + (ih * g.W + ow * g.SW - g.PL + kw) * C;
#pragma omp simd
            for (i64 c = 0; c < C; ++c) yo[c] += xi[c];
          }
        }
        const T inv = T(1) / static_cast<T>((h1 - h0) * (w1 - w0));
#pragma omp simd
        for (i64 c = 0; c < C; ++c) yo[c] *= inv;
      }
    }
  }
}

template <class T>
void avg_backward(const ConvGeometry* gp, const T* dy, T* dx, i64 n0, i64 n1) {
  const ConvGeometry& g = *gp;
  const i64 C = g.C, image = g.H * g.W * C;
  for (i64 n = n0; n < n1; ++n) {
    T* dxn = dx + n * image;
    for (i64 i = 0; i < image; ++i) dxn[i] = T(0);
    for (i64 oh = 0; oh < g.OH; ++oh) {
      i64 h0, h1;
      window(oh, g.SH, g.PT, g.KH, g.H, &h0, &h1);
      for (i64 ow = 0; ow < g.OW; ++ow) {
        i64 w0, w1;
        window(ow, g.SW, g.PL, g.KW, g.W, &w0, &w1);
        const T* go = dy + ((n * g.OH + oh) * g.OW + ow) * C;
        const T inv = T(1) / static_cast<T>((h1 - h0) * (w1 - w0));
        for (i64 kh = h0; kh < h1; ++kh) {
          const i64 ih = oh * g.SH - g.PT + kh;
          for (i64 kw = w0; kw < w1; ++kw) {
            T* di = dxn + (ih * g.W + ow * g.SW - g.PL + kw) * C;
#pragma omp simd
            for (i64 c = 0; c < C; ++c) di[c] += go[c] * inv;
          }
        }
      }
    }
  }
}

template <class T>
constexpr PoolKernelsOf<T> table() {
  return {max_forward<T>, max_backward<T>, avg_forward<T>, avg_backward<T>};
}

}  // namespace

extern const PoolKernels pool2d_kernels = {table<float>(), table<double>()};

}  // namespace lamina::LAMINA_ISA_NS
