// Conventions for the per-ISA translation units in csrc/cpu/simd/ (compiled once per ISA, see
// CMakeLists.txt). Include this first. Rules that keep one build safe on every x86-64 CPU:
//  - everything lives in namespace lamina::LAMINA_ISA_NS (lamina::isa_generic, isa_avx2, ...);
//  - no STL header and no inline function or template shared with other translation units
//    (the linker could keep this ISA's copy for everyone); <immintrin.h>, <cstdint>, <cstddef>
//    and plain C math builtins only;
//  - each family exports exactly one table of function pointers, declared for the drivers in
//    csrc/cpu/<family>_kernels.h with LAMINA_DECLARE_KERNEL_TABLE.
#pragma once

#include <cstddef>
#include <cstdint>

#ifndef LAMINA_ISA_NS
#error "csrc/cpu/simd files are compiled once per ISA with -DLAMINA_ISA_NS=isa_<name>"
#endif

#if defined(__AVX512F__)
#define LAMINA_SIMD_BYTES 64
#elif defined(__AVX2__)
#define LAMINA_SIMD_BYTES 32
#else
#define LAMINA_SIMD_BYTES 16
#endif

#define LAMINA_STR2(x) #x
#define LAMINA_STR(x) LAMINA_STR2(x)
