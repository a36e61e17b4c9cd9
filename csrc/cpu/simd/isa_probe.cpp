#include "cpu/simd/simd.h"
#include "cpu/isa_probe.h"

namespace lamina::LAMINA_ISA_NS {

static const char* compiled_for() { return LAMINA_STR(LAMINA_ISA_NS); }
static int vector_bytes() { return LAMINA_SIMD_BYTES; }

extern const IsaProbeKernels isa_probe_kernels = {compiled_for, vector_bytes};

}  // namespace lamina::LAMINA_ISA_NS
