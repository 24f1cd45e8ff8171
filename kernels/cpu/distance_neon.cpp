// kernels/cpu/distance_neon.cpp — the NEON kernel table: distance_simd.hpp instantiated for
// xsimd::neon64. Advanced SIMD is mandatory on AArch64, so no flags and no run-time check are
// needed. Compiles to nothing on other architectures (CMakeLists.txt lists it only on aarch64).
#include "kernels/cpu/distance_isa.h"

#if defined(VECGRAPH_KERNELS_NEON)
#include "kernels/cpu/distance_simd.hpp"

namespace vecgraph::kernels {

const KernelTable& KernelsNeon() {
  static const KernelTable table = MakeKernelTable<xsimd::neon64>(Isa::kNeon);
  return table;
}

}  // namespace vecgraph::kernels
#endif  // VECGRAPH_KERNELS_NEON
