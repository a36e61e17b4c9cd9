// Per-element math of the recurrent cells (LSTM, GRU, SimpleRNN), shared by the CPU step loops
// (csrc/cpu/simd/rnn_cells.cpp, compiled once per ISA) and a future CUDA twin.
//
// Every function is `static inline`: each translation unit gets its own private copy, so the
// AVX-512 copy compiled into isa_avx512 can never be the one the linker keeps for the generic
// code (numpy#25274). No STL: compiler builtins only, usable in device code.
//
// float32 uses a branch-free exp (Cody-Waite range reduction, degree-6 polynomial, about 2 ulp)
// that the compiler vectorises inside the step loops; float64 calls libm, since float64 serves
// gradient checks, where accuracy matters and speed does not.
//
// Activation codes (the same numbers as ops/nn.py ACTIVATIONS where they overlap):
//   0 linear, 1 relu, 2 sigmoid, 3 tanh, 12 hard_sigmoid (Keras 3: relu6(x + 3) / 6).
// Every derivative here is written in terms of the activation's OUTPUT y, so the backward pass
// needs only what the forward pass saved.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define LAMINA_HD __host__ __device__
#else
#define LAMINA_HD
#endif

namespace lamina::rnn_math {

enum Act : int { kLinear = 0, kRelu = 1, kSigmoid = 2, kTanh = 3, kHardSigmoid = 12 };

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

template <class T>
LAMINA_HD static inline T activate(int code, T x) {
  switch (code) {
    case kRelu: return x > T(0) ? x : T(0);
    case kSigmoid: return sigmoid(x);
    case kTanh: return tanh_act(x);
    case kHardSigmoid: {
      const T y = (x + T(3)) / T(6);
      return y < T(0) ? T(0) : (y > T(1) ? T(1) : y);
    }
    default: return x;
  }
}

// d activation / d x, from the output y = activate(code, x).
template <class T>
LAMINA_HD static inline T activate_grad(int code, T y) {
  switch (code) {
    case kRelu: return y > T(0) ? T(1) : T(0);
    case kSigmoid: return y * (T(1) - y);
    case kTanh: return T(1) - y * y;
    case kHardSigmoid: return (y > T(0) && y < T(1)) ? T(1) / T(6) : T(0);
    default: return T(1);
  }
}

}  // namespace lamina::rnn_math
