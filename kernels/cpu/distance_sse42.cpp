// kernels/cpu/distance_sse42.cpp — the SSE4.2 kernel table:
// distance_simd.hpp instantiated for xsimd::sse4_2.
// Compiled only with its own ISA flags (-msse4.2; see CMakeLists.txt).
// KernelsFor() hands the table out only when __builtin_cpu_supports says this CPU and OS
// can run it.
#include "kernels/cpu/distance_isa.h"
#if !defined(__SSE4_2__)
#error "distance_sse42.cpp needs -msse4.2"
#endif
#include "kernels/cpu/distance_simd.hpp"

namespace vecgraph::kernels {

const KernelTable& KernelsSse42() {
  static const KernelTable table = MakeKernelTable<xsimd::sse4_2>(Isa::kSse42);
  return table;
}

}  // namespace vecgraph::kernels
