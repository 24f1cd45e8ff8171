// kernels/cpu/distance_sse2.cpp — the SSE2 kernel table:
// distance_simd.hpp instantiated for xsimd::sse2.
// Compiled only with its own ISA flags (-msse2; see CMakeLists.txt).
// KernelsFor() hands the table out only when __builtin_cpu_supports says this CPU and OS
// can run it.
#include "kernels/cpu/distance_isa.h"
#if !defined(__SSE2__)
#error "distance_sse2.cpp needs -msse2"
#endif
#include "kernels/cpu/distance_simd.hpp"

namespace vecgraph::kernels {

const KernelTable& KernelsSse2() {
  static const KernelTable table = MakeKernelTable<xsimd::sse2>(Isa::kSse2);
  return table;
}

}  // namespace vecgraph::kernels
