// Drivers of batch normalization (see batchnorm.h): per-channel sums in double over fixed parts
// of the rows, added in part order, so the statistics and gradients do not depend on the thread
// count; the elementwise passes split the rows over the threads.
#include "cpu/batchnorm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/parallel.h"
#include "cpu/batchnorm_kernels.h"

namespace lamina {

namespace {

using i64 = std::int64_t;

template <class T>
const BatchNormKernelsOf<T>& kernels() {
  const BatchNormKernels& k = LAMINA_KERNEL_TABLE(batchnorm_kernels);
  if constexpr (sizeof(T) == 4) return k.f32; else return k.f64;
}

// Parts of the rows for the sums: at least 256 rows each, at most 64 (enough for any thread
// count), a number that depends on the row count alone.
constexpr i64 kMinPartRows = 256;
constexpr i64 kMaxParts = 64;

// Sums over all rows of `count` per-channel accumulators filled by fn(r0, r1, acc0, acc1, ...):
// out[j * C + c]; one zeroed block per fixed part of the rows, summed in part order.
template <class Fn>
std::vector<double> row_sums(i64 rows, i64 C, int count, Fn&& fn) {
  const i64 parts =
      std::max<i64>(1, std::min(kMaxParts, (rows + kMinPartRows - 1) / kMinPartRows));
  const i64 block = static_cast<i64>(count) * C;
  std::vector<double> acc(static_cast<std::size_t>(parts) * block, 0.0);
  const i64 per = (rows + parts - 1) / parts;
  parallel_for(parts, rows * C * 2, [&](i64 p0, i64 p1) {
    for (i64 p = p0; p < p1; ++p) {
      const i64 r0 = p * per, r1 = std::min(rows, r0 + per);
      if (r0 < r1) fn(r0, r1, acc.data() + p * block);
    }
  });
  for (i64 p = 1; p < parts; ++p) {
    for (i64 i = 0; i < block; ++i) acc[i] += acc[p * block + i];
  }
  acc.resize(block);
  return acc;
}

template <class T>
void apply_affine(i64 rows, i64 C, const T* x, const std::vector<T>& scale,
                  const std::vector<T>& shift, T* y) {
  const auto& k = kernels<T>();
  parallel_for(rows, rows * C, [&](i64 r0, i64 r1) {
    k.affine(r1 - r0, C, x + r0 * C, scale.data(), shift.data(), y + r0 * C);
  });
}

}  // namespace

template <class T>
void batchnorm_forward_training(i64 rows, i64 C, const T* x, const T* gamma, const T* beta, T eps,
                                T* y, T* mean, T* var) {
  const auto& k = kernels<T>();
  const double inv_rows = rows > 0 ? 1.0 / static_cast<double>(rows) : 0.0;
  std::vector<double> mu = row_sums(rows, C, 1, [&](i64 r0, i64 r1, double* acc) {
    k.sum(r1 - r0, C, x + r0 * C, acc);
  });
  for (auto& m : mu) m *= inv_rows;
  std::vector<double> sq = row_sums(rows, C, 1, [&](i64 r0, i64 r1, double* acc) {
    k.sum_sq_dev(r1 - r0, C, x + r0 * C, mu.data(), acc);
  });
  std::vector<T> scale(C), shift(C);
  for (i64 c = 0; c < C; ++c) {
    const double v = sq[c] * inv_rows;
    mean[c] = static_cast<T>(mu[c]);
    var[c] = static_cast<T>(v);
    const double s = (gamma ? static_cast<double>(gamma[c]) : 1.0) / std::sqrt(v + eps);
    scale[c] = static_cast<T>(s);
    shift[c] = static_cast<T>((beta ? static_cast<double>(beta[c]) : 0.0) - mu[c] * s);
  }
  apply_affine(rows, C, x, scale, shift, y);
}

template <class T>
void batchnorm_forward_inference(i64 rows, i64 C, const T* x, const T* gamma, const T* beta,
                                 const T* mean, const T* var, T eps, T* y) {
  std::vector<T> scale(C), shift(C);
  for (i64 c = 0; c < C; ++c) {
    const double s = (gamma ? static_cast<double>(gamma[c]) : 1.0) /
                     std::sqrt(static_cast<double>(var[c]) + eps);
    scale[c] = static_cast<T>(s);
    shift[c] = static_cast<T>((beta ? static_cast<double>(beta[c]) : 0.0) -
                              static_cast<double>(mean[c]) * s);
  }
  apply_affine(rows, C, x, scale, shift, y);
}

template <class T>
void batchnorm_backward(i64 rows, i64 C, const T* x, const T* gamma, const T* mean, const T* var,
                        T eps, const T* dy, bool training, T* dx, T* dgamma, T* dbeta) {
  const auto& k = kernels<T>();
  std::vector<double> mu(mean, mean + C);
  std::vector<double> sums = row_sums(rows, C, 2, [&](i64 r0, i64 r1, double* acc) {
    k.backward_sums(r1 - r0, C, x + r0 * C, dy + r0 * C, mu.data(), acc, acc + C);
  });
  const double* sum_dy = sums.data();
  const double* sum_dy_xc = sums.data() + C;
  std::vector<T> a(C), b(C), c0(C);
  const double inv_rows = rows > 0 ? 1.0 / static_cast<double>(rows) : 0.0;
  for (i64 c = 0; c < C; ++c) {
    const double inv_std = 1.0 / std::sqrt(static_cast<double>(var[c]) + eps);
    const double gm = gamma ? static_cast<double>(gamma[c]) : 1.0;
    if (dgamma) dgamma[c] = static_cast<T>(sum_dy_xc[c] * inv_std);
    if (dbeta) dbeta[c] = static_cast<T>(sum_dy[c]);
    a[c] = static_cast<T>(gm * inv_std);
    b[c] = training ? static_cast<T>(-gm * inv_std * inv_std * inv_std * sum_dy_xc[c] * inv_rows)
                    : T(0);
    c0[c] = training ? static_cast<T>(-gm * inv_std * sum_dy[c] * inv_rows) : T(0);
  }
  if (!dx) return;
  parallel_for(rows, rows * C * 2, [&](i64 r0, i64 r1) {
    k.backward_apply(r1 - r0, C, x + r0 * C, dy + r0 * C, mu.data(), a.data(), b.data(),
                     c0.data(), dx + r0 * C);
  });
}

#define LAMINA_INSTANTIATE_BATCHNORM(T)                                                         \
  template void batchnorm_forward_training<T>(i64, i64, const T*, const T*, const T*, T, T*, T*, \
                                              T*);                                              \
  template void batchnorm_forward_inference<T>(i64, i64, const T*, const T*, const T*,          \
                                               const T*, const T*, T, T*);                      \
  template void batchnorm_backward<T>(i64, i64, const T*, const T*, const T*, const T*, T,      \
                                      const T*, bool, T*, T*, T*);
LAMINA_INSTANTIATE_BATCHNORM(float)
LAMINA_INSTANTIATE_BATCHNORM(double)
#undef LAMINA_INSTANTIATE_BATCHNORM

}  // namespace lamina
