// Activation kernels, compiled once per ISA (see simd.h). Plain loops under `omp simd` that GCC
// vectorises with this translation unit's flags; the float32 transcendental functions below are
// written so that they vectorise too (no libm calls, no branches: both sides of a choice are
// computed and one selected). float64 calls the C library, which is accurate but scalar.
//
// float32 accuracy against a float64 reference (tests/test_activations.py measures it):
//   exp_f: Cephes' range reduction (x = n ln2 + r, ln2 split in two) and degree-5 polynomial;
//     2^n applied as two factors so that results from the denormals to overflow are right.
//   log_f: Cephes' logf polynomial on [sqrt(1/2), sqrt(2)), used for log1p_f on [1, 2].
//   expm1_f: Taylor polynomial on |x| < ln2/2, exp_f(x) - 1 beyond (elu, selu).
//   log1p_f: log(u) * t / (u - 1) with u = 1 + t (Goldberg's trick: exact for tiny t).
//   tanh_f: Cephes' odd polynomial below 0.625, 1 - 2 / (e^2|x| + 1) above.
//   erfc_scaled_f: Numerical Recipes' erfcc (Chebyshev fit, relative error < 1.2e-7 in exact
//     arithmetic) at z = |x|/sqrt(2), with -x^2/2 passed to exp unrounded (exp2part_f).
#include "cpu/simd/simd.h"

#include "cpu/activation_kernels.h"

// Every ?: whose sides compute something is control flow to GCC; without masked arithmetic
// (below AVX-512) it may only turn it into a blend by evaluating both sides, which it refuses
// while floating-point operations are assumed to trap: the generic and AVX2 loops then stay
// scalar (10-20x slower). Nothing in lamina unmasks FP exceptions, so this file opts out, as
// -fno-trapping-math would (a candidate for every csrc/cpu/simd file's flags).
#pragma GCC optimize("no-trapping-math")

namespace lamina::LAMINA_ISA_NS {

namespace {

using i64 = std::int64_t;

// Codes of csrc/cpu/activations.h (that header is portable code; this file repeats the numbers).
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
};

constexpr double kSeluAlpha = 1.6732632423543772;
constexpr double kSeluScale = 1.0507009873554805;
constexpr double kSqrt1_2 = 0.70710678118654752440;      // 1/sqrt(2)
constexpr double kInvSqrt2Pi = 0.39894228040143267794;   // 1/sqrt(2 pi)
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2/pi)
constexpr double kGeluTanhCubic = 0.044715;

// ---------------------------------------------------------------------------------------------
// float32 math
// ---------------------------------------------------------------------------------------------

// c ? a : b with both sides already evaluated. A ?: whose sides compute something is control
// flow to GCC, which below AVX-512 (no masked arithmetic) will not speculate floating-point
// operations that could trap, so the loop stays scalar; arguments are evaluated up front.
template <class T>
inline T choose(bool c, T a, T b) {
  return c ? a : b;
}

inline float as_float(std::uint32_t u) {
  float f;
  __builtin_memcpy(&f, &u, sizeof f);
  return f;
}

inline std::uint32_t as_bits(float f) {
  std::uint32_t u;
  __builtin_memcpy(&u, &f, sizeof u);
  return u;
}

// e^(hi + lo) where hi + lo is not rounded to one float: the exponent of a Gaussian (-z^2) is
// passed as an exact head and a small tail, since exp turns an absolute error in its argument
// into the same relative error in its result.
inline float exp2part_f(float hi, float lo) {
  // Below -104 the result is 0 even as a denormal; above 89 it overflows: clamping there keeps
  // n in [-150, 129] so that each half of the 2^n scaling is a normal float.
  // (Written as one clamp and a comparison with it: GCC 12 leaves the loop scalar below
  // AVX-512 when several selects share the range tests.)
  const float sum = hi + lo;
  const float clamped_low = sum < -104.0f ? -104.0f : sum;
  const float clamped = clamped_low > 89.0f ? 89.0f : clamped_low;
  const bool inside = clamped == sum;  // false for NaN, which then flows through `clamped`
  hi = inside ? hi : clamped;
  lo = inside ? lo : 0.0f;
  // Round (hi + lo) / ln2 to the nearest integer by adding and removing 1.5 * 2^23 (no SSE4.1).
  const float shifted = (hi + lo) * 1.44269504088896341f + 12582912.0f;
  const float n = shifted - 12582912.0f;
  // ln2's high part has 9 bits, so n * it and hi - n * it are exact.
  float r = hi - n * 0.693359375f;
  r = r + lo;
  r = r - n * -2.12194440e-4f;  // ln2's low part
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  const std::int32_t ni = static_cast<std::int32_t>(n);
  const std::int32_t n1 = ni / 2;
  const std::int32_t n2 = ni - n1;
  return p * as_float(static_cast<std::uint32_t>(n1 + 127) << 23) *
         as_float(static_cast<std::uint32_t>(n2 + 127) << 23);
}

inline float exp_f(float x) { return exp2part_f(x, 0.0f); }

// -v^2 as head + tail: v = h + t with h holding v's top 12 bits, so h^2 is exact in a float.
inline void neg_square_f(float v, float* hi, float* lo) {
  const float h = as_float(as_bits(v) & 0xfffff000u);
  const float t = v - h;
  *hi = -(h * h);
  *lo = -(t * (v + h));
}

// log for a positive normal x.
inline float log_f(float x) {
  const std::uint32_t bits = as_bits(x);
  // x = m * 2^e with m in [0.5, 1).
  float e = static_cast<float>(static_cast<std::int32_t>(bits >> 23) - 126);
  float m = as_float((bits & 0x007fffffu) | 0x3f000000u);
  // Move m into [sqrt(1/2), sqrt(2)) so that m - 1 is small.
  const bool low = m < 0.707106781186547524f;
  e = choose(low, e - 1.0f, e);
  m = choose(low, m + m - 1.0f, m - 1.0f);
  const float z = m * m;
  float y = 7.0376836292e-2f;
  y = y * m - 1.1514610310e-1f;
  y = y * m + 1.1676998740e-1f;
  y = y * m - 1.2420140846e-1f;
  y = y * m + 1.4249322787e-1f;
  y = y * m - 1.6668057665e-1f;
  y = y * m + 2.0000714765e-1f;
  y = y * m - 2.4999993993e-1f;
  y = y * m + 3.3333331174e-1f;
  y = y * m * z;
  y = y + -2.12194440e-4f * e;
  y = y - 0.5f * z;
  return m + y + 0.693359375f * e;
}

// log(1 + t) for t in [0, 1].
inline float log1p_f(float t) {
  const float u = 1.0f + t;
  const float d = u - 1.0f;  // exact
  const float safe_d = d == 0.0f ? 1.0f : d;
  return choose(d == 0.0f, t, log_f(u) * (t / safe_d));
}

inline float tanh_f(float x) {
  const float z = x < 0.0f ? -x : x;
  const float s = x * x;
  float p = -5.70498872745e-3f;
  p = p * s + 2.06390887954e-2f;
  p = p * s - 5.37397155531e-2f;
  p = p * s + 1.33314422036e-1f;
  p = p * s - 3.33332819422e-1f;
  const float small = p * s * x + x;
  const float big = 1.0f - 2.0f / (exp_f(z + z) + 1.0f);
  return choose(z > 0.625f, choose(x < 0.0f, -big, big), small);
}

// e^x - 1 without cancellation near 0: Taylor series to x^8 on |x| < ln2/2 (truncation error
// below 2e-8 relative), exp_f(x) - 1 beyond.
inline float expm1_f(float x) {
  float p = 1.0f / 40320.0f;
  p = p * x + 1.0f / 5040.0f;
  p = p * x + 1.0f / 720.0f;
  p = p * x + 1.0f / 120.0f;
  p = p * x + 1.0f / 24.0f;
  p = p * x + 1.0f / 6.0f;
  p = p * x + 0.5f;
  const float small = p * (x * x) + x;
  const float z = x < 0.0f ? -x : x;
  return choose(z < 0.34657359f, small, exp_f(x) - 1.0f);
}

// erfc(|x| / sqrt(2)), i.e. 2 Phi(-|x|). Takes x rather than z so that the Gaussian's exponent
// -x^2/2 is formed from the exact input (rounding z first would cost ~x^2 ulp in the tail).
inline float erfc_scaled_f(float x) {
  const float z = (x < 0.0f ? -x : x) * 0.70710678118654752f;
  const float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  float hi, lo;
  neg_square_f(x, &hi, &lo);
  return t * exp2part_f(0.5f * hi, 0.5f * lo + p);
}

// ---------------------------------------------------------------------------------------------
// One spelling per type, so the activation formulas below are written once.
// ---------------------------------------------------------------------------------------------

inline float exp_t(float x) { return exp_f(x); }
inline double exp_t(double x) { return __builtin_exp(x); }
inline float expm1_t(float x) { return expm1_f(x); }
inline double expm1_t(double x) { return __builtin_expm1(x); }
inline float log1p_t(float x) { return log1p_f(x); }
inline double log1p_t(double x) { return __builtin_log1p(x); }
inline float tanh_t(float x) { return tanh_f(x); }
inline double tanh_t(double x) { return __builtin_tanh(x); }
// e^(-v^2 / 2)
inline float exp_neg_half_square_t(float v) {
  float hi, lo;
  neg_square_f(v, &hi, &lo);
  return exp2part_f(0.5f * hi, 0.5f * lo);
}
inline double exp_neg_half_square_t(double v) { return __builtin_exp(-0.5 * v * v); }
inline float erfc_scaled_t(float x) { return erfc_scaled_f(x); }
inline double erfc_scaled_t(double x) { return __builtin_erfc((x < 0.0 ? -x : x) * kSqrt1_2); }

template <class T>
inline T abs_t(T x) {
  return x < T(0) ? -x : x;
}

// 1 / (1 + e^-x) without overflow: e^-|x| is at most 1.
template <class T>
inline T sigmoid_t(T x) {
  const T e = exp_t(-abs_t(x));
  const T num = x >= T(0) ? T(1) : e;
  return num / (T(1) + e);
}

// Phi(x), the standard normal CDF, without cancellation for x < 0.
template <class T>
inline T normal_cdf_t(T x) {
  const T c = T(0.5) * erfc_scaled_t(x);
  return choose(x < T(0), c, T(1) - c);
}

// gelu_tanh: 0.5 x (1 + tanh(u)) = x * sigmoid(2u), which does not cancel for x << 0.
template <class T>
inline T gelu_tanh_arg2(T x) {
  return T(2.0 * kSqrt2OverPi) * (x + T(kGeluTanhCubic) * x * x * x);
}

// ---------------------------------------------------------------------------------------------
// Element-wise kernels
// ---------------------------------------------------------------------------------------------

template <class T, class F>
inline void map(const T* x, T* y, i64 n, F f) {
#pragma omp simd
  for (i64 i = 0; i < n; ++i) y[i] = f(x[i]);
}

template <class T, class F>
inline void map2(const T* a, const T* dy, T* dx, i64 n, F f) {
#pragma omp simd
  for (i64 i = 0; i < n; ++i) dx[i] = f(a[i], dy[i]);
}

template <class T>
void forward(int kind, const T* x, T* y, i64 n, T alpha) {
  switch (kind) {
    case kRelu:
      return map(x, y, n, [](T v) { return v < T(0) ? T(0) : v; });  // NaN stays NaN
    case kSigmoid:
      return map(x, y, n, [](T v) { return sigmoid_t(v); });
    case kTanh:
      return map(x, y, n, [](T v) { return tanh_t(v); });
    case kGelu:
      return map(x, y, n, [](T v) { return v * normal_cdf_t(v); });
    case kGeluTanh:
      return map(x, y, n, [](T v) { return v * sigmoid_t(gelu_tanh_arg2(v)); });
    case kElu:
      return map(x, y, n, [alpha](T v) {
        const T neg = alpha * expm1_t(v < T(0) ? v : T(0));
        return v > T(0) ? v : neg;
      });
    case kSelu:
      return map(x, y, n, [](T v) {
        const T neg = T(kSeluScale * kSeluAlpha) * expm1_t(v < T(0) ? v : T(0));
        return choose(v > T(0), T(kSeluScale) * v, neg);
      });
    case kSoftplus:
      return map(x, y, n, [](T v) {
        return choose(v > T(0), v, T(0)) + log1p_t(exp_t(-abs_t(v)));
      });
    case kSilu:
      return map(x, y, n, [](T v) { return v * sigmoid_t(v); });
    case kLeakyRelu:
      return map(x, y, n, [alpha](T v) { return choose(v > T(0), v, alpha * v); });
    default:  // linear
      if (x != y) map(x, y, n, [](T v) { return v; });
      return;
  }
}

template <class T>
void backward(int kind, const T* x, const T* y, const T* dy, T* dx, i64 n, T alpha) {
  switch (kind) {
    case kRelu:
      return map2(y, dy, dx, n, [](T o, T g) { return o > T(0) ? g : T(0); });
    case kSigmoid:
      return map2(y, dy, dx, n, [](T o, T g) { return g * (o * (T(1) - o)); });
    case kTanh:
      return map2(y, dy, dx, n, [](T o, T g) { return g * (T(1) - o * o); });
    case kGelu:
      return map2(x, dy, dx, n, [](T v, T g) {
        const T pdf = T(kInvSqrt2Pi) * exp_neg_half_square_t(v);
        return g * (normal_cdf_t(v) + v * pdf);
      });
    case kGeluTanh:
      return map2(x, dy, dx, n, [](T v, T g) {
        // d/dx [x s(2u)] = s + x * 2u' * s (1 - s), with 2u' = 2 sqrt(2/pi) (1 + 3c x^2).
        const T s = sigmoid_t(gelu_tanh_arg2(v));
        const T du2 = T(2.0 * kSqrt2OverPi) * (T(1) + T(3.0 * kGeluTanhCubic) * v * v);
        return g * (s + v * du2 * s * (T(1) - s));
      });
    case kElu:
      if (alpha > T(0)) {  // y > 0 exactly when x > 0; below, y' = alpha e^x = y + alpha
        return map2(y, dy, dx, n,
                    [alpha](T o, T g) { return choose(o > T(0), g, g * (o + alpha)); });
      }
      return map2(x, dy, dx, n, [alpha](T v, T g) {
        return choose(v > T(0), g, g * alpha * exp_t(choose(v < T(0), v, T(0))));
      });
    case kSelu:
      return map2(y, dy, dx, n, [](T o, T g) {
        return choose(o > T(0), g * T(kSeluScale), g * (o + T(kSeluScale * kSeluAlpha)));
      });
    case kSoftplus:
      return map2(x, dy, dx, n, [](T v, T g) { return g * sigmoid_t(v); });
    case kSilu:
      return map2(x, dy, dx, n, [](T v, T g) {
        const T s = sigmoid_t(v);
        return g * (s * (T(1) + v * (T(1) - s)));
      });
    case kLeakyRelu:
      if (alpha > T(0)) {
        return map2(y, dy, dx, n, [alpha](T o, T g) { return choose(o > T(0), g, alpha * g); });
      }
      return map2(x, dy, dx, n, [alpha](T v, T g) { return choose(v > T(0), g, alpha * g); });
    default:  // linear
      if (dx != dy) map(dy, dx, n, [](T v) { return v; });
      return;
  }
}

template <class T>
void softmax_row(const T* x, T* y, i64 n) {
  if (n <= 0) return;
  T m = x[0];
#pragma omp simd reduction(max : m)
  for (i64 i = 0; i < n; ++i) m = x[i] > m ? x[i] : m;
  T s = T(0);
#pragma omp simd reduction(+ : s)
  for (i64 i = 0; i < n; ++i) {
    const T e = exp_t(x[i] - m);
    y[i] = e;
    s += e;
  }
  const T inv = T(1) / s;
#pragma omp simd
  for (i64 i = 0; i < n; ++i) y[i] *= inv;
}

template <class T>
void softmax_forward(const T* x, T* y, i64 rows, i64 cols) {
  for (i64 r = 0; r < rows; ++r) softmax_row(x + r * cols, y + r * cols, cols);
}

template <class T>
void softmax_backward(const T* y, const T* dy, T* dx, i64 rows, i64 cols) {
  for (i64 r = 0; r < rows; ++r) {
    const T* yr = y + r * cols;
    const T* gr = dy + r * cols;
    T* dr = dx + r * cols;
    T dot = T(0);
#pragma omp simd reduction(+ : dot)
    for (i64 i = 0; i < cols; ++i) dot += gr[i] * yr[i];
#pragma omp simd
    for (i64 i = 0; i < cols; ++i) dr[i] = yr[i] * (gr[i] - dot);
  }
}

// Element-wise activations run over groups of whole rows of about this many elements, so the
// bias add and the activation meet the data in L1 and the per-call dispatch is amortised.
constexpr i64 kEpilogueBlock = 2048;

template <class T>
void bias_forward(int kind, T* z, const T* b, T* y, i64 rows, i64 cols, T alpha) {
  if (kind == kSoftmax) {
    for (i64 r = 0; r < rows; ++r) {
      T* zr = z + r * cols;
      if (b) {
#pragma omp simd
        for (i64 j = 0; j < cols; ++j) zr[j] += b[j];
      }
      softmax_row(zr, y + r * cols, cols);
    }
    return;
  }
  const i64 group = cols >= kEpilogueBlock ? 1 : kEpilogueBlock / (cols > 0 ? cols : 1);
  for (i64 r0 = 0; r0 < rows; r0 += group) {
    const i64 r1 = r0 + group < rows ? r0 + group : rows;
    if (b) {
      for (i64 r = r0; r < r1; ++r) {
        T* zr = z + r * cols;
#pragma omp simd
        for (i64 j = 0; j < cols; ++j) zr[j] += b[j];
      }
    }
    forward(kind, z + r0 * cols, y + r0 * cols, (r1 - r0) * cols, alpha);
  }
}

template <class T>
constexpr ActivationKernelsFor<T> table_for() {
  return {forward<T>, backward<T>, softmax_forward<T>, softmax_backward<T>, bias_forward<T>};
}

}  // namespace

extern const ActivationKernels activation_kernels = {table_for<float>(), table_for<double>()};

}  // namespace lamina::LAMINA_ISA_NS
