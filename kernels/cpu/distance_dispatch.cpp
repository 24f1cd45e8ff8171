// kernels/cpu/distance_dispatch.cpp — run-time choice of the distance kernel table.
//
// How it works
//   KernelsFor(isa) returns a table only when its TU is compiled in (x86-64: SSE2, SSE4.2,
//   AVX2+FMA, AVX-512; aarch64: NEON) and `__builtin_cpu_supports` says the CPU *and the OS*
//   can run it (libgcc checks XCR0 for the AVX/AVX-512 register state; xsimd 8.1's detection
//   does not):
//     avx512  avx512f + avx512cd + avx512dq + avx512bw + f16c + popcnt
//     avx2    avx2 + fma + f16c + popcnt (the typed kernels' conversions and bit counts)
//     sse4.2  sse4.2 + popcnt
//     sse2    sse2 (always on x86-64)
//     neon    always on aarch64
//     scalar  always
//   SupportedIsas() lists the runnable ones, best last. Kernels() picks once (function-local
//   static, thread-safe) and never changes afterwards.
//
// Environment
//   VECGRAPH_SIMD=<name>  caps the dispatched ISA, for tests and benchmarks. <name> is one of
//     IsaName()'s names: "avx512", "avx2", "sse4.2", "sse2", "neon", "scalar". Kernels() then
//     uses the best supported ISA that is not above <name> in the order
//     scalar < sse2 = neon < sse4.2 < avx2 < avx512 (e.g. "avx512" on an AVX2-only CPU gives
//     avx2; "scalar" always gives the scalar reference). An unknown name is ignored. Read once,
//     at the first call of Kernels(); KernelsFor() and SupportedIsas() ignore it.
#include <cstdlib>
#include <cstring>

#include "kernels/cpu/distance.h"
#include "kernels/cpu/distance_isa.h"

#if defined(VECGRAPH_KERNELS_X86)
#include <cpuid.h>
#endif

namespace vecgraph::kernels {
namespace {

// Position in the cap order of VECGRAPH_SIMD (see the file header).
int IsaRank(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return 0;
    case Isa::kSse2: return 1;
    case Isa::kNeon: return 1;
    case Isa::kSse42: return 2;
    case Isa::kAvx2: return 3;
    case Isa::kAvx512: return 4;
  }
  return 0;
}

constexpr Isa kAllIsas[] = {Isa::kScalar, Isa::kSse2, Isa::kNeon, Isa::kSse42, Isa::kAvx2,
                            Isa::kAvx512};  // in increasing rank

#if defined(VECGRAPH_KERNELS_X86)
// ECX bit `bit` of CPUID leaf `leaf` (subleaf 0). F16C and POPCNT (leaf 1, bits 29 and 23):
// clang 14's __builtin_cpu_supports knows neither name; AVX-512 VNNI and VPOPCNTDQ (leaf 7,
// bits 11 and 14) choose the AVX-512 table's integer kernels. None needs OS state beyond what
// the AVX / AVX-512 checks below already require.
bool CpuidEcx(unsigned leaf, unsigned bit) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid_count(leaf, 0, &a, &b, &c, &d) != 0 && (c & (1u << bit)) != 0;
}
bool HasF16c() { return CpuidEcx(1, 29); }
bool HasPopcnt() { return CpuidEcx(1, 23); }

bool CpuHas(Isa isa) {
  __builtin_cpu_init();
  switch (isa) {
    case Isa::kSse2: return __builtin_cpu_supports("sse2");
    case Isa::kSse42: return __builtin_cpu_supports("sse4.2") && HasPopcnt();
    case Isa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && HasF16c() && HasPopcnt();
    case Isa::kAvx512:
      return HasF16c() && HasPopcnt() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
    default: return false;
  }
}
#endif

const KernelTable* ChooseKernels() {
  int cap = IsaRank(Isa::kAvx512);
  if (const char* env = std::getenv("VECGRAPH_SIMD"); env != nullptr && *env != '\0') {
    for (Isa isa : kAllIsas) {
      if (std::strcmp(env, IsaName(isa)) == 0) cap = IsaRank(isa);
    }
  }
  const KernelTable* best = &ScalarKernels();
  for (Isa isa : SupportedIsas()) {  // best last
    if (IsaRank(isa) <= cap) best = KernelsFor(isa);
  }
  return best;
}

}  // namespace

#if defined(VECGRAPH_KERNELS_X86)
bool CpuHasAvx512Vnni() { return CpuidEcx(7, 11); }
bool CpuHasAvx512Vpopcntdq() { return CpuidEcx(7, 14); }
#endif

const KernelTable* KernelsFor(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return &ScalarKernels();
#if defined(VECGRAPH_KERNELS_X86)
    case Isa::kSse2: return CpuHas(isa) ? &KernelsSse2() : nullptr;
    case Isa::kSse42: return CpuHas(isa) ? &KernelsSse42() : nullptr;
    case Isa::kAvx2: return CpuHas(isa) ? &KernelsAvx2() : nullptr;
    case Isa::kAvx512: return CpuHas(isa) ? &KernelsAvx512() : nullptr;
#endif
#if defined(VECGRAPH_KERNELS_NEON)
    case Isa::kNeon: return &KernelsNeon();
#endif
    default: return nullptr;
  }
}

std::vector<Isa> SupportedIsas() {
  std::vector<Isa> out;
  for (Isa isa : kAllIsas) {
    if (KernelsFor(isa) != nullptr) out.push_back(isa);
  }
  return out;
}

const KernelTable& Kernels() {
  static const KernelTable* const chosen = ChooseKernels();
  return *chosen;
}

}  // namespace vecgraph::kernels
