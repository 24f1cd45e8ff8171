// kernels/cpu/distance_isa.h — internal: the per-ISA kernel tables, one per translation unit
// (distance_<isa>.cpp, each compiled with only its own ISA flags). Only distance_dispatch.cpp and
// the tests should need this; everyone else goes through Kernels() / KernelsFor() (distance.h).
// A function is declared only where its TU is built (x86-64: SSE2..AVX-512; aarch64: NEON).
// Never call a table's functions without checking KernelsFor(): they may SIGILL on this CPU.
#pragma once

#include "kernels/cpu/distance.h"

#if defined(__x86_64__) || defined(_M_X64)
#define VECGRAPH_KERNELS_X86 1
#elif defined(__aarch64__) || defined(_M_ARM64)
#define VECGRAPH_KERNELS_NEON 1
#endif

namespace vecgraph::kernels {

#if defined(VECGRAPH_KERNELS_X86)
const KernelTable& KernelsSse2();    // distance_sse2.cpp   (xsimd::sse2)
const KernelTable& KernelsSse42();   // distance_sse42.cpp  (xsimd::sse4_2)
const KernelTable& KernelsAvx2();    // distance_avx2.cpp   (xsimd::fma3<xsimd::avx2>)
const KernelTable& KernelsAvx512();  // distance_avx512.cpp (xsimd::avx512bw)
// AVX-512 VNNI and VPOPCNTDQ (CPUID leaf 7, ECX bits 11 and 14); meaningful only where
// KernelsFor(kAvx512) is non-null.
bool CpuHasAvx512Vnni();
bool CpuHasAvx512Vpopcntdq();
#endif
#if defined(VECGRAPH_KERNELS_NEON)
const KernelTable& KernelsNeon();  // distance_neon.cpp (xsimd::neon64)
#endif

}  // namespace vecgraph::kernels
