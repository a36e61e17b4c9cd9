// A small table per ISA for tests and benchmarks:
//  - compiled_for / vector_bytes report which translation unit answered, so tests can prove that
//    LAMINA_CPU_ISA / set_isa really switch the code that runs;
//  - fma_loop_f32 / fma_loop_f64 run `iterations` rounds of kFmaChains independent vector FMA
//    chains (no loads, no stores): the machine's floating-point peak for this ISA, measured by
//    bench/peak.py. Each returns a value derived from every chain so none can be optimised away.
#pragma once

#include <cstdint>

#include "common/isa.h"

namespace lamina {
struct IsaProbeKernels {
  const char* (*compiled_for)();
  int (*vector_bytes)();
  // flops per iteration: kFmaChains * lanes * 2 (lanes = vector_bytes / element size)
  float (*fma_loop_f32)(std::int64_t iterations);
  double (*fma_loop_f64)(std::int64_t iterations);
};
// Independent chains per loop: 4-cycle FMA latency x 2 FMA ports needs at least 8 in flight;
// 12 leaves slack and fits the 16 registers of AVX2.
constexpr int kFmaChains = 12;
}  // namespace lamina

LAMINA_DECLARE_KERNEL_TABLE(::lamina::IsaProbeKernels, isa_probe_kernels)
