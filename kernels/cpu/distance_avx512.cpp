// kernels/cpu/distance_avx512.cpp — the AVX-512 (F, CD, DQ, BW) kernel table:
// distance_simd.hpp instantiated for xsimd::avx512bw.
// Compiled only with its own ISA flags (-mavx512f -mavx512cd -mavx512dq -mavx512bw; see
// CMakeLists.txt).
// KernelsFor() hands the table out only when __builtin_cpu_supports says this CPU and OS
// can run it. Its dot_u8s8_gather and dot_i8 use AVX-512 VNNI and its hamming VPOPCNTDQ when
// CPUID reports them (CpuHasAvx512Vnni / CpuHasAvx512Vpopcntdq; the OS state is the AVX-512 state
// already checked), else the plain loops; every variant gives the same exact integers.
#include "kernels/cpu/distance_isa.h"
#if !defined(__AVX512F__) || !defined(__AVX512CD__) || !defined(__AVX512DQ__) || \
    !defined(__AVX512BW__)
#error "distance_avx512.cpp needs -mavx512f -mavx512cd -mavx512dq -mavx512bw"
#endif
#include "kernels/cpu/distance_simd.hpp"

#include <immintrin.h>

namespace vecgraph::kernels {
namespace {

// The first n < 64 bytes of a 64-byte load: the kernels' tails are masked loads, which neither
// read nor count the bytes past the end.
inline __mmask64 FirstBytes(size_t n) { return (uint64_t{1} << n) - 1; }

// The sum of the 16 lanes (_mm512_reduce_add_epi32 and _mm512_castsi512_si256 make GCC 12 warn
// about the undefined halves they start from; the zero-masked extracts do not).
inline int32_t SumLanes(__m512i a) {
  const __m256i s = _mm256_add_epi32(_mm512_maskz_extracti32x8_epi32(0xFF, a, 0), _mm512_maskz_extracti32x8_epi32(0xFF, a, 1));
  __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4E));
  t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xB1));
  return _mm_cvtsi128_si32(t);
}

// dot_u8s8_gather with AVX-512 VNNI: vpdpbusd adds four u8·s8 products into each 32-bit lane,
// 64 per instruction. Four rows at a time share each query load (16 accumulation chains hide the
// instruction's latency); the next group's lines 2-4 are requested while one is summed (the
// walk prefetched each row's first line when it staged it). Exact, like the plain loop: every
// product and partial sum fits int32 for dims ≤ 65 536.
template <size_t R>
__attribute__((target("avx512vnni"))) void VnniGroup(const int8_t* q, const uint8_t* const* rows, size_t dims,
                                                     int32_t* out) {
  __m512i acc[R];
  for (size_t r = 0; r < R; ++r) acc[r] = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 64 <= dims; i += 64) {
    const __m512i x = _mm512_loadu_si512(q + i);
    for (size_t r = 0; r < R; ++r) acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_loadu_si512(rows[r] + i), x);
  }
  if (i < dims) {
    const __mmask64 m = FirstBytes(dims - i);
    const __m512i x = _mm512_maskz_loadu_epi8(m, q + i);
    for (size_t r = 0; r < R; ++r) acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_maskz_loadu_epi8(m, rows[r] + i), x);
  }
  for (size_t r = 0; r < R; ++r) out[r] = SumLanes(acc[r]);
}

__attribute__((target("avx512vnni"))) void DotU8S8GatherVnni(const int8_t* q, const uint8_t* const* rows, size_t n,
                                                             size_t dims, int32_t* out) {
  constexpr size_t R = 4;
  const size_t lines = std::min<size_t>((dims + 63) / 64, 4);
  size_t r = 0;
  for (; r + R <= n; r += R) {
    for (size_t p = r + R; p < std::min(n, r + 2 * R); ++p) {
      for (size_t l = 1; l < lines; ++l) _mm_prefetch(reinterpret_cast<const char*>(rows[p]) + l * 64, _MM_HINT_T0);
    }
    VnniGroup<R>(q, rows + r, dims, out + r);
  }
  for (; r < n; ++r) VnniGroup<1>(q, rows + r, dims, out + r);
}

// dot_i8 with VNNI: vpdpbusd multiplies unsigned by signed bytes, so a is offset to a + 128
// (a XOR 0x80 as u8) and 128·Σb taken off again (Σb from vpdpbusd with ones). Exact: both sums fit
// int32 for dims ≤ 65 536, and the wrap-around arithmetic of the lanes gives Σ a·b exactly.
__attribute__((target("avx512vnni"))) int32_t DotI8Vnni(const int8_t* a, const int8_t* b, size_t dims) {
  const __m512i off = _mm512_set1_epi8(static_cast<char>(0x80));
  const __m512i ones = _mm512_set1_epi8(1);
  __m512i acc = _mm512_setzero_si512(), sb = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 64 <= dims; i += 64) {
    const __m512i vb = _mm512_loadu_si512(b + i);
    acc = _mm512_dpbusd_epi32(acc, _mm512_xor_si512(_mm512_loadu_si512(a + i), off), vb);
    sb = _mm512_dpbusd_epi32(sb, ones, vb);
  }
  if (i < dims) {
    const __mmask64 m = FirstBytes(dims - i);  // b's other bytes are 0: they add nothing
    const __m512i vb = _mm512_maskz_loadu_epi8(m, b + i);
    acc = _mm512_dpbusd_epi32(acc, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, a + i), off), vb);
    sb = _mm512_dpbusd_epi32(sb, ones, vb);
  }
  return static_cast<int32_t>(static_cast<uint32_t>(SumLanes(acc)) - 128u * static_cast<uint32_t>(SumLanes(sb)));
}

// hamming with AVX-512 VPOPCNTDQ: the bit count of 64 bytes of a XOR b per instruction.
__attribute__((target("avx512vpopcntdq"))) uint64_t HammingPopcnt(const uint8_t* a, const uint8_t* b, size_t n_bytes) {
  if (n_bytes < 64) return Hamming(a, b, n_bytes);  // short rows: one popcnt per 8 bytes is cheaper
  __m512i acc = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 64 <= n_bytes; i += 64) {
    acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(a + i), _mm512_loadu_si512(b + i))));
  }
  if (i < n_bytes) {
    const __mmask64 m = FirstBytes(n_bytes - i);
    acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_maskz_loadu_epi8(m, a + i),
                                                                      _mm512_maskz_loadu_epi8(m, b + i))));
  }
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, acc);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
}

KernelTable MakeAvx512Table() {
  KernelTable t = MakeKernelTable<xsimd::avx512bw>(Isa::kAvx512);
  if (CpuHasAvx512Vnni()) {
    t.dot_u8s8_gather = &DotU8S8GatherVnni;
    t.dot_i8 = &DotI8Vnni;
  }
  if (CpuHasAvx512Vpopcntdq()) t.hamming = &HammingPopcnt;
  return t;
}

}  // namespace

const KernelTable& KernelsAvx512() {
  static const KernelTable table = MakeAvx512Table();
  return table;
}

}  // namespace vecgraph::kernels
