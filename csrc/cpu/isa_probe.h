// A one-function table per ISA that reports which translation unit answered: lets tests prove
// that LAMINA_CPU_ISA / set_isa really switch the code that runs.
#pragma once

#include "common/isa.h"

namespace lamina {
struct IsaProbeKernels {
  const char* (*compiled_for)();
  int (*vector_bytes)();
};
}  // namespace lamina

LAMINA_DECLARE_KERNEL_TABLE(::lamina::IsaProbeKernels, isa_probe_kernels)
