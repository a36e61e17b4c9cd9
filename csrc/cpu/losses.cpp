// Loss functions: see losses.h for the layout and gradient contract.
//
// These kernels are dominated by log/exp per element and touch each input once, so they stay
// portable scalar C++ (no per-ISA translation unit): the per-row reductions are short (C is the
// class count) and a training step spends its time in the layers, not here.
#include "cpu/losses.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/parallel.h"

namespace lamina {

namespace {

// Rough cost of one element (a log or an exp and a few flops) for the threading threshold.
constexpr std::int64_t kWorkPerElement = 20;

template <class T>
inline T sign_of(T x) {
  return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
}

// log(1 + exp(u)) without overflow.
template <class T>
inline T softplus(T u) {
  return std::max(u, T(0)) + std::log1p(std::exp(-std::abs(u)));
}

template <class T>
inline T sigmoid(T z) {
  if (z >= T(0)) return T(1) / (T(1) + std::exp(-z));
  const T e = std::exp(z);
  return e / (T(1) + e);
}

// Applies `op(p, t, &dloss_dp) -> loss` to every element and reduces each row by `row_scale`
// times the sum (1/C for a mean, 1 for a sum); the gradient gets the same scale.
template <class T, class Op>
void rowwise(const T* y_pred, const T* y_true, std::int64_t R, std::int64_t C, bool mean, T* loss,
             T* grad, const Op& op) {
  const double scale = mean ? 1.0 / static_cast<double>(C) : 1.0;
  const T gscale = static_cast<T>(scale);
  parallel_for(R, R * C * kWorkPerElement, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* p = y_pred + r * C;
      const T* t = y_true + r * C;
      double acc = 0.0;
      if (grad) {
        T* g = grad + r * C;
        for (std::int64_t c = 0; c < C; ++c) {
          T d;
          acc += static_cast<double>(op(p[c], t[c], &d));
          g[c] = d * gscale;
        }
      } else {
        T d;
        for (std::int64_t c = 0; c < C; ++c) acc += static_cast<double>(op(p[c], t[c], &d));
      }
      loss[r] = static_cast<T>(acc * scale);
    }
  });
}

// Keras maps 0/1 hinge labels to -1/1, but only when every label of the tensor is 0 or 1.
template <class T>
bool all_binary(const T* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    if (y[i] != T(0) && y[i] != T(1)) return false;
  }
  return true;
}

}  // namespace

template <class T>
void pointwise_loss(PointwiseLoss kind, const T* y_pred, const T* y_true, std::int64_t R,
                    std::int64_t C, double param, T* loss, T* grad) {
  const T eps = static_cast<T>(kLossEpsilon);
  const T one = T(1);
  switch (kind) {
    case PointwiseLoss::mean_squared_error:
      return rowwise(y_pred, y_true, R, C, true, loss, grad, [](T p, T t, T* d) {
        const T e = p - t;
        *d = T(2) * e;
        return e * e;
      });
    case PointwiseLoss::mean_absolute_error:
      return rowwise(y_pred, y_true, R, C, true, loss, grad, [](T p, T t, T* d) {
        const T e = p - t;
        *d = sign_of(e);
        return std::abs(e);
      });
    case PointwiseLoss::huber: {
      const T delta = static_cast<T>(param);
      const T half_delta_sq = T(0.5) * delta * delta;
      return rowwise(y_pred, y_true, R, C, true, loss, grad, [=](T p, T t, T* d) {
        const T e = p - t;
        const T a = std::abs(e);
        if (a <= delta) {
          *d = e;
          return T(0.5) * e * e;
        }
        *d = delta * sign_of(e);
        return delta * a - half_delta_sq;
      });
    }
    case PointwiseLoss::log_cosh: {
      const T log2 = static_cast<T>(0.69314718055994530942);
      return rowwise(y_pred, y_true, R, C, true, loss, grad, [=](T p, T t, T* d) {
        const T e = p - t;
        *d = std::tanh(e);
        return e + softplus(T(-2) * e) - log2;
      });
    }
    case PointwiseLoss::mean_absolute_percentage_error:
      return rowwise(y_pred, y_true, R, C, true, loss, grad, [=](T p, T t, T* d) {
        const T den = std::max(std::abs(t), eps);
        *d = T(100) * sign_of(p - t) / den;
        return T(100) * std::abs((t - p) / den);
      });
    case PointwiseLoss::mean_squared_logarithmic_error:
      return rowwise(y_pred, y_true, R, C, true, loss, grad, [=](T p, T t, T* d) {
        const T pp = std::max(p, eps) + one;
        const T e = std::log(pp) - std::log(std::max(t, eps) + one);
        *d = p >= eps ? T(2) * e / pp : T(0);
        return e * e;
      });
    case PointwiseLoss::poisson:
      return rowwise(y_pred, y_true, R, C, true, loss, grad, [=](T p, T t, T* d) {
        *d = one - t / (p + eps);
        return p - t * std::log(p + eps);
      });
    case PointwiseLoss::kl_divergence:
      return rowwise(y_pred, y_true, R, C, false, loss, grad, [=](T p, T t, T* d) {
        const T tc = std::min(std::max(t, eps), one);
        const T pc = std::min(std::max(p, eps), one);
        *d = (p >= eps && p <= one) ? -tc / pc : T(0);
        return tc * std::log(tc / pc);
      });
    case PointwiseLoss::hinge:
    case PointwiseLoss::squared_hinge: {
      const bool binary = all_binary(y_true, R * C);
      const bool squared = kind == PointwiseLoss::squared_hinge;
      return rowwise(y_pred, y_true, R, C, true, loss, grad, [=](T p, T t, T* d) {
        const T s = binary ? T(2) * t - one : t;
        const T x = one - s * p;
        const T h = std::max(x, T(0));
        if (squared) {
          *d = T(-2) * h * s;
          return h * h;
        }
        *d = x >= T(0) ? -s : T(0);
        return h;
      });
    }
    case PointwiseLoss::binary_crossentropy: {
      const T keep = static_cast<T>(1.0 - param), shift = static_cast<T>(0.5 * param);
      const T hi = one - eps;
      return rowwise(y_pred, y_true, R, C, true, loss, grad, [=](T p, T t, T* d) {
        const T y = t * keep + shift;
        const T q = std::min(std::max(p, eps), hi);
        *d = (p >= eps && p <= hi) ? (one - y) / (one - q) - y / q : T(0);
        return -(y * std::log(q) + (one - y) * std::log(one - q));
      });
    }
    case PointwiseLoss::binary_crossentropy_logits: {
      const T keep = static_cast<T>(1.0 - param), shift = static_cast<T>(0.5 * param);
      return rowwise(y_pred, y_true, R, C, true, loss, grad, [=](T z, T t, T* d) {
        const T y = t * keep + shift;
        *d = sigmoid(z) - y;
        return std::max(z, T(0)) - z * y + std::log1p(std::exp(-std::abs(z)));
      });
    }
  }
}

template <class T>
void categorical_crossentropy(const T* y_pred, const T* y_true, std::int64_t R, std::int64_t C,
                              bool from_logits, double label_smoothing, T* loss, T* grad) {
  const T keep = static_cast<T>(1.0 - label_smoothing);
  const T shift = static_cast<T>(label_smoothing / static_cast<double>(C));
  const T eps = static_cast<T>(kLossEpsilon), hi = T(1) - eps;
  parallel_for(R, R * C * kWorkPerElement, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* y = y_pred + r * C;
      const T* t = y_true + r * C;
      T* g = grad ? grad + r * C : nullptr;
      if (from_logits) {
        T zmax = y[0];
        for (std::int64_t c = 1; c < C; ++c) zmax = std::max(zmax, y[c]);
        double sum_exp = 0.0, sum_t = 0.0, sum_tz = 0.0;
        for (std::int64_t c = 0; c < C; ++c) {
          const T z = y[c] - zmax;
          const T tc = t[c] * keep + shift;
          const T e = std::exp(z);
          sum_exp += static_cast<double>(e);
          sum_t += static_cast<double>(tc);
          sum_tz += static_cast<double>(tc) * static_cast<double>(z);
          if (g) g[c] = e;
        }
        // -sum t (z - lse), with z shifted by zmax on both sides.
        loss[r] = static_cast<T>(sum_t * std::log(sum_exp) - sum_tz);
        if (g) {
          const T coef = static_cast<T>(sum_t / sum_exp);
          for (std::int64_t c = 0; c < C; ++c) g[c] = g[c] * coef - (t[c] * keep + shift);
        }
      } else {
        double sum_y = 0.0;
        for (std::int64_t c = 0; c < C; ++c) sum_y += static_cast<double>(y[c]);
        const T s = static_cast<T>(sum_y);
        double acc = 0.0, dot = 0.0;  // dot = sum_j dL/dp_j * p_j, for the renormalisation
        for (std::int64_t c = 0; c < C; ++c) {
          const T p = y[c] / s;
          const T q = std::min(std::max(p, eps), hi);
          const T tc = t[c] * keep + shift;
          acc -= static_cast<double>(tc * std::log(q));
          if (g) {
            const T dp = (p >= eps && p <= hi) ? -tc / q : T(0);
            g[c] = dp;
            dot += static_cast<double>(dp) * static_cast<double>(p);
          }
        }
        loss[r] = static_cast<T>(acc);
        if (g) {
          // p_j = y_j / s  =>  dL/dy_k = (dL/dp_k - sum_j dL/dp_j p_j) / s
          const T d = static_cast<T>(dot);
          for (std::int64_t c = 0; c < C; ++c) g[c] = (g[c] - d) / s;
        }
      }
    }
  });
}

template <class I>
std::int64_t find_invalid_label(const I* labels, std::int64_t R, std::int64_t C,
                                bool has_ignore_class, std::int64_t ignore_class) {
  for (std::int64_t r = 0; r < R; ++r) {
    const auto l = static_cast<std::int64_t>(labels[r]);
    if ((l < 0 || l >= C) && !(has_ignore_class && l == ignore_class)) return r;
  }
  return -1;
}

template <class T, class I>
void sparse_categorical_crossentropy(const T* y_pred, const I* labels, std::int64_t R,
                                     std::int64_t C, bool from_logits, bool has_ignore_class,
                                     std::int64_t ignore_class, T* loss, T* grad) {
  const T eps = static_cast<T>(kLossEpsilon), hi = T(1) - eps;
  parallel_for(R, R * C * kWorkPerElement, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* y = y_pred + r * C;
      T* g = grad ? grad + r * C : nullptr;
      const auto label = static_cast<std::int64_t>(labels[r]);
      if ((has_ignore_class && label == ignore_class) || label < 0 || label >= C) {
        // Ignored row (out-of-range labels were rejected by the caller; never index with one).
        loss[r] = T(0);
        if (g) std::fill(g, g + C, T(0));
        continue;
      }
      if (from_logits) {
        T zmax = y[0];
        for (std::int64_t c = 1; c < C; ++c) zmax = std::max(zmax, y[c]);
        double sum_exp = 0.0;
        for (std::int64_t c = 0; c < C; ++c) {
          const T e = std::exp(y[c] - zmax);
          if (g) g[c] = e;
          sum_exp += static_cast<double>(e);
        }
        loss[r] = static_cast<T>(std::log(sum_exp) - static_cast<double>(y[label] - zmax));
        if (g) {
          const T inv = static_cast<T>(1.0 / sum_exp);
          for (std::int64_t c = 0; c < C; ++c) g[c] *= inv;
          g[label] -= T(1);
        }
      } else {
        double sum_y = 0.0;
        for (std::int64_t c = 0; c < C; ++c) sum_y += static_cast<double>(y[c]);
        const T s = static_cast<T>(sum_y);
        const T p = y[label] / s;
        const T q = std::min(std::max(p, eps), hi);
        loss[r] = -std::log(q);
        if (g) {
          const T dp = (p >= eps && p <= hi) ? -T(1) / q : T(0);
          const T d = dp * p;
          for (std::int64_t c = 0; c < C; ++c) g[c] = -d / s;
          g[label] = (dp - d) / s;
        }
      }
    }
  });
}

template <class T>
void categorical_hinge(const T* y_pred, const T* y_true, std::int64_t R, std::int64_t C, T* loss,
                       T* grad) {
  parallel_for(R, R * C * 4, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* p = y_pred + r * C;
      const T* t = y_true + r * C;
      double pos = 0.0;
      T neg = -std::numeric_limits<T>::infinity();
      std::int64_t arg = 0;
      for (std::int64_t c = 0; c < C; ++c) {
        pos += static_cast<double>(t[c] * p[c]);
        const T n = (T(1) - t[c]) * p[c];
        if (n > neg) neg = n, arg = c;
      }
      const T x = static_cast<T>(static_cast<double>(neg) - pos + 1.0);
      loss[r] = std::max(x, T(0));
      if (grad) {
        T* g = grad + r * C;
        const bool active = x >= T(0);
        for (std::int64_t c = 0; c < C; ++c) g[c] = active ? -t[c] : T(0);
        if (active) g[arg] += T(1) - t[arg];
      }
    }
  });
}

template <class T>
void cosine_similarity(const T* y_pred, const T* y_true, std::int64_t R, std::int64_t C, T* loss,
                       T* grad) {
  const double inv_eps = 1.0 / kLossEpsilon;
  parallel_for(R, R * C * 6, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* p = y_pred + r * C;
      const T* t = y_true + r * C;
      double pp = 0.0, tt = 0.0, tp = 0.0;
      for (std::int64_t c = 0; c < C; ++c) {
        pp += static_cast<double>(p[c]) * p[c];
        tt += static_cast<double>(t[c]) * t[c];
        tp += static_cast<double>(t[c]) * p[c];
      }
      // min(rsqrt(x), 1/eps): the gradient follows rsqrt where rsqrt <= 1/eps.
      const double rp = 1.0 / std::sqrt(pp), rt = 1.0 / std::sqrt(tt);
      const bool p_scaled = rp <= inv_eps;
      const double inv_p = p_scaled ? rp : inv_eps;
      const double inv_t = std::min(rt, inv_eps);
      const double cos = tp * inv_p * inv_t;
      loss[r] = static_cast<T>(-cos);
      if (grad) {
        T* g = grad + r * C;
        // d/dp of -(t^ . p) inv_p: -inv_p (t^ - (t^ . p^) p^) when inv_p = |p|^-1, -t^ inv_p else.
        const T a = static_cast<T>(-inv_t * inv_p);
        const T b = static_cast<T>(p_scaled ? cos * inv_p * inv_p : 0.0);
        for (std::int64_t c = 0; c < C; ++c) g[c] = a * t[c] + b * p[c];
      }
    }
  });
}

#define LAMINA_INSTANTIATE_LOSSES(T)                                                            \
  template void pointwise_loss<T>(PointwiseLoss, const T*, const T*, std::int64_t,             \
                                  std::int64_t, double, T*, T*);                               \
  template void categorical_crossentropy<T>(const T*, const T*, std::int64_t, std::int64_t,    \
                                            bool, double, T*, T*);                             \
  template void sparse_categorical_crossentropy<T, std::int32_t>(                              \
      const T*, const std::int32_t*, std::int64_t, std::int64_t, bool, bool, std::int64_t, T*, \
      T*);                                                                                     \
  template void sparse_categorical_crossentropy<T, std::int64_t>(                              \
      const T*, const std::int64_t*, std::int64_t, std::int64_t, bool, bool, std::int64_t, T*, \
      T*);                                                                                     \
  template void categorical_hinge<T>(const T*, const T*, std::int64_t, std::int64_t, T*, T*);  \
  template void cosine_similarity<T>(const T*, const T*, std::int64_t, std::int64_t, T*, T*);
LAMINA_INSTANTIATE_LOSSES(float)
LAMINA_INSTANTIATE_LOSSES(double)
#undef LAMINA_INSTANTIATE_LOSSES

template std::int64_t find_invalid_label<std::int32_t>(const std::int32_t*, std::int64_t,
                                                       std::int64_t, bool, std::int64_t);
template std::int64_t find_invalid_label<std::int64_t>(const std::int64_t*, std::int64_t,
                                                       std::int64_t, bool, std::int64_t);

}  // namespace lamina
