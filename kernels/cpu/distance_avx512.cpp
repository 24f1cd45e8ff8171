// kernels/cpu/distance_avx512.cpp — the AVX-512 (F, CD, DQ, BW) kernel table:
// distance_simd.hpp instantiated for xsimd::avx512bw.
// Compiled only with its own ISA flags (-mavx512f -mavx512cd -mavx512dq -mavx512bw; see
// CMakeLists.txt).
// KernelsFor() hands the table out only when __builtin_cpu_supports says this CPU and OS
// can run it. Its dot_u8s8_gather uses AVX-512 VNNI when CPUID reports it (CpuHasAvx512Vnni;
// the OS state is the AVX-512 state already checked), else the plain loop.
#include "kernels/cpu/distance_isa.h"
#if !defined(__AVX512F__) || !defined(__AVX512CD__) || !defined(__AVX512DQ__) || \
    !defined(__AVX512BW__)
#error "distance_avx512.cpp needs -mavx512f -mavx512cd -mavx512dq -mavx512bw"
#endif
#include "kernels/cpu/distance_simd.hpp"

#include <immintrin.h>

namespace vecgraph::kernels {
namespace {

// dot_u8s8_gather with AVX-512 VNNI: vpdpbusd adds four u8·s8 products into each 32-bit lane,
// 64 per instruction. Four rows at a time share each query load (16 accumulation chains hide the
// instruction's latency); the next group's lines are requested while one is summed. The tail is
// a masked load (bytes past dims are neither read nor counted). Exact, like the plain loop:
// every product and partial sum fits int32 for dims ≤ 65 536.
__attribute__((target("avx512vnni"))) inline __m512i DpRow(__m512i acc, __m512i q, const uint8_t* p) {
  return _mm512_dpbusd_epi32(acc, _mm512_loadu_si512(p), q);
}

// The sum of the 16 lanes (_mm512_reduce_add_epi32 and _mm512_castsi512_si256 make GCC 12 warn
// about the undefined halves they start from; the zero-masked extracts do not).
inline int32_t SumLanes(__m512i a) {
  const __m256i s = _mm256_add_epi32(_mm512_maskz_extracti32x8_epi32(0xFF, a, 0), _mm512_maskz_extracti32x8_epi32(0xFF, a, 1));
  __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4E));
  t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xB1));
  return _mm_cvtsi128_si32(t);
}

template <size_t R>
__attribute__((target("avx512vnni"))) void VnniGroup(const int8_t* q, const uint8_t* const* rows, size_t dims,
                                                     int32_t* out) {
  __m512i acc[R];
  for (size_t r = 0; r < R; ++r) acc[r] = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 64 <= dims; i += 64) {
    const __m512i x = _mm512_loadu_si512(q + i);
    for (size_t r = 0; r < R; ++r) acc[r] = DpRow(acc[r], x, rows[r] + i);
  }
  if (i < dims) {
    const __mmask64 m = (uint64_t{1} << (dims - i)) - 1;  // dims - i < 64
    const __m512i x = _mm512_maskz_loadu_epi8(m, q + i);
    for (size_t r = 0; r < R; ++r) acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_maskz_loadu_epi8(m, rows[r] + i), x);
  }
  for (size_t r = 0; r < R; ++r) out[r] = SumLanes(acc[r]);
}

__attribute__((target("avx512vnni"))) void DotU8S8GatherVnni(const int8_t* q, const uint8_t* const* rows, size_t n,
                                                             size_t dims, int32_t* out) {
  constexpr size_t R = 4;
  const size_t lines = std::min<size_t>((dims + 63) / 64, 16);
  size_t r = 0;
  for (; r + R <= n; r += R) {
    for (size_t p = r + R; p < std::min(n, r + 2 * R); ++p) {
      for (size_t l = 0; l < lines; ++l) _mm_prefetch(reinterpret_cast<const char*>(rows[p]) + l * 64, _MM_HINT_T0);
    }
    VnniGroup<R>(q, rows + r, dims, out + r);
  }
  for (; r < n; ++r) VnniGroup<1>(q, rows + r, dims, out + r);
}

KernelTable MakeAvx512Table() {
  KernelTable t = MakeKernelTable<xsimd::avx512bw>(Isa::kAvx512);
  if (CpuHasAvx512Vnni()) t.dot_u8s8_gather = &DotU8S8GatherVnni;
  return t;
}

}  // namespace

const KernelTable& KernelsAvx512() {
  static const KernelTable table = MakeAvx512Table();
  return table;
}

}  // namespace vecgraph::kernels
