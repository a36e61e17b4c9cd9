// Optimizer steps: see optimizers.h for the formulas and the ParamSlots contract.
//
// An update reads and writes each element once (w, g and one to three states): it is bound by
// memory bandwidth, not arithmetic, so the loops are plain `#pragma omp simd` C++ in the portable
// translation unit rather than per-ISA kernels. The win that matters is the single parallel
// region over every element of every tensor (a model has many small bias vectors).
// An option that changes the formula (Adam's amsgrad, RMSprop's centered and momentum) is a
// template flag, one loop per combination: tested inside the `omp simd` loop, the branch kept
// GCC from vectorising it ("control flow in loop"; so did std::max on an array element, which
// returns a reference). Measured on one Zen 4 core, 99K elements: Adam 2.36 -> 0.69 ns per
// element, amsgrad 2.42 -> 0.77, RMSprop 2.31-2.71 -> 0.63-0.89.
#include "cpu/optimizers.h"

#include <algorithm>
#include <cmath>

#include "common/parallel.h"

namespace lamina {

namespace {

// Bytes-and-flops estimate per element for the threading threshold.
constexpr std::int64_t kWorkPerElement = 8;

// Splits the concatenation of all tensors' elements into even per-thread ranges and calls
// fn(tensor, begin, end) for every piece of a tensor that falls into a thread's range.
template <class T, class Fn>
void for_each_piece(const ParamSlots<T>* tensors, std::int64_t count, Fn&& fn) {
  std::int64_t total = 0;
  for (std::int64_t i = 0; i < count; ++i) total += tensors[i].n;
  parallel_for(total, total * kWorkPerElement, [&](std::int64_t b, std::int64_t e) {
    std::int64_t offset = 0;
    for (std::int64_t i = 0; i < count && offset < e; ++i) {
      const std::int64_t n = tensors[i].n;
      const std::int64_t lo = std::max<std::int64_t>(b - offset, 0);
      const std::int64_t hi = std::min<std::int64_t>(e - offset, n);
      if (lo < hi) fn(tensors[i], lo, hi);
      offset += n;
    }
  });
}

}  // namespace

template <class T>
void sgd_step(const ParamSlots<T>* tensors, std::int64_t count, const SgdOptions& o) {
  const T lr = static_cast<T>(o.lr), mom = static_cast<T>(o.momentum);
  const T decay = static_cast<T>(o.weight_decay * o.lr);
  const bool nesterov = o.nesterov;
  for_each_piece(tensors, count, [&](const ParamSlots<T>& t, std::int64_t b, std::int64_t e) {
    T* __restrict w = t.w;
    const T* __restrict g = t.g;
    T* __restrict m = t.state[0];
    if (!m) {
#pragma omp simd
      for (std::int64_t i = b; i < e; ++i) {
        const T wi = w[i] - w[i] * decay;
        w[i] = wi - g[i] * lr;
      }
    } else if (nesterov) {
#pragma omp simd
      for (std::int64_t i = b; i < e; ++i) {
        const T wi = w[i] - w[i] * decay;
        const T mi = m[i] * mom - g[i] * lr;
        m[i] = mi;
        w[i] = wi + (mi * mom - g[i] * lr);
      }
    } else {
#pragma omp simd
      for (std::int64_t i = b; i < e; ++i) {
        const T wi = w[i] - w[i] * decay;
        const T mi = m[i] * mom - g[i] * lr;
        m[i] = mi;
        w[i] = wi + mi;
      }
    }
  });
}

template <class T, bool kCentered, bool kMomentum>
void rmsprop_loop(const ParamSlots<T>* tensors, std::int64_t count, const RmspropOptions& o) {
  const T lr = static_cast<T>(o.lr), rho = static_cast<T>(o.rho);
  const T one_minus_rho = static_cast<T>(1.0 - o.rho), eps = static_cast<T>(o.epsilon);
  const T mom = static_cast<T>(o.momentum), decay = static_cast<T>(o.weight_decay * o.lr);
  for_each_piece(tensors, count, [&](const ParamSlots<T>& t, std::int64_t b, std::int64_t e) {
    T* __restrict w = t.w;
    const T* __restrict g = t.g;
    T* __restrict v = t.state[0];
    T* __restrict m = t.state[1];
    T* __restrict a = t.state[2];
#pragma omp simd
    for (std::int64_t i = b; i < e; ++i) {
      const T gi = g[i];
      const T vi = rho * v[i] + one_minus_rho * gi * gi;
      v[i] = vi;
      T den = vi;
      if (kCentered) {
        const T ai = rho * a[i] + one_minus_rho * gi;
        a[i] = ai;
        den = vi - ai * ai;
      }
      const T inc = lr * gi / std::sqrt(den + eps);
      const T wi = w[i] - w[i] * decay;
      if (kMomentum) {
        const T mi = mom * m[i] + inc;
        m[i] = mi;
        w[i] = wi - mi;
      } else {
        w[i] = wi - inc;
      }
    }
  });
}

template <class T>
void rmsprop_step(const ParamSlots<T>* tensors, std::int64_t count, const RmspropOptions& o) {
  const bool momentum = o.momentum > 0.0;
  if (o.centered) {
    if (momentum) rmsprop_loop<T, true, true>(tensors, count, o);
    else rmsprop_loop<T, true, false>(tensors, count, o);
  } else {
    if (momentum) rmsprop_loop<T, false, true>(tensors, count, o);
    else rmsprop_loop<T, false, false>(tensors, count, o);
  }
}

template <class T, bool kAmsgrad>
void adam_loop(const ParamSlots<T>* tensors, std::int64_t count, const AdamOptions& o) {
  const double t = static_cast<double>(o.step);
  const T alpha = static_cast<T>(o.lr * std::sqrt(1.0 - std::pow(o.beta2, t)) /
                                 (1.0 - std::pow(o.beta1, t)));
  const T c1 = static_cast<T>(1.0 - o.beta1), c2 = static_cast<T>(1.0 - o.beta2);
  const T eps = static_cast<T>(o.epsilon), decay = static_cast<T>(o.weight_decay * o.lr);
  for_each_piece(tensors, count, [&](const ParamSlots<T>& s, std::int64_t b, std::int64_t e) {
    T* __restrict w = s.w;
    const T* __restrict g = s.g;
    T* __restrict m = s.state[0];
    T* __restrict v = s.state[1];
    T* __restrict vhat = s.state[2];
#pragma omp simd
    for (std::int64_t i = b; i < e; ++i) {
      const T gi = g[i];
      const T mi = m[i] + (gi - m[i]) * c1;
      const T vi = v[i] + (gi * gi - v[i]) * c2;
      m[i] = mi;
      v[i] = vi;
      T vd = vi;  // the denominator's second moment: v, or its running maximum (amsgrad)
      if (kAmsgrad) {
        const T vh = vhat[i];  // a value, not std::max's reference: that made a branch
        vd = vh < vi ? vi : vh;
        vhat[i] = vd;
      }
      const T wi = w[i] - w[i] * decay;
      w[i] = wi - (mi * alpha) / (std::sqrt(vd) + eps);
    }
  });
}

template <class T>
void adam_step(const ParamSlots<T>* tensors, std::int64_t count, const AdamOptions& o) {
  if (o.amsgrad) adam_loop<T, true>(tensors, count, o);
  else adam_loop<T, false>(tensors, count, o);
}

template <class T>
void adagrad_step(const ParamSlots<T>* tensors, std::int64_t count, const AdagradOptions& o) {
  const T lr = static_cast<T>(o.lr), eps = static_cast<T>(o.epsilon);
  const T decay = static_cast<T>(o.weight_decay * o.lr);
  for_each_piece(tensors, count, [&](const ParamSlots<T>& s, std::int64_t b, std::int64_t e) {
    T* __restrict w = s.w;
    const T* __restrict g = s.g;
    T* __restrict acc = s.state[0];
#pragma omp simd
    for (std::int64_t i = b; i < e; ++i) {
      const T gi = g[i];
      const T ai = acc[i] + gi * gi;
      acc[i] = ai;
      const T wi = w[i] - w[i] * decay;
      w[i] = wi - lr * gi / std::sqrt(ai + eps);
    }
  });
}

template <class T>
void adamax_step(const ParamSlots<T>* tensors, std::int64_t count, const AdamaxOptions& o) {
  const T lr = static_cast<T>(o.lr), b2 = static_cast<T>(o.beta2);
  const T c1 = static_cast<T>(1.0 - o.beta1);
  const T bias = static_cast<T>(1.0 - std::pow(o.beta1, static_cast<double>(o.step)));
  const T eps = static_cast<T>(o.epsilon), decay = static_cast<T>(o.weight_decay * o.lr);
  for_each_piece(tensors, count, [&](const ParamSlots<T>& s, std::int64_t b, std::int64_t e) {
    T* __restrict w = s.w;
    const T* __restrict g = s.g;
    T* __restrict m = s.state[0];
    T* __restrict u = s.state[1];
#pragma omp simd
    for (std::int64_t i = b; i < e; ++i) {
      const T gi = g[i];
      const T mi = m[i] + (gi - m[i]) * c1;
      const T ui = std::max(b2 * u[i], std::abs(gi));
      m[i] = mi;
      u[i] = ui;
      const T wi = w[i] - w[i] * decay;
      w[i] = wi - (lr * mi) / (bias * (ui + eps));
    }
  });
}

double nadam_u_product(double previous, double beta1, std::int64_t step) {
  return previous * beta1 * (1.0 - 0.5 * std::pow(0.96, static_cast<double>(step)));
}

template <class T>
void nadam_step(const ParamSlots<T>* tensors, std::int64_t count, const NadamOptions& o) {
  const double t = static_cast<double>(o.step);
  const double u_t = o.beta1 * (1.0 - 0.5 * std::pow(0.96, t));
  const double u_t1 = o.beta1 * (1.0 - 0.5 * std::pow(0.96, t + 1.0));
  const double u_prod_t1 = o.u_product * u_t1;
  const T cm = static_cast<T>(u_t1 / (1.0 - u_prod_t1));
  const T cg = static_cast<T>((1.0 - u_t) / (1.0 - o.u_product));
  const T inv_bias2 = static_cast<T>(1.0 / (1.0 - std::pow(o.beta2, t)));
  const T c1 = static_cast<T>(1.0 - o.beta1), c2 = static_cast<T>(1.0 - o.beta2);
  const T lr = static_cast<T>(o.lr), eps = static_cast<T>(o.epsilon);
  const T decay = static_cast<T>(o.weight_decay * o.lr);
  for_each_piece(tensors, count, [&](const ParamSlots<T>& s, std::int64_t b, std::int64_t e) {
    T* __restrict w = s.w;
    const T* __restrict g = s.g;
    T* __restrict m = s.state[0];
    T* __restrict v = s.state[1];
#pragma omp simd
    for (std::int64_t i = b; i < e; ++i) {
      const T gi = g[i];
      const T mi = m[i] + (gi - m[i]) * c1;
      const T vi = v[i] + (gi * gi - v[i]) * c2;
      m[i] = mi;
      v[i] = vi;
      const T m_hat = cm * mi + cg * gi;
      const T v_hat = vi * inv_bias2;
      const T wi = w[i] - w[i] * decay;
      w[i] = wi - (m_hat * lr) / (std::sqrt(v_hat) + eps);
    }
  });
}

template <class T>
void adadelta_step(const ParamSlots<T>* tensors, std::int64_t count, const AdadeltaOptions& o) {
  const T lr = static_cast<T>(o.lr), rho = static_cast<T>(o.rho);
  const T one_minus_rho = static_cast<T>(1.0 - o.rho), eps = static_cast<T>(o.epsilon);
  const T decay = static_cast<T>(o.weight_decay * o.lr);
  for_each_piece(tensors, count, [&](const ParamSlots<T>& s, std::int64_t b, std::int64_t e) {
    T* __restrict w = s.w;
    const T* __restrict g = s.g;
    T* __restrict acc_g = s.state[0];
    T* __restrict acc_d = s.state[1];
#pragma omp simd
    for (std::int64_t i = b; i < e; ++i) {
      const T gi = g[i];
      const T ai = rho * acc_g[i] + one_minus_rho * (gi * gi);
      acc_g[i] = ai;
      const T delta = -(std::sqrt(acc_d[i] + eps) * gi) / std::sqrt(ai + eps);
      acc_d[i] = rho * acc_d[i] + one_minus_rho * (delta * delta);
      const T wi = w[i] - w[i] * decay;
      w[i] = wi + lr * delta;
    }
  });
}

template <class T>
void lion_step(const ParamSlots<T>* tensors, std::int64_t count, const LionOptions& o) {
  const T lr = static_cast<T>(o.lr), b1 = static_cast<T>(o.beta1), b2 = static_cast<T>(o.beta2);
  const T c1 = static_cast<T>(1.0 - o.beta1), c2 = static_cast<T>(1.0 - o.beta2);
  const T decay = static_cast<T>(o.weight_decay * o.lr);
  for_each_piece(tensors, count, [&](const ParamSlots<T>& s, std::int64_t b, std::int64_t e) {
    T* __restrict w = s.w;
    const T* __restrict g = s.g;
    T* __restrict m = s.state[0];
#pragma omp simd
    for (std::int64_t i = b; i < e; ++i) {
      const T gi = g[i];
      const T c = m[i] * b1 + gi * c1;
      // sign(c), NaN for NaN as numpy's and Keras' ops.sign: a NaN gradient must reach w.
      const T sign = c > T(0) ? T(1) : (c < T(0) ? T(-1) : c);
      const T wi = w[i] - w[i] * decay;
      w[i] = wi - lr * sign;
      m[i] = m[i] * b2 + gi * c2;
    }
  });
}

#define LAMINA_INSTANTIATE_OPTIMIZERS(T)                                                     \
  template void sgd_step<T>(const ParamSlots<T>*, std::int64_t, const SgdOptions&);         \
  template void rmsprop_step<T>(const ParamSlots<T>*, std::int64_t, const RmspropOptions&); \
  template void adam_step<T>(const ParamSlots<T>*, std::int64_t, const AdamOptions&);       \
  template void adagrad_step<T>(const ParamSlots<T>*, std::int64_t, const AdagradOptions&); \
  template void adamax_step<T>(const ParamSlots<T>*, std::int64_t, const AdamaxOptions&);   \
  template void nadam_step<T>(const ParamSlots<T>*, std::int64_t, const NadamOptions&);     \
  template void adadelta_step<T>(const ParamSlots<T>*, std::int64_t, const AdadeltaOptions&); \
  template void lion_step<T>(const ParamSlots<T>*, std::int64_t, const LionOptions&);
LAMINA_INSTANTIATE_OPTIMIZERS(float)
LAMINA_INSTANTIATE_OPTIMIZERS(double)
#undef LAMINA_INSTANTIATE_OPTIMIZERS

}  // namespace lamina
