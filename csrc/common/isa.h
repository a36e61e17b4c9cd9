// Run-time choice of the instruction set for the SIMD kernels.
//
// Every file in csrc/cpu/simd/ is compiled once per ISA (see CMakeLists.txt) into namespace
// lamina::isa_<name>, and defines one table of function pointers per kernel family, e.g.
//     namespace lamina::isa_avx512 { extern const GemmKernels gemm_kernels; }
// A portable driver declares the three tables with LAMINA_DECLARE_KERNEL_TABLE and picks one per
// call with LAMINA_KERNEL_TABLE (one load and a switch: nothing measurable next to a kernel).
// The active ISA is the best one the CPU supports, or LAMINA_CPU_ISA=generic|avx2|avx512, or what
// lamina._cpu.set_isa() chose; an ISA the CPU lacks is refused, never run (it would be SIGILL).
#pragma once

namespace lamina {

enum class Isa : int { generic = 0, avx2 = 1, avx512 = 2 };

const char* isa_name(Isa isa);
// Parses "generic" / "avx2" / "avx512"; returns false for anything else.
bool parse_isa(const char* name, Isa* out);
// Whether this CPU (and OS, for the AVX register state) can run code built for `isa`.
bool cpu_supports(Isa isa);
// The best ISA this CPU supports among those compiled into this build.
Isa best_isa();
// The ISA the kernels use now.
Isa active_isa();
// Switches the kernels to `isa`; returns false (and changes nothing) if the CPU cannot run it.
bool set_active_isa(Isa isa);

namespace detail {
extern Isa g_active_isa;
}

template <class Table>
inline const Table& select_table(const Table& generic, const Table& avx2, const Table& avx512) {
  switch (detail::g_active_isa) {
    case Isa::avx512: return avx512;
    case Isa::avx2: return avx2;
    default: return generic;
  }
}

}  // namespace lamina

#if defined(LAMINA_X86_ISAS)
#define LAMINA_DECLARE_KERNEL_TABLE(Type, name)                 \
  namespace lamina::isa_generic { extern const Type name; }     \
  namespace lamina::isa_avx2 { extern const Type name; }        \
  namespace lamina::isa_avx512 { extern const Type name; }
#define LAMINA_KERNEL_TABLE(name)                                                           \
  (::lamina::select_table(::lamina::isa_generic::name, ::lamina::isa_avx2::name, \
                          ::lamina::isa_avx512::name))
#else
#define LAMINA_DECLARE_KERNEL_TABLE(Type, name) \
  namespace lamina::isa_generic { extern const Type name; }
#define LAMINA_KERNEL_TABLE(name) (::lamina::isa_generic::name)
#endif
