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
// the indirect tiles instead (gathered patches): their register blocking beats the direct
// loop's row updates.
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

// The adjoint of im2col (dcol rows (n, oh, ow), columns (kh, kw, c)): dx[n, ih, iw, grp * Cg + c] += dcol[...] for images [n0, n1); one
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

// The number of fixed parts a reduction over n items is split into: parts of at least
// kMinPartItems items, at most kMaxParts of them. It depends on n alone, never on the thread
// count, so partial sums added in part order give the same bits with any number of threads;
// kMaxParts bounds the partials' memory and leaves parts for many threads.
constexpr i64 kMinPartItems = 256;
constexpr i64 kMaxParts = 64;
inline i64 reduction_parts(i64 n) {
  return std::max<i64>(1, std::min(kMaxParts, (n + kMinPartItems - 1) / kMinPartItems));
}

// out[i] = sum over p < parts of partial[p * size + i], added in order p = 0, 1, ...
template <class T>
void add_parts_in_order(const T* partial, i64 parts, i64 size, T* out) {
  parallel_for(size, size * parts, [&](i64 i0, i64 i1) {
    std::copy(partial + i0, partial + i1, out + i0);
    for (i64 p = 1; p < parts; ++p) {
      const T* src = partial + p * size;
      for (i64 i = i0; i < i1; ++i) out[i] += src[i];
    }
  });
}

// Per-image work, images split over the threads.
template <class Fn>
void over_images(const ConvGeometry& g, Fn&& fn) {
  const i64 work = g.N * g.OH * g.OW * g.K * g.KH * g.KW * 2;
  parallel_for(g.N, work, [&](i64 n0, i64 n1) { fn(n0, n1); });
}


// -- indirect convolution (see ConvTile in conv2d_kernels.h) --------------------------------------

// The tile for `cols` output channels per group: the wide one unless the narrow one covers them.
template <class T>
const ConvTile<T>& tile_for(const ConvKernelsOf<T>& kern, i64 cols) {
  return cols <= kern.tiles[1].nc ? kern.tiles[1] : kern.tiles[0];
}

// Packs a per-group weight matrix into the tiles' panel layout: for group grp and panel q,
// dst[((grp * panels + q) * rows + r) * nc + j] = src(grp, r, q * nc + j), zero for columns
// past `cols`. src(grp, r, j) = w[r * ldr + grp * goff + j * ldj].
template <class T>
void pack_panels(const T* w, i64 G, i64 rows, i64 cols, i64 ldr, i64 goff, i64 ldj, i64 nc,
                 T* dst) {
  const i64 panels = (cols + nc - 1) / nc;
  for (i64 grp = 0; grp < G; ++grp) {
    for (i64 q = 0; q < panels; ++q) {
      T* d = dst + (grp * panels + q) * rows * nc;
      const i64 j0 = q * nc, n = std::min(nc, cols - j0);
      for (i64 r = 0; r < rows; ++r) {
        const T* src = w + r * ldr + grp * goff + j0 * ldj;
        for (i64 j = 0; j < n; ++j) d[r * nc + j] = src[j * ldj];
        for (i64 j = n; j < nc; ++j) d[r * nc + j] = T(0);
      }
    }
  }
}

thread_local Scratch tls_panels;

// Where tap (kh, kw) of pixel (a, b) of an (N, A, B) grid reads: source pixel (a * S_h + kh * D_h
// + O_h, b * S_w + kw * D_w + O_w) of the (N, Hs, Ws, Cs) array src, or nothing (padding) outside
// it. The forward pass reads x (S = strides, D = dilation, O = -pad); the input gradient at
// stride 1 reads dz (S = 1, D = -dilation, O = +pad).
template <class T>
struct TapMap {
  const T* src;
  i64 Hs, Ws, Cs, Sh, Sw, Dh, Dw, Oh, Ow;
  i64 A, B, KH, KW;
};

// Walks pixels p0, p0 + 1, ... of the (N, A, B) grid in order, without a division per pixel.
struct PixelWalk {
  i64 n, a, b, A, B;
  PixelWalk(i64 p, i64 A_, i64 B_) : n(p / (A_ * B_)), a(p / B_ % A_), b(p % B_), A(A_), B(B_) {}
  void next() {
    if (++b == B) {
      b = 0;
      if (++a == A) { a = 0; ++n; }
    }
  }
};

// Offsets of each tap's source pixel from tap (0, 0)'s: (kh * D_h * Ws + kw * D_w) * Cs.
template <class T>
std::vector<i64> tap_offsets(const TapMap<T>& mp) {
  std::vector<i64> off(static_cast<std::size_t>(mp.KH * mp.KW));
  for (i64 kh = 0; kh < mp.KH; ++kh) {
    for (i64 kw = 0; kw < mp.KW; ++kw) {
      off[kh * mp.KW + kw] = (kh * mp.Dh * mp.Ws + kw * mp.Dw) * mp.Cs;
    }
  }
  return off;
}

// True when every tap of the pixel lies inside the source (no padding to check per tap).
template <class T>
inline bool interior(const TapMap<T>& mp, i64 ia0, i64 ib0) {
  const i64 eh = (mp.KH - 1) * mp.Dh, ew = (mp.KW - 1) * mp.Dw;
  return ia0 + std::min<i64>(eh, 0) >= 0 && ia0 + std::max<i64>(eh, 0) < mp.Hs &&
         ib0 + std::min<i64>(ew, 0) >= 0 && ib0 + std::max<i64>(ew, 0) < mp.Ws;
}

// ptr[(kh * KW + kw) * stride] for one pixel: the source row of every tap, null for padding.
template <class T>
inline void tap_pointers(const TapMap<T>& mp, const i64* toff, const PixelWalk& px,
                         const T** ptr, i64 stride) {
  const i64 ia0 = px.a * mp.Sh + mp.Oh, ib0 = px.b * mp.Sw + mp.Ow;
  const T* image = mp.src + px.n * mp.Hs * mp.Ws * mp.Cs;
  const i64 taps = mp.KH * mp.KW;
  if (interior(mp, ia0, ib0)) {
    const T* origin = image + (ia0 * mp.Ws + ib0) * mp.Cs;
    for (i64 t = 0; t < taps; ++t) ptr[t * stride] = origin + toff[t];
    return;
  }
  for (i64 kh = 0; kh < mp.KH; ++kh) {
    const i64 ia = ia0 + kh * mp.Dh;
    const bool row_in = ia >= 0 && ia < mp.Hs;
    const T* row = image + ia * mp.Ws * mp.Cs;
    for (i64 kw = 0; kw < mp.KW; ++kw, ptr += stride) {
      const i64 ib = ib0 + kw * mp.Dw;
      *ptr = row_in && ib >= 0 && ib < mp.Ws ? row + ib * mp.Cs : nullptr;
    }
  }
}

// dst[tap * depth + c] = source row of the tap [shift + c] (zero for padding): one im2col row.
template <class T>
inline void gather_patch(const TapMap<T>& mp, const i64* toff, const PixelWalk& px, i64 shift,
                         i64 depth, T* dst) {
  const i64 ia0 = px.a * mp.Sh + mp.Oh, ib0 = px.b * mp.Sw + mp.Ow;
  const T* image = mp.src + px.n * mp.Hs * mp.Ws * mp.Cs + shift;
  const i64 taps = mp.KH * mp.KW;
  if (interior(mp, ia0, ib0)) {
    const T* origin = image + (ia0 * mp.Ws + ib0) * mp.Cs;
    if (depth == 1) {
      for (i64 t = 0; t < taps; ++t) dst[t] = origin[toff[t]];
    } else {
      for (i64 t = 0; t < taps; ++t) {
        for (i64 c = 0; c < depth; ++c) dst[t * depth + c] = origin[toff[t] + c];
      }
    }
    return;
  }
  for (i64 kh = 0; kh < mp.KH; ++kh) {
    const i64 ia = ia0 + kh * mp.Dh;
    const bool row_in = ia >= 0 && ia < mp.Hs;
    const T* row = image + ia * mp.Ws * mp.Cs;
    for (i64 kw = 0; kw < mp.KW; ++kw, dst += depth) {
      const i64 ib = ib0 + kw * mp.Dw;
      if (row_in && ib >= 0 && ib < mp.Ws) {
        for (i64 c = 0; c < depth; ++c) dst[c] = row[ib * mp.Cs + c];
      } else {
        for (i64 c = 0; c < depth; ++c) dst[c] = T(0);
      }
    }
  }
}

// Output pixels of the (N, A, B) grid in tiles of mr; for each tile and group the source row of
// every tap and pixel (padding replaced by a zero row), then one tile call per panel of output
// channels. Taps whose pointers are all padding are dropped. Threads split the tiles; each output
// is computed by one tile call, whatever the split.
template <class T>
void indirect_conv(const ConvTile<T>& tile, const TapMap<T>& mp, i64 N, i64 G, i64 depth,
                   i64 cols, i64 group_in, const T* packed, const T* bias, int act, T* out,
                   i64 ld_out) {
  const int MR = tile.mr;
  const i64 nc = tile.nc, panels = (cols + nc - 1) / nc, taps = mp.KH * mp.KW;
  const i64 P = N * mp.A * mp.B, tiles = (P + MR - 1) / MR, width = taps * depth;
  const bool gathered = depth < 4;
  std::vector<T> zeros(static_cast<std::size_t>(std::max<i64>(depth, 1)), T(0));
  const T* zero = zeros.data();
  const std::vector<i64> toff = tap_offsets(mp);
  parallel_for(tiles, P * taps * depth * cols * G * 2, [&](i64 t0, i64 t1) {
    std::vector<const T*> base(static_cast<std::size_t>(taps * MR));
    std::vector<const T*> ptrs(static_cast<std::size_t>(taps * MR));
    std::vector<int> active(static_cast<std::size_t>(taps));
    std::vector<T> col(gathered ? static_cast<std::size_t>(MR * width) : 0);
    PixelWalk px(t0 * MR, mp.A, mp.B);
    for (i64 tile_i = t0; tile_i < t1; ++tile_i) {
      const i64 p0 = tile_i * MR;
      const int m = static_cast<int>(std::min<i64>(MR, P - p0));
      if (gathered) {
        // Few channels per tap (a first layer): copy the tile's patches into im2col rows and
        // run them as one tap of depth KH * KW * depth, instead of a pointer per tap and value.
        const PixelWalk start = px;
        for (i64 grp = 0; grp < G; ++grp) {
          px = start;
          for (int i = 0; i < MR; ++i) {
            T* dst = col.data() + i * width;
            if (i < m) {
              gather_patch(mp, toff.data(), px, grp * group_in, depth, dst);
              px.next();
            } else {
              for (i64 r = 0; r < width; ++r) dst[r] = T(0);
            }
            ptrs[i] = dst;
          }
          const int tap0 = 0;
          for (i64 q = 0; q < panels; ++q) {
            const i64 j0 = q * nc;
            tile.forward(1, &tap0, width, ptrs.data(),
                         packed + (grp * panels + q) * taps * depth * nc,
                         out + p0 * ld_out + grp * cols + j0, ld_out, m,
                         static_cast<int>(std::min(nc, cols - j0)),
                         bias ? bias + grp * cols + j0 : nullptr, act);
          }
        }
        continue;
      }
      for (int i = 0; i < MR; ++i) {
        if (i < m) {
          tap_pointers(mp, toff.data(), px, base.data() + i, MR);
          px.next();
        } else {
          for (i64 t = 0; t < taps; ++t) base[t * MR + i] = nullptr;
        }
      }
      for (i64 grp = 0; grp < G; ++grp) {
        i64 nact = 0;
        for (i64 t = 0; t < taps; ++t) {
          bool any = false;
          const T** dst = ptrs.data() + nact * MR;
          for (int i = 0; i < MR; ++i) {
            const T* b = base[t * MR + i];
            any |= b != nullptr;
            dst[i] = b ? b + grp * group_in : zero;
          }
          if (any) active[nact++] = static_cast<int>(t);
        }
        for (i64 q = 0; q < panels; ++q) {
          const i64 j0 = q * nc;
          tile.forward(nact, active.data(), depth, ptrs.data(),
                       packed + (grp * panels + q) * taps * depth * nc,
                       out + p0 * ld_out + grp * cols + j0, ld_out, m,
                       static_cast<int>(std::min(nc, cols - j0)),
                       bias ? bias + grp * cols + j0 : nullptr, act);
        }
      }
    }
  });
}

// y = act(conv(x, w) + b) through the indirect tiles.
template <class T>
void forward_indirect(const ConvKernelsOf<T>& kern, const ConvGeometry& g, const T* x,
                      const T* w, const T* b, int act, T* y) {
  const i64 Cg = g.C / g.G, Kg = g.K / g.G, taps = g.KH * g.KW;
  const ConvTile<T>& tile = tile_for(kern, Kg);
  const i64 panels = (Kg + tile.nc - 1) / tile.nc;
  T* packed = tls_panels.get<T>(g.G * panels * taps * Cg * tile.nc);
  // w (KH, KW, Cg, K): row r = tap * Cg + c, column grp * Kg + j.
  pack_panels(w, g.G, taps * Cg, Kg, g.K, Kg, 1, tile.nc, packed);
  const TapMap<T> mp{x, g.H, g.W, g.C, g.SH, g.SW, g.DH, g.DW, -g.PT, -g.PL,
                     g.OH, g.OW, g.KH, g.KW};
  indirect_conv<T>(tile, mp, g.N, g.G, Cg, Kg, Cg, packed, b, act, y, g.K);
}

// Stride 1 only (the caller's choice): dx = the convolution of dz with the kernel transposed per tap: dx[n, ih, iw, grp, c] = sum
// over taps and k of dz[n, oh, ow, grp, k] * w[kh, kw, c, grp, k] with oh * SH = ih + PT - kh *
// DH (likewise ow). Each dx pixel is written once: no zero fill, no col2im scatter.
template <class T>
void backward_input_indirect(const ConvKernelsOf<T>& kern, const ConvGeometry& g, const T* dz,
                             const T* w, T* dx) {
  const i64 Cg = g.C / g.G, Kg = g.K / g.G, taps = g.KH * g.KW;
  const ConvTile<T>& tile = tile_for(kern, Cg);
  const i64 panels = (Cg + tile.nc - 1) / tile.nc;
  T* packed = tls_panels.get<T>(g.G * panels * taps * Kg * tile.nc);
  // Panel row r = tap * Kg + k, column c of group grp: w[(tap * Cg + c) * K + grp * Kg + k].
  for (i64 t = 0; t < taps; ++t) {
    for (i64 grp = 0; grp < g.G; ++grp) {
      for (i64 q = 0; q < panels; ++q) {
        T* d = packed + ((grp * panels + q) * taps + t) * Kg * tile.nc;
        const i64 c0 = q * tile.nc, n = std::min<i64>(tile.nc, Cg - c0);
        for (i64 k = 0; k < Kg; ++k) {
          const T* src = w + (t * Cg + c0) * g.K + grp * Kg + k;
          for (i64 j = 0; j < n; ++j) d[k * tile.nc + j] = src[j * g.K];
          for (i64 j = n; j < tile.nc; ++j) d[k * tile.nc + j] = T(0);
        }
      }
    }
  }
  const TapMap<T> mp{dz, g.OH, g.OW, g.K, 1, 1, -g.DH, -g.DW, g.PT, g.PL, g.H, g.W, g.KH, g.KW};
  indirect_conv<T>(tile, mp, g.N, g.G, Kg, Cg, Kg, packed, nullptr, 0, dx, g.C);
}

// Output pixels per partial kernel gradient: a fixed split (not the thread count), so that the
// summation order, and the result, do not depend on the number of threads.
constexpr i64 kGradPixelsPerPart = 2048;
// Pixels per pass over all tiles: their dz rows (and x rows) stay in L1/L2 across the tiles.
constexpr i64 kGradPixelsPerBlock = 128;

// dw = sum over output pixels of (input patch) x dz, as a reduction over pixels: partial sums
// over fixed parts of kGradPixelsPerPart pixels (threads take whole parts), then added in order.
// Rows are (tap, channel) pairs; with Cg >= the tile's rows, a tile stays within one tap and
// reads the input in place; with fewer channels (the first layer of an image model) each block
// of pixels is copied into im2col rows first (KH * KW * Cg values per pixel).
template <class T>
void backward_kernel_indirect(const ConvKernelsOf<T>& kern, const ConvGeometry& g, const T* x,
                              const T* dz, T* dw) {
  const i64 Cg = g.C / g.G, Kg = g.K / g.G, taps = g.KH * g.KW, width = taps * Cg;
  const ConvTile<T>& tile = tile_for(kern, Kg);
  const int MR = tile.mr;
  const i64 nc = tile.nc, panels = (Kg + nc - 1) / nc;
  const i64 P = g.N * g.OH * g.OW, dw_size = width * g.K;
  const i64 parts = (P + kGradPixelsPerPart - 1) / kGradPixelsPerPart;
  const bool in_place = Cg >= MR;
  const TapMap<T> mp{x, g.H, g.W, g.C, g.SH, g.SW, g.DH, g.DW, -g.PT, -g.PL,
                     g.OH, g.OW, g.KH, g.KW};
  const std::vector<i64> toff = tap_offsets(mp);
  std::unique_ptr<T[]> partial(parts > 1 ? new T[parts * dw_size] : nullptr);
  parallel_for(parts, P * width * g.K * 2, [&](i64 a, i64 b) {
    std::vector<const T*> ap(kGradPixelsPerBlock), bp(kGradPixelsPerBlock);
    std::vector<const T*> tap_rows(static_cast<std::size_t>(taps * kGradPixelsPerBlock));
    std::vector<T> col(in_place ? 0 : static_cast<std::size_t>(kGradPixelsPerBlock * width));
    for (i64 part = a; part < b; ++part) {
      T* acc = parts > 1 ? partial.get() + part * dw_size : dw;
      std::fill(acc, acc + dw_size, T(0));
      const i64 e0 = part * kGradPixelsPerPart, e1 = std::min(P, e0 + kGradPixelsPerPart);
      for (i64 s0 = e0; s0 < e1; s0 += kGradPixelsPerBlock) {
        const i64 s1 = std::min(e1, s0 + kGradPixelsPerBlock);
        for (i64 grp = 0; grp < g.G; ++grp) {
          if (in_place) {
            // Each pixel's tap rows once per block, then one pass over the taps.
            PixelWalk px(s0, g.OH, g.OW);
            for (i64 p = s0; p < s1; ++p, px.next()) {
              tap_pointers(mp, toff.data(), px, tap_rows.data() + (p - s0), kGradPixelsPerBlock);
            }
            for (i64 t = 0; t < taps; ++t) {
              const T* const* rows_t = tap_rows.data() + t * kGradPixelsPerBlock;
              i64 count = 0;
              for (i64 p = s0; p < s1; ++p) {
                const T* r = rows_t[p - s0];
                if (!r) continue;
                ap[count] = r + grp * Cg;
                bp[count++] = dz + p * g.K + grp * Kg;
              }
              if (count == 0) continue;
              T* rows = acc + t * Cg * g.K + grp * Kg;
              for (i64 c0 = 0; c0 < Cg; c0 += MR) {
                for (i64 q = 0; q < panels; ++q) {
                  tile.kernel_grad(count, ap.data(), c0, bp.data(), q * nc,
                                   rows + c0 * g.K + q * nc, g.K,
                                   static_cast<int>(std::min<i64>(MR, Cg - c0)),
                                   static_cast<int>(std::min(nc, Kg - q * nc)));
                }
              }
            }
          } else {
            const i64 count = s1 - s0;
            PixelWalk px(s0, g.OH, g.OW);
            for (i64 p = s0; p < s1; ++p, px.next()) {
              gather_patch(mp, toff.data(), px, grp * Cg, Cg, col.data() + (p - s0) * width);
              ap[p - s0] = col.data() + (p - s0) * width;
              bp[p - s0] = dz + p * g.K + grp * Kg;
            }
            for (i64 r0 = 0; r0 < width; r0 += MR) {
              for (i64 q = 0; q < panels; ++q) {
                tile.kernel_grad(count, ap.data(), r0, bp.data(), q * nc,
                                 acc + r0 * g.K + grp * Kg + q * nc, g.K,
                                 static_cast<int>(std::min<i64>(MR, width - r0)),
                                 static_cast<int>(std::min(nc, Kg - q * nc)));
              }
            }
          }
        }
      }
    }
  });
  if (parts > 1) add_parts_in_order(partial.get(), parts, dw_size, dw);
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
  forward_indirect(kern, g, x, w, b, act, y);
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
    // Fixed parts of the pixels (not one per thread), summed in order: the same bits whatever
    // the thread count.
    const i64 parts = reduction_parts(P), per = (P + parts - 1) / parts;
    std::vector<double> acc(static_cast<std::size_t>(parts * g.K), 0.0);
    parallel_for(parts, P * g.K, [&](i64 p0, i64 p1) {
      for (i64 p = p0; p < p1; ++p) {
        const i64 r0 = p * per, r1 = std::min(P, r0 + per);
        if (r0 < r1) kern.column_sums(r1 - r0, g.K, dz + r0 * g.K, acc.data() + p * g.K);
      }
    });
    for (i64 k = 0; k < g.K; ++k) {
      double s = 0.0;
      for (i64 p = 0; p < parts; ++p) s += acc[p * g.K + k];
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
      // Fixed parts of the output pixels, each summed into its own partial in pixel order, the
      // partials then added in part order: the same bits whatever the thread count.
      const i64 parts = reduction_parts(P), per = (P + parts - 1) / parts;
      std::unique_ptr<T[]> partial(parts > 1 ? new T[parts * dw_size] : nullptr);
      parallel_for(parts, P * g.K * g.KH * g.KW * 2, [&](i64 q0, i64 q1) {
        for (i64 q = q0; q < q1; ++q) {
          T* acc = parts > 1 ? partial.get() + q * dw_size : dw;
          std::fill(acc, acc + dw_size, T(0));
          kern.depthwise_backward_kernel(&g, x, dz, acc, q * per, std::min(P, (q + 1) * per));
        }
      });
      if (parts > 1) add_parts_in_order(partial.get(), parts, dw_size, dw);
    }
    return;
  }
  if (is_pointwise(g)) {
    if (dw) gemm<T>(true, false, g.C, g.K, P, T(1), x, g.C, dz, g.K, T(0), dw, g.K);
    if (dx) gemm<T>(false, true, P, g.C, g.K, T(1), dz, g.K, w, g.K, T(0), dx, g.C);
    return;
  }
  if (dw) backward_kernel_indirect(kern, g, x, dz, dw);
  if (!dx) return;
  if (g.SH == 1 && g.SW == 1) {
    backward_input_indirect(kern, g, dz, w, dx);
    return;
  }
  // Strided: most taps of a dx pixel fall between output pixels, so the transposed convolution
  // would multiply mostly zeros; dcol = dz @ w^T and the col2im scatter do only the real work.
  const i64 chunk = images_per_chunk(g, sizeof(T));
  T* col = tls_columns.get<T>(chunk * g.OH * g.OW * width);
  const i64 image = g.H * g.W * g.C;
  for (i64 n0 = 0; n0 < g.N; n0 += chunk) {
    const i64 n1 = std::min(g.N, n0 + chunk), rows = (n1 - n0) * g.OH * g.OW;
    const T* dzc = dz + n0 * g.OH * g.OW * g.K;
    T* dxc = dx + n0 * image;
    parallel_for(n1 - n0, (n1 - n0) * image, [&](i64 a, i64 b) {
      std::fill(dxc + a * image, dxc + b * image, T(0));
    });
    for (i64 grp = 0; grp < g.G; ++grp) {
      // dcol = dz_g @ w_g^T, then scattered back onto the image (the columns overlap).
      gemm<T>(false, true, rows, width, Kg, T(1), dzc + grp * Kg, g.K, w + grp * Kg, g.K, T(0),
              col, width);
      col2im_add(g, col, n0, n1, grp, dx);
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
