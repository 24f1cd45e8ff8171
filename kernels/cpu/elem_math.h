// kernels/cpu/elem_math.h — per-element math of the compact vector types, shared by the scalar
// reference, the SIMD tails and the engine's codec (engine/vector/types.h), so every path
// converts the same way.
//
//   float16 → float32   exact (every binary16 value is a binary32 value); inf/NaN patterns map to
//                       inf/NaN (decoders refuse them before any kernel runs)
//   bfloat16 → float32  exact: the 16 bits are the upper half of the float32
//   int8 products       exact in int32 / uint32 for every dimension up to 65 536:
//                       |a·b| ≤ 16 384 → Σ ≤ 2^30; (a − b)² ≤ 65 025 → Σ ≤ 4.27e9 < 2^32
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace vecgraph::kernels {

inline float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0) {
    const float v = static_cast<float>(m) * (1.0f / 16777216.0f);  // exact: m · 2^-24
    return std::bit_cast<float>(std::bit_cast<uint32_t>(v) | sign);
  }
  if (e == 31) return std::bit_cast<float>(sign | 0x7f800000u | (m << 13));
  return std::bit_cast<float>(sign | ((e + 112) << 23) | (m << 13));
}

inline float BFloatToFloat(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

}  // namespace vecgraph::kernels
