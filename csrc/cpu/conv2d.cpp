// Drivers of the convolution family (see conv2d.h for the layout contract and the algorithms).
#include "cpu/conv2d.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "common/parallel.h"
#include "cpu/gemm.h"

namespace lamina {

namespace {

using i64 = std::int64_t;

// Columns per chunk: 16 MB (L3 is large on the dev machine; L2 is 2 MB) lets one GEMM cover
// several images, so B is packed once per chunk and the thread grid has rows to split.
// Measured at batch 64 (ms, forward / backward of dkernel+dx+dbias+relu): 32x32x64 -> 64 3x3,
// 1 MB: 25.7 / 58.5, 16 MB: 25.5 / 46.7, 32 MB: 29.4 / 52.1; MNIST's 28x28x1 -> 32 backward,
// 1 MB: 4.1, 16 MB: 2.5.
constexpr i64 kColumnBytes = 16 << 20;

template <class T>
const ConvKernelsOf<T>& kernels() {
  const ConvKernels& k = LAMINA_KERNEL_TABLE(conv2d_kernels);
  if constexpr (sizeof(T) == 4) return k.f32; else return k.f64;
}

// A grow-only scratch buffer per thread (columns, masked gradients); never shrinks.
struct Scratch {
  std::unique_ptr<char[]> data;
  std::size_t bytes = 0;
  template <class T>
  T* get(i64 n) {
    const std::size_t want = static_cast<std::size_t>(std::max<i64>(n, 1)) * sizeof(T) + 64;
    if (want > bytes) {
      data.reset(new char[want]);
      bytes = want;
    }
    auto p = reinterpret_cast<std::uintptr_t>(data.get());
    return reinterpret_cast<T*>((p + 63) & ~std::uintptr_t(63));
  }
};
thread_local Scratch tls_columns;
thread_local Scratch tls_mask;

// One input channel per group, several groups. A single-channel image (G == 1, C == 1) goes to
// im2col + GEMM instead: measured on MNIST's 28x28x1 -> 32 3x3 at batch 64, 0.75 ms against
// 0.95 ms forward and 1.7 ms against 3.2 ms backward, the GEMM's register blocking beating the
// direct loop's 32-wide row updates.
inline bool is_depthwise(const ConvGeometry& g) { return g.C / g.G == 1 && g.G > 1; }
inline bool is_pointwise(const ConvGeometry& g) {
  return g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.PT == 0 && g.PL == 0 &&
         g.OH == g.H && g.OW == g.W && g.G == 1;
}
inline i64 column_width(const ConvGeometry& g) { return g.KH * g.KW * (g.C / g.G); }
// Images per chunk: as many as fit kColumnBytes, then evened out so that the last chunk is not
// a sliver (64 images of 29 per chunk would run 29 + 29 + 6; evened, 22 + 22 + 20).
inline i64 images_per_chunk(const ConvGeometry& g, std::size_t item) {
  const i64 per_image = std::max<i64>(g.OH * g.OW * column_width(g) * static_cast<i64>(item), 1);
  const i64 most = std::max<i64>(1, std::min<i64>(g.N, kColumnBytes / per_image));
  const i64 chunks = (g.N + most - 1) / std::max<i64>(most, 1);
  return std::max<i64>(1, (g.N + chunks - 1) / std::max<i64>(chunks, 1));
}

// col[(n - n0) * OH * OW + oh * OW + ow, (kh * KW + kw) * Cg + c] = x[n, ih, iw, grp * Cg + c].
template <class T>
void im2col(const ConvGeometry& g, const T* x, i64 n0, i64 n1, i64 grp, T* col) {
  const i64 Cg = g.C / g.G, width = column_width(g);
  const i64 rows = (n1 - n0) * g.OH;
  parallel_for(rows, rows * g.OW * width, [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; ++r) {
      const i64 n = n0 + r / g.OH, oh = r % g.OH;
      T* dst = col + r * g.OW * width;
      for (i64 ow = 0; ow < g.OW; ++ow) {
        for (i64 kh = 0; kh < g.KH; ++kh) {
          const i64 ih = oh * g.SH - g.PT + kh * g.DH;
          const bool row_in = ih >= 0 && ih < g.H;
          for (i64 kw = 0; kw < g.KW; ++kw, dst += Cg) {
            const i64 iw = ow * g.SW - g.PL + kw * g.DW;
            if (!row_in || iw < 0 || iw >= g.W) {
              std::memset(dst, 0, Cg * sizeof(T));
              continue;
            }
            const T* src = x + ((n * g.H + ih) * g.W + iw) * g.C + grp * Cg;
            if (Cg < 8) {
              for (i64 c = 0; c < Cg; ++c) dst[c] = src[c];
            } else {
              std::memcpy(dst, src, Cg * sizeof(T));
            }
          }
        }
      }
    }
  });
}

// The adjoint of im2col: dx[n, ih, iw, grp * Cg + c] += dcol[...] for images [n0, n1); one
// image per thread at a time, so no two threads add into the same cell.
template <class T>
void col2im_add(const ConvGeometry& g, const T* dcol, i64 n0, i64 n1, i64 grp, T* dx) {
  const i64 Cg = g.C / g.G, width = column_width(g);
  parallel_for(n1 - n0, (n1 - n0) * g.OH * g.OW * width, [&](i64 a, i64 b) {
    for (i64 i = a; i < b; ++i) {
      const i64 n = n0 + i;
      const T* src = dcol + i * g.OH * g.OW * width;
      for (i64 oh = 0; oh < g.OH; ++oh) {
        for (i64 ow = 0; ow < g.OW; ++ow) {
          for (i64 kh = 0; kh < g.KH; ++kh) {
            const i64 ih = oh * g.SH - g.PT + kh * g.DH;
            const bool row_in = ih >= 0 && ih < g.H;
            for (i64 kw = 0; kw < g.KW; ++kw, src += Cg) {
              const i64 iw = ow * g.SW - g.PL + kw * g.DW;
              if (!row_in || iw < 0 || iw >= g.W) continue;
              T* d = dx + ((n * g.H + ih) * g.W + iw) * g.C + grp * Cg;
              for (i64 c = 0; c < Cg; ++c) d[c] += src[c];
            }
          }
        }
      }
    }
  });
}

// bias + activation over `rows` output rows, threaded.
template <class T>
void epilogue(const ConvKernelsOf<T>& kern, i64 rows, i64 K, const T* b, int act, T* y) {
  if (!b && act == 0) return;
  parallel_for(rows, rows * K, [&](i64 r0, i64 r1) {
    kern.bias_act(r1 - r0, K, b, act, y + r0 * K);
  });
}

// Per-image work, images split over the threads.
template <class Fn>
void over_images(const ConvGeometry& g, Fn&& fn) {
  const i64 work = g.N * g.OH * g.OW * g.K * g.KH * g.KW * 2;
  parallel_for(g.N, work, [&](i64 n0, i64 n1) { fn(n0, n1); });
}

}  // namespace

template <class T>
void conv2d_forward(const ConvGeometry& g, const T* x, const T* w, const T* b, int act, T* y) {
  const ConvKernelsOf<T>& kern = kernels<T>();
  const i64 P = g.N * g.OH * g.OW;
  if (P == 0 || g.K == 0) return;
  if (is_depthwise(g)) {
    over_images(g, [&](i64 n0, i64 n1) { kern.depthwise_forward(&g, x, w, b, act, y, n0, n1); });
    return;
  }
  if (is_pointwise(g)) {
    gemm<T>(false, false, P, g.K, g.C, T(1), x, g.C, w, g.K, T(0), y, g.K);
    epilogue(kern, P, g.K, b, act, y);
    return;
  }
  const i64 width = column_width(g), Kg = g.K / g.G, chunk = images_per_chunk(g, sizeof(T));
  T* col = tls_columns.get<T>(chunk * g.OH * g.OW * width);
  for (i64 n0 = 0; n0 < g.N; n0 += chunk) {
    const i64 n1 = std::min(g.N, n0 + chunk), rows = (n1 - n0) * g.OH * g.OW;
    T* yc = y + n0 * g.OH * g.OW * g.K;
    for (i64 grp = 0; grp < g.G; ++grp) {
      im2col(g, x, n0, n1, grp, col);
      gemm<T>(false, false, rows, Kg, width, T(1), col, width, w + grp * Kg, g.K, T(0),
              yc + grp * Kg, g.K);
    }
    epilogue(kern, rows, g.K, b, act, yc);
  }
}

template <class T>
void conv2d_backward(const ConvGeometry& g, const T* x, const T* w, const T* y, const T* dy,
                     int act, T* dx, T* dw, T* db) {
  const ConvKernelsOf<T>& kern = kernels<T>();
  const i64 P = g.N * g.OH * g.OW, width = column_width(g), Kg = g.K / g.G;
  const i64 dw_size = g.KH * g.KW * (g.C / g.G) * g.K;
  if (P == 0 || g.K == 0) {
    if (dx) std::fill(dx, dx + g.N * g.H * g.W * g.C, T(0));
    if (dw) std::fill(dw, dw + dw_size, T(0));
    if (db) std::fill(db, db + g.K, T(0));
    return;
  }
  // The gradient of the pre-activation: dy itself, or dy masked by relu.
  const T* dz = dy;
  if (act == 1) {
    T* mask = tls_mask.get<T>(P * g.K);
    parallel_for(P, P * g.K, [&](i64 r0, i64 r1) {
      kern.relu_mask((r1 - r0) * g.K, y + r0 * g.K, dy + r0 * g.K, mask + r0 * g.K);
    });
    dz = mask;
  }
  if (db) {
    const int parts = static_cast<int>(std::min<i64>(max_threads(), P));
    std::vector<double> acc(static_cast<std::size_t>(parts) * g.K, 0.0);
    const i64 per = (P + parts - 1) / parts;
    parallel_for(parts, P * g.K, [&](i64 p0, i64 p1) {
      for (i64 p = p0; p < p1; ++p) {
        const i64 r0 = p * per, r1 = std::min(P, r0 + per);
        if (r0 < r1) kern.column_sums(r1 - r0, g.K, dz + r0 * g.K, acc.data() + p * g.K);
      }
    });
    for (i64 k = 0; k < g.K; ++k) {
      double s = 0.0;
      for (int p = 0; p < parts; ++p) s += acc[p * g.K + k];
      db[k] = static_cast<T>(s);
    }
  }
  if (is_depthwise(g)) {
    if (dx) {
      over_images(g, [&](i64 n0, i64 n1) {
        kern.depthwise_backward_input(&g, dz, w, dx, n0, n1);
      });
    }
    if (dw) {
      // One partial kernel gradient per thread, summed in a fixed order (deterministic).
      const int parts = static_cast<int>(std::min<i64>(max_threads(), g.N));
      std::vector<T> partial(static_cast<std::size_t>(parts) * dw_size, T(0));
      const i64 per = (g.N + parts - 1) / parts;
      parallel_for(parts, P * g.K * g.KH * g.KW * 2, [&](i64 p0, i64 p1) {
        for (i64 p = p0; p < p1; ++p) {
          const i64 n0 = p * per, n1 = std::min(g.N, n0 + per);
          if (n0 < n1) kern.depthwise_backward_kernel(&g, x, dz, partial.data() + p * dw_size,
                                                      n0, n1);
        }
      });
      for (i64 i = 0; i < dw_size; ++i) {
        T s = T(0);
        for (int p = 0; p < parts; ++p) s += partial[p * dw_size + i];
        dw[i] = s;
      }
    }
    return;
  }
  if (is_pointwise(g)) {
    if (dw) gemm<T>(true, false, g.C, g.K, P, T(1), x, g.C, dz, g.K, T(0), dw, g.K);
    if (dx) gemm<T>(false, true, P, g.C, g.K, T(1), dz, g.K, w, g.K, T(0), dx, g.C);
    return;
  }
  const i64 chunk = images_per_chunk(g, sizeof(T));
  T* col = tls_columns.get<T>(chunk * g.OH * g.OW * width);
  const i64 image = g.H * g.W * g.C;
  for (i64 n0 = 0; n0 < g.N; n0 += chunk) {
    const i64 n1 = std::min(g.N, n0 + chunk), rows = (n1 - n0) * g.OH * g.OW;
    const T* dzc = dz + n0 * g.OH * g.OW * g.K;
    if (dx) {
      T* dxc = dx + n0 * image;
      parallel_for(n1 - n0, (n1 - n0) * image, [&](i64 a, i64 b) {
        std::fill(dxc + a * image, dxc + b * image, T(0));
      });
    }
    for (i64 grp = 0; grp < g.G; ++grp) {
      if (dw) {
        im2col(g, x, n0, n1, grp, col);
        gemm<T>(true, false, width, Kg, rows, T(1), col, width, dzc + grp * Kg, g.K,
                n0 == 0 ? T(0) : T(1), dw + grp * Kg, g.K);
      }
      if (dx) {
        // dcol = dz_g @ w_g^T, then scattered back onto the image (the columns overlap).
        gemm<T>(false, true, rows, width, Kg, T(1), dzc + grp * Kg, g.K, w + grp * Kg, g.K, T(0),
                col, width);
        col2im_add(g, col, n0, n1, grp, dx);
      }
    }
  }
}

#define LAMINA_INSTANTIATE_CONV2D(T)                                                         \
  template void conv2d_forward<T>(const ConvGeometry&, const T*, const T*, const T*, int, T*); \
  template void conv2d_backward<T>(const ConvGeometry&, const T*, const T*, const T*, const T*, \
                                   int, T*, T*, T*);
LAMINA_INSTANTIATE_CONV2D(float)
LAMINA_INSTANTIATE_CONV2D(double)
#undef LAMINA_INSTANTIATE_CONV2D

}  // namespace lamina
