// Drivers of the pooling family (see pool2d.h): images split over the threads.
#include "cpu/pool2d.h"

#include "common/parallel.h"
#include "cpu/pool2d_kernels.h"

namespace lamina {

namespace {

using i64 = std::int64_t;

template <class T>
const PoolKernelsOf<T>& kernels() {
  const PoolKernels& k = LAMINA_KERNEL_TABLE(pool2d_kernels);
  if constexpr (sizeof(T) == 4) return k.f32; else return k.f64;
}

template <class Fn>
void over_images(const ConvGeometry& g, Fn&& fn) {
  const i64 work = g.N * (g.OH * g.OW * g.KH * g.KW + g.H * g.W) * g.C;
  parallel_for(g.N, work, [&](i64 n0, i64 n1) { fn(n0, n1); });
}

}  // namespace

template <class T>
void max_pool2d_forward(const ConvGeometry& g, const T* x, T* y, std::int32_t* argmax) {
  const auto& k = kernels<T>();
  over_images(g, [&](i64 n0, i64 n1) { k.max_forward(&g, x, y, argmax, n0, n1); });
}

template <class T>
void max_pool2d_backward(const ConvGeometry& g, const T* dy, const std::int32_t* argmax, T* dx) {
  const auto& k = kernels<T>();
  over_images(g, [&](i64 n0, i64 n1) { k.max_backward(&g, dy, argmax, dx, n0, n1); });
}

template <class T>
void avg_pool2d_forward(const ConvGeometry& g, const T* x, T* y) {
  const auto& k = kernels<T>();
  over_images(g, [&](i64 n0, i64 n1) { k.avg_forward(&g, x, y, n0, n1); });
}

template <class T>
void avg_pool2d_backward(const ConvGeometry& g, const T* dy, T* dx) {
  const auto& k = kernels<T>();
  over_images(g, [&](i64 n0, i64 n1) { k.avg_backward(&g, dy, dx, n0, n1); });
}

#define LAMINA_INSTANTIATE_POOL2D(T)                                                           \
  template void max_pool2d_forward<T>(const ConvGeometry&, const T*, T*, std::int32_t*);       \
  template void max_pool2d_backward<T>(const ConvGeometry&, const T*, const std::int32_t*, T*); \
  template void avg_pool2d_forward<T>(const ConvGeometry&, const T*, T*);                      \
  template void avg_pool2d_backward<T>(const ConvGeometry&, const T*, T*);
LAMINA_INSTANTIATE_POOL2D(float)
LAMINA_INSTANTIATE_POOL2D(double)
#undef LAMINA_INSTANTIATE_POOL2D

}  // namespace lamina
