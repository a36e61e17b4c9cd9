// CUDA convolution (contract in conv2d.h): implicit GEMMs over shared-memory tiles, no im2col
// buffer, plus direct kernels for depthwise convolutions.
//
// Every product below is C[m, n] = sum over r of A[m, r] * B[r, n] for one group, computed by
// one tile scheme: a block of 256 threads owns a 64 x 64 tile of C and walks r in steps of 16,
// staging A[64 x 16] and B[16 x 64] in shared memory (zero past every edge and for
// padding, so no special edge path), each thread accumulating a 4 x 4 sub-tile in registers
// (thread (ty, tx) of the 16 x 16 grid owns rows ty + 16 i and columns tx + 16 j). What differs
// is how a tile element maps to memory:
//   forward    rows: output pixels p = (n, oh, ow) (N*OH*OW), cols: the group's K/G output
//              channels, r = (kh, kw, c) over KH*KW*C/G: A = the input cell the tap reads (0 for
//              padding), B = w[kh, kw, c, k]. Bias + relu on the way out.
//   dx         rows: input pixels (n, ih, iw) (N*H*W), cols: the group's C/G channels,
//              r = (kh, kw, k) over KH*KW*K/G: A = dz at the output pixel whose tap (kh, kw)
//              reads (ih, iw), i.e. oh = (ih + PT - kh*DH) / SH when that divides exactly and
//              lies in [0, OH) (else 0); B = w[kh, kw, c, k]. Every dx cell is written once (a
//              gather: no zero fill, no scatter, no atomics).
//   dkernel    rows: r = (kh, kw, c) (KH*KW*C/G), cols: the group's K/G channels, the sum over
//              output pixels: A = the input cell, B = dz. The pixels are split into fixed parts
//              (kernel_grad_parts(): a function of the shapes only); each part writes its partial
//              sums to a scratch buffer and sum_parts_kernel adds them in part order, so the
//              result is deterministic.
// dz is dy, or dy masked by relu (y > 0) as it is read. dbias: column sums of dz over the
// pixels (column_sums.h), in double, fixed parts added in order.
// Depthwise (C/G == 1, G > 1: one input channel per group, K = C * M): a tile would use 1/64 of
// its columns, so direct kernels: one thread per output (forward) or per dx element (a gather
// over the taps that reach it and the M channels of its group); dkernel sums x * dz over fixed
// parts of the pixels, 32 channels x 8 pixel lanes per block, the lanes added in order.
//
// Correct first, not tuned. A tuning session with a GPU should, measuring bench/gpu.py's CNN:
//   - double-buffer the tiles (cp.async on sm_80+), load float4 along channels when C/G % 4 == 0,
//     and replace the per-element 64-bit divisions of the index maps by precomputed tap tables
//     (or 32-bit fast division) -- the loads dominate at small channel counts;
//   - dx at stride > 1: split the input pixels by stride phase ((ih + PT) mod SH, likewise w),
//     so that every tap of a phase lands on an output pixel instead of multiplying zeros
//     (SH*SW times less work);
//   - pointwise 1x1 convolutions: call cuda::gemm (and fuse bias + relu into its epilogue);
//   - pick the tile by shape (a 32 x 32 or 128 x 64 tile for few / many channels) and split-K
//     the forward pass when the pixel count is small (late layers at batch 1);
//   - TF32 tensor cores behind the precision setting of issue 8;
//   - the scratch of the kernel gradient's partial sums comes from cudaMallocAsync's default
//     pool, whose release threshold is 0: raise it (cudaMemPoolAttrReleaseThreshold) if the
//     profile shows the pool going back to the driver between steps.
#include <optional>

#include "cuda/column_sums.h"
#include "cuda/conv2d.h"
#include "cuda/launch.h"

namespace lamina::cuda {

namespace {

using i64 = std::int64_t;

constexpr int kTileM = 64, kTileN = 64, kTileK = 16;
constexpr int kThreadM = 4, kThreadN = 4;
constexpr int kGridX = kTileN / kThreadN;      // 16 threads across a tile
constexpr int kGridY = kTileM / kThreadM;      // 16 threads down a tile
constexpr int kConvThreads = kGridX * kGridY;  // 256
constexpr int kLoadsA = kTileM * kTileK / kConvThreads;  // 4 elements of A per thread and step
constexpr int kLoadsB = kTileK * kTileN / kConvThreads;  // 4 of B
static_assert(kTileM * kTileK % kConvThreads == 0 && kTileK * kTileN % kConvThreads == 0,
              "every thread stages the same number of elements");
constexpr i64 kMaxGridX = 0x7fffffff;
constexpr i64 kMaxGridYZ = 65535;

// Shared tiles, one column of padding so that the transposing stores hit distinct banks.
template <class T>
struct Tiles {
  T a[kTileK][kTileM + 1];  // a[k][m] = A[m0 + m, r0 + k]
  T b[kTileK][kTileN + 1];  // b[k][n] = B[r0 + k, n0 + n]
};

// acc[i][j] += sum over k of a[k][ty + 16 i] * b[k][tx + 16 j].
template <class T>
__device__ __forceinline__ void multiply_tiles(const Tiles<T>& s, int tx, int ty,
                                               T (&acc)[kThreadM][kThreadN]) {
#pragma unroll
  for (int k = 0; k < kTileK; ++k) {
    T a[kThreadM], b[kThreadN];
#pragma unroll
    for (int i = 0; i < kThreadM; ++i) a[i] = s.a[k][ty + kGridY * i];
#pragma unroll
    for (int j = 0; j < kThreadN; ++j) b[j] = s.b[k][tx + kGridX * j];
#pragma unroll
    for (int i = 0; i < kThreadM; ++i) {
#pragma unroll
      for (int j = 0; j < kThreadN; ++j) acc[i][j] += a[i] * b[j];
    }
  }
}

template <class T>
__device__ __forceinline__ void zero(T (&acc)[kThreadM][kThreadN]) {
#pragma unroll
  for (int i = 0; i < kThreadM; ++i) {
#pragma unroll
    for (int j = 0; j < kThreadN; ++j) acc[i][j] = T(0);
  }
}

// Calls store(row, col, value) for each element of the thread's sub-tile that lies inside the
// rows x cols product (the tile covers rows m0.., columns n0..).
template <class T, class Store>
__device__ __forceinline__ void store_tile(const T (&acc)[kThreadM][kThreadN], i64 m0, i64 n0,
                                           int tx, int ty, i64 rows, i64 cols, Store store) {
#pragma unroll
  for (int i = 0; i < kThreadM; ++i) {
    const i64 m = m0 + ty + kGridY * i;
    if (m >= rows) continue;
#pragma unroll
    for (int j = 0; j < kThreadN; ++j) {
      const i64 n = n0 + tx + kGridX * j;
      if (n < cols) store(m, n, acc[i][j]);
    }
  }
}

// The gradient of the pre-activation at flat index i of dy: dy, or dy masked by relu.
template <class T>
__device__ __forceinline__ T dz_at(const T* dy, const T* y, int act, i64 i) {
  return act == 1 ? (y[i] > T(0) ? dy[i] : T(0)) : dy[i];
}

template <class T>
__device__ __forceinline__ T activate(T v, int act) {
  return act == 1 ? (v > T(0) ? v : T(0)) : v;  // the CPU's relu: NaN gives 0
}

// -- implicit GEMMs ----------------------------------------------------------------------------

// Grid: x = ceil(P / 64) tiles of output pixels (P = N*OH*OW), y = ceil((K/G) / 64) tiles of
// the group's output channels, z = groups group0 .. group0 + gridDim.z - 1. Block: 256.
template <class T>
__global__ void __launch_bounds__(kConvThreads)
    conv2d_forward_kernel(ConvGeometry g, const T* __restrict__ x, const T* __restrict__ w,
                          const T* __restrict__ b, int act, T* __restrict__ y, i64 group0) {
  const i64 grp = group0 + blockIdx.z;
  const i64 Cg = g.C / g.G, Kg = g.K / g.G;
  const i64 P = g.N * g.OH * g.OW, R = g.KH * g.KW * Cg;
  const i64 m0 = static_cast<i64>(blockIdx.x) * kTileM;
  const i64 n0 = static_cast<i64>(blockIdx.y) * kTileN;
  __shared__ Tiles<T> s;
  __shared__ i64 row_image[kTileM];  // offset of the pixel's image in x; -1 past the last pixel
  __shared__ i64 row_ih[kTileM], row_iw[kTileM];  // input cell of tap (0, 0)
  const int tid = threadIdx.x;
  if (tid < kTileM) {
    const i64 p = m0 + tid;
    row_image[tid] = -1;
    row_ih[tid] = row_iw[tid] = 0;
    if (p < P) {
      const GridPixel px = grid_pixel(p, g.OH, g.OW);
      row_image[tid] = px.n * g.H * g.W * g.C;
      row_ih[tid] = px.a * g.SH - g.PT;
      row_iw[tid] = px.b * g.SW - g.PL;
    }
  }
  __syncthreads();
  const int tx = tid % kGridX, ty = tid / kGridX;
  T acc[kThreadM][kThreadN];
  zero(acc);
  for (i64 r0 = 0; r0 < R; r0 += kTileK) {
#pragma unroll
    for (int l = 0; l < kLoadsA; ++l) {
      const int idx = tid + l * kConvThreads;
      const int m = idx / kTileK, k = idx % kTileK;  // consecutive threads: consecutive channels
      const i64 r = r0 + k;
      T v = T(0);
      if (r < R && row_image[m] >= 0) {
        const i64 t = r / Cg, c = r - t * Cg;
        const i64 kh = t / g.KW, kw = t - kh * g.KW;
        const i64 ih = row_ih[m] + kh * g.DH, iw = row_iw[m] + kw * g.DW;
        if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) {
          v = x[row_image[m] + (ih * g.W + iw) * g.C + grp * Cg + c];
        }
      }
      s.a[k][m] = v;
    }
#pragma unroll
    for (int l = 0; l < kLoadsB; ++l) {
      const int idx = tid + l * kConvThreads;
      const int k = idx / kTileN, n = idx % kTileN;  // consecutive threads: consecutive k
      const i64 r = r0 + k, j = n0 + n;
      s.b[k][n] = (r < R && j < Kg) ? w[r * g.K + grp * Kg + j] : T(0);
    }
    __syncthreads();
    multiply_tiles(s, tx, ty, acc);
    __syncthreads();  // the tiles are overwritten by the next step
  }
  store_tile(acc, m0, n0, tx, ty, P, Kg, [&](i64 p, i64 col, T v) {
    const i64 k = grp * Kg + col;
    y[p * g.K + k] = activate(v + (b ? b[k] : T(0)), act);
  });
}

// Grid: x = ceil(N*H*W / 64) tiles of input pixels, y = ceil((C/G) / 64) tiles of the group's
// input channels, z = groups group0 .. group0 + gridDim.z - 1. Block: 256.
template <class T>
__global__ void __launch_bounds__(kConvThreads)
    conv2d_backward_input_kernel(ConvGeometry g, const T* __restrict__ dy,
                                 const T* __restrict__ y, int act, const T* __restrict__ w,
                                 T* __restrict__ dx, i64 group0) {
  const i64 grp = group0 + blockIdx.z;
  const i64 Cg = g.C / g.G, Kg = g.K / g.G;
  const i64 Q = g.N * g.H * g.W, R = g.KH * g.KW * Kg;
  const i64 m0 = static_cast<i64>(blockIdx.x) * kTileM;
  const i64 n0 = static_cast<i64>(blockIdx.y) * kTileN;
  __shared__ Tiles<T> s;
  __shared__ i64 row_image[kTileM];  // offset of the pixel's image in dy; -1 past the last pixel
  __shared__ i64 row_h[kTileM], row_w[kTileM];  // ih + PT, iw + PL
  const int tid = threadIdx.x;
  if (tid < kTileM) {
    const i64 q = m0 + tid;
    row_image[tid] = -1;
    row_h[tid] = row_w[tid] = 0;
    if (q < Q) {
      const GridPixel px = grid_pixel(q, g.H, g.W);
      row_image[tid] = px.n * g.OH * g.OW * g.K;
      row_h[tid] = px.a + g.PT;
      row_w[tid] = px.b + g.PL;
    }
  }
  __syncthreads();
  const int tx = tid % kGridX, ty = tid / kGridX;
  T acc[kThreadM][kThreadN];
  zero(acc);
  for (i64 r0 = 0; r0 < R; r0 += kTileK) {
#pragma unroll
    for (int l = 0; l < kLoadsA; ++l) {
      const int idx = tid + l * kConvThreads;
      const int m = idx / kTileK, k = idx % kTileK;  // consecutive threads: consecutive k of dz
      const i64 r = r0 + k;
      T v = T(0);
      if (r < R && row_image[m] >= 0) {
        const i64 t = r / Kg, j = r - t * Kg;
        const i64 kh = t / g.KW, kw = t - kh * g.KW;
        const i64 hs = row_h[m] - kh * g.DH, ws = row_w[m] - kw * g.DW;  // oh * SH, ow * SW
        if (hs >= 0 && ws >= 0 && hs % g.SH == 0 && ws % g.SW == 0) {
          const i64 oh = hs / g.SH, ow = ws / g.SW;
          if (oh < g.OH && ow < g.OW) {
            v = dz_at(dy, y, act, row_image[m] + (oh * g.OW + ow) * g.K + grp * Kg + j);
          }
        }
      }
      s.a[k][m] = v;
    }
#pragma unroll
    for (int l = 0; l < kLoadsB; ++l) {
      const int idx = tid + l * kConvThreads;
      const int k = idx % kTileK, n = idx / kTileK;  // consecutive threads: consecutive k of w
      const i64 r = r0 + k, c = n0 + n;
      T v = T(0);
      if (r < R && c < Cg) {
        const i64 t = r / Kg, j = r - t * Kg;
        v = w[(t * Cg + c) * g.K + grp * Kg + j];
      }
      s.b[k][n] = v;
    }
    __syncthreads();
    multiply_tiles(s, tx, ty, acc);
    __syncthreads();
  }
  store_tile(acc, m0, n0, tx, ty, Q, Cg,
             [&](i64 q, i64 c, T v) { dx[q * g.C + grp * Cg + c] = v; });
}

// Grid: x = ceil(R / 64) tiles of (kh, kw, c) rows (R = KH*KW*C/G), y = ceil((K/G) / 64),
// z = (part, group) pairs z0 + blockIdx.z = part * G + group. Block: 256. The block sums over
// the output pixels [part * per_part, (part + 1) * per_part) and ASSIGNS out[part * size + ...]
// (size = R * K: out is dw itself when there is one part, else the scratch of partial sums).
template <class T>
__global__ void __launch_bounds__(kConvThreads)
    conv2d_backward_kernel_kernel(ConvGeometry g, const T* __restrict__ x,
                                  const T* __restrict__ dy, const T* __restrict__ y, int act,
                                  i64 per_part, T* __restrict__ out, i64 z0) {
  const i64 z = z0 + blockIdx.z;
  const i64 grp = z % g.G, part = z / g.G;
  const i64 Cg = g.C / g.G, Kg = g.K / g.G;
  const i64 P = g.N * g.OH * g.OW, R = g.KH * g.KW * Cg;
  const i64 p_begin = part * per_part;
  const i64 p_end = p_begin + per_part < P ? p_begin + per_part : P;
  const i64 m0 = static_cast<i64>(blockIdx.x) * kTileM;
  const i64 n0 = static_cast<i64>(blockIdx.y) * kTileN;
  __shared__ Tiles<T> s;
  __shared__ i64 row_dh[kTileM], row_dw[kTileM], row_c[kTileM];  // row_c < 0 past the last row
  __shared__ i64 pix_image[kTileK], pix_ih[kTileK], pix_iw[kTileK], pix_out[kTileK];
  const int tid = threadIdx.x;
  if (tid < kTileM) {
    const i64 r = m0 + tid;
    row_dh[tid] = row_dw[tid] = 0;
    row_c[tid] = -1;
    if (r < R) {
      const i64 t = r / Cg, kh = t / g.KW;
      row_dh[tid] = kh * g.DH;
      row_dw[tid] = (t - kh * g.KW) * g.DW;
      row_c[tid] = r - t * Cg;
    }
  }
  const int tx = tid % kGridX, ty = tid / kGridX;
  T acc[kThreadM][kThreadN];
  zero(acc);
  for (i64 p0 = p_begin; p0 < p_end; p0 += kTileK) {
    if (tid < kTileK) {
      const i64 p = p0 + tid;
      pix_image[tid] = -1;
      pix_ih[tid] = pix_iw[tid] = pix_out[tid] = 0;
      if (p < p_end) {
        const GridPixel px = grid_pixel(p, g.OH, g.OW);
        pix_image[tid] = px.n * g.H * g.W * g.C;
        pix_ih[tid] = px.a * g.SH - g.PT;
        pix_iw[tid] = px.b * g.SW - g.PL;
        pix_out[tid] = p * g.K;
      }
    }
    __syncthreads();  // pixel (and, the first time, row) tables ready
#pragma unroll
    for (int l = 0; l < kLoadsA; ++l) {
      const int idx = tid + l * kConvThreads;
      const int m = idx % kTileM, k = idx / kTileM;  // consecutive threads: consecutive channels
      T v = T(0);
      if (row_c[m] >= 0 && pix_image[k] >= 0) {
        const i64 ih = pix_ih[k] + row_dh[m], iw = pix_iw[k] + row_dw[m];
        if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) {
          v = x[pix_image[k] + (ih * g.W + iw) * g.C + grp * Cg + row_c[m]];
        }
      }
      s.a[k][m] = v;
    }
#pragma unroll
    for (int l = 0; l < kLoadsB; ++l) {
      const int idx = tid + l * kConvThreads;
      const int n = idx % kTileN, k = idx / kTileN;  // consecutive threads: consecutive channels
      const i64 j = n0 + n;
      s.b[k][n] = (pix_image[k] >= 0 && j < Kg) ? dz_at(dy, y, act, pix_out[k] + grp * Kg + j)
                                                : T(0);
    }
    __syncthreads();
    multiply_tiles(s, tx, ty, acc);
    __syncthreads();  // tiles and pixel tables are rewritten by the next step
  }
  T* dst = out + part * R * g.K;
  store_tile(acc, m0, n0, tx, ty, R, Kg,
             [&](i64 r, i64 col, T v) { dst[r * g.K + grp * Kg + col] = v; });
}

// out[i] = sum over p < parts of partial[p * size + i], added in order p = 0, 1, ...
// Grid: grid_stride_blocks(size, 256) blocks of 256 threads, grid-stride over i.
template <class T>
__global__ void sum_parts_kernel(const T* __restrict__ partial, i64 parts, i64 size,
                                 T* __restrict__ out) {
  const i64 stride = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < size; i += stride) {
    T s = partial[i];
    for (i64 p = 1; p < parts; ++p) s += partial[p * size + i];
    out[i] = s;
  }
}

// -- depthwise (C / G == 1, K = C * M) ---------------------------------------------------------

// Grid: grid_stride_blocks(P * K, 256) blocks of 256 threads, grid-stride over y's elements.
template <class T>
__global__ void depthwise_forward_kernel(ConvGeometry g, const T* __restrict__ x,
                                         const T* __restrict__ w, const T* __restrict__ b,
                                         int act, T* __restrict__ y) {
  const i64 M = g.K / g.C, total = g.N * g.OH * g.OW * g.K;
  const i64 stride = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const i64 p = i / g.K, k = i - p * g.K, c = k / M;
    const GridPixel px = grid_pixel(p, g.OH, g.OW);
    const i64 n = px.n, oh = px.a, ow = px.b;
    T acc = b ? b[k] : T(0);  // the CPU's order: bias first, then the taps
    for (i64 kh = 0; kh < g.KH; ++kh) {
      const i64 ih = oh * g.SH - g.PT + kh * g.DH;
      if (ih < 0 || ih >= g.H) continue;
      for (i64 kw = 0; kw < g.KW; ++kw) {
        const i64 iw = ow * g.SW - g.PL + kw * g.DW;
        if (iw < 0 || iw >= g.W) continue;
        acc += x[((n * g.H + ih) * g.W + iw) * g.C + c] * w[(kh * g.KW + kw) * g.K + k];
      }
    }
    y[i] = activate(acc, act);
  }
}

// dx[n, ih, iw, c] = sum over the taps (kh, kw) whose output pixel exists and m < M of
// dz[n, oh, ow, c*M + m] * w[kh, kw, 0, c*M + m]. Grid: grid_stride_blocks(N*H*W*C, 256).
template <class T>
__global__ void depthwise_backward_input_kernel(ConvGeometry g, const T* __restrict__ dy,
                                                const T* __restrict__ y, int act,
                                                const T* __restrict__ w, T* __restrict__ dx) {
  const i64 M = g.K / g.C, total = g.N * g.H * g.W * g.C;
  const i64 stride = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const i64 q = i / g.C, c = i - q * g.C;
    const GridPixel px = grid_pixel(q, g.H, g.W);
    const i64 n = px.n, ih = px.a, iw = px.b;
    T acc = T(0);
    for (i64 kh = 0; kh < g.KH; ++kh) {
      const i64 hs = ih + g.PT - kh * g.DH;  // oh * SH
      if (hs < 0 || hs % g.SH != 0 || hs / g.SH >= g.OH) continue;
      const i64 oh = hs / g.SH;
      for (i64 kw = 0; kw < g.KW; ++kw) {
        const i64 ws = iw + g.PL - kw * g.DW;
        if (ws < 0 || ws % g.SW != 0 || ws / g.SW >= g.OW) continue;
        const i64 ow = ws / g.SW;
        const i64 o = ((n * g.OH + oh) * g.OW + ow) * g.K + c * M;
        const T* wt = w + (kh * g.KW + kw) * g.K + c * M;
        for (i64 m = 0; m < M; ++m) acc += dz_at(dy, y, act, o + m) * wt[m];
      }
    }
    dx[i] = acc;
  }
}

// out[part * size + t * K + k] = sum over the pixels of `part` of x(p, tap t, channel k / M) *
// dz[p, k] (size = KH*KW*K). Grid: x = ceil(K / 32) channel blocks, y = (part, tap) pairs
// y0 + blockIdx.y = part * taps + t. Block: 256 = 32 channels x 8 pixel lanes; lane l takes
// pixels l, l + 8, ... of the part and the 8 lane sums are added in lane order.
template <class T>
__global__ void __launch_bounds__(kBlockThreads)
    depthwise_backward_kernel_kernel(ConvGeometry g, const T* __restrict__ x,
                                     const T* __restrict__ dy, const T* __restrict__ y, int act,
                                     i64 per_part, T* __restrict__ out, i64 y0) {
  const int lane = threadIdx.x % kSumColumns, pixel_lane = threadIdx.x / kSumColumns;
  const i64 taps = g.KH * g.KW, M = g.K / g.C, P = g.N * g.OH * g.OW;
  const i64 k = static_cast<i64>(blockIdx.x) * kSumColumns + lane;
  const i64 pt = y0 + blockIdx.y, part = pt / taps, t = pt - part * taps;
  const i64 kh = t / g.KW, kw = t - kh * g.KW;
  const i64 p_begin = part * per_part;
  const i64 p_end = p_begin + per_part < P ? p_begin + per_part : P;
  T acc = T(0);
  if (k < g.K) {
    const i64 c = k / M;
    for (i64 p = p_begin + pixel_lane; p < p_end; p += kSumRowLanes) {
      const GridPixel px = grid_pixel(p, g.OH, g.OW);
      const i64 ih = px.a * g.SH - g.PT + kh * g.DH, iw = px.b * g.SW - g.PL + kw * g.DW;
      if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
      acc += x[((px.n * g.H + ih) * g.W + iw) * g.C + c] * dz_at(dy, y, act, p * g.K + k);
    }
  }
  __shared__ T lanes[kSumRowLanes][kSumColumns];
  lanes[pixel_lane][lane] = acc;
  __syncthreads();
  if (pixel_lane == 0 && k < g.K) {
    T sum = lanes[0][lane];
    for (int l = 1; l < kSumRowLanes; ++l) sum += lanes[l][lane];
    out[part * taps * g.K + t * g.K + k] = sum;
  }
}

// dbias: column sums of dz over the P pixel rows.
template <class T>
struct DzColumns {
  const T* dy;
  const T* y;
  int act;
  i64 K;
  __device__ void operator()(i64 r, i64 c, double* acc) const {
    acc[0] += static_cast<double>(dz_at(dy, y, act, r * K + c));
  }
};

// db[k] = the part sums added in order. Grid: grid_stride_blocks(K, 256).
template <class T>
__global__ void bias_grad_kernel(const double* __restrict__ partial, i64 parts, i64 K,
                                 T* __restrict__ db) {
  const i64 stride = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 k = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; k < K; k += stride) {
    db[k] = static_cast<T>(sum_of_parts<1>(partial, parts, 0, K, k));
  }
}

// -- drivers -----------------------------------------------------------------------------------

inline bool is_depthwise(const ConvGeometry& g) { return g.C / g.G == 1 && g.G > 1; }

unsigned tiles_of(i64 n, int tile, i64 limit, const char* what) {
  const i64 tiles = (n + tile - 1) / tile;
  if (tiles > limit) {
    throw std::runtime_error(std::string("[conv2d] ") + what + " " + std::to_string(n) +
                             " is too large for one launch");
  }
  return static_cast<unsigned>(tiles);
}

// Launches `kernel` over grid (x, y, count) with the z index split into chunks of at most
// 65535; the kernel receives the chunk's first z index as its last argument.
template <class Kernel, class... Args>
void launch_z_chunks(const char* name, unsigned gx, unsigned gy, i64 count, cudaStream_t stream,
                     Kernel kernel, Args... args) {
  for (i64 z0 = 0; z0 < count; z0 += kMaxGridYZ) {
    const i64 chunk = count - z0 < kMaxGridYZ ? count - z0 : kMaxGridYZ;
    launch(name, dim3(gx, gy, static_cast<unsigned>(chunk)), dim3(kConvThreads), 0, stream,
           kernel, args..., z0);
  }
}

// Fixed parts of the P pixels for the kernel gradient: enough blocks to fill a large GPU
// (1024 with the parts counted), parts of at least 512 pixels, at most 64 parts, and at most
// 2^22 partial elements of scratch (16 MB in float32; a kernel that large has tiles enough
// without a split). Depends on the shapes alone: the same split, and so the same bits, on
// every run.
i64 kernel_grad_parts(i64 P, i64 blocks_per_part, i64 dw_size) {
  constexpr i64 kMinPixels = 512, kMaxParts = 64, kTargetBlocks = 1024;
  constexpr i64 kMaxPartialElements = i64(1) << 22;
  i64 parts = (P + kMinPixels - 1) / kMinPixels;
  const i64 blocks = blocks_per_part > 0 ? blocks_per_part : 1;
  const i64 for_blocks = (kTargetBlocks + blocks - 1) / blocks;
  const i64 for_memory = kMaxPartialElements / (dw_size > 0 ? dw_size : 1);
  if (parts > kMaxParts) parts = kMaxParts;
  if (parts > for_blocks) parts = for_blocks;
  if (parts > for_memory) parts = for_memory;
  if (parts < 1) parts = 1;
  const i64 per = (P + parts - 1) / parts;
  return (P + per - 1) / per;  // no empty trailing part
}

template <class T>
void sum_parts(const T* partial, i64 parts, i64 size, T* out, cudaStream_t stream) {
  launch("sum_parts_kernel", dim3(grid_stride_blocks(size, kBlockThreads)), dim3(kBlockThreads),
         0, stream, sum_parts_kernel<T>, partial, parts, size, out);
}

// Scratch for `count` partial sums of T, owned by `holder` (freed in stream order with it).
template <class T>
T* partials(std::optional<StreamScratch>& holder, i64 count, cudaStream_t stream) {
  holder.emplace(static_cast<std::size_t>(count) * sizeof(T), stream, "conv2d_backward");
  return static_cast<T*>(holder->get());
}

template <class T>
void kernel_grad(const ConvGeometry& g, const T* x, const T* dy, const T* y, int act, T* dw,
                 cudaStream_t stream) {
  const i64 P = g.N * g.OH * g.OW;
  std::optional<StreamScratch> scratch;  // the partial sums, when there are several parts
  if (is_depthwise(g)) {
    const i64 taps = g.KH * g.KW, size = taps * g.K;
    const unsigned gx = tiles_of(g.K, kSumColumns, kMaxGridX, "channel count");
    const i64 parts = kernel_grad_parts(P, static_cast<i64>(gx) * taps, size);
    const i64 per = (P + parts - 1) / parts;
    T* out = parts > 1 ? partials<T>(scratch, parts * size, stream) : dw;
    for (i64 y0 = 0; y0 < parts * taps; y0 += kMaxGridYZ) {
      const i64 chunk = parts * taps - y0 < kMaxGridYZ ? parts * taps - y0 : kMaxGridYZ;
      launch("depthwise_backward_kernel_kernel", dim3(gx, static_cast<unsigned>(chunk)),
             dim3(kBlockThreads), 0, stream, depthwise_backward_kernel_kernel<T>, g, x, dy, y,
             act, per, out, y0);
    }
    if (parts > 1) sum_parts(out, parts, size, dw, stream);
    return;
  }
  const i64 Cg = g.C / g.G, Kg = g.K / g.G, R = g.KH * g.KW * Cg, size = R * g.K;
  if (size == 0) return;  // no input channels: dw is empty
  const unsigned gx = tiles_of(R, kTileM, kMaxGridX, "kernel rows KH*KW*C/groups");
  const unsigned gy = tiles_of(Kg, kTileN, kMaxGridYZ, "output channels per group");
  const i64 parts = kernel_grad_parts(P, static_cast<i64>(gx) * gy * g.G, size);
  const i64 per = (P + parts - 1) / parts;
  T* out = parts > 1 ? partials<T>(scratch, parts * size, stream) : dw;
  launch_z_chunks("conv2d_backward_kernel_kernel", gx, gy, parts * g.G, stream,
                  conv2d_backward_kernel_kernel<T>, g, x, dy, y, act, per, out);
  if (parts > 1) sum_parts(out, parts, size, dw, stream);
}

template <class T>
void bias_grad(const ConvGeometry& g, const T* dy, const T* y, int act, T* db,
               cudaStream_t stream) {
  const i64 P = g.N * g.OH * g.OW, parts = row_parts(P);
  StreamScratch scratch(parts * g.K * sizeof(double), stream, "conv2d_backward");
  auto* partial = static_cast<double*>(scratch.get());
  column_partials<1>("column_partials_kernel (conv2d dbias)", P, g.K,
                     DzColumns<T>{dy, y, act, g.K}, partial, stream);
  launch("bias_grad_kernel", dim3(grid_stride_blocks(g.K, kBlockThreads)), dim3(kBlockThreads),
         0, stream, bias_grad_kernel<T>, partial, parts, g.K, db);
}

void zero_fill(void* p, i64 bytes, cudaStream_t stream) {
  if (p && bytes > 0) {
    check_cuda(cudaMemsetAsync(p, 0, static_cast<std::size_t>(bytes), stream), "conv2d_backward",
               "cudaMemsetAsync");
  }
}

}  // namespace

template <class T>
void conv2d_forward(const ConvGeometry& g, const T* x, const T* w, const T* b, int act, T* y,
                    cudaStream_t stream) {
  const i64 P = g.N * g.OH * g.OW;
  if (P == 0 || g.K == 0) return;
  if (is_depthwise(g)) {
    launch("depthwise_forward_kernel", dim3(grid_stride_blocks(P * g.K, kBlockThreads)),
           dim3(kBlockThreads), 0, stream, depthwise_forward_kernel<T>, g, x, w, b, act, y);
    return;
  }
  const unsigned gx = tiles_of(P, kTileM, kMaxGridX, "output pixels N*OH*OW");
  const unsigned gy = tiles_of(g.K / g.G, kTileN, kMaxGridYZ, "output channels per group");
  launch_z_chunks("conv2d_forward_kernel", gx, gy, g.G, stream, conv2d_forward_kernel<T>, g, x,
                  w, b, act, y);
}

template <class T>
void conv2d_backward(const ConvGeometry& g, const T* x, const T* w, const T* y, const T* dy,
                     int act, T* dx, T* dw, T* db, cudaStream_t stream) {
  const i64 P = g.N * g.OH * g.OW;
  const i64 dw_size = g.KH * g.KW * (g.C / g.G) * g.K;
  if (P == 0 || g.K == 0) {  // nothing flows back: every gradient is zero
    zero_fill(dx, g.N * g.H * g.W * g.C * static_cast<i64>(sizeof(T)), stream);
    zero_fill(dw, dw_size * static_cast<i64>(sizeof(T)), stream);
    zero_fill(db, g.K * static_cast<i64>(sizeof(T)), stream);
    return;
  }
  if (db) bias_grad(g, dy, y, act, db, stream);
  if (dw) kernel_grad(g, x, dy, y, act, dw, stream);
  if (!dx) return;
  if (is_depthwise(g)) {
    launch("depthwise_backward_input_kernel",
           dim3(grid_stride_blocks(g.N * g.H * g.W * g.C, kBlockThreads)), dim3(kBlockThreads),
           0, stream, depthwise_backward_input_kernel<T>, g, dy, y, act, w, dx);
    return;
  }
  const unsigned gx = tiles_of(g.N * g.H * g.W, kTileM, kMaxGridX, "input pixels N*H*W");
  const unsigned gy = tiles_of(g.C / g.G, kTileN, kMaxGridYZ, "input channels per group");
  launch_z_chunks("conv2d_backward_input_kernel", gx, gy, g.G, stream,
                  conv2d_backward_input_kernel<T>, g, dy, y, act, w, dx);
}

#define LAMINA_INSTANTIATE_CONV2D(T)                                                          \
  template void conv2d_forward<T>(const ConvGeometry&, const T*, const T*, const T*, int, T*, \
                                  cudaStream_t);                                              \
  template void conv2d_backward<T>(const ConvGeometry&, const T*, const T*, const T*,        \
                                   const T*, int, T*, T*, T*, cudaStream_t);
LAMINA_INSTANTIATE_CONV2D(float)
LAMINA_INSTANTIATE_CONV2D(double)
#undef LAMINA_INSTANTIATE_CONV2D

}  // namespace lamina::cuda
