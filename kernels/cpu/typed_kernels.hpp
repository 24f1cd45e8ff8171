// kernels/cpu/typed_kernels.hpp — kernels of the compact element types (int8, float16,
// bfloat16, bit), written once as plain loops and compiled by each per-ISA translation unit with
// that ISA's flags at -O3, where GCC vectorizes them (int8: sign-extend to 16 bits and multiply-
// add pairs into 32-bit lanes, pmaddwd / vpmaddwd; float16: vcvtph2ps with F16C; bit: one
// popcnt per 64-bit word). The scalar table compiles the same loops with -fno-tree-vectorize,
// which makes it the reference; every result is exact (integers, or exact conversions), so
// every table must agree with it bit for bit (tests/kernels_test.cpp, dims 1..1100). The AVX-512
// TU replaces DotI8, Hamming and DotU8S8Gather with VNNI / VPOPCNTDQ intrinsics when CPUID
// reports those (distance_avx512.cpp); the plain loops stay the fallback.
//
// Like distance_simd.hpp, everything has internal linkage: include it only from the per-ISA TUs
// and distance_scalar.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__F16C__)
#include <immintrin.h>
#endif

#include "kernels/cpu/elem_math.h"

namespace vecgraph::kernels {
namespace {  // internal linkage on purpose

int32_t DotI8(const int8_t* a, const int8_t* b, size_t dims) {
  int32_t s = 0;
  for (size_t i = 0; i < dims; ++i) s += static_cast<int32_t>(a[i]) * static_cast<int32_t>(b[i]);
  return s;
}

uint32_t L2SqI8(const int8_t* a, const int8_t* b, size_t dims) {
  uint32_t s = 0;
  for (size_t i = 0; i < dims; ++i) {
    const int32_t d = static_cast<int32_t>(a[i]) - static_cast<int32_t>(b[i]);
    s += static_cast<uint32_t>(d * d);
  }
  return s;
}

// Σ q[j]·row[j] for u8 codes and an int8 query, each row after the other; the next row's lines
// are requested while one is summed (the rows are graph neighbours: scattered, rarely cached).
void DotU8S8Gather(const int8_t* q, const uint8_t* const* rows, size_t n, size_t dims, int32_t* out) {
  const size_t lines = (dims + 63) / 64;
  for (size_t r = 0; r < n; ++r) {
    if (r + 1 < n) {
      for (size_t l = 0; l < lines && l < 16; ++l) __builtin_prefetch(rows[r + 1] + l * 64, 0, 3);
    }
    const uint8_t* row = rows[r];
    int32_t s = 0;
    for (size_t i = 0; i < dims; ++i) s += static_cast<int32_t>(q[i]) * static_cast<int32_t>(row[i]);
    out[r] = s;
  }
}

void F16ToF32(const uint16_t* in, size_t n, float* out) {
  size_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
  }
#endif
  for (; i < n; ++i) out[i] = HalfToFloat(in[i]);
}

void BF16ToF32(const uint16_t* in, size_t n, float* out) {
  for (size_t i = 0; i < n; ++i) {
    const uint32_t x = static_cast<uint32_t>(in[i]) << 16;
    std::memcpy(out + i, &x, 4);
  }
}

uint64_t Hamming(const uint8_t* a, const uint8_t* b, size_t n_bytes) {
  uint64_t d = 0;
  size_t i = 0;
  for (; i + 8 <= n_bytes; i += 8) {
    uint64_t x, y;
    std::memcpy(&x, a + i, 8);
    std::memcpy(&y, b + i, 8);
    d += static_cast<uint64_t>(__builtin_popcountll(x ^ y));
  }
  for (; i < n_bytes; ++i) d += static_cast<uint64_t>(__builtin_popcount(static_cast<unsigned>(a[i] ^ b[i])));
  return d;
}

}  // namespace
}  // namespace vecgraph::kernels
