// Per-element activation formulas usable from host and device code (Keras 3 numerics).
//
// The CUDA kernels (csrc/cuda/activations.cu, dense.cu) and the recurrent cells on the CPU
// (csrc/common/lstm_math.h, csrc/cpu/simd/rnn_cells.cpp) evaluate these directly; the CPU
// activation kernels keep their own vectorised float32 copies in csrc/cpu/simd/activations.cpp
// (same formulas, written so that GCC vectorises them) and could adopt this header for float64.
// Codes 0..kCount-1 are those of lamina::Activation (csrc/cpu/activations.h,
// lamina._cpu.ACTIVATIONS); codes kCount..kElementwiseCount-1 (hard_sigmoid, relu6, softsign)
// are element-wise kinds only the recurrent cells take so far.
//
// Every function has internal linkage (static): a translation unit compiled for one ISA
// (-mavx512f) keeps its own copy, so the linker can never hand that copy to generic code
// (numpy#25274).
//
// Formulas: sigmoid 1/(1+e^-x) without overflow; softplus max(x,0)+log1p(e^-|x|); gelu x*Phi(x)
// with Phi from erfc (no cancellation for x < 0); gelu_tanh x*sigmoid(2u), u the tanh argument;
// elu x>0 ? x : alpha*expm1(x); selu scale*elu(x, 1.67326...); leaky_relu x>0 ? x : alpha*x;
// silu x*sigmoid(x); hard_sigmoid relu6(x+3)/6; relu6 min(max(x,0),6); softsign x/(1+|x|);
// relu'(0) = 0.
#pragma once

#include <math.h>

#if defined(__CUDACC__)
#define LAMINA_HOST_DEVICE static __host__ __device__ __forceinline__
#else
#define LAMINA_HOST_DEVICE static inline
#endif

namespace lamina::activation_math {

enum Kind : int {
  kLinear = 0,
  kRelu = 1,
  kSigmoid = 2,
  kTanh = 3,
  kSoftmax = 4,
  kGelu = 5,
  kGeluTanh = 6,
  kElu = 7,
  kSelu = 8,
  kSoftplus = 9,
  kSilu = 10,
  kLeakyRelu = 11,
  kHardSigmoid = 12,
  kRelu6 = 13,
  kSoftsign = 14,
};
constexpr int kCount = 12;             // the kinds of the activation kernels
constexpr int kElementwiseCount = 15;  // every kind forward() / backward() evaluate

constexpr double kSeluAlpha = 1.6732632423543772;
constexpr double kSeluScale = 1.0507009873554805;
constexpr double kSqrt1_2 = 0.70710678118654752440;      // 1/sqrt(2)
constexpr double kInvSqrt2Pi = 0.39894228040143267794;   // 1/sqrt(2 pi)
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2/pi)
constexpr double kGeluTanhCubic = 0.044715;

// Names in code order (lamina._cuda.ACTIVATIONS is built from the first kCount, as _cpu's is).
constexpr const char* kNames[kElementwiseCount] = {
    "linear", "relu",     "sigmoid", "tanh",       "softmax",      "gelu",  "gelu_tanh", "elu",
    "selu",   "softplus", "silu",    "leaky_relu", "hard_sigmoid", "relu6", "softsign"};

// Keras' default alpha: elu's alpha 1.0, leaky_relu's negative_slope 0.2, else 0.
LAMINA_HOST_DEVICE double default_alpha(int kind) {
  return kind == kElu ? 1.0 : (kind == kLeakyRelu ? 0.2 : 0.0);
}

// Whether the backward pass needs the input x (else the output y is enough); elu and
// leaky_relu recover the branch from the sign of y only when alpha > 0.
LAMINA_HOST_DEVICE bool needs_input(int kind, double alpha) {
  if (kind == kGelu || kind == kGeluTanh || kind == kSoftplus || kind == kSilu) return true;
  if (kind == kElu || kind == kLeakyRelu) return !(alpha > 0.0);
  return false;
}

// One spelling per type for the C math functions (host: math.h; device: CUDA's overloads).
LAMINA_HOST_DEVICE float exp_t(float x) { return expf(x); }
LAMINA_HOST_DEVICE double exp_t(double x) { return exp(x); }
LAMINA_HOST_DEVICE float expm1_t(float x) { return expm1f(x); }
LAMINA_HOST_DEVICE double expm1_t(double x) { return expm1(x); }
LAMINA_HOST_DEVICE float log_t(float x) { return logf(x); }
LAMINA_HOST_DEVICE double log_t(double x) { return log(x); }
LAMINA_HOST_DEVICE float log1p_t(float x) { return log1pf(x); }
LAMINA_HOST_DEVICE double log1p_t(double x) { return log1p(x); }
LAMINA_HOST_DEVICE float tanh_t(float x) { return tanhf(x); }
LAMINA_HOST_DEVICE double tanh_t(double x) { return tanh(x); }
LAMINA_HOST_DEVICE float erfc_t(float x) { return erfcf(x); }
LAMINA_HOST_DEVICE double erfc_t(double x) { return erfc(x); }
LAMINA_HOST_DEVICE float sqrt_t(float x) { return sqrtf(x); }
LAMINA_HOST_DEVICE double sqrt_t(double x) { return sqrt(x); }

template <class T>
LAMINA_HOST_DEVICE T abs_t(T x) {
  return x < T(0) ? -x : x;
}

template <class T>
LAMINA_HOST_DEVICE T sigmoid_t(T x) {
  const T e = exp_t(-abs_t(x));
  const T num = x >= T(0) ? T(1) : e;
  return num / (T(1) + e);
}

// Phi(x), the standard normal CDF, without cancellation for x < 0.
template <class T>
LAMINA_HOST_DEVICE T normal_cdf_t(T x) {
  const T c = T(0.5) * erfc_t(abs_t(x) * T(kSqrt1_2));
  return x < T(0) ? c : T(1) - c;
}

// 2u for gelu_tanh: 0.5 x (1 + tanh(u)) = x sigmoid(2u).
template <class T>
LAMINA_HOST_DEVICE T gelu_tanh_arg2(T x) {
  return T(2.0 * kSqrt2OverPi) * (x + T(kGeluTanhCubic) * x * x * x);
}

// y = act(x) for an element-wise kind (not softmax, which needs the row).
template <class T>
LAMINA_HOST_DEVICE T forward(int kind, T v, T alpha) {
  switch (kind) {
    case kRelu: return v < T(0) ? T(0) : v;  // NaN stays NaN
    case kSigmoid: return sigmoid_t(v);
    case kTanh: return tanh_t(v);
    case kGelu: return v * normal_cdf_t(v);
    case kGeluTanh: return v * sigmoid_t(gelu_tanh_arg2(v));
    case kElu: return v > T(0) ? v : alpha * expm1_t(v < T(0) ? v : T(0));
    case kSelu:
      return v > T(0) ? T(kSeluScale) * v
                      : T(kSeluScale * kSeluAlpha) * expm1_t(v < T(0) ? v : T(0));
    case kSoftplus: return (v > T(0) ? v : T(0)) + log1p_t(exp_t(-abs_t(v)));
    case kSilu: return v * sigmoid_t(v);
    case kLeakyRelu: return v > T(0) ? v : alpha * v;
    case kHardSigmoid: {
      const T y = (v + T(3)) / T(6);
      return y < T(0) ? T(0) : (y > T(1) ? T(1) : y);
    }
    case kRelu6: return v < T(0) ? T(0) : (v > T(6) ? T(6) : v);
    case kSoftsign: return v / (T(1) + abs_t(v));
    default: return v;  // linear
  }
}

// dx = act'(.) * g for an element-wise kind. `a` is the input x when needs_input(kind, alpha),
// otherwise the output y (ignored for linear).
template <class T>
LAMINA_HOST_DEVICE T backward(int kind, T a, T g, T alpha) {
  switch (kind) {
    case kRelu: return a > T(0) ? g : T(0);
    case kSigmoid: return g * (a * (T(1) - a));
    case kTanh: return g * (T(1) - a * a);
    case kGelu: {
      const T pdf = T(kInvSqrt2Pi) * exp_t(T(-0.5) * a * a);
      return g * (normal_cdf_t(a) + a * pdf);
    }
    case kGeluTanh: {
      const T s = sigmoid_t(gelu_tanh_arg2(a));
      const T du2 = T(2.0 * kSqrt2OverPi) * (T(1) + T(3.0 * kGeluTanhCubic) * a * a);
      return g * (s + a * du2 * s * (T(1) - s));
    }
    case kElu:
      if (alpha > T(0)) return a > T(0) ? g : g * (a + alpha);  // from y: y' = y + alpha below 0
      return a > T(0) ? g : g * alpha * exp_t(a < T(0) ? a : T(0));
    case kSelu: return a > T(0) ? g * T(kSeluScale) : g * (a + T(kSeluScale * kSeluAlpha));
    case kSoftplus: return g * sigmoid_t(a);
    case kSilu: {
      const T s = sigmoid_t(a);
      return g * (s * (T(1) + a * (T(1) - s)));
    }
    case kLeakyRelu: return a > T(0) ? g : alpha * g;  // same test from x or (alpha > 0) from y
    case kHardSigmoid: return (a > T(0) && a < T(1)) ? g / T(6) : T(0);
    case kRelu6: return (a > T(0) && a < T(6)) ? g : T(0);
    case kSoftsign: {  // y' = 1 / (1 + |x|)^2 = (1 - |y|)^2
      const T d = T(1) - abs_t(a);
      return g * d * d;
    }
    default: return g;  // linear
  }
}

}  // namespace lamina::activation_math
