#include "cpu/dense.h"

#include "cpu/gemm.h"
#include "cpu/reduce.h"

namespace lamina {

template <class T>
void dense_forward(const T* x, const T* w, const T* b, T* z, T* y, std::int64_t N,
                   std::int64_t F, std::int64_t U, Activation kind, T alpha) {
  T* out = z ? z : y;
  gemm<T>(false, false, N, U, F, T(1), x, F, w, U, T(0), out, U);
  // Nothing left to do only for a linear layer with no bias writing straight into y.
  if (b || kind != Activation::linear || out != y) {
    bias_activation_forward<T>(kind, out, b, y, N, U, alpha);
  }
}

template <class T>
void dense_backward(const T* x, const T* w, const T* z, const T* y, const T* dy, T* dx, T* dw,
                    T* db, T* dz, std::int64_t N, std::int64_t F, std::int64_t U,
                    Activation kind, T alpha) {
  const T* g = dy;
  if (kind != Activation::linear) {
    activation_backward<T>(kind, z, y, dy, dz, N, U, alpha);
    g = dz;
  }
  gemm<T>(true, false, F, U, N, T(1), x, F, g, U, T(0), dw, U);
  if (db) reduce_sum<T>(g, db, 1, N, U, false);
  if (dx) gemm<T>(false, true, N, F, U, T(1), g, U, w, U, T(0), dx, F);
}

#define LAMINA_INSTANTIATE_DENSE(T)                                                          \
  template void dense_forward<T>(const T*, const T*, const T*, T*, T*, std::int64_t,        \
                                 std::int64_t, std::int64_t, Activation, T);                \
  template void dense_backward<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, \
                                  T*, T*, std::int64_t, std::int64_t, std::int64_t,         \
                                  Activation, T);
LAMINA_INSTANTIATE_DENSE(float)
LAMINA_INSTANTIATE_DENSE(double)
#undef LAMINA_INSTANTIATE_DENSE

}  // namespace lamina
