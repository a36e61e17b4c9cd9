// Per-element math of the recurrent cells (LSTM, GRU, SimpleRNN), shared by the CPU step loops
// (csrc/cpu/simd/rnn_cells.cpp, compiled once per ISA) and a future CUDA twin.
//
// Every function is `static inline`: each translation unit gets its own private copy, so the
// AVX-512 copy compiled into isa_avx512 can never be the one the linker keeps for the generic
// code (numpy#25274). No STL: compiler builtins only, usable in device code.
//
// Two paths:
// - the default pair (activation tanh, recurrent_activation sigmoid) uses the branch-free float32
//   exp below (Cody-Waite range reduction, degree-6 polynomial, about 2 ulp), which the compiler
//   vectorises inside the step loops; float64 calls libm, since float64 serves gradient checks;
// - every other activation goes through the element-wise formulas of common/activation_math.h,
//   the ones the activation kernels use, so a recurrent cell and an Activation layer compute the
//   same function. Codes are activation_math's (every element-wise kind: all but softmax), with
//   Keras' default parameters (elu alpha 1, leaky_relu negative_slope 0.2).
#pragma once

#include <cstdint>

#include "common/activation_math.h"

#if defined(__CUDACC__)
#define LAMINA_HD __host__ __device__
#else
#define LAMINA_HD
#endif

namespace lamina::rnn_math {

namespace am = ::lamina::activation_math;

enum Act : int {
  kLinear = am::kLinear,
  kRelu = am::kRelu,
  kSigmoid = am::kSigmoid,
  kTanh = am::kTanh,
  kHardSigmoid = am::kHardSigmoid,
};

// Whether `code` names an activation the recurrent cells evaluate.
LAMINA_HD static inline bool supported(int code) {
  return code >= 0 && code < am::kElementwiseCount && code != am::kSoftmax;
}

LAMINA_HD static inline float fast_exp(float x) {
  // Clamp to where the result stays a normal float: below -86 it would reach the denormals (slow
  // on x86, and a saturated gate does not care); exp(88.7) is near FLT_MAX.
  x = x < -86.0f ? -86.0f : (x > 88.7f ? 88.7f : x);
  // n = round(x / ln 2) by the 1.5 * 2^23 trick (no rounding instruction needed for SSE2).
  const float shifted = x * 1.44269504088896341f + 12582912.0f;
  const float n = shifted - 12582912.0f;
  float r = x - n * 0.693359375f;          // ln2 high part (exact in float)
  r = r - n * -2.12194440e-4f;              // ln2 low part
  // exp(r) on |r| <= ln2 / 2: Taylor/minimax coefficients (Cephes expf).
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const std::int32_t bits = (static_cast<std::int32_t>(n) + 127) << 23;
  float scale;
  __builtin_memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

LAMINA_HD static inline double fast_exp(double x) { return __builtin_exp(x); }

template <class T>
LAMINA_HD static inline T sigmoid(T x) {
  return T(1) / (T(1) + fast_exp(-x));
}

LAMINA_HD static inline float tanh_act(float x) {
  // tanh(x) = sign(x) (1 - e) / (1 + e), e = exp(-2|x|): no overflow, absolute error ~1e-7.
  const float ax = x < 0.0f ? -x : x;
  const float e = fast_exp(-2.0f * ax);
  const float t = (1.0f - e) / (1.0f + e);
  return x < 0.0f ? -t : t;
}

LAMINA_HD static inline double tanh_act(double x) { return __builtin_tanh(x); }

// y = activation(x), any supported code.
template <class T>
LAMINA_HD static inline T activate(int code, T x) {
  return am::forward(code, x, T(am::default_alpha(code)));
}

// d activation / d x at the pre-activation x whose output is y (each kind reads the one its
// formula needs: gelu, silu and softplus read x, the others y).
template <class T>
LAMINA_HD static inline T activate_grad(int code, T x, T y) {
  const double alpha = am::default_alpha(code);
  return am::backward(code, am::needs_input(code, alpha) ? x : y, T(1), T(alpha));
}

}  // namespace lamina::rnn_math
