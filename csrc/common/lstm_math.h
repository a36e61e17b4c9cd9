// Per-element math of the recurrent cells (LSTM, GRU, SimpleRNN), shared by the CPU step loops
// (csrc/cpu/simd/rnn_cells.cpp, compiled once per ISA) and the CUDA step kernels
// (csrc/cuda/rnn.cu): one definition of every gate formula, of what is saved for the backward
// pass and of every gate gradient, so the two backends cannot drift apart.
//
// Every function is `static inline` (and __host__ __device__ under nvcc): each translation unit
// gets its own private copy, so the AVX-512 copy compiled into isa_avx512 can never be the one
// the linker keeps for the generic code (numpy#25274). No STL: compiler builtins only, usable in
// device code. The unit functions take values and return small structs (no pointers), so the
// CPU loops that call them still vectorise once inlined.
//
// Two paths:
// - the default pair (activation tanh, recurrent_activation sigmoid) uses the branch-free float32
//   exp below (Cody-Waite range reduction, degree-6 polynomial, about 2 ulp), which the compiler
//   vectorises inside the step loops; float64 calls libm, since float64 serves gradient checks;
// - every other activation goes through the element-wise formulas of common/activation_math.h,
//   the ones the activation kernels use, so a recurrent cell and an Activation layer compute the
//   same function. Codes are activation_math's (every element-wise kind: all but softmax), with
//   Keras' default parameters (elu alpha 1, leaky_relu negative_slope 0.2).
// The template flag kDefault selects the first path (the callers decide once per call:
// act == tanh && ract == sigmoid; SimpleRNN: act == tanh).
//
// Saved gates: on the default path the forward saves the ACTIVATED gate values (all the
// backward needs); on the other path it saves the pre-activations and the backward re-evaluates
// the activations (gelu's or silu's derivative needs the input, not the output).
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


// ---- The two paths -----------------------------------------------------------------------------
// Activation (act) and recurrent activation (ract) values and derivatives. The derivatives take
// the pre-activation x and the value y; the default pair reads y only.
template <class T, bool kDefault>
LAMINA_HD static inline T act_of(int code, T x) {
  if (kDefault) return tanh_act(x);
  return activate(code, x);
}
template <class T, bool kDefault>
LAMINA_HD static inline T ract_of(int code, T x) {
  if (kDefault) return sigmoid(x);
  return activate(code, x);
}
template <class T, bool kDefault>
LAMINA_HD static inline T dact_of(int code, T x, T y) {
  if (kDefault) return T(1) - y * y;
  return activate_grad(code, x, y);
}
template <class T, bool kDefault>
LAMINA_HD static inline T dract_of(int code, T x, T y) {
  if (kDefault) return y * (T(1) - y);
  return activate_grad(code, x, y);
}
// A saved gate's value: saved activated on the default path, re-evaluated otherwise.
template <class T, bool kDefault>
LAMINA_HD static inline T saved_act(int code, T s) {
  if (kDefault) return s;
  return activate(code, s);
}
// What the forward saves of a gate: its value y on the default path, its pre-activation x
// otherwise.
template <class T, bool kDefault>
LAMINA_HD static inline T to_save(T x, T y) {
  return kDefault ? y : x;
}

// ---- LSTM --------------------------------------------------------------------------------------
// Gates i, f, g (the candidate, Keras' "c"), o from pre-activations z:
//   c = f c_prev + i g,  h = o act(c).
template <class T>
struct LstmForwardUnit {
  T si, sf, sg, so;  // saved gates (to_save)
  T c, h;
};

template <class T, bool kDefault>
LAMINA_HD static inline LstmForwardUnit<T> lstm_forward_unit(int act, int ract, T zi, T zf, T zg,
                                                             T zo, T c_prev) {
  const T i = ract_of<T, kDefault>(ract, zi);
  const T f = ract_of<T, kDefault>(ract, zf);
  const T g = act_of<T, kDefault>(act, zg);
  const T o = ract_of<T, kDefault>(ract, zo);
  const T c = f * c_prev + i * g;
  return {to_save<T, kDefault>(zi, i), to_save<T, kDefault>(zf, f), to_save<T, kDefault>(zg, g),
          to_save<T, kDefault>(zo, o), c, o * act_of<T, kDefault>(act, c)};
}

// Gradients of one unit at one step. dh, dc: dL/dh_t (everything that reaches h_t: the output
// gradient and the next step's recurrent product) and dL/dc_t. Returns the pre-activation
// gradients and dL/dc_{t-1} through the forget gate (h_{t-1}'s share comes from the products
// dz @ R^T alone, so the caller sets its running dh to 0).
template <class T>
struct LstmBackwardUnit {
  T dzi, dzf, dzg, dzo, dc_prev;
};

template <class T, bool kDefault>
LAMINA_HD static inline LstmBackwardUnit<T> lstm_backward_unit(int act, int ract, T si, T sf,
                                                               T sg, T so, T c_prev, T c, T dh,
                                                               T dc) {
  const T i = saved_act<T, kDefault>(ract, si), f = saved_act<T, kDefault>(ract, sf);
  const T g = saved_act<T, kDefault>(act, sg), o = saved_act<T, kDefault>(ract, so);
  const T tc = act_of<T, kDefault>(act, c);
  const T dcv = dc + dh * o * dact_of<T, kDefault>(act, c, tc);
  return {dcv * g * dract_of<T, kDefault>(ract, si, i),
          dcv * c_prev * dract_of<T, kDefault>(ract, sf, f),
          dcv * i * dact_of<T, kDefault>(act, sg, g),
          dh * tc * dract_of<T, kDefault>(ract, so, o),
          dcv * f};
}

// ---- GRU, reset_after=True (Keras 3's default) ------------------------------------------------
// x* the input projections (input bias included), s* = h_{t-1} R (per gate), b* the recurrent
// bias: z = ract(xz + sz + bz), r = ract(xr + sr + br), hh = act(xh + r (sh + bh)),
// h = z h_prev + (1 - z) hh. Saved: z, r, hh (to_save) and rh = sh + bh.
template <class T>
struct GruForwardUnit {
  T sz, sr, sh;  // saved gates
  T rh, h;
};

template <class T, bool kDefault>
LAMINA_HD static inline GruForwardUnit<T> gru_forward_unit(int act, int ract, T xz, T xr, T xh,
                                                           T sz, T sr, T sh, T bz, T br, T bh,
                                                           T h_prev) {
  const T pz = xz + sz + bz, pr = xr + sr + br;
  const T z = ract_of<T, kDefault>(ract, pz);
  const T r = ract_of<T, kDefault>(ract, pr);
  const T rh = sh + bh;
  const T ph = xh + r * rh;
  const T hh = act_of<T, kDefault>(act, ph);
  return {to_save<T, kDefault>(pz, z), to_save<T, kDefault>(pr, r), to_save<T, kDefault>(ph, hh),
          rh, z * h_prev + (T(1) - z) * hh};
}

// dz*: input-side pre-activation gradients; ds*: gradients of the recurrent side (s + b);
// dh_prev: h_{t-1}'s share through the blend (the products ds @ R^T are added by the caller).
template <class T>
struct GruBackwardUnit {
  T dz, dr, dh, ds_h, dh_prev;  // ds for z and r equal dz and dr
};

template <class T, bool kDefault>
LAMINA_HD static inline GruBackwardUnit<T> gru_backward_unit(int act, int ract, T sz, T sr, T sh,
                                                             T rh, T h_prev, T dh) {
  const T z = saved_act<T, kDefault>(ract, sz), r = saved_act<T, kDefault>(ract, sr);
  const T hh = saved_act<T, kDefault>(act, sh);
  const T dah = dh * (T(1) - z) * dact_of<T, kDefault>(act, sh, hh);
  const T daz = dh * (h_prev - hh) * dract_of<T, kDefault>(ract, sz, z);
  const T dar = dah * rh * dract_of<T, kDefault>(ract, sr, r);
  return {daz, dar, dah, dah * r, dh * z};
}

// ---- GRU, reset_after=False --------------------------------------------------------------------
// z = ract(xz + h_prev Rz), r = ract(xr + h_prev Rr), hh = act(xh + (r h_prev) Rh): part a (z, r
// and rh = r * h_prev, h_prev times the candidate's recurrent-dropout mask m_h, 1 without) runs
// before the candidate's product, part b (hh, h) after it. The pre-activations pz, pr come with
// the recurrent products already added; ph likewise.
template <class T>
struct GruV1ForwardA {
  T sz, sr, rh;
};

template <class T, bool kDefault>
LAMINA_HD static inline GruV1ForwardA<T> gru_v1_forward_a_unit(int ract, T pz, T pr, T h_prev,
                                                              T m_h) {
  const T z = ract_of<T, kDefault>(ract, pz);
  const T r = ract_of<T, kDefault>(ract, pr);
  return {to_save<T, kDefault>(pz, z), to_save<T, kDefault>(pr, r), r * (h_prev * m_h)};
}

template <class T>
struct GruV1ForwardB {
  T sh, h;
};

template <class T, bool kDefault>
LAMINA_HD static inline GruV1ForwardB<T> gru_v1_forward_b_unit(int act, int ract, T sz, T ph,
                                                              T h_prev) {
  const T z = saved_act<T, kDefault>(ract, sz);
  const T hh = act_of<T, kDefault>(act, ph);
  return {to_save<T, kDefault>(ph, hh), z * h_prev + (T(1) - z) * hh};
}

// Part a of the backward: the z and candidate gradients and h_prev's share through the blend.
template <class T>
struct GruV1BackwardA {
  T dz, dh_cand, dh_prev;
};

template <class T, bool kDefault>
LAMINA_HD static inline GruV1BackwardA<T> gru_v1_backward_a_unit(int act, int ract, T sz, T sh,
                                                                T h_prev, T dh) {
  const T z = saved_act<T, kDefault>(ract, sz), hh = saved_act<T, kDefault>(act, sh);
  return {dh * (h_prev - hh) * dract_of<T, kDefault>(ract, sz, z),
          dh * (T(1) - z) * dact_of<T, kDefault>(act, sh, hh), dh * z};
}

// Part b, once drh = d(rh) = dh_cand @ Rh^T is known: the r gradient and what rh = r (h_prev m_h)
// adds to dL/dh_prev.
template <class T>
struct GruV1BackwardB {
  T dr, dh_prev_add;
};

template <class T, bool kDefault>
LAMINA_HD static inline GruV1BackwardB<T> gru_v1_backward_b_unit(int ract, T sr, T drh, T h_prev,
                                                                T m_h) {
  const T r = saved_act<T, kDefault>(ract, sr);
  return {drh * h_prev * m_h * dract_of<T, kDefault>(ract, sr, r), drh * r * m_h};
}

// ---- SimpleRNN ---------------------------------------------------------------------------------
// h = act(z), z = x W + b + h_prev R. kDefault: act is tanh. The forward keeps the
// pre-activation z; the backward needs h (and z for the kinds whose derivative reads x).
template <class T, bool kDefault>
LAMINA_HD static inline T simple_forward_unit(int act, T z) {
  return act_of<T, kDefault>(act, z);
}

template <class T, bool kDefault>
LAMINA_HD static inline T simple_backward_unit(int act, T z, T h, T dh) {
  return dh * dact_of<T, kDefault>(act, z, h);
}

}  // namespace lamina::rnn_math
