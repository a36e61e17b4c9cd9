// Loss functions with Keras 3 numerics, forward and gradient in one pass.
//
// Layout: predictions are viewed as (R, C) rows, R = size / C with C the last axis, so (N, C) and
// (N, T, C) are handled alike. Every function writes one loss per row into `loss` (R,) and, when
// `grad` is not null, assigns (`=`, never `+=`) d(loss[r]) / d(y_pred[r, c]) into `grad` (R, C):
// the derivative of each row's own loss, not divided by the batch (the caller scales it by the
// upstream gradient per row). `y_true` has the layout of `y_pred`; sparse labels are (R,).
//
// Derivatives follow the reference framework's where a formula has a kink: clip(x, lo, hi) passes
// the gradient for lo <= x <= hi (both ends included), maximum(x, y) passes it to x where x >= y.
// Row sums are accumulated in double; element math runs in T (float32 or float64).
// Rows are spread over OpenMP threads when the work is large enough (common/parallel.h).
#pragma once

#include <cstdint>

namespace lamina {

// Keras' backend.epsilon(): the clip bound for probabilities and the floor of divisors.
constexpr double kLossEpsilon = 1e-7;

// Losses whose row value is the mean (or, for kl_divergence, the sum) over the last axis of an
// elementwise function f(y_pred, y_true). `param` is delta for huber and label_smoothing for the
// binary cross-entropies, unused otherwise.
enum class PointwiseLoss {
  mean_squared_error,              // (p - t)^2
  mean_absolute_error,             // |p - t|, derivative sign(p - t), 0 at equality
  huber,                           // 0.5 e^2 if |e| <= delta else delta |e| - 0.5 delta^2, e = p - t
  log_cosh,                        // e + softplus(-2e) - log 2
  mean_absolute_percentage_error,  // 100 |(t - p) / max(|t|, eps)|
  mean_squared_logarithmic_error,  // (log(max(p, eps) + 1) - log(max(t, eps) + 1))^2
  poisson,                         // p - t log(p + eps)
  kl_divergence,                   // t' log(t' / p'), t' p' clipped to [eps, 1]; row SUM
  hinge,                           // max(1 - t p, 0), 0/1 labels mapped to -1/1 (whole tensor)
  squared_hinge,                   // max(1 - t p, 0)^2, same label mapping
  binary_crossentropy,             // -(t log p' + (1 - t) log(1 - p')), p' = clip(p, eps, 1 - eps)
  binary_crossentropy_logits,      // max(z, 0) - z t + log(1 + exp(-|z|))
};

template <class T>
void pointwise_loss(PointwiseLoss kind, const T* y_pred, const T* y_true, std::int64_t R,
                    std::int64_t C, double param, T* loss, T* grad);

// Categorical cross-entropy against a distribution `y_true` (R, C). Label smoothing first:
// t = t (1 - ls) + ls / C. Probabilities: p = y / sum(y), clipped to [eps, 1 - eps], loss
// -sum t log p, gradient through the renormalisation and the clip. Logits: loss -sum t
// log_softmax(z), gradient softmax(z) sum(t) - t.
template <class T>
void categorical_crossentropy(const T* y_pred, const T* y_true, std::int64_t R, std::int64_t C,
                              bool from_logits, double label_smoothing, T* loss, T* grad);

// Keras' ignore_class: rows whose label equals `ignore_class` are skipped, but only when
// `has_ignore_class` is set. The flag is separate from the value so that no label is a sentinel:
// every int64 (INT64_MIN and -1 included) is either the ignored class or checked against [0, C).

// First index r with labels[r] outside [0, C) and not the ignored class, or -1 when all are
// valid. Callers check this before sparse_categorical_crossentropy, which trusts its labels.
template <class I>
std::int64_t find_invalid_label(const I* labels, std::int64_t R, std::int64_t C,
                                bool has_ignore_class, std::int64_t ignore_class);

// categorical_crossentropy against one-hot(labels[r]); a row whose label is the ignored class
// gets loss 0 and gradient 0 (as does an out-of-range label the caller failed to reject: the
// kernel never indexes with one).
template <class T, class I>
void sparse_categorical_crossentropy(const T* y_pred, const I* labels, std::int64_t R,
                                     std::int64_t C, bool from_logits, bool has_ignore_class,
                                     std::int64_t ignore_class, T* loss, T* grad);

// max(neg - pos + 1, 0), pos = sum(t p), neg = max((1 - t) p) (first maximum on ties).
template <class T>
void categorical_hinge(const T* y_pred, const T* y_true, std::int64_t R, std::int64_t C, T* loss,
                       T* grad);

// -sum(t^ p^) with x^ = x * min(1 / ||x||, 1 / eps) along the last axis.
template <class T>
void cosine_similarity(const T* y_pred, const T* y_true, std::int64_t R, std::int64_t C, T* loss,
                       T* grad);

}  // namespace lamina
