// Which translation unit runs, and the FMA throughput of this ISA (see cpu/isa_probe.h).
#include "cpu/simd/simd.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "cpu/isa_probe.h"

namespace lamina::LAMINA_ISA_NS {

static const char* compiled_for() { return LAMINA_STR(LAMINA_ISA_NS); }
static int vector_bytes() { return LAMINA_SIMD_BYTES; }

// acc[c] = acc[c] * m + a for kFmaChains chains. m and a are chosen so that the values stay
// bounded (m < 1), and they come from `iterations` so the compiler cannot fold the loop.
#define PROBE_LOOP(NAME, T, V, SET1, FMA, ADD, REDUCE)                                          \
  static T NAME(std::int64_t iterations) {                                                      \
    const V m = SET1(T(0.999999) - T(iterations & 1) * T(1e-7));                                \
    const V a = SET1(T(1e-6));                                                                  \
    V acc[kFmaChains];                                                                          \
    for (int c = 0; c < kFmaChains; ++c) acc[c] = SET1(T(c));                                   \
    for (std::int64_t i = 0; i < iterations; ++i) {                                             \
      _Pragma("GCC unroll 12") for (int c = 0; c < kFmaChains; ++c) acc[c] = FMA(acc[c], m, a); \
    }                                                                                           \
    V sum = acc[0];                                                                             \
    for (int c = 1; c < kFmaChains; ++c) sum = ADD(sum, acc[c]);                                \
    return REDUCE(sum);                                                                         \
  }

#if defined(__AVX512F__)
PROBE_LOOP(fma_loop_f32, float, __m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps,
           _mm512_reduce_add_ps)
PROBE_LOOP(fma_loop_f64, double, __m512d, _mm512_set1_pd, _mm512_fmadd_pd, _mm512_add_pd,
           _mm512_reduce_add_pd)
#elif defined(__AVX2__)
static float hsum_ps(__m256 v) {
  float lanes[8];
  _mm256_storeu_ps(lanes, v);
  float s = 0;
  for (float x : lanes) s += x;
  return s;
}
static double hsum_pd(__m256d v) {
  double lanes[4];
  _mm256_storeu_pd(lanes, v);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}
PROBE_LOOP(fma_loop_f32, float, __m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, hsum_ps)
PROBE_LOOP(fma_loop_f64, double, __m256d, _mm256_set1_pd, _mm256_fmadd_pd, _mm256_add_pd, hsum_pd)
#else
// Portable: SSE2 has no FMA, so this measures multiply + add pairs (counted as 2 flops each, as
// an FMA would be); the scalar chains are what the portable build can do.
static float mul_add_f32(float x, float m, float a) { return x * m + a; }
static double mul_add_f64(double x, double m, double a) { return x * m + a; }
static float add_f32(float x, float y) { return x + y; }
static double add_f64(double x, double y) { return x + y; }
static float same_f32(float x) { return x; }
static double same_f64(double x) { return x; }
static float set1_f32(float x) { return x; }
static double set1_f64(double x) { return x; }
PROBE_LOOP(fma_loop_f32, float, float, set1_f32, mul_add_f32, add_f32, same_f32)
PROBE_LOOP(fma_loop_f64, double, double, set1_f64, mul_add_f64, add_f64, same_f64)
#endif
#undef PROBE_LOOP

extern const IsaProbeKernels isa_probe_kernels = {compiled_for, vector_bytes, fma_loop_f32,
                                                  fma_loop_f64};

}  // namespace lamina::LAMINA_ISA_NS
