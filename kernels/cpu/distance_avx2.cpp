// kernels/cpu/distance_avx2.cpp — the AVX2+FMA kernel table:
// distance_simd.hpp instantiated for xsimd::fma3<xsimd::avx2>.
// Compiled only with its own ISA flags (-mavx2 -mfma; see CMakeLists.txt).
// KernelsFor() hands the table out only when __builtin_cpu_supports says this CPU and OS
// can run it.
#include "kernels/cpu/distance_isa.h"
#if !defined(__AVX2__) || !defined(__FMA__)
#error "distance_avx2.cpp needs -mavx2 -mfma"
#endif
#include "kernels/cpu/distance_simd.hpp"

namespace vecgraph::kernels {

const KernelTable& KernelsAvx2() {
  static const KernelTable table = MakeKernelTable<xsimd::fma3<xsimd::avx2>>(Isa::kAvx2);
  return table;
}

}  // namespace vecgraph::kernels
