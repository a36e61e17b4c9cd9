// Optimizer update steps with Keras 3 formulas, in place, over many tensors in one call.
//
// Each call updates `count` parameter tensors; tensor i is ParamSlots {w, g, state[0..2], n}: n
// contiguous elements of the weights w (updated in place), their gradient g (read) and up to three
// optimizer state tensors of the same size (updated in place; which slot holds what is listed per
// function, a null slot means "not used"). All elements of all tensors are split evenly over the
// OpenMP threads in one parallel region, so many small tensors cost one fork/join.
// Arithmetic runs in T (the weights' dtype); scalar hyperparameters are converted to T once.
//
// weight_decay (decoupled, Keras' apply_weight_decay, as AdamW uses it): before the update,
// w -= w * weight_decay * lr.
#pragma once

#include <cstdint>

namespace lamina {

template <class T>
struct ParamSlots {
  T* w;
  const T* g;
  T* state[3];
  std::int64_t n;
};

// state[0] = momentum m (null: plain SGD, w -= lr g). With m: m = momentum m - lr g, then
// w += m, or with Nesterov w += momentum m - lr g.
struct SgdOptions {
  double lr, momentum;
  bool nesterov;
  double weight_decay;
};
template <class T>
void sgd_step(const ParamSlots<T>* tensors, std::int64_t count, const SgdOptions& o);

// state[0] = velocity v, state[1] = momentum m (needed when momentum > 0), state[2] = average
// gradient a (needed when centered). v = rho v + (1 - rho) g^2; centered: a = rho a + (1 - rho) g,
// d = v - a^2 else d = v; inc = lr g / sqrt(d + epsilon); momentum > 0: m = momentum m + inc,
// w -= m; else w -= inc.
struct RmspropOptions {
  double lr, rho, epsilon, momentum;
  bool centered;
  double weight_decay;
};
template <class T>
void rmsprop_step(const ParamSlots<T>* tensors, std::int64_t count, const RmspropOptions& o);

// state[0] = m, state[1] = v, state[2] = vhat (amsgrad). step t is 1-based.
// alpha = lr sqrt(1 - b2^t) / (1 - b1^t); m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2);
// amsgrad: vhat = max(vhat, v), used in place of v; w -= alpha m / (sqrt(v) + epsilon).
struct AdamOptions {
  double lr, beta1, beta2, epsilon;
  std::int64_t step;
  bool amsgrad;
  double weight_decay;
};
template <class T>
void adam_step(const ParamSlots<T>* tensors, std::int64_t count, const AdamOptions& o);

// state[0] = accumulator (Keras starts it at initial_accumulator_value = 0.1).
// acc += g^2; w -= lr g / sqrt(acc + epsilon).
struct AdagradOptions {
  double lr, epsilon, weight_decay;
};
template <class T>
void adagrad_step(const ParamSlots<T>* tensors, std::int64_t count, const AdagradOptions& o);

// state[0] = m, state[1] = u (exponentially weighted infinity norm).
// m += (g - m)(1 - b1); u = max(b2 u, |g|); w -= lr m / ((1 - b1^t)(u + epsilon)).
struct AdamaxOptions {
  double lr, beta1, beta2, epsilon;
  std::int64_t step;
  double weight_decay;
};
template <class T>
void adamax_step(const ParamSlots<T>* tensors, std::int64_t count, const AdamaxOptions& o);

// state[0] = m, state[1] = v. Keras' Nadam: u_t = b1 (1 - 0.5 * 0.96^t), u_{t+1} likewise;
// u_product is the running product u_1 ... u_t INCLUDING this step (see nadam_u_product);
// m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2);
// m_hat = u_{t+1} m / (1 - u_product u_{t+1}) + (1 - u_t) g / (1 - u_product);
// v_hat = v / (1 - b2^t); w -= lr m_hat / (sqrt(v_hat) + epsilon).
struct NadamOptions {
  double lr, beta1, beta2, epsilon;
  std::int64_t step;
  double u_product;
  double weight_decay;
};
template <class T>
void nadam_step(const ParamSlots<T>* tensors, std::int64_t count, const NadamOptions& o);

// state[0] = accumulated squared gradient a, state[1] = accumulated squared update d.
// a = rho a + (1 - rho) g^2; delta = -sqrt(d + epsilon) g / sqrt(a + epsilon);
// d = rho d + (1 - rho) delta^2; w += lr delta.
struct AdadeltaOptions {
  double lr, rho, epsilon, weight_decay;
};
template <class T>
void adadelta_step(const ParamSlots<T>* tensors, std::int64_t count, const AdadeltaOptions& o);

// state[0] = m. w -= lr sign(b1 m + (1 - b1) g) (sign(0) = 0, sign(NaN) = NaN); then
// m = b2 m + (1 - b2) g.
struct LionOptions {
  double lr, beta1, beta2, weight_decay;
};
template <class T>
void lion_step(const ParamSlots<T>* tensors, std::int64_t count, const LionOptions& o);

// u_product after step t given the product after step t - 1 (1.0 before the first step).
double nadam_u_product(double previous, double beta1, std::int64_t step);

}  // namespace lamina
