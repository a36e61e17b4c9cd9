// Loss kernels: one warp per row (rows are short: C is the class count or the output width),
// each lane taking columns lane, lane + 32, ...; row sums in float64 combined with shuffles.
// Formulas copied from csrc/cpu/losses.cpp (keep the two in step).
#include <climits>

#include "common/activation_math.h"
#include "cuda/launch.h"
#include "cuda/losses.h"

namespace lamina::cuda {

namespace {

using i64 = std::int64_t;
using activation_math::abs_t;
using activation_math::exp_t;
using activation_math::log1p_t;
using activation_math::log_t;
using activation_math::tanh_t;

template <class T>
__device__ __forceinline__ T sign_of(T x) {
  return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
}

template <class T>
__device__ __forceinline__ T max_t(T a, T b) {
  return a < b ? b : a;  // std::max's choice
}

template <class T>
__device__ __forceinline__ T min_t(T a, T b) {
  return b < a ? b : a;  // std::min's choice
}

template <class T>
__device__ __forceinline__ T softplus_t(T u) {
  return max_t(u, T(0)) + log1p_t(exp_t(-abs_t(u)));
}

template <class T>
__device__ __forceinline__ T sigmoid_logits_t(T z) {
  if (z >= T(0)) return T(1) / (T(1) + exp_t(-z));
  const T e = exp_t(z);
  return e / (T(1) + e);
}

// Parameters of the pointwise kinds, converted to T once on the host.
template <class T>
struct PointwiseParams {
  T delta, half_delta_sq;  // huber
  T keep, shift;           // binary cross-entropies' label smoothing: t * keep + shift
};

// The loss of one element and (through d) its derivative in y_pred, as in csrc/cpu/losses.cpp.
template <class T>
__device__ T pointwise_element(PointwiseLoss kind, T p, T t, const PointwiseParams<T>& prm,
                               bool binary, T* d) {
  const T eps = static_cast<T>(kLossEpsilon);
  const T one = T(1);
  switch (kind) {
    case PointwiseLoss::mean_squared_error: {
      const T e = p - t;
      *d = T(2) * e;
      return e * e;
    }
    case PointwiseLoss::mean_absolute_error: {
      const T e = p - t;
      *d = sign_of(e);
      return abs_t(e);
    }
    case PointwiseLoss::huber: {
      const T e = p - t;
      const T a = abs_t(e);
      if (a <= prm.delta) {
        *d = e;
        return T(0.5) * e * e;
      }
      *d = prm.delta * sign_of(e);
      return prm.delta * a - prm.half_delta_sq;
    }
    case PointwiseLoss::log_cosh: {
      const T e = p - t;
      *d = tanh_t(e);
      return e + softplus_t(T(-2) * e) - static_cast<T>(0.69314718055994530942);
    }
    case PointwiseLoss::mean_absolute_percentage_error: {
      const T den = max_t(abs_t(t), eps);
      *d = T(100) * sign_of(p - t) / den;
      return T(100) * abs_t((t - p) / den);
    }
    case PointwiseLoss::mean_squared_logarithmic_error: {
      const T pp = max_t(p, eps) + one;
      const T e = log_t(pp) - log_t(max_t(t, eps) + one);
      *d = p >= eps ? T(2) * e / pp : T(0);
      return e * e;
    }
    case PointwiseLoss::poisson:
      *d = one - t / (p + eps);
      return p - t * log_t(p + eps);
    case PointwiseLoss::kl_divergence: {
      const T tc = min_t(max_t(t, eps), one);
      const T pc = min_t(max_t(p, eps), one);
      *d = (p >= eps && p <= one) ? -tc / pc : T(0);
      return tc * log_t(tc / pc);
    }
    case PointwiseLoss::hinge:
    case PointwiseLoss::squared_hinge: {
      const T s = binary ? T(2) * t - one : t;
      const T x = one - s * p;
      const T h = max_t(x, T(0));
      if (kind == PointwiseLoss::squared_hinge) {
        *d = T(-2) * h * s;
        return h * h;
      }
      *d = x >= T(0) ? -s : T(0);
      return h;
    }
    case PointwiseLoss::binary_crossentropy: {
      const T y = t * prm.keep + prm.shift;
      const T hi = one - eps;
      const T q = min_t(max_t(p, eps), hi);
      *d = (p >= eps && p <= hi) ? (one - y) / (one - q) - y / q : T(0);
      return -(y * log_t(q) + (one - y) * log_t(one - q));
    }
    case PointwiseLoss::binary_crossentropy_logits: {
      const T y = t * prm.keep + prm.shift;
      *d = sigmoid_logits_t(p) - y;
      return max_t(p, T(0)) - p * y + log1p_t(exp_t(-abs_t(p)));
    }
  }
  *d = T(0);
  return T(0);
}

// Warp-per-row grid for every kernel below: grid_stride_blocks(R, 8) blocks of 256 threads (8
// warps); warp w takes rows w, w + 8 * gridDim.x, ... (warp-uniform, as the shuffles need).
#define LAMINA_FOR_EACH_ROW_OF_WARP(r, R)                                                   \
  const int lane = threadIdx.x % kWarpSize;                                                 \
  const i64 first_warp = static_cast<i64>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarpSize; \
  const i64 all_warps = static_cast<i64>(gridDim.x) * kWarpsPerBlock;                       \
  for (i64 r = first_warp; r < (R); r += all_warps)

// loss[r] = mean (kl_divergence: sum) over the row of pointwise_element; grad scaled alike.
// non_binary: for the hinges, the flag set by hinge_labels_kernel (null otherwise).
template <class T>
__global__ void pointwise_loss_kernel(PointwiseLoss kind, const T* y_pred, const T* y_true, i64 R,
                                      i64 C, PointwiseParams<T> prm, const int* non_binary,
                                      T* loss, T* grad) {
  const double scale = kind == PointwiseLoss::kl_divergence ? 1.0 : 1.0 / static_cast<double>(C);
  const T gscale = static_cast<T>(scale);
  const bool binary = non_binary != nullptr && *non_binary == 0;
  LAMINA_FOR_EACH_ROW_OF_WARP(r, R) {
    const T* p = y_pred + r * C;
    const T* t = y_true + r * C;
    T* g = grad ? grad + r * C : nullptr;
    double acc = 0.0;
    for (i64 c = lane; c < C; c += kWarpSize) {
      T d;
      acc += static_cast<double>(pointwise_element(kind, p[c], t[c], prm, binary, &d));
      if (g) g[c] = d * gscale;
    }
    acc = warp_sum(acc);
    if (lane == 0) loss[r] = static_cast<T>(acc * scale);
  }
}

// *non_binary = 1 when some label is neither 0 nor 1 (a benign race: every writer writes 1).
// Grid: grid_stride_blocks(n, 256) blocks of 256 threads, grid-stride over the n labels.
template <class T>
__global__ void hinge_labels_kernel(const T* y_true, i64 n, int* non_binary) {
  const i64 stride = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    if (y_true[i] != T(0) && y_true[i] != T(1)) *non_binary = 1;
  }
}

// Categorical cross-entropy against a distribution (see losses.h); each lane reads and writes
// the same columns in every pass, so g can hold the exponentials between passes.
template <class T>
__global__ void categorical_crossentropy_kernel(const T* y_pred, const T* y_true, i64 R, i64 C,
                                                bool from_logits, T keep, T shift, T* loss,
                                                T* grad) {
  const T eps = static_cast<T>(kLossEpsilon), hi = T(1) - eps;
  LAMINA_FOR_EACH_ROW_OF_WARP(r, R) {
    const T* y = y_pred + r * C;
    const T* t = y_true + r * C;
    T* g = grad ? grad + r * C : nullptr;
    if (from_logits) {
      T zmax = -INFINITY;
      for (i64 c = lane; c < C; c += kWarpSize) zmax = nan_max(zmax, y[c]);
      zmax = warp_max(zmax);
      double sum_exp = 0.0, sum_t = 0.0, sum_tz = 0.0;
      for (i64 c = lane; c < C; c += kWarpSize) {
        const T z = y[c] - zmax;
        const T tc = t[c] * keep + shift;
        const T e = exp_t(z);
        sum_exp += static_cast<double>(e);
        sum_t += static_cast<double>(tc);
        sum_tz += static_cast<double>(tc) * static_cast<double>(z);
        if (g) g[c] = e;
      }
      sum_exp = warp_sum(sum_exp);
      sum_t = warp_sum(sum_t);
      sum_tz = warp_sum(sum_tz);
      if (lane == 0) loss[r] = static_cast<T>(sum_t * log(sum_exp) - sum_tz);
      if (g) {
        const T coef = static_cast<T>(sum_t / sum_exp);
        for (i64 c = lane; c < C; c += kWarpSize) g[c] = g[c] * coef - (t[c] * keep + shift);
      }
    } else {
      double sum_y = 0.0;
      for (i64 c = lane; c < C; c += kWarpSize) sum_y += static_cast<double>(y[c]);
      const T s = static_cast<T>(warp_sum(sum_y));
      double acc = 0.0, dot = 0.0;  // dot = sum_j dL/dp_j * p_j, for the renormalisation
      for (i64 c = lane; c < C; c += kWarpSize) {
        const T p = y[c] / s;
        const T q = min_t(max_t(p, eps), hi);
        const T tc = t[c] * keep + shift;
        acc -= static_cast<double>(tc * log_t(q));
        if (g) {
          const T dp = (p >= eps && p <= hi) ? -tc / q : T(0);
          g[c] = dp;
          dot += static_cast<double>(dp) * static_cast<double>(p);
        }
      }
      acc = warp_sum(acc);
      if (lane == 0) loss[r] = static_cast<T>(acc);
      if (g) {
        // p_j = y_j / s  =>  dL/dy_k = (dL/dp_k - sum_j dL/dp_j p_j) / s
        const T d = static_cast<T>(warp_sum(dot));
        for (i64 c = lane; c < C; c += kWarpSize) g[c] = (g[c] - d) / s;
      }
    }
  }
}

// Against one-hot(labels[r]); the ignored class or a label outside [0, C) gives loss 0 and
// gradient 0 (never an out-of-bounds read).
template <class T, class I>
__global__ void sparse_categorical_crossentropy_kernel(const T* y_pred, const I* labels, i64 R,
                                                       i64 C, bool from_logits,
                                                       bool has_ignore_class, i64 ignore_class,
                                                       T* loss, T* grad) {
  const T eps = static_cast<T>(kLossEpsilon), hi = T(1) - eps;
  LAMINA_FOR_EACH_ROW_OF_WARP(r, R) {
    const T* y = y_pred + r * C;
    T* g = grad ? grad + r * C : nullptr;
    const i64 label = static_cast<i64>(labels[r]);
    if ((has_ignore_class && label == ignore_class) || label < 0 || label >= C) {
      if (lane == 0) loss[r] = T(0);
      if (g) {
        for (i64 c = lane; c < C; c += kWarpSize) g[c] = T(0);
      }
      continue;
    }
    if (from_logits) {
      T zmax = -INFINITY;
      for (i64 c = lane; c < C; c += kWarpSize) zmax = nan_max(zmax, y[c]);
      zmax = warp_max(zmax);
      double sum_exp = 0.0;
      for (i64 c = lane; c < C; c += kWarpSize) {
        const T e = exp_t(y[c] - zmax);
        if (g) g[c] = e;
        sum_exp += static_cast<double>(e);
      }
      sum_exp = warp_sum(sum_exp);
      if (lane == 0) {
        loss[r] = static_cast<T>(log(sum_exp) - static_cast<double>(y[label] - zmax));
      }
      if (g) {
        const T inv = static_cast<T>(1.0 / sum_exp);
        for (i64 c = lane; c < C; c += kWarpSize) {
          g[c] = c == label ? g[c] * inv - T(1) : g[c] * inv;
        }
      }
    } else {
      double sum_y = 0.0;
      for (i64 c = lane; c < C; c += kWarpSize) sum_y += static_cast<double>(y[c]);
      const T s = static_cast<T>(warp_sum(sum_y));
      const T p = y[label] / s;
      const T q = min_t(max_t(p, eps), hi);
      if (lane == 0) loss[r] = -log_t(q);
      if (g) {
        const T dp = (p >= eps && p <= hi) ? -T(1) / q : T(0);
        const T d = dp * p;
        for (i64 c = lane; c < C; c += kWarpSize) g[c] = c == label ? (dp - d) / s : -d / s;
      }
    }
  }
}

#undef LAMINA_FOR_EACH_ROW_OF_WARP

// *first_bad = min(row) over rows whose label is out of range and not the ignored class.
// Grid: grid_stride_blocks(R, 256) blocks of 256 threads, grid-stride over the R labels.
template <class I>
__global__ void validate_labels_kernel(const I* labels, i64 R, i64 C, bool has_ignore_class,
                                       i64 ignore_class, unsigned long long* first_bad) {
  const i64 stride = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 r = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; r < R; r += stride) {
    const i64 l = static_cast<i64>(labels[r]);
    if ((l < 0 || l >= C) && !(has_ignore_class && l == ignore_class)) {
      atomicMin(first_bad, static_cast<unsigned long long>(r));
    }
  }
}

unsigned row_blocks(i64 rows) { return grid_stride_blocks(rows, kWarpsPerBlock); }

}  // namespace

template <class T>
void pointwise_loss(PointwiseLoss kind, const T* y_pred, const T* y_true, i64 R, i64 C,
                    double param, T* loss, T* grad, cudaStream_t stream) {
  if (R <= 0) return;
  PointwiseParams<T> prm{};
  prm.delta = static_cast<T>(param);
  prm.half_delta_sq = T(0.5) * prm.delta * prm.delta;
  prm.keep = static_cast<T>(1.0 - param);
  prm.shift = static_cast<T>(0.5 * param);
  const bool hinge = kind == PointwiseLoss::hinge || kind == PointwiseLoss::squared_hinge;
  if (!hinge) {
    launch("pointwise_loss_kernel", dim3(row_blocks(R)), dim3(kBlockThreads), 0, stream,
           pointwise_loss_kernel<T>, kind, y_pred, y_true, R, C, prm,
           static_cast<const int*>(nullptr), loss, grad);
    return;
  }
  const char* where = "hinge";
  StreamScratch flag(sizeof(int), stream, where);
  int* non_binary = static_cast<int*>(flag.get());
  check_cuda(cudaMemsetAsync(non_binary, 0, sizeof(int), stream), where, "cudaMemsetAsync");
  launch("hinge_labels_kernel", dim3(grid_stride_blocks(R * C, kBlockThreads)),
         dim3(kBlockThreads), 0, stream, hinge_labels_kernel<T>, y_true, R * C, non_binary);
  launch("pointwise_loss_kernel", dim3(row_blocks(R)), dim3(kBlockThreads), 0, stream,
         pointwise_loss_kernel<T>, kind, y_pred, y_true, R, C, prm,
         static_cast<const int*>(non_binary), loss, grad);
}

template <class T>
void categorical_crossentropy(const T* y_pred, const T* y_true, i64 R, i64 C, bool from_logits,
                              double label_smoothing, T* loss, T* grad, cudaStream_t stream) {
  const T keep = static_cast<T>(1.0 - label_smoothing);
  const T shift = static_cast<T>(label_smoothing / static_cast<double>(C));
  launch("categorical_crossentropy_kernel", dim3(row_blocks(R)), dim3(kBlockThreads), 0, stream,
         categorical_crossentropy_kernel<T>, y_pred, y_true, R, C, from_logits, keep, shift, loss,
         grad);
}

template <class I>
i64 find_invalid_label(const I* labels, i64 R, i64 C, bool has_ignore_class, i64 ignore_class,
                       cudaStream_t stream, const char* where) {
  if (R <= 0) return -1;
  StreamScratch scratch(sizeof(unsigned long long), stream, where);
  auto* first_bad = static_cast<unsigned long long*>(scratch.get());
  check_cuda(cudaMemsetAsync(first_bad, 0xff, sizeof(unsigned long long), stream), where,
             "cudaMemsetAsync");
  launch("validate_labels_kernel", dim3(grid_stride_blocks(R, kBlockThreads)),
         dim3(kBlockThreads), 0, stream, validate_labels_kernel<I>, labels, R, C,
         has_ignore_class, ignore_class, first_bad);
  unsigned long long host = ULLONG_MAX;
  check_cuda(cudaMemcpyAsync(&host, first_bad, sizeof host, cudaMemcpyDeviceToHost, stream),
             where, "copying the label check back");
  check_cuda(cudaStreamSynchronize(stream), where, "waiting for the label check");
  return host == ULLONG_MAX ? -1 : static_cast<i64>(host);
}

template <class I>
i64 label_at(const I* labels, i64 index, cudaStream_t stream, const char* where) {
  I host = 0;
  check_cuda(cudaMemcpyAsync(&host, labels + index, sizeof host, cudaMemcpyDeviceToHost, stream),
             where, "copying a label back");
  check_cuda(cudaStreamSynchronize(stream), where, "waiting for a label");
  return static_cast<i64>(host);
}

template <class T, class I>
void sparse_categorical_crossentropy(const T* y_pred, const I* labels, i64 R, i64 C,
                                     bool from_logits, bool has_ignore_class, i64 ignore_class,
                                     T* loss, T* grad, cudaStream_t stream) {
  launch("sparse_categorical_crossentropy_kernel", dim3(row_blocks(R)), dim3(kBlockThreads), 0,
         stream, sparse_categorical_crossentropy_kernel<T, I>, y_pred, labels, R, C, from_logits,
         has_ignore_class, ignore_class, loss, grad);
}

#define LAMINA_INSTANTIATE_LOSSES(T)                                                           \
  template void pointwise_loss<T>(PointwiseLoss, const T*, const T*, i64, i64, double, T*, T*, \
                                  cudaStream_t);                                               \
  template void categorical_crossentropy<T>(const T*, const T*, i64, i64, bool, double, T*, T*, \
                                            cudaStream_t);                                     \
  template void sparse_categorical_crossentropy<T, std::int32_t>(                             \
      const T*, const std::int32_t*, i64, i64, bool, bool, i64, T*, T*, cudaStream_t);        \
  template void sparse_categorical_crossentropy<T, std::int64_t>(                             \
      const T*, const std::int64_t*, i64, i64, bool, bool, i64, T*, T*, cudaStream_t);
LAMINA_INSTANTIATE_LOSSES(float)
LAMINA_INSTANTIATE_LOSSES(double)
#undef LAMINA_INSTANTIATE_LOSSES

template i64 find_invalid_label<std::int32_t>(const std::int32_t*, i64, i64, bool, i64,
                                              cudaStream_t, const char*);
template i64 find_invalid_label<std::int64_t>(const std::int64_t*, i64, i64, bool, i64,
                                              cudaStream_t, const char*);
template i64 label_at<std::int32_t>(const std::int32_t*, i64, cudaStream_t, const char*);
template i64 label_at<std::int64_t>(const std::int64_t*, i64, cudaStream_t, const char*);

}  // namespace lamina::cuda
