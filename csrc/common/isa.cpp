#include "common/isa.h"

#include <cstdlib>
#include <cstring>

namespace lamina {

namespace detail {
Isa g_active_isa = Isa::generic;
}

namespace {

Isa initial_isa() {
  Isa isa = best_isa();
  // LAMINA_CPU_ISA forces a path (tests use it); an unknown or unsupported name keeps the best
  // one: lamina/backend.py reads the same variable and raises the clear error at import.
  if (const char* forced = std::getenv("LAMINA_CPU_ISA")) {
    Isa wanted;
    if (parse_isa(forced, &wanted) && cpu_supports(wanted)) isa = wanted;
  }
  return isa;
}

struct InitActiveIsa {
  InitActiveIsa() { detail::g_active_isa = initial_isa(); }
} init_active_isa;

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "generic";
  }
}

bool parse_isa(const char* name, Isa* out) {
  if (std::strcmp(name, "generic") == 0) { *out = Isa::generic; return true; }
  if (std::strcmp(name, "avx2") == 0) { *out = Isa::avx2; return true; }
  if (std::strcmp(name, "avx512") == 0) { *out = Isa::avx512; return true; }
  return false;
}

bool cpu_supports(Isa isa) {
  if (isa == Isa::generic) return true;
#if defined(LAMINA_X86_ISAS) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  // __builtin_cpu_supports also checks that the OS saves the wide registers (XGETBV).
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (isa == Isa::avx2) return avx2;
  if (isa == Isa::avx512)
    return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
#endif
  return false;
}

Isa best_isa() {
  if (cpu_supports(Isa::avx512)) return Isa::avx512;
  if (cpu_supports(Isa::avx2)) return Isa::avx2;
  return Isa::generic;
}

Isa active_isa() { return detail::g_active_isa; }

bool set_active_isa(Isa isa) {
  if (!cpu_supports(isa)) return false;
  detail::g_active_isa = isa;
  return true;
}

}  // namespace lamina
