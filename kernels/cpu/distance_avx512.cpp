// kernels/cpu/distance_avx512.cpp — the AVX-512 (F, CD, DQ, BW) kernel table:
// distance_simd.hpp instantiated for xsimd::avx512bw.
// Compiled only with its own ISA flags (-mavx512f -mavx512cd -mavx512dq -mavx512bw; see
// CMakeLists.txt).
// KernelsFor() hands the table out only when __builtin_cpu_supports says this CPU and OS
// can run it.
#include "kernels/cpu/distance_isa.h"
#if !defined(__AVX512F__) || !defined(__AVX512CD__) || !defined(__AVX512DQ__) || \
    !defined(__AVX512BW__)
#error "distance_avx512.cpp needs -mavx512f -mavx512cd -mavx512dq -mavx512bw"
#endif
#include "kernels/cpu/distance_simd.hpp"

namespace vecgraph::kernels {

const KernelTable& KernelsAvx512() {
  static const KernelTable table = MakeKernelTable<xsimd::avx512bw>(Isa::kAvx512);
  return table;
}

}  // namespace vecgraph::kernels
