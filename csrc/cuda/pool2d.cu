// Pooling kernels (contract in pool2d.h): one thread per output element (forward) or per dx
// element (backward, a gather), grid-stride; consecutive threads take consecutive channels, so
// every step of a window reads one contiguous run of the row. The windows follow the CPU loops
// (csrc/cpu/simd/pool2d.cpp) exactly: the same valid range, the same visiting order, the same
// NaN rule, the same float operations.
// Tuning (with a GPU): a global pool (one window per image) walks H*W cells per thread with
// only N*C threads; a block-per-(n, channel slice) reduction would fill the GPU.
#include "cuda/launch.h"
#include "cuda/pool2d.h"

namespace lamina::cuda {

namespace {

using i64 = std::int64_t;

// The valid taps [k0, k1) of window o along one axis (padding cells are skipped).
__device__ __forceinline__ void window(i64 o, i64 stride, i64 pad, i64 k, i64 in, i64* k0,
                                       i64* k1) {
  const i64 start = o * stride - pad;
  *k0 = start < 0 ? -start : 0;
  *k1 = start + k > in ? in - start : k;
}

// The windows [o0, o1) along one axis whose span holds input cell i:
// o * stride - pad <= i <= o * stride - pad + k - 1, 0 <= o < out.
__device__ __forceinline__ void windows_of(i64 i, i64 stride, i64 pad, i64 k, i64 out, i64* o0,
                                           i64* o1) {
  const i64 last = (i + pad) / stride;  // i + pad >= 0
  const i64 lo = i + pad - k + 1;
  *o0 = lo <= 0 ? 0 : (lo + stride - 1) / stride;
  *o1 = last + 1 < out ? last + 1 : out;
}

// Whether cell value v replaces the running maximum m: a NaN takes over from a number and
// nothing takes over from a NaN; among numbers the first maximum wins ties (the CPU's rule).
template <class T>
__device__ __forceinline__ bool takes_over(T v, T m) {
  return !(v <= m) && m == m;
}

// Element i of y (N, OH, OW, C): its image, channel and window, whose valid cells are rows
// ih0 + [h0, h1) and columns iw0 + [w0, w1) (ih0, iw0: the cell of tap (0, 0)).
struct OutputWindow {
  i64 n, c, ih0, iw0, h0, h1, w0, w1;
  __device__ i64 count() const { return (h1 - h0) * (w1 - w0); }
};

__device__ __forceinline__ OutputWindow output_window(const ConvGeometry& g, i64 i) {
  OutputWindow o;
  const i64 p = i / g.C;
  o.c = i - p * g.C;
  const GridPixel px = grid_pixel(p, g.OH, g.OW);
  o.n = px.n;
  o.ih0 = px.a * g.SH - g.PT;
  o.iw0 = px.b * g.SW - g.PL;
  window(px.a, g.SH, g.PT, g.KH, g.H, &o.h0, &o.h1);
  window(px.b, g.SW, g.PL, g.KW, g.W, &o.w0, &o.w1);
  return o;
}

// Element i of dx (N, H, W, C): its image, channel, cell and the windows [oh0, oh1) x
// [ow0, ow1) that hold the cell.
struct InputCell {
  i64 n, c, ih, iw, oh0, oh1, ow0, ow1;
};

__device__ __forceinline__ InputCell input_cell(const ConvGeometry& g, i64 i) {
  InputCell q;
  const i64 p = i / g.C;
  q.c = i - p * g.C;
  const GridPixel px = grid_pixel(p, g.H, g.W);
  q.n = px.n;
  q.ih = px.a;
  q.iw = px.b;
  windows_of(q.ih, g.SH, g.PT, g.KH, g.OH, &q.oh0, &q.oh1);
  windows_of(q.iw, g.SW, g.PL, g.KW, g.OW, &q.ow0, &q.ow1);
  return q;
}

// Grid for every kernel here: grid_stride_blocks(elements, 256) blocks of 256 threads,
// grid-stride over the elements of the array written (y, or dx).
#define LAMINA_FOR_EACH_ELEMENT(i, total)                                                    \
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < (total);         \
       i += static_cast<i64>(gridDim.x) * blockDim.x)

template <class T>
__global__ void max_pool2d_forward_kernel(ConvGeometry g, const T* __restrict__ x,
                                          T* __restrict__ y, std::int32_t* __restrict__ argmax) {
  LAMINA_FOR_EACH_ELEMENT(i, g.N * g.OH * g.OW * g.C) {
    const OutputWindow o = output_window(g, i);
    const T* xn = x + o.n * g.H * g.W * g.C + o.c;
    i64 best = (o.ih0 + o.h0) * g.W + o.iw0 + o.w0;
    T m = xn[best * g.C];
    for (i64 kh = o.h0; kh < o.h1; ++kh) {
      for (i64 kw = o.w0; kw < o.w1; ++kw) {
        const i64 cell = (o.ih0 + kh) * g.W + o.iw0 + kw;
        const T v = xn[cell * g.C];
        if (takes_over(v, m)) {
          m = v;
          best = cell;
        }
      }
    }
    y[i] = m;
    if (argmax) argmax[i] = static_cast<std::int32_t>(best);
  }
}

template <class T>
__global__ void max_pool2d_backward_kernel(ConvGeometry g, const T* __restrict__ dy,
                                           const std::int32_t* __restrict__ argmax,
                                           T* __restrict__ dx) {
  LAMINA_FOR_EACH_ELEMENT(i, g.N * g.H * g.W * g.C) {
    const InputCell q = input_cell(g, i);
    const i64 cell = q.ih * g.W + q.iw;
    T acc = T(0);
    for (i64 oh = q.oh0; oh < q.oh1; ++oh) {
      for (i64 ow = q.ow0; ow < q.ow1; ++ow) {
        const i64 o = ((q.n * g.OH + oh) * g.OW + ow) * g.C + q.c;
        if (static_cast<i64>(argmax[o]) == cell) acc += dy[o];
      }
    }
    dx[i] = acc;
  }
}

template <class T>
__global__ void avg_pool2d_forward_kernel(ConvGeometry g, const T* __restrict__ x,
                                          T* __restrict__ y) {
  LAMINA_FOR_EACH_ELEMENT(i, g.N * g.OH * g.OW * g.C) {
    const OutputWindow o = output_window(g, i);
    const T* xn = x + o.n * g.H * g.W * g.C + o.c;
    T sum = T(0);
    for (i64 kh = o.h0; kh < o.h1; ++kh) {
      for (i64 kw = o.w0; kw < o.w1; ++kw) sum += xn[((o.ih0 + kh) * g.W + o.iw0 + kw) * g.C];
    }
    y[i] = sum * (T(1) / static_cast<T>(o.count()));
  }
}

template <class T>
__global__ void avg_pool2d_backward_kernel(ConvGeometry g, const T* __restrict__ dy,
                                           T* __restrict__ dx) {
  LAMINA_FOR_EACH_ELEMENT(i, g.N * g.H * g.W * g.C) {
    const InputCell q = input_cell(g, i);
    T acc = T(0);
    for (i64 oh = q.oh0; oh < q.oh1; ++oh) {
      for (i64 ow = q.ow0; ow < q.ow1; ++ow) {
        const i64 o = ((q.n * g.OH + oh) * g.OW + ow) * g.C + q.c;
        const T inv = T(1) / static_cast<T>(output_window(g, o).count());
        acc += dy[o] * inv;
      }
    }
    dx[i] = acc;
  }
}

#undef LAMINA_FOR_EACH_ELEMENT

unsigned blocks_for(i64 elements) { return grid_stride_blocks(elements, kBlockThreads); }

}  // namespace

template <class T>
void max_pool2d_forward(const ConvGeometry& g, const T* x, T* y, std::int32_t* argmax,
                        cudaStream_t stream) {
  launch("max_pool2d_forward_kernel", dim3(blocks_for(g.N * g.OH * g.OW * g.C)),
         dim3(kBlockThreads), 0, stream, max_pool2d_forward_kernel<T>, g, x, y, argmax);
}

template <class T>
void max_pool2d_backward(const ConvGeometry& g, const T* dy, const std::int32_t* argmax, T* dx,
                         cudaStream_t stream) {
  launch("max_pool2d_backward_kernel", dim3(blocks_for(g.N * g.H * g.W * g.C)),
         dim3(kBlockThreads), 0, stream, max_pool2d_backward_kernel<T>, g, dy, argmax, dx);
}

template <class T>
void avg_pool2d_forward(const ConvGeometry& g, const T* x, T* y, cudaStream_t stream) {
  launch("avg_pool2d_forward_kernel", dim3(blocks_for(g.N * g.OH * g.OW * g.C)),
         dim3(kBlockThreads), 0, stream, avg_pool2d_forward_kernel<T>, g, x, y);
}

template <class T>
void avg_pool2d_backward(const ConvGeometry& g, const T* dy, T* dx, cudaStream_t stream) {
  launch("avg_pool2d_backward_kernel", dim3(blocks_for(g.N * g.H * g.W * g.C)),
         dim3(kBlockThreads), 0, stream, avg_pool2d_backward_kernel<T>, g, dy, dx);
}

#define LAMINA_INSTANTIATE_POOL2D(T)                                                           \
  template void max_pool2d_forward<T>(const ConvGeometry&, const T*, T*, std::int32_t*,        \
                                      cudaStream_t);                                           \
  template void max_pool2d_backward<T>(const ConvGeometry&, const T*, const std::int32_t*, T*, \
                                       cudaStream_t);                                          \
  template void avg_pool2d_forward<T>(const ConvGeometry&, const T*, T*, cudaStream_t);        \
  template void avg_pool2d_backward<T>(const ConvGeometry&, const T*, T*, cudaStream_t);
LAMINA_INSTANTIATE_POOL2D(float)
LAMINA_INSTANTIATE_POOL2D(double)
#undef LAMINA_INSTANTIATE_POOL2D

}  // namespace lamina::cuda
