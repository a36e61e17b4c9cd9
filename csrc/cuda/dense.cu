// Dense layer = gemm + fused epilogue: the products go through lamina::cuda::gemm, the bias add
// and activation through one element-wise pass over the output (see dense.h).
#include "common/activation_math.h"
#include "cuda/activations.h"
#include "cuda/dense.h"
#include "cuda/gemm.h"
#include "cuda/reduce.h"

namespace lamina::cuda {

using i64 = std::int64_t;

template <class T>
void dense_forward(const T* x, const T* w, const T* b, T* z, T* y, i64 N, i64 F, i64 U, int kind,
                   T alpha, cudaStream_t stream) {
  T* out = z ? z : y;
  gemm<T>(false, false, N, U, F, T(1), x, F, w, U, T(0), out, U, stream);
  // Nothing left to do only for a linear layer with no bias writing straight into y.
  if (b || kind != activation_math::kLinear || out != y) {
    bias_activation_forward<T>(kind, out, b, y, N, U, alpha, stream);
  }
}

template <class T>
void dense_backward(const T* x, const T* w, const T* a, const T* dy, T* dx, T* dw, T* db, T* dz,
                    i64 N, i64 F, i64 U, int kind, T alpha, cudaStream_t stream) {
  const T* g = dy;
  if (kind != activation_math::kLinear) {
    activation_backward<T>(kind, a, dy, dz, N, U, alpha, stream);
    g = dz;
  }
  gemm<T>(true, false, F, U, N, T(1), x, F, g, U, T(0), dw, U, stream);
  if (db) reduce_sum<T>(g, db, 1, N, U, false, stream);
  if (dx) gemm<T>(false, true, N, F, U, T(1), g, U, w, U, T(0), dx, F, stream);
}

#define LAMINA_INSTANTIATE_DENSE(T)                                                             \
  template void dense_forward<T>(const T*, const T*, const T*, T*, T*, i64, i64, i64, int, T,  \
                                 cudaStream_t);                                                \
  template void dense_backward<T>(const T*, const T*, const T*, const T*, T*, T*, T*, T*, i64, \
                                  i64, i64, int, T, cudaStream_t);
LAMINA_INSTANTIATE_DENSE(float)
LAMINA_INSTANTIATE_DENSE(double)
#undef LAMINA_INSTANTIATE_DENSE

}  // namespace lamina::cuda
